#define BOOST_TEST_MODULE dagrad_passes
#include <boost/test/unit_test.hpp>
