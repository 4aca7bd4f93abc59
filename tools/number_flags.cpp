#include "number_flags.hpp"

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>

namespace dagrad::tools {

CLI::Validator seed_validator() {
  return CLI::Validator(
      [](const std::string& text) -> std::string {
        std::uint64_t v = 0;
        const char* end = text.data() + text.size();
        // from_chars takes no sign for an unsigned type, so "-1" stops at once.
        auto [stop, error] = std::from_chars(text.data(), end, v);
        if (text.empty() || error != std::errc() || stop != end)
          return "'" + text + "' is not a seed (a whole number from 0 to 18446744073709551615)";
        return "";
      },
      "0..2^64-1");
}

CLI::Validator positive_finite_validator() {
  return CLI::Validator(
      [](const std::string& text) -> std::string {
        errno = 0;
        char* stop = nullptr;
        double v = std::strtod(text.c_str(), &stop);
        if (text.empty() || stop != text.c_str() + text.size())
          return "'" + text + "' is not a number";
        if (errno == ERANGE && std::abs(v) > 1) return "'" + text + "' is out of range";
        if (!std::isfinite(v) || !(v > 0)) return "'" + text + "' is not a positive finite number";
        return "";
      },
      "X>0");
}

}  // namespace dagrad::tools
