// GaussianLoop's avx512 range functions, compiled in a unit
// of their own: cpu/kernels.hpp says why.
#include "../kernels.hpp"

namespace madsim::cpu {
#if defined(__x86_64__)  // off x86 only the base copy is used (lanes.hpp: MADSIM_BY_MODE)
MADSIM_RANGES_OF(, GaussianLoop, avx512)
#endif
}  // namespace madsim::cpu
