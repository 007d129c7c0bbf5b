"""Faults and fuzzing: nothing lost, nothing silent.

Policies (each a finding of the fault-injection pass): divergent runs are
reported (NonFiniteWarning / NonFiniteError), parameters that overflow at
once are refused, detector names cannot overwrite the result's names,
numpy scalars and Fractions are normalised where a config is built, the
memory check covers every array before any allocation, resume keeps the
run's record rule, summaries of token runs are quiet, the embedded Dask
cluster exposes nothing.

Fuzzing: random API calls and TOML run files from a seeded generator
(FAST_CASES in the default run, SLOW_CASES more under ``-m slow``); each
must run or raise TypeError/ValueError/NotImplementedError/MemoryError (or
the NonFiniteError it asked for) with a message, never crash, hang or return a non-finite state without a
warning. The counts (cases, clear errors, silent results, crashes, hangs)
are printed at the end of the pytest run (tests/conftest.py)."""

from __future__ import annotations

import json
import time
import tracemalloc
import warnings
from fractions import Fraction

import numpy as np
import pytest

import madsim as ms
import madsim.run.driver as drv
from conftest import FAULT_COUNTS
from madsim import results, toml_config

FAST_CASES = 300
SLOW_CASES = 20000
HANG_S = 10.0


# ------------------------------------------------------------ non-finite policy

DIVERGE = ms.Config(loop=ms.Replace(n=5), temperature=10.0)


def test_divergent_run_warns_with_count_and_generation():
    with pytest.warns(ms.NonFiniteWarning, match=r"4 of 4 replicas .*chunk of generations \d+\.\.\d+") as rec:
        ds = ms.simulate(DIVERGE, replicas=4, generations=400, seed=1, chunk=50, progress=False)
    assert ds.attrs["nonfinite_replicas"] == 4
    assert "first recorded generation with a NaN" in str(rec[0].message)
    with pytest.raises(ms.NonFiniteError, match="4 of 4 replicas"):
        ms.simulate(
            DIVERGE, replicas=4, generations=400, seed=1, chunk=50, progress=False, on_nonfinite="raise"
        )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        quiet = ms.simulate(
            DIVERGE, replicas=4, generations=400, seed=1, progress=False, on_nonfinite="ignore"
        )
    assert not np.isfinite(quiet["state"].values).all()
    with pytest.raises(ValueError, match="on_nonfinite"):
        ms.simulate(DIVERGE, replicas=4, generations=4, on_nonfinite="loud")


def test_finite_run_has_no_warning():
    ds = ms.simulate(
        ms.Config(loop=ms.Replace(n=5), temperature=1.1), replicas=4, generations=50, progress=False
    )
    assert ds.attrs["nonfinite_replicas"] == 0


@pytest.mark.parametrize(
    "cfg, match",
    [
        (lambda: ms.Config(family=ms.Gaussian(var=1e308)), "variance"),
        (lambda: ms.Config(temperature=1e300), "variance"),
        (lambda: ms.Config(family=ms.Gaussian(var=1e100), temperature=1e30), "temperature"),
        (lambda: ms.Config(family=ms.Gaussian(mean=1e200)), "mean"),
        (lambda: ms.Config(family=ms.Regression(noise=1e308)), "noise"),
        (lambda: ms.Config(family=ms.Categorical(smoothing=1e308)), "smoothing"),
        (lambda: ms.Config(family=ms.Bigram(smoothing=1e308), path="samples"), "smoothing"),
    ],
)
def test_parameters_that_overflow_at_once_are_refused(cfg, match, monkeypatch):
    monkeypatch.setattr(drv, "kernel_for", lambda *a, **k: pytest.fail("the kernel was built"))
    with pytest.raises(ValueError, match=match):
        ms.simulate(cfg(), replicas=2, generations=2, progress=False)


# ------------------------------------------------------------ reserved names


@pytest.mark.parametrize("name", ["cov", "mean", "tail3", "dim", "kl_truth_model"])
def test_detector_name_cannot_overwrite_a_variable(name):
    with pytest.raises(ValueError, match=f"name '{name}' is taken"):
        ms.simulate(
            ms.Config(family=ms.Gaussian(dim=2)),
            replicas=2,
            generations=2,
            progress=False,
            detect=[ms.FirstPassage("trace", below=0.5, name=name)],
            metrics=["trace"],
        )


