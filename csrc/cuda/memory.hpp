// Device memory a CUDA advance call needs: pure arithmetic, compiled into
// _core with or without CUDA (madsim._core.cuda_memory_estimate, tested on
// machines without a GPU). The launcher (launch.cu) sizes its buffers with
// exactly these formulas and refuses a call whose total does not fit in the
// free memory cudaMemGetInfo reports (less MARGIN).
#pragma once
#include <stdint.h>

namespace madsim::cuda {

// Left free for the runtime's own allocations (kernel local memory, the
// printf/heap buffers, fragmentation).
constexpr int64_t MARGIN_BYTES = (int64_t)64 << 20;

struct MemoryNeed {
  int64_t state;     // R x S doubles: the replicas' state rows (resident for the call)
  int64_t ids;       // R uint32 replica ids
  int64_t records;   // R x n_rec x C doubles: one launch's recorded rows
  int64_t first;     // R x n_det int64: detectors' first passages
  int64_t observe;   // slots x O doubles (0 when observe's row lives in registers)
  int64_t scratch;   // slots x scratch_size doubles
  int64_t arrays;    // the family's parameter arrays (truth, counts, ...) and the looks
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
  return 4 * n_rec + 4 * n_cols + 16 * n_det;  // uint32 gens, int32 columns, Detector {int, int, double}
}

}  // namespace madsim::cuda
