// madsim._core: the thin ring between Python and the header-only core. It
// checks dtype, shape, contiguity and writability of every array (TypeError /
// ValueError, never a crash), releases the GIL, and runs. Users never import
// it: python/madsim/_backend.py is its only importer.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "../cpu/launch.hpp"
#include "../cpu/philox_rate.hpp"
#include "../cuda/memory.hpp"
#ifdef MADSIM_WITH_CUDA
#include "../cuda/launch.hpp"
#endif
#include "../madsim/models/gaussian1d.hpp"
#include "../cpu/gaussian1d_lanes.hpp"
#include "../madsim/models/categorical.hpp"
#include "../madsim/models/bigram.hpp"
#include "../madsim/models/gaussian_loop.hpp"
#include "../madsim/models/gmm.hpp"
#include "../madsim/models/regression.hpp"
#include "../cpu/categorical_lanes.hpp"
#include "../cpu/gaussian_loop_lanes.hpp"
#include "../madsim/samplers.hpp"

namespace py = pybind11;
using namespace madsim;

namespace {

// Checks `a` and returns its data. shape entries of -1 match any extent.
template <class T>
T* checked(const py::array& a, const char* name, std::vector<int64_t> shape, bool writable) {
  if (!a.dtype().is(py::dtype::of<T>()))
    throw py::type_error(std::string(name) + ": expected dtype " +
                         std::string(py::str(py::dtype::of<T>())) + ", got " +
                         std::string(py::str(a.dtype())));
  if (a.ndim() != (py::ssize_t)shape.size())
    throw py::value_error(std::string(name) + ": expected " + std::to_string(shape.size()) +
                          " dimensions, got " + std::to_string(a.ndim()));
  for (size_t k = 0; k < shape.size(); ++k)
    if (shape[k] >= 0 && a.shape(k) != shape[k])
      throw py::value_error(std::string(name) + ": axis " + std::to_string(k) + " has length " +
                            std::to_string(a.shape(k)) + ", expected " + std::to_string(shape[k]));
  if (!(a.flags() & py::array::c_style))
    throw py::value_error(std::string(name) + ": must be C-contiguous");
  if (writable && !a.writeable()) throw py::value_error(std::string(name) + ": must be writable");
  return static_cast<T*>(const_cast<void*>(a.data()));
}

py::array_t<uint32_t> philox_py(const py::array& ctr, const py::array& key) {
  const uint32_t* c = checked<uint32_t>(ctr, "ctr", {-1, 4}, false);
  const uint32_t* k = checked<uint32_t>(key, "key", {2}, false);
  const py::ssize_t n = ctr.shape(0);
  py::array_t<uint32_t> out({n, (py::ssize_t)4});
  uint32_t* o = out.mutable_data();
  const u32x2 kk = {{k[0], k[1]}};
  for (py::ssize_t i = 0; i < n; ++i) {
    const u32x4 in = {{c[4 * i], c[4 * i + 1], c[4 * i + 2], c[4 * i + 3]}};
    const u32x4 r = philox4x32_10(in, kk);
    for (int j = 0; j < 4; ++j) o[4 * i + j] = r.v[j];
  }
  return out;
}

Stream stream_of(uint64_t seed, uint32_t replica, uint32_t generation, uint32_t tag, uint32_t site) {
  if (site > SITE_MAX) throw py::value_error("site must be < 2**24, got " + std::to_string(site));
  if (tag > 0xFF) throw py::value_error("tag must be < 256, got " + std::to_string(tag));
  return make_stream(seed_key(seed), replica, generation, tag, site);
}

py::array_t<uint32_t> stream_blocks(uint64_t seed, uint32_t replica, uint32_t generation,
                                    uint32_t tag, uint32_t site, uint32_t block_begin,
                                    int64_t count) {
  const Stream s = stream_of(seed, replica, generation, tag, site);
  if (count < 0 || (uint64_t)block_begin + (uint64_t)count > (1ull << 32))
    throw py::value_error("block_begin + count must lie in [0, 2**32]");
  py::array_t<uint32_t> out({(py::ssize_t)count, (py::ssize_t)4});
  uint32_t* o = out.mutable_data();
  for (int64_t i = 0; i < count; ++i) {
    const u32x4 r = s.block(block_begin + (uint32_t)i);
    for (int j = 0; j < 4; ++j) o[4 * i + j] = r.v[j];
  }
  return out;
}

// Applies a scalar transform elementwise to a 1-D array of In.
template <class In, class F>
py::array_t<double> map1(const py::array& a, const char* name, F f) {
  const In* x = checked<In>(a, name, {-1}, false);
  py::array_t<double> out(a.shape(0));
  double* o = out.mutable_data();
  for (py::ssize_t i = 0; i < a.shape(0); ++i) o[i] = f(x[i]);
  return out;
}

py::array_t<double> uniform52_py(const py::array& lo, const py::array& hi) {
  const uint32_t* l = checked<uint32_t>(lo, "lo", {-1}, false);
  const uint32_t* h = checked<uint32_t>(hi, "hi", {lo.shape(0)}, false);
  py::array_t<double> out(lo.shape(0));
  double* o = out.mutable_data();
  for (py::ssize_t i = 0; i < lo.shape(0); ++i) o[i] = uniform52(l[i], h[i]);
  return out;
}

py::tuple normal_pair_py(const py::array& ur, const py::array& ua) {
  const double* r = checked<double>(ur, "u_radius", {-1}, false);
  const double* a = checked<double>(ua, "u_angle", {ur.shape(0)}, false);
  py::array_t<double> c(ur.shape(0)), s(ur.shape(0));
  double *co = c.mutable_data(), *so = s.mutable_data();
  for (py::ssize_t i = 0; i < ur.shape(0); ++i) normal_pair(r[i], a[i], co[i], so[i]);
  return py::make_tuple(c, s);
}

py::array_t<double> normals_py(uint64_t seed, uint32_t replica, uint32_t generation, uint32_t tag,
                               uint32_t site, int64_t count) {
  const Stream s = stream_of(seed, replica, generation, tag, site);
  if (count < 0 || count > ((int64_t)1 << 33) - 2)
    throw py::value_error("count must lie in [0, 2**33 - 2] (the last block is reserved)");
  py::array_t<double> out(count);
  double* o = out.mutable_data();
  {
    py::gil_scoped_release nogil;
    for (int64_t i = 0; i < count; i += 2) {
      double a, b;
      normals_of_block(s.block((uint32_t)(i >> 1)), a, b);
      o[i] = a;
      if (i + 1 < count) o[i + 1] = b;
    }
  }
  return out;
}

py::tuple gamma_py(double alpha, uint64_t seed, const py::array& replicas, uint32_t generation,
                   uint32_t tag, uint32_t site) {
  if (!(alpha > 0.0) || !std::isfinite(alpha)) throw py::value_error("alpha must be finite and > 0");
  const uint32_t* rep = checked<uint32_t>(replicas, "replicas", {-1}, false);
  stream_of(seed, 0, generation, tag, site);  // validates tag and site
  const py::ssize_t n = replicas.shape(0);
  py::array_t<double> val(n), spare(n);
  py::array_t<uint32_t> tries(n);
  double *v = val.mutable_data(), *sp = spare.mutable_data();
  uint32_t* tr = tries.mutable_data();
  {
    py::gil_scoped_release nogil;
    const u32x2 key = seed_key(seed);
    for (py::ssize_t i = 0; i < n; ++i)
      v[i] = gamma_mt(alpha, make_stream(key, rep[i], generation, tag, site), sp[i], tr[i]);
  }
  return py::make_tuple(val, spare, tries);
}

py::tuple binomial_py(double n, double p, uint64_t seed, const py::array& replicas,
                      uint32_t generation, uint32_t tag, uint32_t site) {
  if (!(n >= 0.0) || n > 9007199254740992.0 || n != std::floor(n))
    throw py::value_error("n must be an integer in [0, 2**53]");
  if (!(p >= 0.0 && p <= 1.0)) throw py::value_error("p must lie in [0, 1]");
  const uint32_t* rep = checked<uint32_t>(replicas, "replicas", {-1}, false);
  stream_of(seed, 0, generation, tag, site);
  const py::ssize_t m = replicas.shape(0);
  py::array_t<double> val(m);
  py::array_t<uint32_t> tries(m);
  double* v = val.mutable_data();
  uint32_t* tr = tries.mutable_data();
  {
    py::gil_scoped_release nogil;
    const u32x2 key = seed_key(seed);
    for (py::ssize_t i = 0; i < m; ++i)
      v[i] = binomial(n, p, make_stream(key, rep[i], generation, tag, site), tr[i]);
  }
  return py::make_tuple(val, tries);
}

// One advance binding per family; the template keeps them one line each.
// advance_checked checks every array and hands a cpu::Chunk to `launch`
// (the CPU launcher, or the CUDA one) with the GIL released.
template <class M, class Launch>
void advance_checked(const typename M::Params& p, const py::array& state,
                     const py::array& replica_ids, uint64_t seed, uint32_t gen_begin,
                     uint32_t gen_end, const py::array& rec_gens, int64_t rec_offset,
                     const py::array& records, const py::array& detectors, const py::array& first,
                     int threads, const py::object& columns, Launch launch) {
  const int64_t S = M::state_size(p), O = M::observe_size(p);
  double* st = checked<double>(state, "state", {-1, S}, true);
  const int64_t R = state.shape(0);
  const uint32_t* ids = checked<uint32_t>(replica_ids, "replica_ids", {R}, false);
  const uint32_t* rg = checked<uint32_t>(rec_gens, "rec_gens", {-1}, false);
  // columns: the observe() columns a record row holds (None: all, in order).
  std::vector<int32_t> cols;
  if (columns.is_none()) {
    for (int32_t k = 0; k < O; ++k) cols.push_back(k);
  } else {
    if (!py::isinstance<py::array>(columns))
      throw py::type_error("columns: expected a numpy.ndarray of int32 or None");
    const py::array ca = py::reinterpret_borrow<py::array>(columns);
    const int32_t* c = checked<int32_t>(ca, "columns", {-1}, false);
    cols.assign(c, c + ca.shape(0));
    for (int32_t k : cols)
      if (k < 0 || k >= O)
        throw py::value_error("columns must be observe() columns in [0, " + std::to_string(O) + ")");
  }
  const int64_t C = (int64_t)cols.size();
  double* rec = checked<double>(records, "records", {R, -1, C}, true);
  const double* dt = checked<double>(detectors, "detectors", {-1, 3}, false);
  const int64_t D = detectors.shape(0);
  int64_t* fp = checked<int64_t>(first, "first", {R, D}, true);
  if (gen_end < gen_begin) throw py::value_error("gen_end must be >= gen_begin");
  if (gen_end == 0xFFFFFFFFu) throw py::value_error("gen_end must be < 2**32 - 1");
  const int64_t n_rec = rec_gens.shape(0), total = records.shape(1);
  if (rec_offset < 0 || rec_offset > total - n_rec)
    throw py::value_error("rec_offset + len(rec_gens) exceeds the record axis");
  for (int64_t k = 0; k < n_rec; ++k) {
    const bool in_chunk = rg[k] > gen_begin || (gen_begin == 0 && rg[k] == 0);
    if (!in_chunk || rg[k] > gen_end || (k > 0 && rg[k] <= rg[k - 1]))
      throw py::value_error("rec_gens must be ascending and inside the chunk");
  }
  std::vector<Detector> det(D);
  for (int64_t j = 0; j < D; ++j) {
    const double m = dt[3 * j];
    if (!(m >= 0 && m < O && m == std::floor(m)))
      throw py::value_error("detector metric index out of range");
    det[j] = Detector{(int32_t)m, dt[3 * j + 1] != 0.0, dt[3 * j + 2]};
  }
  if (threads < 1 || threads > 4096) throw py::value_error("threads must lie in [1, 4096]");
  cpu::Chunk c{seed,      gen_begin, gen_end,    rg, n_rec, rec_offset, total,
               cols.data(), C,       det.data(), (int32_t)D};
  py::gil_scoped_release nogil;
  launch(c, st, ids, R, rec, fp);
}

template <class M>
void advance_py(const typename M::Params& p, const py::array& state, const py::array& replica_ids,
                uint64_t seed, uint32_t gen_begin, uint32_t gen_end, const py::array& rec_gens,
                int64_t rec_offset, const py::array& records, const py::array& detectors,
                const py::array& first, int threads, const py::object& columns) {
  advance_checked<M>(p, state, replica_ids, seed, gen_begin, gen_end, rec_gens, rec_offset,
                     records, detectors, first, threads, columns,
                     [&](const cpu::Chunk& c, double* st, const uint32_t* ids, int64_t R,
                         double* rec, int64_t* fp) {
                       cpu::advance<M>(p, c, st, ids, R, rec, fp, threads);
                     });
}

#ifdef MADSIM_WITH_CUDA
// The same checks, then the CUDA launcher (csrc/cuda/launch.cu). `threads`
// is accepted so the driver calls both alike, and ignored; `block` (threads
// per CUDA block) and `gens_per_launch` never change a number.
template <class M>
void advance_cuda_py(const typename M::Params& p, const py::array& state,
                     const py::array& replica_ids, uint64_t seed, uint32_t gen_begin,
                     uint32_t gen_end, const py::array& rec_gens, int64_t rec_offset,
                     const py::array& records, const py::array& detectors, const py::array& first,
                     int threads, const py::object& columns, int block, uint32_t gens_per_launch) {
  if (block < 32 || block > 1024 || block % 32 != 0)
    throw py::value_error("block must be a multiple of 32 in [32, 1024], got " + std::to_string(block));
  advance_checked<M>(p, state, replica_ids, seed, gen_begin, gen_end, rec_gens, rec_offset,
                     records, detectors, first, 1, columns,
                     [&](const cpu::Chunk& c, double* st, const uint32_t* ids, int64_t R,
                         double* rec, int64_t* fp) {
                       const cuda::Chunk cc{c.seed,     c.gen_begin, c.gen_end, c.rec_gens,
                                            c.n_rec,    c.rec_offset, c.rec_total, c.cols,
                                            c.n_cols,   c.det,       c.n_det,   block,
                                            gens_per_launch};
                       cuda::advance<M>(p, cc, st, ids, R, rec, fp);
                     });
  (void)threads;
}

// advance_<family>_cuda for a holder's family, as def_holder_advance.
template <class M, class H>
void def_holder_advance_cuda(py::module_& m, const char* name) {
  m.def(
      name,
      [](const H& h, const py::array& state, const py::array& replica_ids, uint64_t seed,
         uint32_t gen_begin, uint32_t gen_end, const py::array& rec_gens, int64_t rec_offset,
         const py::array& records, const py::array& detectors, const py::array& first,
         int threads, const py::object& columns, int block, uint32_t gens_per_launch) {
        if ((int64_t)gen_end > h.p.n_counts)
          throw py::value_error("gen_end exceeds the generations the counts schedule covers");
        advance_cuda_py<M>(h.p, state, replica_ids, seed, gen_begin, gen_end, rec_gens,
                           rec_offset, records, detectors, first, threads, columns, block,
                           gens_per_launch);
      },
      py::arg("params"), py::arg("state"), py::arg("replica_ids"), py::arg("seed"),
      py::arg("gen_begin"), py::arg("gen_end"), py::arg("rec_gens"), py::arg("rec_offset"),
      py::arg("records"), py::arg("detectors"), py::arg("first"), py::arg("threads") = 1,
      py::arg("columns") = py::none(), py::arg("block") = 128, py::arg("gens_per_launch") = 0u);
}

py::array_t<uint32_t> philox_cuda_py(const py::array& ctr, const py::array& key) {
  const uint32_t* c = checked<uint32_t>(ctr, "ctr", {-1, 4}, false);
  const uint32_t* k = checked<uint32_t>(key, "key", {2}, false);
  const py::ssize_t n = ctr.shape(0);
  py::array_t<uint32_t> out({n, (py::ssize_t)4});
  uint32_t* o = out.mutable_data();
  py::gil_scoped_release nogil;
  cuda::philox_device(c, n, k, o);
  return out;
}

py::dict cuda_runtime_py() {
  const cuda::RuntimeInfo i = cuda::runtime_info();
  py::dict d;
  d["runtime_version"] = i.runtime_version;
  d["driver_version"] = i.driver_version;
  d["device_count"] = i.device_count;
  d["error"] = i.error;
  if (i.device_count > 0) {
    d["device_name"] = i.device_name;
    d["compute_capability"] = std::to_string(i.cc_major) + "." + std::to_string(i.cc_minor);
    d["multiprocessors"] = i.multiprocessors;
    d["free_bytes"] = i.free_bytes;
    d["total_bytes"] = i.total_bytes;
  }
  return d;
}
#endif

// GaussianLoop::Params points at the truth and the count schedule; the holder
// owns them (Python keeps the holder alive for the whole call).
struct GaussianLoopHolder {
  GaussianLoop::Params p;
  std::vector<double> truth, counts, basis;
};

std::unique_ptr<GaussianLoopHolder> make_gaussian_loop(
    int32_t d, int32_t loop, int32_t estimator, int32_t path, double tau, double trunc,
    double weight, double tpr, double fpr, double real_fixed, int64_t subsample_n,
    int64_t pool_cap, const py::array& truth, const py::array& counts, int32_t factors,
    const py::object& basis) {
  if (d < 1 || d > 256) throw py::value_error("d must lie in [1, 256]");
  if (loop < GaussianLoop::REPLACE || loop > GaussianLoop::SUBSAMPLE)
    throw py::value_error("loop must be 0..4 (replace, augment, fresh, accumulate, subsample)");
  if (estimator != GaussianLoop::MLE && estimator != GaussianLoop::UNBIASED)
    throw py::value_error("estimator must be 0 (mle) or 1 (unbiased)");
  if (path != GaussianLoop::EXACT && path != GaussianLoop::SAMPLES)
    throw py::value_error("path must be 0 (exact) or 1 (samples)");
  if (!(tau > 0.0 && std::isfinite(tau))) throw py::value_error("tau must be finite and > 0");
  if (!(trunc >= 0.0 && std::isfinite(trunc))) throw py::value_error("trunc must be finite and >= 0");
  if (trunc > 0.0 && path != GaussianLoop::SAMPLES) throw py::value_error("trunc needs the samples path");
  if (!(weight <= 1.0) || !(weight >= 0.0 || weight == -1.0))
    throw py::value_error("weight must be -1 (pooled) or lie in [0, 1]");
  if (!(tpr >= 0.0 && tpr <= 1.0) || !(fpr >= 0.0 && fpr <= 1.0))
    throw py::value_error("tpr and fpr must lie in [0, 1]");
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
  for (double x : h->truth)
    if (!std::isfinite(x)) throw py::value_error("truth must be finite");
  for (int i = 0; i < d; ++i)
    if (!(h->truth[d + tri(i, i)] > 0.0))
      throw py::value_error("truth: the Cholesky factor needs a positive diagonal");
  // PPCA: factors q in [1, d), basis [d, q] orthonormal (the truth's principal subspace).
  if (factors != 0) {
    if (factors < 1 || factors >= d)
      throw py::value_error("factors must be 0 (full covariance) or lie in [1, d - 1] = [1, " +
                            std::to_string(d - 1) + "], got " + std::to_string(factors));
    if (basis.is_none()) throw py::value_error("factors > 0 needs basis, the truth's [d, q] subspace");
    const py::array b = basis.cast<py::array>();
    const double* bp = checked<double>(b, "basis", {d, factors}, false);
    h->basis.assign(bp, bp + (int64_t)d * factors);
    for (int a = 0; a < factors; ++a)
      for (int c = 0; c <= a; ++c) {
        double g = 0.0;
        for (int i = 0; i < d; ++i) g += h->basis[i * factors + a] * h->basis[i * factors + c];
        if (!(std::fabs(g - (a == c ? 1.0 : 0.0)) <= 1e-9))
          throw py::value_error("basis must have orthonormal columns (|U'U - I| <= 1e-9)");
      }
  } else if (!basis.is_none()) {
    throw py::value_error("basis is for factors > 0 (PPCA); got factors = 0");
  }
  h->p = GaussianLoop::Params{d, loop, estimator, path, tau, trunc, weight, tpr, fpr, real_fixed,
                              subsample_n, pool_cap, h->truth.data(), h->counts.data(),
                              (int64_t)counts.shape(0), factors,
                              factors > 0 ? h->basis.data() : nullptr};
  return h;
}

// Categorical::Params points at the truth, the rare-token mask and the count
// schedule; the holder owns them.
struct CategoricalHolder {
  Categorical::Params p;
  std::vector<double> truth, rare, counts;
};

constexpr int64_t MAX_TOKENS = (int64_t)SITE_MAX + 1;  // a token's exact-path stream is its site

std::unique_ptr<CategoricalHolder> make_categorical(
    int32_t loop, int32_t path, int32_t top_k, double tau, double top_p, double smoothing,
    double weight, double tpr, double fpr, double real_fixed, int64_t subsample_n,
    const py::array& truth, const py::array& rare, const py::array& counts) {
  if (loop < Categorical::REPLACE || loop > Categorical::SUBSAMPLE)
    throw py::value_error("loop must be 0..4 (replace, augment, fresh, accumulate, subsample)");
  if (path != Categorical::EXACT && path != Categorical::SAMPLES)
    throw py::value_error("path must be 0 (exact) or 1 (samples)");
  if (!(tau > 0.0 && std::isfinite(tau))) throw py::value_error("tau must be finite and > 0");
  if (!(top_p > 0.0 && top_p <= 1.0)) throw py::value_error("top_p must lie in (0, 1]");
  if (!(smoothing >= 0.0 && std::isfinite(smoothing))) throw py::value_error("smoothing must be finite and >= 0");
  if (!(weight <= 1.0) || !(weight >= 0.0 || weight == -1.0))
    throw py::value_error("weight must be -1 (pooled) or lie in [0, 1]");
  if (weight >= 0.0 && smoothing > 0.0) throw py::value_error("smoothing needs the pooled fit (weight -1)");
  if (!(tpr >= 0.0 && tpr <= 1.0) || !(fpr >= 0.0 && fpr <= 1.0))
    throw py::value_error("tpr and fpr must lie in [0, 1]");
  if (!(real_fixed >= 0.0 && real_fixed <= 1099511627776.0 && real_fixed == std::floor(real_fixed)))
    throw py::value_error("real_fixed must be an integer in [0, 2**40]");
  if (loop == Categorical::SUBSAMPLE) {
    if (subsample_n < 1 || subsample_n > 0xFFFFFFFFll) throw py::value_error("subsample_n must lie in [1, 2**32 - 1]");
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
  double total = 0.0;
  for (double x : h->truth) {
    if (!(x >= 0.0 && x <= 1.0)) throw py::value_error("truth: probabilities must lie in [0, 1]");
    total += x;
  }
  if (!(std::fabs(total - 1.0) <= 1e-9)) throw py::value_error("truth: probabilities must sum to 1");
  const double cap = path == Categorical::SAMPLES ? 8589934590.0 : 1099511627776.0;
  for (double c : h->counts)
    if (!(c >= 0.0 && c <= cap && c == std::floor(c)))
      throw py::value_error(path == Categorical::SAMPLES
                                ? "counts must be integers in [0, 2**33 - 2] on the samples path"
                                : "counts must be integers in [0, 2**40]");
  if (path == Categorical::SAMPLES && real_fixed > cap)
    throw py::value_error("real_fixed must be <= 2**33 - 2 on the samples path");
  h->p = Categorical::Params{(int32_t)K, loop, path, top_k, tau, top_p, smoothing, weight, tpr, fpr,
                             real_fixed, subsample_n, h->truth.data(), h->rare.data(),
                             h->counts.data(), (int64_t)counts.shape(0)};
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
    if (!(pr[i] >= 0.0 && std::isfinite(pr[i]))) throw py::value_error("probs must be finite and >= 0");
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

// Bigram::Params points at the truth, its rows' and the start law's
// cumulative sums, the stationary law and the count schedule; the holder
// owns them.
struct BigramHolder {
  Bigram::Params p;
  std::vector<double> truth, truth_cdf, start_cdf, pi0, counts;
};

constexpr int64_t MAX_BIGRAM_TOKENS = 4096;  // K*K doubles of state per replica

void check_probs(const double* x, int64_t n, const char* what) {
  double total = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    if (!(x[i] >= 0.0 && x[i] <= 1.0))
      throw py::value_error(std::string(what) + ": probabilities must lie in [0, 1]");
    total += x[i];
  }
  if (!(std::fabs(total - 1.0) <= 1e-9))
    throw py::value_error(std::string(what) + ": probabilities must sum to 1");
}

std::unique_ptr<BigramHolder> make_bigram(
    int32_t loop, int32_t path, int32_t top_k, double tau, double top_p, double smoothing,
    double tpr, double fpr, double real_fixed, int64_t length, const py::array& truth,
    const py::array& start, const py::array& pi0, const py::array& counts, int64_t subsample_n) {
  if (loop < Bigram::REPLACE || loop > Bigram::SUBSAMPLE)
    throw py::value_error("loop must be 0..4 (replace, augment, fresh, accumulate, subsample)");
  if (path == 0)
    throw py::value_error("path 0 (exact) does not exist for the bigram model: the visit counts "
                          "depend on the transitions drawn, so the transition counts cannot be "
                          "drawn without walking the chain; use 1 (samples)");
  if (path != Bigram::SAMPLES) throw py::value_error("path must be 1 (samples)");
  if (!(tau > 0.0 && std::isfinite(tau))) throw py::value_error("tau must be finite and > 0");
  if (!(top_p > 0.0 && top_p <= 1.0)) throw py::value_error("top_p must lie in (0, 1]");
  if (!(smoothing >= 0.0 && std::isfinite(smoothing))) throw py::value_error("smoothing must be finite and >= 0");
  if (!(tpr >= 0.0 && tpr <= 1.0) || !(fpr >= 0.0 && fpr <= 1.0))
    throw py::value_error("tpr and fpr must lie in [0, 1]");
  if (length < 2 || length > 4294967296ll) throw py::value_error("length must lie in [2, 2**32]");
  const double cap = std::floor(8589934590.0 / (double)length);  // tokens of a part: 2**32 blocks
  if (loop == Bigram::SUBSAMPLE) {  // picks: one block each
    if (subsample_n < 1 || (double)subsample_n * (double)(length - 1) > 4294967295.0)
      throw py::value_error("subsample_n must be >= 1 with subsample_n * (length - 1) <= 2**32 - 1");
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
  for (int64_t i = 0; i < K; ++i)
    check_probs(h->truth.data() + i * K, K, ("truth: row " + std::to_string(i)).c_str());
  check_probs(sa, K, "start");
  check_probs(h->pi0.data(), K, "pi0");
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
  h->p = Bigram::Params{(int32_t)K, loop, top_k, length, tau, top_p, smoothing, tpr, fpr,
                        real_fixed, h->truth.data(), h->truth_cdf.data(), h->start_cdf.data(),
                        h->pi0.data(), h->counts.data(), (int64_t)counts.shape(0), subsample_n};
  return h;
}

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
    if (subsample_n < 1 || subsample_n > 0xFFFFFFFFll) throw py::value_error("subsample_n must lie in [1, 2**32 - 1]");
  } else {
    subsample_n = 0;
  }
  if (loop == G::ACCUMULATE || loop == G::SUBSAMPLE) {
    if (pool_cap < 1 || pool_cap > ((int64_t)1 << 36) / (d + 1))
      throw py::value_error("pool_cap must lie in [1, 2**36 / (d + 1)] for the accumulating loops");
  } else {
    pool_cap = 0;
  }
  if (em_iters < 1) throw py::value_error("em_iters must be >= 1");
  if (!(em_tol >= 0.0 && std::isfinite(em_tol))) throw py::value_error("em_tol must be finite and >= 0");
  if (!(cov_floor > 0.0 && std::isfinite(cov_floor))) throw py::value_error("cov_floor must be finite and > 0");
  if (!(tau > 0.0 && std::isfinite(tau))) throw py::value_error("tau must be finite and > 0");
  if (!(tpr >= 0.0 && tpr <= 1.0) || !(fpr >= 0.0 && fpr <= 1.0))
    throw py::value_error("tpr and fpr must lie in [0, 1]");
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
  for (double x : h->truth)
    if (!std::isfinite(x)) throw py::value_error("truth must be finite");
  double total = 0.0;
  for (int j = 0; j < k; ++j) {
    if (!(h->truth[j] >= 0.0 && h->truth[j] <= 1.0)) throw py::value_error("truth: weights must lie in [0, 1]");
    total += h->truth[j];
  }
  if (!(std::fabs(total - 1.0) <= 1e-9)) throw py::value_error("truth: weights must sum to 1");
  for (int j = 0; j < k; ++j)
    for (int i = 0; i < d; ++i) {
      const double l = h->truth[(int64_t)k * (1 + d) + j * T + tri(i, i)];
      if (!(l > 0.0 && l * l >= cov_floor))
        throw py::value_error("truth: every Cholesky pivot^2 must be >= cov_floor");
    }
  for (double x : h->tails)
    if (!std::isfinite(x)) throw py::value_error("tails must be finite");
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
    throw py::value_error("a fit's points need more than 2**28 doubles of scratch per thread "
                          "(most points x (d + k); Accumulate: the whole pool); use fewer points "
                          "per generation (or AccumulateSubsample)");
  h->p = G::Params{k, d, cov_type, loop, em_iters, em_tol, cov_floor, tau, tpr, fpr, real_fixed,
                   (int64_t)n_max, h->truth.data(), h->tails.data(), h->counts.data(),
                   (int64_t)counts.shape(0), subsample_n, pool_cap};
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

// Regression::Params points at the truth (w*, L0 packed, sigma0^2) and the
// count schedule; the holder owns them.
struct RegressionHolder {
  Regression::Params p;
  std::vector<double> truth, counts;
};

std::unique_ptr<RegressionHolder> make_regression(
    int32_t d, int32_t loop, int32_t path, int32_t design, int32_t estimator, int32_t refit_noise,
    double ridge, double tpr, double fpr, double real_fixed, double fixed_real,
    double fixed_synthetic, const py::array& truth, const py::array& counts, int64_t subsample_n,
    int64_t pool_cap) {
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
  if (!(ridge >= 0.0 && std::isfinite(ridge))) throw py::value_error("ridge must be finite and >= 0");
  if (!(tpr >= 0.0 && tpr <= 1.0) || !(fpr >= 0.0 && fpr <= 1.0))
    throw py::value_error("tpr and fpr must lie in [0, 1]");
  if (design == Regression::FIXED_DESIGN && (tpr > 0.0 || fpr > 0.0))
    throw py::value_error("a fixed design takes no filter (tpr = fpr = 0)");
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
  const char* cap_msg = path == Regression::SAMPLES
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
  if (design == Regression::FIXED_DESIGN)
    for (int64_t r = 0; r < counts.shape(0); ++r)
      if (h->counts[2 * r] != fixed_real || h->counts[2 * r + 1] != fixed_synthetic)
        throw py::value_error("a fixed design needs every counts row = (fixed_real, fixed_synthetic)");
  for (double x : h->truth)
    if (!std::isfinite(x)) throw py::value_error("truth must be finite");
  for (int i = 0; i < d; ++i)
    if (!(h->truth[d + tri(i, i)] > 0.0))
      throw py::value_error("truth: the Cholesky factor needs a positive diagonal");
  if (!(h->truth[d + T] > 0.0)) throw py::value_error("truth: the noise variance must be > 0");
  h->p = Regression::Params{d, loop, path, design, estimator, refit_noise, ridge, tpr, fpr,
                            real_fixed, fixed_real, fixed_synthetic, h->truth.data(),
                            h->counts.data(), (int64_t)counts.shape(0), subsample_n, pool_cap};
  return h;
}

// advance_<family> for a family whose params live in a holder H (it owns the
// arrays): the count schedule bounds gen_end, then advance_py.
template <class M, class H>
void def_holder_advance(py::module_& m, const char* name) {
  m.def(
      name,
      [](const H& h, const py::array& state, const py::array& replica_ids, uint64_t seed,
         uint32_t gen_begin, uint32_t gen_end, const py::array& rec_gens, int64_t rec_offset,
         const py::array& records, const py::array& detectors, const py::array& first,
         int threads, const py::object& columns) {
        if ((int64_t)gen_end > h.p.n_counts)
          throw py::value_error("gen_end exceeds the generations the counts schedule covers");
        advance_py<M>(h.p, state, replica_ids, seed, gen_begin, gen_end, rec_gens, rec_offset,
                      records, detectors, first, threads, columns);
      },
      py::arg("params"), py::arg("state"), py::arg("replica_ids"), py::arg("seed"),
      py::arg("gen_begin"), py::arg("gen_end"), py::arg("rec_gens"), py::arg("rec_offset"),
      py::arg("records"), py::arg("detectors"), py::arg("first"), py::arg("threads"),
      py::arg("columns") = py::none());
}

py::dict build_info() {
  py::dict d;
  d["rng"] = "philox4x32-10";
  d["rng_layout_version"] = RNG_LAYOUT_VERSION;
#if defined(__clang__)
  d["compiler"] = std::string("clang ") + __clang_version__;
#elif defined(__GNUC__)
  d["compiler"] = std::string("gcc ") + __VERSION__;
#else
  d["compiler"] = "unknown";
#endif
  // The instruction set of the CPU launcher's SIMD lanes on this machine (the
  // numbers are the same on either).
  const cpu::LaneMode lm = cpu::lane_mode();
  d["cpu_lanes"] = lm == cpu::LANES_OFF ? std::string("off")
                   : std::string(lm == cpu::LANES_AVX2 ? "avx2" : "baseline") + " x" +
                         std::to_string(cpu::LANES);
#ifdef MADSIM_BUILD_FLAGS
  d["flags"] = MADSIM_BUILD_FLAGS;
#endif
#ifdef MADSIM_WITH_CUDA
  d["cuda"] = true;
  d["cuda_version"] = MADSIM_CUDA_COMPILER_VERSION;  // nvcc that compiled the launcher
  d["cuda_architectures"] = MADSIM_CUDA_ARCHITECTURES;
  d["cuda_flags"] = MADSIM_CUDA_FLAGS;
#else
  d["cuda"] = false;
#endif
  d["hardware_threads"] = std::thread::hardware_concurrency();
  return d;
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "madsim compiled core (internal: use the madsim package)";
  m.attr("RNG_LAYOUT_VERSION") = RNG_LAYOUT_VERSION;
  m.attr("TAG_SAMPLES") = (uint32_t)TAG_SAMPLES;
  m.attr("TAG_SCATTER") = (uint32_t)TAG_SCATTER;
  m.attr("TAG_REAL") = (uint32_t)TAG_REAL;
  m.attr("TAG_FILTER") = (uint32_t)TAG_FILTER;
  m.attr("TAG_SUBSET") = (uint32_t)TAG_SUBSET;
  m.attr("TAG_TEST") = (uint32_t)TAG_TEST;

  m.def("build_info", &build_info);
  m.def(
      "philox_seconds",
      [](uint64_t blocks, int threads, bool lanes) {
        if (threads < 1) throw py::value_error("threads must be >= 1");
        py::gil_scoped_release nogil;
        return cpu::philox_seconds(blocks, threads, lanes);
      },
      py::arg("blocks_per_thread"), py::arg("threads"), py::arg("lanes") = false,
      "Seconds for each of `threads` threads to generate `blocks_per_thread` Philox blocks "
      "(lanes: with the SIMD lane generator of the CPU launcher).");
  m.def("philox4x32_10", &philox_py, py::arg("ctr"), py::arg("key"));
  m.def("stream_blocks", &stream_blocks, py::arg("seed"), py::arg("replica"), py::arg("generation"),
        py::arg("tag"), py::arg("site"), py::arg("block_begin"), py::arg("count"));
  m.def("uniform52", &uniform52_py, py::arg("lo"), py::arg("hi"));
  m.def("uniform32", [](const py::array& w) { return map1<uint32_t>(w, "words", uniform32); }, py::arg("words"));
  m.def("normal_pair", &normal_pair_py, py::arg("u_radius"), py::arg("u_angle"));
  m.def("det_log", [](const py::array& x) {
          return map1<double>(x, "x", [](double v) {
            if (!(v >= 2.2250738585072014e-308 && v <= 1.7976931348623157e308))
              throw py::value_error("det_log: x must be a normal positive finite double");
            return det_log(v);
          });
        }, py::arg("x"), "detmath.hpp's ln x (the host transforms' log).");
  m.def("det_sincos_2pi", [](const py::array& u) {
          const double* a = checked<double>(u, "u", {-1}, false);
          py::array_t<double> c(u.shape(0)), s(u.shape(0));
          double *co = c.mutable_data(), *so = s.mutable_data();
          for (py::ssize_t i = 0; i < u.shape(0); ++i) {
            if (!(a[i] >= 0.0 && a[i] <= 1.0)) throw py::value_error("det_sincos_2pi: u must lie in [0, 1]");
            det_sincos_2pi(a[i], co[i], so[i]);
          }
          return py::make_tuple(c, s);
        }, py::arg("u"), "detmath.hpp's (cos 2 pi u, sin 2 pi u).");
  m.def("log_factorial", [](const py::array& k) {
          return map1<double>(k, "k", [](double x) {
            if (!(x >= 0.0) || x != std::floor(x)) throw py::value_error("k must be integers >= 0");
            return log_factorial(x);
          });
        }, py::arg("k"));
  m.def("normals", &normals_py, py::arg("seed"), py::arg("replica"), py::arg("generation"),
        py::arg("tag"), py::arg("site"), py::arg("count"));
  m.def("gamma", &gamma_py, py::arg("alpha"), py::arg("seed"), py::arg("replicas"),
        py::arg("generation"), py::arg("tag"), py::arg("site"));
  m.def("binomial", &binomial_py, py::arg("n"), py::arg("p"), py::arg("seed"), py::arg("replicas"),
        py::arg("generation"), py::arg("tag"), py::arg("site"));

  py::class_<Gaussian1D::Params>(m, "Gaussian1DParams")
      .def(py::init([](double n, double tau, int32_t estimator, int32_t path, double mu0, double var0) {
             if (!(n >= 2.0 && n <= 4294967296.0 && n == std::floor(n)))
               throw py::value_error("n must be an integer in [2, 2**32]");
             if (!(tau >= 0.0 && std::isfinite(tau))) throw py::value_error("tau must be finite and >= 0");
             if (estimator != Gaussian1D::MLE && estimator != Gaussian1D::UNBIASED)
               throw py::value_error("estimator must be 0 (mle) or 1 (unbiased)");
             if (path != Gaussian1D::EXACT && path != Gaussian1D::SAMPLES)
               throw py::value_error("path must be 0 (exact) or 1 (samples)");
             if (!std::isfinite(mu0)) throw py::value_error("mu0 must be finite");
             if (!(var0 > 0.0 && std::isfinite(var0))) throw py::value_error("var0 must be finite and > 0");
             return Gaussian1D::Params{n, tau, estimator, path, mu0, var0};
           }),
           py::arg("n"), py::arg("tau"), py::arg("estimator"), py::arg("path"), py::arg("mu0") = 0.0,
           py::arg("var0") = 1.0)
      .def_readonly("n", &Gaussian1D::Params::n)
      .def_readonly("tau", &Gaussian1D::Params::tau)
      .def_readonly("estimator", &Gaussian1D::Params::estimator)
      .def_readonly("path", &Gaussian1D::Params::path)
      .def_readonly("mu0", &Gaussian1D::Params::mu0)
      .def_readonly("var0", &Gaussian1D::Params::var0)
      .def_property_readonly("observe_size", [](const Gaussian1D::Params& p) { return Gaussian1D::observe_size(p); });
  py::class_<GaussianLoopHolder>(m, "GaussianLoopParams")
      .def(py::init(&make_gaussian_loop), py::arg("d"), py::arg("loop"), py::arg("estimator"),
           py::arg("path"), py::arg("tau"), py::arg("trunc"), py::arg("weight"), py::arg("tpr"),
           py::arg("fpr"), py::arg("real_fixed"), py::arg("subsample_n"), py::arg("pool_cap"),
           py::arg("truth"), py::arg("counts"), py::arg("factors") = 0, py::arg("basis") = py::none())
      .def_property_readonly("state_size", [](const GaussianLoopHolder& h) { return GaussianLoop::state_size(h.p); })
      .def_property_readonly("observe_size", [](const GaussianLoopHolder& h) { return GaussianLoop::observe_size(h.p); })
      .def_property_readonly("n_counts", [](const GaussianLoopHolder& h) { return h.p.n_counts; });
  def_holder_advance<GaussianLoop, GaussianLoopHolder>(m, "advance_gaussian_loop");
  py::class_<CategoricalHolder>(m, "CategoricalParams")
      .def(py::init(&make_categorical), py::arg("loop"), py::arg("path"), py::arg("top_k"),
           py::arg("tau"), py::arg("top_p"), py::arg("smoothing"), py::arg("weight"),
           py::arg("tpr"), py::arg("fpr"), py::arg("real_fixed"), py::arg("subsample_n"),
           py::arg("truth"), py::arg("rare"), py::arg("counts"))
      .def_property_readonly("state_size", [](const CategoricalHolder& h) { return Categorical::state_size(h.p); })
      .def_property_readonly("observe_size", [](const CategoricalHolder& h) { return Categorical::observe_size(h.p); })
      .def_property_readonly("n_counts", [](const CategoricalHolder& h) { return h.p.n_counts; });
  def_holder_advance<Categorical, CategoricalHolder>(m, "advance_categorical");
  py::class_<BigramHolder>(m, "BigramParams")
      .def(py::init(&make_bigram), py::arg("loop"), py::arg("path"), py::arg("top_k"),
           py::arg("tau"), py::arg("top_p"), py::arg("smoothing"), py::arg("tpr"), py::arg("fpr"),
           py::arg("real_fixed"), py::arg("length"), py::arg("truth"), py::arg("start"),
           py::arg("pi0"), py::arg("counts"), py::arg("subsample_n") = 0)
      .def_property_readonly("state_size", [](const BigramHolder& h) { return Bigram::state_size(h.p); })
      .def_property_readonly("observe_size", [](const BigramHolder& h) { return Bigram::observe_size(h.p); })
      .def_property_readonly("n_counts", [](const BigramHolder& h) { return h.p.n_counts; });
  def_holder_advance<Bigram, BigramHolder>(m, "advance_bigram");
  py::class_<GmmHolder>(m, "GaussianMixtureParams")
      .def(py::init(&make_gmm), py::arg("k"), py::arg("d"), py::arg("cov_type"), py::arg("loop"),
           py::arg("em_iters"), py::arg("em_tol"), py::arg("cov_floor"), py::arg("tau"),
           py::arg("tpr"), py::arg("fpr"), py::arg("real_fixed"), py::arg("truth"),
           py::arg("tails"), py::arg("counts"), py::arg("subsample_n") = 0,
           py::arg("pool_cap") = 0)
      .def_property_readonly("state_size", [](const GmmHolder& h) { return GaussianMixture::state_size(h.p); })
      .def_property_readonly("observe_size", [](const GmmHolder& h) { return GaussianMixture::observe_size(h.p); })
      .def_property_readonly("scratch_size", [](const GmmHolder& h) { return GaussianMixture::scratch_size(h.p); })
      .def_property_readonly("n_max", [](const GmmHolder& h) { return h.p.n_max; })
      .def_property_readonly("n_counts", [](const GmmHolder& h) { return h.p.n_counts; });
  def_holder_advance<GaussianMixture, GmmHolder>(m, "advance_gmm");
  m.def("gmm_em", &gmm_em_py, py::arg("params"), py::arg("state"), py::arg("points"));
  py::class_<RegressionHolder>(m, "RegressionParams")
      .def(py::init(&make_regression), py::arg("d"), py::arg("loop"), py::arg("path"),
           py::arg("design"), py::arg("estimator"), py::arg("refit_noise"), py::arg("ridge"),
           py::arg("tpr"), py::arg("fpr"), py::arg("real_fixed"), py::arg("fixed_real"),
           py::arg("fixed_synthetic"), py::arg("truth"), py::arg("counts"),
           py::arg("subsample_n") = 0, py::arg("pool_cap") = 0)
      .def_property_readonly("state_size", [](const RegressionHolder& h) { return Regression::state_size(h.p); })
      .def_property_readonly("observe_size", [](const RegressionHolder& h) { return Regression::observe_size(h.p); })
      .def_property_readonly("n_counts", [](const RegressionHolder& h) { return h.p.n_counts; });
  def_holder_advance<Regression, RegressionHolder>(m, "advance_regression");
  m.def("categorical_sampling_law", &categorical_sampling_law, py::arg("probs"), py::arg("tau"),
        py::arg("top_k"), py::arg("top_p"));
  m.def("advance_gaussian1d", &advance_py<Gaussian1D>, py::arg("params"), py::arg("state"),
        py::arg("replica_ids"), py::arg("seed"), py::arg("gen_begin"), py::arg("gen_end"),
        py::arg("rec_gens"), py::arg("rec_offset"), py::arg("records"), py::arg("detectors"),
        py::arg("first"), py::arg("threads"), py::arg("columns") = py::none());

  // Device memory of a CUDA call (csrc/cuda/memory.hpp): pure arithmetic,
  // present in every build.
  m.attr("CUDA_MEMORY_MARGIN") = cuda::MARGIN_BYTES;
  m.def(
      "cuda_memory_estimate",
      [](int64_t R, int64_t state_size, int64_t observe_size, int64_t scratch_size, int64_t n_rec,
         int64_t n_cols, int64_t n_det, int64_t array_doubles, int64_t slots) {
        for (int64_t v : {R, state_size, observe_size, scratch_size, n_rec, n_cols, n_det,
                          array_doubles, slots})
          if (v < 0) throw py::value_error("cuda_memory_estimate: every count must be >= 0");
        const cuda::MemoryNeed n =
            cuda::memory_need(R, state_size, observe_size, scratch_size, n_rec, n_cols, n_det,
                              array_doubles, slots, cuda::looks_bytes(n_rec, n_cols, n_det));
        py::dict d;
        d["state"] = n.state;
        d["ids"] = n.ids;
        d["records"] = n.records;
        d["first"] = n.first;
        d["observe"] = n.observe;
        d["scratch"] = n.scratch;
        d["arrays"] = n.arrays;
        d["total"] = n.total();
        return d;
      },
      py::arg("replicas"), py::arg("state_size"), py::arg("observe_size"), py::arg("scratch_size"),
      py::arg("n_rec"), py::arg("n_cols"), py::arg("n_det"), py::arg("array_doubles"),
      py::arg("slots"));

  m.def(
      "cuda_launch_plan",
      [](uint32_t gen_begin, uint32_t gen_end, const py::array& rec_gens, uint32_t gens_per_launch,
         int64_t rec_fit) {
        const uint32_t* rg = checked<uint32_t>(rec_gens, "rec_gens", {-1}, false);
        if (gen_end < gen_begin) throw py::value_error("gen_end must be >= gen_begin");
        const auto plan = cuda::launch_plan(gen_begin, gen_end, rg, rec_gens.shape(0),
                                            gens_per_launch, rec_fit);
        py::list out;
        for (const auto& l : plan) out.append(py::make_tuple(l.begin, l.end, l.r0, l.nr));
        return out;
      },
      py::arg("gen_begin"), py::arg("gen_end"), py::arg("rec_gens"), py::arg("gens_per_launch"),
      py::arg("rec_fit"),
      "The CUDA launcher's kernel launches for one call: [(begin, end, r0, n_rec)].");

#ifdef MADSIM_WITH_CUDA
  static py::exception<cuda::Error> cuda_error(m, "CudaError", PyExc_RuntimeError);
  py::register_exception_translator([](std::exception_ptr ep) {
    try {
      if (ep) std::rethrow_exception(ep);
    } catch (const cuda::OutOfMemory& e) {
      PyErr_SetString(PyExc_MemoryError, e.what());
    } catch (const cuda::Error& e) {
      PyErr_SetString(cuda_error.ptr(), e.what());
    }
  });
  m.def("cuda_device_count", []() { return cuda::device_count(nullptr); },
        "Visible CUDA devices (0 without a driver or a device).");
  m.def("cuda_runtime", &cuda_runtime_py,
        "CUDA runtime and driver versions, device count (and why 0), device 0's name and memory.");
  m.def("philox4x32_10_cuda", &philox_cuda_py, py::arg("ctr"), py::arg("key"),
        "philox4x32_10 computed on the device (known-answer tests).");
  m.def(
      "philox_seconds_cuda",
      [](uint64_t blocks, int64_t threads, int block) {
        py::gil_scoped_release nogil;
        return cuda::philox_seconds_device(blocks, threads, block);
      },
      py::arg("blocks_per_thread"), py::arg("threads"), py::arg("block") = 256,
      "Seconds (CUDA events) for `threads` device threads to generate `blocks_per_thread` Philox blocks each.");
  m.def("advance_gaussian1d_cuda", &advance_cuda_py<Gaussian1D>, py::arg("params"),
        py::arg("state"), py::arg("replica_ids"), py::arg("seed"), py::arg("gen_begin"),
        py::arg("gen_end"), py::arg("rec_gens"), py::arg("rec_offset"), py::arg("records"),
        py::arg("detectors"), py::arg("first"), py::arg("threads") = 1,
        py::arg("columns") = py::none(), py::arg("block") = 128, py::arg("gens_per_launch") = 0u);
  def_holder_advance_cuda<GaussianLoop, GaussianLoopHolder>(m, "advance_gaussian_loop_cuda");
  def_holder_advance_cuda<Categorical, CategoricalHolder>(m, "advance_categorical_cuda");
  def_holder_advance_cuda<Bigram, BigramHolder>(m, "advance_bigram_cuda");
  def_holder_advance_cuda<GaussianMixture, GmmHolder>(m, "advance_gmm_cuda");
  def_holder_advance_cuda<Regression, RegressionHolder>(m, "advance_regression_cuda");
#endif
}
