// The Boost.Test module of the optim tests (linked against Debian's shared Boost.Test).
#define BOOST_TEST_MODULE dagrad_optim
#include <boost/test/unit_test.hpp>
