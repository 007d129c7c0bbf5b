// The kit (madsim/kit.hpp) on SIMD lanes for the CPU launcher: the same
// numbers as ScalarKit, several blocks or streams of one replica's step at a
// time (the launcher: lane_driver.hpp's KitStep).
#pragma once
#include "../madsim/kit.hpp"
#include "lane_driver.hpp"

namespace madsim::cpu {

// The normals of one stream in order (as NormalSeq), LANES blocks at a time;
// a stream expected to give fewer than 2 LANES normals is drawn one block at
// a time (a refill would mostly be wasted).
template <int AVX2>
struct LaneNormals {
  Stream st;
  uint64_t i;     // normals handed out
  uint64_t base;  // index of buf[0]
  int have;       // valid entries of buf
  bool single;
  double buf[2 * LANES];
  MADSIM_LANE double next() {
    if (i - base >= (uint64_t)have) refill();
    return buf[i++ - base];
  }
  MADSIM_LANE void refill() {
    base = i;  // even: refills happen at multiples of 2 (one block, 2 normals)
    const uint32_t b = (uint32_t)(i >> 1);
    if (single) {
      normals_of_block(st.block(b), buf[0], buf[1]);
      have = 2;
      return;
    }
    vu w[4];
    stream_run<AVX2>(st, b, w);
    vd c, s;
    normal_pair_t<VecOps>(uniform52_t<VecOps>(w[0], w[1]), uniform52_t<VecOps>(w[2], w[3]), c, s);
    for (int l = 0; l < LANES; ++l) {
      buf[2 * l] = c[l];
      buf[2 * l + 1] = s[l];
    }
    have = 2 * LANES;
  }
};

// alias_tokens_from (kit.hpp), LANES blocks (2 LANES tokens) at a time:
// Philox and the uniforms in lanes, the table lookups per token; counts do
// not depend on the order tokens are added in. Functions of their own (not
// inlined into the step): inlined, GCC left the AVX2 Philox product out of
// line and passed every vector through the stack (3x slower than scalar).
#define MADSIM_ALIAS_TOKENS(NAME, ATTR, AVX2)                                               \
  ATTR __attribute__((flatten, noinline)) inline void NAME(                                 \
      int64_t S, uint64_t want, const double* prob, const double* tok, const double* alias, \
      double* c, const Stream& st) {                                                        \
    const vd Sd = VecOps::splat((double)S);                                                 \
    uint64_t j = 0;                                                                         \
    for (; j + 2 * LANES <= want; j += 2 * LANES) {                                         \
      vu w[4];                                                                              \
      stream_run<AVX2>(st, (uint32_t)(j >> 1), w);                                          \
      alignas(64) double x[2 * LANES];                                                      \
      *(vd*)x = uniform52_t<VecOps>(w[0], w[1]) * Sd;                                       \
      *(vd*)(x + LANES) = uniform52_t<VecOps>(w[2], w[3]) * Sd;                             \
      for (int l = 0; l < 2 * LANES; ++l) c[alias_pick(x[l], S, prob, tok, alias)] += 1.0;  \
    }                                                                                       \
    alias_tokens_from(S, j, want, prob, tok, alias, c, st); /* the last < 2 LANES */        \
  }
MADSIM_ALIAS_TOKENS(alias_tokens_avx512, MADSIM_AVX512, 2)
MADSIM_ALIAS_TOKENS(alias_tokens_avx2, MADSIM_AVX2, 1)
MADSIM_ALIAS_TOKENS(alias_tokens_base, , 0)
#undef MADSIM_ALIAS_TOKENS

// The kit (madsim/kit.hpp::ScalarKit) on SIMD lanes:
// normals LANES blocks at a time, chi-squares LANES sites at a time (the
// first Marsaglia-Tsang try of each in lanes; a rejected try, or alpha < 1,
// reruns that site's scalar chisquare; fewer than LANES / 2 sites left run
// ScalarKit's loop).
template <int AVX2>
struct LaneKit {
  typedef LaneNormals<AVX2> Normals;
  MADSIM_LANE static Normals normals(const Stream& s, uint64_t hint) {
    Normals q;
    q.st = s;
    q.i = q.base = 0;
    q.have = 0;
    q.single = hint < 2 * LANES;  // less than one refill's worth: block by block
    return q;
  }
  MADSIM_LANE static void chisquares(u32x2 key, uint32_t replica, uint32_t gen, uint32_t tag,
                                     uint32_t first_site, double nu, int count, double* out) {
    int g = 0;
    // Lanes for groups at least half full; a few sites cost less in scalar code.
    for (; count - g >= LANES / 2; g += LANES) {
      vu stream;
      vd d, c;
      bool boost[LANES];  // alpha < 1: gamma_mt's boosted path, left to the scalar code
      for (int l = 0; l < LANES; ++l) {
        const int i = g + l < count ? g + l : count - 1;  // spare lanes repeat the last
        const double alpha = 0.5 * (nu - i);              // chisquare(k) = 2 gamma_mt(k / 2)
        boost[l] = alpha < 1.0;
        stream[l] = make_stream(key, replica, gen, tag, first_site + i).stream;
        d[l] = alpha - 1.0 / 3.0;
      }
      c = 1.0 / VecOps::sqrt(9.0 * d);
      vu w[4];
      stream_blocks<AVX2>(key, 0, gen, stream, VecOps::splat_u(replica), w);
      vd x, spare, v1, v, u, value;
      vu accepted;
      gamma_try_t<VecOps>(d, c, w[0], w[1], w[2], w[3], x, spare, v1, v, u, value, accepted);
      bool all = true;
      for (int l = 0; l < LANES; ++l) all = all && accepted[l];
      if (!all) accepted |= gamma_accept_t<VecOps>(d, x, v1, v, u);
      const vd chi2 = 2.0 * value;
      for (int l = 0; l < LANES && g + l < count; ++l) {
        const Stream s = make_stream(key, replica, gen, tag, first_site + g + l);
        if (accepted[l] && !boost[l]) {
          out[g + l] = chi2[l];
        } else if (boost[l]) {
          double sp;
          uint32_t tries;
          out[g + l] = called(&chisquare, nu - (g + l), s, sp, tries);
        } else {
          out[g + l] = called(&chisquare_after_first, nu - (g + l), s);
        }
      }
    }
    if (g < count)
      called(&ScalarKit::chisquares, key, replica, gen, tag, first_site + g, nu - g, count - g,
             out + g);
  }
  // Tokens through an alias table (alias_tokens_from below).
  MADSIM_LANE static void alias_tokens(int64_t S, uint64_t want, const double* prob,
                                       const double* tok, const double* alias, double* c,
                                       const Stream& st) {
    (AVX2 == 2 ? alias_tokens_avx512
     : AVX2    ? alias_tokens_avx2
               : alias_tokens_base)(S, want, prob, tok, alias, c, st);
  }
};

}  // namespace madsim::cpu
