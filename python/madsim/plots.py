"""Figures of a ``madsim.simulate`` result (matplotlib, the optional extra:
``pip install "madsim[plot]"``, or ``pip install ".[plot]"`` in a source checkout)::

    import madsim as ms
    from madsim import plots
    ds = ms.simulate(ms.Config(loop=ms.Replace(n=20)), replicas=2000,
                     generations=1000, record=[0, 10, 100, 1000])
    plots.tails(ds)                   # the vanishing tails: model densities over the truth's
    plots.metric(ds, "log_var")       # E ln sigma_t^2: CI, 5-95% band, replica paths, theory
    plots.survival(ds2, "first_var_below")   # Kaplan-Meier of a FirstPassage detector

Every function draws on ``ax`` (a new figure when None), returns the Axes and
never calls ``plt.show()``. Bad input raises ValueError naming what the
Dataset holds. Theory curves come from ``madsim.theory`` where a closed form
exists for the variable and the run's Config; where none does (the function
is missing or raises NotImplementedError) the legend says so ("no closed
form for ..."). Labels and titles too long for the axes are wrapped.

``kaplan_meier`` (numpy only) is the estimator behind ``survival``.
"""

from __future__ import annotations

import json
import math
import re
from typing import Callable, NamedTuple, Sequence

import numpy as np
import xarray as xr
from scipy import special

from .families import all_families

PLOT_EXTRA = 'pip install "madsim[plot]" (in a source checkout: pip install ".[plot]")'
GEN_LABEL = "generation t (fits since the truth, t = 0)"
TRUTH_COLOR = "black"

# Variable -> madsim.theory function of (cfg, t) giving its expectation over
# replicas. Looked up by name when a plot is drawn, so closed forms added to
# madsim.theory later are picked up; a missing one means "no theory curve".
# The Gaussian variables (also PPCA's and GMM's where the function takes their
# config); a family's own join below from the registry.
THEORY = {
    "var": "expected_var",
    "log_var": "expected_log_var",
    "mean_sq": "expected_mean_sq",
    "logdet": "expected_logdet",
    "trace": "expected_trace",
    "mean": "expected_mean",
}

# The categorical family's curves (madsim.families.categorical.theory_curve), by the
# function they come from.
TOKEN_THEORY = {
    "gini_simpson": "gini_simpson / fresh_gini_simpson",
    "support": "expected_survivors",
    "rare_mass": "expected_mass (E p_t = p0)",
}

# What a theory curve is, for its legend entry.
_THEORY_TEXT = {
    "var": r"$E\,\sigma_t^2$",
    "log_var": r"$E\,\ln \sigma_t^2$",
    "mean_sq": r"$E\,|\mu_t - \mu_0|^2$",
    "logdet": r"$E \ln\det \Sigma_t$",
    "trace": r"$E\,\mathrm{tr}\,\Sigma_t$",
    "mean": r"$E\,\mu_t$",
}


def _family_plot_theory() -> None:
    """Adds each family's own variables (its FamilySpec's plot_theory) to
    THEORY and _THEORY_TEXT, so a family's theory curve needs no line here."""
    for spec in all_families():
        for var, func, text in spec.plot_theory:
            THEORY[var] = func
            _THEORY_TEXT[var] = text


_family_plot_theory()


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as e:  # pragma: no cover - the test extra installs it
        raise ImportError(f"madsim.plots needs matplotlib, an optional extra: {PLOT_EXTRA}") from e
    return plt


def _new_ax(ax, figsize=(7.0, 4.5)):
    plt = _pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


# ---------------------------------------------------------------- reading a Dataset


def _check_ds(ds) -> None:
    if not isinstance(ds, xr.Dataset):
        raise TypeError(f"ds must be the xarray.Dataset returned by madsim.simulate; got {type(ds).__name__}")
    if "config" not in ds.attrs:
        raise ValueError(
            "ds has no attrs['config']: pass the Dataset returned by madsim.simulate "
            "(or one saved and loaded with its attributes)"
        )
    for dim in ("replica", "generation"):
        if dim not in ds.dims:
            raise ValueError(f"ds has no {dim!r} dimension; a madsim result has dims (replica, generation)")
    if ds.sizes["replica"] == 0:
        raise ValueError("ds holds no replicas (an empty replica selection?)")
    if ds.sizes["generation"] == 0:
        raise ValueError("ds holds no recorded generations")


def _config_dict(ds) -> dict:
    try:
        return json.loads(ds.attrs["config"])
    except (TypeError, json.JSONDecodeError) as e:
        raise ValueError(f"ds.attrs['config'] is not a madsim config JSON: {e}") from None


def _config(ds, cfg=None):
    """The run's Config, or None when it cannot be rebuilt (a callable schedule)."""
    from .config import Config

    if cfg is not None:
        if not isinstance(cfg, Config):
            raise TypeError(f"cfg must be a madsim.Config or None; got {cfg!r}")
        return cfg
    try:
        return Config.from_dict(_config_dict(ds))
    except (ValueError, TypeError, KeyError):
        return None


def _describe(ds) -> str:
    """A short title for the run: loop, counts, estimator, knobs."""
    try:
        d = _config_dict(ds)
        fam, loop = dict(d["family"]), dict(d["loop"])
    except (ValueError, KeyError, TypeError):
        return ""
    kind = loop.pop("type", "?")
    args = ", ".join(f"{k}={_short(v)}" for k, v in loop.items())
    parts = [f"{kind}({args})", str(d.get("estimator", "")).upper()]
    if fam.get("dim", 1) != 1:
        parts.append(f"d={fam['dim']}")
    if d.get("temperature", 1.0) != 1.0:
        parts.append(f"tau={d['temperature']}")
    if d.get("truncation") is not None:
        parts.append(f"truncation={d['truncation']}")
    if d.get("weight") is not None:
        parts.append(f"weight={d['weight']}")
    if d.get("filter"):
        f = d["filter"]
        parts.append(f"filter(tpr={f.get('tpr')}, fpr={f.get('fpr')})")
    return ", ".join(parts)


def _short(v) -> str:
    if isinstance(v, dict) and "callable" in v:
        return f"<{v['callable']}>"
    if isinstance(v, list):
        return f"[{v[0]}..{v[-1]}]" if len(v) > 3 else str(v)
    return str(v)


# plain-text symbols of the Dataset's long_name attrs -> mathtext, for labels
_MATH = (
    ("|mu_t - mu_0|^2", r"$|\mu_t - \mu_0|^2$"),
    ("ln det Sigma_t", r"$\ln\det\Sigma_t$"),
    ("tr Sigma_t", r"$\mathrm{tr}\,\Sigma_t$"),
    ("sigma_t^2", r"$\sigma_t^2$"),
    ("Sigma_t", r"$\Sigma_t$"),
    ("mu_t", r"$\mu_t$"),
)


def _pretty(text: str) -> str:
    """A long_name with its symbols set as math (sigma_t^2 -> $\\sigma_t^2$)."""
    out, i = [], 0
    while i < len(text):
        for plain, math_ in _MATH:
            if text.startswith(plain, i):
                out.append(math_)
                i += len(plain)
                break
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def _scalar_names(ds) -> list[str]:
    return [k for k, v in ds.data_vars.items() if v.dims == ("replica", "generation")]


