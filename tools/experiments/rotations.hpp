// Self-supervised rotation prediction (Gidaris et al., 2018): an image turned by 0, 90, 180 or
// 270 degrees, labelled with the number of quarter turns, a label that costs nothing.
#pragma once

#include <cstdint>
#include <vector>

#include "layer_reuse.hpp"

namespace dagrad::tools::experiments {

// Images (n, s, s) of any dtype, each turned counterclockwise (as displayed, row 0 on top) by
// quarter_turns[i] * 90 degrees, quarter_turns[i] in 0..3; one turn is numpy's rot90:
// out[r][c] = in[c][s - 1 - r]. std::invalid_argument for images that are not square of rank 3,
// a count of turns that differs from n, or a turn outside 0..3.
Tensor rotate_quarter_turns(const Tensor& images, const std::vector<std::int32_t>& quarter_turns);

// The rotation task on `images`: each one turned by a number of quarter turns drawn uniformly
// from `seed` (the same seed, the same draws), labelled with that number (int32 (n,)).
Subset rotation_task(const Tensor& images, std::uint64_t seed);

}  // namespace dagrad::tools::experiments