@pytest.mark.parametrize("name", ["state", "replica", "generation", "state_index"])
def test_reserved_detector_names_refused_at_construction(name):
    with pytest.raises(ValueError, match="reserved"):
        ms.FirstPassage("var", below=0.5, name=name)


def test_detector_name_checked_in_toml_and_sweep(tmp_path):
    from madsim import cli

    (tmp_path / "r.toml").write_text(
        '[loop]\ntype = "Replace"\nn = 5\n[run]\nreplicas = 3\ngenerations = 2\n'
        '[[detect]]\nmetric = "var"\nbelow = 0.5\nname = "var"\n'
    )
    assert cli.main(["run", str(tmp_path / "r.toml"), "-o", str(tmp_path / "r.nc")]) == 2
    assert not (tmp_path / "r.nc").exists()
    with pytest.raises(ValueError, match="taken"):
        ms.sweep(
            ms.Config(),
            grid={"loop.n": [5, 6]},
            replicas=2,
            generations=2,
            progress=False,
            detect=[ms.FirstPassage("var", below=0.5, name="tail2")],
        )


def test_detect_must_be_a_list():
    with pytest.raises(TypeError, match="detect must be a list"):
        ms.simulate(ms.Config(), replicas=2, generations=2, detect=5)
    with pytest.raises(TypeError, match="detect must be a list"):
        ms.simulate(ms.Config(), replicas=2, generations=2, detect=ms.FirstPassage("var", below=1.0))


# ------------------------------------------------------------ numpy scalars, Fractions


def numpy_configs():
    i, f = np.int64, np.float64
    return [
        ms.Config(
            family=ms.Gaussian(dim=i(2), mean=np.float32(0.5), var=Fraction(3, 2)),
            loop=ms.Fresh(real=i(5), synthetic=[i(4), i(5), i(6)]),
            temperature=f(0.9),
            weight=f(0.5),
            filter=ms.Filter(tpr=np.float32(0.25), fpr=Fraction(1, 10)),
        ),
        ms.Config(
            family=ms.Categorical(tokens=np.int32(12), zipf=f(1.1), smoothing=Fraction(1, 2)),
            loop=ms.Augment(real=np.uint16(3), synthetic=i(9)),
            top_k=i(5),
            top_p=np.float32(0.5),
        ),
        ms.Config(
            family=ms.Bigram(tokens=i(4), length=np.int16(6)),
            loop=ms.Replace(n=i(3)),
            path=np.str_("samples"),
        ),
        ms.Config(
            family=ms.PPCA(dim=i(3), factors=i(1), noise=Fraction(1, 2)),
            loop=ms.Accumulate(synthetic=i(6), real=np.int8(1)),
        ),
        ms.Config(
            family=ms.GaussianMixture(em_iters=i(5), em_tol=np.float32(1e-3)),
            loop=ms.AccumulateSubsample(n=i(8), synthetic=i(6)),
        ),
        ms.Config(
            family=ms.Regression(dim=i(2), noise=f(0.5), ridge=Fraction(1, 4), refit_noise=np.bool_(True)),
            loop=ms.Replace(n=i(6)),
        ),
    ]


@pytest.mark.parametrize("k", range(6))
def test_numpy_scalars_normalised_at_construction(k):
    cfg = numpy_configs()[k]
    text = cfg.to_json()
    assert ms.Config.from_dict(json.loads(text)) == cfg
    assert ms.Config.from_dict(json.loads(text)).to_json() == text
    ds = ms.simulate(
        cfg,
        replicas=np.int64(3),
        generations=np.int32(3),
        seed=np.uint64(5),
        record=ms.every(np.int64(1)),
        chunk=np.int64(2),
        progress=False,
        threads=1,
        detect=[ms.FirstPassage(ms.kernels.kernel_for(cfg, 3).observed[0], below=np.float32(0.5), name="d")],
    )
    json.loads(ds.attrs["config"]), json.loads(ds.attrs["detectors"]), json.loads(ds.attrs["record"])


