// What a family provides so the one driver (driver.hpp) and both launchers can
// run it. A family is a struct M with static members:
//
//   struct Params;   plain old data (no pointers): copied by value to threads
//                    and, later, to the device
//   int64_t state_size(const Params&)   doubles of per-replica state
//   int observe_size(const Params&)     columns of observe's row
//   int observe_group(const Params&, int col)
//                    which group (0..31) computes column col: observe
//                    computes only the groups a record or a detector reads
//   int64_t scratch_size(const Params&) doubles of per-thread scratch for
//                    step and observe
//   void init(const Params&, double* state, u32x2 key, uint32_t replica, double* scratch)
//                    generation 0: writes the whole state row (the truth and
//                    any set-up draws, at counter generation 0)
//   void step(const Params&, double* state, u32x2 key, uint32_t replica, uint32_t t,
//             double* scratch)
//                    one generation: turns the model of generation t-1 into
//                    the model of generation t, drawing only from streams
//                    with counter generation t
//   void observe(const Params&, const double* state, double* out, uint32_t need,
//                double* scratch)
//                    what is recorded and what collapse detectors look at:
//                    writes (at least) the columns of the groups whose bit is
//                    set in need (driver.hpp::observe_need); a column's value
//                    never depends on which others were asked for
//   observe_names(const Params&) -> std::vector<std::string>
//                    (host only) the name of each observe column, in order:
//                    Python looks columns up by these names; the columns of
//                    an array all carry the array's name
// and, optionally, for the CUDA launcher (csrc/cuda/launch.cu):
//   N_ARRAYS, array(i), array_length(p, i)
//                    the Params fields that point at host arrays of doubles
//                    and their lengths (absent: none); the launcher copies
//                    each to the device
//   REG_STATE, REG_OBSERVE
//                    > 0: the state row (exactly REG_STATE doubles) and
//                    observe's row (at most REG_OBSERVE) live in registers
//
// State is one flat float64 row per replica, [R, state_size], laid out as
//   [ model parameters | loop state ]
// where the model parameters are, by family,
//   1-D Gaussian   mean, var                                    (2)
//   d-dim Gaussian mean[d], Cholesky factor of cov[d*(d+1)/2]   (d + d(d+1)/2)
//   categorical    probabilities[K]                             (K)
//   bigram         transition matrix[K*K], row-major            (K*K)
//                  (models/gaussian_loop.hpp; 1-D: mean, var in gaussian1d.hpp)
//   mixture        weights[k], means[k, d], cov factors[k, ...]
//   regression     weights[d], noise variance                   (d + 1)
//   Poisson        rate                                         (1)
// and the loop state holds what a loop keeps between generations: the fixed
// real set's sufficient statistics (augment), the accumulated pool's
// (accumulate). The row survives between calls, so runs chunk, resume and
// extend. Records are [R, n_records, n_columns], the columns a run chose of
// observe's row; detectors read observe's row (any column) on every generation.
#pragma once
#include <stdint.h>

#include <string>
#include <vector>

#include "hd.hpp"
#include "stream.hpp"

namespace madsim {

// observe()'s column names (host only): observe_names appends `count`
// columns named `name` (an array's columns all carry its name).
using ObserveNames = std::vector<std::string>;
inline void add_names(ObserveNames& out, const char* name, int64_t count = 1) {
  out.insert(out.end(), (size_t)count, std::string(name));
}

}  // namespace madsim
