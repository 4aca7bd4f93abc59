// The Boost.Test module of the graph tests (linked against Debian's shared Boost.Test).
#define BOOST_TEST_MODULE dagrad_graph
#include <boost/test/unit_test.hpp>
