"""Aggregated records (simulate(..., aggregate=)): statistics over replicas
equal those of the per-replica records of the same run, and do not depend
on threads, chunking or block sizes."""

import warnings

import numpy as np
import pytest

import madsim as ms
from madsim.run import aggregate as aggmod
from madsim.run.aggregate import reduce_records

CFG = ms.Config(loop=ms.Replace(n=20))
METRICS = ["mean", "var", "kl_model_truth"]
DET = [ms.FirstPassage("var", below=0.3, name="low")]
AGG = ms.Aggregate(
    quantiles=(0.0, 0.1, 0.5, 0.9, 1.0), histogram={"var": ms.Bins(0.0, 2.0, 8)}, replicas=[3, 5000, 8999]
)
R = 9000  # three groups of the reduction, the last partial


def run(**kw):
    base = dict(replicas=R, generations=12, seed=7, metrics=METRICS, detect=DET, progress=False)
    base.update(kw)
    return ms.simulate(CFG, **base)


@pytest.fixture(scope="module")
def per_replica():
    return run()


@pytest.fixture(scope="module")
def aggregated():
    return run(aggregate=AGG, threads=1)


def _same(a, b, names):
    for v in names:
        assert np.array_equal(a[v].values, b[v].values, equal_nan=True), v


def test_bits_do_not_depend_on_threads_or_chunks(aggregated, monkeypatch):
    names = [v for v in aggregated.data_vars if "generation" in aggregated[v].dims]
    _same(aggregated, run(aggregate=AGG, threads=2, chunk=5), names)
    # small blocks: many calls per chunk and few records per call
    monkeypatch.setattr(aggmod, "BLOCK_BYTES", 8 * 3 * 4096 * 2)
    _same(aggregated, run(aggregate=AGG, threads=2), names)


def test_chunks_that_record_nothing():
    kw = dict(record=ms.every(5), aggregate=AGG, generations=17)
    a, b = run(chunk=2, **kw), run(**kw)
    _same(a, b, [v for v in a.data_vars if "generation" in a[v].dims])
    _same(
        a, reduce_records(run(record=ms.every(5), generations=17), AGG), ["var_mean", "var_q", "low_survival"]
    )


def test_equals_reduction_of_per_replica_records(aggregated, per_replica):
    ref = reduce_records(per_replica, AGG)
    names = [v for v in ref.data_vars]
    assert "low_survival" in names
    _same(aggregated, ref, names)


