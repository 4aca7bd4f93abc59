#include "rotations.hpp"

#include <cstring>
#include <random>
#include <stdexcept>
#include <string>

namespace dagrad::tools::experiments {

Tensor rotate_quarter_turns(const Tensor& images, const std::vector<std::int32_t>& quarter_turns) {
  if (!images.defined() || images.shape().rank() != 3 || images.shape()[1] != images.shape()[2])
    throw std::invalid_argument("rotate_quarter_turns: square images (n, s, s) are needed, given " +
                                (images.defined() ? images.shape().to_string() : "none"));
  const std::int64_t n = images.shape()[0], s = images.shape()[1];
  if (static_cast<std::int64_t>(quarter_turns.size()) != n)
    throw std::invalid_argument("rotate_quarter_turns: " + std::to_string(quarter_turns.size()) +
                                " turns for " + std::to_string(n) + " images");
  Tensor out(images.dtype(), images.shape());
  const std::size_t element = dtype_size(images.dtype());
  const auto* from = static_cast<const std::byte*>(images.raw());
  auto* to = static_cast<std::byte*>(out.raw());
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int32_t turns = quarter_turns[static_cast<std::size_t>(i)];
    if (turns < 0 || turns > 3)
      throw std::invalid_argument("rotate_quarter_turns: image " + std::to_string(i) + " has " +
                                  std::to_string(turns) + " quarter turns, not 0..3");
    const std::byte* in = from + static_cast<std::size_t>(i * s * s) * element;
    std::byte* result = to + static_cast<std::size_t>(i * s * s) * element;
    for (std::int64_t r = 0; r < s; ++r)
      for (std::int64_t c = 0; c < s; ++c) {
        // The source pixel of out[r][c] after `turns` counterclockwise quarter turns.
        std::int64_t sr = r, sc = c;
        switch (turns) {
          case 1:
            sr = c, sc = s - 1 - r;
            break;
          case 2:
            sr = s - 1 - r, sc = s - 1 - c;
            break;
          case 3:
            sr = s - 1 - c, sc = r;
            break;
          default:
            break;
        }
        std::memcpy(result + static_cast<std::size_t>(r * s + c) * element,
                    in + static_cast<std::size_t>(sr * s + sc) * element, element);
      }
  }
  return out;
}

Subset rotation_task(const Tensor& images, std::uint64_t seed) {
  const std::int64_t n = images.defined() && images.shape().rank() > 0 ? images.shape()[0] : 0;
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<std::int32_t> quarter(0, 3);
  std::vector<std::int32_t> turns(static_cast<std::size_t>(n));
  for (std::int32_t& t : turns) t = quarter(rng);
  return {rotate_quarter_turns(images, turns), Tensor::from_vector<std::int32_t>(Shape{n}, turns)};
}

}  // namespace dagrad::tools::experiments
