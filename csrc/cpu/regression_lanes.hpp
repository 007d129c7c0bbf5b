// Regression on the CPU takes its samples path's normals from LaneKit
// (lane_kit.hpp): 8 Philox blocks (16 normals) at a time in SIMD lanes, the
// same numbers as ScalarKit (the rows' products vectorise in the model
// itself: models/regression.hpp::draw_samples).
#pragma once
#include "../madsim/models/regression.hpp"
#include "lane_kit.hpp"

namespace madsim::cpu {

template <>
struct KitStep<Regression> {
  static constexpr bool available = true;
  // The exact path draws O(d) normals per generation: nothing to fill lanes with.
  static bool usable(const Regression::Params& p) { return p.path == Regression::SAMPLES; }
};

}  // namespace madsim::cpu
