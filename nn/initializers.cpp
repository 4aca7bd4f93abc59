// Initializers (keras-semantics.md section 1): each one adds a single node, a random op with
// parameters computed from the shape's fans, or a fill.
#include "dagrad/nn/initializers.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "dagrad/nn/errors.hpp"
#include "dagrad/ops/ops.hpp"

namespace dagrad::nn {

namespace {

// The standard deviation of a standard normal truncated to [-2, 2]: dividing the truncated
// normal's parameter by it makes the values drawn have the variance asked for.
constexpr double kTruncatedNormalStddev = 0.87962566103423978;

const std::vector<std::string>& named_initializers() {
  static const std::vector<std::string> names = {
      "glorot_uniform", "glorot_normal",  "he_uniform",      "he_normal",
      "lecun_uniform",  "lecun_normal",   "zeros",           "ones",
      "random_normal",  "random_uniform", "truncated_normal"};
  return names;
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& s : items) out += (out.empty() ? "" : ", ") + s;
  return out;
}

std::string number(double x) {
  std::ostringstream os;
  os << x;
  return os.str();
}

const char* kind_name(Initializer::Kind kind) {
  switch (kind) {
    case Initializer::Kind::VarianceScaling:
      return "variance_scaling";
    case Initializer::Kind::Constant:
      return "constant";
    case Initializer::Kind::RandomNormal:
      return "random_normal";
    case Initializer::Kind::RandomUniform:
      return "random_uniform";
    case Initializer::Kind::TruncatedNormal:
      return "truncated_normal";
  }
  return "unknown";
}

// Throws ModelError unless the fields describe a distribution the random ops can draw. Runs at
// construction and again when the initializer is used (its fields are public).
void validate(const Initializer& init) {
  const std::string who = "initializer '" + init.name() + "': ";
  auto finite = [&](double v, const char* field) {
    if (!std::isfinite(v)) throw ModelError(who + field + " must be finite, got " + number(v));
  };
  switch (init.kind) {
    case Initializer::Kind::VarianceScaling:
      if (!(init.scale > 0) || !std::isfinite(init.scale))
        throw ModelError(who + "scale must be a finite number > 0, got " + number(init.scale));
      if (init.mode != "fan_in" && init.mode != "fan_out" && init.mode != "fan_avg")
        throw ModelError(who + "mode must be one of fan_in, fan_out, fan_avg, got '" + init.mode +
                         "'");
      if (init.distribution != "truncated_normal" && init.distribution != "untruncated_normal" &&
          init.distribution != "uniform")
        throw ModelError(
            who +
            "distribution must be one of truncated_normal, normal, untruncated_normal, "
            "uniform, got '" +
            init.distribution + "'");
      break;
    case Initializer::Kind::Constant:
      finite(init.value, "value");
      break;
    case Initializer::Kind::RandomNormal:
    case Initializer::Kind::TruncatedNormal:
      finite(init.mean, "mean");
      finite(init.stddev, "stddev");
      if (init.stddev < 0)
        throw ModelError(who + "stddev must be >= 0, got " + number(init.stddev));
      break;
    case Initializer::Kind::RandomUniform:
      finite(init.minval, "minval");
      finite(init.maxval, "maxval");
      if (!(init.minval < init.maxval))
        throw ModelError(who + "minval " + number(init.minval) + " must be less than maxval " +
                         number(init.maxval));
      break;
  }
}

// scale / max(1, n) for the mode's n (Keras's _generate_init_val).
double variance(const Initializer& init, const Shape& shape) {
  Fans fans = compute_fans(shape);
  double n = 1.0;
  if (init.mode == "fan_in")
    n = static_cast<double>(fans.fan_in);
  else if (init.mode == "fan_out")
    n = static_cast<double>(fans.fan_out);
  else
    n = (static_cast<double>(fans.fan_in) + static_cast<double>(fans.fan_out)) / 2.0;
  return init.scale / std::max(1.0, n);
}

Initializer::Kind kind_from_name(const std::string& s) {
  for (auto k : {Initializer::Kind::VarianceScaling, Initializer::Kind::Constant,
                 Initializer::Kind::RandomNormal, Initializer::Kind::RandomUniform,
                 Initializer::Kind::TruncatedNormal})
    if (s == kind_name(k)) return k;
  throw ModelError(
      "initializer config: unknown kind '" + s +
      "' (variance_scaling, constant, random_normal, random_uniform, truncated_normal)");
}

}  // namespace

