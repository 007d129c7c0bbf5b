// GaussianLoop on the CPU takes its normals and chi-squares from LaneKit
// (lanes.hpp): SIMD across the blocks and streams of one replica's step, the
// same numbers as ScalarKit (lane_driver.hpp).
#pragma once
#include "../madsim/models/gaussian_loop.hpp"
#include "lane_driver.hpp"

namespace madsim::cpu {

template <>
struct KitStep<GaussianLoop> {
  static constexpr bool available = true;
};

}  // namespace madsim::cpu
