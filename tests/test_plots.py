"""madsim.plots: figures render headless (Agg) with the expected artists and
data, the Kaplan-Meier estimator matches a brute-force computation and a
textbook table, and bad input gets a ValueError naming what is available."""

import json
import math

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import madsim as ms  # noqa: E402
from madsim import plots  # noqa: E402

N = 10
EPS = 0.1  # collapse detector: sigma_t <= EPS sigma_0


@pytest.fixture(autouse=True)
def _headless(monkeypatch):
    def no_show(*a, **k):
        raise AssertionError("madsim.plots must never call plt.show()")

    monkeypatch.setattr(plt, "show", no_show)
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def ds1():
    """1-D replace loop, small: 300 replicas x 60 generations, every one recorded."""
    cfg = ms.Config(loop=ms.Replace(n=N))
    return ms.simulate(
        cfg,
        replicas=300,
        generations=60,
        seed=3,
        record=ms.every(1),
        progress=False,
        detect=[ms.FirstPassage("var", below=EPS**2)],
    )


@pytest.fixture(scope="module")
def ds_fresh():
    cfg = ms.Config(loop=ms.Fresh(real=5, synthetic=N))
    return ms.simulate(
        cfg, replicas=100, generations=30, seed=4, progress=False, detect=[ms.FirstPassage("var", below=0.05)]
    )


@pytest.fixture(scope="module")
def ds2d():
    cfg = ms.Config(
        family=ms.Gaussian(dim=2, mean=(1.0, -2.0), cov=((2.0, 0.5), (0.5, 0.5))), loop=ms.Replace(n=8)
    )
    return ms.simulate(
        cfg, replicas=50, generations=40, seed=5, record=ms.logspace(8), progress=False, metrics="all"
    )


def _saved(fig, tmp_path, name):
    path = tmp_path / name
    fig.savefig(path, dpi=60)
    assert path.stat().st_size > 8000, f"{name} is only {path.stat().st_size} bytes"
    return path


def _lines(ax):
    """Data lines (not axvlines, whose x data are constant pairs)."""
    return [ln for ln in ax.get_lines() if len(ln.get_xdata()) > 2]


# ---------------------------------------------------------------- tails


def test_tails_one_replica(ds1, tmp_path):
    ax = plots.tails(ds1, generations=[5, 20, 60], replica=7)
    assert ax.get_yscale() == "log"
    assert len(_lines(ax)) == 1 + 3  # truth + one per generation
    assert len(ax.collections) == 2  # the truth's tails beyond 2 and 3 sigma0
    assert len([ln for ln in ax.get_lines() if len(ln.get_xdata()) == 2]) == 4  # +-2, +-3 sigma0
    labels = ax.get_legend_handles_labels()[1]
    assert any("t$ = 60" in s for s in labels) and any("truth" in s for s in labels)
    assert "replica 7" in ax.get_title()
    _saved(ax.figure, tmp_path, "tails.png")


def test_tails_curves_are_the_models_cell_masses(ds1):
    """The drawn density integrates (sum * cell width) to the model's mass in xlim,
    for the truth, one replica and the mixture over replicas."""
    from scipy.stats import norm

    for replica in (0, "mean"):
        ax = plots.tails(ds1, generations=[3], replica=replica, cells=400, xlim=(-4.0, 4.0))
        truth, model = _lines(ax)
        width = 8.0 / 400
        assert truth.get_ydata().sum() * width == pytest.approx(norm.cdf(4) - norm.cdf(-4), rel=1e-12)
        rows = [0] if replica == 0 else slice(None)
        mu = ds1["mean"].sel(generation=3).values[rows]
        sd = np.sqrt(ds1["var"].sel(generation=3).values[rows])
        want = np.mean(norm.cdf(4, mu, sd) - norm.cdf(-4, mu, sd))
        assert model.get_ydata().sum() * width == pytest.approx(want, rel=1e-10)


