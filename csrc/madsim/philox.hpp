// Philox4x32-10 (Salmon, Moraes, Dror, Shaw, "Parallel random numbers: as easy
// as 1, 2, 3", SC 2011): a counter-based generator, value = f(counter, key).
// Checked against Random123's known-answer vectors (tests/kat.py) on every
// backend.
#pragma once
#include "hd.hpp"

namespace madsim {

struct u32x4 {
  uint32_t v[4];
};
struct u32x2 {
  uint32_t v[2];
};

namespace philox_const {
constexpr uint32_t M0 = 0xD2511F53u, M1 = 0xCD9E8D57u;  // round multipliers
constexpr uint32_t W0 = 0x9E3779B9u, W1 = 0xBB67AE85u;  // Weyl key bumps
}  // namespace philox_const

MADSIM_HD u32x4 philox_round(u32x4 c, u32x2 k) {
  const uint64_t p0 = (uint64_t)philox_const::M0 * c.v[0];
  const uint64_t p1 = (uint64_t)philox_const::M1 * c.v[2];
  u32x4 out;
  out.v[0] = (uint32_t)(p1 >> 32) ^ c.v[1] ^ k.v[0];
  out.v[1] = (uint32_t)p1;
  out.v[2] = (uint32_t)(p0 >> 32) ^ c.v[3] ^ k.v[1];
  out.v[3] = (uint32_t)p0;
  return out;
}

// Ten rounds, the key bumped between consecutive rounds (nine bumps).
MADSIM_HD u32x4 philox4x32_10(u32x4 ctr, u32x2 key) {
  for (int r = 0; r < 10; ++r) {
    if (r > 0) {
      key.v[0] += philox_const::W0;
      key.v[1] += philox_const::W1;
    }
    ctr = philox_round(ctr, key);
  }
  return ctr;
}

}  // namespace madsim
