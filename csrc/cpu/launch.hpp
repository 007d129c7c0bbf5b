// CPU launcher: maps replicas onto threads and nothing else. Replicas are
// cut into contiguous blocks (about 32 per thread, whole lane groups where
// there are groups enough to go round) that threads claim one at a time
// from a shared counter, so a thread slowed by
// the machine (a busy neighbour on a shared host) or by costlier replicas (an
// EM that iterates longer, a token model on its binomial path) does not hold
// up the others at the end of the chunk: with one fixed half per thread,
// 1 -> 2 threads measured 1.3-1.6x on a shared VM where Philox alone scaled
// 1.97x. Each replica runs the whole chunk of generations with its state row
// hot in cache. Every replica is a pure function of (seed, replica id,
// generations), so the split cannot change a number. Families with a lane step (lane_driver.hpp)
// run groups of LANES replicas together in SIMD lanes, with the same numbers.
#pragma once
#include <algorithm>
#include <atomic>
#include <thread>
#include <vector>

#include "../madsim/driver.hpp"
#include "lane_driver.hpp"

namespace madsim::cpu {

struct Chunk {
  uint64_t seed;
  uint32_t gen_begin, gen_end;
  const uint32_t* rec_gens;  // [n_rec] generations recorded in this chunk
  int64_t n_rec;
  int64_t rec_offset;   // index of rec_gens[0] in the run's record axis
  int64_t rec_total;    // length of the run's record axis
  const int32_t* cols;  // [n_cols] observe() columns a record holds
  int64_t n_cols;
  const Detector* det;  // [n_det]
  int32_t n_det;
};

// state [R, S], replica_ids [R], records [R, rec_total, n_cols], first [R, n_det]
template <class M>
void advance(const typename M::Params& p, const Chunk& c, double* state,
             const uint32_t* replica_ids, int64_t R, double* records, int64_t* first, int threads) {
  const int64_t S = M::state_size(p), O = M::observe_size(p), C = c.n_cols;
  const u32x2 key = seed_key(c.seed);
  const Looks lk{c.rec_gens,
                 c.n_rec,
                 c.cols,
                 c.n_cols,
                 c.det,
                 c.n_det,
                 observe_need<M>(p, c.cols, c.n_cols, c.det, c.n_det),
                 observe_need<M>(p, nullptr, 0, c.det, c.n_det)};
  const LaneMode mode = lane_mode();
  bool lanes = false;
  if constexpr (LaneStep<M>::available) lanes = mode != LANES_OFF && LaneStep<M>::usable(p);
  auto run = [&](int64_t lo, int64_t hi, double* obs, double* scratch) {
    if constexpr (KitSplit<M>::available) {
      // groups of LANES replicas, each generation's tail across them (ppca_lanes.hpp)
      if (mode != LANES_OFF && KitSplit<M>::usable(p)) {
        MADSIM_BY_MODE(mode, split_range_avx512<M>, split_range_avx2<M>, split_range_base<M>)(
            p, state, S, key, replica_ids, c.gen_begin, c.gen_end, lk, records + c.rec_offset * C,
            c.rec_total * C, first, obs, scratch, lo, hi);
        return;
      }
    }
    if constexpr (KitStep<M>::available) {
      if (mode != LANES_OFF && KitStep<M>::usable(p)) {  // one replica at a time, SIMD in its step
        MADSIM_BY_MODE(mode, kit_range_avx512<M>, kit_range_avx2<M>, kit_range_base<M>)(
            p, state, S, key, replica_ids, c.gen_begin, c.gen_end, lk, records + c.rec_offset * C,
            c.rec_total * C, first, obs, scratch, lo, hi);
        return;
      }
    }
    if constexpr (LaneStep<M>::available) {
      if (lanes) {  // whole groups of LANES replicas in SIMD lanes, the rest below
        auto range =
            MADSIM_BY_MODE(mode, lane_range_avx512<M>, lane_range_avx2<M>, lane_range_base<M>);
        if constexpr (HasHeap<LaneStep<M>>::value) {
          if (LaneStep<M>::heap(p) > 0)  // rows too large for the stack
            range =
                MADSIM_BY_MODE(mode, heap_range_avx512<M>, heap_range_avx2<M>, heap_range_base<M>);
        }
        lo = range(p, state, S, key, replica_ids, c.gen_begin, c.gen_end, lk,
                   records + c.rec_offset * C, c.rec_total * C, first, obs, scratch, lo, hi);
      }
    }
    for (int64_t i = lo; i < hi; ++i) {
      advance_replica<M>(p, state + i * S, key, replica_ids[i], c.gen_begin, c.gen_end, lk,
                         records + (i * c.rec_total + c.rec_offset) * C, first + i * c.n_det, obs,
                         scratch);
    }
  };
  const int64_t nt = std::max<int64_t>(1, std::min<int64_t>(threads, R));
  // Blocks of whole pairs of lane groups (lane_driver.hpp's step_pair) or
  // groups while there are enough to give every thread one; fewer replicas
  // than that (a costly step run on a handful of replicas, e.g. regression at
  // d = 50, T = 1e4 on 2 replicas) are cut one by one, so every thread works:
  // rounded up to a group, R = 2 ran on one thread.
  const int64_t unit = R >= nt * 2 * LANES ? 2 * LANES : R >= nt * LANES ? LANES : 1;
  const int64_t per = (R + nt * 32 - 1) / (nt * 32);
  const int64_t block = (per + unit - 1) / unit * unit;
  std::atomic<int64_t> next{0};
  auto worker = [&]() {
    std::vector<double> obs(O > 0 ? O : 1);
    std::vector<double> scratch(M::scratch_size(p) + 1);
    for (;;) {
      const int64_t lo = next.fetch_add(block);
      if (lo >= R) break;
      run(lo, std::min(R, lo + block), obs.data(), scratch.data());
    }
  };
  if (nt == 1) {
    worker();
    return;
  }
  std::vector<std::thread> pool;
  for (int64_t k = 0; k < nt; ++k) pool.emplace_back(worker);
  for (auto& th : pool) th.join();
}

}  // namespace madsim::cpu
