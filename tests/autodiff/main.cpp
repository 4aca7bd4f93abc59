// The Boost.Test module of the autodiff tests (linked against Debian's shared Boost.Test).
#define BOOST_TEST_MODULE dagrad_autodiff
#include <boost/test/unit_test.hpp>
