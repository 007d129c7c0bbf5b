// A uniform subset without replacement of a pool of counted classes: the
// pool holds pool[i] items of class i; picking n of them (all of them when
// the pool holds at most n) gives how many of each class were picked. Pooled
// items of one class are exchangeable (a token of the categorical model, a
// transition (i, j) of the bigram model), so this is the subsample of the
// pool itself, drawn from its counts alone.
#pragma once
#include <math.h>

#include "samplers.hpp"
#include "stream.hpp"

namespace madsim {

// Pick j takes the floor(u_j * left)-th of the items left (u_j: uniform52 of
// words (0, 1) of block j of st), found in a Fenwick tree of the class counts
// (O(log M) per pick). out: [M] picked counts; w: M + 1 scratch. Returns the
// number picked.
MADSIM_HD double draw_subset(const double* pool, int64_t M, double n, double* out, double* w,
                             const Stream& st) {
  double size = 0.0;
  for (int64_t i = 0; i < M; ++i) size += pool[i];
  if (size <= n) {
    for (int64_t i = 0; i < M; ++i) out[i] = pool[i];
    return size;
  }
  // Fenwick tree (1-based) over the class counts
  for (int64_t i = 1; i <= M; ++i) w[i] = pool[i - 1];
  for (int64_t i = 1; i <= M; ++i) {
    const int64_t up = i + (i & -i);
    if (up <= M) w[up] += w[i];
  }
  int64_t top = 1;
  while (top * 2 <= M) top *= 2;
  for (int64_t i = 0; i < M; ++i) out[i] = 0.0;
  double left = size;
  const uint64_t want = (uint64_t)n;
  for (uint64_t j = 0; j < want; ++j, left -= 1.0) {
    const u32x4 b = st.block((uint32_t)j);
    double r = floor(uniform52(b.v[0], b.v[1]) * left);
    if (r > left - 1.0) r = left - 1.0;
    // the class holding item r (0-based) of those left: the first i with prefix(i + 1) > r
    int64_t pos = 0;
    for (int64_t step = top; step > 0; step >>= 1)
      if (pos + step <= M && w[pos + step] <= r) {
        pos += step;
        r -= w[pos];
      }
    for (int64_t i = pos + 1; i <= M; i += i & -i) w[i] -= 1.0;
    out[pos] += 1.0;
  }
  return (double)want;
}

// Floyd's uniform n-subset of the indices 0..size-1 (n <= size), in pick
// order: pick c (j = size - n + c) takes r = floor(u_c (j + 1)) (u_c:
// uniform52 of words (0, 1) of block c of st), or j when r is already taken
// (O(n^2) lookups). pick: [n] indices as doubles. For pools of distinct
// items (points, rows), where draw_subset's class counts do not apply.
MADSIM_HD void floyd_subset(int64_t size, int64_t n, const Stream& st, double* pick) {
  for (int64_t j = size - n, c = 0; j < size; ++j, ++c) {
    const u32x4 b = st.block((uint32_t)c);
    double r = floor(uniform52(b.v[0], b.v[1]) * (double)(j + 1));
    if (r > (double)j) r = (double)j;
    for (int64_t q = 0; q < c; ++q)
      if (pick[q] == r) {
        r = (double)j;
        break;
      }
    pick[c] = r;
  }
}

}  // namespace madsim
