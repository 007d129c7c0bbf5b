// madsim._core: Philox, the stream layout and the samplers, exposed for the known-answer
// and distribution tests (tests/test_rng_*.py).
#include "common.hpp"

namespace madsim_bind {
namespace {

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

Stream stream_of(uint64_t seed, uint32_t replica, uint32_t generation, uint32_t tag,
                 uint32_t site) {
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

}  // namespace

void bind_rng(py::module_& m) {
  m.def("philox4x32_10", &philox_py, py::arg("ctr"), py::arg("key"));
  m.def("stream_blocks", &stream_blocks, py::arg("seed"), py::arg("replica"), py::arg("generation"),
        py::arg("tag"), py::arg("site"), py::arg("block_begin"), py::arg("count"));
  m.def("uniform52", &uniform52_py, py::arg("lo"), py::arg("hi"));
  m.def(
      "uniform32", [](const py::array& w) { return map1<uint32_t>(w, "words", uniform32); },
      py::arg("words"));
  m.def("normal_pair", &normal_pair_py, py::arg("u_radius"), py::arg("u_angle"));
  m.def(
      "det_log",
      [](const py::array& x) {
        return map1<double>(x, "x", [](double v) {
          if (!(v >= 2.2250738585072014e-308 && v <= 1.7976931348623157e308))
            throw py::value_error("det_log: x must be a normal positive finite double");
          return det_log(v);
        });
      },
      py::arg("x"), "detmath.hpp's ln x (the host transforms' log).");
  m.def(
      "det_sincos_2pi",
      [](const py::array& u) {
        const double* a = checked<double>(u, "u", {-1}, false);
        py::array_t<double> c(u.shape(0)), s(u.shape(0));
        double *co = c.mutable_data(), *so = s.mutable_data();
        for (py::ssize_t i = 0; i < u.shape(0); ++i) {
          if (!(a[i] >= 0.0 && a[i] <= 1.0))
            throw py::value_error("det_sincos_2pi: u must lie in [0, 1]");
          det_sincos_2pi(a[i], co[i], so[i]);
        }
        return py::make_tuple(c, s);
      },
      py::arg("u"), "detmath.hpp's (cos 2 pi u, sin 2 pi u).");
  m.def(
      "log_factorial",
      [](const py::array& k) {
        return map1<double>(k, "k", [](double x) {
          if (!(x >= 0.0) || x != std::floor(x)) throw py::value_error("k must be integers >= 0");
          return log_factorial(x);
        });
      },
      py::arg("k"));
  m.def("normals", &normals_py, py::arg("seed"), py::arg("replica"), py::arg("generation"),
        py::arg("tag"), py::arg("site"), py::arg("count"));
  m.def("gamma", &gamma_py, py::arg("alpha"), py::arg("seed"), py::arg("replicas"),
        py::arg("generation"), py::arg("tag"), py::arg("site"));
  m.def("binomial", &binomial_py, py::arg("n"), py::arg("p"), py::arg("seed"), py::arg("replicas"),
        py::arg("generation"), py::arg("tag"), py::arg("site"));
}

}  // namespace madsim_bind