def test_tails_default_generations_and_mixture(ds1, tmp_path):
    ax = plots.tails(ds1, replica="mean", log=False)
    assert ax.get_yscale() == "linear"
    assert 2 <= len(_lines(ax)) - 1 <= 4  # a few log-spaced recorded generations
    assert "mixture over 300 replicas" in ax.get_title()
    _saved(ax.figure, tmp_path, "mixture.png")


def test_tails_marginal_of_a_coordinate(ds2d, tmp_path):
    fig, axs = plt.subplots(1, 2)
    for coord, ax in enumerate(axs):
        plots.tails(ds2d, ax=ax, coord=coord, sigmas=(2,))
        x = _lines(ax)[0].get_xdata()
        mu0, s0 = (1.0, math.sqrt(2.0)) if coord == 0 else (-2.0, math.sqrt(0.5))
        assert x.min() == pytest.approx(mu0 - 5 * s0, abs=0.1) and x.max() == pytest.approx(
            mu0 + 5 * s0, abs=0.1
        )
        assert f"coordinate {coord}" in ax.get_xlabel()
    _saved(fig, tmp_path, "marginal.png")


def test_tails_collapsed_model_is_a_spike_not_nothing():
    """A model far narrower than a cell still shows all its mass (in one cell)."""
    edges = np.linspace(-1, 1, 11)
    mass = plots._cell_mass(edges, np.array([0.05, 0.31, 0.31]), np.array([1e-30, 0.0, 1e-3]))
    assert mass.sum() == pytest.approx(1.0, rel=1e-12)
    assert mass[5] == pytest.approx(1 / 3) and mass[6] == pytest.approx(2 / 3)


# ---------------------------------------------------------------- metric


def test_metric_band_paths_theory(ds1, tmp_path):
    ax = plots.metric(ds1, "var", paths=4, log=True)
    lines = ax.get_lines()
    assert len(lines) == 1 + 4 + 1  # mean, paths, theory
    assert len(ax.collections) == 2  # the CI band, the 5-95% band of the replicas
    spread = ax.collections[1].get_paths()[0].vertices[:, 1]
    for q in (0.05, 0.95):  # both edges are the polygon's
        edge = np.quantile(ds1["var"].values, q, axis=0)
        assert np.abs(spread[:, None] - edge[None, :]).min(axis=0).max() < 1e-12
    t = ds1["generation"].values
    theory = lines[-1]
    np.testing.assert_allclose(theory.get_ydata(), ms.theory.expected_var(ds1_cfg(ds1), t))
    np.testing.assert_allclose(lines[0].get_ydata(), ds1["var"].mean("replica").values)
    assert ax.get_yscale() == "log"
    assert "sigma_t^2" in ax.get_ylabel() or "\\sigma_t^2" in ax.get_ylabel()
    _saved(ax.figure, tmp_path, "metric.png")


def test_metric_band_is_a_normal_ci_of_the_mean(ds1):
    ax = plots.metric(ds1, "mean", band=0.9, paths=0, theory=False)
    verts = ax.collections[0].get_paths()[0].vertices
    v = ds1["mean"].values
    se = v.std(axis=0, ddof=1) / math.sqrt(v.shape[0])
    z = 1.6448536269514722
    ys = verts[:, 1]
    for edge in (v.mean(0) - z * se, v.mean(0) + z * se):  # both edges are the polygon's
        assert np.abs(ys[:, None] - edge[None, :]).min(axis=0).max() < 1e-12
    assert len(ax.get_lines()) == 1


def test_metric_log_var_theory(ds1):
    ax = plots.metric(ds1, "log_var", paths=0)
    mean, theory = ax.get_lines()
    t = ds1["generation"].values
    np.testing.assert_allclose(theory.get_ydata(), ms.theory.expected_log_var(t, N))
    np.testing.assert_allclose(mean.get_ydata(), np.log(ds1["var"].values).mean(0))
    assert "ln" in ax.get_ylabel()


