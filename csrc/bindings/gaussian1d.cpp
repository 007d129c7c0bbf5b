// madsim._core: the 1-D Gaussian replace kernel (Gaussian1D).
#include "common.hpp"

namespace madsim_bind {

void bind_gaussian1d(py::module_& m) {
  py::class_<Gaussian1D::Params>(m, "Gaussian1DParams")
      .def(py::init(
               [](double n, double tau, int32_t estimator, int32_t path, double mu0, double var0) {
                 if (!(n >= 2.0 && n <= 4294967296.0 && n == std::floor(n)))
                   throw py::value_error("n must be an integer in [2, 2**32]");
                 if (estimator != Gaussian1D::MLE && estimator != Gaussian1D::UNBIASED)
                   throw py::value_error("estimator must be 0 (mle) or 1 (unbiased)");
                 if (path != Gaussian1D::EXACT && path != Gaussian1D::SAMPLES)
                   throw py::value_error("path must be 0 (exact) or 1 (samples)");
                 return Gaussian1D::Params{n, tau, estimator, path, mu0, var0};
               }),
           py::arg("n"), py::arg("tau"), py::arg("estimator"), py::arg("path"),
           py::arg("mu0") = 0.0, py::arg("var0") = 1.0)
      .def_readonly("n", &Gaussian1D::Params::n)
      .def_readonly("tau", &Gaussian1D::Params::tau)
      .def_readonly("estimator", &Gaussian1D::Params::estimator)
      .def_readonly("path", &Gaussian1D::Params::path)
      .def_readonly("mu0", &Gaussian1D::Params::mu0)
      .def_readonly("var0", &Gaussian1D::Params::var0)
      .def_property_readonly("observe_names", &observe_names_py<Gaussian1D>)
      .def_property_readonly(
          "observe_size", [](const Gaussian1D::Params& p) { return Gaussian1D::observe_size(p); });
  m.def("advance_gaussian1d", &advance_py<Gaussian1D>, py::arg("params"), py::arg("state"),
        py::arg("replica_ids"), py::arg("seed"), py::arg("gen_begin"), py::arg("gen_end"),
        py::arg("rec_gens"), py::arg("rec_offset"), py::arg("records"), py::arg("detectors"),
        py::arg("first"), py::arg("threads"), py::arg("columns") = py::none());
#ifdef MADSIM_WITH_CUDA
  m.def("advance_gaussian1d_cuda", &advance_cuda_py<Gaussian1D>, py::arg("params"),
        py::arg("state"), py::arg("replica_ids"), py::arg("seed"), py::arg("gen_begin"),
        py::arg("gen_end"), py::arg("rec_gens"), py::arg("rec_offset"), py::arg("records"),
        py::arg("detectors"), py::arg("first"), py::arg("threads") = 1,
        py::arg("columns") = py::none(), py::arg("block") = 128, py::arg("gens_per_launch") = 0u);
#endif
}

}  // namespace madsim_bind
