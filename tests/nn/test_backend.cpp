// nn::Backend's layer names: Keras's "dense", "dense_1", ... per backend, skipping names taken
// by hand, and found in constant time however many layers a backend holds.
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <string>

#include "dagrad/dagrad.hpp"

using namespace dagrad;

BOOST_AUTO_TEST_SUITE(backend_names)

BOOST_AUTO_TEST_CASE(automatic_names_count_up_and_skip_claimed_ones) {
  nn::Backend backend;
  BOOST_TEST(backend.unique_name("dense") == "dense");
  backend.claim_name("dense_2");
  BOOST_TEST(backend.unique_name("dense") == "dense_1");
  BOOST_TEST(backend.unique_name("dense") == "dense_3");  // dense_2 was claimed
  BOOST_TEST(backend.unique_name("flatten") == "flatten");
  BOOST_TEST(backend.unique_name("dense") == "dense_4");
  BOOST_CHECK_THROW(backend.claim_name("dense_4"), nn::ModelError);
  BOOST_TEST(backend.name_taken("dense_3"));
  BOOST_TEST(!backend.name_taken("dense_5"));
}

BOOST_AUTO_TEST_CASE(many_names_take_linear_time) {
  // Each name used to be searched from "dense" with a linear scan of every taken name: n names
  // cost O(n^3) string compares (3,000 names: about 10^10). They take milliseconds now; the
  // bound leaves room for slow (sanitizer) builds.
  nn::Backend backend;
  auto start = std::chrono::steady_clock::now();
  std::string last;
  for (int i = 0; i < 3000; ++i) last = backend.unique_name("dense");
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  BOOST_TEST(last == "dense_2999");
  BOOST_TEST(seconds < 2.0, "3,000 names took " << seconds << " s");
}

BOOST_AUTO_TEST_SUITE_END()
