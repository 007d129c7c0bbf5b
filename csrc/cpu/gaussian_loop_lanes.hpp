// GaussianLoop on the CPU takes its normals and chi-squares from LaneKit
// (lane_kit.hpp): SIMD across the blocks and streams of one replica's step,
// the same numbers as ScalarKit (the launcher: lane_driver.hpp).
#pragma once
#include "../madsim/models/gaussian_loop.hpp"
#include "lane_kit.hpp"

namespace madsim::cpu {

template <>
struct KitStep<GaussianLoop> {
  static constexpr bool available = true;
  // d < 4: too few normals and chi-squares per step to fill lanes (measured
  // slower than ScalarKit in 1-D); those run the scalar driver, and so do
  // the mitigations (tail reweighting, self-correction: scalar code only).
  static bool usable(const GaussianLoop::Params& p) {
    return p.d >= 4 && !GaussianLoop::mitigated(p);
  }
};

}  // namespace madsim::cpu
