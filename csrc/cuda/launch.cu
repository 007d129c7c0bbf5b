// CUDA launcher: maps replicas onto device threads and nothing else. Each
// thread runs the very same advance_replica<M> (driver.hpp) as the CPU
// launcher, one replica at a time (a grid-stride loop over replicas, so the
// threads in flight, and with them the per-thread observe rows and scratch,
// are bounded by what the device holds at once, not by R). No model math
// here: a family enters only through DeviceTraits (its name, the Params
// fields that point at host arrays, and whether its rows fit in registers).
//
// A call: copy the state rows, replica ids, first passages and the family's
// arrays to the device; run the call's generations in one or more launches
// (gens_per_launch, or as many recorded generations per launch as device
// memory allows); after each launch copy back only that launch's record rows
// [R, n_rec_launch, C] into their place in the host records; at the end copy
// back the state and first passages. Every replica is a pure function of
// (seed, replica id, generations), so block size, slots and launches never
// change a number.
#include <cuda_runtime.h>
#include <stdint.h>
#include <string.h>

#include <algorithm>
#include <string>
#include <vector>

#include "../madsim/models/bigram.hpp"
#include "../madsim/models/categorical.hpp"
#include "../madsim/models/gaussian1d.hpp"
#include "../madsim/models/gaussian_loop.hpp"
#include "../madsim/models/gmm.hpp"
#include "../madsim/models/logistic.hpp"
#include "../madsim/models/regression.hpp"
#include "launch.hpp"