Fans compute_fans(const Shape& shape) {
  if (!shape.is_fully_defined())
    throw ModelError("compute_fans: shape " + shape.to_string() + " must be fully defined");
  const auto& d = shape.dims();
  Fans fans;
  if (d.empty()) return fans;
  if (d.size() == 1) {
    fans.fan_in = fans.fan_out = d[0];
  } else if (d.size() == 2) {
    fans.fan_in = d[0];
    fans.fan_out = d[1];
  } else {
    std::int64_t receptive = 1;
    for (std::size_t i = 0; i + 2 < d.size(); ++i) receptive *= d[i];
    fans.fan_in = d[d.size() - 2] * receptive;
    fans.fan_out = d[d.size() - 1] * receptive;
  }
  return fans;
}

Initializer::Initializer(const char* name) : Initializer(std::string(name ? name : "")) {}

Initializer::Initializer(const std::string& name) {
  auto vs = [&](double s, const char* m, const char* dist) {
    kind = Kind::VarianceScaling;
    scale = s;
    mode = m;
    distribution = dist;
  };
  if (name == "glorot_uniform")
    vs(1.0, "fan_avg", "uniform");
  else if (name == "glorot_normal")
    vs(1.0, "fan_avg", "truncated_normal");
  else if (name == "he_uniform")
    vs(2.0, "fan_in", "uniform");
  else if (name == "he_normal")
    vs(2.0, "fan_in", "truncated_normal");
  else if (name == "lecun_uniform")
    vs(1.0, "fan_in", "uniform");
  else if (name == "lecun_normal")
    vs(1.0, "fan_in", "truncated_normal");
  else if (name == "zeros")
    kind = Kind::Constant, value = 0.0;
  else if (name == "ones")
    kind = Kind::Constant, value = 1.0;
  else if (name == "random_normal")
    kind = Kind::RandomNormal;
  else if (name == "random_uniform")
    kind = Kind::RandomUniform;
  else if (name == "truncated_normal")
    kind = Kind::TruncatedNormal;
  else
    throw ModelError("unknown initializer '" + name + "'; the names are " +
                     join(named_initializers()) +
                     " (others through Initializer::variance_scaling, constant, random_normal, "
                     "random_uniform, truncated_normal)");
  name_ = name;
}

