// Checkpoints: values by variable name, restored into a rebuilt graph; atomic saves; restores
// that check everything before setting anything.
#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

#include "dagrad/dagrad.hpp"

using namespace dagrad;
namespace fs = std::filesystem;

namespace {

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

// A fresh directory for one test case, removed afterwards.
struct TempDir {
  fs::path path;
  explicit TempDir(const std::string& tag)
      : path(fs::temp_directory_path() /
             ("dagrad_ckpt_" + tag + "_" + std::to_string(::getpid()))) {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
};

// Variables of three dtypes, one in a scope (a '/' in its name); `kernel_shape` varies it.
struct Vars {
  Output kernel, steps, scale;
};
Vars build(Graph& g, Shape kernel_shape = Shape{2, 2}) {
  Vars v;
  {
    auto scope = g.name_scope("layer");
    v.kernel = variable(g, Tensor(DType::float32, kernel_shape), "kernel");
  }
  v.steps = variable(g, Tensor::from_vector<std::int64_t>({3}, {0, 0, 0}), "steps");
  v.scale = variable(g, Tensor::scalar<double>(1.0), "scale");
  return v;
}

void set_values(Session& s, const Vars& v, float k, std::int64_t step, double scale) {
  s.set_variable_value(v.kernel, Tensor::from_vector<float>({2, 2}, {k, k + 1, k + 2, k + 3}));
  s.set_variable_value(v.steps, Tensor::from_vector<std::int64_t>({3}, {step, step + 1, step + 2}));
  s.set_variable_value(v.scale, Tensor::scalar<double>(scale));
}

void check_values(Session& s, const Vars& v, float k, std::int64_t step, double scale) {
  BOOST_TEST(
      s.variable_value(v.kernel).to_vector<float>() == (std::vector<float>{k, k + 1, k + 2, k + 3}),
      boost::test_tools::per_element());
  BOOST_TEST(s.variable_value(v.steps).to_vector<std::int64_t>() ==
                 (std::vector<std::int64_t>{step, step + 1, step + 2}),
             boost::test_tools::per_element());
  BOOST_TEST(s.variable_value(v.scale).item<double>() == scale);
}

std::string read_text(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

auto names(std::vector<std::string> parts) {
  return [parts](const std::exception& e) {
    for (const auto& p : parts)
      if (!contains(e.what(), p)) return false;
    return true;
  };
}

// Sets an environment variable for one scope.
struct ScopedEnv {
  std::string name;
  ScopedEnv(const std::string& n, const std::string& value) : name(n) {
    ::setenv(name.c_str(), value.c_str(), 1);
  }
  ~ScopedEnv() { ::unsetenv(name.c_str()); }
};

// The names created in or renamed into `dir` while `action` runs (inotify), to see which way a
// save went.
std::vector<std::string> names_arriving_in(const fs::path& dir,
                                           const std::function<void()>& action) {
  int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  BOOST_TEST_REQUIRE(fd >= 0);
  BOOST_TEST_REQUIRE(::inotify_add_watch(fd, dir.c_str(), IN_CREATE | IN_MOVED_TO) >= 0);
  action();
  std::vector<std::string> names;
  alignas(inotify_event) char buffer[16384];
  for (;;) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n <= 0) break;
    for (char* p = buffer; p < buffer + n;) {
      auto* e = reinterpret_cast<inotify_event*>(p);
      if (e->len > 0) names.emplace_back(e->name);
      p += sizeof(inotify_event) + e->len;
    }
  }
  ::close(fd);
  return names;
}

bool starts_with(const std::string& s, const std::string& start) {
  return s.rfind(start, 0) == 0;
}

std::vector<std::string> entries_of(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

// Above the largest pid_max Linux allows (2^22): no process has it.
constexpr const char* kDeadPid = "4194305";

}  // namespace

BOOST_AUTO_TEST_SUITE(checkpoint)

BOOST_AUTO_TEST_CASE(values_round_trip_into_a_rebuilt_graph) {
  TempDir tmp("roundtrip");
  fs::path dir = tmp.path / "ckpt";
  Graph g1;
  Vars v1 = build(g1);
  Session s1(g1);
  set_values(s1, v1, 1.5f, 7, 0.25);
  save_checkpoint(s1, dir.string());
  // The index names each variable, its dtype, shape and file; the files are plain .npy.
  std::string index = read_text(dir / "checkpoint.json");
  BOOST_TEST(contains(index, "\"layer/kernel\""));
  BOOST_TEST(contains(index, "\"int64\""));
  BOOST_TEST(contains(index, "\"dagrad-checkpoint\""));
  BOOST_TEST(read_npy((dir / "1.npy").string()).to_vector<std::int64_t>() ==
                 (std::vector<std::int64_t>{7, 8, 9}),
             boost::test_tools::per_element());

  Graph g2;
  (void)placeholder(g2, DType::float32, Shape{}, "other_ids");
  Vars v2 = build(g2);
  Session s2(g2);
  restore_checkpoint(s2, dir.string());
  check_values(s2, v2, 1.5f, 7, 0.25);
  // Saving again replaces the checkpoint and leaves no temporary directory behind.
  set_values(s1, v1, -4, 100, 3.0);
  save_checkpoint(s1, (dir.string() + "/"));
  restore_checkpoint(s2, dir.string());
  check_values(s2, v2, -4, 100, 3.0);
  int entries = 0;
  for (const auto& e : fs::directory_iterator(tmp.path)) {
    (void)e;
    ++entries;
  }
  BOOST_TEST(entries == 1);
}

BOOST_AUTO_TEST_CASE(a_failed_save_leaves_the_old_checkpoint) {
  TempDir tmp("failed_save");
  fs::path dir = tmp.path / "ckpt";
  Graph g;
  Vars v = build(g);
  Session s(g);
  set_values(s, v, 2, 3, 4);
  save_checkpoint(s, dir.string());
  // A graph with one more variable, not initialized: the save fails before touching the disk.
  Graph bigger;
  Vars vb = build(bigger);
  (void)variable(bigger, Tensor::scalar<float>(0), "fresh");
  Session sb(bigger);
  set_values(sb, vb, 9, 9, 9);
  BOOST_CHECK_EXCEPTION(save_checkpoint(sb, dir.string()), FileError,
                        names({"'fresh'", "not initialized"}));
  Session again(g);
  restore_checkpoint(again, dir.string());
  check_values(again, v, 2, 3, 4);
  // Something that is not a checkpoint is never replaced.
  fs::path foreign = tmp.path / "foreign";
  fs::create_directories(foreign);
  std::ofstream(foreign / "keep.txt") << "mine";
  BOOST_CHECK_EXCEPTION(save_checkpoint(s, foreign.string()), FileError,
                        names({"not a checkpoint"}));
  BOOST_TEST(fs::exists(foreign / "keep.txt"));
}

BOOST_AUTO_TEST_CASE(mismatches_are_refused_and_nothing_is_half_applied) {
  TempDir tmp("mismatch");
  fs::path dir = tmp.path / "ckpt";
  Graph g;
  Vars v = build(g);
  Session s(g);
  set_values(s, v, 1, 2, 3);
  save_checkpoint(s, dir.string());

  // Another shape for layer/kernel (the first variable): refused, naming it and its file.
  Graph wide;
  Vars vw = build(wide, Shape{4});
  Session sw(wide);
  BOOST_CHECK_EXCEPTION(restore_checkpoint(sw, dir.string()), FileError,
                        names({"'layer/kernel'", "0.npy", "(2, 2)", "(4,)"}));
  BOOST_TEST(!sw.is_initialized(vw.steps));  // steps, which matched, was not set either

  // A missing variable is refused after others matched: none is set.
  Graph more;
  Vars vm = build(more);
  (void)variable(more, Tensor::scalar<float>(0), "absent");
  Session sm(more);
  set_values(sm, vm, 50, 60, 70);
  BOOST_CHECK_EXCEPTION(restore_checkpoint(sm, dir.string()), FileError,
                        names({"'absent'", "no variable"}));
  check_values(sm, vm, 50, 60, 70);

  // A tampered .npy (right shape, wrong dtype) is caught before any value is set.
  Session target(g);
  set_values(target, v, 10, 20, 30);
  write_npy((dir / "2.npy").string(), Tensor::scalar<float>(1.0f));
  BOOST_CHECK_EXCEPTION(restore_checkpoint(target, dir.string()), FileError,
                        names({"'scale'", "2.npy", "holds float32"}));
  check_values(target, v, 10, 20, 30);
  // A truncated one too.
  save_checkpoint(s, dir.string());
  std::string bytes = read_text(dir / "1.npy");
  std::ofstream(dir / "1.npy", std::ios::binary | std::ios::trunc)
      << bytes.substr(0, bytes.size() - 4);
  BOOST_CHECK_EXCEPTION(restore_checkpoint(target, dir.string()), FileError, names({"1.npy"}));
  check_values(target, v, 10, 20, 30);
}

BOOST_AUTO_TEST_CASE(a_bad_index_is_refused) {
  TempDir tmp("bad_index");
  fs::path dir = tmp.path / "ckpt";
  Graph g;
  Vars v = build(g);
  Session s(g);
  set_values(s, v, 1, 2, 3);
  BOOST_CHECK_EXCEPTION(restore_checkpoint(s, dir.string()), FileError, names({"checkpoint.json"}));
  save_checkpoint(s, dir.string());
  std::string index = read_text(dir / "checkpoint.json");
  auto rewrite = [&](const std::string& from, const std::string& to) {
    std::string text = index;
    text.replace(text.find(from), from.size(), to);
    std::ofstream(dir / "checkpoint.json", std::ios::trunc) << text;
  };
  rewrite("\"0.npy\"", "\"../0.npy\"");
  BOOST_CHECK_EXCEPTION(restore_checkpoint(s, dir.string()), FileError,
                        names({"../0.npy", "not a file name"}));
  rewrite("\"dagrad-checkpoint\"", "\"something-else\"");
  BOOST_CHECK_EXCEPTION(restore_checkpoint(s, dir.string()), FileError,
                        names({"not a dagrad checkpoint"}));
  rewrite("\"variables\"", "\"variables\" : 1, \"x\"");
  BOOST_CHECK_EXCEPTION(restore_checkpoint(s, dir.string()), FileError,
                        names({"\"variables\" must be an array"}));
  std::ofstream(dir / "checkpoint.json", std::ios::trunc) << "{\"format\": ";
  BOOST_CHECK_EXCEPTION(restore_checkpoint(s, dir.string()), FileError, names({"invalid JSON"}));
  // A number no double holds escaped as nlohmann's out_of_range; deep nesting overflowed.
  std::ofstream(dir / "checkpoint.json", std::ios::trunc) << "{\"format\": 1e309}";
  BOOST_CHECK_EXCEPTION(
      restore_checkpoint(s, dir.string()), FileError,
      names({dir.string(), "checkpoint.json", "invalid JSON at byte 16", "1e309"}));
  std::ofstream(dir / "checkpoint.json", std::ios::trunc) << std::string(100000, '[');
  BOOST_CHECK_EXCEPTION(restore_checkpoint(s, dir.string()), FileError,
                        names({dir.string(), "checkpoint.json", "nested deeper than 64 levels"}));
}

// File systems without renameat2(RENAME_EXCHANGE) get two renames: target to a backup, the new
// directory to target. DAGRAD_TEST_NO_RENAME_EXCHANGE=1 forces that path here.
BOOST_AUTO_TEST_CASE(the_fallback_without_rename_exchange_swaps_in_the_new_contents) {
  TempDir tmp("fallback");
  fs::path dir = tmp.path / "ckpt";
  Graph g;
  Vars v = build(g);
  Session s(g);
  set_values(s, v, 1, 2, 3);
  save_checkpoint(s, dir.string());
  set_values(s, v, 7, 8, 9);
  std::vector<std::string> arrived;
  {
    ScopedEnv force("DAGRAD_TEST_NO_RENAME_EXCHANGE", "1");
    arrived = names_arriving_in(tmp.path, [&] { save_checkpoint(s, dir.string()); });
  }
  // The old checkpoint went to a backup beside it, then the new one took its name.
  bool backup_made = false;
  for (const std::string& n : arrived) backup_made = backup_made || starts_with(n, ".ckpt.old-");
  BOOST_TEST(backup_made);
  BOOST_TEST(std::count(arrived.begin(), arrived.end(), "ckpt") == 1);
  Session fresh(g);
  restore_checkpoint(fresh, dir.string());
  check_values(fresh, v, 7, 8, 9);
  BOOST_TEST(entries_of(tmp.path) == std::vector<std::string>{"ckpt"},
             boost::test_tools::per_element());
}

// A save killed between the fallback's two renames leaves no `ckpt`, the old checkpoint whole in
// its backup, and the new one perhaps half written in its temporary: restoring reads the backup
// (without changing the disk); the next save takes its place and deletes what the killed process
// left, but not what a live process is writing.
BOOST_AUTO_TEST_CASE(a_save_killed_between_the_fallbacks_renames_restores_the_old_checkpoint) {
  TempDir tmp("killed_between");
  fs::path dir = tmp.path / "ckpt";
  Graph g;
  Vars v = build(g);
  Session s(g);
  set_values(s, v, 4, 5, 6);
  save_checkpoint(s, dir.string());
  std::string backup = std::string(".ckpt.old-") + kDeadPid + "-1";
  std::string partial = std::string(".ckpt.tmp-") + kDeadPid + "-2";
  std::string live = ".ckpt.tmp-" + std::to_string(::getppid()) + "-3";
  fs::rename(dir, tmp.path / backup);
  fs::create_directories(tmp.path / partial);
  std::ofstream(tmp.path / partial / "0.npy") << "half";
  fs::create_directories(tmp.path / live);

  Session restored(g);
  restore_checkpoint(restored, dir.string());
  check_values(restored, v, 4, 5, 6);
  std::vector<std::string> left{backup, live, partial};
  std::sort(left.begin(), left.end());
  BOOST_TEST(entries_of(tmp.path) == left, boost::test_tools::per_element());

  // A graph file interrupted the same way loads from its backup too.
  fs::path graph_dir = tmp.path / "g.dagrad";
  save_graph(g, graph_dir.string());
  fs::rename(graph_dir, tmp.path / (std::string(".g.dagrad.old-") + kDeadPid + "-4"));
  std::unique_ptr<Graph> loaded = load_graph(graph_dir.string(), default_registry());
  BOOST_TEST(loaded->find_node("layer/kernel") != nullptr);
  fs::remove_all(tmp.path / (std::string(".g.dagrad.old-") + kDeadPid + "-4"));

  set_values(s, v, -1, -2, -3);
  save_checkpoint(s, dir.string());
  Session after(g);
  restore_checkpoint(after, dir.string());
  check_values(after, v, -1, -2, -3);
  BOOST_TEST(entries_of(tmp.path) == (std::vector<std::string>{live, "ckpt"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_missing_checkpoint_without_a_backup_is_a_file_error) {
  TempDir tmp("missing");
  Graph g;
  Vars v = build(g);
  Session s(g);
  // Someone else's backup name is not ours: ".ckpt2.old-..." does not stand in for "ckpt".
  fs::create_directories(tmp.path / (std::string(".ckpt2.old-") + kDeadPid + "-1"));
  BOOST_CHECK_EXCEPTION(restore_checkpoint(s, (tmp.path / "ckpt").string()), FileError,
                        names({"checkpoint.json"}));
}

BOOST_AUTO_TEST_SUITE_END()