def detector_names(ds) -> list[str]:
    """The run's first-passage detectors: the names in attrs["detectors"]
    (the FirstPassage list simulate stores) that ds holds, then any other
    integer variable with dims ("replica",).

    Parameters
    ----------
    ds
        a ``madsim.simulate`` result (or one loaded by ``madsim.results.load``).

    Returns
    -------
    list of str
        The detector variables, in the order the run declared them.

    Examples
    --------
    >>> import madsim as ms
    >>> from madsim import plots
    >>> ds = ms.simulate(ms.Config(), replicas=100, generations=10, seed=1,
    ...                  detect=[ms.FirstPassage("var", below=0.5, name="collapse")])
    >>> plots.detector_names(ds)
    ['collapse']
    """
    names = []
    try:
        for d in json.loads(ds.attrs.get("detectors", "[]")):
            side = "below" if d.get("below") is not None else "above"
            names.append(d.get("name") or f"first_{d['metric']}_{side}")
    except (TypeError, ValueError, KeyError, AttributeError):  # not a madsim detectors list
        names = []
    names = [n for n in names if n in ds.data_vars and ds[n].dims == ("replica",)]
    names += [
        k
        for k, v in ds.data_vars.items()
        if k not in names and v.dims == ("replica",) and np.issubdtype(v.dtype, np.integer)
    ]
    return names


_detector_names = detector_names


def detectors_text(dets) -> str:
    """ "this run's detectors: a, b" (or how to add one), for error messages."""
    if not dets:
        return (
            "this run has no detectors (add one: simulate(..., detect=[madsim.FirstPassage(...)]), "
            "or a [[detect]] table in a run file)"
        )
    return f"this run's detectors: {', '.join(dets)}"


def _wrap(text: str, width: int) -> str:
    """``text`` in lines of about ``width`` characters, never breaking inside
    a $...$ math span (mathtext cannot span lines)."""
    words = re.findall(r"(?:\$[^$]*\$|\S)+", text)
    lines, line = [], ""
    for w in words:
        if line and len(line) + 1 + len(w) > width:
            lines.append(line)
            line = w
        else:
            line = f"{line} {w}" if line else w
    return "\n".join(lines + [line])


def _axis_chars(ax, which: str, fontsize: float) -> int:
    """About how many characters of ``fontsize`` fit along the axes' side
    (its height for "y", its width for "x"), before any layout shrinks it."""
    fig = ax.figure
    box = ax.get_position()
    inches = box.height * fig.get_figheight() if which == "y" else box.width * fig.get_figwidth()
    return max(20, int(inches * 72 / (0.55 * fontsize)))


def _set_labels(
    ax, xlabel: str | None, ylabel: str | None, title: str | None = None, title_size: float = 10
) -> None:
    """Axis labels and title, wrapped to the axes so none is clipped at the
    figure's size (constrained layout then makes room for the extra lines)."""
    import matplotlib as mpl
    from matplotlib.font_manager import FontProperties

    size = FontProperties(size=mpl.rcParams["axes.labelsize"]).get_size_in_points()
    if xlabel is not None:
        ax.set_xlabel(_wrap(xlabel, _axis_chars(ax, "x", size)))
    if ylabel is not None:
        ax.set_ylabel(_wrap(ylabel, _axis_chars(ax, "y", size)))
    if title is not None:
        width = _axis_chars(ax, "x", title_size)
        ax.set_title("\n".join(_wrap(part, width) for part in title.split("\n")), fontsize=title_size)


def _note(ax, key: str, text: str) -> None:
    """A text-only legend entry (no line of its own on the Axes), once per key."""
    if _once(ax, key, text) is not None:
        ax.__dict__.setdefault("_madsim_notes", []).append(text)


def _legend(ax, **kwargs):
    """ax.legend with the notes of _note after the drawn entries."""
    from matplotlib.lines import Line2D

    handles, labels = ax.get_legend_handles_labels()
    for text in ax.__dict__.get("_madsim_notes", []):
        handles.append(Line2D([], [], ls="none"))
        labels.append(text)
    return ax.legend(handles, labels, **kwargs)


def _theory_curve(name: str, cfg, t: np.ndarray):
    """E[name] at generations t from madsim.theory, or None when no closed form
    exists for this variable and config."""
    from .config import spec_for

    if cfg is not None and spec_for(cfg.family).theory_curve is not None:
        return spec_for(cfg.family).theory_curve(name, cfg, t)  # the family's own curves
    if cfg is None or name not in THEORY:
        return None
    from . import theory

    f = getattr(theory, THEORY[name], None)
    if f is None:
        return None
    try:
        y = np.asarray(f(cfg, t), dtype=np.float64)
    except NotImplementedError:
        return None
    if name == "mean":  # E mu_t is [T, dim]; only the 1-D one is a scalar variable
        if y.ndim != 2 or y.shape[1] != 1:
            return None
        y = y[:, 0]
    return y if y.shape == t.shape else None


# ---------------------------------------------------------------- token ranks


def token_ranks(ds, generations: Sequence[int] | None = None, ax=None, replica="mean", legend: bool = True):
    """The vanishing tail of a token model: probability against rank (both
    log scales) at chosen generations over the truth's, for a categorical run
    that recorded ``probs``. Rare tokens are the right end: collapse shows
    as the curve losing its tail and steepening.

    Parameters
    ----------
    ds
        a ``madsim.simulate`` result (or one loaded by ``madsim.results.load``).
    generations
        recorded generations to draw (default: up to four, log-spaced).
    ax
        the matplotlib Axes to draw on (None: a new figure).
    replica
        "mean" (the rank-wise mean over replicas of each replica's sorted
        probabilities), "first", or a replica id.
    legend
        draw the legend.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import madsim as ms
    >>> from madsim import plots
    >>> cfg = ms.Config(family=ms.Categorical(tokens=20, zipf=1.0), loop=ms.Replace(n=50))
    >>> ds = ms.simulate(cfg, replicas=100, generations=10, seed=1, record=[0, 10],
    ...                  metrics=["probs"])
    >>> ax = plots.token_ranks(ds)
    >>> ax.get_xscale(), ax.get_yscale()
    ('log', 'log')
    """
    _check_ds(ds)
    _check_plot_family(ds, "token_ranks")
    if "probs" not in ds:
        raise ValueError("token_ranks needs the probability vector: simulate(..., metrics=['probs', ...])")
    recorded = ds["generation"].values.astype(np.int64)
    gens = (
        _default_generations(recorded)
        if generations is None
        else [int(g) for g in np.atleast_1d(generations)]
    )
    bad = [g for g in gens if g not in set(recorded.tolist())]
    if bad or not gens:
        raise ValueError(f"generations {bad or '[]'} not recorded; ds records {_list_text(recorded)}")
    if isinstance(replica, str) and replica not in ("mean", "first"):
        raise ValueError(f"replica must be 'mean', 'first' or a replica id; got {replica!r}")
    ax = _new_ax(ax)

    def ranked(g):
        p = ds["probs"].sel(generation=g).values  # [R, K]
        if replica == "first":
            p = p[:1]
        elif not isinstance(replica, str):
            if replica not in set(ds["replica"].values.tolist()):
                raise ValueError(f"replica {replica!r} is not in ds")
            p = ds["probs"].sel(generation=g, replica=replica).values[None]
        return np.mean(-np.sort(-p, axis=1), axis=0)

    K = ds.sizes["token"]
    r = np.arange(1, K + 1)
    truth = ranked(int(recorded[0])) if recorded[0] == 0 else None
    if truth is not None:
        ax.plot(r, truth, color="black", lw=2.0, label="truth (generation 0)")
    for g in gens:
        y = ranked(g)
        on = y > 0
        ax.plot(r[on], y[on], lw=1.3, label=f"generation {g}: {int(on.sum())} ranks with mass")
    ax.set_xscale("log")
    ax.set_yscale("log")
    _set_labels(
        ax,
        "rank r (most probable first)",
        "probability of the r-th token" + (" (mean over replicas)" if replica == "mean" else ""),
        None if ax.get_title() else _describe(ds),
    )
    if legend:
        ax.legend(fontsize=8)
    return ax