Initializer Initializer::variance_scaling(double scale, const std::string& mode,
                                          const std::string& distribution, std::int64_t seed) {
  Initializer init;
  init.name_ = "variance_scaling";
  init.kind = Kind::VarianceScaling;
  init.scale = scale;
  init.mode = mode;
  // As Keras: the distribution is lower-cased and "normal" means the truncated normal.
  std::string dist = distribution;
  std::transform(dist.begin(), dist.end(), dist.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  init.distribution = dist == "normal" ? "truncated_normal" : dist;
  init.seed = seed;
  validate(init);
  return init;
}

Initializer Initializer::constant(double value) {
  Initializer init;
  init.name_ = "constant";
  init.kind = Kind::Constant;
  init.value = value;
  validate(init);
  return init;
}

Initializer Initializer::random_normal(double mean, double stddev, std::int64_t seed) {
  Initializer init;
  init.name_ = "random_normal";
  init.kind = Kind::RandomNormal;
  init.mean = mean;
  init.stddev = stddev;
  init.seed = seed;
  validate(init);
  return init;
}

Initializer Initializer::random_uniform(double minval, double maxval, std::int64_t seed) {
  Initializer init;
  init.name_ = "random_uniform";
  init.kind = Kind::RandomUniform;
  init.minval = minval;
  init.maxval = maxval;
  init.seed = seed;
  validate(init);
  return init;
}

Initializer Initializer::truncated_normal(double mean, double stddev, std::int64_t seed) {
  Initializer init;
  init.name_ = "truncated_normal";
  init.kind = Kind::TruncatedNormal;
  init.mean = mean;
  init.stddev = stddev;
  init.seed = seed;
  validate(init);
  return init;
}

Output Initializer::operator()(Graph& g, const Shape& shape, DType dtype, OpName name) const {
  validate(*this);
  if (!shape.is_fully_defined())
    throw ModelError("initializer '" + name_ + "': shape " + shape.to_string() +
                     " must be fully defined");
  if (!is_floating(dtype))
    throw ModelError("initializer '" + name_ + "': dtype must be float32 or float64, got " +
                     std::string(dtype_name(dtype)));
  switch (kind) {
    case Kind::VarianceScaling: {
      double s = variance(*this, shape);
      if (distribution == "uniform") {
        double limit = std::sqrt(3.0 * s);
        return dagrad::random_uniform(g, shape, -limit, limit, dtype, seed, std::move(name));
      }
      if (distribution == "untruncated_normal")
        return dagrad::random_normal(g, shape, 0.0, std::sqrt(s), dtype, seed, std::move(name));
      return dagrad::truncated_normal(g, shape, 0.0, std::sqrt(s) / kTruncatedNormalStddev, dtype,
                                      seed, std::move(name));
    }
    case Kind::Constant:
      return dagrad::fill(g, shape, value, dtype, std::move(name));
    case Kind::RandomNormal:
      return dagrad::random_normal(g, shape, mean, stddev, dtype, seed, std::move(name));
    case Kind::RandomUniform:
      return dagrad::random_uniform(g, shape, minval, maxval, dtype, seed, std::move(name));
    case Kind::TruncatedNormal:
      return dagrad::truncated_normal(g, shape, mean, stddev, dtype, seed, std::move(name));
  }
  throw ModelError("initializer '" + name_ + "': invalid kind");
}

double Initializer::target_stddev(const Shape& shape) const {
  validate(*this);
  switch (kind) {
    case Kind::VarianceScaling:
      return std::sqrt(variance(*this, shape));
    case Kind::Constant:
      return 0.0;
    case Kind::RandomNormal:
      return stddev;
    case Kind::RandomUniform:
      return (maxval - minval) / std::sqrt(12.0);
    case Kind::TruncatedNormal:
      return stddev * kTruncatedNormalStddev;
  }
  return 0.0;
}

AttrMap Initializer::config() const {
  AttrMap c;
  c.set("name", name_);
  c.set("kind", std::string(kind_name(kind)));
  c.set("scale", scale);
  c.set("mode", mode);
  c.set("distribution", distribution);
  c.set("value", value);
  c.set("mean", mean);
  c.set("stddev", stddev);
  c.set("minval", minval);
  c.set("maxval", maxval);
  c.set("seed", seed);
  return c;
}

Initializer Initializer::from_config(const AttrMap& config) {
  static const std::vector<std::string> fields = {"name",         "kind",   "scale", "mode",
                                                  "distribution", "value",  "mean",  "stddev",
                                                  "minval",       "maxval", "seed"};
  for (const auto& [key, v] : config.items())
    if (std::find(fields.begin(), fields.end(), key) == fields.end())
      throw ModelError("initializer config: unknown field '" + key + "' (fields: " + join(fields) +
                       ")");
  // Every field is required: a config is written by config(), and a missing field would
  // silently become a default.
  auto get = [&](const char* field, AttrKind want) -> const AttrValue& {
    const AttrValue* v = config.find(field);
    if (!v) throw ModelError(std::string("initializer config: missing field '") + field + "'");
    if (attr_kind_of(*v) != want)
      throw ModelError(std::string("initializer config: field '") + field + "' must be " +
                       std::string(attr_kind_name(want)) + ", got " +
                       std::string(attr_kind_name(attr_kind_of(*v))));
    return *v;
  };
  Initializer init;
  init.name_ = std::get<std::string>(get("name", AttrKind::String));
  if (init.name_.empty()) throw ModelError("initializer config: empty name");
  init.kind = kind_from_name(std::get<std::string>(get("kind", AttrKind::String)));
  init.scale = std::get<double>(get("scale", AttrKind::Float));
  init.mode = std::get<std::string>(get("mode", AttrKind::String));
  init.distribution = std::get<std::string>(get("distribution", AttrKind::String));
  init.value = std::get<double>(get("value", AttrKind::Float));
  init.mean = std::get<double>(get("mean", AttrKind::Float));
  init.stddev = std::get<double>(get("stddev", AttrKind::Float));
  init.minval = std::get<double>(get("minval", AttrKind::Float));
  init.maxval = std::get<double>(get("maxval", AttrKind::Float));
  init.seed = std::get<std::int64_t>(get("seed", AttrKind::Int));
  validate(init);
  return init;
}

}  // namespace dagrad::nn
