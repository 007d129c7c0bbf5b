"""Aggregated records: statistics over replicas, per recorded generation.

``simulate(..., aggregate=Aggregate(...))`` keeps, for every recorded
generation and recorded variable, the count of finite values, their mean,
variance, minimum and maximum, chosen quantiles and fixed-bin histograms,
and for every detector the number of replicas that have not yet reached it
(survival). The records of each chunk are reduced right after the kernel
returns them (numpy, in this process) and dropped, so memory holds
O(recorded generations x statistics) of results plus one chunk's records,
whose replica block is capped at ``BLOCK_BYTES``; the kernel state (a few
doubles per replica, which ``resume`` needs) stays in memory as in any run.

Order and determinism. Replicas are split into fixed groups of ``GROUP``
consecutive positions of the run's replica ids. Each group's count, mean
and sum of squared deviations come from two passes over its values
(numpy's pairwise sums over one contiguous row); groups are then merged
in increasing order by the parallel formulas of Chan, Golub & LeVeque
(1979, "Updating formulae and a pairwise algorithm for computing sample
variances"). The grouping depends only on the replica ids, never on the
thread count, the chunking or the block sizes the driver picks, so the
numbers are the same bit for bit whichever of those a run used.
``reduce_records`` applies the same reduction to a per-replica Dataset:
the same bits as an aggregated run with the same ids.

Quantiles come from a DDSketch (Masson, Rim & Lee 2019, "DDSketch: a fast
and fully-mergeable quantile sketch with relative-error guarantees"):
values fall in logarithmic buckets (gamma^(i-1), gamma^i] with gamma =
(1 + a) / (1 - a), separately for negative values, plus a bucket for zero;
the counts add (exactly, in any order), and the level-q quantile returned
is the representative 2 gamma^i / (gamma + 1) of the bucket holding the
sorted value of rank floor(q (count - 1)) (numpy's ``method="lower"``),
within a relative error a of it (``relative_accuracy``, default 1%; up to
the rounding of a logarithm at a bucket's edge). The sketch of a chunk's
generations is dropped once its quantiles are read.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np
import xarray as xr

from .. import checks as check

GROUP = 4096  # replicas per fixed group of the reduction (positions in the replica ids)
BLOCK_BYTES = 16 * 2**20  # cap of one kernel call's record buffer in an aggregated or streamed run


@dataclass(frozen=True)
class Bins:
    """Fixed histogram bins: ``num`` bins from ``lo`` to ``hi``, evenly
    spaced (or evenly in log10 with ``log=True``, then 0 < lo). Values below
    ``lo`` and at or above ``hi`` are counted in an underflow and an overflow
    bin; NaN and infinities are not counted.

    Examples
    --------
    >>> import madsim as ms
    >>> ms.Bins(0.0, 1.0, 4).edges.tolist()
    [0.0, 0.25, 0.5, 0.75, 1.0]
    >>> ms.Bins(1e-3, 1.0, 3, log=True).edges.round(6).tolist()
    [0.001, 0.01, 0.1, 1.0]
    """

    lo: float
    hi: float
    num: int
    log: bool = False

    def __post_init__(self):
        object.__setattr__(self, "lo", check.real("Bins.lo", self.lo))
        object.__setattr__(self, "hi", check.real("Bins.hi", self.hi))
        object.__setattr__(self, "num", check.integer("Bins.num", self.num, 1, 10**6))
        if not isinstance(self.log, bool):
            raise TypeError(f"Bins.log must be True or False; got {self.log!r}")
        if not self.hi > self.lo:
            raise ValueError(f"Bins needs lo < hi; got lo={self.lo!r}, hi={self.hi!r}")
        if self.log and not self.lo > 0:
            raise ValueError(f"Bins(log=True) needs lo > 0; got lo={self.lo!r}")

    @property
    def edges(self) -> np.ndarray:
        if self.log:
            return np.logspace(math.log10(self.lo), math.log10(self.hi), self.num + 1)
        return np.linspace(self.lo, self.hi, self.num + 1)


@dataclass(frozen=True)
class Aggregate:
    """What an aggregated run keeps instead of every replica's records.

    Parameters
    ----------
    quantiles
        quantile levels in [0, 1] (a DDSketch; see ``relative_accuracy``).
    histogram
        {variable: Bins}: fixed-bin counts of these recorded variables.
    replicas
        None, or replica ids whose per-replica records are kept beside the
        aggregates (dims ``traced``, ``generation``).
    relative_accuracy
        the quantile sketch's relative error a, in (0, 0.5).

    Examples
    --------
    >>> import madsim as ms
    >>> agg = ms.Aggregate(quantiles=(0.5,), histogram={"var": ms.Bins(0.0, 2.0, 8)}, replicas=[0, 1])
    >>> ds = ms.simulate(ms.Config(loop=ms.Replace(n=20)), replicas=1000, generations=10, seed=1,
    ...                  metrics=["var"], aggregate=agg)
    >>> int(ds["var_finite"].sel(generation=10))
    1000
    >>> ds["var_hist"].sizes["var_bin"]           # underflow, 8 bins, overflow
    10
    >>> ds["var"].sizes["traced"]
    2
    """

    quantiles: Sequence[float] = (0.05, 0.5, 0.95)
    histogram: Mapping[str, Bins] = field(default_factory=dict)
    replicas: Sequence[int] | None = None
    relative_accuracy: float = 0.01

    def __post_init__(self):
        if isinstance(self.quantiles, (str, bytes)) or not hasattr(self.quantiles, "__iter__"):
            raise TypeError(
                f"Aggregate.quantiles must be a sequence of levels in [0, 1]; got {self.quantiles!r}"
            )
        q = tuple(check.real("Aggregate.quantiles[]", x, 0.0, 1.0) for x in self.quantiles)
        if len(set(q)) != len(q):
            raise ValueError(f"Aggregate.quantiles must not repeat a level; got {q}")
        object.__setattr__(self, "quantiles", q)
        if not isinstance(self.histogram, Mapping):
            raise TypeError(
                f"Aggregate.histogram must be a dict {{variable: madsim.Bins}}; got {self.histogram!r}"
            )
        for name, bins in self.histogram.items():
            if not isinstance(name, str) or not isinstance(bins, Bins):
                raise TypeError(
                    f"Aggregate.histogram must map variable names to madsim.Bins; got {name!r}: {bins!r}"
                )
        object.__setattr__(self, "histogram", dict(self.histogram))
        if self.replicas is not None:
            if isinstance(self.replicas, (str, bytes)) or not hasattr(self.replicas, "__iter__"):
                raise TypeError(
                    f"Aggregate.replicas must be None or a sequence of replica ids; got {self.replicas!r}"
                )
            ids = tuple(check.integer("Aggregate.replicas[]", i, 0, 2**32 - 1) for i in self.replicas)
            if len(set(ids)) != len(ids):
                raise ValueError("Aggregate.replicas must not repeat a replica id")
            object.__setattr__(self, "replicas", ids)
        object.__setattr__(
            self,
            "relative_accuracy",
            check.real("Aggregate.relative_accuracy", self.relative_accuracy, 0.0, 0.5, lo_open=True),
        )
        if self.relative_accuracy >= 0.5:
            raise ValueError(f"Aggregate.relative_accuracy must be < 0.5; got {self.relative_accuracy}")

    def to_json(self) -> str:
        return json.dumps(
            {
                "quantiles": list(self.quantiles),
                "histogram": {k: [b.lo, b.hi, b.num, b.log] for k, b in self.histogram.items()},
                "replicas": None if self.replicas is None else list(self.replicas),
                "relative_accuracy": self.relative_accuracy,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> Aggregate:
        d = json.loads(text)
        return cls(
            quantiles=tuple(d["quantiles"]),
            histogram={k: Bins(*v) for k, v in d["histogram"].items()},
            replicas=None if d["replicas"] is None else tuple(d["replicas"]),
            relative_accuracy=d["relative_accuracy"],
        )


def as_aggregate(aggregate) -> Aggregate | None:
    """None, True (the defaults) or an Aggregate."""
    if aggregate is None or aggregate is False:
        return None
    if aggregate is True:
        return Aggregate()
    if not isinstance(aggregate, Aggregate):
        raise TypeError(f"aggregate must be None, True or a madsim.Aggregate; got {aggregate!r}")
    return aggregate


# ------------------------------------------------------------ the sketch


class _Sketch:
    """DDSketch bucket counts of K columns (dense per column and sign, each
    with its own index offset, grown as needed)."""

    def __init__(self, K: int, alpha: float):
        self.gamma = (1.0 + alpha) / (1.0 - alpha)
        self.inv_ln_gamma = 1.0 / math.log(self.gamma)
        self.zero = np.zeros(K, dtype=np.int64)
        self.store: list[list] = [[None, None] for _ in range(K)]  # [k][sign] -> (offset, counts)

    def add(self, x: np.ndarray, all_finite: bool) -> None:
        """x [K, n] finite values (NaN marks a value to skip, unless
        ``all_finite``); row by row, so the temporaries are one row's."""
        for k in range(x.shape[0]):
            xk = x[k] if all_finite else x[k][~np.isnan(x[k])]
            if xk.size == 0:
                continue
            pos = xk > 0.0
            n_pos = int(np.count_nonzero(pos))
            if n_pos == xk.size:  # the usual case (a variance, a KL): no selection
                self._count(k, 0, xk)
                continue
            neg = xk < 0.0
            n_neg = int(np.count_nonzero(neg))
            self.zero[k] += xk.size - n_pos - n_neg
            if n_pos:
                self._count(k, 0, xk[pos])
            if n_neg:
                self._count(k, 1, -xk[neg])

    def _count(self, k: int, sign: int, m: np.ndarray) -> None:
        """Adds the positive magnitudes m to column k's buckets of ``sign``."""
        i = np.ceil(np.log(m) * self.inv_ln_gamma).astype(np.int64)
        lo = int(i.min())
        self._merge(k, sign, lo, np.bincount(i - lo))

    def _merge(self, k: int, sign: int, lo: int, counts: np.ndarray) -> None:
        have = self.store[k][sign]
        if have is None:
            self.store[k][sign] = (lo, counts.astype(np.int64))
            return
        lo0, c0 = have
        new_lo = min(lo0, lo)
        new_hi = max(lo0 + c0.size, lo + counts.size)
        out = np.zeros(new_hi - new_lo, dtype=np.int64)
        out[lo0 - new_lo : lo0 - new_lo + c0.size] += c0
        out[lo - new_lo : lo - new_lo + counts.size] += counts
        self.store[k][sign] = (new_lo, out)

    def quantiles(self, q: np.ndarray) -> np.ndarray:
        """[K, len(q)]: the representative of the bucket holding rank
        floor(q (n - 1)) of each column (NaN where it holds no value)."""
        K = len(self.store)
        out = np.full((K, q.size), np.nan)
        for k in range(K):
            values, counts = [], []
            neg, pos = self.store[k][1], self.store[k][0]
            if neg is not None:  # most negative first: the largest |x| bucket
                lo, c = neg
                i = np.arange(lo, lo + c.size)[::-1]
                values.append(-2.0 * self.gamma ** i.astype(float) / (self.gamma + 1.0))
                counts.append(c[::-1])
            values.append(np.zeros(1))
            counts.append(self.zero[k : k + 1])
            if pos is not None:
                lo, c = pos
                i = np.arange(lo, lo + c.size)
                values.append(2.0 * self.gamma ** i.astype(float) / (self.gamma + 1.0))
                counts.append(c)
            v, c = np.concatenate(values), np.cumsum(np.concatenate(counts))
            n = int(c[-1])
            if n == 0:
                continue
            rank = np.floor(q * (n - 1))
            out[k] = v[np.searchsorted(c, rank, side="right")]
        return out


