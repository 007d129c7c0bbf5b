// The family list: every model header and one MADSIM_FAMILIES entry per
// family, X(name, Model), the only place the C++ side names every family.
//   name   the binding's suffix: bind_<name> in csrc/bindings/<name>.cpp
//          defines madsim._core.advance_<name> (and advance_<name>_cuda)
//   Model  the model struct (models/<name>.hpp, the contract of model.hpp)
// Expanded by csrc/bindings/common.hpp (the bind_<name> declarations),
// csrc/bindings/module.cpp (their calls) and csrc/cuda/launch.cu (the CUDA
// launcher's instantiations); CMakeLists.txt builds every
// csrc/bindings/*.cpp. Every binding file includes this header (through
// common.hpp), so each sees every model in the same order.
#pragma once

#include "models/bigram.hpp"
#include "models/categorical.hpp"
#include "models/gaussian1d.hpp"
#include "models/gaussian_loop.hpp"
#include "models/gmm.hpp"
#include "models/kde.hpp"
#include "models/logistic.hpp"
#include "models/poisson.hpp"
#include "models/regression.hpp"

// clang-format off
#define MADSIM_FAMILIES(X)            \
  X(gaussian1d, Gaussian1D)           \
  X(gaussian_loop, GaussianLoop)      \
  X(categorical, Categorical)         \
  X(bigram, Bigram)                   \
  X(gmm, GaussianMixture)             \
  X(regression, Regression)           \
  X(poisson, Poisson)                 \
  X(kde, KDE)                         \
  X(logistic, Logistic)
// clang-format on
