// The physical limit for benchmarks: raw Philox4x32-10 blocks per second on
// `threads` threads, each generating `blocks` blocks of its own counter range
// (XOR-folded into a sink so the compiler cannot drop the work). lanes = true
// times the SIMD generator the lane launcher uses (lanes.hpp, in the lane
// mode lane_mode() picks), LANES blocks per call.
#pragma once
#include <chrono>
#include <thread>
#include <vector>

#include "../madsim/philox.hpp"
#include "lanes.hpp"

namespace madsim::cpu {

inline uint32_t philox_scalar_work(uint64_t blocks, int k) {
  const u32x2 key = {{0x12345678u, (uint32_t)k}};
  uint32_t acc = 0;
  for (uint64_t b = 0; b < blocks; ++b) {
    const u32x4 c = {{(uint32_t)b, (uint32_t)(b >> 32), 7u, (uint32_t)k}};
    const u32x4 r = philox4x32_10(c, key);
    acc ^= r.v[0] ^ r.v[1] ^ r.v[2] ^ r.v[3];
  }
  return acc;
}

#define MADSIM_PHILOX_LANES_WORK(NAME, ATTR, AVX2)                                    \
  ATTR __attribute__((flatten)) inline uint32_t NAME(uint64_t blocks, int k) {        \
    const u32x2 key = {{0x12345678u, (uint32_t)k}};                                   \
    vu acc = VecOps::splat_u(0);                                                      \
    for (uint64_t b = 0; b < blocks; b += LANES) {                                    \
      vu w[4];                                                                        \
      stream_blocks<AVX2>(key, (uint32_t)b, (uint32_t)(b >> 32), VecOps::splat_u(7u), \
                          VecOps::splat_u((uint32_t)k) + lane_index(), w);            \
      acc ^= w[0] ^ w[1] ^ w[2] ^ w[3];                                               \
    }                                                                                 \
    uint32_t out = 0;                                                                 \
    for (int l = 0; l < LANES; ++l) out ^= (uint32_t)acc[l];                          \
    return out;                                                                       \
  }
MADSIM_PHILOX_LANES_WORK(philox_lanes_work_avx512, MADSIM_AVX512, 2)
MADSIM_PHILOX_LANES_WORK(philox_lanes_work_avx2, MADSIM_AVX2, 1)
MADSIM_PHILOX_LANES_WORK(philox_lanes_work_base, , false)
#undef MADSIM_PHILOX_LANES_WORK

inline double philox_seconds(uint64_t blocks, int threads, bool lanes = false) {
  std::vector<uint32_t> sink(threads > 0 ? threads : 1, 0);
  const LaneMode mode = lane_mode();
  auto work = [&](int k) {
    if (!lanes)
      sink[k] = philox_scalar_work(blocks, k);
    else
      sink[k] = MADSIM_BY_MODE(mode, philox_lanes_work_avx512, philox_lanes_work_avx2,
                               philox_lanes_work_base)(blocks, k);
  };
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> pool;
  for (int k = 0; k < threads; ++k) pool.emplace_back(work, k);
  for (auto& th : pool) th.join();
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  volatile uint32_t keep = 0;
  for (uint32_t v : sink) keep = keep ^ v;
  (void)keep;
  return s;
}

}  // namespace madsim::cpu
