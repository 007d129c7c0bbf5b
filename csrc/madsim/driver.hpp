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

// One replica's records and detectors through a chunk: look(t) sees the model
// of generation t (the state row) when t is recorded or a detector still
// watches. wants(t) says whether look(t) would do anything.
template <class M>
struct Looker {
  const typename M::Params* p;
  const Looks* lk;
  double* rec_out;  // [n_rec, n_cols]
  int64_t* first;   // [n_det]
  double* obs;      // [O] scratch
  double* scratch;
  int64_t r;
  bool watching;

  MADSIM_HD void start(const typename M::Params& p_, const Looks& lk_, double* rec_out_,
                       int64_t* first_, double* obs_, double* scratch_) {
    p = &p_;
    lk = &lk_;
    rec_out = rec_out_;
    first = first_;
    obs = obs_;
    scratch = scratch_;
    r = 0;
    watching = false;
    for (int32_t j = 0; j < lk->n_det; ++j) watching = watching || first[j] < 0;
  }

  MADSIM_HD bool wants(uint32_t t) const {
    return watching || (r < lk->n_rec && lk->rec_gens[r] == t);
  }

  MADSIM_HD void look(uint32_t t, const double* state) {
    const bool rec = r < lk->n_rec && lk->rec_gens[r] == t;
    if (!rec && !watching) return;
    M::observe(*p, state, obs, rec ? lk->need_rec : lk->need_det, scratch);
    if (rec) {
      for (int64_t k = 0; k < lk->n_cols; ++k) rec_out[r * lk->n_cols + k] = obs[lk->cols[k]];
      ++r;
    }
    if (watching) {
      watching = false;
      for (int32_t j = 0; j < lk->n_det; ++j) {
        if (first[j] < 0 && detector_fires(lk->det[j], obs[lk->det[j].metric])) first[j] = t;
        watching = watching || first[j] < 0;
      }
    }
  }
};

// M::step, as advance_replica's default Step.
template <class M>
struct StepOf {
  MADSIM_HD static void step(const typename M::Params& p, double* state, u32x2 key,
                             uint32_t replica, uint32_t t, double* scratch) {
    M::step(p, state, key, replica, t, scratch);
  }
};

// Runs generations gen_begin+1 .. gen_end of one replica.
//   state     [S]              in/out
//   rec_out   [n_rec, n_cols]  this replica's record rows for lk.rec_gens
//   first     [n_det]          in/out first-passage generations
//   obs       [O]              scratch for observe's row
//   scratch   [scratch_size]   scratch for step and observe
// When gen_begin == 0 the state row is (re)initialised by M::init first.
// observe runs only on recorded or watched generations, and computes only
// the groups those read. Step::step is M::step (StepOf), or the same
// computation by other means (the CPU launcher's kits, cpu/lane_driver.hpp).
template <class M, class Step = StepOf<M>>
MADSIM_HD void advance_replica(const typename M::Params& p, double* state, u32x2 key,
                               uint32_t replica, uint32_t gen_begin, uint32_t gen_end,
                               const Looks& lk, double* rec_out, int64_t* first, double* obs,
                               double* scratch) {
  Looker<M> looker;
  looker.start(p, lk, rec_out, first, obs, scratch);
  // Records and detectors see generation t's model; generation 0 (the truth)
  // only in the chunk that starts there.
  if (gen_begin == 0) {
    M::init(p, state, key, replica, scratch);
    looker.look(0, state);
  }
  for (uint64_t t = (uint64_t)gen_begin + 1; t <= gen_end; ++t) {
    Step::step(p, state, key, replica, (uint32_t)t, scratch);
    looker.look((uint32_t)t, state);
  }
}

}  // namespace madsim
