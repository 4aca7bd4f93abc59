// Rebuilding optimizers and schedules from their configs (model files keep them so that a loaded
// model resumes training with the same optimizer).
#include <string>

#include "dagrad/optim/errors.hpp"
#include "dagrad/optim/optimizers.hpp"
#include "dagrad/optim/schedules.hpp"

namespace dagrad::optim {

namespace {

// The entries under `prefix.`, without it.
AttrMap sub_config(const AttrMap& c, const std::string& prefix) {
  AttrMap out;
  std::string p = prefix + ".";
  for (const auto& [k, v] : c.items())
    if (k.compare(0, p.size(), p) == 0) out.set(k.substr(p.size()), v);
  return out;
}

template <class F>
auto field(const std::string& what, F get) {
  try {
    return get();
  } catch (const Error& e) {
    throw OptimizerError(what + ": " + e.what());
  }
}

std::vector<double> doubles(const Tensor& t) { return t.to_vector<double>(); }

template <class Options>
void read_common(const AttrMap& c, Options& o) {
  o.name = c.get_string("name");
  o.learning_rate = c.get_float("learning_rate");
  o.decay = c.get_float("decay");
  if (c.has("clipvalue")) o.clipvalue = c.get_float("clipvalue");
  if (c.has("clipnorm")) o.clipnorm = c.get_float("clipnorm");
  if (c.has("global_clipnorm")) o.global_clipnorm = c.get_float("global_clipnorm");
  AttrMap s = sub_config(c, "schedule");
  if (!s.items().empty()) o.schedule = schedule_from_config(s);
}

}  // namespace

SchedulePtr schedule_from_config(const AttrMap& c) {
  return field("schedule config", [&]() -> SchedulePtr {
    const std::string& type = c.get_string("type");
    if (type == "exponential_decay")
      return exponential_decay(c.get_float("initial_rate"), c.get_float("decay_steps"), c.get_float("decay_rate"),
                               c.get_bool("staircase"));
    if (type == "inverse_time_decay")
      return inverse_time_decay(c.get_float("initial_rate"), c.get_float("decay_steps"), c.get_float("decay_rate"),
                                c.get_bool("staircase"));
    if (type == "power_decay") return power_decay(c.get_float("initial_rate"), c.get_float("s"), c.get_float("c"));
    if (type == "polynomial_decay")
      return polynomial_decay(c.get_float("initial_rate"), c.get_float("decay_steps"), c.get_float("end_rate"),
                              c.get_float("power"));
    if (type == "piecewise_constant")
      return piecewise_constant(doubles(c.get_tensor("boundaries")), doubles(c.get_tensor("values")));
    if (type == "one_cycle")
      return one_cycle(c.get_int("total_steps"), c.get_float("max_rate"), c.get_float("start_rate"),
                       c.get_int("last_steps"), c.get_float("last_rate"));
    if (type == "one_cycle_momentum")
      return one_cycle_momentum(c.get_int("total_steps"), c.get_float("max_momentum"), c.get_float("min_momentum"),
                                c.get_int("last_steps"));
    throw OptimizerError("unknown schedule type '" + type + "'");
  });
}

OptimizerPtr optimizer_from_config(const AttrMap& c) {
  return field("optimizer config", [&]() -> OptimizerPtr {
    const std::string& type = c.get_string("type");
    if (type == "SGD") {
      SGDOptions o;
      read_common(c, o);
      o.momentum = c.get_float("momentum");
      o.nesterov = c.get_bool("nesterov");
      AttrMap m = sub_config(c, "momentum_schedule");
      if (!m.items().empty()) o.momentum_schedule = schedule_from_config(m);
      return SGD(o);
    }
    if (type == "Adagrad") {
      AdagradOptions o;
      read_common(c, o);
      o.initial_accumulator_value = c.get_float("initial_accumulator_value");
      o.epsilon = c.get_float("epsilon");
      return Adagrad(o);
    }
    if (type == "RMSprop") {
      RMSpropOptions o;
      read_common(c, o);
      o.rho = c.get_float("rho");
      o.momentum = c.get_float("momentum");
      o.epsilon = c.get_float("epsilon");
      o.centered = c.get_bool("centered");
      return RMSprop(o);
    }
    if (type == "Adam" || type == "Adamax" || type == "Nadam" || type == "AdamW") {
      AdamOptions o;
      read_common(c, o);
      o.beta_1 = c.get_float("beta_1");
      o.beta_2 = c.get_float("beta_2");
      o.epsilon = c.get_float("epsilon");
      o.amsgrad = c.get_bool("amsgrad");
      o.weight_decay = c.get_float("weight_decay");
      if (type == "Adam") return Adam(o);
      if (type == "Adamax") return Adamax(o);
      if (type == "Nadam") return Nadam(o);
      return AdamW(o);
    }
    throw OptimizerError("unknown optimizer type '" + type + "'");
  });
}

}  // namespace dagrad::optim
