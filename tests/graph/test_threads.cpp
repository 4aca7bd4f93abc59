// set_num_threads / num_threads: the setting round-trips, reaches OpenBLAS, and bad counts are
// errors that name the count and leave the setting alone.
#include <boost/test/unit_test.hpp>
#include <string>

#include "common/threads.hpp"
#include "dagrad/dagrad.hpp"

using namespace dagrad;
using dagrad::testing::openblas_threads;
using dagrad::testing::RestoreThreads;

BOOST_FIXTURE_TEST_SUITE(threads, RestoreThreads)

BOOST_AUTO_TEST_CASE(the_default_is_at_least_one) {
  BOOST_TEST(num_threads() >= 1);
}

BOOST_AUTO_TEST_CASE(set_then_get) {
  for (int n : {1, 3, 2, kMaxThreads, 1}) {
    set_num_threads(n);
    BOOST_TEST(num_threads() == n);
  }
}

BOOST_AUTO_TEST_CASE(the_setting_reaches_openblas) {
  // The library is linked against OpenBLAS in these builds (CMakeLists.txt asks for it).
  BOOST_REQUIRE(blas_threads_settable());
  set_num_threads(1);
  BOOST_TEST(openblas_threads() == 1);
  set_num_threads(2);
  BOOST_TEST(openblas_threads() == 2);
}

BOOST_AUTO_TEST_CASE(small_work_gets_one_blas_thread) {
  set_num_threads(3);
  // The batch-32 products of the chapter MLP: 32*784*300 and 784*300*32 = 7,526,400.
  BOOST_TEST(blas_threads_for(32.0 * 784 * 300) == 1);
  BOOST_TEST(blas_threads_for(0) == 1);
  BOOST_TEST(blas_threads_for(16.0e6 - 1) == 1);
  BOOST_TEST(blas_threads_for(16.0e6) == 3);
  // Batch 256: 256*784*300 = 60,211,200.
  BOOST_TEST(blas_threads_for(256.0 * 784 * 300) == 3);
  set_num_threads(1);
  BOOST_TEST(blas_threads_for(256.0 * 784 * 300) == 1);
}

BOOST_AUTO_TEST_CASE(bad_counts_are_errors_naming_the_count) {
  set_num_threads(2);
  for (int n : {0, -1, -2147483647 - 1, kMaxThreads + 1}) {
    BOOST_TEST_CONTEXT("n = " << n) {
      try {
        set_num_threads(n);
        BOOST_FAIL("no error");
      } catch (const Error& e) {
        std::string what = e.what();
        BOOST_TEST(what.find("got " + std::to_string(n)) != std::string::npos, what);
        BOOST_TEST(what.find("between 1 and " + std::to_string(kMaxThreads)) != std::string::npos,
                   what);
      }
      BOOST_TEST(num_threads() == 2);
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