namespace madsim::cuda {

namespace {

void check(cudaError_t e, const char* call) {
  if (e == cudaSuccess) return;
  cudaGetLastError();  // clear a non-sticky error so later calls can go on
  throw Error(std::string("CUDA error in ") + call + ": " + cudaGetErrorString(e) + " (" +
              cudaGetErrorName(e) + ")");
}
#define MADSIM_CUDA_CHECK(call) check((call), #call)

std::string gib(int64_t bytes) {
  char buf[64];
  snprintf(buf, sizeof buf, "%.3f GiB", (double)bytes / (double)((int64_t)1 << 30));
  return buf;
}

// Device memory owned for the length of one call.
template <class T>
struct DeviceArray {
  T* p = nullptr;
  DeviceArray() = default;
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;
  ~DeviceArray() {
    if (p) cudaFree(p);
  }
  void alloc(int64_t n, const char* what) {
    if (n <= 0) return;
    const cudaError_t e = cudaMalloc((void**)&p, (size_t)n * sizeof(T));
    if (e != cudaSuccess) {
      p = nullptr;
      check(
          e,
          (std::string("cudaMalloc (") + what + ", " + gib(n * (int64_t)sizeof(T)) + ")").c_str());
    }
  }
  void upload(const T* host, int64_t n, const char* what) {
    alloc(n, what);
    if (n > 0)
      check(cudaMemcpy(p, host, (size_t)n * sizeof(T), cudaMemcpyHostToDevice),
            (std::string("cudaMemcpy host->device (") + what + ")").c_str());
  }
  void download(T* host, int64_t n, const char* what) const {
    if (n > 0)
      check(cudaMemcpy(host, p, (size_t)n * sizeof(T), cudaMemcpyDeviceToHost),
            (std::string("cudaMemcpy device->host (") + what + ")").c_str());
  }
};

// ---------------------------------------------------------------------------
// DeviceTraits<M>: what the launcher must know of a family, and nothing of
// its math.
//   name                    for messages
//   n_arrays, member(i), length(p, i)
//                           Params fields that point at host arrays of
//                           doubles, and their lengths: the launcher copies
//                           each to the device and hands the kernel a Params
//                           whose fields point there
//   reg_state, reg_observe  > 0: the state row (exactly reg_state doubles) and
//                           observe's row (at most reg_observe) live in
//                           registers, not device memory
template <class M>
struct DeviceTraits;

template <>
struct DeviceTraits<Gaussian1D> {
  using P = Gaussian1D::Params;
  static constexpr const char* name = "Gaussian1D";
  static constexpr int n_arrays = 0;
  static const double* P::* member(int) { return nullptr; }
  static int64_t length(const P&, int) { return 0; }
  static constexpr int reg_state = 2;
  static constexpr int reg_observe = Gaussian1D::METRICS_AT + N_GAUSS_METRICS;
};

template <>
struct DeviceTraits<GaussianLoop> {
  using P = GaussianLoop::Params;
  static constexpr const char* name = "GaussianLoop";
  static constexpr int n_arrays = 3;
  static const double* P::* member(int i) {
    return i == 0 ? &P::truth : i == 1 ? &P::counts : &P::basis;
  }
  static int64_t length(const P& p, int i) {  // basis: PPCA's [d, q] (none when q = 0)
    return i == 0   ? (int64_t)p.d + tri_size(p.d)
           : i == 1 ? 2 * p.n_counts
                    : (int64_t)p.d * p.factors;
  }
  static constexpr int reg_state = 0;
  static constexpr int reg_observe = 0;
};

template <>
struct DeviceTraits<Categorical> {
  using P = Categorical::Params;
  static constexpr const char* name = "Categorical";
  static constexpr int n_arrays = 3;
  static const double* P::* member(int i) {
    return i == 0 ? &P::truth : i == 1 ? &P::rare : &P::counts;
  }
  static int64_t length(const P& p, int i) { return i < 2 ? (int64_t)p.K : 2 * p.n_counts; }
  static constexpr int reg_state = 0;
  static constexpr int reg_observe = 0;
};

template <>
struct DeviceTraits<Bigram> {
  using P = Bigram::Params;
  static constexpr const char* name = "Bigram";
  static constexpr int n_arrays = 5;
  static const double* P::* member(int i) {
    const double* P::* m[] = {&P::truth, &P::truth_cdf, &P::start_cdf, &P::pi0, &P::counts};
    return m[i];
  }
  static int64_t length(const P& p, int i) {
    return i < 2 ? (int64_t)p.K * p.K : i < 4 ? (int64_t)p.K : 2 * p.n_counts;
  }
  static constexpr int reg_state = 0;
  static constexpr int reg_observe = 0;
};

template <>
struct DeviceTraits<GaussianMixture> {
  using P = GaussianMixture::Params;
  static constexpr const char* name = "GaussianMixture";
  static constexpr int n_arrays = 3;
  static const double* P::* member(int i) {
    return i == 0 ? &P::truth : i == 1 ? &P::tails : &P::counts;
  }
  static int64_t length(const P& p, int i) {
    return i == 0 ? GaussianMixture::params_size(p) : i == 1 ? 2 * (int64_t)p.d : 2 * p.n_counts;
  }
  static constexpr int reg_state = 0;
  static constexpr int reg_observe = 0;
};

template <>
struct DeviceTraits<Regression> {
  using P = Regression::Params;
  static constexpr const char* name = "Regression";
  static constexpr int n_arrays = 2;
  static const double* P::* member(int i) { return i == 0 ? &P::truth : &P::counts; }
  static int64_t length(const P& p, int i) {
    return i == 0 ? (int64_t)p.d + tri_size(p.d) + 1 : 2 * p.n_counts;
  }
  static constexpr int reg_state = 0;
  static constexpr int reg_observe = 0;
};

template <>
struct DeviceTraits<Logistic> {
  using P = Logistic::Params;
  static constexpr const char* name = "Logistic";
  static constexpr int n_arrays = 2;
  static const double* P::* member(int i) { return i == 0 ? &P::truth : &P::counts; }
  static int64_t length(const P& p, int i) {
    return i == 0 ? (int64_t)p.d + 2 * tri_size(p.d) : 2 * p.n_counts;
  }
  static constexpr int reg_state = 0;
  static constexpr int reg_observe = 0;
};

// The family's arrays on the device, and a Params that points at them.
template <class M>
struct DeviceParams {
  using Tr = DeviceTraits<M>;
  typename M::Params p;
  DeviceArray<double> arrays[Tr::n_arrays > 0 ? Tr::n_arrays : 1];
  int64_t doubles = 0;

