// GaussianLoop's base range functions (the portable copy: the only one off x86), compiled in a unit
// of their own: cpu/kernels.hpp says why.
#include "../kernels.hpp"

namespace madsim::cpu {

MADSIM_RANGES_OF(, GaussianLoop, base)

}  // namespace madsim::cpu
