// madsim._core: the bigram (next-token) kernel.
#include "common.hpp"

namespace madsim_bind {
namespace {

// Bigram::Params points at the truth, its rows' and the start law's
// cumulative sums, the stationary law and the count schedule; the holder
// owns them.
struct BigramHolder {
  Bigram::Params p;
  std::vector<double> truth, truth_cdf, start_cdf, pi0, counts;
};

constexpr int64_t MAX_BIGRAM_TOKENS = 4096;  // K*K doubles of state per replica

std::unique_ptr<BigramHolder> make_bigram(int32_t loop, int32_t path, int32_t top_k, double tau,
                                          double top_p, double smoothing, double tpr, double fpr,
                                          double real_fixed, int64_t length, const py::array& truth,
                                          const py::array& start, const py::array& pi0,
                                          const py::array& counts, int64_t subsample_n) {
  if (loop < Bigram::REPLACE || loop > Bigram::SUBSAMPLE)
    throw py::value_error("loop must be 0..4 (replace, augment, fresh, accumulate, subsample)");
  if (path != Bigram::SAMPLES) throw py::value_error("path must be 1 (samples)");
  if (length < 2 || length > 4294967296ll) throw py::value_error("length must lie in [2, 2**32]");
  const double cap = std::floor(8589934590.0 / (double)length);  // tokens of a part: 2**32 blocks
  if (loop == Bigram::SUBSAMPLE) {                               // picks: one block each
    if (subsample_n < 1 || (double)subsample_n * (double)(length - 1) > 4294967295.0)
      throw py::value_error(
          "subsample_n must be >= 1 with subsample_n * (length - 1) <= 2**32 - 1");
  } else {
    subsample_n = 0;
  }
  if (!(real_fixed >= 0.0 && real_fixed <= cap && real_fixed == std::floor(real_fixed)))
    throw py::value_error("real_fixed must be an integer with real_fixed * length <= 2**33 - 2");
  const double* tr = checked<double>(truth, "truth", {-1, -1}, false);
  const int64_t K = truth.shape(0);
  if (truth.shape(1) != K) throw py::value_error("truth must be a square K x K matrix");
  if (K < 1 || K > MAX_BIGRAM_TOKENS) throw py::value_error("truth must have 1 to 4096 tokens");
  if (top_k < 0 || top_k > K) throw py::value_error("top_k must lie in [0, K] (0: off)");
  const double* sa = checked<double>(start, "start", {K}, false);
  const double* pa = checked<double>(pi0, "pi0", {K}, false);
  const double* ct = checked<double>(counts, "counts", {-1, 2}, false);
  auto h = std::make_unique<BigramHolder>();
  h->truth.assign(tr, tr + K * K);
  h->pi0.assign(pa, pa + K);
  h->counts.assign(ct, ct + 2 * counts.shape(0));
  for (double c : h->counts)
    if (!(c >= 0.0 && c <= cap && c == std::floor(c)))
      throw py::value_error("counts must be integers with counts * length <= 2**33 - 2");
  h->truth_cdf.resize(K * K);
  for (int64_t i = 0; i < K; ++i) {
    double s = 0.0;
    for (int64_t j = 0; j < K; ++j) h->truth_cdf[i * K + j] = s += h->truth[i * K + j];
  }
  h->start_cdf.resize(K);
  double s = 0.0;
  for (int64_t j = 0; j < K; ++j) h->start_cdf[j] = s += sa[j];
  h->p = Bigram::Params{(int32_t)K,
                        loop,
                        top_k,
                        length,
                        tau,
                        top_p,
                        smoothing,
                        tpr,
                        fpr,
                        real_fixed,
                        h->truth.data(),
                        h->truth_cdf.data(),
                        h->start_cdf.data(),
                        h->pi0.data(),
                        h->counts.data(),
                        (int64_t)counts.shape(0),
                        subsample_n};
  return h;
}

}  // namespace

void bind_bigram(py::module_& m) {
  py::class_<BigramHolder>(m, "BigramParams")
      .def(py::init(&make_bigram), py::arg("loop"), py::arg("path"), py::arg("top_k"),
           py::arg("tau"), py::arg("top_p"), py::arg("smoothing"), py::arg("tpr"), py::arg("fpr"),
           py::arg("real_fixed"), py::arg("length"), py::arg("truth"), py::arg("start"),
           py::arg("pi0"), py::arg("counts"), py::arg("subsample_n") = 0)
      .def_property_readonly("state_size",
                             [](const BigramHolder& h) { return Bigram::state_size(h.p); })
      .def_property_readonly("observe_names",
                             [](const BigramHolder& h) { return observe_names_py<Bigram>(h.p); })
      .def_property_readonly("observe_size",
                             [](const BigramHolder& h) { return Bigram::observe_size(h.p); })
      .def_property_readonly("n_counts", [](const BigramHolder& h) { return h.p.n_counts; });
  def_holder_advance<Bigram, BigramHolder>(m, "advance_bigram");
#ifdef MADSIM_WITH_CUDA
  def_holder_advance_cuda<Bigram, BigramHolder>(m, "advance_bigram_cuda");
#endif
}

}  // namespace madsim_bind