def test_gaussian_dim_numpy_end_to_end(tmp_path):
    ds = ms.simulate(
        ms.Config(family=ms.Gaussian(dim=np.int64(2))), replicas=3, generations=2, progress=False
    )
    back = results.load(results.save(ds, tmp_path / "g.nc"))
    assert json.loads(back.attrs["config"])["family"]["dim"] == 2


def test_integral_values_refused_where_an_int_is_needed():
    with pytest.raises(TypeError, match="Gaussian.dim"):
        ms.Gaussian(dim=np.float64(2.0))
    with pytest.raises(TypeError, match="Replace.n"):
        ms.Replace(n=Fraction(5, 2))


# ------------------------------------------------------------ memory


def test_replicas_2_32_refused_before_allocating():
    tracemalloc.start()
    try:
        with pytest.raises(MemoryError, match="GiB"):
            ms.simulate(ms.Config(), replicas=2**32, generations=2, progress=False)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 * 2**20  # nothing near the 16 GiB of ids


def test_memory_check_counts_the_records():
    # the state alone is small; a million records per replica are not
    with pytest.raises(MemoryError, match="records"):
        ms.simulate(ms.Config(), replicas=10**6, generations=10**5, record=ms.every(1), progress=False)


def test_records_are_not_copied_into_the_dataset():
    ds = ms.simulate(
        ms.Config(family=ms.Gaussian(dim=2)), replicas=5, generations=3, progress=False, metrics="all"
    )
    # the columns of one record buffer (cov, a symmetric matrix from packed
    # columns, is the one small gathered copy)
    views = [ds[v].values for v in ds.data_vars if ds[v].dims == ("replica", "generation")]
    assert len(views) > 3 and all(v.base is not None and v.base is views[0].base for v in views)
    assert ds["mean"].values.base is views[0].base


# ------------------------------------------------------------ resume keeps the record rule


@pytest.mark.parametrize("record", [ms.every(10), ms.logspace(8), [0, 7, 15, 33, 60], None])
def test_resume_keeps_the_record_rule(record):
    cfg = ms.Config(loop=ms.Replace(n=5))
    full = ms.simulate(cfg, replicas=5, generations=60, seed=2, record=record, progress=False)
    stopped = _interrupted(cfg, record, at=20)  # a 60-generation run stopped at 20
    assert stopped.attrs["generations_completed"] == 20
    again = ms.resume(stopped, 60)  # no record=: the run's own rule
    np.testing.assert_array_equal(again["generation"].values, full["generation"].values)
    np.testing.assert_array_equal(again["var"].values, full["var"].values)
    other = ms.resume(stopped, 60, record=ms.every(30))  # a new spec when given
    assert set(other["generation"].values[other["generation"].values > 20]) == {30, 60}


def _interrupted(cfg, record, at):
    real = drv.kernel_for

    def stopping(*a, **k):
        kern = real(*a, **k)
        calls = {"n": 0}

        def advance(*args):
            calls["n"] += 1
            if calls["n"] > at // 10:
                raise KeyboardInterrupt
            kern.advance(*args)

        return kern.__class__(**{**kern.__dict__, "advance": advance})

    drv.kernel_for = stopping
    try:
        with pytest.warns(ms.RunInterrupted):
            return ms.simulate(
                cfg, replicas=5, generations=60, seed=2, record=record, progress=False, chunk=10
            )
    finally:
        drv.kernel_for = real


# ------------------------------------------------------------ summary, dask


def test_summary_of_a_token_run_is_quiet():
    ds = ms.simulate(
        ms.Config(family=ms.Categorical(tokens=5), loop=ms.Replace(n=3)),
        replicas=20,
        generations=30,
        progress=False,
        metrics="all",
    )
    assert not np.isfinite(ds["kl_truth_model"].values[:, -1]).any()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = results.summary(ds)
    assert np.isnan(s["kl_truth_model_mean"].values[-1])