  static int64_t count_doubles(const typename M::Params& host) {
    int64_t n = 0;
    for (int i = 0; i < Tr::n_arrays; ++i) n += Tr::length(host, i);
    return n;
  }
  explicit DeviceParams(const typename M::Params& host) : p(host) {
    for (int i = 0; i < Tr::n_arrays; ++i) {
      const int64_t n = Tr::length(host, i);
      arrays[i].upload(host.*Tr::member(i), n, "family parameter array");
      p.*Tr::member(i) = arrays[i].p;
      doubles += n;
    }
  }
};

// ---------------------------------------------------------------------------
// Kernels.

// One thread per slot; slot s runs replicas s, s + slots, s + 2 slots, ...
// (REG > 0: the state row and observe's row in registers, REG = state size).
template <class M, int REG, int REG_OBS>
__global__ void advance_kernel(const typename M::Params p, double* state, const uint32_t* ids,
                               int64_t R, int64_t S, u32x2 key, uint32_t gen_begin,
                               uint32_t gen_end, Looks lk, double* rec, int64_t rec_row,
                               int64_t* first, double* obs_all, int64_t O, double* scratch_all,
                               int64_t SC, int64_t slots) {
  const int64_t slot = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (slot >= slots) return;
  double* scratch = SC > 0 ? scratch_all + slot * SC : nullptr;
  for (int64_t i = slot; i < R; i += slots) {
    int64_t* fi = lk.n_det > 0 ? first + i * lk.n_det : nullptr;
    double* ri = rec_row > 0 ? rec + i * rec_row : nullptr;
    if constexpr (REG > 0) {
      double st[REG];
      double ob[REG_OBS];
      for (int k = 0; k < REG; ++k) st[k] = state[i * REG + k];
      advance_replica<M>(p, st, key, ids[i], gen_begin, gen_end, lk, ri, fi, ob, scratch);
      for (int k = 0; k < REG; ++k) state[i * REG + k] = st[k];
    } else {
      advance_replica<M>(p, state + i * S, key, ids[i], gen_begin, gen_end, lk, ri, fi,
                         obs_all + slot * O, scratch);
    }
  }
}

__global__ void philox_kat_kernel(const uint32_t* ctr, int64_t n, u32x2 key, uint32_t* out) {
  const int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const u32x4 c = {{ctr[4 * i], ctr[4 * i + 1], ctr[4 * i + 2], ctr[4 * i + 3]}};
  const u32x4 r = philox4x32_10(c, key);
  for (int j = 0; j < 4; ++j) out[4 * i + j] = r.v[j];
}

// Thread t generates blocks (b, 1, TAG_TEST, t), b < blocks, and folds the
// words so the compiler keeps every round; sink is written only on an
// impossible-looking value, so memory traffic does not count.
__global__ void philox_rate_kernel(uint64_t blocks, int64_t threads, u32x2 key, uint32_t* sink) {
  const int64_t t = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (t >= threads) return;
  uint32_t acc = 0;
  for (uint64_t b = 0; b < blocks; ++b) {
    const u32x4 c = {{(uint32_t)b, (uint32_t)(b >> 32) + 1u, (uint32_t)TAG_TEST, (uint32_t)t}};
    const u32x4 r = philox4x32_10(c, key);
    acc ^= r.v[0] ^ r.v[1] ^ r.v[2] ^ r.v[3];
  }
  if (acc == 0x9E3779B9u) sink[0] = acc;
}

// The family's advance kernel (the register variant where its traits ask for it).
template <class M>
auto kernel_of() {
  using Tr = DeviceTraits<M>;
  if constexpr (Tr::reg_state > 0)
    return &advance_kernel<M, Tr::reg_state, Tr::reg_observe>;
  else
    return &advance_kernel<M, 0, 1>;
}

void check_block(int block) {
  if (block < 32 || block > 1024 || block % 32 != 0)
    throw std::invalid_argument("block must be a multiple of 32 in [32, 1024], got " +
                                std::to_string(block));
}

int current_device() {
  int dev = 0;
  MADSIM_CUDA_CHECK(cudaGetDevice(&dev));
  return dev;
}

}  // namespace

// ---------------------------------------------------------------------------

int device_count(std::string* why) {
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    cudaGetLastError();
    if (why) *why = std::string(cudaGetErrorName(e)) + ": " + cudaGetErrorString(e);
    return 0;
  }
  if (n == 0 && why) *why = "no CUDA device is visible";
  return n;
}