def test_metric_without_a_closed_form_draws_no_theory(ds_fresh, ds1, monkeypatch):
    # Fresh: E ln sigma^2 has none (madsim.theory raises NotImplementedError)
    ax = plots.metric(ds_fresh, "log_var", paths=2)
    assert len(ax.get_lines()) == 1 + 2
    # Fresh: E sigma^2 has one
    ax = plots.metric(ds_fresh, "var", paths=0)
    assert len(ax.get_lines()) == 2
    # a theory function that does not exist (yet) is skipped, not an error
    monkeypatch.setitem(plots.THEORY, "var", "expected_var_not_written_yet")
    ax = plots.metric(ds1, "var", paths=0)
    assert len(ax.get_lines()) == 1


def _legend_texts(ax):
    return [t.get_text() for t in ax.get_legend().get_texts()]


def test_metric_says_when_there_is_no_closed_form(ds_fresh, ds1):
    notes = [s for s in _legend_texts(plots.metric(ds_fresh, "log_var", paths=0)) if "no closed form" in s]
    assert len(notes) == 1 and "Fresh" in notes[0] and "ln" in notes[0]
    assert not any("no closed form" in s for s in _legend_texts(plots.metric(ds1, "log_var", paths=0)))
    assert not any("no closed form" in s for s in _legend_texts(plots.metric(ds1, "var", theory=False)))


@pytest.fixture
def ds_outlier(ds1):
    """ds1 with one replica's variance at 9 from t = 6 on, where the mean is 0.55."""
    ds = ds1.copy(deep=True)
    ds["var"].values[17, 6:] = 9.0
    assert ds["var"].mean("replica").values[6:].max() < 0.6
    return ds


def test_metric_y_range_is_the_quantile_band_not_an_outlier(ds_outlier):
    var = ds_outlier["var"].values
    lo, hi = np.quantile(var, 0.05, axis=0), np.quantile(var, 0.95, axis=0)
    ax = plots.metric(ds_outlier, "var", paths=5)
    y0, y1 = ax.get_ylim()
    span = hi.max() - min(lo.min(), 0.0)
    assert y1 <= hi.max() + 0.1 * span and y0 >= lo.min() - 0.1 * span  # within the band (+ margin)
    assert y1 < 3.0  # not 9
    assert any("paths beyond it are cut" in s for s in _legend_texts(ax))
    # the outlier is still drawn (lightly), only cut by the axes
    assert any(np.max(ln.get_ydata()) == 9.0 and ln.get_alpha() < 0.5 for ln in ax.get_lines())
    # log axis too; and robust=False is matplotlib's autoscale (up to the outlier)
    assert plots.metric(ds_outlier, "var", log=True).get_ylim()[1] < 9.0
    assert plots.metric(ds_outlier, "var", robust=False).get_ylim()[1] >= 9.0


def test_metric_spread_argument(ds1):
    ax = plots.metric(ds1, "var", spread=(0.25, 0.75), paths=0, band=None)
    assert any("25%-75% of the replicas" in s for s in _legend_texts(ax))
    assert len(plots.metric(ds1, "var", spread=None, band=None).collections) == 0
    with pytest.raises(ValueError, match="spread"):
        plots.metric(ds1, "var", spread=(0.9, 0.1))


@pytest.fixture(scope="module")
def ds_regression():
    cfg = ms.Config(family=ms.Regression(dim=3), loop=ms.Replace(n=20))
    return ms.simulate(
        cfg,
        replicas=60,
        generations=15,
        seed=2,
        progress=False,
        metrics="all",
        detect=[ms.FirstPassage("test_error", above=1.0, name="worse")],
    )


def _assert_texts_inside(fig, ax):
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    W, H = fig.bbox.width, fig.bbox.height
    texts = [ax.xaxis.label, ax.yaxis.label, ax.title]
    if ax.get_legend() is not None:
        texts += list(ax.get_legend().get_texts())
    for text in texts:
        if not text.get_text():
            continue
        box = text.get_window_extent(renderer)
        assert box.x0 >= -1 and box.y0 >= -1 and box.x1 <= W + 1 and box.y1 <= H + 1, (
            text.get_text(),
            box.bounds,
            (W, H),
        )


