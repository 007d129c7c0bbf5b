// In-place heap sort for the device-clean core (no STL): O(n log n), no
// allocation, deterministic. Used where a token model needs an order (top-k,
// top-p, the Zipf fit); the JAX twin reproduces the same total order with a
// stable argsort.
#pragma once
#include "hd.hpp"

namespace madsim {

// Orders token indices (held as doubles) by key descending, ties by index
// ascending: a total order, so the result is unique.
struct ByKeyDesc {
  const double* key;
  MADSIM_HD bool operator()(double a, double b) const {  // a strictly before b
    const double ka = key[(int64_t)a], kb = key[(int64_t)b];
    return ka > kb || (ka == kb && a < b);
  }
};

// Orders values descending.
struct Desc {
  MADSIM_HD bool operator()(double a, double b) const { return a > b; }
};

template <class Before>
MADSIM_HD void sift_down(double* a, int64_t root, int64_t n, const Before& before) {
  for (;;) {
    int64_t child = 2 * root + 1;
    if (child >= n) return;
    // the child that comes later in the order moves up (a max-heap for `before`)
    if (child + 1 < n && before(a[child], a[child + 1])) ++child;
    if (!before(a[root], a[child])) return;
    const double t = a[root];
    a[root] = a[child];
    a[child] = t;
    root = child;
  }
}

// Sorts a[0..n) so that no element comes after one it is `before`.
template <class Before>
MADSIM_HD void heap_sort(double* a, int64_t n, const Before& before) {
  for (int64_t i = n / 2 - 1; i >= 0; --i) sift_down(a, i, n, before);
  for (int64_t end = n - 1; end > 0; --end) {
    const double t = a[0];
    a[0] = a[end];
    a[end] = t;
    sift_down(a, 0, end, before);
  }
}

}  // namespace madsim
