// madsim._core: the Gaussian mixture (EM refit) kernel.
#include "common.hpp"

namespace madsim_bind {
namespace {

// GaussianMixture::Params points at the truth, its tail quantiles and the
// count schedule; the holder owns them and sets n_max from the counts.
struct GmmHolder {
  GaussianMixture::Params p;
  std::vector<double> truth, tails, counts;
};

constexpr double GMM_MAX_SCRATCH = 268435456.0;  // 2**28 doubles (2 GiB) of points per thread

std::unique_ptr<GmmHolder> make_gmm(int32_t k, int32_t d, int32_t cov_type, int32_t loop,
                                    int32_t em_iters, double em_tol, double cov_floor, double tau,
                                    double tpr, double fpr, double real_fixed,
                                    const py::array& truth, const py::array& tails,
                                    const py::array& counts, int64_t subsample_n,
                                    int64_t pool_cap) {
  using G = GaussianMixture;
  if (k < 1 || k > 256) throw py::value_error("k must lie in [1, 256]");
  if (d < 1 || d > 64) throw py::value_error("d must lie in [1, 64]");
  if (cov_type < G::FULL || cov_type > G::SPHERICAL)
    throw py::value_error("cov_type must be 0 (full), 1 (diag) or 2 (spherical)");
  if (loop < G::REPLACE || loop > G::SUBSAMPLE)
    throw py::value_error("loop must be 0..4 (replace, augment, fresh, accumulate, subsample)");
  if (loop == G::SUBSAMPLE) {
    if (subsample_n < 1 || subsample_n > 0xFFFFFFFFll)
      throw py::value_error("subsample_n must lie in [1, 2**32 - 1]");
  } else {
    subsample_n = 0;
  }
  if (loop == G::ACCUMULATE || loop == G::SUBSAMPLE) {
    if (pool_cap < 1 || pool_cap > ((int64_t)1 << 36) / (d + 1))
      throw py::value_error("pool_cap must lie in [1, 2**36 / (d + 1)] for the accumulating loops");
  } else {
    pool_cap = 0;
  }
  if (!(real_fixed >= 0.0 && real_fixed <= GMM_MAX_SCRATCH && real_fixed == std::floor(real_fixed)))
    throw py::value_error("real_fixed must be an integer in [0, 2**28]");
  if (loop != G::AUGMENT) real_fixed = 0.0;
  const int64_t T = tri_size(d), P = (int64_t)k * (1 + d + T);
  const double* tr = checked<double>(truth, "truth", {P}, false);
  const double* ta = checked<double>(tails, "tails", {2 * (int64_t)d}, false);
  const double* ct = checked<double>(counts, "counts", {-1, 2}, false);
  auto h = std::make_unique<GmmHolder>();
  h->truth.assign(tr, tr + P);
  h->tails.assign(ta, ta + 2 * d);
  h->counts.assign(ct, ct + 2 * counts.shape(0));
  double n_max = 0.0;
  for (int64_t g = 0; g < counts.shape(0); ++g) {
    const double a = h->counts[2 * g], b = h->counts[2 * g + 1];
    if (!(a >= 0.0 && b >= 0.0 && a == std::floor(a) && b == std::floor(b)))
      throw py::value_error("counts must be integers >= 0");
    n_max = std::max(n_max, (loop == G::AUGMENT ? real_fixed : loop == G::FRESH ? a : 0.0) + b);
  }
  // Accumulate fits on the whole pool, AccumulateSubsample on subsample_n of its points
  if (loop == G::ACCUMULATE) n_max = (double)pool_cap;
  if (loop == G::SUBSAMPLE) n_max = (double)subsample_n;
  if (n_max * (d + k) > GMM_MAX_SCRATCH)
    throw py::value_error(
        "a fit's points need more than 2**28 doubles of scratch per thread "
        "(most points x (d + k); Accumulate: the whole pool); use fewer points "
        "per generation (or AccumulateSubsample)");
  h->p = G::Params{k,
                   d,
                   cov_type,
                   loop,
                   em_iters,
                   em_tol,
                   cov_floor,
                   tau,
                   tpr,
                   fpr,
                   real_fixed,
                   (int64_t)n_max,
                   h->truth.data(),
                   h->tails.data(),
                   h->counts.data(),
                   (int64_t)counts.shape(0),
                   subsample_n,
                   pool_cap};
  return h;
}

// EM (params' em_iters and em_tol) on given points from a state row: the
// fit of one generation without its draws, for tests against a plain EM.
py::array_t<double> gmm_em_py(const GmmHolder& h, const py::array& state, const py::array& points) {
  const GaussianMixture::Params& p = h.p;
  const int64_t S = GaussianMixture::state_size(p);
  const double* st = checked<double>(state, "state", {S}, false);
  const double* X = checked<double>(points, "points", {-1, p.d}, false);
  const int64_t n = points.shape(0);
  if (n < 1) throw py::value_error("points: need at least one point");
  py::array_t<double> out(S);
  double* o = out.mutable_data();
  std::copy(st, st + S, o);
  std::vector<double> R(n * p.k), work(GaussianMixture::work_size(p));
  GaussianMixture::em(p, o, X, n, R.data(), work.data());
  return out;
}

}  // namespace

void bind_gmm(py::module_& m) {
  py::class_<GmmHolder>(m, "GaussianMixtureParams")
      .def(py::init(&make_gmm), py::arg("k"), py::arg("d"), py::arg("cov_type"), py::arg("loop"),
           py::arg("em_iters"), py::arg("em_tol"), py::arg("cov_floor"), py::arg("tau"),
           py::arg("tpr"), py::arg("fpr"), py::arg("real_fixed"), py::arg("truth"),
           py::arg("tails"), py::arg("counts"), py::arg("subsample_n") = 0, py::arg("pool_cap") = 0)
      .def_property_readonly("state_size",
                             [](const GmmHolder& h) { return GaussianMixture::state_size(h.p); })
      .def_property_readonly(
          "observe_names",
          [](const GmmHolder& h) { return observe_names_py<GaussianMixture>(h.p); })
      .def_property_readonly("observe_size",
                             [](const GmmHolder& h) { return GaussianMixture::observe_size(h.p); })
      .def_property_readonly("scratch_size",
                             [](const GmmHolder& h) { return GaussianMixture::scratch_size(h.p); })
      .def_property_readonly("n_max", [](const GmmHolder& h) { return h.p.n_max; })
      .def_property_readonly("n_counts", [](const GmmHolder& h) { return h.p.n_counts; });
  def_holder_advance<GaussianMixture, GmmHolder>(m, "advance_gmm");
  m.def("gmm_em", &gmm_em_py, py::arg("params"), py::arg("state"), py::arg("points"));
#ifdef MADSIM_WITH_CUDA
  def_holder_advance_cuda<GaussianMixture, GmmHolder>(m, "advance_gmm_cuda");
#endif
}

}  // namespace madsim_bind
