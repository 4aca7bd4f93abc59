// libFuzzer target: the IDX reader, plain and gzip (chosen by the file's magic), as
// `dagrad train --data` reads Fashion-MNIST.
#include <cstddef>
#include <cstdint>

#include "dagrad/nn/datasets.hpp"
#include "scratch.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto path = dagrad::fuzz::scratch_dir() / "input.idx";
  dagrad::fuzz::write_bytes(path, data, size);
  dagrad::fuzz::expect_clean([&] { dagrad::nn::read_idx(path.string()); });
  return 0;
}
