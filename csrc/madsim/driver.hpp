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

// The observe groups (M::observe_group) that columns cols [n_cols] and the
// detectors' metrics [n_det] read, as the `need` mask of M::observe.
template <class M>
MADSIM_HD uint32_t observe_need(const typename M::Params& p, const int32_t* cols, int64_t n_cols,
                                const Detector* det, int32_t n_det) {
  uint32_t need = 0;
  for (int64_t k = 0; k < n_cols; ++k) need |= 1u << M::observe_group(p, cols[k]);
  for (int32_t j = 0; j < n_det; ++j) need |= 1u << M::observe_group(p, det[j].metric);
  return need;
}

// What a chunk records and watches, the same for every replica.
//   rec_gens  [n_rec]       ascending generations in (gen_begin, gen_end],
//                           or gen_begin itself when gen_begin == 0
//   cols      [n_cols]      the observe() columns a record row holds, in order
//   det       [n_det]       detectors (metric: an observe() column, recorded or not)
//   need_rec, need_det      observe_need of (cols and det) and of det alone
struct Looks {
  const uint32_t* rec_gens;
  int64_t n_rec;
  const int32_t* cols;
  int64_t n_cols;
  const Detector* det;
  int32_t n_det;
  uint32_t need_rec, need_det;
};

// Runs generations gen_begin+1 .. gen_end of one replica.
//   state     [S]              in/out
//   rec_out   [n_rec, n_cols]  this replica's record rows for lk.rec_gens
//   first     [n_det]          in/out first-passage generations
//   obs       [O]              scratch for observe's row
//   scratch   [scratch_size]   scratch for step and observe
// When gen_begin == 0 the state row is (re)initialised by M::init first.
// observe runs only on recorded or watched generations, and computes only
// the groups those read.
template <class M>
MADSIM_HD void advance_replica(const typename M::Params& p, double* state, u32x2 key,
                               uint32_t replica, uint32_t gen_begin, uint32_t gen_end,
                               const Looks& lk, double* rec_out, int64_t* first, double* obs,
                               double* scratch) {
  const int64_t n_rec = lk.n_rec, n_cols = lk.n_cols;
  const uint32_t* rec_gens = lk.rec_gens;
  const Detector* det = lk.det;
  const int32_t n_det = lk.n_det;
  int64_t r = 0;
  bool watching = false;
  for (int32_t j = 0; j < n_det; ++j) watching = watching || first[j] < 0;
  // Records and detectors see generation t's model; generation 0 (the truth)
  // only in the chunk that starts there.
  auto look = [&](uint32_t t) {
    const bool rec = r < n_rec && rec_gens[r] == t;
    if (!rec && !watching) return;
    M::observe(p, state, obs, rec ? lk.need_rec : lk.need_det, scratch);
    if (rec) {
      for (int64_t k = 0; k < n_cols; ++k) rec_out[r * n_cols + k] = obs[lk.cols[k]];
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
