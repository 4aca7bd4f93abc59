// The whole public API of dagrad: graph core and built-in ops.
#pragma once

#include "graph/attr.hpp"
#include "graph/checkpoint.hpp"
#include "graph/dot.hpp"
#include "graph/dtype.hpp"
#include "graph/errors.hpp"
#include "graph/graph.hpp"
#include "graph/graph_file.hpp"
#include "graph/npy.hpp"
#include "graph/op_registry.hpp"
#include "graph/session.hpp"
#include "graph/shape.hpp"
#include "graph/tensor.hpp"
#include "graph/transforms.hpp"
#include "ops/ops.hpp"
#include "autodiff/gradient_check.hpp"
#include "autodiff/gradients.hpp"