RuntimeInfo runtime_info() {
  RuntimeInfo info{};
  cudaRuntimeGetVersion(&info.runtime_version);
  if (cudaDriverGetVersion(&info.driver_version) != cudaSuccess) info.driver_version = 0;
  cudaGetLastError();
  info.device_count = device_count(&info.error);
  if (info.device_count > 0) {
    cudaDeviceProp prop;
    const int dev = current_device();
    MADSIM_CUDA_CHECK(cudaGetDeviceProperties(&prop, dev));
    info.device_name = prop.name;
    info.cc_major = prop.major;
    info.cc_minor = prop.minor;
    info.multiprocessors = prop.multiProcessorCount;
    size_t fr = 0, tot = 0;
    MADSIM_CUDA_CHECK(cudaMemGetInfo(&fr, &tot));
    info.free_bytes = (int64_t)fr;
    info.total_bytes = (int64_t)tot;
  }
  return info;
}

template <class M>
void advance(const typename M::Params& hp, const Chunk& c, double* state,
             const uint32_t* replica_ids, int64_t R, double* records, int64_t* first) {
  using Tr = DeviceTraits<M>;
  check_block(c.block);
  if (R <= 0) return;
  const int64_t S = M::state_size(hp), O = M::observe_size(hp), SC = M::scratch_size(hp);
  const int64_t C = c.n_cols, D = c.n_det;
  const bool reg = Tr::reg_state > 0 && S == Tr::reg_state && O <= Tr::reg_observe;
  if (Tr::reg_state > 0 && !reg)
    throw std::logic_error(std::string(Tr::name) + ": rows do not fit the register layout");
  const int64_t O_dev = reg ? 0 : O;
  const auto kernel = kernel_of<M>();

  std::string why;
  if (device_count(&why) == 0) throw Error("no CUDA device: " + why);
  const int dev = current_device();
  int sms = 0, per_sm = 0;
  MADSIM_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev));
  MADSIM_CUDA_CHECK(cudaDeviceGetAttribute(&per_sm, cudaDevAttrMaxThreadsPerMultiProcessor, dev));
  size_t free_b = 0, total_b = 0;
  MADSIM_CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));

  // Block size: the one asked for, capped at what the kernel's registers
  // allow (a block never changes a number). Threads in flight ("slots"):
  // what the device runs at once at that block size.
  cudaFuncAttributes attr;
  MADSIM_CUDA_CHECK(cudaFuncGetAttributes(&attr, kernel));
  int block = std::min(c.block, attr.maxThreadsPerBlock);
  block = std::max(32, block - block % 32);
  int per_sm_blocks = 0;
  MADSIM_CUDA_CHECK(
      cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm_blocks, kernel, block, 0));
  const int64_t resident = std::max<int64_t>(block, (int64_t)per_sm_blocks * sms * block);
  int64_t slots = std::min<int64_t>(R, resident);
  // Kernel local memory (stack frames), which the runtime reserves for every
  // thread the device can hold: counted, conservatively, as part of the need.
  const int64_t local = (int64_t)attr.localSizeBytes * sms * per_sm;
  const MemoryNeed full =
      memory_need(R, S, O_dev, SC, c.n_rec, C, D, DeviceParams<M>::count_doubles(hp), slots,
                  looks_bytes(c.n_rec, C, D));
  const int64_t avail = (int64_t)free_b - MARGIN_BYTES;
  const int64_t base = full.state + full.ids + full.first + full.arrays + local;
  const int64_t per_rec = 8 * R * C;  // one recorded generation of every replica
  const int64_t per_slot = 8 * (O_dev + SC);
  const int64_t min_slots = std::min<int64_t>(slots, block);
  const int64_t min_recs = min_records(c.gen_begin, c.rec_gens, c.n_rec);  // per launch
  const int64_t min_need = base + min_recs * per_rec + min_slots * per_slot;
  if (min_need > avail) {
    throw OutOfMemory(
        std::string("CUDA device memory: the run needs ") + gib(full.total() + local) + " (state " +
        gib(full.state) + ", records " + gib(full.records) + ", first passages " + gib(full.first) +
        ", observe rows " + gib(full.observe) + ", scratch " + gib(full.scratch) +
        ", parameter arrays " + gib(full.arrays) + ", kernel local memory " + gib(local) +
        "; at least " + gib(min_need) + " with one recorded generation per launch and " +
        std::to_string(min_slots) + " threads in flight) but cudaMemGetInfo reports " +
        gib((int64_t)free_b) + " free of " + gib((int64_t)total_b) + " (" + gib(MARGIN_BYTES) +
        " kept back); run fewer replicas per call, or on the CPU backend");
  }
  if (per_slot > 0) {
    const int64_t room = avail - base - min_recs * per_rec;
    slots = std::min<int64_t>(slots, room / per_slot);
    if (slots >= 32) slots -= slots % 32;
    slots = std::max<int64_t>(slots, min_slots);
  }
  int64_t rec_fit = c.n_rec;
  if (per_rec > 0)
    rec_fit = std::max<int64_t>(min_recs, (avail - base - slots * per_slot) / per_rec);

  const std::vector<Launch> plan =
      launch_plan(c.gen_begin, c.gen_end, c.rec_gens, c.n_rec, c.gens_per_launch, rec_fit);
  int64_t max_nr = 0;
  for (const Launch& l : plan) max_nr = std::max(max_nr, l.nr);

  // Device buffers (freed on return or exception).
  DeviceParams<M> dp(hp);
  DeviceArray<double> d_state, d_rec, d_obs, d_scratch;
  DeviceArray<uint32_t> d_ids, d_gens;
  DeviceArray<int32_t> d_cols;
  DeviceArray<Detector> d_det;
  DeviceArray<int64_t> d_first;
  d_state.upload(state, R * S, "state");
  d_ids.upload(replica_ids, R, "replica ids");
  d_first.upload(first, R * D, "first passages");
  d_gens.upload(c.rec_gens, c.n_rec, "recorded generations");
  d_cols.upload(c.cols, C, "record columns");
  d_det.upload(c.det, D, "detectors");
  d_rec.alloc(R * max_nr * C, "records");
  d_obs.alloc(slots * O_dev, "observe rows");
  d_scratch.alloc(slots * SC, "scratch");

  const Looks lk0{nullptr,
                  0,
                  d_cols.p,
                  C,
                  d_det.p,
                  (int32_t)D,
                  observe_need<M>(hp, c.cols, C, c.det, (int32_t)D),
                  observe_need<M>(hp, nullptr, 0, c.det, (int32_t)D)};
  const u32x2 key = seed_key(c.seed);
  const int64_t grid = (slots + block - 1) / block;
  std::vector<double> staging;
  for (const Launch& l : plan) {
    Looks lk = lk0;
    lk.rec_gens = l.nr > 0 ? d_gens.p + l.r0 : nullptr;
    lk.n_rec = l.nr;
    const int64_t rec_row = l.nr * C;
    kernel<<<(unsigned)grid, block>>>(dp.p, d_state.p, d_ids.p, R, S, key, l.begin, l.end, lk,
                                      d_rec.p, rec_row, d_first.p, d_obs.p, O_dev, d_scratch.p, SC,
                                      slots);
    const std::string what = std::string("advance kernel (") + Tr::name + ")";
    check(cudaGetLastError(), (what + " launch").c_str());
    check(cudaDeviceSynchronize(), (what + " run (cudaDeviceSynchronize)").c_str());
    if (rec_row > 0) {
      // rows [R, l.nr, C] into records[:, rec_offset + l.r0 : ... + l.nr, :]
      double* dst = records + (c.rec_offset + l.r0) * C;
      const size_t width = (size_t)rec_row * 8, dpitch = (size_t)c.rec_total * C * 8;
      if (dpitch == width) {
        check(cudaMemcpy(dst, d_rec.p, width * (size_t)R, cudaMemcpyDeviceToHost),
              "cudaMemcpy device->host (records)");
      } else if (dpitch < ((size_t)1 << 31)) {
        check(cudaMemcpy2D(dst, dpitch, d_rec.p, width, width, (size_t)R, cudaMemcpyDeviceToHost),
              "cudaMemcpy2D device->host (records)");
      } else {
        staging.resize((size_t)(R * rec_row));
        d_rec.download(staging.data(), R * rec_row, "records");
        for (int64_t i = 0; i < R; ++i)
          memcpy(records + (i * c.rec_total + c.rec_offset + l.r0) * C,
                 staging.data() + i * rec_row, width);
      }
    }
  }
  d_state.download(state, R * S, "state");
  d_first.download(first, R * D, "first passages");
}

