// madsim._core: the Gaussian kernel density estimate (KDE) kernel.
#include "common.hpp"

namespace madsim_bind {
namespace {

// KDE::Params points at the truth and the count schedule; the holder owns
// them and sets model_cap from the counts.
struct KdeHolder {
  KDE::Params p;
  std::vector<double> truth, counts;
};

constexpr double KDE_MAX_POINTS = 268435456.0;  // 2**28 doubles of a model's points (2 GiB)

std::unique_ptr<KdeHolder> make_kde(int32_t d, int32_t loop, int32_t rule, double h,
                                    double real_fixed, int64_t test_points, const py::array& truth,
                                    const py::array& counts, int64_t subsample_n,
                                    int64_t pool_cap) {
  if (d < 1 || d > 64) throw py::value_error("d must lie in [1, 64]");
  if (loop < KDE::REPLACE || loop > KDE::SUBSAMPLE)
    throw py::value_error("loop must be 0..4 (replace, augment, fresh, accumulate, subsample)");
  if (rule < KDE::FIXED || rule > KDE::SILVERMAN)
    throw py::value_error("rule must be 0 (fixed), 1 (scott) or 2 (silverman)");
  if (rule != KDE::FIXED) h = 0.0;
  if (test_points < 1 || test_points > ((int64_t)1 << 32) / d)  // its normals: 2**32 at most
    throw py::value_error("test_points must lie in [1, 2**32 / d]");
  if (loop == KDE::SUBSAMPLE) {
    if (subsample_n < 1 || subsample_n > 0xFFFFFFFFll)
      throw py::value_error("subsample_n must lie in [1, 2**32 - 1]");
  } else {
    subsample_n = 0;
  }
  if (loop == KDE::ACCUMULATE || loop == KDE::SUBSAMPLE) {
    if (pool_cap < 1 || pool_cap > ((int64_t)1 << 36) / (d + 1))
      throw py::value_error("pool_cap must lie in [1, 2**36 / (d + 1)] for the accumulating loops");
  } else {
    pool_cap = 0;
  }
  if (!(real_fixed >= 0.0 && real_fixed <= KDE_MAX_POINTS && real_fixed == std::floor(real_fixed)))
    throw py::value_error("real_fixed must be an integer in [0, 2**28]");
  if (loop != KDE::AUGMENT) real_fixed = 0.0;
  const int64_t T = tri_size(d);
  const double* tr = checked<double>(truth, "truth", {d + T}, false);
  const double* ct = checked<double>(counts, "counts", {-1, 2}, false);
  auto h_ = std::make_unique<KdeHolder>();
  h_->truth.assign(tr, tr + d + T);
  h_->counts.assign(ct, ct + 2 * counts.shape(0));
  double cap = 0.0;
  for (int64_t g = 0; g < counts.shape(0); ++g) {
    const double a = h_->counts[2 * g], b = h_->counts[2 * g + 1];
    if (!(a >= 0.0 && b >= 0.0 && a == std::floor(a) && b == std::floor(b)))
      throw py::value_error("counts must be integers >= 0");
    cap = std::max(cap, (loop == KDE::AUGMENT ? real_fixed : loop == KDE::FRESH ? a : 0.0) + b);
  }
  // Accumulate's model is the pool, AccumulateSubsample's subsample_n of its points
  if (loop == KDE::ACCUMULATE) cap = (double)pool_cap;
  if (loop == KDE::SUBSAMPLE) cap = (double)subsample_n;
  if (cap * d > KDE_MAX_POINTS)
    throw py::value_error(
        "a model's points need more than 2**28 doubles per replica (most points x d; "
        "Accumulate: the whole pool); use fewer points per generation (or AccumulateSubsample)");
  h_->p = KDE::Params{d,
                      loop,
                      rule,
                      h,
                      real_fixed,
                      test_points,
                      (int64_t)cap,
                      h_->truth.data(),
                      h_->counts.data(),
                      (int64_t)counts.shape(0),
                      subsample_n,
                      pool_cap};
  return h_;
}

// The KDE fit of given points (one generation's fit without its draws), for
// tests against scipy.stats.gaussian_kde: (ok, mean [d], S [T], L_H [T]).
py::tuple kde_fit_py(const KdeHolder& h, const py::array& points) {
  const KDE::Params& p = h.p;
  const double* X = checked<double>(points, "points", {-1, p.d}, false);
  const int64_t n = points.shape(0), T = tri_size(p.d);
  std::vector<double> work(KDE::work_size(p));
  const bool ok = KDE::fit(p, X, n, p.d, work.data());
  py::array_t<double> mean(p.d), S(T), L(T);
  std::copy(work.begin(), work.begin() + p.d, mean.mutable_data());
  std::copy(work.begin() + p.d, work.begin() + p.d + T, S.mutable_data());
  std::copy(work.begin() + p.d + T, work.begin() + p.d + 2 * T, L.mutable_data());
  return py::make_tuple(ok, mean, S, L);
}

}  // namespace

void bind_kde(py::module_& m) {
  py::class_<KdeHolder>(m, "KDEParams")
      .def(py::init(&make_kde), py::arg("d"), py::arg("loop"), py::arg("rule"), py::arg("h"),
           py::arg("real_fixed"), py::arg("test_points"), py::arg("truth"), py::arg("counts"),
           py::arg("subsample_n") = 0, py::arg("pool_cap") = 0)
      .def_property_readonly("state_size", [](const KdeHolder& h) { return KDE::state_size(h.p); })
      .def_property_readonly("observe_names",
                             [](const KdeHolder& h) { return observe_names_py<KDE>(h.p); })
      .def_property_readonly("observe_size",
                             [](const KdeHolder& h) { return KDE::observe_size(h.p); })
      .def_property_readonly("scratch_size",
                             [](const KdeHolder& h) { return KDE::scratch_size(h.p); })
      .def_property_readonly("model_cap", [](const KdeHolder& h) { return h.p.model_cap; })
      .def_property_readonly("n_counts", [](const KdeHolder& h) { return h.p.n_counts; });
  def_holder_advance<KDE, KdeHolder>(m, "advance_kde");
  m.def("kde_fit", &kde_fit_py, py::arg("params"), py::arg("points"));
#ifdef MADSIM_WITH_CUDA
  def_holder_advance_cuda<KDE, KdeHolder>(m, "advance_kde_cuda");
#endif
}

}  // namespace madsim_bind