def test_embedded_dask_cluster_has_no_dashboard(monkeypatch):
    distributed = pytest.importorskip("distributed")
    from madsim.sweeps import tasks as sweep_tasks

    seen = {}

    class FakeCluster:
        def __init__(self, **kwargs):
            seen.update(kwargs)

        def close(self):
            pass

    class FakeClient:
        def __init__(self, cluster):
            pass

        def close(self):
            pass

    monkeypatch.setattr(distributed, "LocalCluster", FakeCluster)
    monkeypatch.setattr(distributed, "Client", FakeClient)
    _client, close = sweep_tasks.dask_client(None, 2)
    close()
    assert seen["dashboard_address"] is None and seen["host"] == "127.0.0.1"


# ------------------------------------------------------------ fuzzing


class Outcome:
    RUN, CLEAR, SILENT, CRASH, HANG = "ran", "clear errors", "silent non-finite", "crashes", "hangs"


def _pick(rng, values):
    return values[int(rng.integers(len(values)))]


BAD_RATE = 0.04  # per value: about half the cases stay valid, half carry one or more bad values


def _numbers(rng, ok):
    bad = [
        -1,
        0,
        -1.5,
        float("nan"),
        float("inf"),
        1e308,
        "3",
        None,
        [1, 2],
        True,
        2**70,
        Fraction(7, 3),
        np.int64(-2),
        np.float32(2.5),
    ]
    return _pick(rng, ok) if rng.random() >= BAD_RATE else _pick(rng, bad)


def _choose(rng, ok, bad):
    return _pick(rng, bad) if rng.random() < 2 * BAD_RATE else _pick(rng, ok)


FAMILIES = {
    "Gaussian": lambda r: dict(
        dim=_numbers(r, [1, 2, np.int64(3)]),
        mean=_numbers(r, [0.0, 1.5, np.float32(-1)]),
        var=_numbers(r, [1.0, 0.5, Fraction(3, 2)]),
    ),
    "Categorical": lambda r: dict(
        tokens=_numbers(r, [5, 20, np.int32(8)]),
        zipf=_numbers(r, [None, 1.0, 0.5]),
        smoothing=_numbers(r, [0.0, 0.5]),
        rare=_numbers(r, [0.1, 0.5]),
    ),
    "Bigram": lambda r: dict(
        tokens=_numbers(r, [3, 5]), length=_numbers(r, [2, 6]), smoothing=_numbers(r, [0.0, 0.2])
    ),
    "PPCA": lambda r: dict(
        dim=_numbers(r, [2, 4]), factors=_numbers(r, [1, 2]), noise=_numbers(r, [1.0, 0.3])
    ),
    "GaussianMixture": lambda r: dict(em_iters=_numbers(r, [3, 10]), em_tol=_numbers(r, [1e-3, 0.0])),
    "Regression": lambda r: dict(
        dim=_numbers(r, [1, 3]),
        noise=_numbers(r, [1.0, 0.2]),
        ridge=_numbers(r, [0.0, 0.1]),
        design=_choose(r, ["fresh", "fixed"], ["odd"]),
    ),
    "Logistic": lambda r: dict(
        dim=_numbers(r, [1, 3]),
        ridge=_numbers(r, [0.0, 0.1]),
        tol=_numbers(r, [1e-10, 1e-6]),
        max_iter=_numbers(r, [50, 5]),
        design=_choose(r, ["fresh", "fixed"], ["odd"]),
    ),
}
LOOPS = {
    "Replace": lambda r: dict(n=_numbers(r, [5, 12, [6, 7, 8, 9, 10, 11]])),
    "Augment": lambda r: dict(real=_numbers(r, [4, 0]), synthetic=_numbers(r, [5, 9])),
    "Fresh": lambda r: dict(real=_numbers(r, [4, 8]), synthetic=_numbers(r, [5, 0])),
    "Accumulate": lambda r: dict(synthetic=_numbers(r, [5, 9]), real=_numbers(r, [0, 2])),
    "AccumulateSubsample": lambda r: dict(n=_numbers(r, [6, 10]), synthetic=_numbers(r, [5, 9])),
}


