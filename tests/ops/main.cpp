// The Boost.Test module of the ops tests (linked against Debian's shared Boost.Test).
#define BOOST_TEST_MODULE dagrad_ops
#include <boost/test/unit_test.hpp>