def test_labels_are_inside_the_figure_at_default_size(ds_regression, ds1, tmp_path):
    ax = plots.metric(ds_regression, "test_error")  # the longest y label of any variable
    _assert_texts_inside(ax.figure, ax)
    assert "\n" in ax.get_ylabel()  # wrapped to the axes' height
    _saved(ax.figure, tmp_path, "test_error.png")
    for draw in (lambda: plots.survival(ds_regression, "worse"), lambda: plots.tails(ds1)):
        ax = draw()
        _assert_texts_inside(ax.figure, ax)


def test_wrap_keeps_math_spans_whole():
    text = "excess risk $(w_t - w^*)' \\Sigma (w_t - w^*)$ over many words of text"
    lines = plots._wrap(text, 12).split("\n")
    assert "$(w_t - w^*)' \\Sigma (w_t - w^*)$" in lines
    assert " ".join(lines) == text


def test_detector_names_come_from_the_run(ds1, ds_regression):
    assert plots.detector_names(ds_regression) == ["worse"]
    assert plots.detector_names(ds1) == ["first_var_below"]
    with pytest.raises(ValueError, match="this run's detectors: worse"):
        plots.survival(ds_regression, "first_test_error_above")
    with pytest.raises(ValueError, match="this run has no detectors"):
        plots.survival(ds_regression[["w_norm"]], "worse")


def test_metric_overlay_runs_share_legend_entries(ds1, ds_fresh):
    fig, ax = plt.subplots()
    plots.metric(ds1, "var", ax=ax, paths=0, label="replace", color="C0")
    plots.metric(ds_fresh, "var", ax=ax, paths=0, label="fresh", color="C1")
    labels = ax.get_legend_handles_labels()[1]
    assert labels.count("theory: madsim.theory (dashed)") == 1
    assert "replace" in labels and "fresh" in labels


def test_metric_d2_variables(ds2d):
    ax = plots.metric(ds2d, "logdet", paths=3)
    assert len(ax.get_lines()) == 1 + 3 + 1  # theory: expected_logdet
    ax = plots.metric(ds2d, "log_trace", paths=0)
    assert len(ax.get_lines()) == 1


# ---------------------------------------------------------------- Kaplan-Meier


def _km_brute(times, observed, grid):
    """S(t) and Greenwood's variance at each t of grid, straight from the
    definitions: a product over every distinct event time <= t."""
    S, V = [], []
    for t in grid:
        s, g = 1.0, 0.0
        for u in sorted(set(times[observed])):
            if u > t:
                continue
            n = sum(1 for x in times if x >= u)
            d = sum(1 for x, o in zip(times, observed) if o and x == u)
            s *= 1 - d / n
            g += d / (n * (n - d)) if n > d else math.inf
        S.append(s)
        V.append(s * s * g if s > 0 else math.inf)
    return np.array(S), np.array(V)


def test_kaplan_meier_vs_brute_force():
    # ties among events, censoring tied with an event (at risk there), censoring
    # before the first event, and the last subject an event (S -> 0)
    times = np.array([3, 1, 4, 4, 2, 5, 5, 5, 7, 8, 2, 6, 9], dtype=float)
    observed = np.array([1, 0, 1, 1, 1, 0, 1, 1, 0, 1, 1, 0, 1], dtype=bool)
    km = plots.kaplan_meier(times, observed)
    np.testing.assert_array_equal(km.time, [2, 3, 4, 5, 8, 9])
    np.testing.assert_array_equal(km.at_risk, [12, 10, 9, 7, 2, 1])
    np.testing.assert_array_equal(km.events, [2, 1, 2, 2, 1, 1])
    S, V = _km_brute(times, observed, km.time)
    np.testing.assert_allclose(km.survival, S, rtol=1e-14)
    fin = np.isfinite(V)
    np.testing.assert_allclose(km.variance[fin], V[fin], rtol=1e-12)
    assert km.survival[-1] == 0.0 and np.isinf(km.variance[-1])