def _api_case(rng):
    fam = _pick(rng, list(FAMILIES))
    loop = _pick(rng, list(LOOPS))
    top = {}
    if rng.random() < (0.5 if fam not in ("Regression", "Logistic") else 0.05):
        top["temperature"] = _numbers(rng, [0.9, 1.2, 3.0, np.float64(1.5), 12.0])
    if rng.random() < 0.3:
        top["path"] = _choose(rng, ["exact", "samples"], ["both", 1])
    if rng.random() < 0.2:
        top["weight"] = _choose(rng, [0.5, "optimal", np.float64(0.3)], [2.0, "best"])
    if rng.random() < (0.3 if fam in ("Gaussian", "PPCA") else 0.03):
        top["truncation"] = _numbers(rng, [2.0, 3.0])
        top["path"] = "samples"
    if rng.random() < (0.4 if fam in ("Categorical", "Bigram") else 0.03):
        top["top_k"] = _numbers(rng, [2, 3])
    if rng.random() < 0.15:
        top["filter"] = ms.Filter(tpr=_pick(rng, [0.2, 0.5]), fpr=_pick(rng, [0.0, 0.1]))
    run = dict(
        replicas=_numbers(rng, [1, 4, np.int64(3), [0, 5, 9]]),
        generations=_numbers(rng, [0, 3, 8, np.int32(5), 40, 300]),
        seed=_numbers(rng, [0, 7, np.uint64(2**63)]),
        record=_choose(rng, [None, ms.every(2), ms.logspace(3), [0, 1]], [[], "all", [99]]),
        metrics=_choose(rng, [None], [["nope"], "var", 3]),
        detect=_choose(
            rng,
            [(), [ms.FirstPassage("points_synthetic", above=1e9)]],
            [5, [ms.FirstPassage("var", below=0.5, name="mean")]],
        ),
        chunk=_choose(rng, [None, 1, 3], [0, -2]),
        on_nonfinite=_choose(rng, ["warn", "raise"], ["bad"]),
        dtype=_choose(rng, ["float64", "float32"], ["int8"]),
    )

    def call():
        family = getattr(ms, fam)(**FAMILIES[fam](rng))
        cfg = ms.Config(family=family, loop=getattr(ms, loop)(**LOOPS[loop](rng)), **top)
        return ms.simulate(cfg, progress=False, threads=1, **run)

    return call


def _toml_value(rng):
    return _pick(
        rng,
        [
            "1",
            "5",
            "0",
            "-3",
            "2.5",
            "1e308",
            "nan",
            "inf",
            '"x"',
            "true",
            "[1, 2, 3]",
            "[]",
            "{ every = 2 }",
            "{ logspace = 3 }",
            "{ every = 0 }",
            "[[1.0]]",
            "{ a = { b = { c = 1 } } }",
        ],
    )


def _toml_case(rng, tmp_path):
    lines = []
    if rng.random() < 0.5:
        lines.append("temperature = " + _pick(rng, ["1.0", "0.5", "-1", '"hot"', "1e300"]))
    fam = _pick(rng, ["Gaussian", "Categorical", "PPCA", "Regression", "Bogus"])
    lines += ["[family]", f'type = "{fam}"']
    for key in rng.choice(
        ["dim", "var", "tokens", "noise", "zipf", "mean", "colour"],
        size=int(rng.integers(0, 3)),
        replace=False,
    ):
        lines.append(f"{key} = {_toml_value(rng)}")
    loop = _pick(rng, ["Replace", "Fresh", "Augment", "Nope"])
    lines += ["[loop]", f'type = "{loop}"']
    for key in rng.choice(["n", "real", "synthetic", "size"], size=int(rng.integers(0, 3)), replace=False):
        lines.append(f"{key} = {_toml_value(rng) if rng.random() < 0.5 else _pick(rng, ['5', '8'])}")
    lines += [
        "[run]",
        "replicas = " + _pick(rng, ["3", "4", "0", '"many"', "[1, 2]"]),
        "generations = " + _pick(rng, ["3", "5", "-1", "2.5"]),
    ]
    if rng.random() < 0.3:
        lines.append(f"record = {_toml_value(rng)}")
    if rng.random() < 0.3:
        lines += [
            "[[detect]]",
            'metric = "var"',
            "below = " + _pick(rng, ["0.5", '"low"']),
            "name = " + _pick(rng, ['"low"', '"var"', '"state"', "3"]),
        ]
    if rng.random() < 0.1:
        lines += ["[unknown]", "a = 1"]
    path = tmp_path / f"case{int(rng.integers(1 << 30))}.toml"
    path.write_text("\n".join(lines) + "\n")

    def call():
        cfg, kwargs = toml_config.load(path)
        kwargs = {k: v for k, v in kwargs.items() if k != "threads"}
        return ms.simulate(cfg, progress=False, threads=1, **kwargs)

    return call


