// The counter layout: where every random number of a run comes from.
//
//   key     = (seed mod 2^32, seed >> 32)                  the run's 64-bit seed
//   ctr[0]  = block     draw block within the stream (4 words per block)
//   ctr[1]  = generation  t of the fit that consumes it (t >= 1); 0 = set-up
//                         draws made before the first fit (e.g. a fixed real set)
//   ctr[2]  = stream    tag (low 8 bits: what the draws are for, see Tag)
//                       | site << 8 (24 bits: which draw site of that kind,
//                         e.g. the i-th chi-square of a Bartlett factor)
//   ctr[3]  = replica   the replica id (not its position in the run)
//
// Any number is a pure function of (seed, replica, generation, tag, site,
// block): results do not depend on thread count, chunking of generations,
// backend, or which replicas run together; replica k is replayable alone.
// Rejection samplers take try i from block i of a stream of their own, so a
// rejection never shifts another draw.
//
// Any change to this layout, the tags, or how a model consumes its streams
// bumps RNG_LAYOUT_VERSION, which every result records. Adding a tag or a
// family (new streams, no existing number changes) does not.
#pragma once
#include "philox.hpp"

namespace madsim {

constexpr int RNG_LAYOUT_VERSION = 2;

enum Tag : uint32_t {
  TAG_SAMPLES = 1,  // synthetic samples of the samples path
  TAG_SCATTER = 2,  // chi-square (gamma) tries of the exact path; the spare
                    // normal of try 0 drives the fitted mean
  TAG_REAL = 3,     // real data (fixed sets at generation 0, fresh ones later)
  TAG_FILTER = 4,   // provenance filter decisions (binomial tries)
  TAG_SUBSET = 5,   // which pooled points a subsampling fit picks
  TAG_TEST = 255,   // free for tests and the Python rng module
};

constexpr uint32_t SITE_MAX = (1u << 24) - 1;
constexpr uint32_t BLOCK_MAX = 0xFFFFFFFFu;  // reserved: a sampler's side block

struct Stream {
  u32x2 key;
  uint32_t generation, stream, replica;
  MADSIM_HD u32x4 block(uint32_t b) const {
    u32x4 c = {{b, generation, stream, replica}};
    return philox4x32_10(c, key);
  }
};

MADSIM_HD u32x2 seed_key(uint64_t seed) {
  u32x2 k = {{(uint32_t)seed, (uint32_t)(seed >> 32)}};
  return k;
}

MADSIM_HD Stream make_stream(u32x2 key, uint32_t replica, uint32_t generation, uint32_t tag,
                             uint32_t site) {
  Stream s;
  s.key = key;
  s.generation = generation;
  s.stream = (tag & 0xFFu) | (site << 8);
  s.replica = replica;
  return s;
}

}  // namespace madsim
