// madsim._core: the general Gaussian kernel (GaussianLoop: any d, every loop; PPCA).
#include "common.hpp"

namespace madsim_bind {
namespace {

// GaussianLoop::Params points at the truth and the count schedule; the holder
// owns them (Python keeps the holder alive for the whole call).
struct GaussianLoopHolder {
  GaussianLoop::Params p;
  std::vector<double> truth, counts, basis;
};

std::unique_ptr<GaussianLoopHolder> make_gaussian_loop(
    int32_t d, int32_t loop, int32_t estimator, int32_t path, double tau, double trunc,
    double weight, double tpr, double fpr, double real_fixed, int64_t subsample_n, int64_t pool_cap,
    const py::array& truth, const py::array& counts, int32_t factors, const py::object& basis,
    double reweight_beta, double reweight_k, double correction) {
  if (d < 1 || d > 256) throw py::value_error("d must lie in [1, 256]");
  if (loop < GaussianLoop::REPLACE || loop > GaussianLoop::SUBSAMPLE)
    throw py::value_error("loop must be 0..4 (replace, augment, fresh, accumulate, subsample)");
  if (estimator != GaussianLoop::MLE && estimator != GaussianLoop::UNBIASED)
    throw py::value_error("estimator must be 0 (mle) or 1 (unbiased)");
  if (path != GaussianLoop::EXACT && path != GaussianLoop::SAMPLES)
    throw py::value_error("path must be 0 (exact) or 1 (samples)");
  if (!(real_fixed >= 0.0 && real_fixed <= 1099511627776.0 && real_fixed == std::floor(real_fixed)))
    throw py::value_error("real_fixed must be an integer in [0, 2**40]");
  if (loop == GaussianLoop::SUBSAMPLE) {
    if (path != GaussianLoop::SAMPLES) throw py::value_error("subsample needs the samples path");
    if (subsample_n < 1) throw py::value_error("subsample_n must be >= 1");
    if (pool_cap < 0 || pool_cap > ((int64_t)1 << 36) / (d + 1))
      throw py::value_error("pool_cap must lie in [0, 2**36 / (d + 1)]");
  } else {
    subsample_n = 0;
    pool_cap = 0;
  }
  const int64_t T = tri_size(d);
  const double* tr = checked<double>(truth, "truth", {d + T}, false);
  const double* ct = checked<double>(counts, "counts", {-1, 2}, false);
  auto h = std::make_unique<GaussianLoopHolder>();
  h->truth.assign(tr, tr + d + T);
  h->counts.assign(ct, ct + 2 * counts.shape(0));
  for (double c : h->counts)
    if (!(c >= 0.0 && c <= 1099511627776.0 && c == std::floor(c)))
      throw py::value_error("counts must be integers in [0, 2**40]");
  // PPCA: factors q in [1, d), basis [d, q] (the truth's principal subspace).
  if (factors != 0) {
    if (factors < 1 || factors >= d)
      throw py::value_error("factors must be 0 (full covariance) or lie in [1, d - 1] = [1, " +
                            std::to_string(d - 1) + "], got " + std::to_string(factors));
    if (basis.is_none())
      throw py::value_error("factors > 0 needs basis, the truth's [d, q] subspace");
    const py::array b = basis.cast<py::array>();
    const double* bp = checked<double>(b, "basis", {d, factors}, false);
    h->basis.assign(bp, bp + (int64_t)d * factors);
  } else if (!basis.is_none()) {
    throw py::value_error("basis is for factors > 0 (PPCA); got factors = 0");
  }
  h->p = GaussianLoop::Params{d,
                              loop,
                              estimator,
                              path,
                              tau,
                              trunc,
                              weight,
                              tpr,
                              fpr,
                              real_fixed,
                              subsample_n,
                              pool_cap,
                              h->truth.data(),
                              h->counts.data(),
                              (int64_t)counts.shape(0),
                              factors,
                              factors > 0 ? h->basis.data() : nullptr,
                              reweight_beta,
                              reweight_k,
                              correction};
  return h;
}

}  // namespace

void bind_gaussian_loop(py::module_& m) {
  py::class_<GaussianLoopHolder>(m, "GaussianLoopParams")
      .def(py::init(&make_gaussian_loop), py::arg("d"), py::arg("loop"), py::arg("estimator"),
           py::arg("path"), py::arg("tau"), py::arg("trunc"), py::arg("weight"), py::arg("tpr"),
           py::arg("fpr"), py::arg("real_fixed"), py::arg("subsample_n"), py::arg("pool_cap"),
           py::arg("truth"), py::arg("counts"), py::arg("factors") = 0,
           py::arg("basis") = py::none(), py::arg("reweight_beta") = 0.0,
           py::arg("reweight_k") = 0.0, py::arg("correction") = 0.0)
      .def_property_readonly(
          "state_size", [](const GaussianLoopHolder& h) { return GaussianLoop::state_size(h.p); })
      .def_property_readonly(
          "observe_names",
          [](const GaussianLoopHolder& h) { return observe_names_py<GaussianLoop>(h.p); })
      .def_property_readonly(
          "observe_size",
          [](const GaussianLoopHolder& h) { return GaussianLoop::observe_size(h.p); })
      .def_property_readonly("n_counts", [](const GaussianLoopHolder& h) { return h.p.n_counts; });
  def_holder_advance<GaussianLoop, GaussianLoopHolder>(m, "advance_gaussian_loop");
#ifdef MADSIM_WITH_CUDA
  def_holder_advance_cuda<GaussianLoop, GaussianLoopHolder>(m, "advance_gaussian_loop_cuda");
#endif
}

}  // namespace madsim_bind
