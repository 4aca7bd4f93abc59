#include "numerics.hpp"

#include <cmath>
#include <cstring>
#include <sstream>

namespace dagrad::detail {

namespace {

// An element is NaN or infinite exactly when its exponent bits are all ones.
template <class Bits>
bool exponents_finite(const void* data, std::int64_t n, Bits mask) {
  const auto* p = static_cast<const unsigned char*>(data);
  Bits bad = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    Bits bits;
    std::memcpy(&bits, p + static_cast<std::size_t>(i) * sizeof(Bits), sizeof(Bits));
    bad |= static_cast<Bits>((bits & mask) == mask);
  }
  return bad == 0;
}

}  // namespace

bool all_finite(const Tensor& t) {
  if (!t.defined()) return true;
  switch (t.dtype()) {
    case DType::float32:
      return exponents_finite<std::uint32_t>(t.raw(), t.size(), 0x7f800000u);
    case DType::float64:
      return exponents_finite<std::uint64_t>(t.raw(), t.size(), 0x7ff0000000000000ull);
    default:
      return true;
  }
}

TensorStatistics statistics(const Tensor& t) {
  TensorStatistics s;
  if (!t.defined()) return s;
  for (std::int64_t i = 0; i < t.size(); ++i) {
    double v = t.value_as_double(i);
    if (std::isnan(v)) {
      ++s.nan;
    } else if (std::isinf(v)) {
      ++(v > 0 ? s.positive_inf : s.negative_inf);
    } else {
      s.min = s.finite == 0 ? v : std::min(s.min, v);
      s.max = s.finite == 0 ? v : std::max(s.max, v);
      ++s.finite;
    }
  }
  return s;
}

std::string describe_statistics(const Tensor& t) {
  if (!t.defined()) return "undefined";
  TensorStatistics s = statistics(t);
  std::ostringstream os;
  os.precision(7);
  os << dtype_name(t.dtype()) << " " << t.shape().to_string();
  if (s.finite > 0)
    os << " min " << s.min << " max " << s.max;
  else if (t.size() > 0)
    os << " no finite value";
  else
    os << " empty";
  std::int64_t bad = s.nan + s.positive_inf + s.negative_inf;
  os << ", " << bad << " non-finite";
  if (bad > 0)
    os << " (" << s.nan << " nan, " << s.positive_inf << " +inf, " << s.negative_inf << " -inf)";
  return os.str();
}

}  // namespace dagrad::detail
