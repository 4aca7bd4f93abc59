// The nn module: initializers, activations, layers, losses, metrics, regularizers, models,
// data sets.
#pragma once

#include "activations.hpp"
#include "conv_layers.hpp"
#include "datasets.hpp"
#include "errors.hpp"
#include "initializers.hpp"
#include "layer.hpp"
#include "layers.hpp"
#include "losses.hpp"
#include "lr_finder.hpp"
#include "model.hpp"
#include "presets.hpp"
