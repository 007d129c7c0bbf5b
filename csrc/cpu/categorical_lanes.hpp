// Categorical on the CPU draws its tokens through LaneKit (lane_kit.hpp):
// Philox blocks and uniforms in SIMD lanes, the same counts as ScalarKit.
#pragma once
#include "../madsim/models/categorical.hpp"
#include "lane_kit.hpp"

namespace madsim::cpu {

template <>
struct KitStep<Categorical> {
  static constexpr bool available = true;
  // Conditional binomials (the exact path for n > 4 x support) draw no
  // tokens; LaneKit then runs ScalarKit's code, at no cost.
  static bool usable(const Categorical::Params&) { return true; }
};

}  // namespace madsim::cpu
