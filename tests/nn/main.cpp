// The Boost.Test module of the nn tests (linked against Debian's shared Boost.Test).
#define BOOST_TEST_MODULE dagrad_nn
#include <boost/test/unit_test.hpp>
