// The physical limit for benchmarks: raw Philox4x32-10 blocks per second on
// `threads` threads, each generating `blocks` blocks of its own counter range
// (XOR-folded into a sink so the compiler cannot drop the work).
#pragma once
#include <chrono>
#include <thread>
#include <vector>
#include "../madsim/philox.hpp"

namespace madsim::cpu {

inline double philox_seconds(uint64_t blocks, int threads) {
  std::vector<uint32_t> sink(threads > 0 ? threads : 1, 0);
  auto work = [&](int k) {
    const u32x2 key = {{0x12345678u, (uint32_t)k}};
    uint32_t acc = 0;
    for (uint64_t b = 0; b < blocks; ++b) {
      const u32x4 c = {{(uint32_t)b, (uint32_t)(b >> 32), 7u, (uint32_t)k}};
      const u32x4 r = philox4x32_10(c, key);
      acc ^= r.v[0] ^ r.v[1] ^ r.v[2] ^ r.v[3];
    }
    sink[k] = acc;
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