template void advance<Gaussian1D>(const Gaussian1D::Params&, const Chunk&, double*, const uint32_t*,
                                  int64_t, double*, int64_t*);
template void advance<GaussianLoop>(const GaussianLoop::Params&, const Chunk&, double*,
                                    const uint32_t*, int64_t, double*, int64_t*);
template void advance<Categorical>(const Categorical::Params&, const Chunk&, double*,
                                   const uint32_t*, int64_t, double*, int64_t*);
template void advance<Bigram>(const Bigram::Params&, const Chunk&, double*, const uint32_t*,
                              int64_t, double*, int64_t*);
template void advance<GaussianMixture>(const GaussianMixture::Params&, const Chunk&, double*,
                                       const uint32_t*, int64_t, double*, int64_t*);
template void advance<Regression>(const Regression::Params&, const Chunk&, double*, const uint32_t*,
                                  int64_t, double*, int64_t*);
template void advance<Logistic>(const Logistic::Params&, const Chunk&, double*, const uint32_t*,
                                int64_t, double*, int64_t*);

void philox_device(const uint32_t* ctr, int64_t n, const uint32_t key[2], uint32_t* out) {
  if (n <= 0) return;
  std::string why;
  if (device_count(&why) == 0) throw Error("no CUDA device: " + why);
  DeviceArray<uint32_t> d_ctr, d_out;
  d_ctr.upload(ctr, 4 * n, "counters");
  d_out.alloc(4 * n, "blocks");
  const u32x2 k = {{key[0], key[1]}};
  philox_kat_kernel<<<(unsigned)((n + 127) / 128), 128>>>(d_ctr.p, n, k, d_out.p);
  check(cudaGetLastError(), "philox kernel launch");
  check(cudaDeviceSynchronize(), "philox kernel run (cudaDeviceSynchronize)");
  d_out.download(out, 4 * n, "blocks");
}