def test_kaplan_meier_textbook_table():
    """Gehan's 6-MP leukaemia arm (Freireich et al. 1963; the KM table of
    Kleinbaum & Klein, Survival Analysis, ch. 2): S and Greenwood s.e."""
    t = [6, 6, 6, 6, 7, 9, 10, 10, 11, 13, 16, 17, 19, 20, 22, 23, 25, 32, 32, 34, 35]
    e = [1, 1, 1, 0, 1, 0, 1, 0, 0, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0]
    km = plots.kaplan_meier(t, e)
    np.testing.assert_array_equal(km.time, [6, 7, 10, 13, 16, 22, 23])
    np.testing.assert_allclose(
        km.survival, [0.8571, 0.8067, 0.7529, 0.6902, 0.6275, 0.5378, 0.4482], atol=6e-5
    )
    np.testing.assert_allclose(
        np.sqrt(km.variance), [0.0764, 0.0869, 0.0963, 0.1068, 0.1141, 0.1282, 0.1346], atol=6e-5
    )


def test_kaplan_meier_without_censoring_is_the_empirical_survival():
    rng = np.random.default_rng(0)
    t = rng.integers(0, 30, size=200).astype(float)
    km = plots.kaplan_meier(t, np.ones(200, bool))
    np.testing.assert_allclose(km.survival, [(t > u).mean() for u in km.time], rtol=1e-12)
    lo, hi = plots.km_band(km, 0.95)
    ok = (km.survival > 0) & (km.survival < 1)
    assert np.all(lo[ok] < km.survival[ok]) and np.all(km.survival[ok] < hi[ok])
    assert np.all((lo >= 0) & (hi <= 1))


# ---------------------------------------------------------------- survival


def test_survival_curve_band_censoring_and_wald(ds1, tmp_path):
    ax = plots.survival(ds1, "first_var_below")
    times, observed = plots.first_passage(ds1, "first_var_below")
    G = ds1.attrs["generations_completed"]
    assert np.all(times[~observed] == G) and np.all(times <= G)
    step = ax.get_lines()[0]
    km = plots.kaplan_meier(times, observed)
    x, y = np.asarray(step.get_xdata()), np.asarray(step.get_ydata())
    assert x[0] == 0 and y[0] == 1.0 and x[-1] == G
    np.testing.assert_allclose(y[1:-1], km.survival)
    assert len(ax.collections) == 1  # the Greenwood band
    vlines = [
        ln for ln in ax.get_lines() if len(ln.get_xdata()) == 2 and ln.get_xdata()[0] == ln.get_xdata()[1]
    ]
    assert len(vlines) == 1
    assert vlines[0].get_xdata()[0] == pytest.approx(ms.theory.collapse_time_wald(EPS, N))
    assert any("approximation" in s for s in ax.get_legend_handles_labels()[1])
    n_cens = int((~observed).sum())
    if n_cens:
        assert any(f"{n_cens} censored" in s for s in ax.get_legend_handles_labels()[1])
    _saved(ax.figure, tmp_path, "survival.png")


def test_survival_takes_the_detector_object_and_a_plain_band(ds1):
    det = ms.FirstPassage("var", below=EPS**2)
    ax = plots.survival(ds1, det, ci="plain", theory=30.0)
    assert det.label in ax.get_title()
    assert any("E T = 30 (given)" in s for s in ax.get_legend_handles_labels()[1])


def test_survival_without_theory_and_for_a_loop_without_one(ds1, ds_fresh):
    ax = plots.survival(ds1, "first_var_below", theory=False, band=None)
    assert len(ax.get_lines()) <= 2 and len(ax.collections) == 0  # step (+ censor mark)
    ax = plots.survival(ds_fresh, "first_var_below")  # Fresh: no approximation to draw
    assert not any("approximation" in s for s in ax.get_legend_handles_labels()[1])


def test_survival_all_censored(ds1):
    ds = ds1.copy()
    ds["first_var_below"] = ds["first_var_below"] * 0 - 1
    ax = plots.survival(ds, "first_var_below", theory=False)
    np.testing.assert_array_equal(ax.get_lines()[0].get_ydata(), [1.0, 1.0])


