// madsim._core: the Poisson kernel.
#include "common.hpp"

namespace madsim_bind {
namespace {

// Poisson::Params points at the count schedule; the holder owns it.
struct PoissonHolder {
  Poisson::Params p;
  std::vector<double> counts;
};

std::unique_ptr<PoissonHolder> make_poisson(int32_t loop, int32_t path, double rate0,
                                            double real_fixed, const py::array& counts,
                                            int64_t subsample_n, int64_t pool_cap) {
  if (loop < Poisson::REPLACE || loop > Poisson::SUBSAMPLE)
    throw py::value_error("loop must be 0..4 (replace, augment, fresh, accumulate, subsample)");
  if (path != Poisson::EXACT && path != Poisson::SAMPLES)
    throw py::value_error("path must be 0 (exact) or 1 (samples)");
  if (loop == Poisson::SUBSAMPLE) {
    if (path != Poisson::SAMPLES) throw py::value_error("subsample needs the samples path");
    if (subsample_n < 1) throw py::value_error("subsample_n must be >= 1");
    if (pool_cap < 0 || pool_cap > ((int64_t)1 << 35))
      throw py::value_error("pool_cap must lie in [0, 2**35]");
  } else {
    subsample_n = 0;
    pool_cap = 0;
  }
  // samples path: point j of a part from site j (sites below SITE_MAX)
  const double cap = path == Poisson::SAMPLES ? (double)SITE_MAX : 1099511627776.0;
  const char* cap_msg = path == Poisson::SAMPLES
                            ? "counts must be integers in [0, 2**24 - 1] on the samples path"
                            : "counts must be integers in [0, 2**40]";
  if (!(real_fixed >= 0.0 && real_fixed <= cap && real_fixed == std::floor(real_fixed)))
    throw py::value_error(cap_msg);
  const double* ct = checked<double>(counts, "counts", {-1, 2}, false);
  auto h = std::make_unique<PoissonHolder>();
  h->counts.assign(ct, ct + 2 * counts.shape(0));
  for (double c : h->counts)
    if (!(c >= 0.0 && c <= cap && c == std::floor(c))) throw py::value_error(cap_msg);
  h->p = Poisson::Params{loop,        path,    rate0, real_fixed, h->counts.data(), counts.shape(0),
                         subsample_n, pool_cap};
  return h;
}

}  // namespace

void bind_poisson(py::module_& m) {
  py::class_<PoissonHolder>(m, "PoissonParams")
      .def(py::init(&make_poisson), py::arg("loop"), py::arg("path"), py::arg("rate0"),
           py::arg("real_fixed"), py::arg("counts"), py::arg("subsample_n") = 0,
           py::arg("pool_cap") = 0)
      .def_property_readonly("state_size",
                             [](const PoissonHolder& h) { return Poisson::state_size(h.p); })
      .def_property_readonly("observe_names",
                             [](const PoissonHolder& h) { return observe_names_py<Poisson>(h.p); })
      .def_property_readonly("observe_size",
                             [](const PoissonHolder& h) { return Poisson::observe_size(h.p); })
      .def_property_readonly("n_counts", [](const PoissonHolder& h) { return h.p.n_counts; });
  def_holder_advance<Poisson, PoissonHolder>(m, "advance_poisson");
#ifdef MADSIM_WITH_CUDA
  def_holder_advance_cuda<Poisson, PoissonHolder>(m, "advance_poisson_cuda");
#endif
}

}  // namespace madsim_bind
