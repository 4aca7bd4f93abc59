// The Boost.Test module of the tools tests (linked against Debian's shared Boost.Test).
#define BOOST_TEST_MODULE dagrad_tools
#include <boost/test/unit_test.hpp>
