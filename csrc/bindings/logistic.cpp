// madsim._core: the logistic regression kernel.
#include "common.hpp"

namespace madsim_bind {
namespace {

// Logistic::Params points at the truth (w*, L0 packed, F packed) and the
// count schedule; the holder owns them.
struct LogisticHolder {
  Logistic::Params p;
  std::vector<double> truth, counts;
};

std::unique_ptr<LogisticHolder> make_logistic(int32_t d, int32_t loop, int32_t design,
                                              int32_t max_iter, double ridge, double tol,
                                              double real_fixed, const py::array& truth,
                                              const py::array& counts, int64_t subsample_n,
                                              int64_t pool_cap) {
  if (d < 1 || d > 256) throw py::value_error("d must lie in [1, 256]");
  if (loop < Logistic::REPLACE || loop > Logistic::SUBSAMPLE)
    throw py::value_error("loop must be 0..4 (replace, augment, fresh, accumulate, subsample)");
  if (design != Logistic::FRESH_DESIGN && design != Logistic::FIXED_DESIGN)
    throw py::value_error("design must be 0 (fresh) or 1 (fixed)");
  // d normals per row from one stream (2**33 - 2 normals)
  const double cap = std::floor(8589934590.0 / d);
  const char* cap_msg = "counts must be integers with counts * d <= 2**33 - 2";
  if (!(real_fixed >= 0.0 && real_fixed <= cap && real_fixed == std::floor(real_fixed)))
    throw py::value_error(cap_msg);
  if (loop != Logistic::AUGMENT) real_fixed = 0.0;
  const int64_t T = tri_size(d);
  const double* tr = checked<double>(truth, "truth", {d + 2 * T}, false);
  const double* ct = checked<double>(counts, "counts", {-1, 2}, false);
  auto h = std::make_unique<LogisticHolder>();
  h->truth.assign(tr, tr + d + 2 * T);
  h->counts.assign(ct, ct + 2 * counts.shape(0));
  double most = 0.0;
  for (int64_t r = 0; r < counts.shape(0); ++r) {
    const double m = h->counts[2 * r], k = h->counts[2 * r + 1];
    for (double c : {m, k})
      if (!(c >= 0.0 && c <= cap && c == std::floor(c))) throw py::value_error(cap_msg);
    const double rows = loop == Logistic::REPLACE   ? k
                        : loop == Logistic::FRESH   ? m + k
                        : loop == Logistic::AUGMENT ? k + real_fixed
                                                    : 0.0;
    most = std::max(most, rows);
  }
  if (!(most <= cap)) throw py::value_error(cap_msg);
  if (loop == Logistic::ACCUMULATE || loop == Logistic::SUBSAMPLE) {
    if (loop == Logistic::SUBSAMPLE && subsample_n < 1)
      throw py::value_error("subsample_n must be >= 1");
    if (pool_cap < 0 || pool_cap > ((int64_t)1 << 36) / (d + 2))
      throw py::value_error("pool_cap must lie in [0, 2**36 / (d + 2)]");
  } else {
    pool_cap = 0;
  }
  if (loop != Logistic::SUBSAMPLE) subsample_n = 0;
  const int64_t buf_rows = loop == Logistic::SUBSAMPLE ? subsample_n : (int64_t)most;
  h->p = Logistic::Params{
      d,        loop,        design,          max_iter,         ridge,
      tol,      real_fixed,  h->truth.data(), h->counts.data(), (int64_t)counts.shape(0),
      buf_rows, subsample_n, pool_cap};
  return h;
}

}  // namespace

void bind_logistic(py::module_& m) {
  py::class_<LogisticHolder>(m, "LogisticParams")
      .def(py::init(&make_logistic), py::arg("d"), py::arg("loop"), py::arg("design"),
           py::arg("max_iter"), py::arg("ridge"), py::arg("tol"), py::arg("real_fixed"),
           py::arg("truth"), py::arg("counts"), py::arg("subsample_n") = 0, py::arg("pool_cap") = 0)
      .def_property_readonly("state_size",
                             [](const LogisticHolder& h) { return Logistic::state_size(h.p); })
      .def_property_readonly(
          "observe_names", [](const LogisticHolder& h) { return observe_names_py<Logistic>(h.p); })
      .def_property_readonly("observe_size",
                             [](const LogisticHolder& h) { return Logistic::observe_size(h.p); })
      .def_property_readonly("scratch_size",
                             [](const LogisticHolder& h) { return Logistic::scratch_size(h.p); })
      .def_property_readonly("n_counts", [](const LogisticHolder& h) { return h.p.n_counts; });
  def_holder_advance<Logistic, LogisticHolder>(m, "advance_logistic");
#ifdef MADSIM_WITH_CUDA
  def_holder_advance_cuda<Logistic, LogisticHolder>(m, "advance_logistic_cuda");
#endif
}

}  // namespace madsim_bind
