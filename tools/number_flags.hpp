// Checks of the numeric flags the commands share, made on the text as typed (before CLI11
// converts it), so that "-1" never wraps to 2^64-1 and "1e400" never becomes infinity: a bad
// value is a parse error "FLAG: 'TEXT' is not ..." naming the flag and the value.
#pragma once

#include <CLI/CLI.hpp>

namespace dagrad::tools {

// A whole number in 0..2^64-1, digits only (no sign, no fraction, no name).
CLI::Validator seed_validator();
// A finite number greater than 0 (not 0, negative, nan, inf, or out of double's range).
CLI::Validator positive_finite_validator();

}  // namespace dagrad::tools
