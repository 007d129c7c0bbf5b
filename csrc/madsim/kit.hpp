// Where a family's step takes its bulk draws from: ScalarKit on every
// backend; the CPU launcher passes cpu::LaneKit (csrc/cpu/lane_kit.hpp), which
// computes the same numbers several blocks or streams at a time in SIMD lanes.
// A step templated over the kit (GaussianLoop, Categorical) runs either with
// the same results bit for bit.
#pragma once
#include "samplers.hpp"
#include "stream.hpp"

namespace madsim {

// Normal i of a stream in order (normals_of_block), two per Philox block.
struct NormalSeq {
  Stream st;
  uint64_t i;
  double spare;
  MADSIM_HD double next() {
    double z;
    if (i & 1) {
      z = spare;
    } else {
      normals_of_block(st.block((uint32_t)(i >> 1)), z, spare);
    }
    ++i;
    return z;
  }
};

MADSIM_HD NormalSeq normal_seq(const Stream& s) {
  NormalSeq q;
  q.st = s;
  q.i = 0;
  q.spare = 0.0;
  return q;
}

// The token of an alias-table draw x = u S (u uniform on (0, 1)) from a
// table of S columns (Categorical::alias_table): column i = floor(x) (u S
// rounded up to S is column S - 1), its token tok[i] (i where tok is null:
// full support) kept when x - i < prob[i], else alias[i]. x >= 0, so
// truncation is the floor; both
// candidates are loaded and one picked by a mask, not a branch: the coin is
// a fair guess for the branch predictor, and a mispredicted branch per token
// cost as much as the rest of the draw.
MADSIM_HD int64_t alias_pick(double x, int64_t S, const double* prob, const double* tok,
                             const double* alias) {
  int64_t i = (int64_t)x;
  i = i < S - 1 ? i : S - 1;
  const int64_t t = tok ? (int64_t)tok[i] : i, a = (int64_t)alias[i];
  const int64_t keep = -(int64_t)(x - (double)i < prob[i]);  // all ones or zero
  return (t & keep) | (a & ~keep);
}

// Tokens j = j0 (even) .. want - 1 through an alias table of S columns:
// c[token] += 1, token j from uniform52 of words (0,1) (j even) or (2,3)
// (j odd) of block j / 2 of st.
MADSIM_HD void alias_tokens_from(int64_t S, uint64_t j0, uint64_t want, const double* prob,
                                 const double* tok, const double* alias, double* c,
                                 const Stream& st) {
  const double Sd = (double)S;
  uint64_t j = j0;
  for (; j + 2 <= want; j += 2) {
    const u32x4 w = st.block((uint32_t)(j >> 1));
    c[alias_pick(uniform52(w.v[0], w.v[1]) * Sd, S, prob, tok, alias)] += 1.0;
    c[alias_pick(uniform52(w.v[2], w.v[3]) * Sd, S, prob, tok, alias)] += 1.0;
  }
  if (j < want) {
    const u32x4 w = st.block((uint32_t)(j >> 1));
    c[alias_pick(uniform52(w.v[0], w.v[1]) * Sd, S, prob, tok, alias)] += 1.0;
  }
}

//   Normals normals(s, hint)   normal i of s in order, through next() and i
//                              (hint: about how many will be taken)
//   chisquares(...)            out[i] = chi-square(nu - i) of the stream at
//                              site first_site + i, i < count
//   alias_tokens(...)          alias_tokens_from(S, 0, want, ...)
struct ScalarKit {
  typedef NormalSeq Normals;
  MADSIM_HD static Normals normals(const Stream& s, uint64_t) { return normal_seq(s); }
  MADSIM_HD static void chisquares(u32x2 key, uint32_t replica, uint32_t gen, uint32_t tag,
                                   uint32_t first_site, double nu, int count, double* out) {
    for (int i = 0; i < count; ++i) {
      double spare;
      uint32_t tries;
      out[i] = chisquare(nu - i, make_stream(key, replica, gen, tag, first_site + i), spare, tries);
    }
  }
  MADSIM_HD static void alias_tokens(int64_t S, uint64_t want, const double* prob,
                                     const double* tok, const double* alias, double* c,
                                     const Stream& st) {
    alias_tokens_from(S, 0, want, prob, tok, alias, c, st);
  }
};

}  // namespace madsim
