// The optim module: optimizers, gradient transforms, learning-rate schedules.
#pragma once

#include "errors.hpp"
#include "optimizers.hpp"
#include "schedules.hpp"
#include "transforms.hpp"
