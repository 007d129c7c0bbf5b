// SIMD lanes for the CPU launcher: LANES replicas (or LANES blocks of one
// stream) computed together in GCC vector types, which compile to SSE2 in the
// portable build, to AVX2 inside functions marked MADSIM_AVX2 and to AVX-512
// (one 512-bit register per vector) inside functions marked MADSIM_AVX512
// (chosen at run time by lane_mode()). The math is the templates of the core headers
// (detmath.hpp, transforms.hpp, samplers.hpp) instantiated with VecOps instead
// of ScalarOps: the same IEEE operations in the same order (no FMA:
// -ffp-contract=off), so a lane computes exactly the bits the scalar code
// does, and the instruction set changes no number.
#pragma once
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <functional>
#include <utility>

#include "../madsim/philox.hpp"
#include "../madsim/samplers.hpp"
#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace madsim::cpu {

// 8 lanes: two AVX2 registers per vector, whose independent halves hide the
// latency of the long dependency chains (log, sincos); 4 measured the same on
// the 1-D exact path and ~15% slower on the samples path.
#ifndef MADSIM_LANES_WIDTH
#define MADSIM_LANES_WIDTH 8
#endif
constexpr int LANES = MADSIM_LANES_WIDTH;
typedef double vd __attribute__((vector_size(8 * LANES)));
typedef uint64_t vu __attribute__((vector_size(8 * LANES)));

#if defined(__x86_64__)
#define MADSIM_AVX2 __attribute__((target("avx2")))
// The AVX2 templates (mul32<true>) compiled with AVX-512 on: GCC's vector
// operations on 8 doubles become single 512-bit instructions.
#define MADSIM_AVX512 __attribute__((target("avx2,avx512f,avx512dq,avx512vl")))
inline bool cpu_has_avx2() { return __builtin_cpu_supports("avx2"); }
inline bool cpu_has_avx512() {
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
         __builtin_cpu_supports("avx512vl");
}
#else
#define MADSIM_AVX2
#define MADSIM_AVX512
inline bool cpu_has_avx2() { return false; }
inline bool cpu_has_avx512() { return false; }
#endif

// Which lanes the launcher uses: the environment variable MADSIM_LANES =
// "off" (scalar code only), "baseline" (lanes without AVX2) or "avx2" (no
// AVX-512) overrides the default (the widest of AVX-512, AVX2 and baseline
// the CPU has), for tests that compare them and benchmarks that time them;
// no setting changes a number (IEEE operations in the same order, no FMA).
enum LaneMode { LANES_OFF = 0, LANES_BASELINE = 1, LANES_AVX2 = 2, LANES_AVX512 = 3 };
inline LaneMode lane_mode() {
  const char* e = getenv("MADSIM_LANES");
  if (e && strcmp(e, "off") == 0) return LANES_OFF;
  if ((e && strcmp(e, "baseline") == 0) || !cpu_has_avx2()) return LANES_BASELINE;
  if ((e && strcmp(e, "avx2") == 0) || !cpu_has_avx512()) return LANES_AVX2;
  return LANES_AVX512;
}
inline bool has_avx2() { return lane_mode() >= LANES_AVX2; }

// A lane function's copy for the mode: AVX512, AVX2 or BASE (the three
// copies of a MADSIM_*_RANGE-style macro). Off x86 the three would compile to
// the same code and the mode is always the baseline: only BASE is named, so
// only it is built.
#if defined(__x86_64__)
#define MADSIM_BY_MODE(mode, AVX512, AVX2, BASE) \
  ((mode) == LANES_AVX512 ? (AVX512) : (mode) == LANES_AVX2 ? (AVX2) : (BASE))
#else
#define MADSIM_BY_MODE(mode, AVX512, AVX2, BASE) (BASE)
#endif
#define MADSIM_LANE inline __attribute__((always_inline))

// The range functions (lane_driver.hpp) are flattened: GCC inlines every call
// in them, recursively, once per instruction set and per lane step. Scalar
// code the lanes reach only on a rare branch (a replica's whole scalar step, a
// rejected chi-square try, a BTRS binomial) or to record a generation goes
// through called(&f, args...) instead: noinline stops flatten, so that code
// is compiled once, not nine times over (it was most of the build's time).
// The bits are the same: scalar IEEE operations, no FMA, whatever the target.
// f is an argument, not a template argument: GCC does not instantiate a
// function template whose address is only a template argument.
template <class F, class... A>
__attribute__((noinline)) decltype(auto) called(F f, A&&... a) {
  return std::invoke(f, std::forward<A>(a)...);
}

struct VecOps {
  typedef vd V;
  typedef vu U;
  MADSIM_LANE static U bits(V x) { return (U)x; }
  MADSIM_LANE static V from_bits(U u) { return (V)u; }
  MADSIM_LANE static V splat(double x) { return V{} + x; }
  MADSIM_LANE static U splat_u(uint64_t x) { return U{} + x; }
  MADSIM_LANE static V sqrt(V x) {
    V r;
    for (int l = 0; l < LANES; ++l) r[l] = __builtin_sqrt(x[l]);  // sqrtpd: correctly rounded
    return r;
  }
  MADSIM_LANE static U less(V a, V b) { return (U)(a < b); }
};

