// libFuzzer target: the .npy decoder (graph files' tensor attributes, checkpoints' weights).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "dagrad/graph/npy.hpp"
#include "scratch.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  dagrad::fuzz::expect_clean([&] {
    dagrad::decode_npy(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.npy");
  });
  return 0;
}
