// The one driver: advances one replica of any family (model.hpp) through a
// chunk of generations, recording chosen generations and watching collapse
// detectors on every generation. Both launchers call it; it holds no model
// math and no threading.
#pragma once
#include "model.hpp"

namespace madsim {

// First generation at which observe()[metric] <= threshold (below = 1) or
// >= threshold (below = 0). -1 while not reached (censored).
struct Detector {
  int32_t metric;
  int32_t below;
  double threshold;
};

MADSIM_HD bool detector_fires(const Detector& d, double value) {
  return d.below ? value <= d.threshold : value >= d.threshold;
}

// Runs generations gen_begin+1 .. gen_end of one replica.
//   state     [S]           in/out
//   rec_gens  [n_rec]       ascending generations in (gen_begin, gen_end],
//                           or gen_begin itself when gen_begin == 0
//   rec_out   [n_rec, O]    this replica's record rows for those generations
//   first     [n_det]       in/out first-passage generations
//   obs       [O]           scratch
//   scratch   [scratch_size] scratch for step
// When gen_begin == 0 the state row is (re)initialised by M::init first.
template <class M>
MADSIM_HD void advance_replica(const typename M::Params& p, double* state, u32x2 key,
                               uint32_t replica, uint32_t gen_begin, uint32_t gen_end,
                               const uint32_t* rec_gens, int64_t n_rec, double* rec_out,
                               const Detector* det, int32_t n_det, int64_t* first,
                               double* obs, double* scratch) {
  const int o_size = M::observe_size(p);
  int64_t r = 0;
  bool watching = false;
  for (int32_t j = 0; j < n_det; ++j) watching = watching || first[j] < 0;
  // Records and detectors see generation t's model; generation 0 (the truth)
  // only in the chunk that starts there.
  auto look = [&](uint32_t t) {
    const bool rec = r < n_rec && rec_gens[r] == t;
    if (!rec && !watching) return;
    M::observe(p, state, obs);
    if (rec) {
      for (int k = 0; k < o_size; ++k) rec_out[r * o_size + k] = obs[k];
      ++r;
    }
    if (watching) {
      watching = false;
      for (int32_t j = 0; j < n_det; ++j) {
        if (first[j] < 0 && detector_fires(det[j], obs[det[j].metric])) first[j] = t;
        watching = watching || first[j] < 0;
      }
    }
  };
  if (gen_begin == 0) {
    M::init(p, state, key, replica, scratch);
    look(0);
  }
  for (uint64_t t = (uint64_t)gen_begin + 1; t <= gen_end; ++t) {
    M::step(p, state, key, replica, (uint32_t)t, scratch);
    look((uint32_t)t);
  }
}

}  // namespace madsim