def test_statistics_match_numpy(aggregated, per_replica):
    for name in METRICS:
        x = per_replica[name].values  # [replica, generation]
        np.testing.assert_allclose(aggregated[f"{name}_mean"], x.mean(axis=0), rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(aggregated[f"{name}_var"][1:], x.var(axis=0, ddof=1)[1:], rtol=1e-10)
        assert np.array_equal(aggregated[f"{name}_min"], x.min(axis=0))
        assert np.array_equal(aggregated[f"{name}_max"], x.max(axis=0))
        assert (aggregated[f"{name}_finite"] == R).all()
        q = aggregated[f"{name}_q"].values
        exact = np.quantile(x, aggregated["quantile"].values, axis=0, method="lower").T
        tol = AGG.relative_accuracy * (1 + 1e-9) * np.abs(exact) + 1e-300
        assert (np.abs(q - exact) <= tol).all(), name
    # histogram: [-inf, 0), [0, .25), ..., [1.75, 2), [2, inf)
    edges = np.concatenate([[-np.inf], AGG.histogram["var"].edges, [np.inf]])
    for g, gen in enumerate(per_replica["generation"].values):
        counts = np.histogram(per_replica["var"].values[:, g], edges)[0]
        counts[-2:] = [
            np.sum((per_replica["var"].values[:, g] >= 1.75) & (per_replica["var"].values[:, g] < 2)),
            np.sum(per_replica["var"].values[:, g] >= 2),
        ]
        assert np.array_equal(aggregated["var_hist"].values[g], counts), gen
    first = per_replica["low"].values
    for g, gen in enumerate(per_replica["generation"].values):
        assert aggregated["low_survival"].values[g] == np.sum((first < 0) | (first > gen))
    assert np.array_equal(aggregated["low"], first)


def test_traced_replicas_keep_their_records(aggregated, per_replica):
    for name in METRICS:
        assert np.array_equal(aggregated[name].values, per_replica[name].sel(replica=[3, 5000, 8999]).values)


def test_resume_of_aggregated_run_equals_uninterrupted(aggregated):
    first = run(aggregate=AGG, generations=5)
    more = ms.resume(first, generations=12, threads=2)
    names = [v for v in aggregated.data_vars if "generation" in aggregated[v].dims] + ["state", "low"]
    _same(aggregated, more, names)
    with pytest.raises(ValueError, match="replicas= cannot add"):
        ms.resume(first, generations=12, replicas=3)


def test_nonfinite_values_are_left_out(per_replica):
    ds = per_replica.copy(deep=True)
    x = ds["var"].values
    x[::7, 3] = np.inf
    x[::5, 4] = np.nan
    x[:, 5] = np.nan  # none finite
    agg = reduce_records(ds, ms.Aggregate(quantiles=(0.5,)))
    finite = np.isfinite(x)
    assert np.array_equal(agg["var_finite"].values, finite.sum(axis=0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the all-NaN generation
        y = np.where(finite, x, np.nan)
        for got, want in ((agg["var_max"], np.nanmax(y, axis=0)), (agg["var_min"], np.nanmin(y, axis=0))):
            assert np.array_equal(got.values, want, equal_nan=True)
        np.testing.assert_allclose(agg["var_mean"].values, np.nanmean(y, axis=0), rtol=1e-12)
        np.testing.assert_allclose(agg["var_var"].values[1:], np.nanvar(y, axis=0, ddof=1)[1:], rtol=1e-10)
    assert np.isnan(agg["var_q"].values[5]).all()


def test_memory_of_records_does_not_grow_with_replicas(monkeypatch):
    """The records a kernel call writes are one bounded block, never all replicas."""
    seen = []
    real = aggmod.Reducer.add

    def spy(self, block, pos):
        seen.append(block.nbytes)
        return real(self, block, pos)

    monkeypatch.setattr(aggmod.Reducer, "add", spy)
    monkeypatch.setattr(aggmod, "BLOCK_BYTES", 4096 * 8 * 2 * 4)
    ms.simulate(
        CFG,
        replicas=20000,
        generations=40,
        seed=1,
        metrics=["mean", "var"],
        record=ms.every(1),
        aggregate=True,
        progress=False,
        chunk=40,
    )
    assert max(seen) <= 4096 * 8 * 2 * 5


@pytest.mark.parametrize(
    "bad, match",
    [
        (dict(quantiles=(1.5,)), "quantiles"),
        (dict(quantiles="0.5"), "quantiles"),
        (dict(histogram={"var": (0, 1, 3)}), "Bins"),
        (dict(replicas=[1, 1]), "repeat"),
        (dict(relative_accuracy=0.7), "relative_accuracy"),
    ],
)
def test_bad_aggregate(bad, match):
    with pytest.raises((TypeError, ValueError), match=match):
        ms.Aggregate(**bad)


def test_bad_inputs_before_the_kernel():
    with pytest.raises(ValueError, match="lo < hi"):
        ms.Bins(1.0, 0.0, 3)
    with pytest.raises(ValueError, match="log=True"):
        ms.Bins(0.0, 1.0, 3, log=True)
    with pytest.raises(TypeError, match="aggregate must be"):
        ms.simulate(CFG, replicas=10, generations=2, aggregate="yes")
    with pytest.raises(ValueError, match="not a recorded scalar"):
        ms.simulate(
            CFG,
            replicas=10,
            generations=2,
            metrics=["var"],
            aggregate=ms.Aggregate(histogram={"mean": ms.Bins(0, 1, 2)}),
        )
    with pytest.raises(ValueError, match="no replica id 10"):
        ms.simulate(CFG, replicas=10, generations=2, aggregate=ms.Aggregate(replicas=[10]))


def test_sweep_points_equal_their_simulate_calls(tmp_path):
    base = ms.Config(loop=ms.Fresh(real=10, synthetic=10), weight=0.5)
    kw = dict(replicas=5000, generations=6, seed=1, metrics=["var"], progress=False, detect=DET)
    ds = ms.sweep(base, grid={"weight": [0.2, 0.8]}, aggregate=AGG_SMALL, store=tmp_path / "st", **kw)
    one = ms.simulate(ms.Config(loop=ms.Fresh(real=10, synthetic=10), weight=0.8), aggregate=AGG_SMALL, **kw)
    for v in ["var_mean", "var_var", "var_q", "var_hist", "low_survival"]:
        assert np.array_equal(ds[v].sel(weight=0.8).values, one[v].values), v
    again = ms.sweep(base, grid={"weight": [0.2, 0.8]}, aggregate=AGG_SMALL, store=tmp_path / "st", **kw)
    assert again.attrs["tasks_from_store"] == 2 and np.array_equal(again["var_q"], ds["var_q"])
    with pytest.raises(ValueError, match="one task"):
        ms.sweep(base, grid={"weight": [0.2, 0.8]}, aggregate=True, block=100, **kw)


AGG_SMALL = ms.Aggregate(
    quantiles=(0.05, 0.5, 0.95), histogram={"var": ms.Bins(0.0, 2.0, 4)}, replicas=[1, 2]
)


def test_validate_from_aggregates_matches_per_replica():
    """A validate case run from an aggregated run gives the per-replica
    run's mean and SE (to rounding) for every comparison it can make."""
    import dataclasses

    from madsim.validate import runner

    case = next(c for c in runner.cases() if c.name == "row3-replace-mle-n100-t100")
    case = dataclasses.replace(case, replicas=1500)
    rows, _ = runner.run_case(case, 4.0)
    agg_rows, _ = runner.run_case(case, 4.0, aggregate=True)
    by = {(r.quantity, r.t): r for r in rows}
    assert len(agg_rows) >= 3
    for r in agg_rows:
        ref = by[(r.quantity, r.t)]
        assert r.mc == pytest.approx(ref.mc, rel=1e-12) and r.se == pytest.approx(ref.se, rel=1e-9)


def test_metric_plot_of_an_aggregated_run():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from madsim import plots

    ds = ms.simulate(
        CFG,
        replicas=300,
        generations=20,
        seed=1,
        metrics=["var", "logdet"],
        detect=DET,
        aggregate=AGG_SMALL,
        progress=False,
    )
    ax = plots.metric(ds, "var")
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("CI of the mean" in x for x in labels) and any("5%-95%" in x for x in labels)
    assert any("traced replica paths" in x for x in labels) and any("theory" in x for x in labels)
    plots.survival(ds, "low")  # from the per-replica detector columns an aggregated run keeps
    with pytest.raises(ValueError, match="no statistics of 'log_var'"):
        plots.metric(ds, "log_var")
    plt.close("all")


def test_the_documented_old_path_still_reduces():
    """``madsim.aggregate.reduce_records`` (the path the API pages first gave)
    is the function of ``madsim.run.aggregate``, not a copy."""
    from madsim.aggregate import reduce_records as old_path

    assert old_path is reduce_records
