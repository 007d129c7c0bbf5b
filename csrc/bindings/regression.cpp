// madsim._core: the linear regression kernel.
#include "common.hpp"

namespace madsim_bind {
namespace {

// Regression::Params points at the truth (w*, L0 packed, sigma0^2) and the
// count schedule; the holder owns them.
struct RegressionHolder {
  Regression::Params p;
  std::vector<double> truth, counts;
};

std::unique_ptr<RegressionHolder> make_regression(int32_t d, int32_t loop, int32_t path,
                                                  int32_t design, int32_t estimator,
                                                  int32_t refit_noise, double ridge, double tpr,
                                                  double fpr, double real_fixed, double fixed_real,
                                                  double fixed_synthetic, const py::array& truth,
                                                  const py::array& counts, int64_t subsample_n,
                                                  int64_t pool_cap, double weight) {
  if (d < 1 || d > 256) throw py::value_error("d must lie in [1, 256]");
  if (loop < Regression::REPLACE || loop > Regression::SUBSAMPLE)
    throw py::value_error("loop must be 0..4 (replace, augment, fresh, accumulate, subsample)");
  if (path != Regression::EXACT && path != Regression::SAMPLES)
    throw py::value_error("path must be 0 (exact) or 1 (samples)");
  if (design != Regression::FRESH_DESIGN && design != Regression::FIXED_DESIGN)
    throw py::value_error("design must be 0 (fresh) or 1 (fixed)");
  if (estimator != Regression::MLE && estimator != Regression::UNBIASED)
    throw py::value_error("estimator must be 0 (mle) or 1 (unbiased)");
  if (refit_noise != 0 && refit_noise != 1) throw py::value_error("refit_noise must be 0 or 1");
  if (loop == Regression::SUBSAMPLE) {
    if (path != Regression::SAMPLES) throw py::value_error("subsample needs the samples path");
    if (subsample_n < 1) throw py::value_error("subsample_n must be >= 1");
    if (pool_cap < 0 || pool_cap > ((int64_t)1 << 36) / (d + 2))
      throw py::value_error("pool_cap must lie in [0, 2**36 / (d + 2)]");
  } else {
    subsample_n = 0;
    pool_cap = 0;
  }
  // samples path: d normals per row from one stream (2**33 - 2 normals)
  const double cap = path == Regression::SAMPLES ? std::floor(8589934590.0 / d) : 1099511627776.0;
  const char* cap_msg =
      path == Regression::SAMPLES
          ? "counts must be integers with counts * d <= 2**33 - 2 on the samples path"
          : "counts must be integers in [0, 2**40]";
  for (double c : {real_fixed, fixed_real, fixed_synthetic})
    if (!(c >= 0.0 && c <= cap && c == std::floor(c))) throw py::value_error(cap_msg);
  const int64_t T = tri_size(d);
  const double* tr = checked<double>(truth, "truth", {d + T + 1}, false);
  const double* ct = checked<double>(counts, "counts", {-1, 2}, false);
  auto h = std::make_unique<RegressionHolder>();
  h->truth.assign(tr, tr + d + T + 1);
  h->counts.assign(ct, ct + 2 * counts.shape(0));
  for (double c : h->counts)
    if (!(c >= 0.0 && c <= cap && c == std::floor(c))) throw py::value_error(cap_msg);
  h->p = Regression::Params{d,
                            loop,
                            path,
                            design,
                            estimator,
                            refit_noise,
                            ridge,
                            tpr,
                            fpr,
                            real_fixed,
                            fixed_real,
                            fixed_synthetic,
                            h->truth.data(),
                            h->counts.data(),
                            (int64_t)counts.shape(0),
                            subsample_n,
                            pool_cap,
                            weight};
  return h;
}

}  // namespace

void bind_regression(py::module_& m) {
  py::class_<RegressionHolder>(m, "RegressionParams")
      .def(py::init(&make_regression), py::arg("d"), py::arg("loop"), py::arg("path"),
           py::arg("design"), py::arg("estimator"), py::arg("refit_noise"), py::arg("ridge"),
           py::arg("tpr"), py::arg("fpr"), py::arg("real_fixed"), py::arg("fixed_real"),
           py::arg("fixed_synthetic"), py::arg("truth"), py::arg("counts"),
           py::arg("subsample_n") = 0, py::arg("pool_cap") = 0, py::arg("weight") = -1.0)
      .def_property_readonly("state_size",
                             [](const RegressionHolder& h) { return Regression::state_size(h.p); })
      .def_property_readonly(
          "observe_names",
          [](const RegressionHolder& h) { return observe_names_py<Regression>(h.p); })
      .def_property_readonly(
          "observe_size", [](const RegressionHolder& h) { return Regression::observe_size(h.p); })
      .def_property_readonly("n_counts", [](const RegressionHolder& h) { return h.p.n_counts; });
  def_holder_advance<Regression, RegressionHolder>(m, "advance_regression");
#ifdef MADSIM_WITH_CUDA
  def_holder_advance_cuda<Regression, RegressionHolder>(m, "advance_regression_cuda");
#endif
}

}  // namespace madsim_bind