def _check_plot_family(ds, plot: str) -> None:
    """A single-family plot: the run's family must list ``plot`` in its FamilySpec."""
    from .families import families_with_plot, spec_named

    kind = _config_dict(ds).get("family", {}).get("type")
    spec = spec_named(kind) if isinstance(kind, str) else None
    if spec is None or plot not in spec.plots:
        raise ValueError(
            f"{plot} draws {' or '.join(families_with_plot(plot))} models; this run's family is {kind!r}"
        )


# ---------------------------------------------------------------- tails


def _truth_marginal(ds, coord: int):
    """(mu0, sigma0) of the truth's marginal of coordinate ``coord``, from the config."""
    _check_plot_family(ds, "tails")
    fam = _config_dict(ds).get("family", {})
    d = int(fam.get("dim", 1))
    if not (isinstance(coord, (int, np.integer)) and not isinstance(coord, bool)):
        raise TypeError(f"coord must be an integer in [0, {d - 1}]; got {coord!r}")
    if not 0 <= coord < d:
        raise ValueError(f"coord must be in [0, {d - 1}] (the family has dim = {d}); got {coord}")
    mean = fam.get("mean", 0.0)
    mu0 = float(mean[coord]) if isinstance(mean, list) else float(mean)
    var0 = float(fam["cov"][coord][coord]) if fam.get("cov") is not None else float(fam.get("var", 1.0))
    return mu0, math.sqrt(var0), d


def _model_params(ds, coord: int, d: int):
    """(mean, var) of the model's marginal of ``coord``, each [R, G]."""
    if d == 1:
        missing = [k for k in ("mean", "var") if k not in ds.data_vars]
        if missing:
            raise ValueError(
                f"tails needs the variables 'mean' and 'var'; ds lacks {missing}; "
                f"it has {sorted(ds.data_vars)}"
            )
        return ds["mean"].values, ds["var"].values
    missing = [k for k in ("mean", "cov") if k not in ds.data_vars]
    if missing:
        raise ValueError(
            f"tails needs the variables 'mean' and 'cov' (dim = {d}); ds lacks {missing}; "
            f"it has {sorted(ds.data_vars)}"
        )
    m = ds["mean"].transpose("replica", "generation", ...).values[:, :, coord]
    c = ds["cov"].transpose("replica", "generation", ...).values[:, :, coord, coord]
    return m, c


# |z| beyond which a normal's tail mass, ndtr(-|z|) < 3e-316, is dropped
_Z_WINDOW = 38.0
_CHUNK = 1 << 21  # (model, edge) pairs evaluated at a time: bounded memory


