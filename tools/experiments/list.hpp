// The experiments, one function each (registered in registry.cpp with their claims and defaults).
#pragma once

#include "experiment.hpp"

namespace dagrad::tools::experiments {

Report gradients(const Options& options, const nn::FashionMnist& data);       // gradients.cpp
Report activations(const Options& options, const nn::FashionMnist& data);     // activations.cpp
Report initializers(const Options& options, const nn::FashionMnist& data);    // initializers.cpp
Report batchnorm(const Options& options, const nn::FashionMnist& data);       // batchnorm.cpp
Report clipping(const Options& options, const nn::FashionMnist& data);        // clipping.cpp
Report transfer(const Options& options, const nn::FashionMnist& data);        // transfer.cpp
Report pretraining(const Options& options, const nn::FashionMnist& data);     // pretraining.cpp
Report auxiliary(const Options& options, const nn::FashionMnist& data);       // auxiliary.cpp
Report optimizers(const Options& options, const nn::FashionMnist& data);      // optimizers.cpp
Report schedules(const Options& options, const nn::FashionMnist& data);       // schedules.cpp
Report regularization(const Options& options, const nn::FashionMnist& data);  // regularization.cpp

}  // namespace dagrad::tools::experiments