// Two lane groups side by side: every operation on a pair is the two
// groups' operations, adjacent in the instruction stream, so two independent
// dependency chains overlap in the out-of-order core (gaussian_loop_lanes.hpp:
// LoopLanes<1>::draw_exact_pair, step_pair). A struct of two vectors, not a
// GCC vector of 2 LANES doubles: GCC builds and compares those element by
// element through memory. Used with AVX-512, where a LANES-wide vector is one
// register (with AVX2 it is already two).
struct vu2 {
  vu lo, hi;
};
struct vd2 {
  vd lo, hi;
};
#define MADSIM_PAIR_OP(T, OP)                                                   \
  MADSIM_LANE T operator OP(T a, T b) { return T{a.lo OP b.lo, a.hi OP b.hi}; } \
  MADSIM_LANE T& operator OP## = (T & a, T b) { return a = a OP b; }
MADSIM_PAIR_OP(vd2, +)
MADSIM_PAIR_OP(vd2, -)
MADSIM_PAIR_OP(vd2, *)
MADSIM_PAIR_OP(vd2, /)
MADSIM_PAIR_OP(vu2, &)
MADSIM_PAIR_OP(vu2, |)
MADSIM_PAIR_OP(vu2, ^)
MADSIM_PAIR_OP(vu2, +)
MADSIM_PAIR_OP(vu2, -)
#undef MADSIM_PAIR_OP
MADSIM_LANE vu2 operator~(vu2 a) { return vu2{~a.lo, ~a.hi}; }
MADSIM_LANE vu2 operator>>(vu2 a, int k) { return vu2{a.lo >> k, a.hi >> k}; }
MADSIM_LANE vu2 operator<<(vu2 a, int k) { return vu2{a.lo << k, a.hi << k}; }
MADSIM_LANE vu2 operator^(vu2 a, uint32_t k) { return vu2{a.lo ^ k, a.hi ^ k}; }
MADSIM_LANE vu2 lt2(vd2 a, vd2 b) { return vu2{(vu)(a.lo < b.lo), (vu)(a.hi < b.hi)}; }
MADSIM_LANE vu2 le2(vd2 a, vd2 b) { return vu2{(vu)(a.lo <= b.lo), (vu)(a.hi <= b.hi)}; }

// VecOps (lanes.hpp) on pairs of lane groups: the same IEEE operations.
struct VecOps2 {
  typedef vd2 V;
  typedef vu2 U;
  MADSIM_LANE static U bits(V x) { return U{(vu)x.lo, (vu)x.hi}; }
  MADSIM_LANE static V from_bits(U u) { return V{(vd)u.lo, (vd)u.hi}; }
  MADSIM_LANE static V splat(double x) { return V{VecOps::splat(x), VecOps::splat(x)}; }
  MADSIM_LANE static U splat_u(uint64_t x) { return U{VecOps::splat_u(x), VecOps::splat_u(x)}; }
  MADSIM_LANE static V sqrt(V x) { return V{VecOps::sqrt(x.lo), VecOps::sqrt(x.hi)}; }
  MADSIM_LANE static U less(V a, V b) { return lt2(a, b); }
};

// Whether any lane of a mask is set: the lanes OR-folded in halves (two
// shuffles and ORs, no branch); a loop over the lanes compiled to one
// extract, test and branch per lane.
MADSIM_LANE bool lane_any(vu m) {
#if MADSIM_LANES_WIDTH == 8
  m |= __builtin_shufflevector(m, m, 4, 5, 6, 7, 0, 1, 2, 3);
  m |= __builtin_shufflevector(m, m, 2, 3, 0, 1, 2, 3, 0, 1);
#else
  m |= __builtin_shufflevector(m, m, 2, 3, 0, 1);
#endif
  return (m[0] | m[1]) != 0;
}

// 0, 1, .., LANES - 1.
MADSIM_LANE vu lane_index() {
  vu r;
  for (int l = 0; l < LANES; ++l) r[l] = (uint64_t)l;
  return r;
}