double philox_seconds_device(uint64_t blocks_per_thread, int64_t threads, int block) {
  check_block(block);
  if (threads <= 0) throw std::invalid_argument("threads must be >= 1");
  std::string why;
  if (device_count(&why) == 0) throw Error("no CUDA device: " + why);
  DeviceArray<uint32_t> sink;
  sink.alloc(1, "sink");
  cudaEvent_t t0, t1;
  MADSIM_CUDA_CHECK(cudaEventCreate(&t0));
  MADSIM_CUDA_CHECK(cudaEventCreate(&t1));
  const u32x2 key = {{0x243F6A88u, 0x85A308D3u}};
  const unsigned grid = (unsigned)((threads + block - 1) / block);
  float ms = 0.0f;
  try {
    philox_rate_kernel<<<grid, block>>>(1, threads, key, sink.p);  // warm-up
    check(cudaGetLastError(), "philox rate kernel launch");
    MADSIM_CUDA_CHECK(cudaEventRecord(t0));
    philox_rate_kernel<<<grid, block>>>(blocks_per_thread, threads, key, sink.p);
    check(cudaGetLastError(), "philox rate kernel launch");
    MADSIM_CUDA_CHECK(cudaEventRecord(t1));
    MADSIM_CUDA_CHECK(cudaEventSynchronize(t1));
    MADSIM_CUDA_CHECK(cudaEventElapsedTime(&ms, t0, t1));
  } catch (...) {
    cudaEventDestroy(t0);
    cudaEventDestroy(t1);
    throw;
  }
  cudaEventDestroy(t0);
  cudaEventDestroy(t1);
  return ms * 1e-3;
}

}  // namespace madsim::cuda
