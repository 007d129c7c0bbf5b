// madsim._core: the thin ring between Python and the header-only core. It
// checks dtype, shape, contiguity and writability of every array (TypeError /
// ValueError, never a crash), releases the GIL, and runs. Users never import
// it: python/madsim/_backend.py is its only importer.
//
// One file per family (csrc/bindings/<family>.cpp, sharing common.hpp) so
// that the build compiles them in parallel; this file holds the module, the
// build info and the CUDA runtime queries.
#include <thread>

#include "common.hpp"

namespace madsim_bind {
namespace {

#ifdef MADSIM_WITH_CUDA
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
  const char* isa = lm == cpu::LANES_AVX512 ? "avx512"
                    : lm == cpu::LANES_AVX2 ? "avx2"
                                            : "baseline";
  d["cpu_lanes"] = lm == cpu::LANES_OFF ? std::string("off")
                                        : std::string(isa) + " x" + std::to_string(cpu::LANES);
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
}  // namespace madsim_bind

using namespace madsim_bind;

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
  bind_rng(m);
#define MADSIM_CALL_BIND(name, Model) bind_##name(m);
  MADSIM_FAMILIES(MADSIM_CALL_BIND)
#undef MADSIM_CALL_BIND

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
        const auto plan =
            cuda::launch_plan(gen_begin, gen_end, rg, rec_gens.shape(0), gens_per_launch, rec_fit);
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
  m.def(
      "cuda_device_count", []() { return cuda::device_count(nullptr); },
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
      "Seconds (CUDA events) for `threads` device threads to generate `blocks_per_thread` Philox "
      "blocks each.");
#endif
}