# ---------------------------------------------------------------- errors


def _without_config(ds):
    out = ds.copy()
    del out.attrs["config"]
    return out


def ds1_cfg(ds):
    return ms.Config.from_dict(json.loads(ds.attrs["config"]))


@pytest.mark.parametrize(
    "call,exc,words",
    [
        (lambda d: plots.metric(d, "varr"), ValueError, ["'varr'", "'var'", "'log_var'", "'mean'"]),
        (
            lambda d: plots.metric(d, "first_var_below"),
            ValueError,
            ["dims", "scalar", "is a detector", "survival --name first_var_below"],
        ),
        (lambda d: plots.metric(d, "var", band=1.5), ValueError, ["band"]),
        (lambda d: plots.metric(d, "var", paths=[10_000]), ValueError, ["replica 10000"]),
        (lambda d: plots.metric(d, "var", paths=-1), ValueError, ["paths"]),
        (lambda d: plots.tails(d, generations=[7, 1000]), ValueError, ["[1000]", "not recorded", "records"]),
        (lambda d: plots.tails(d, replica=999), ValueError, ["replica 999", "ids"]),
        (lambda d: plots.tails(d, replica="median"), ValueError, ["'first'", "'mean'"]),
        (lambda d: plots.tails(d, coord=1), ValueError, ["coord", "dim = 1"]),
        (lambda d: plots.tails(d, cells=3), ValueError, ["cells"]),
        (lambda d: plots.tails(d, sigmas=()), ValueError, ["sigmas"]),
        (lambda d: plots.tails(d, xlim=(1, -1)), ValueError, ["xlim"]),
        (lambda d: plots.tails(d[["var"]]), ValueError, ["'mean'", "lacks"]),
        (lambda d: plots.survival(d, "first_var_below", ci="wald"), ValueError, ["ci", "'loglog'"]),
        (lambda d: plots.survival(d, "var"), ValueError, ["'var'", "not a first-passage", "first_var_below"]),
        (lambda d: plots.survival(d[["var", "mean"]], "first_var_below"), ValueError, ["FirstPassage"]),
        (lambda d: plots.metric(d.isel(replica=[]), "var"), ValueError, ["no replicas"]),
        (
            lambda d: plots.tails(
                d.assign_attrs(config=d.attrs["config"].replace('"Gaussian"', '"Bernoulli"'))
            ),
            ValueError,
            ["Gaussian", "'Bernoulli'"],
        ),
        (lambda d: plots.metric(_without_config(d), "var"), ValueError, ["config"]),
        (lambda d: plots.metric(d["var"], "var"), TypeError, ["xarray.Dataset"]),
    ],
)
def test_bad_input(ds1, call, exc, words):
    with pytest.raises(exc) as info:
        call(ds1)
    for w in words:
        assert w in str(info.value), (w, str(info.value))


def test_d2_has_no_var(ds2d):
    with pytest.raises(ValueError, match="logdet"):
        plots.metric(ds2d, "var")
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        plots.tails(ds2d, coord=2)


def test_missing_matplotlib_names_the_extra(ds1, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)  # import fails
    with pytest.raises(ImportError, match=r'pip install "madsim\[plot\]".*pip install "\.\[plot\]"'):
        plots.metric(ds1, "var")
    # the estimator itself needs only numpy
    assert plots.kaplan_meier([1, 2], [True, False]).survival.tolist() == [0.5]


def test_metric_without_spread_or_paths_spans_the_mean_and_its_band(ds_outlier):
    ax = plots.metric(ds_outlier, "var", spread=None, paths=0, theory=False)
    ci = ax.collections[0].get_paths()[0].vertices[:, 1]
    lo, hi = ci.min(), ci.max()
    y0, y1 = ax.get_ylim()
    assert y0 < lo and y1 > hi and (y1 - y0) < 1.2 * (hi - lo)  # the CI band and a 5% margin
