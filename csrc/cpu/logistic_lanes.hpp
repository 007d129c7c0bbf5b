// Logistic on the CPU (models/logistic.hpp) takes its rows' normals from
// LaneKit (lane_kit.hpp): 8 Philox blocks (16 normals) at a time in SIMD
// lanes, the same numbers as ScalarKit.
#pragma once
#include "../madsim/models/logistic.hpp"
#include "lane_kit.hpp"

namespace madsim::cpu {

template <>
struct KitStep<Logistic> {
  static constexpr bool available = true;
  static bool usable(const Logistic::Params&) { return true; }  // samples path only
};

}  // namespace madsim::cpu
