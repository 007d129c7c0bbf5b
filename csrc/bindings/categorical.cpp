// madsim._core: the categorical token kernel.
#include "common.hpp"

namespace madsim_bind {
namespace {

// Categorical::Params points at the truth, the rare-token mask and the count
// schedule; the holder owns them.
struct CategoricalHolder {
  Categorical::Params p;
  std::vector<double> truth, rare, counts;
};

constexpr int64_t MAX_TOKENS = (int64_t)SITE_MAX + 1;  // a token's exact-path stream is its site

std::unique_ptr<CategoricalHolder> make_categorical(int32_t loop, int32_t path, int32_t top_k,
                                                    double tau, double top_p, double smoothing,
                                                    double weight, double tpr, double fpr,
                                                    double real_fixed, int64_t subsample_n,
                                                    const py::array& truth, const py::array& rare,
                                                    const py::array& counts) {
  if (loop < Categorical::REPLACE || loop > Categorical::SUBSAMPLE)
    throw py::value_error("loop must be 0..4 (replace, augment, fresh, accumulate, subsample)");
  if (path != Categorical::EXACT && path != Categorical::SAMPLES)
    throw py::value_error("path must be 0 (exact) or 1 (samples)");
  if (!(real_fixed >= 0.0 && real_fixed <= 1099511627776.0 && real_fixed == std::floor(real_fixed)))
    throw py::value_error("real_fixed must be an integer in [0, 2**40]");
  if (loop == Categorical::SUBSAMPLE) {
    if (subsample_n < 1 || subsample_n > 0xFFFFFFFFll)
      throw py::value_error("subsample_n must lie in [1, 2**32 - 1]");
  } else {
    subsample_n = 0;
  }
  const double* tr = checked<double>(truth, "truth", {-1}, false);
  const int64_t K = truth.shape(0);
  if (K < 1 || K > MAX_TOKENS) throw py::value_error("truth must have 1 to 2**24 tokens");
  if (top_k < 0 || top_k > K) throw py::value_error("top_k must lie in [0, K] (0: off)");
  const double* ra = checked<double>(rare, "rare", {K}, false);
  const double* ct = checked<double>(counts, "counts", {-1, 2}, false);
  auto h = std::make_unique<CategoricalHolder>();
  h->truth.assign(tr, tr + K);
  h->rare.assign(ra, ra + K);
  h->counts.assign(ct, ct + 2 * counts.shape(0));
  const double cap = path == Categorical::SAMPLES ? 8589934590.0 : 1099511627776.0;
  for (double c : h->counts)
    if (!(c >= 0.0 && c <= cap && c == std::floor(c)))
      throw py::value_error(path == Categorical::SAMPLES
                                ? "counts must be integers in [0, 2**33 - 2] on the samples path"
                                : "counts must be integers in [0, 2**40]");
  if (path == Categorical::SAMPLES && real_fixed > cap)
    throw py::value_error("real_fixed must be <= 2**33 - 2 on the samples path");
  h->p = Categorical::Params{(int32_t)K,
                             loop,
                             path,
                             top_k,
                             tau,
                             top_p,
                             smoothing,
                             weight,
                             tpr,
                             fpr,
                             real_fixed,
                             subsample_n,
                             h->truth.data(),
                             h->rare.data(),
                             h->counts.data(),
                             (int64_t)counts.shape(0)};
  return h;
}

// The law synthetic tokens are drawn from (normalised), for the tests of the
// knobs against their definitions.
py::array_t<double> categorical_sampling_law(const py::array& probs, double tau, int32_t top_k,
                                             double top_p) {
  const double* pr = checked<double>(probs, "probs", {-1}, false);
  const int64_t K = probs.shape(0);
  if (K < 1) throw py::value_error("probs must not be empty");
  if (!(tau > 0.0 && std::isfinite(tau))) throw py::value_error("tau must be finite and > 0");
  if (top_k < 0 || top_k > K) throw py::value_error("top_k must lie in [0, K] (0: off)");
  if (!(top_p > 0.0 && top_p <= 1.0)) throw py::value_error("top_p must lie in (0, 1]");
  double mass = 0.0;
  for (int64_t i = 0; i < K; ++i) {
    if (!(pr[i] >= 0.0 && std::isfinite(pr[i])))
      throw py::value_error("probs must be finite and >= 0");
    mass += pr[i];
  }
  if (!(mass > 0.0)) throw py::value_error("probs must have positive mass");
  Categorical::Params p{};
  p.K = (int32_t)K;
  p.tau = tau;
  p.top_k = top_k;
  p.top_p = top_p;
  py::array_t<double> out(K);
  std::vector<double> idx(K);
  double* q = out.mutable_data();
  const double total = Categorical::sampling_law(p, pr, q, idx.data());
  for (int64_t i = 0; i < K; ++i) q[i] /= total;
  return out;
}

}  // namespace

void bind_categorical(py::module_& m) {
  py::class_<CategoricalHolder>(m, "CategoricalParams")
      .def(py::init(&make_categorical), py::arg("loop"), py::arg("path"), py::arg("top_k"),
           py::arg("tau"), py::arg("top_p"), py::arg("smoothing"), py::arg("weight"),
           py::arg("tpr"), py::arg("fpr"), py::arg("real_fixed"), py::arg("subsample_n"),
           py::arg("truth"), py::arg("rare"), py::arg("counts"))
      .def_property_readonly(
          "state_size", [](const CategoricalHolder& h) { return Categorical::state_size(h.p); })
      .def_property_readonly(
          "observe_names",
          [](const CategoricalHolder& h) { return observe_names_py<Categorical>(h.p); })
      .def_property_readonly(
          "observe_size", [](const CategoricalHolder& h) { return Categorical::observe_size(h.p); })
      .def_property_readonly("n_counts", [](const CategoricalHolder& h) { return h.p.n_counts; });
  def_holder_advance<Categorical, CategoricalHolder>(m, "advance_categorical");
  m.def("categorical_sampling_law", &categorical_sampling_law, py::arg("probs"), py::arg("tau"),
        py::arg("top_k"), py::arg("top_p"));
#ifdef MADSIM_WITH_CUDA
  def_holder_advance_cuda<Categorical, CategoricalHolder>(m, "advance_categorical_cuda");
#endif
}

}  // namespace madsim_bind