// a * b for lanes holding 32-bit values: the full 64-bit product by pmuludq
// (the generic 64-bit vector product would take three). The instruction set
// is the template argument (ISA below: 0 baseline, 1 AVX2, 2 AVX-512), which
// every lane template passes down. AVX-512: one 512-bit instruction; AVX2:
// two 256-bit ones, inlined only into MADSIM_AVX2 (or AVX-512) functions;
// baseline: four SSE2.
template <int AVX2>
MADSIM_LANE vu mul32(vu a, uint32_t b);
#if defined(__x86_64__)
typedef long long vi2 __attribute__((vector_size(16)));
typedef long long vi4 __attribute__((vector_size(32)));
template <>
MADSIM_LANE vu mul32<0>(vu a, uint32_t b) {
  const __m128i m = _mm_set1_epi64x(b);
  const vi2 p0 = (vi2)_mm_mul_epu32((__m128i)__builtin_shufflevector(a, a, 0, 1), m);
  const vi2 p1 = (vi2)_mm_mul_epu32((__m128i)__builtin_shufflevector(a, a, 2, 3), m);
  const vi4 lo = __builtin_shufflevector(p0, p1, 0, 1, 2, 3);
#if MADSIM_LANES_WIDTH == 4
  return (vu)lo;
#else
  const vi2 p2 = (vi2)_mm_mul_epu32((__m128i)__builtin_shufflevector(a, a, 4, 5), m);
  const vi2 p3 = (vi2)_mm_mul_epu32((__m128i)__builtin_shufflevector(a, a, 6, 7), m);
  const vi4 hi = __builtin_shufflevector(p2, p3, 0, 1, 2, 3);
  return (vu)__builtin_shufflevector(lo, hi, 0, 1, 2, 3, 4, 5, 6, 7);
#endif
}
// Not always_inline: GCC checks that in every instantiation, but
// flatten inlines it into the MADSIM_AVX2 functions, the only callers.
template <>
MADSIM_AVX2 inline vu mul32<1>(vu a, uint32_t b) {
  const __m256i m = _mm256_set1_epi64x(b);
  const vi4 lo = (vi4)_mm256_mul_epu32((__m256i)__builtin_shufflevector(a, a, 0, 1, 2, 3), m);
#if MADSIM_LANES_WIDTH == 4
  return (vu)lo;
#else
  const vi4 hi = (vi4)_mm256_mul_epu32((__m256i)__builtin_shufflevector(a, a, 4, 5, 6, 7), m);
  return (vu)__builtin_shufflevector(lo, hi, 0, 1, 2, 3, 4, 5, 6, 7);
#endif
}
template <>
MADSIM_AVX512 inline vu mul32<2>(vu a, uint32_t b) {
#if MADSIM_LANES_WIDTH == 4
  return mul32<1>(a, b);
#else
  return (vu)_mm512_mul_epu32((__m512i)a, _mm512_set1_epi64(b));
#endif
}
#else
template <int AVX2>
MADSIM_LANE vu mul32(vu a, uint32_t b) {
  return a * (uint64_t)b;
}
#endif
static_assert(LANES == 4 || LANES == 8, "mul32 splits 4 or 8 lanes into SSE2 / AVX2 parts");
// mul32 on each group of a pair.
template <int AVX2>
MADSIM_LANE vu2 mul32(vu2 a, uint32_t b) {
  return vu2{mul32<AVX2>(a.lo, b), mul32<AVX2>(a.hi, b)};
}

// The low 32 bits of each lane (of one group or a pair).
MADSIM_LANE vu low32(vu x) { return x & VecOps::splat_u(0xffffffffu); }
MADSIM_LANE vu2 low32(vu2 x) { return vu2{low32(x.lo), low32(x.hi)}; }

// Philox4x32-10 (philox.hpp) on LANES counters at once (U = vu), or on two
// lane groups' counters side by side (U = vu2); words in the low 32 bits of
// each lane. AVX2: compiled into MADSIM_AVX2 functions only.
template <int AVX2, class U>
MADSIM_LANE void philox_lanes(U c[4], u32x2 key) {
  // Between rounds the high halves of the lanes hold garbage: pmuludq reads
  // only the low 32 bits, and the XORs keep low halves apart from high.
  for (int r = 0; r < 10; ++r) {
    if (r > 0) {
      key.v[0] += philox_const::W0;
      key.v[1] += philox_const::W1;
    }
    const U p0 = mul32<AVX2>(c[0], philox_const::M0);
    const U p1 = mul32<AVX2>(c[2], philox_const::M1);
    const U n0 = (p1 >> 32) ^ c[1] ^ key.v[0];
    const U n2 = (p0 >> 32) ^ c[3] ^ key.v[1];
    c[0] = n0;
    c[1] = p1;
    c[2] = n2;
    c[3] = p0;
  }
  for (int k = 0; k < 4; ++k) c[k] = low32(c[k]);
}

// Blocks of LANES streams at block b (stream.hpp's counter layout), one
// stream per lane: generation shared, stream word and replica per lane.
template <int AVX2>
MADSIM_LANE void stream_blocks(u32x2 key, uint32_t b, uint32_t generation, vu stream, vu replica,
                               vu w[4]) {
  w[0] = VecOps::splat_u(b);
  w[1] = VecOps::splat_u(generation);
  w[2] = stream;
  w[3] = replica;
  philox_lanes<AVX2>(w, key);
}

// Blocks b .. b + LANES - 1 of one stream.
template <int AVX2>
MADSIM_LANE void stream_run(const Stream& s, uint32_t b, vu w[4]) {
  w[0] = (VecOps::splat_u(b) + lane_index()) & VecOps::splat_u(0xffffffffu);
  w[1] = VecOps::splat_u(s.generation);
  w[2] = VecOps::splat_u(s.stream);
  w[3] = VecOps::splat_u(s.replica);
  philox_lanes<AVX2>(w, s.key);
}

}  // namespace madsim::cpu
