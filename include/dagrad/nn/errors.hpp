// The error the nn module reports for a model that cannot be built as asked: an unknown
// initializer, activation, loss or layer type, a bad option (units <= 0, rate outside [0, 1)),
// layers that do not fit together, weights of the wrong count or shape.
#pragma once

#include "../graph/errors.hpp"

namespace dagrad::nn {

struct ModelError : Error {
  using Error::Error;
};

}  // namespace dagrad::nn
