// Checkpoints: values by variable name, restored into a rebuilt graph; atomic saves; restores
// that check everything before setting anything.
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <fstream>
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

BOOST_AUTO_TEST_SUITE_END()
