// CUDA launcher, host-side interface. launch.cu (compiled by nvcc) defines
// these; csrc/bindings/ (compiled by the host compiler) calls them, so pybind11
// never passes through nvcc. Present only when madsim is built with CUDA
// (MADSIM_WITH_CUDA); memory.hpp's arithmetic is always there.
//
// Every CUDA call is checked: a failure throws Error ("<call>: <cudaGetErrorString>"),
// which csrc/bindings/module.cpp turns into RuntimeError; a run whose device memory would
// not fit throws OutOfMemory (MemoryError) before anything is allocated.
#pragma once
#include <stdexcept>
#include <string>

#include "../madsim/driver.hpp"
#include "memory.hpp"

namespace madsim::cuda {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};
struct OutOfMemory : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Visible CUDA devices; 0 (and why: the runtime's message) when there is no
// driver or no device. Never throws.
int device_count(std::string* why);

struct RuntimeInfo {
  int runtime_version;  // cudaRuntimeGetVersion (the static runtime linked in)
  int driver_version;   // cudaDriverGetVersion; 0 without a driver
  int device_count;
  std::string error;  // why device_count is 0, if it is
  std::string device_name;
  int cc_major, cc_minor, multiprocessors;
  int64_t free_bytes, total_bytes;  // cudaMemGetInfo of device 0; 0 without one
};
RuntimeInfo runtime_info();

// One call: generations gen_begin+1 .. gen_end of R replicas, as
// cpu::advance (same arguments, same layout of state/records/first).
struct Chunk {
  uint64_t seed;
  uint32_t gen_begin, gen_end;
  const uint32_t* rec_gens;  // [n_rec] generations recorded in this call (host)
  int64_t n_rec;
  int64_t rec_offset;   // index of rec_gens[0] in the run's record axis
  int64_t rec_total;    // length of the run's record axis
  const int32_t* cols;  // [n_cols] (host)
  int64_t n_cols;
  const Detector* det;  // [n_det] (host)
  int32_t n_det;
  int block;                 // threads per block (any value in [32, 1024], a multiple of 32)
  uint32_t gens_per_launch;  // generations per kernel launch (0: the whole call, or
                             // fewer when one launch's records would not fit)
};

// state [R, S], replica_ids [R], records [R, rec_total, n_cols], first [R, n_det]:
// host arrays, copied in and out.
template <class M>
void advance(const typename M::Params& p, const Chunk& c, double* state,
             const uint32_t* replica_ids, int64_t R, double* records, int64_t* first);

// Known-answer check on the device: out[i] = philox4x32_10(ctr[i], key), n blocks.
void philox_device(const uint32_t* ctr, int64_t n, const uint32_t key[2], uint32_t* out);

// Seconds (CUDA events) for `threads` device threads to generate
// `blocks_per_thread` Philox blocks each (the device's raw RNG rate: the
// limit of a kernel that needs one block per replica-generation).
double philox_seconds_device(uint64_t blocks_per_thread, int64_t threads, int block);

}  // namespace madsim::cuda
