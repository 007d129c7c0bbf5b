// Shared by the binding files (one per family, csrc/bindings/*.cpp): array
// checks and the advance_<family> binding templates. Every binding file
// includes every model and lane header in the same order (cpu/kernels.hpp),
// so a family's kernel is the same code whichever file instantiates it.
//
// What a binding checks: only what keeps the kernel memory-safe and free of
// undefined behaviour, since Python (the family modules and Config) has
// already checked every parameter, with messages naming the argument, and
// the compiled side trusts the typed params it receives. Kept here: arrays
// (dtype, shape, C order: `checked`), sizes that index or allocate (d, K,
// top_k against their limits, the state and scratch they size), counts
// converted to integers or addressing streams (their caps), and enum codes
// that select a branch (loop, path, design...), with the loop/path pairs no
// kernel implements. Not checked here: the numerical domain of a parameter
// (tau > 0, probabilities summing to 1, tpr in [0, 1], a positive Cholesky
// diagonal...); a value outside it gives wrong numbers, never a bad memory
// access or an endless loop (every sampler loop is bounded by the stream's
// blocks), and Python refuses it before the kernel runs.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "../cpu/kernels.hpp"
#include "../cuda/memory.hpp"
#ifdef MADSIM_WITH_CUDA
#include "../cuda/launch.hpp"
#endif

namespace py = pybind11;
using namespace madsim;

namespace madsim_bind {

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

// The family's observe() column names (M::observe_names), a Python list:
// madsim looks the columns up by name.
template <class M>
py::list observe_names_py(const typename M::Params& p) {
  py::list out;
  for (const std::string& n : M::observe_names(p)) out.append(n);
  return out;
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
        throw py::value_error("columns must be observe() columns in [0, " + std::to_string(O) +
                              ")");
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
  cpu::Chunk c{seed,  gen_begin,   gen_end, rg,         n_rec,     rec_offset,
               total, cols.data(), C,       det.data(), (int32_t)D};
  py::gil_scoped_release nogil;
  launch(c, st, ids, R, rec, fp);
}

template <class M>
void advance_py(const typename M::Params& p, const py::array& state, const py::array& replica_ids,
                uint64_t seed, uint32_t gen_begin, uint32_t gen_end, const py::array& rec_gens,
                int64_t rec_offset, const py::array& records, const py::array& detectors,
                const py::array& first, int threads, const py::object& columns) {
  advance_checked<M>(
      p, state, replica_ids, seed, gen_begin, gen_end, rec_gens, rec_offset, records, detectors,
      first, threads, columns,
      [&](const cpu::Chunk& c, double* st, const uint32_t* ids, int64_t R, double* rec,
          int64_t* fp) { cpu::advance<M>(p, c, st, ids, R, rec, fp, threads); });
}

// advance_<family> for a family whose params live in a holder H (it owns the
// arrays): the count schedule bounds gen_end, then advance_py.
template <class M, class H>
void def_holder_advance(py::module_& m, const char* name) {
  m.def(
      name,
      [](const H& h, const py::array& state, const py::array& replica_ids, uint64_t seed,
         uint32_t gen_begin, uint32_t gen_end, const py::array& rec_gens, int64_t rec_offset,
         const py::array& records, const py::array& detectors, const py::array& first, int threads,
         const py::object& columns) {
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
    throw py::value_error("block must be a multiple of 32 in [32, 1024], got " +
                          std::to_string(block));
  advance_checked<M>(p, state, replica_ids, seed, gen_begin, gen_end, rec_gens, rec_offset, records,
                     detectors, first, 1, columns,
                     [&](const cpu::Chunk& c, double* st, const uint32_t* ids, int64_t R,
                         double* rec, int64_t* fp) {
                       const cuda::Chunk cc{c.seed,         c.gen_begin,  c.gen_end,   c.rec_gens,
                                            c.n_rec,        c.rec_offset, c.rec_total, c.cols,
                                            c.n_cols,       c.det,        c.n_det,     block,
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
         const py::array& records, const py::array& detectors, const py::array& first, int threads,
         const py::object& columns, int block, uint32_t gens_per_launch) {
        if ((int64_t)gen_end > h.p.n_counts)
          throw py::value_error("gen_end exceeds the generations the counts schedule covers");
        advance_cuda_py<M>(h.p, state, replica_ids, seed, gen_begin, gen_end, rec_gens, rec_offset,
                           records, detectors, first, threads, columns, block, gens_per_launch);
      },
      py::arg("params"), py::arg("state"), py::arg("replica_ids"), py::arg("seed"),
      py::arg("gen_begin"), py::arg("gen_end"), py::arg("rec_gens"), py::arg("rec_offset"),
      py::arg("records"), py::arg("detectors"), py::arg("first"), py::arg("threads") = 1,
      py::arg("columns") = py::none(), py::arg("block") = 128, py::arg("gens_per_launch") = 0u);
}
#endif

// The binding files: each adds its family's params class, advance_<family>
// (and advance_<family>_cuda in a CUDA build) and its helpers to the module.
// bind_<name> of every family in csrc/madsim/families.hpp.
void bind_rng(py::module_& m);
#define MADSIM_DECLARE_BIND(name, Model) void bind_##name(py::module_& m);
MADSIM_FAMILIES(MADSIM_DECLARE_BIND)
#undef MADSIM_DECLARE_BIND

}  // namespace madsim_bind
