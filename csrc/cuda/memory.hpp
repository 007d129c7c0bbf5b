// Device memory a CUDA advance call needs, and how a call's generations are
// split into kernel launches: pure arithmetic and host code, compiled into
// _core with or without CUDA (madsim._core.cuda_memory_estimate and
// cuda_launch_plan, tested on machines without a GPU). The launcher
// (launch.cu) sizes its buffers with exactly these formulas and refuses a
// call whose minimum does not fit in the free memory cudaMemGetInfo reports
// (less MARGIN_BYTES).
#pragma once
#include <stdint.h>

#include <vector>

namespace madsim::cuda {

// Left free for the runtime's own allocations (kernel local memory, the
// printf/heap buffers, fragmentation).
constexpr int64_t MARGIN_BYTES = (int64_t)64 << 20;

struct MemoryNeed {
  int64_t state;    // R x S doubles: the replicas' state rows (resident for the call)
  int64_t ids;      // R uint32 replica ids
  int64_t records;  // R x n_rec x C doubles: one launch's recorded rows
  int64_t first;    // R x n_det int64: detectors' first passages
  int64_t observe;  // slots x O doubles (0 when observe's row lives in registers)
  int64_t scratch;  // slots x scratch_size doubles
  int64_t arrays;   // the family's parameter arrays (truth, counts, ...) and the looks
  int64_t total() const { return state + ids + records + first + observe + scratch + arrays; }
};

// R replicas of state_size doubles; n_rec recorded generations per launch of
// n_cols columns; n_det detectors; slots threads in flight (each with its own
// observe row and scratch; observe_size 0 when the launcher keeps that row in
// registers); array_doubles: the family's parameter arrays; n_looks_bytes:
// rec_gens, columns and detectors.
inline MemoryNeed memory_need(int64_t R, int64_t state_size, int64_t observe_size,
                              int64_t scratch_size, int64_t n_rec, int64_t n_cols, int64_t n_det,
                              int64_t array_doubles, int64_t slots, int64_t n_looks_bytes) {
  MemoryNeed m;
  m.state = 8 * R * state_size;
  m.ids = 4 * R;
  m.records = 8 * R * n_rec * n_cols;
  m.first = 8 * R * n_det;
  m.observe = 8 * slots * observe_size;
  m.scratch = 8 * slots * scratch_size;
  m.arrays = 8 * array_doubles + n_looks_bytes;
  return m;
}

inline int64_t looks_bytes(int64_t n_rec, int64_t n_cols, int64_t n_det) {
  return 4 * n_rec + 4 * n_cols +
         16 * n_det;  // uint32 gens, int32 columns, Detector {int, int, double}
}

// One kernel launch: generations begin+1 .. end (init and generation 0 too
// when begin == 0), recording rec_gens[r0 .. r0 + nr).
struct Launch {
  uint32_t begin, end;
  int64_t r0, nr;
};

// The launches of one call (gen_begin, gen_end]: at most gens_per_launch
// generations each (0: no limit) and at most rec_fit recorded generations
// each (what device memory holds). A launch from generation 0 re-runs
// init, so only the first launch may start there: when the call records
// generation 0 the first launch also takes the next record (rec_fit is
// raised to 2 for it; min_records says so to the memory check).
inline int64_t min_records(uint32_t gen_begin, const uint32_t* rec_gens, int64_t n_rec) {
  if (n_rec <= 0) return 0;
  return gen_begin == 0 && n_rec > 1 && rec_gens[0] == 0 ? 2 : 1;
}

inline std::vector<Launch> launch_plan(uint32_t gen_begin, uint32_t gen_end,
                                       const uint32_t* rec_gens, int64_t n_rec,
                                       uint32_t gens_per_launch, int64_t rec_fit) {
  std::vector<Launch> plan;
  const int64_t floor = min_records(gen_begin, rec_gens, n_rec);
  if (rec_fit < floor) rec_fit = floor;
  const uint64_t g = gens_per_launch ? gens_per_launch : 0xFFFFFFFFull;
  uint32_t gen = gen_begin;
  int64_t r = 0;
  while (true) {
    uint32_t end = (uint32_t)((uint64_t)gen + g < gen_end ? (uint64_t)gen + g : gen_end);
    int64_t hi = r;  // records of (gen, end], or [0, end] in the launch from 0
    while (hi < n_rec && rec_gens[hi] <= end) ++hi;
    if (hi - r > rec_fit) {
      hi = r + rec_fit;
      end = rec_gens[hi - 1];
    }
    plan.push_back(Launch{gen, end, r, hi - r});
    r = hi;
    gen = end;
    if (gen >= gen_end) break;
  }
  return plan;
}

}  // namespace madsim::cuda
