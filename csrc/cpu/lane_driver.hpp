// The driver (driver.hpp) over LANES replicas at once, for families with a
// lane step: LaneStep<M> (a CPU-only specialisation, e.g. gaussian1d_lanes.hpp)
// advances the state of LANES replicas held in vectors, computing exactly what
// M::step computes for each (bit for bit: same operations in the same order,
// rare branches finished by M's own scalar code). LaneStep<M>::STATE bounds
// M::state_size(p) for every p that usable(p) accepts whose rows are on the
// stack (all but those of heap(p) > 0: HasHeap); step gets the thread's
// scratch for the scalar code it falls back on. Records and detectors run
// per replica through the scalar Looker on the state rows, only on the
// generations that need them. A family without LaneStep, or whose
// LaneStep<M>::usable(p) is false, runs the scalar driver.
#pragma once
#include <algorithm>
#include <type_traits>
#include <vector>

#include "../madsim/driver.hpp"
#include "lanes.hpp"

namespace madsim::cpu {

// The parameters of every range function below (launch.hpp calls them
// alike): replicas [lo, hi) of rows state[i * S], their ids, records and
// first passages, and the thread's obs and scratch.
#define MADSIM_RANGE_ARGS                                                                         \
  const typename M::Params &p, double *state, int64_t S, u32x2 key, const uint32_t *ids,          \
      uint32_t gen_begin, uint32_t gen_end, const Looks &lk, double *records, int64_t rec_stride, \
      int64_t *first, double *obs, double *scratch, int64_t lo, int64_t hi

template <class M>
struct LaneStep {
  static constexpr bool available = false;
};

// Families whose step takes a kit (models/gaussian_loop.hpp::ScalarKit) run
// one replica at a time with LaneKit: SIMD across the blocks and streams of
// one replica's step. KitStep<M>::available says M's step is a template over
// the kit, usable(p) whether to use it (a CPU-only specialisation, e.g.
// gaussian_loop_lanes.hpp).
template <class M>
struct KitStep {
  static constexpr bool available = false;
};

template <int AVX2>
struct LaneKit;  // gaussian_loop_lanes.hpp

template <class M, int AVX2>
struct LaneKitStep {
  MADSIM_LANE static void step(const typename M::Params& p, double* state, u32x2 key,
                               uint32_t replica, uint32_t t, double* scratch) {
    M::template step<LaneKit<AVX2>>(p, state, key, replica, t, scratch);
  }
};

#define MADSIM_KIT_RANGE(NAME, ATTR, AVX2)                                                         \
  template <class M>                                                                               \
  ATTR __attribute__((flatten)) void NAME(MADSIM_RANGE_ARGS) {                                     \
    for (int64_t i = lo; i < hi; ++i)                                                              \
      advance_replica<M, LaneKitStep<M, AVX2>>(p, state + i * S, key, ids[i], gen_begin, gen_end,  \
                                               lk, records + i * rec_stride, first + i * lk.n_det, \
                                               obs, scratch);                                      \
  }
MADSIM_KIT_RANGE(kit_range_avx512, MADSIM_AVX512, 2)
MADSIM_KIT_RANGE(kit_range_avx2, MADSIM_AVX2, 1)
MADSIM_KIT_RANGE(kit_range_base, , 0)
#undef MADSIM_KIT_RANGE

// A kit step whose last part runs better across replicas than in one
// (GaussianLoop's PPCA projection: ppca_lanes.hpp). Where KitSplit<M>::usable(p),
// each generation of a group of up to LANES replicas runs head (one replica
// at a time, LaneKit; returns whether the replica's tail is due) for each,
// then tail over the group's due rows at once (lane_scratch(p) vectors of
// scratch): together what M::step computes for each, bit for bit.
template <class M>
struct KitSplit {
  static constexpr bool available = false;
};

// Replicas [0, n), n <= LANES, generation by generation (KitSplit); rows,
// records and first passages as in cpu::advance.
template <class M, int AVX2>
MADSIM_LANE void advance_split_group(const typename M::Params& p, double* state, int64_t S,
                                     u32x2 key, const uint32_t* ids, int n, uint32_t gen_begin,
                                     uint32_t gen_end, const Looks& lk, double* records,
                                     int64_t rec_stride, int64_t* first, double* obs,
                                     double* scratch, vd* lane_scratch) {
  typedef KitSplit<M> K;
  Looker<M> lookers[LANES];
  for (int l = 0; l < n; ++l) {
    lookers[l].start(p, lk, records + l * rec_stride, first + l * lk.n_det, obs, scratch);
    if (gen_begin == 0) {
      called(&M::init, p, state + l * S, key, ids[l], scratch);
      called(&Looker<M>::look, lookers[l], 0, state + l * S);
    }
  }
  for (uint64_t t = (uint64_t)gen_begin + 1; t <= gen_end; ++t) {
    bool due[LANES];
    for (int l = 0; l < n; ++l)
      due[l] = K::template head<AVX2>(p, state + l * S, key, ids[l], (uint32_t)t, scratch);
    K::template tail<AVX2>(p, state, S, n, due, scratch, lane_scratch);
    for (int l = 0; l < n; ++l) called(&Looker<M>::look, lookers[l], (uint32_t)t, state + l * S);
  }
}

#define MADSIM_SPLIT_RANGE(NAME, ATTR, AVX2)                                                      \
  template <class M>                                                                              \
  ATTR __attribute__((flatten)) void NAME(MADSIM_RANGE_ARGS) {                                    \
    /* vectors at 64-byte boundaries (std::vector<vd> gave 16-byte ones) */                       \
    std::vector<double> buf((KitSplit<M>::lane_scratch(p) + 1) * LANES);                          \
    vd* lane_scratch = (vd*)(((uintptr_t)buf.data() + 63) & ~(uintptr_t)63);                      \
    for (int64_t i = lo; i < hi; i += LANES)                                                      \
      advance_split_group<M, AVX2>(p, state + i * S, S, key, ids + i,                             \
                                   (int)std::min<int64_t>(LANES, hi - i), gen_begin, gen_end, lk, \
                                   records + i * rec_stride, rec_stride, first + i * lk.n_det,    \
                                   obs, scratch, lane_scratch);                                   \
  }
MADSIM_SPLIT_RANGE(split_range_avx512, MADSIM_AVX512, 2)
MADSIM_SPLIT_RANGE(split_range_avx2, MADSIM_AVX2, 1)
MADSIM_SPLIT_RANGE(split_range_base, , 0)
#undef MADSIM_SPLIT_RANGE

// A LaneStep<M> that steps two lane groups at once where pairs(p)
// (step_pair), compiled for AVX-512 only: there one group's chains leave the
// core idle (with AVX2 a vector already takes two registers).
template <class L, class = void>
struct HasPairs : std::false_type {};
template <class L>
struct HasPairs<L, std::void_t<decltype(&L::pairs)>> : std::true_type {};
// A LaneStep<M> whose init runs in lanes where lane_init(p) (init: a lane
// group's rows, the same numbers as M::init).
template <class L, class = void>
struct HasLaneInit : std::false_type {};
template <class L>
struct HasLaneInit<L, std::void_t<decltype(&L::lane_init)>> : std::true_type {};

// A LaneStep<M> whose rows may live on the heap: where heap(p) > 0, a lane
// group's state rows and, after them, its step's work vectors (heap(p)
// vectors in all, 64-byte aligned, one buffer for a range's groups:
// heap_range) are on the heap and step_heap advances them. Rows that large
// on the stack grew the flattened range's frame past small thread stacks
// (gaussian_loop_lanes.hpp: REPLACE_LANES_MAX_D).
template <class L, class = void>
struct HasHeap : std::false_type {};
template <class L>
struct HasHeap<L, std::void_t<decltype(&L::heap)>> : std::true_type {};

// The lane init of replicas [0, LANES), a function of its own per
// instruction set (noinline: it runs once per group, and inlined into the
// flattened range it added 17 KB to the AVX2 frame, which small thread
// stacks cannot spare).
#define MADSIM_LANE_INIT(NAME, ATTR, AVX2)                                                      \
  template <class M>                                                                            \
  ATTR __attribute__((noinline, flatten)) void NAME(const typename M::Params& p, double* state, \
                                                    int64_t S, u32x2 key, const uint32_t* ids,  \
                                                    double* scratch) {                          \
    vu replica;                                                                                 \
    for (int l = 0; l < LANES; ++l) replica[l] = ids[l];                                        \
    LaneStep<M>::template init<AVX2>(p, state, S, key, replica, ids, scratch);                  \
  }
MADSIM_LANE_INIT(lane_init_avx512, MADSIM_AVX512, 2)
MADSIM_LANE_INIT(lane_init_avx2, MADSIM_AVX2, 1)
MADSIM_LANE_INIT(lane_init_base, , 0)
#undef MADSIM_LANE_INIT

// Replicas [0, GROUPS * LANES): rows state[i * S], records and first
// passages as in cpu::advance. obs and scratch are the thread's. GROUPS = 2
// runs LaneStep<M>::step_pair; HEAP, LaneStep<M>::step_heap on the lane
// rows at heap (HasHeap).
template <class M, int AVX2, int GROUPS, bool HEAP = false>
MADSIM_LANE void advance_lane_group(const typename M::Params& p, double* state, int64_t S,
                                    u32x2 key, const uint32_t* ids, uint32_t gen_begin,
                                    uint32_t gen_end, const Looks& lk, double* records,
                                    int64_t rec_stride, int64_t* first, double* obs,
                                    double* scratch, vd* heap = nullptr) {
  static_assert(!HEAP || GROUPS == 1, "heap rows: one lane group");
  typedef LaneStep<M> L;
  constexpr int N = GROUPS * LANES;
  Looker<M> lookers[N];
  for (int l = 0; l < N; ++l)
    lookers[l].start(p, lk, records + l * rec_stride, first + l * lk.n_det, obs, scratch);
  vu replica[GROUPS];
  for (int l = 0; l < N; ++l) replica[l / LANES][l % LANES] = ids[l];
  if (gen_begin == 0) {
    bool lane_init = false;
    if constexpr (HasLaneInit<L>::value) lane_init = L::lane_init(p);
    for (int g = 0; g < GROUPS; ++g) {
      if constexpr (HasLaneInit<L>::value) {
        if (lane_init) {
          double* rows = state + g * LANES * S;
          if constexpr (AVX2 == 2)
            lane_init_avx512<M>(p, rows, S, key, ids + g * LANES, scratch);
          else if constexpr (AVX2 == 1)
            lane_init_avx2<M>(p, rows, S, key, ids + g * LANES, scratch);
          else
            lane_init_base<M>(p, rows, S, key, ids + g * LANES, scratch);
          continue;
        }
      }
      for (int l = g * LANES; l < (g + 1) * LANES; ++l)
        called(&M::init, p, state + l * S, key, ids[l], scratch);
    }
    for (int l = 0; l < N; ++l) called(&Looker<M>::look, lookers[l], 0, state + l * S);
  }
  const int n = (int)S;  // <= L::STATE (usable(p)) unless HEAP
  std::conditional_t<HEAP, vd* [1], vd[GROUPS][L::STATE]> st;  // st[g][k]: row k of group g
  if constexpr (HEAP) st[0] = heap;
  for (int l = 0; l < N; ++l)
    for (int k = 0; k < n; ++k) st[l / LANES][k][l % LANES] = state[l * S + k];
  // The lookers' record schedules move together (each records the same
  // generations), so lookers[0] says when a record is due; whether any
  // replica still watches a detector is kept, not asked of every looker
  // every generation.
  bool watching = false;
  for (int l = 0; l < N; ++l) watching = watching || lookers[l].watching;
  for (uint64_t t = (uint64_t)gen_begin + 1; t <= gen_end; ++t) {
    if constexpr (HEAP)
      L::template step_heap<AVX2>(p, st[0], key, replica[0], ids, (uint32_t)t, scratch);
    else if constexpr (GROUPS == 2)
      L::template step_pair<AVX2>(p, st[0], st[1], key, replica[0], replica[1], ids, (uint32_t)t,
                                  scratch);
    else
      L::template step<AVX2>(p, st[0], key, replica[0], ids, (uint32_t)t, scratch);
    if (!watching && !lookers[0].wants((uint32_t)t)) continue;
    watching = false;
    for (int l = 0; l < N; ++l) {
      for (int k = 0; k < n; ++k) state[l * S + k] = st[l / LANES][k][l % LANES];
      called(&Looker<M>::look, lookers[l], (uint32_t)t, state + l * S);
      watching = watching || lookers[l].watching;
    }
  }
  for (int l = 0; l < N; ++l)
    for (int k = 0; k < n; ++k) state[l * S + k] = st[l / LANES][k][l % LANES];
}

// Every whole group of LANES replicas in [lo, hi) where the rows are on
// the heap (HasHeap: heap(p) > 0, one buffer for the range's groups);
// returns where the groups end. The launcher calls it in place of the lane
// range: a range of its own, since in the flattened lane range a second
// copy of the step (on heap rows) halved the stack rows' step with AVX2 at
// d = 10 and 16 and grew its frame.
#define MADSIM_HEAP_RANGE(NAME, ATTR, AVX2)                                                       \
  template <class M>                                                                              \
  ATTR __attribute__((flatten)) int64_t NAME(MADSIM_RANGE_ARGS) {                                 \
    /* vectors at 64-byte boundaries (std::vector<vd> gave 16-byte ones) */                       \
    std::vector<double> buf((LaneStep<M>::heap(p) + 1) * LANES);                                  \
    vd* rows = (vd*)(((uintptr_t)buf.data() + 63) & ~(uintptr_t)63);                              \
    int64_t i = lo;                                                                               \
    for (; i + LANES <= hi; i += LANES)                                                           \
      advance_lane_group<M, AVX2, 1, true>(p, state + i * S, S, key, ids + i, gen_begin, gen_end, \
                                           lk, records + i * rec_stride, rec_stride,              \
                                           first + i * lk.n_det, obs, scratch, rows);             \
    return i;                                                                                     \
  }
MADSIM_HEAP_RANGE(heap_range_avx512, MADSIM_AVX512, 2)
MADSIM_HEAP_RANGE(heap_range_avx2, MADSIM_AVX2, 1)
MADSIM_HEAP_RANGE(heap_range_base, , 0)
#undef MADSIM_HEAP_RANGE

// Every whole group of LANES replicas in [lo, hi), two at a time where the
// step pairs them; returns where the groups end (the rest runs the scalar
// driver). Compiled three times, for AVX-512, AVX2 and the portable
// baseline, from the same source.
#define MADSIM_LANE_RANGE(NAME, ATTR, AVX2)                                                      \
  template <class M>                                                                             \
  ATTR __attribute__((flatten)) int64_t NAME(MADSIM_RANGE_ARGS) {                                \
    int64_t i = lo;                                                                              \
    if constexpr (AVX2 == 2 && HasPairs<LaneStep<M>>::value) {                                   \
      if (LaneStep<M>::pairs(p))                                                                 \
        for (; i + 2 * LANES <= hi; i += 2 * LANES)                                              \
          advance_lane_group<M, AVX2, 2>(p, state + i * S, S, key, ids + i, gen_begin, gen_end,  \
                                         lk, records + i * rec_stride, rec_stride,               \
                                         first + i * lk.n_det, obs, scratch);                    \
    }                                                                                            \
    for (; i + LANES <= hi; i += LANES)                                                          \
      advance_lane_group<M, AVX2, 1>(p, state + i * S, S, key, ids + i, gen_begin, gen_end, lk,  \
                                     records + i * rec_stride, rec_stride, first + i * lk.n_det, \
                                     obs, scratch);                                              \
    return i;                                                                                    \
  }
MADSIM_LANE_RANGE(lane_range_avx512, MADSIM_AVX512, 2)
MADSIM_LANE_RANGE(lane_range_avx2, MADSIM_AVX2, 1)
MADSIM_LANE_RANGE(lane_range_base, , 0)
#undef MADSIM_LANE_RANGE

}  // namespace madsim::cpu
