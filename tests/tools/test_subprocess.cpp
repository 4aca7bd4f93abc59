// The child-process runner behind the plots (tools/subprocess.cpp), with ordinary programs.
#include <signal.h>

#include <boost/test/unit_test.hpp>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "tools/subprocess.hpp"

using dagrad::tools::ProgramResult;
using dagrad::tools::run_program;

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Gone, or a zombie nobody reaps (a container's init may not): either way not running.
bool stopped(pid_t pid) {
  if (::kill(pid, 0) != 0) return errno == ESRCH;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  auto paren = line.rfind(')');
  return paren != std::string::npos && line.size() > paren + 2 && line[paren + 2] == 'Z';
}

}  // namespace

BOOST_AUTO_TEST_SUITE(subprocess)

BOOST_AUTO_TEST_CASE(input_reaches_the_program_and_its_output_comes_back) {
  ProgramResult r = run_program({"cat"}, "hello\nworld\n", 10);
  BOOST_TEST(r.succeeded());
  BOOST_TEST(r.out == "hello\nworld\n");
  BOOST_TEST(r.err.empty());
  // More than a pipe holds in both directions at once: written and read together, no deadlock.
  std::string big(3 << 20, 'x');
  for (std::size_t i = 0; i < big.size(); i += 97) big[i] = static_cast<char>('a' + i % 26);
  r = run_program({"cat"}, big, 30);
  BOOST_TEST(r.succeeded());
  BOOST_TEST(r.out.size() == big.size());
  BOOST_TEST((r.out == big));
}

BOOST_AUTO_TEST_CASE(exit_status_and_errors_are_reported) {
  ProgramResult r = run_program({"sh", "-c", "echo oops >&2; exit 3"}, "", 10);
  BOOST_TEST(!r.succeeded());
  BOOST_TEST(r.exit_status == 3);
  BOOST_TEST(r.signal == 0);
  BOOST_TEST(r.err == "oops\n");
  r = run_program({"sh", "-c", "kill -TERM $$"}, "", 10);
  BOOST_TEST(r.signal == SIGTERM);
  BOOST_TEST(r.exit_status == -1);
  r = run_program({"dagrad-no-such-program-here"}, "x", 10);
  BOOST_TEST(r.spawn_error == ENOENT);
  BOOST_TEST(!r.succeeded());
}

BOOST_AUTO_TEST_CASE(a_program_that_ignores_its_input_does_not_kill_the_caller) {
  // Writing to a closed reader would raise SIGPIPE in this process if it were a pipe.
  ProgramResult r = run_program({"true"}, std::string(4 << 20, 'y'), 10);
  BOOST_TEST(r.succeeded());
}

BOOST_AUTO_TEST_CASE(a_hang_is_stopped_at_the_deadline_with_what_it_started) {
  auto start = std::chrono::steady_clock::now();
  ProgramResult r = run_program({"sh", "-c", "sleep 60 & echo $! >&2; wait"}, "", 0.5);
  double took = seconds_since(start);
  BOOST_TEST(r.timed_out);
  BOOST_TEST(!r.succeeded());
  BOOST_TEST(r.signal == SIGKILL);
  BOOST_TEST(took >= 0.5);
  BOOST_TEST(took < 5.0);
  // The shell's background sleep was in its process group and was killed with it.
  pid_t helper = static_cast<pid_t>(std::stol(r.err));
  for (int i = 0; i < 200 && !stopped(helper); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  BOOST_TEST(stopped(helper));

  // The program exits but leaves a helper holding its output open: stopped at the deadline too.
  start = std::chrono::steady_clock::now();
  r = run_program({"sh", "-c", "sleep 60 &"}, "", 0.5);
  BOOST_TEST(r.timed_out);
  BOOST_TEST(!r.succeeded());
  BOOST_TEST(seconds_since(start) < 5.0);
}

BOOST_AUTO_TEST_SUITE_END()