def _cell_mass(edges: np.ndarray, mu: np.ndarray, sd: np.ndarray) -> np.ndarray:
    """Mass of N(mu, sd^2) in each cell [edges[k], edges[k+1]), averaged over
    the models (mu, sd each [M]); sd = 0 is a point mass. Exact to ~1e-300
    absolute in every cell, far tails included (each difference is taken
    between tail probabilities of one side, never 1 - 1), and cheap for
    collapsed models: each model is evaluated only on the edges within
    _Z_WINDOW of its sd (mass beyond them underflows double anyway)."""
    n = edges.size - 1
    mu = np.asarray(mu, dtype=np.float64).ravel()
    sd = np.asarray(sd, dtype=np.float64).ravel()
    out = np.zeros(n)
    point = sd == 0.0
    if point.any():
        cell = np.searchsorted(edges, mu[point], side="right") - 1
        cell = cell[(cell >= 0) & (cell < n)]
        out += np.bincount(cell, minlength=n)
    mu, sd = mu[~point], sd[~point]
    # cells first..last-1 hold all the mass of each model (to ~1e-316)
    first = np.clip(np.searchsorted(edges, mu - _Z_WINDOW * sd, side="right") - 1, 0, n)
    last = np.clip(np.searchsorted(edges, mu + _Z_WINDOW * sd, side="left"), 0, n)
    width = np.maximum(last - first, 0)
    order = np.argsort(width, kind="stable")
    i, M = 0, order.size
    while i < M:
        w_max = int(width[order[min(M, i + max(1, _CHUNK // (int(width[order[i]]) + 2))) - 1]])
        j = min(M, i + max(1, _CHUNK // (w_max + 2)))
        rows = order[i:j]
        w_max = int(width[rows[-1]])
        i = j
        if w_max == 0:
            continue
        k = np.arange(w_max + 1)
        e = np.minimum(first[rows, None] + k, n)  # [m, w_max + 1] edge indices
        z = (edges[e] - mu[rows, None]) / sd[rows, None]
        q = special.ndtr(-np.abs(z))  # the smaller tail beyond each edge
        za, zb, qa, qb = z[:, :-1], z[:, 1:], q[:, :-1], q[:, 1:]
        mass = np.where(za >= 0, qa - qb, np.where(zb <= 0, qb - qa, 1.0 - qa - qb))
        valid = k[None, :-1] < width[rows, None]
        out += np.bincount(e[:, :-1][valid], weights=np.clip(mass[valid], 0.0, None), minlength=n)
    return out / max(1, point.size)


def _tail_mass(lo: float, hi: float, mu: np.ndarray, sd: np.ndarray) -> float:
    """Average over models of P(X < lo) + P(X > hi), X ~ N(mu, sd^2)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        zl, zh = (lo - mu) / sd, (hi - mu) / sd
        zl = np.where(np.isnan(zl), np.where(lo >= mu, np.inf, -np.inf), zl)
        zh = np.where(np.isnan(zh), np.where(hi >= mu, np.inf, -np.inf), zh)
        return float(np.mean(special.ndtr(zl) + special.ndtr(-zh)))


def _fmt_prob(p: float) -> str:
    if p == 0.0:
        return "0"
    if p >= 1e-3:
        return f"{100 * p:.2g}%"
    return f"{p:.1e}"


def _default_generations(recorded: np.ndarray, k: int = 4) -> list[int]:
    """About k recorded generations > 0, log-spaced, always with the last."""
    pos = recorded[recorded > 0]
    if pos.size == 0:
        return []
    if pos.size <= k:
        return pos.tolist()
    targets = np.geomspace(max(1, pos[0]), pos[-1], k)
    idx = [int(np.argmin(np.abs(np.log(pos) - np.log(x)))) for x in targets]
    return sorted({int(pos[i]) for i in idx})


def tails(
    ds,
    generations: Sequence[int] | None = None,
    ax=None,
    replica="first",
    coord: int = 0,
    log: bool = True,
    sigmas: Sequence[float] = (2.0, 3.0),
    xlim: tuple[float, float] | None = None,
    ymin: float | None = None,
    cells: int | None = None,
    legend: bool = True,
):
    """The vanishing tails: the fitted model's density at chosen generations
    over the truth's (generation 0), 1-D Gaussian (d > 1: the marginal of
    coordinate ``coord``), with the truth's tails beyond ``sigmas`` shaded.

    Parameters
    ----------
    ds
        a ``madsim.simulate`` result (or one loaded by ``madsim.results.load``).
    ax
        the matplotlib Axes to draw on (None: a new figure).
    generations
        recorded generations to draw (default: up to four recorded ones, log-
        spaced, with the last).
    replica
        "first" (the first replica in ds), a replica id (the ``replica``
        coordinate), or "mean": the mixture over replicas (the average of the
        replicas' densities: the law of a fresh draw from a random replica's
        model).
    log
        log-scale density axis (the tails are only visible on it); ``ymin`` its
        floor (default 1e-6 of the truth's peak).
    cells
        the density is drawn as the model's mass per cell of a grid of this many
        cells over ``xlim`` (default the truth's mean +- 5 sigma0), divided by
        the width: exact for any model, including those narrower than a cell (a
        collapsed model shows as a spike, not as nothing). Default 800 for one
        replica; for the mixture R/50 clipped to [50, 800]: collapsed replicas
        are point masses, so the mixture is then a histogram of their means and
        coarser cells keep it legible.
    coord
        the coordinate whose marginal is drawn (d > 1).
    sigmas
        the truth's tails beyond these multiples of sigma0 are shaded.
    xlim, ymin
        the x range and the floor of the density axis (defaults above).
    legend
        draw the legend.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on.

    Notes
    -----
    The legend (below the axes) gives each curve's mass beyond the outermost
    ``sigmas``: the probability the model puts where the truth has its tails.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import madsim as ms
    >>> from madsim import plots
    >>> ds = ms.simulate(ms.Config(), replicas=100, generations=10, seed=1, record=[0, 5, 10])
    >>> ax = plots.tails(ds, [5, 10])
    >>> ax.get_yscale()
    'log'
    """
    _check_ds(ds)
    mu0, s0, d = _truth_marginal(ds, coord)
    mu, var = _model_params(ds, coord, d)
    recorded = ds["generation"].values.astype(np.int64)
    if generations is None:
        gens = _default_generations(recorded)
        if not gens:
            raise ValueError("ds records only generation 0 (the truth); nothing to compare with it")
    else:
        if isinstance(generations, (int, np.integer)):
            generations = [generations]
        gens = [int(g) for g in generations]
        bad = [g for g in gens if g not in set(recorded.tolist())]
        if bad or not gens:
            raise ValueError(f"generations {bad or '[]'} not recorded; ds records {_list_text(recorded)}")
    mixture = isinstance(replica, str) and replica == "mean"
    if cells is None:
        cells = int(np.clip(ds.sizes["replica"] // 50, 50, 800)) if mixture else 800
    if isinstance(cells, bool) or not isinstance(cells, (int, np.integer)):
        raise TypeError(f"cells must be an integer >= 10 or None; got {cells!r}")
    cells = int(cells)
    if cells < 10:
        raise ValueError(f"cells must be >= 10; got {cells}")
    if not sigmas or any(float(k) <= 0 for k in sigmas):
        raise ValueError(f"sigmas must be positive numbers of the truth's sd; got {sigmas!r}")
    sigmas = sorted(float(k) for k in sigmas)

    ids = ds["replica"].values
    if isinstance(replica, str) and replica == "mean":
        rows, who = np.arange(ids.size), f"mixture over {ids.size} replicas"
    elif isinstance(replica, str) and replica == "first":
        rows, who = np.array([0]), f"replica {int(ids[0])}"
    elif isinstance(replica, (int, np.integer)) and not isinstance(replica, bool):
        hit = np.nonzero(ids == replica)[0]
        if hit.size == 0:
            raise ValueError(
                f"replica {replica} is not in ds; its replica ids are {_list_text(ids)} "
                "(or pass 'first' or 'mean')"
            )
        rows, who = hit[:1], f"replica {int(replica)}"
    else:
        raise ValueError(f"replica must be 'first', 'mean' or a replica id; got {replica!r}")

    lo, hi = xlim if xlim is not None else (mu0 - 5 * s0, mu0 + 5 * s0)
    if not hi > lo:
        raise ValueError(f"xlim must be (low, high) with high > low; got {xlim!r}")
    edges = np.linspace(lo, hi, cells + 1)
    width = edges[1] - edges[0]
    x = 0.5 * (edges[:-1] + edges[1:])
    kmax = sigmas[-1]
    tail_lo, tail_hi = mu0 - kmax * s0, mu0 + kmax * s0

    ax = _new_ax(ax)
    import matplotlib as mpl

    truth = _cell_mass(edges, np.array([mu0]), np.array([s0])) / width
    p0 = _tail_mass(tail_lo, tail_hi, np.array([mu0]), np.array([s0]))
    floor = ymin if ymin is not None else 1e-6 * truth.max()
    # shading: the truth's tails beyond each of sigmas (darker further out)
    base = floor if log else 0.0
    for j, k in enumerate(sigmas):
        out = np.abs(x - mu0) >= k * s0
        alpha = 0.12 + 0.18 * j / max(1, len(sigmas) - 1)
        ax.fill_between(
            x,
            base,
            truth,
            where=out,
            color="tab:red",
            alpha=alpha,
            lw=0,
            label=rf"truth's tails beyond $\pm{k:g}\sigma_0$",
        )
    top = truth.max()
    ax.plot(
        x,
        truth,
        color=TRUTH_COLOR,
        lw=2.2,
        label=rf"truth ($t$ = 0): mass beyond $\pm{kmax:g}\sigma_0$ = {_fmt_prob(p0)}",
    )

    cmap = mpl.colormaps["viridis"]
    col = {int(g): i for i, g in enumerate(recorded)}
    for i, g in enumerate(gens):
        j = col[g]
        m, sd = mu[rows, j], np.sqrt(np.clip(var[rows, j], 0.0, None))
        dens = _cell_mass(edges, m, sd) / width
        p = _tail_mass(tail_lo, tail_hi, m, sd)
        color = cmap(0.15 + 0.75 * i / max(1, len(gens) - 1))
        top = max(top, dens.max())
        ax.plot(
            x,
            dens,
            color=color,
            lw=1.3,
            drawstyle="steps-mid",
            label=rf"$t$ = {g}: mass beyond $\pm{kmax:g}\sigma_0$ = {_fmt_prob(p)}",
        )
    for k in sigmas:
        for s in (-1, 1):
            ax.axvline(mu0 + s * k * s0, color="tab:red", lw=0.6, ls=":", alpha=0.7)

    ax.set_xlim(lo, hi)
    if log:
        ax.set_yscale("log")
        ax.set_ylim(floor, top * 3.0)
    else:
        ax.set_ylim(0.0, top * 1.05)
    what = "x" if d == 1 else f"coordinate {coord} of x (marginal)"
    _set_labels(
        ax,
        f"{what}   [truth: mean {mu0:g}, sd $\\sigma_0$ = {s0:g}]",
        "density" + (" (log scale)" if log else ""),
        f"Fitted model vs truth: {who}\n{_describe(ds)}",
    )
    if legend:
        ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, frameon=False)
    return ax


def _list_text(values, k: int = 12) -> str:
    v = [int(x) for x in np.asarray(values).ravel()]
    if len(v) <= k:
        return str(v)
    return f"[{', '.join(map(str, v[: k // 2]))}, ..., {', '.join(map(str, v[-k // 2 :]))}] ({len(v)} in all)"


# ---------------------------------------------------------------- metric


def _metric_values(ds, name: str):
    """(values [R, G], y label, theory key) of a scalar variable or 'log_<var>'."""
    scalars = _scalar_names(ds)
    avail = scalars + [f"log_{s}" for s in scalars if s in ("var", "trace", "mean_sq")]
    if not isinstance(name, str):
        raise TypeError(f"name must be a variable name (str); got {name!r}")
    if name in scalars:
        v = ds[name]
        return v.values.astype(np.float64), _pretty(v.attrs.get("long_name", name)), name
    if name.startswith("log_") and name[4:] in scalars:
        base = ds[name[4:]]
        with np.errstate(divide="ignore", invalid="ignore"):
            vals = np.log(base.values.astype(np.float64))
        desc = _pretty(base.attrs.get("long_name", name[4:]))
        return vals, f"ln of the {desc}", name
    if name in ds.data_vars:
        det = (
            (
                f" ({name!r} is a detector: plots.survival(ds, {name!r}), or madsim plot survival --name "
                f"{name})"
            )
            if name in detector_names(ds)
            else ""
        )
        raise ValueError(
            f"{name!r} has dims {ds[name].dims}; metric plots scalar variables with dims "
            f"(replica, generation): {avail}{det}"
        )
    hint = " (d > 1 runs have no 'var': try 'logdet' or 'trace')" if name in ("var", "log_var") else ""
    raise ValueError(f"ds has no scalar variable {name!r}{hint}; available: {avail}")


def metric(
    ds,
    name: str,
    ax=None,
    band: float | None = 0.95,
    paths: int | Sequence[int] = 5,
    theory: bool | Callable = True,
    log: bool = False,
    logx: bool = False,
    label: str | None = None,
    color=None,
    cfg=None,
    legend: bool = True,
    spread: tuple[float, float] | None = (0.05, 0.95),
    robust: bool = True,
):
    """A scalar variable vs generation: the mean over replicas with a normal
    confidence band for it (mean +- z * standard error across replicas), the
    spread of the replicas (a light band between two quantiles per
    generation), a few replica paths (thin, light) and the madsim.theory
    expectation where one exists (else the legend says there is no closed
    form for it).

    Parameters
    ----------
    ds
        a ``madsim.simulate`` result (or one loaded by ``madsim.results.load``).
    ax
        the matplotlib Axes to draw on (None: a new figure).
    name
        a variable with dims (replica, generation) (``var``, ``mean_sq``,
        ``logdet``, ``trace``...) or ``log_var`` (also ``log_trace``,
        ``log_mean_sq``): the log of that variable, per replica.
    band
        confidence level of the band (None: no band).
    spread
        (lower, upper) quantiles of the replicas drawn as a light band at each
        generation (None: none).
    robust
        the y-range covers the mean, its band, the theory curve and, where the
        spread band or replica paths are drawn, the spread band (5-95% when
        spread is None), not every replica: one outlying replica (a variance
        far out in its tail) no longer sets the axis; paths beyond it are
        clipped and the legend says so. False: matplotlib's autoscale over
        everything drawn.
    paths
        how many replica paths to draw, picked at evenly spaced quantiles of the
        final recorded value (so they show the spread), or a sequence of replica
        ids; 0 for none.
    theory
        True: the madsim.theory curve where one exists for ``name`` and the
        run's config (THEORY maps names to functions); False: none; or a
        callable f(cfg, t) -> array.
    log, logx
        log-scale y / x axis.
    label, color
        for the mean's line (to put several runs on one Axes).
    cfg
        the Config, when the Dataset's cannot be rebuilt (a callable
        schedule).
    legend
        draw the legend.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import madsim as ms
    >>> from madsim import plots
    >>> ds = ms.simulate(ms.Config(), replicas=100, generations=10, seed=1, metrics=["var"])
    >>> ax = plots.metric(ds, "var")            # mean, 95% band, 5 replica paths, theory dashed
    >>> ax.get_xlabel().startswith("generation")
    True

    An aggregated run (``simulate(..., aggregate=...)``) draws ``x_mean``
    with its band from ``x_se``, the spread from ``x_q`` (the levels of
    ``spread`` must be among its quantiles) and the traced replicas' paths.
    """
    _check_ds(ds)
    if "aggregate" in ds.attrs:
        return _metric_aggregated(
            ds, name, ax, band, paths, theory, log, logx, label, color, cfg, legend, spread
        )
    vals, ylabel, key = _metric_values(ds, name)
    t = ds["generation"].values.astype(np.int64)
    R = vals.shape[0]
    if band is not None and not (0.0 < float(band) < 1.0):
        raise ValueError(f"band must be a confidence level in (0, 1) or None; got {band!r}")
    q = _spread_quantiles(spread)

    ax = _new_ax(ax)
    shown = []  # the curves the y-range must cover (robust)
    with np.errstate(invalid="ignore", over="ignore"):
        mean = vals.mean(axis=0)
        (line,) = ax.plot(
            t,
            mean,
            color=color,
            lw=2.0,
            zorder=4,
            label=label if label is not None else f"mean over {R} replicas",
        )
    shown.append(mean)
    color = line.get_color()
    if band is not None and R > 1:
        z = float(special.ndtri(0.5 + 0.5 * float(band)))
        with np.errstate(invalid="ignore", over="ignore"):
            se = vals.std(axis=0, ddof=1) / math.sqrt(R)
        lo, hi = mean - z * se, mean + z * se
        ax.fill_between(
            t,
            lo,
            hi,
            color=color,
            alpha=0.35,
            lw=0,
            zorder=3,
            label=_once(ax, "band", f"{float(band):.0%} CI of the mean (shaded)"),
        )
        shown += [lo, hi]
    chosen = _pick_paths(ds, vals, paths)
    if q is not None or chosen:  # the y-range spans the replicas' band where replicas are drawn
        quant = _quantiles(vals, q or (0.05, 0.95))
        shown += [quant[0], quant[1]]
    if q is not None and R > 1:
        ax.fill_between(
            t,
            quant[0],
            quant[1],
            color=color,
            alpha=0.1,
            lw=0,
            zorder=1,
            label=_once(ax, "spread", f"{q[0]:.0%}-{q[1]:.0%} of the replicas (light)"),
        )

    bad = ~np.isfinite(vals)
    if (
        bad.any()
    ):  # e.g. ln 0: a variance that underflowed double (docs/theory/replace-1d.md: ln sigma^2 ~ t delta)
        first = int(t[np.argmax(bad.any(axis=0))])
        ax.text(
            0.01,
            0.01,
            f"{int(bad.any(axis=1).sum())} of {R} replicas non-finite from t = {first} on"
            f"{' (variance underflowed to 0)' if key.startswith('log_') else ''}: "
            "the mean and band stop there",
            transform=ax.transAxes,
            fontsize=7.5,
            color="0.3",
            va="bottom",
        )

    for k, r in enumerate(chosen):
        ax.plot(
            t,
            vals[r],
            color=color,
            lw=0.6,
            alpha=0.4,
            zorder=2,
            label=_once(ax, "paths", f"{len(chosen)} replica paths (quantiles of the last value)")
            if k == 0
            else None,
        )

    if theory is not False and theory is not None:
        cfgv = _config(ds, cfg)
        if callable(theory):
            y, what = np.asarray(theory(cfgv, t), dtype=np.float64), "theory"
        else:
            y = _theory_curve(key, cfgv, t)
            what = f"theory: {_THEORY_TEXT.get(key, key)} (madsim.theory.{THEORY.get(key) or TOKEN_THEORY.get(key, '')})"
        if y is not None:
            if label is not None:  # several runs on one Axes: one generic entry
                what = "theory: madsim.theory (dashed)"
            ax.plot(t, y, color="black", lw=1.2, ls="--", zorder=5, label=_once(ax, "theory", what))
            shown.append(y)
        else:
            _note(
                ax,
                f"no theory {key}",
                f"no theory line: no closed form for {_THEORY_TEXT.get(key, key)} "
                f"{_run_text(cfgv)}in madsim.theory",
            )

    if log:
        ax.set_yscale("log")
    if logx:
        ax.set_xscale("symlog", linthresh=1.0)
    if robust:
        ylim = _robust_ylim(ax, shown, log)
        if ylim is not None and chosen:
            drawn = vals[chosen]
            out = np.isfinite(drawn) & ((drawn < ylim[0]) | (drawn > ylim[1]))
            if out.any():
                _note(
                    ax,
                    "clipped",
                    f"y-range: the {(q or (0.05, 0.95))[0]:.0%}-{(q or (0.05, 0.95))[1]:.0%}"
                    " band; replica paths beyond it are cut",
                )
    title = None if ax.get_title() else _describe(ds)
    _set_labels(ax, GEN_LABEL, ylabel + (" (log scale)" if log else ""), title)
    if legend:
        _legend(ax, fontsize=8)
    return ax


def _metric_aggregated(ds, name, ax, band, paths, theory, log, logx, label, color, cfg, legend, spread):
    """metric() of an aggregated result: its statistics over replicas."""
    if not isinstance(name, str):
        raise TypeError(f"name must be a variable name (str); got {name!r}")
    have = [v[: -len("_mean")] for v in ds.data_vars if v.endswith("_mean") and ds[v].dims == ("generation",)]
    if name not in have:
        raise ValueError(
            f"this aggregated result has no statistics of {name!r} over (generation,); "
            f"available: {have} (the mean of a log is not the log of a mean: record "
            "'logdet' for ln sigma^2)"
        )
    if band is not None and not (0.0 < float(band) < 1.0):
        raise ValueError(f"band must be a confidence level in (0, 1) or None; got {band!r}")
    q = _spread_quantiles(spread)
    t = ds["generation"].values.astype(np.int64)
    R = ds.sizes["replica"]
    mean = ds[f"{name}_mean"].values.astype(np.float64)
    ax = _new_ax(ax)
    (line,) = ax.plot(
        t,
        mean,
        color=color,
        lw=2.0,
        zorder=4,
        label=label if label is not None else f"mean over {R} replicas",
    )
    color = line.get_color()
    if band is not None:
        z = float(special.ndtri(0.5 + 0.5 * float(band)))
        se = ds[f"{name}_se"].values.astype(np.float64)
        ax.fill_between(
            t,
            mean - z * se,
            mean + z * se,
            color=color,
            alpha=0.35,
            lw=0,
            zorder=3,
            label=_once(ax, "band", f"{float(band):.0%} CI of the mean (shaded)"),
        )
    if q is not None and f"{name}_q" in ds:
        levels = ds["quantile"].values
        at = [int(np.argmin(np.abs(levels - x))) for x in q]
        if all(abs(levels[i] - x) < 1e-12 for i, x in zip(at, q)):
            qv = ds[f"{name}_q"].values
            ax.fill_between(
                t,
                qv[:, at[0]],
                qv[:, at[1]],
                color=color,
                alpha=0.1,
                lw=0,
                zorder=1,
                label=_once(
                    ax, "spread", f"{q[0]:.0%}-{q[1]:.0%} of the replicas (light; DDSketch quantiles)"
                ),
            )
        else:
            _note(ax, "no spread", f"no spread band: the run's quantiles are {levels.tolist()}")
    if "traced" in ds.dims and name in ds and paths:
        ids = ds["traced"].values
        pick = ids[:paths] if isinstance(paths, int) else [i for i in ids if i in set(paths)]
        for k, r in enumerate(pick):
            ax.plot(
                t,
                ds[name].sel(traced=r).values,
                color=color,
                lw=0.6,
                alpha=0.4,
                zorder=2,
                label=_once(ax, "paths", f"{len(pick)} traced replica paths") if k == 0 else None,
            )
    if theory is not False and theory is not None:
        cfgv = _config(ds, cfg)
        y = (
            np.asarray(theory(cfgv, t), dtype=np.float64)
            if callable(theory)
            else _theory_curve(name, cfgv, t)
        )
        if y is not None:
            ax.plot(t, y, color="black", lw=1.2, ls="--", zorder=5, label=_once(ax, "theory", "theory"))
    if log:
        ax.set_yscale("log")
    if logx:
        ax.set_xscale("symlog", linthresh=1.0)
    units = ds[f"{name}_mean"].attrs.get("long_name", name)
    title = None if ax.get_title() else _describe(ds)
    _set_labels(ax, GEN_LABEL, _pretty(units) + (" (log scale)" if log else ""), title)
    if legend:
        _legend(ax, fontsize=8)
    return ax


def _spread_quantiles(spread):
    if spread is None:
        return None
    try:
        lo, hi = (float(x) for x in spread)
    except (TypeError, ValueError):
        raise ValueError(
            f"spread must be (lower, upper) quantiles in [0, 1] or None; got {spread!r}"
        ) from None
    if not 0.0 <= lo < hi <= 1.0:
        raise ValueError(
            f"spread must be (lower, upper) quantiles with 0 <= lower < upper <= 1; got {spread!r}"
        )
    return lo, hi


def _quantiles(vals: np.ndarray, q) -> np.ndarray:
    """[2, G]: the q[0] and q[1] quantiles over replicas of the finite values
    at each generation (NaN where none is finite, without numpy's All-NaN
    warning)."""
    finite = np.isfinite(vals)
    out = np.full((2, vals.shape[1]), np.nan)
    ok = finite.any(axis=0)
    if ok.any():
        x = np.where(finite, vals, np.nan)[:, ok]
        out[:, ok] = np.nanquantile(x, q, axis=0)
    return out


def _robust_ylim(ax, curves, log: bool):
    """Sets the y-range to span ``curves`` (finite values; positive ones on a
    log axis) with a 5% margin, joined with the range an earlier call set on
    the same Axes (several runs on one Axes); returns it, or None when no
    value is usable."""
    y = np.concatenate([np.ravel(np.asarray(c, dtype=np.float64)) for c in curves])
    y = y[np.isfinite(y) & ((y > 0) if log else True)]
    if y.size == 0:
        return None
    lo, hi = float(y.min()), float(y.max())
    prev = ax.__dict__.get("_madsim_ylim")
    if prev is not None:
        lo, hi = min(lo, prev[0]), max(hi, prev[1])
    ax.__dict__["_madsim_ylim"] = (lo, hi)
    if log:
        pad = max(np.log10(hi / lo), 0.1) * 0.05
        ylim = (lo / 10**pad, hi * 10**pad)
    else:
        pad = (hi - lo) * 0.05 or max(abs(hi), 1.0) * 0.05
        ylim = (lo - pad, hi + pad)
    ax.set_ylim(*ylim)
    return ylim


def _run_text(cfg) -> str:
    """ "for Fresh (Gaussian) " naming the run's loop and family, or ""."""
    if cfg is None:
        return ""
    return f"for {type(cfg.loop).__name__} ({type(cfg.family).__name__}) "


def _once(ax, key: str, text: str):
    """``text`` the first time ``key`` is labelled on ``ax``, else no legend entry
    (several runs drawn on one Axes share the band/paths/theory entries)."""
    seen = ax.__dict__.setdefault("_madsim_legend", set())
    if key in seen:
        return None
    seen.add(key)
    return text


def _pick_paths(ds, vals: np.ndarray, paths) -> list[int]:
    R = vals.shape[0]
    if isinstance(paths, (int, np.integer)) and not isinstance(paths, bool):
        if paths < 0:
            raise ValueError(f"paths must be >= 0 or a sequence of replica ids; got {paths}")
        k = min(int(paths), R)
        if k == 0:
            return []
        last = vals[:, -1]
        order = np.argsort(np.where(np.isnan(last), np.inf, last), kind="stable")
        ranks = np.unique(np.round(np.linspace(0, R - 1, k)).astype(int))
        return [int(order[i]) for i in ranks]
    ids = ds["replica"].values
    rows = []
    for r in paths:
        hit = np.nonzero(ids == r)[0]
        if hit.size == 0:
            raise ValueError(f"paths: replica {r!r} is not in ds; its replica ids are {_list_text(ids)}")
        rows.append(int(hit[0]))
    return rows


# ---------------------------------------------------------------- survival


class KaplanMeier(NamedTuple):
    """Kaplan-Meier estimate at the distinct event times (ascending).

    Attributes
    ----------
    time
        the distinct event times t_j.
    at_risk, events
        n_j and d_j there: replicas at risk and events at t_j.
    survival
        S(t_j) = prod_{i <= j} (1 - d_i/n_i), the estimate of P(T > t) for
        t_j <= t < t_{j+1}.
    variance
        Greenwood's S^2 sum_{i <= j} d_i / (n_i (n_i - d_i)) (inf once S = 0).

    Examples
    --------
    >>> from madsim import plots
    >>> km = plots.kaplan_meier([1, 2], [True, False])
    >>> isinstance(km, plots.KaplanMeier), km.at_risk.tolist(), km.events.tolist()
    (True, [2], [1])
    """

    time: np.ndarray
    at_risk: np.ndarray
    events: np.ndarray
    survival: np.ndarray
    variance: np.ndarray


def kaplan_meier(times, observed) -> KaplanMeier:
    """Kaplan-Meier estimator with Greenwood's variance for right-censored
    times.

    Parameters
    ----------
    times
        ``times[i]`` is the event time where ``observed[i]`` is true and the
        censoring time (the subject is known to survive *through* it)
        otherwise. A subject censored at t counts as at risk at t (the usual
        convention).
    observed
        booleans, one per time: True for an event, False for a censoring.

    Returns
    -------
    KaplanMeier
        The estimate at the distinct event times.

    Examples
    --------
    >>> from madsim import plots
    >>> km = plots.kaplan_meier([2, 3, 3, 5], [True, True, False, True])
    >>> km.time.tolist(), km.survival.tolist()
    ([2.0, 3.0, 5.0], [0.75, 0.5, 0.0])
    """
    T = np.asarray(times, dtype=np.float64).ravel()
    E = np.asarray(observed, dtype=bool).ravel()
    if T.shape != E.shape:
        raise ValueError(f"times and observed must have the same length; got {T.size} and {E.size}")
    if not np.all(np.isfinite(T)):
        raise ValueError("times must be finite")
    ev = np.unique(T[E])
    order = np.sort(T)
    at_risk = (T.size - np.searchsorted(order, ev, side="left")).astype(np.int64)
    events = np.searchsorted(np.sort(T[E]), ev, side="right") - np.searchsorted(
        np.sort(T[E]), ev, side="left"
    )
    events = events.astype(np.int64)
    S = np.cumprod(1.0 - events / at_risk)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = events / (at_risk * (at_risk - events).astype(np.float64))
    terms = np.where(at_risk == events, np.inf, terms)
    with np.errstate(invalid="ignore"):
        var = np.where(S > 0, S * S * np.cumsum(terms), np.inf)
    return KaplanMeier(ev, at_risk, events, S, var)


def km_band(km: KaplanMeier, level: float = 0.95, method: str = "loglog"):
    """Pointwise confidence limits of ``km.survival`` from Greenwood's variance.

    Parameters
    ----------
    km
        a :class:`KaplanMeier` estimate.
    level
        the confidence level.
    method
        ``"loglog"`` (Kalbfleisch-Prentice: symmetric on ln(-ln S), stays in
        [0, 1]) or ``"plain"`` (S +- z se, clipped).

    Returns
    -------
    tuple of numpy.ndarray
        (lower, upper), one value per event time.

    Examples
    --------
    >>> from madsim import plots
    >>> km = plots.kaplan_meier([2, 3, 3, 5, 7, 8], [True, True, False, True, False, True])
    >>> lo, hi = plots.km_band(km)
    >>> bool(((lo <= km.survival) & (km.survival <= hi)).all())
    True
    """
    z = float(special.ndtri(0.5 + 0.5 * level))
    S, V = km.survival, km.variance
    if method == "plain":
        se = np.sqrt(np.where(np.isfinite(V), V, 0.0))
        return np.clip(S - z * se, 0.0, 1.0), np.clip(S + z * se, 0.0, 1.0)
    if method != "loglog":
        raise ValueError(f"method must be 'loglog' or 'plain'; got {method!r}")
    lo, hi = S.copy(), S.copy()
    ok = (S > 0) & (S < 1) & np.isfinite(V)
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.sqrt(V[ok]) / (S[ok] * np.abs(np.log(S[ok])))
        lo[ok] = S[ok] ** np.exp(z * s)
        hi[ok] = S[ok] ** np.exp(-z * s)
    return lo, hi


def first_passage(ds, detector: str):
    """The (times, observed) of a FirstPassage detector, for :func:`kaplan_meier`.

    Replicas that never crossed (-1) are censored at
    ``attrs['generations_completed']``.

    Parameters
    ----------
    ds
        a ``simulate`` result with the detector.
    detector
        the detector's variable name.

    Returns
    -------
    tuple of numpy.ndarray
        (times, observed): the first-passage or censoring generation and
        whether the threshold was crossed, per replica.

    Examples
    --------
    >>> import madsim as ms
    >>> from madsim import plots
    >>> ds = ms.simulate(ms.Config(loop=ms.Replace(n=5)), replicas=100, generations=10, seed=1,
    ...                  metrics=["var"], detect=[ms.FirstPassage("var", below=0.5, name="halved")])
    >>> times, observed = plots.first_passage(ds, "halved")
    >>> bool((times[~observed] == 10).all())     # never crossed: censored at the last generation
    True
    """
    _check_ds(ds)
    if hasattr(detector, "label") and not isinstance(detector, str):  # a FirstPassage
        detector = detector.label
    dets = detector_names(ds)
    if not isinstance(detector, str) or detector not in dets:
        what = f"{detector!r} is not a first-passage variable"
        if isinstance(detector, str) and detector in ds.data_vars:
            what += f" (it has dims {ds[detector].dims})"
        raise ValueError(f"{what}; {detectors_text(dets)}")
    first = ds[detector].values.astype(np.int64)
    G = int(ds.attrs.get("generations_completed", int(ds["generation"].values.max())))
    observed = first >= 0
    return np.where(observed, first, G).astype(np.float64), observed


_RULE = re.compile(r"first generation with (\w+) (<=|>=) (\S+)")


def _wald_time(ds, detector: str, cfg):
    """Wald/Siegmund E T for a 'var <= x' (or 1-D 'logdet <= x') detector,
    or None where madsim.theory has no such approximation for this run."""
    if cfg is None:
        return None
    m = _RULE.fullmatch(ds[detector].attrs.get("long_name", ""))
    if not m or m.group(2) != "<=":
        return None
    metric_name, thr = m.group(1), float(m.group(3))
    fam = cfg.family
    if not hasattr(fam, "dim") or fam.dim != 1:  # a Gaussian 1-D variance detector only
        return None
    if metric_name == "logdet":
        thr = math.exp(thr)
    elif metric_name != "var":
        return None
    var0 = float(fam.cov_matrix[0, 0])
    if not 0.0 < thr < var0:
        return None
    eps = math.sqrt(thr / var0)
    from . import theory
    from .config import Replace

    f = getattr(theory, "collapse_time_wald", None)
    if f is None:
        return None
    try:  # a config-level form, where madsim.theory has one
        return float(f(cfg, eps))
    except (TypeError, NotImplementedError):
        pass
    except ValueError:  # e.g. no negative drift: nothing to approximate
        return None
    loop = cfg.loop
    if not (
        isinstance(loop, Replace)
        and isinstance(loop.n, int)
        and cfg.filter is None
        and cfg.truncation is None
        and cfg.weight is None
    ):
        return None
    try:
        return float(f(eps, loop.n, cfg.temperature, cfg.estimator))
    except (ValueError, NotImplementedError):
        return None


def survival(
    ds,
    detector,
    ax=None,
    theory: bool | float | None = None,
    band: float | None = 0.95,
    ci: str = "loglog",
    label: str | None = None,
    color=None,
    cfg=None,
    legend: bool = True,
):
    """Kaplan-Meier survival curve P(T > t) of a first-passage variable
    (``simulate(detect=[FirstPassage(...)])``), replicas that never crossed
    being right-censored at attrs['generations_completed'], with a pointwise
    Greenwood confidence band (``ci``: 'loglog' or 'plain').

    Parameters
    ----------
    ds
        a ``madsim.simulate`` result (or one loaded by ``madsim.results.load``).
    detector
        the detector's variable name (its ``FirstPassage`` name).
    ax
        the matplotlib Axes to draw on (None: a new figure).
    theory
        None/True: overlay madsim.theory's approximation of E T where one exists
        (the Wald/Siegmund ``collapse_time_wald`` for a 'var <= x' detector on
        the 1-D replace loop), as a vertical line labelled as an approximation
        of the mean; False: none; a number: draw that E T.
    band
        confidence level of the Greenwood band (None: no band).
    ci
        the band's method, 'loglog' or 'plain' (see :func:`km_band`).
    label, color, cfg, legend
        as in :func:`metric`.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import madsim as ms
    >>> from madsim import plots
    >>> ds = ms.simulate(ms.Config(loop=ms.Replace(n=5)), replicas=100, generations=10, seed=1,
    ...                  metrics=["var"], detect=[ms.FirstPassage("var", below=0.5, name="halved")])
    >>> ax = plots.survival(ds, "halved")
    >>> ax.get_xlabel().startswith("generation")
    True
    """
    times, observed = first_passage(ds, detector)
    if hasattr(detector, "label") and not isinstance(detector, str):
        detector = detector.label
    if band is not None and not (0.0 < float(band) < 1.0):
        raise ValueError(f"band must be a confidence level in (0, 1) or None; got {band!r}")
    if ci not in ("loglog", "plain"):
        raise ValueError(f"ci must be 'loglog' or 'plain'; got {ci!r}")
    G = int(ds.attrs.get("generations_completed", int(times.max())))
    R = times.size
    km = kaplan_meier(times, observed)
    # the step function on [0, G]: S = 1 before the first event, held after the last
    start = not (km.time.size and km.time[0] == 0)
    x = np.r_[[0.0] * start, km.time, G]
    S = np.r_[[1.0] * start, km.survival]
    S = np.r_[S, S[-1]]
    n_cens = int((~observed).sum())
    rmst = float(np.sum(np.diff(x) * S[:-1]))  # area under S over [0, G] = E min(T, G)
    if n_cens == 0:
        stat = f"sample mean T = {np.mean(times):.4g}"
    else:
        stat = f"E min(T, {G}) = {rmst:.4g}"

    ax = _new_ax(ax)
    lab = label if label is not None else "Kaplan-Meier"
    (line,) = ax.step(x, S, where="post", color=color, lw=1.8, label=f"{lab} (R = {R}; {stat})")
    color = line.get_color()
    if band is not None and km.time.size:
        lo, hi = km_band(km, float(band), ci)
        lo, hi = np.r_[[1.0] * start, lo], np.r_[[1.0] * start, hi]
        lo, hi = np.r_[lo, lo[-1]], np.r_[hi, hi[-1]]
        ax.fill_between(
            x,
            lo,
            hi,
            step="post",
            color=color,
            alpha=0.22,
            lw=0,
            label=f"{float(band):.0%} Greenwood band ({ci})",
        )
    if n_cens:
        ax.plot(
            [G],
            [S[-1]],
            marker="+",
            ms=12,
            mew=2,
            color=color,
            ls="none",
            label=f"{n_cens} censored at t = {G}",
        )

    if theory is not False:
        if isinstance(theory, (int, float)) and not isinstance(theory, bool):
            ET, what = float(theory), f"E T = {float(theory):.4g} (given)"
        else:
            ET = _wald_time(ds, detector, _config(ds, cfg))
            what = rf"E T $\approx$ {ET:.4g}: Wald-Siegmund approximation" if ET is not None else ""
        if ET is not None:
            ax.axvline(ET, color=color, ls="--", lw=1.2, label=what)

    ax.set_xlim(0, G)
    ax.set_ylim(-0.02, 1.02)
    desc = ds[detector].attrs.get("long_name", detector)
    title = (
        None
        if ax.get_title()
        else (
            f"Survival of {detector}: {int(observed.sum())} of {R} replicas "
            f"crossed by t = {G}\n{_describe(ds)}"
        )
    )
    _set_labels(ax, GEN_LABEL, f"P(T > t),  T = {_pretty(desc)}", title)
    if legend:
        ax.legend(fontsize=8)
    return ax


__all__ = [
    "KaplanMeier",
    "THEORY",
    "detector_names",
    "first_passage",
    "kaplan_meier",
    "km_band",
    "metric",
    "survival",
    "tails",
]