# ------------------------------------------------------------ the reduction


class Reducer:
    """The aggregates of a run's recorded generations.

    ``start(k)`` opens the accumulators of the next ``k`` recorded
    generations (one chunk); ``add(block, pos)`` folds in the records
    [rows, k, C] of the replicas at positions pos..pos+rows (blocks in
    increasing order, each starting on a group boundary); ``commit()``
    finishes those generations. ``start`` again (or an interrupt) drops an
    uncommitted chunk.
    """

    def __init__(
        self, agg: Aggregate, n_rec: int, n_cols: int, hist: dict[int, np.ndarray], traced_pos: np.ndarray
    ):
        self.agg, self.C = agg, n_cols
        self.q = np.asarray(agg.quantiles, dtype=float)
        self.hist = hist  # variable -> (record-row column, bin edges)
        self.traced_pos = traced_pos  # sorted positions (in the replica ids) of traced replicas
        self.done = 0  # committed recorded generations
        shape = (n_rec, n_cols)
        self.count = np.zeros(shape, dtype=np.int64)
        self.mean = np.full(shape, np.nan)
        self.m2 = np.full(shape, np.nan)
        self.min = np.full(shape, np.nan)
        self.max = np.full(shape, np.nan)
        self.quant = np.full(shape + (self.q.size,), np.nan)
        self.counts = {c: np.zeros((n_rec, e.size + 1), dtype=np.int64) for c, e in hist.values()}
        self.traced = np.full((traced_pos.size, n_rec, n_cols), np.nan)

    def start(self, k: int) -> None:
        K = k * self.C
        self.k = k
        self.n = np.zeros(K)
        self.mu = np.zeros(K)
        self.ss = np.zeros(K)
        self.lo = np.full(K, np.nan)
        self.hi = np.full(K, np.nan)
        self.sketch = _Sketch(K, self.agg.relative_accuracy) if self.q.size else None
        self.hcounts = {c: np.zeros((k, e.size + 1), dtype=np.int64) for c, e in self.hist.values()}
        self.tr = np.full((self.traced_pos.size, k, self.C), np.nan)

    def add(self, block: np.ndarray, pos: int) -> None:
        rows = block.shape[0]
        if rows == 0 or self.k == 0:  # (a chunk that records no generation)
            return
        if pos % GROUP:
            raise ValueError(f"Reducer.add: a block must start on a group boundary; got {pos}")
        x = np.ascontiguousarray(block.transpose(1, 2, 0)).reshape(self.k * self.C, rows)
        finite = np.isfinite(x)
        all_finite = bool(finite.all())
        if all_finite:
            finite = None  # (the fast paths below need no mask)
        else:
            x = np.where(finite, x, np.nan)
        # order-free parts (integer counts, min and max): the whole block at once
        if self.sketch is not None:
            self.sketch.add(x, all_finite)
        if all_finite:
            self.lo = np.fmin(self.lo, x.min(axis=1))
            self.hi = np.fmax(self.hi, x.max(axis=1))
        else:
            self.lo = np.fmin(self.lo, np.min(x, axis=1, initial=np.inf, where=finite))
            self.hi = np.fmax(self.hi, np.max(x, axis=1, initial=-np.inf, where=finite))
        # sums: per fixed group of GROUP replicas (a contiguous row of its own,
        # whatever block it came in), merged in order
        full = rows // GROUP * GROUP
        if full:
            ng = full // GROUP
            self._groups(
                np.ascontiguousarray(x[:, :full]).reshape(-1, ng, GROUP),
                None if all_finite else np.ascontiguousarray(finite[:, :full]).reshape(-1, ng, GROUP),
            )
        if rows > full:
            self._groups(
                np.ascontiguousarray(x[:, full:])[:, None, :],
                None if all_finite else np.ascontiguousarray(finite[:, full:])[:, None, :],
            )
        for c, edges in self.hist.values():
            v = block[:, :, c].T  # [k, rows]
            bins = np.searchsorted(edges, v, side="right")
            keep = np.isfinite(v)
            rec = np.broadcast_to(np.arange(self.k)[:, None], v.shape)
            self.hcounts[c] += np.bincount(
                (rec[keep] * (edges.size + 1) + bins[keep]), minlength=self.k * (edges.size + 1)
            ).reshape(self.k, -1)
        if self.traced_pos.size:
            lo, hi = np.searchsorted(self.traced_pos, [pos, pos + rows])
            self.tr[lo:hi] = block[self.traced_pos[lo:hi] - pos]

    def _groups(self, x: np.ndarray, finite: np.ndarray | None) -> None:
        """Folds groups x [K, ng, g] (NaN where ``finite`` is False; None:
        all finite) into the chunk's accumulators: two passes within each
        group, then Chan's merge, group after group."""
        if finite is None:
            nb = np.full(x.shape[:2], float(x.shape[2]))
        else:
            nb = finite.sum(axis=2).astype(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            if finite is None or finite.all():
                mb = x.sum(axis=2) / nb
                dev = x - mb[:, :, None]
            else:
                mb = np.where(finite, x, 0.0).sum(axis=2) / nb
                dev = np.where(finite, x - mb[:, :, None], 0.0)
            np.multiply(dev, dev, out=dev)  # in place: one temporary block, not two
            ssb = dev.sum(axis=2)
        for g in range(x.shape[1]):
            self._merge(nb[:, g], mb[:, g], ssb[:, g])

    def _merge(self, nb: np.ndarray, mb: np.ndarray, ssb: np.ndarray) -> None:
        """Chan, Golub & LeVeque's merge of one group into the accumulators."""
        with np.errstate(invalid="ignore", divide="ignore"):
            na = self.n
            n = na + nb
            d = mb - self.mu
            mu = self.mu + d * (nb / n)
            ss = self.ss + ssb + d * d * (na * nb / n)
        some = nb > 0
        self.mu = np.where(some, mu, self.mu)
        self.ss = np.where(some, ss, self.ss)
        self.n = n

    def commit(self) -> None:
        k, C, a = self.k, self.C, self.done
        shape = (k, C)
        self.count[a : a + k] = self.n.reshape(shape).astype(np.int64)
        empty = self.n == 0
        self.mean[a : a + k] = np.where(empty, np.nan, self.mu).reshape(shape)
        self.m2[a : a + k] = np.where(empty, np.nan, self.ss).reshape(shape)
        lo = np.where(np.isinf(self.lo) & empty, np.nan, self.lo)
        hi = np.where(np.isinf(self.hi) & empty, np.nan, self.hi)
        self.min[a : a + k] = lo.reshape(shape)
        self.max[a : a + k] = hi.reshape(shape)
        if self.sketch is not None:
            self.quant[a : a + k] = self.sketch.quantiles(self.q).reshape(shape + (self.q.size,))
        for c, _edges in self.hist.values():
            self.counts[c][a : a + k] = self.hcounts[c]
        self.traced[:, a : a + k] = self.tr
        self.done += k


def traced_positions(agg: Aggregate, ids: np.ndarray) -> np.ndarray:
    """Positions in ``ids`` of the traced replicas (ValueError naming any the run lacks)."""
    if agg.replicas is None:
        return np.zeros(0, dtype=np.int64)
    want = np.asarray(agg.replicas, dtype=np.int64)
    order = np.argsort(ids, kind="stable")
    at = np.searchsorted(ids[order], want)
    at = np.minimum(at, ids.size - 1)
    missing = want[ids[order][at] != want]
    if missing.size:
        raise ValueError(
            f"Aggregate.replicas: the run has no replica id {int(missing[0])} ({missing.size} missing)"
        )
    return np.sort(order[at])


def variables(red: Reducer, layout: dict, units: dict, sl: slice, dtype: str) -> dict:
    """The aggregated Dataset's variables: ``x_finite``, ``x_mean``,
    ``x_var`` (ddof = 1), ``x_se``, ``x_min``, ``x_max``, ``x_q``
    (dim ``quantile``), ``x_hist`` (dim ``x_bin``) and the traced replicas'
    ``x`` (dims traced, generation) for each recorded variable x.
    ``layout``: name -> (record-row column(s), extra dims); ``sl``: which
    recorded generations."""
    out: dict = {}
    q = red.q
    for name, (at, dims) in layout.items():

        def pick(a, extra=0, at=at):
            return a[sl][(slice(None), at) + (slice(None),) * extra]

        long_name = units.get(name, name)
        gd = ("generation",) + dims
        n = pick(red.count)
        with np.errstate(invalid="ignore", divide="ignore"):
            var = np.where(n > 1, pick(red.m2) / np.maximum(n - 1, 1), np.nan)
            se = np.sqrt(var / n)
        out[f"{name}_finite"] = (gd, n, {"long_name": f"replicas with a finite {name}"})
        out[f"{name}_mean"] = (gd, pick(red.mean), {"long_name": f"mean over replicas of {long_name}"})
        out[f"{name}_var"] = (gd, var, {"long_name": f"variance over replicas (ddof = 1) of {long_name}"})
        out[f"{name}_se"] = (gd, se, {"long_name": f"standard error of {name}_mean"})
        out[f"{name}_min"] = (gd, pick(red.min), {"long_name": f"minimum over replicas of {long_name}"})
        out[f"{name}_max"] = (gd, pick(red.max), {"long_name": f"maximum over replicas of {long_name}"})
        if q.size:
            out[f"{name}_q"] = (
                gd + ("quantile",),
                pick(red.quant, 1),
                {
                    "long_name": f"quantiles over replicas of {long_name}",
                    "method": f"DDSketch, relative accuracy {red.agg.relative_accuracy}; the value of rank "
                    "floor(q (n - 1))",
                },
            )
        if red.traced_pos.size:
            out[name] = (
                ("traced",) + gd,
                red.traced[:, sl][(slice(None), slice(None), at)],
                {"long_name": long_name},
            )
    for name, (c, _edges) in red.hist.items():
        out[f"{name}_hist"] = (
            ("generation", f"{name}_bin"),
            red.counts[c][sl],
            {
                "long_name": f"replicas per bin of {name} (first: below the first edge, last: at or "
                "above the last; NaN and infinities not counted)"
            },
        )
    if dtype != "float64":
        out = {
            n: (v[0], v[1].astype(dtype) if v[1].dtype.kind == "f" else v[1], v[2]) for n, v in out.items()
        }
    return out


def coords(red: Reducer, ids: np.ndarray) -> dict:
    out: dict = {}
    if red.q.size:
        out["quantile"] = red.q
    for name, (_c, edges) in red.hist.items():
        out[f"{name}_bin_lo"] = (f"{name}_bin",), np.concatenate([[-np.inf], edges])
        out[f"{name}_bin_hi"] = (f"{name}_bin",), np.concatenate([edges, [np.inf]])
    if red.traced_pos.size:
        out["traced"] = ids[red.traced_pos].astype(np.int64)
    return out


def hist_columns(agg: Aggregate, layout: dict) -> dict:
    """variable -> (record-row column, bin edges), for the histogram's
    variables (a ValueError naming any that is not a recorded scalar variable)."""
    scalars = [n for n, (at, dims) in layout.items() if not dims]
    out = {}
    for name, bins in agg.histogram.items():
        if name not in scalars:
            raise ValueError(
                f"Aggregate.histogram: {name!r} is not a recorded scalar variable of this "
                f"run; it records {', '.join(map(repr, scalars))}"
            )
        out[name] = (int(layout[name][0]), bins.edges)
    return out


def survival(first: np.ndarray, gens: np.ndarray) -> np.ndarray:
    """[len(gens), D]: replicas whose first passage (-1: not reached) is
    after each generation."""
    out = np.empty((gens.size, first.shape[1]), dtype=np.int64)
    for j in range(first.shape[1]):
        f = first[:, j]
        reached = np.sort(f[f >= 0])
        out[:, j] = first.shape[0] - np.searchsorted(reached, gens, side="right")
    return out


def reduce_records(ds: xr.Dataset, aggregate: Aggregate | bool = True) -> xr.Dataset:
    """The aggregates of a per-replica ``simulate`` result, computed as an
    aggregated run computes them (the same groups, order and bits for the
    same replica ids).

    Parameters
    ----------
    ds
        a ``madsim.simulate`` result with per-replica records.
    aggregate
        True (the defaults) or a madsim.Aggregate.

    Returns
    -------
    xarray.Dataset
        The aggregated variables, survival counts and the run's attrs.

    Examples
    --------
    >>> import madsim as ms
    >>> from madsim.run.aggregate import reduce_records
    >>> cfg = ms.Config(loop=ms.Replace(n=20))
    >>> ds = ms.simulate(cfg, replicas=500, generations=10, seed=1, metrics=["var"])
    >>> agg = ms.simulate(cfg, replicas=500, generations=10, seed=1, metrics=["var"], aggregate=True)
    >>> bool((reduce_records(ds)["var_mean"] == agg["var_mean"]).all())
    True
    """
    agg = as_aggregate(aggregate)
    if agg is None:
        raise TypeError("aggregate must be True or a madsim.Aggregate")
    if not isinstance(ds, xr.Dataset) or "replica" not in ds.dims or "metrics" not in ds.attrs:
        raise TypeError("ds must be a per-replica madsim.simulate Dataset")
    chosen = [v for v in json.loads(ds.attrs["metrics"]) if v in ds]
    ids = ds["replica"].values
    gens = ds["generation"].values
    layout, blocks = {}, []
    at = 0
    for name in chosen:
        v = ds[name].transpose("replica", "generation", ...)
        extra = tuple(v.dims[2:])
        v = v.values.astype(np.float64)
        width = int(np.prod(v.shape[2:], dtype=np.int64))
        layout[name] = (np.arange(at, at + width).reshape(v.shape[2:]), extra) if extra else (at, ())
        blocks.append(v.reshape(v.shape[0], v.shape[1], width))
        at += width
    records = np.concatenate(blocks, axis=2)
    red = Reducer(agg, gens.size, at, hist_columns(agg, layout), traced_positions(agg, ids))
    red.start(gens.size)
    for a in range(0, records.shape[0], GROUP):
        red.add(records[a : a + GROUP], a)
    red.commit()
    units = {n: ds[n].attrs.get("long_name", n) for n in chosen}
    out = xr.Dataset(
        variables(red, layout, units, slice(0, gens.size), "float64"),
        coords={"generation": gens, **coords(red, ids)},
    )
    labels = [d for d in ds.data_vars if ds[d].dims == ("replica",) and ds[d].dtype == np.int64]
    if labels:
        surv = survival(np.stack([ds[d].values for d in labels], axis=1), gens)
        for j, d in enumerate(labels):
            out[f"{d}_survival"] = (("generation",), surv[:, j])
    out.attrs.update(ds.attrs)
    out.attrs.pop("content_sha256", None)
    out.attrs["aggregate"] = agg.to_json()
    return out
