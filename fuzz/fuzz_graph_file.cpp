// libFuzzer target: the graph file loader. The input is graph.json; the directory it sits in
// holds the seed graphs' .npy attribute files (fuzz/seeds/graph_npy), so mutations of the seeds
// get past the attribute loading (the .npy reader itself has its own target).
#include <cstddef>
#include <cstdint>

#include "dagrad/graph/graph_file.hpp"
#include "dagrad/ops/ops.hpp"
#include "scratch.hpp"

namespace {

std::filesystem::path graph_dir() { return dagrad::fuzz::scratch_dir() / "graph.dagrad"; }

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  std::filesystem::create_directories(graph_dir());
  for (const auto& f : std::filesystem::directory_iterator(DAGRAD_FUZZ_SEEDS "/graph_npy"))
    std::filesystem::copy_file(f.path(), graph_dir() / f.path().filename(),
                               std::filesystem::copy_options::overwrite_existing);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto dir = graph_dir();
  dagrad::fuzz::write_bytes(dir / "graph.json", data, size);
  dagrad::fuzz::expect_clean([&] { dagrad::load_graph(dir.string(), dagrad::default_registry()); });
  return 0;
}