def _classify(call) -> str:
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            ds = call()
        except (TypeError, ValueError, NotImplementedError, MemoryError, ms.NonFiniteError) as exc:
            outcome = Outcome.CLEAR if str(exc).strip() else Outcome.CRASH
        except Exception:  # noqa: BLE001 - anything else is what this suite looks for
            outcome = Outcome.CRASH
        else:
            warned = any(issubclass(w.category, ms.NonFiniteWarning) for w in caught)
            finite = bool(np.isfinite(ds["state"].values).all())
            outcome = Outcome.RUN if finite or warned else Outcome.SILENT
    if time.perf_counter() - t0 > HANG_S:
        outcome = Outcome.HANG
    return outcome


def _fuzz(n, seed, tmp_path, request, label):
    rng = np.random.default_rng(seed)
    counts = dict.fromkeys([Outcome.RUN, Outcome.CLEAR, Outcome.SILENT, Outcome.CRASH, Outcome.HANG], 0)
    bad = []
    for i in range(n):
        call = _api_case(rng) if i % 3 else _toml_case(rng, tmp_path)
        outcome = _classify(call)
        counts[outcome] += 1
        if outcome in (Outcome.SILENT, Outcome.CRASH, Outcome.HANG):
            bad.append((i, outcome))
    request.config.stash.setdefault(FAULT_COUNTS, {})[label] = {"cases": n, **counts}
    print(f"\n{label}: {n} cases: " + ", ".join(f"{v} {k}" for k, v in counts.items()))
    assert not bad, f"cases (index, outcome) that crashed, hung or went silently non-finite: {bad[:10]}"
    assert counts[Outcome.RUN] > n // 10 and counts[Outcome.CLEAR] > n // 10  # both paths exercised


def test_fuzz_fast(tmp_path, request):
    _fuzz(FAST_CASES, 20261207, tmp_path, request, "fuzz (fast subset)")


@pytest.mark.slow
def test_fuzz_slow(tmp_path, request):
    _fuzz(SLOW_CASES, 1, tmp_path, request, "fuzz (slow)")


def test_sweep_reports_divergent_points(tmp_path):
    grid = {"temperature": [1.0, 10.0]}
    with pytest.warns(ms.NonFiniteWarning, match=r"4 replicas in 1 grid points.*temperature = 10\.0"):
        ds = ms.sweep(
            ms.Config(loop=ms.Replace(n=5)),
            grid=grid,
            replicas=4,
            generations=300,
            progress=False,
            store=tmp_path / "s",
        )
    assert ds.attrs["nonfinite_replicas"] == 4
    with pytest.warns(ms.NonFiniteWarning):  # the same from the store
        ms.sweep(
            ms.Config(loop=ms.Replace(n=5)),
            grid=grid,
            replicas=4,
            generations=300,
            progress=False,
            store=tmp_path / "s",
        )
    with pytest.raises(ms.NonFiniteError, match="temperature = 10.0"):
        ms.sweep(
            ms.Config(loop=ms.Replace(n=5)),
            grid=grid,
            replicas=4,
            generations=300,
            progress=False,
            on_nonfinite="raise",
            scheduler="serial",
        )


def test_zero_generations_with_a_weight_records_the_truth():
    cfg = ms.Config(loop=ms.Fresh(real=5, synthetic=5), weight=0.5)
    ds = ms.simulate(cfg, replicas=3, generations=0, progress=False)
    assert list(ds["generation"].values) == [0] and ds.attrs["generations_completed"] == 0
    ref = ms.simulate(cfg, replicas=3, generations=4, record=[0, 4], progress=False)
    np.testing.assert_array_equal(ds["var"].values[:, 0], ref["var"].values[:, 0])
