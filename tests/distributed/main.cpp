// The Boost.Test module of the distributed tests: each case starts its ranks with mpirun.
#define BOOST_TEST_MODULE dagrad_distributed
#include <boost/test/unit_test.hpp>
