// The whole public API of dagrad: graph core and built-in ops.
#pragma once

#include "graph/attr.hpp"
#include "graph/dtype.hpp"
#include "graph/errors.hpp"
#include "graph/graph.hpp"
#include "graph/op_registry.hpp"
#include "graph/session.hpp"
#include "graph/shape.hpp"
#include "graph/tensor.hpp"
#include "ops/ops.hpp"
