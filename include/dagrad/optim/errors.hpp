// The error the optim module reports for an optimizer, schedule or transform that cannot be built
// as asked: a bad hyperparameter, a variable that cannot be optimized, incompatible options.
#pragma once

#include "../graph/errors.hpp"

namespace dagrad::optim {

struct OptimizerError : Error {
  using Error::Error;
};

}  // namespace dagrad::optim
