"""The Gaussian cases (Gaussian, every loop and knob): the reference values
of docs/theory/index.md and the closed forms of docs/theory/replace-1d.md,
replace-nd.md, bias.md, real-data.md and accumulate.md.

The Gaussian-moment comparisons (``c_var``, ``c_mean_sq``, ``c_mean``,
``c_invariant``, ...) are public: the PPCA cases use them too (a PPCA model
is a Gaussian whose moments obey the same recursions).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from ... import theory
from ...theory import replace_nd
from ...config import Accumulate, AccumulateSubsample, Augment, Config, Filter, Fresh, Replace
from ...families.gaussian import Gaussian
from ..records import Case, Comparison, Skip, doc

MAX_CV2_LOGNORMAL = 7.0  # largest CV^2 at which a mean of sigma^2, sigma, tr Sigma, KL is compared
MAX_CV2_MIXTURE = 25.0  # largest CV^2 at which a mean of (mu - mu0)^2 is compared


# The sections that derive each closed form checked here.
DOC_1D = doc("replace-1d", "replace-1d-summary")
DOC_1D_VAR = doc("replace-1d", "replace-1d-variance")
DOC_1D_SIGMA = doc("replace-1d", "replace-1d-sigma")
DOC_1D_MEAN = doc("replace-1d", "replace-1d-mean")
DOC_1D_LOG = doc("replace-1d", "replace-1d-log-variance")
DOC_1D_W2 = doc("replace-1d", "replace-1d-w2")
DOC_1D_KL = doc("replace-1d", "replace-1d-kl")
DOC_1D_CV2 = doc("replace-1d", "replace-1d-cv2")
DOC_ND = doc("replace-nd", "replace-nd-summary")
DOC_ND_LOGDET = doc("replace-nd", "replace-nd-logdet")
DOC_ND_FILTER = doc("replace-nd", "replace-nd-filter")
DOC_MOMENTS = doc("replace-nd", "moments-every-loop")
DOC_MEAN = doc("replace-nd", "moments-mean")
DOC_TRUNCATION = doc("bias", "bias-truncation")
DOC_FRESH = doc("real-data", "real-data-fresh")
DOC_AUGMENT = doc("real-data", "real-data-augment")
DOC_WEIGHTING = doc("real-data", "real-data-weighting")
DOC_SCHEDULES = doc("real-data", "real-data-schedules-filters")
DOC_ACCUMULATE = doc("accumulate", "accumulate-recursion")
DOC_ACCUMULATE_FIRST_REAL = doc("accumulate", "accumulate-moments")
DOC_INVARIANT = doc("accumulate", "accumulate-invariant")
DOC_TAIL = doc("mitigations", "mitigations-tail")
DOC_CORRECTION = doc("mitigations", "mitigations-correction")


def _at(ds, name, t):
    return np.asarray(ds[name].sel(generation=t).values, dtype=np.float64)


def _var_like(ds, t):
    """sigma_t^2 (1-D) or tr Sigma_t."""
    return _at(ds, "var" if "var" in ds else "trace", t)


def _logdet(ds, t):
    return _at(ds, "logdet", t) if "logdet" in ds else np.log(_at(ds, "var", t))


def _mean_sq(ds, t):
    if "mean_sq" in ds:
        return _at(ds, "mean_sq", t)
    return (_at(ds, "mean", t) - _mu0(ds)) ** 2


def _mu0(ds) -> float:
    import json

    fam = json.loads(ds.attrs["config"])["family"]
    m = fam["mean"]
    return float(m[0] if isinstance(m, list) else m)


def _mean0(ds, t):
    x = ds["mean"].sel(generation=t).values
    return np.asarray(x if x.ndim == 1 else x[:, 0], dtype=np.float64)


def _sigma(ds, t):
    return np.sqrt(_at(ds, "var", t))


def _second(ds, t):
    return _var_like(ds, t) + _mean_sq(ds, t)


def _w2(ds, t):
    var0 = 1.0  # cases using W2 have sigma0 = 1
    return _mean_sq(ds, t) + (_sigma(ds, t) - math.sqrt(var0)) ** 2


def _kl_model_truth(ds, t):  # sigma0 = 1
    v = _at(ds, "var", t)
    return 0.5 * (v + _mean_sq(ds, t) - 1.0 - np.log(v))


def _kl_truth_model(ds, t):  # sigma0 = 1
    v = _at(ds, "var", t)
    return 0.5 * ((1.0 + _mean_sq(ds, t)) / v - 1.0 + np.log(v))


# ---------------------------------------------------------------- comparison builders


def c_var(cfg, t, src=""):
    name = "E sigma^2" if cfg.family.dim == 1 else "E tr Sigma"
    fn = (
        (lambda: theory.expected_var(cfg, t))
        if cfg.family.dim == 1
        else (lambda: theory.expected_trace(cfg, t))
    )
    return Comparison(name, t, "mean", _var_like, fn, src, variable="var" if cfg.family.dim == 1 else "trace")


def c_mean_sq(cfg, t, src=""):
    name = "E (mu-mu0)^2" if cfg.family.dim == 1 else "E |mu-mu0|^2"
    return Comparison(
        name, t, "mean", _mean_sq, lambda: theory.expected_mean_sq(cfg, t), src, variable="mean_sq"
    )


def c_sigma(cfg, t, src=""):
    return Comparison("E sigma", t, "mean", _sigma, lambda: theory.expected_sigma(cfg, t), src)


def c_logdet(cfg, t, src=""):
    name = "E ln sigma^2" if cfg.family.dim == 1 else "E ln det Sigma"
    return Comparison(
        name, t, "mean", _logdet, lambda: theory.expected_logdet(cfg, t), src, variable="logdet"
    )


def c_var_logdet(cfg, t, src=""):
    name = "Var ln sigma^2" if cfg.family.dim == 1 else "Var ln det Sigma"
    return Comparison(name, t, "var", _logdet, lambda: theory.var_logdet(cfg, t), src)


def c_w2(cfg, t, src=""):
    return Comparison("E W2^2", t, "mean", _w2, lambda: theory.expected_w2_sq(cfg, t), src)


def c_kl_tp(cfg, t, src=""):
    return Comparison(
        "E KL(p_t||p0)", t, "mean", _kl_model_truth, lambda: theory.expected_kl_model_truth(cfg, t), src
    )


def c_kl_pt(cfg, t, src=""):
    return Comparison(
        "E KL(p0||p_t)", t, "mean", _kl_truth_model, lambda: theory.expected_kl_truth_model(cfg, t), src
    )


def c_invariant(cfg, t, src=DOC_INVARIANT):
    name = "E[sigma^2+(mu-mu0)^2]" if cfg.family.dim == 1 else "E[tr Sigma+|mu-mu0|^2]"
    return Comparison(name, t, "mean", _second, lambda: theory.invariant(cfg, t), src)


def c_mean(cfg, t, src=DOC_MEAN):
    return Comparison("E mu[0]", t, "mean", _mean0, lambda: float(theory.expected_mean(cfg, t)[0]), src)


def _gated(items, skipped, comp: Comparison, cv2: float, limit: float, exact_var=None):
    """Adds comp (with the exact variance of one value, for its SE, when
    known), or a Skip naming the CV^2 when its mean is too heavy-tailed."""
    if cv2 <= limit:
        items.append(dataclasses.replace(comp, exact_var=exact_var) if exact_var else comp)
    else:
        skipped.append(
            Skip(
                comp.quantity,
                comp.t,
                f"CV^2 = {cv2:.3g} > {limit:g}: too heavy-tailed for a z-test ({DOC_1D_CV2}); "
                "theory " + _fmt(comp.theory()),
            )
        )


def _fmt(x) -> str:
    return f"{float(x):.6g}"


def replace_1d_comparisons(cfg, t, kl_pt=False):
    """The 1-D replace quantities (docs/theory/replace-1d.md) at generation
    t, each naming its section, with the heavy-tailed means gated by their
    exact CV^2."""
    items, skipped = [], []
    _add_gated(cfg, items, skipped, c_var(cfg, t, DOC_1D_VAR))
    _gated(
        items,
        skipped,
        c_sigma(cfg, t, DOC_1D_SIGMA),
        float(theory.cv2_sigma(cfg, t)),
        MAX_CV2_LOGNORMAL,
        exact_var=lambda: theory.expected_var(cfg, t) - theory.expected_sigma(cfg, t) ** 2,
    )
    items += [c_logdet(cfg, t, DOC_1D_LOG), c_var_logdet(cfg, t, DOC_1D_LOG)]
    _add_gated(cfg, items, skipped, c_mean_sq(cfg, t, DOC_1D_MEAN))
    if cfg.family.var == 1.0 and float(cfg.family.mean_vector[0]) == 0.0:
        # W2 and KL(p_t||p0) mix sigma^2 and (mu-mu0)^2: compared where both are light enough
        for comp in (c_w2(cfg, t, DOC_1D_W2), c_kl_tp(cfg, t, DOC_1D_KL)):
            cv2, limit, _ = _replace_cv2(cfg, dataclasses.replace(comp, values=_second))
            _gated(items, skipped, comp, cv2, limit)
        if kl_pt:
            items.append(c_kl_pt(cfg, t, DOC_1D_KL))
    return items, skipped


# ---------------------------------------------------------------- the cases


def _cfg(loop, **kw) -> Config:
    fam = kw.pop("family", Gaussian())
    return Config(family=fam, loop=loop, **kw)


def _replace_case(name, n, t, R, estimator="mle", tau=1.0, path="exact", extra_t=(), kl_pt=False):
    cfg = _cfg(Replace(n=n), estimator=estimator, temperature=tau, path=path)
    items, skipped = [], []
    for tt in (t,) + tuple(extra_t):
        i, s = replace_1d_comparisons(cfg, tt, kl_pt=kl_pt)
        items += i
        skipped += s
    items.append(c_mean(cfg, t))
    title = f"1-D replace, {estimator}, n={n}, tau={tau}, {path} path"
    return Case(name, title, cfg, R, tuple(items), tuple(skipped), doc=DOC_1D)


def _replace_nd_case(name, dim, n, t, R, t_trace, path="exact"):
    cfg = _cfg(Replace(n=n), family=Gaussian(dim=dim), path=path)
    items, skipped = [c_logdet(cfg, t, DOC_ND_LOGDET), c_var_logdet(cfg, t, DOC_ND_LOGDET)], []
    for tt in (t, t_trace):
        _add_gated(cfg, items, skipped, c_var(cfg, tt, DOC_MOMENTS))
        _add_gated(cfg, items, skipped, c_mean_sq(cfg, tt, DOC_MOMENTS))
    items.append(c_mean(cfg, t))
    title = f"d={dim} replace, mle, n={n}, {path} path"
    return Case(name, title, cfg, R, tuple(items), tuple(skipped), doc=DOC_ND)


def _replace_cv2(cfg, comp: Comparison) -> tuple:
    """(CV^2, limit, exact variance or None) of a replace-loop mean, from the
    exact moment recursions."""
    t = comp.t
    cv2 = float(replace_nd.cv2_trace(cfg, t))
    if comp.values is _var_like:
        return cv2, MAX_CV2_LOGNORMAL, lambda: replace_nd.var_trace(cfg, t)
    ms_cv2 = float(replace_nd.var_mean_sq(cfg, t) / max(theory.expected_mean_sq(cfg, t), 1e-300) ** 2)
    if comp.values is _mean_sq:
        return ms_cv2, MAX_CV2_MIXTURE, lambda: replace_nd.var_mean_sq(cfg, t)
    # tr Sigma + |mu - mu0|^2 (and W2, KL): both parts must be light enough; sample SE
    if ms_cv2 <= MAX_CV2_MIXTURE:
        return cv2, MAX_CV2_LOGNORMAL, None
    return ms_cv2, MAX_CV2_MIXTURE, None


def _add_gated(cfg, items, skipped, comp):
    """Heavy tails occur in the replace loop (no real data anchors it): gate
    its means by their exact CV^2 and take their SE from the exact variance
    (the sample SE of a heavy-tailed mean is itself noisy and biased low);
    the other loops are light-tailed (sample SE)."""
    fam = cfg.family
    if (
        isinstance(cfg.loop, Replace)
        and cfg.truncation is None
        and fam.cov is None
        and comp.values in (_var_like, _mean_sq, _second)
    ):
        cv2, limit, exact_var = _replace_cv2(cfg, comp)
        _gated(items, skipped, comp, cv2, limit, exact_var)
    else:
        items.append(comp)


def _moments_case(name, title, cfg, ts, R, src, mean=True, invariant=None):
    """E Sigma_t and E (mu_t - mu0)^2 at generations ts (and E mu_t, the
    invariant where it holds); ``src``: the docs anchor, also the case's."""
    items, skipped = [], []
    for t in ts:
        _add_gated(cfg, items, skipped, c_var(cfg, t, src))
        _add_gated(cfg, items, skipped, c_mean_sq(cfg, t, src))
    if mean:
        items.append(c_mean(cfg, ts[-1]))
    inv_ok, _ = theory.invariant_holds(cfg)
    if invariant is None:
        invariant = inv_ok and not isinstance(cfg.loop, AccumulateSubsample)
    if invariant:
        _add_gated(cfg, items, skipped, c_invariant(cfg, ts[-1]))
    return Case(name, title, cfg, R, tuple(items), tuple(skipped), doc=src)


def _invariant_case(name, title, cfg, ts, R):
    items, skipped = [], []
    for t in ts:
        _add_gated(cfg, items, skipped, c_invariant(cfg, t))
    items.append(c_mean(cfg, ts[-1]))
    return Case(name, title, cfg, R, tuple(items), tuple(skipped), doc=DOC_INVARIANT)


def _hxc_case(name, title, cfg, t, R, src):
    items = [c_var(cfg, t, src), c_mean_sq(cfg, t, src), c_mean(cfg, t)]
    return Case(name, title, cfg, R, tuple(items), (), doc=src)


def build_cases() -> list:
    """The Gaussian cases, in order: the reference values first (rows 1-3,
    5-13, 15, 20 of docs/theory/index.md, section "Reference values"), then
    the other closed forms of the Gaussian loops and the invariant."""
    cases = []
    add = cases.append
    # -- 1-D replace (docs/theory/replace-1d.md)
    add(_replace_case("row1-replace-mle-n10-t10", 10, 10, 200_000, kl_pt=False))
    add(_replace_case("row1-replace-mle-n10-t10-samples", 10, 10, 100_000, path="samples"))
    add(_replace_case("row2-replace-mle-n10-t50", 10, 50, 200_000, extra_t=(15,)))
    add(_replace_case("row2-replace-mle-n10-t50-samples", 10, 50, 50_000, path="samples"))
    add(_replace_case("row3-replace-mle-n100-t100", 100, 100, 200_000))
    add(_replace_case("row3-replace-mle-n100-t100-samples", 100, 100, 20_000, path="samples"))
    add(_replace_case("row5-replace-unbiased-n10-t50", 10, 50, 200_000, estimator="unbiased", extra_t=(10,)))
    add(
        _replace_case(
            "row5-replace-unbiased-n10-t50-samples",
            10,
            50,
            50_000,
            estimator="unbiased",
            path="samples",
            extra_t=(10,),
        )
    )
    add(_replace_case("row6-replace-tau0.9-n10-t20", 10, 20, 200_000, tau=0.9, extra_t=(8,)))
    add(
        _replace_case(
            "row6-replace-tau0.9-n10-t20-samples", 10, 20, 50_000, tau=0.9, path="samples", extra_t=(8,)
        )
    )
    cfg = _cfg(Replace(n=10), truncation=2.0, path="samples")
    add(
        Case(
            "row7-truncation-k2-n10-t10",
            "1-D replace, mle, n=10, truncation k=2 (samples path)",
            cfg,
            200_000,
            (c_var(cfg, 10, DOC_TRUNCATION), c_mean_sq(cfg, 10, DOC_TRUNCATION), c_mean(cfg, 10)),
            doc=DOC_TRUNCATION,
        )
    )
    # -- d-dim replace (docs/theory/replace-nd.md)
    add(_replace_nd_case("row8-d3-replace-n10-t20", 3, 10, 20, 100_000, t_trace=5))
    add(_replace_nd_case("row8-d3-replace-n10-t20-samples", 3, 10, 20, 30_000, t_trace=5, path="samples"))
    add(_replace_nd_case("sec2-d5-replace-n20-t30", 5, 20, 30, 60_000, t_trace=10))
    add(_replace_nd_case("sec2-d5-replace-n20-t30-samples", 5, 20, 30, 15_000, t_trace=10, path="samples"))
    # -- fresh data (docs/theory/real-data.md)
    for path, R in (("exact", 100_000), ("samples", 50_000)):
        sfx = "" if path == "exact" else "-samples"
        cfg = _cfg(Fresh(real=10, synthetic=10), path=path)
        add(
            _moments_case(
                f"row9-fresh-m10-k10-mle{sfx}", f"fresh m=k=10, mle, {path} path", cfg, (1, 60), R, DOC_FRESH
            )
        )
        cfg = _cfg(Fresh(real=10, synthetic=10), estimator="unbiased", path=path)
        add(
            _moments_case(
                f"row10-fresh-m10-k10-unbiased{sfx}",
                f"fresh m=k=10, unbiased, {path} path",
                cfg,
                (1, 60),
                R,
                DOC_FRESH,
            )
        )
    add(
        _moments_case(
            "sec4a-fresh-m5-k20-tau0.8",
            "fresh m=5 k=20, mle, tau=0.8",
            _cfg(Fresh(real=5, synthetic=20), temperature=0.8),
            (60,),
            100_000,
            DOC_FRESH,
        )
    )
    add(
        _moments_case(
            "sec4a-fresh-m5-k20-tau0.8-samples",
            "fresh m=5 k=20, mle, tau=0.8, samples path",
            _cfg(Fresh(real=5, synthetic=20), temperature=0.8, path="samples"),
            (60,),
            30_000,
            DOC_FRESH,
        )
    )
    add(
        _moments_case(
            "sec4a-fresh-m2-k30",
            "fresh m=2 k=30, mle",
            _cfg(Fresh(real=2, synthetic=30)),
            (60,),
            100_000,
            DOC_FRESH,
        )
    )
    # -- augmentation (docs/theory/real-data.md)
    for path, R in (("exact", 100_000), ("samples", 50_000)):
        sfx = "" if path == "exact" else "-samples"
        add(
            _moments_case(
                f"row11-augment-m10-k10-mle{sfx}",
                f"augment m=k=10, mle, {path} path",
                _cfg(Augment(real=10, synthetic=10), path=path),
                (1, 60),
                R,
                DOC_AUGMENT,
            )
        )
        add(
            _moments_case(
                f"sec4b-augment-m10-k40-unbiased{sfx}",
                f"augment m=10 k=40, unbiased, {path} path",
                _cfg(Augment(real=10, synthetic=40), estimator="unbiased", path=path),
                (60,),
                R,
                DOC_AUGMENT,
            )
        )
    add(
        _moments_case(
            "sec4b-augment-m10-k10-tau0.9",
            "augment m=k=10, mle, tau=0.9",
            _cfg(Augment(real=10, synthetic=10), temperature=0.9),
            (60,),
            100_000,
            DOC_AUGMENT,
        )
    )
    # -- accumulate (docs/theory/accumulate.md)
    for path, R in (("exact", 50_000), ("samples", 20_000)):
        sfx = "" if path == "exact" else "-samples"
        add(
            _moments_case(
                f"row12-accumulate-n10-mle{sfx}",
                f"accumulate n=10, mle, {path} path",
                _cfg(Accumulate(synthetic=10), path=path),
                (100,),
                R,
                DOC_ACCUMULATE,
            )
        )
        add(
            _moments_case(
                f"row13-accumulate-n10-unbiased{sfx}",
                f"accumulate n=10, unbiased, {path} path",
                _cfg(Accumulate(synthetic=10), estimator="unbiased", path=path),
                (100,),
                R,
                DOC_ACCUMULATE,
            )
        )
    add(
        _moments_case(
            "sec5a-accumulate-n4-mle",
            "accumulate n=4, mle",
            _cfg(Accumulate(synthetic=4)),
            (100,),
            50_000,
            DOC_ACCUMULATE,
        )
    )
    add(
        _moments_case(
            "sec5a-accumulate-n10-tau0.8",
            "accumulate n=10, mle, tau=0.8 (t=1 from the truth at tau)",
            _cfg(Accumulate(synthetic=10), temperature=0.8),
            (100,),
            50_000,
            DOC_ACCUMULATE,
        )
    )
    add(
        _moments_case(
            "sec5a-accumulate-n10-tau0.8-first-real",
            "accumulate, mle, tau=0.8, stage 1 on 10 real points (first_real=True)",
            _cfg(Accumulate(synthetic=[0] + [10] * 99, real=[10] + [0] * 99), temperature=0.8),
            (100,),
            50_000,
            DOC_ACCUMULATE_FIRST_REAL,
        )
    )
    # -- weighting (docs/theory/real-data.md)
    for w in ("optimal", 0.5):
        cfg = _cfg(Fresh(real=10, synthetic=10), estimator="unbiased", weight=w)
        add(
            _hxc_case(
                f"row15-weighted-{w}-n10-m10-unbiased",
                f"HXC weighted fresh n=m=10, w={w}, unbiased",
                cfg,
                80,
                100_000,
                DOC_WEIGHTING,
            )
        )
    add(
        _hxc_case(
            "row15-weighted-optimal-n10-m10-unbiased-samples",
            "HXC weighted fresh n=m=10, w=optimal, unbiased, samples path",
            _cfg(Fresh(real=10, synthetic=10), estimator="unbiased", weight="optimal", path="samples"),
            80,
            30_000,
            DOC_WEIGHTING,
        )
    )
    add(
        _hxc_case(
            "sec4c-weighted-0.2-n10-m40-unbiased",
            "HXC weighted fresh n=10 m=40, w=0.2, unbiased",
            _cfg(Fresh(real=10, synthetic=40), estimator="unbiased", weight=0.2),
            80,
            100_000,
            DOC_WEIGHTING,
        )
    )
    add(
        _hxc_case(
            "sec4c-weighted-0.5-n10-m10-mle",
            "weighted fresh n=m=10, w=0.5, mle pieces",
            _cfg(Fresh(real=10, synthetic=10), weight=0.5),
            80,
            100_000,
            DOC_WEIGHTING,
        )
    )
    add(
        _hxc_case(
            "sec4c-weighted-augment-0.3-mle",
            "weighted augment m=12 k=8, w=0.3, mle",
            _cfg(Augment(real=12, synthetic=8), weight=0.3),
            40,
            100_000,
            DOC_WEIGHTING,
        )
    )
    # -- schedules, filters, truncation beyond 1-D replace, d > 1 non-replace
    add(
        _moments_case(
            "sched-replace-growing-unbiased",
            "replace, unbiased, n_t = 5 t (growing)",
            _cfg(Replace(n=lambda t: 5 * t), estimator="unbiased"),
            (5, 30),
            100_000,
            DOC_SCHEDULES,
        )
    )
    add(
        _moments_case(
            "sched-fresh-varying",
            "fresh, real 8/4 alternating, synthetic 3 + t mod 7, mle",
            _cfg(Fresh(real=[8, 4] * 20, synthetic=lambda t: 3 + t % 7)),
            (7, 40),
            100_000,
            DOC_SCHEDULES,
        )
    )
    add(
        _moments_case(
            "filter-fresh-pooled",
            "fresh m=6 k=10, Filter(tpr=0.3, fpr=0.2), mle",
            _cfg(Fresh(real=6, synthetic=10), filter=Filter(0.3, 0.2)),
            (3, 40),
            100_000,
            DOC_SCHEDULES,
        )
    )
    add(
        _moments_case(
            "filter-fresh-weighted-unbiased",
            "fresh m=6 k=8, w=0.6, Filter(0.4, 0.3), unbiased",
            _cfg(Fresh(real=6, synthetic=8), weight=0.6, estimator="unbiased", filter=Filter(0.4, 0.3)),
            (3, 40),
            100_000,
            DOC_SCHEDULES,
        )
    )
    add(
        _moments_case(
            "filter-augment-fpr",
            "augment m=8 k=6, Filter(tpr=0.2, fpr=0.3), mle",
            _cfg(Augment(real=8, synthetic=6), filter=Filter(0.2, 0.3)),
            (3, 40),
            100_000,
            DOC_SCHEDULES,
        )
    )
    add(
        _moments_case(
            "filter-accumulate",
            "accumulate synthetic=4 real=1, Filter(0.5, 0.5), unbiased, tau=1.1",
            _cfg(
                Accumulate(synthetic=4, real=1),
                estimator="unbiased",
                temperature=1.1,
                filter=Filter(0.5, 0.5),
            ),
            (2, 30),
            100_000,
            DOC_ACCUMULATE,
        )
    )
    cfg = _cfg(Replace(n=4), filter=Filter(tpr=0.4))
    items, skipped = [c_logdet(cfg, 30, DOC_ND_FILTER), c_var_logdet(cfg, 30, DOC_ND_FILTER)], []
    for comp in (c_var(cfg, 3, DOC_SCHEDULES), c_mean_sq(cfg, 3, DOC_SCHEDULES), c_invariant(cfg, 3)):
        _add_gated(cfg, items, skipped, comp)
    add(
        Case(
            "filter-replace-skips",
            "replace n=4, Filter(tpr=0.4): fits skipped when < 2 survive",
            cfg,
            200_000,
            tuple(items),
            tuple(skipped),
            doc=DOC_ND_FILTER,
        )
    )
    add(
        _moments_case(
            "trunc-fresh-k1.5",
            "fresh m=5 k=10, truncation k=1.5, unbiased (samples path)",
            _cfg(Fresh(real=5, synthetic=10), truncation=1.5, estimator="unbiased", path="samples"),
            (2, 30),
            50_000,
            DOC_TRUNCATION,
        )
    )
    add(
        _moments_case(
            "trunc-d2-accumulate",
            "d=2 accumulate 6/gen, Mahalanobis truncation k=1.5 (samples)",
            _cfg(Accumulate(synthetic=6), family=Gaussian(dim=2), truncation=1.5, path="samples"),
            (2, 20),
            30_000,
            DOC_TRUNCATION,
        )
    )
    cov = ((2.0, 0.5, 0.0), (0.5, 1.0, 0.3), (0.0, 0.3, 0.5))
    add(
        _moments_case(
            "d3-fresh-cov",
            "d=3 fresh m=6 k=10, tau=0.9, full Sigma0, mean (1,-2,0.5)",
            _cfg(
                Fresh(real=6, synthetic=10),
                family=Gaussian(dim=3, mean=(1.0, -2.0, 0.5), cov=cov),
                temperature=0.9,
            ),
            (2, 30),
            50_000,
            DOC_MOMENTS,
        )
    )
    cfg = _cfg(Replace(n=100))
    add(
        Case(
            "sec1-kl-truth-model-n100-t20",
            "1-D replace n=100: E KL(p0||p_t) (light-tailed here)",
            cfg,
            200_000,
            (c_kl_pt(cfg, 20, DOC_1D_KL), c_w2(cfg, 20, DOC_1D_W2)),
            doc=DOC_1D_KL,
        )
    )
    # -- deep collapse: sigma^2 underflows a double (ln sigma^2 < -744) near generation 3.7e4 at
    # n = 100; the kernel's scaled state follows ln sigma^2 to 10^6 (logdet)
    cfg = _cfg(Replace(n=100))
    add(
        Case(
            "deep-collapse-mle-n100-t1e6",
            "1-D replace n=100 to t=10^6: E, Var ln sigma^2 past underflow",
            cfg,
            256,
            (c_logdet(cfg, 10**6, DOC_1D_LOG), c_var_logdet(cfg, 10**6, DOC_1D_LOG)),
            doc=DOC_1D_LOG,
        )
    )
    # -- the invariant (docs/theory/accumulate.md): every MLE loop, filters, subsample, both paths
    inv = [
        ("replace", Replace(n=10), None, 200_000, (3, 10)),
        ("fresh", Fresh(real=3, synthetic=12), None, 100_000, (5, 40)),
        ("augment", Augment(real=5, synthetic=7), None, 100_000, (5, 40)),
        ("accumulate", Accumulate(synthetic=3, real=1), None, 100_000, (5, 40)),
        ("fresh-filter", Fresh(real=4, synthetic=6), Filter(0.5, 0.25), 100_000, (5, 40)),
        ("augment-filter", Augment(real=5, synthetic=6), Filter(0.3, 0.4), 100_000, (5, 40)),
        ("accumulate-filter", Accumulate(synthetic=3, real=2), Filter(0.5, 0.5), 100_000, (5, 40)),
    ]
    for name, loop, filt, R, ts in inv:
        for path in ("exact", "samples"):
            sfx = "" if path == "exact" else "-samples"
            cfg = _cfg(loop, filter=filt, path=path)
            add(
                _invariant_case(
                    f"row20-invariant-{name}{sfx}",
                    f"invariant: {loop} {filt or ''} {path}",
                    cfg,
                    ts,
                    R if path == "exact" else R // 2,
                )
            )
    for w in (0.0, 1.0):
        cfg = _cfg(Fresh(real=5, synthetic=20), weight=w)
        add(
            _invariant_case(
                f"row20-invariant-weighted-w{w:g}",
                f"invariant: fresh m=5 k=20, weight w={w:g}",
                cfg,
                (3, 10),
                100_000,
            )
        )
    add(
        _invariant_case(
            "row20-invariant-subsample",
            "invariant: accumulate-subsample n=10, 10/gen (samples)",
            _cfg(AccumulateSubsample(n=10, synthetic=10), path="samples"),
            (5, 30),
            20_000,
        )
    )
    add(
        _invariant_case(
            "row20-invariant-subsample-filter-d2",
            "invariant: d=2 subsample n=6, 4 syn + 1 real/gen, Filter(0.3, 0.3) (samples)",
            _cfg(
                AccumulateSubsample(n=6, synthetic=4, real=1),
                family=Gaussian(dim=2),
                filter=Filter(0.3, 0.3),
                path="samples",
            ),
            (5, 25),
            20_000,
        )
    )
    cases += _mitigation_cases()
    return cases


def _mitigation_cases() -> list:
    """Tail reweighting and self-correction (docs/theory/mitigations.md),
    replace loop: E sigma^2 / E tr Sigma / E sigma / E (mu - mu0)^2 against
    madsim.theory.mitigations. Each generation's variance is a product of
    factors with CV^2 ~ 2/n, so the compared generations keep CV^2 well
    under MAX_CV2_LOGNORMAL."""
    from ...theory import mitigations as mt
    from ...config import TailWeight

    cases = []

    def tail_var(cfg, t):
        fam, rw = cfg.family, cfg.reweight
        name = "E sigma^2" if fam.dim == 1 else "E tr Sigma"
        return Comparison(
            name,
            t,
            "mean",
            _var_like,
            lambda: (
                fam.dim
                * float(
                    mt.tail_weight_expected_var(
                        t, cfg.loop.n, rw.beta, rw.k, fam.dim, cfg.temperature, cfg.estimator
                    )
                )
            ),
            DOC_TAIL,
        )

    for name, title, kw, ts, R in (
        (
            "mit-tail-b1-k1.5-n15",
            "tail reweighting beta=1 k=1.5, replace n=15, mle (samples)",
            dict(reweight=TailWeight(1.0, 1.5)),
            (1, 3),
            100_000,
        ),
        (
            "mit-tail-b2-k1.5-n15-d2-unbiased",
            "tail reweighting beta=2 k=1.5, d=2, unbiased, replace n=15",
            dict(reweight=TailWeight(2.0, 1.5), family=Gaussian(dim=2), estimator="unbiased"),
            (1, 2),
            50_000,
        ),
        (
            "mit-tail-cancel-k1.5-n20",
            "tail reweighting with the beta that cancels the shrink, k=1.5, n=20",
            dict(reweight=TailWeight(mt.cancelling_beta(20, 1.5), 1.5)),
            (1, 5),
            100_000,
        ),
    ):
        n = 20 if "n20" in name else 15
        cfg = _cfg(Replace(n=n), path="samples", **kw)
        cases.append(Case(name, title, cfg, R, tuple(tail_var(cfg, t) for t in ts), doc=DOC_TAIL))

    def corr(cfg, t):
        g, n, tau, est = cfg.correction, cfg.loop.n, cfg.temperature, cfg.estimator
        m = lambda: mt.correction_moments(t, n, g, tau, est)  # noqa: E731
        return (
            Comparison("E sigma^2", t, "mean", _var_like, lambda: float(m().var), DOC_CORRECTION),
            Comparison("E sigma", t, "mean", _sigma, lambda: float(m().sd), DOC_CORRECTION),
            Comparison("E (mu-mu0)^2", t, "mean", _mean_sq, lambda: float(m().mean_sq), DOC_CORRECTION),
        )

    for name, title, kw, R in (
        ("mit-correct-g0.5-n10", "self-correction gamma=0.5, replace n=10, mle", {}, 100_000),
        (
            "mit-correct-g0.2-n10-tau1.1-unbiased-samples",
            "self-correction gamma=0.2, replace n=10, tau=1.1, unbiased (samples)",
            dict(temperature=1.1, estimator="unbiased", path="samples"),
            30_000,
        ),
    ):
        g = 0.5 if "g0.5" in name else 0.2
        cfg = _cfg(Replace(n=10), correction=g, **kw)
        cases.append(Case(name, title, cfg, R, corr(cfg, 5) + corr(cfg, 60), doc=DOC_CORRECTION))
    cov = ((2.0, 0.3, 0.0), (0.3, 1.0, 0.2), (0.0, 0.2, 0.5))
    cfg = _cfg(Replace(n=10**8), correction=0.5, temperature=1.2, family=Gaussian(dim=3, cov=cov))
    limit = lambda: mt.correction_limit_scale(0.5, 1.2) ** 2 * float(np.trace(np.array(cov)))  # noqa: E731
    cases.append(
        Case(
            "mit-correct-d3-limit",
            "self-correction gamma=0.5, d=3, tau=1.2, n=1e8: Sigma_t -> (g tau / (1 - (1 - g) tau))^2 Sigma0",
            cfg,
            2_000,
            (Comparison("E tr Sigma", 40, "mean", _var_like, limit, DOC_CORRECTION),),
            doc=DOC_CORRECTION,
        )
    )
    return cases


# The Gaussian cases of the quick subset (CI: well under a minute on 2 cores) and their replicas
# (None: the case's own). Every loop, both paths, both estimators, a filter,
# truncation, weighting, d > 1 and the invariant appear in it.
QUICK = {
    "row1-replace-mle-n10-t10": None,
    "row1-replace-mle-n10-t10-samples": 50_000,
    "row3-replace-mle-n100-t100": 100_000,
    "row5-replace-unbiased-n10-t50": None,
    "row7-truncation-k2-n10-t10": 100_000,
    "row8-d3-replace-n10-t20": 50_000,
    "row9-fresh-m10-k10-mle": 50_000,
    "row10-fresh-m10-k10-unbiased-samples": 20_000,
    "row11-augment-m10-k10-mle": 50_000,
    "sec4b-augment-m10-k40-unbiased": 50_000,
    "row12-accumulate-n10-mle": 25_000,
    "row13-accumulate-n10-unbiased-samples": 10_000,
    "row15-weighted-optimal-n10-m10-unbiased": 40_000,
    "sec4c-weighted-augment-0.3-mle": 40_000,
    "filter-fresh-pooled": 50_000,
    "filter-accumulate": 40_000,
    "trunc-fresh-k1.5": 25_000,
    "d3-fresh-cov": 25_000,
    "row20-invariant-fresh-filter": 50_000,
    "row20-invariant-subsample": None,
    "mit-tail-b1-k1.5-n15": 30_000,
    "mit-correct-g0.5-n10": 30_000,
}


# What madsim.validate re-exports (for cases written outside the package).
__all__ = [
    "DOC_1D",
    "DOC_1D_CV2",
    "DOC_1D_KL",
    "DOC_1D_LOG",
    "DOC_1D_MEAN",
    "DOC_1D_SIGMA",
    "DOC_1D_VAR",
    "DOC_1D_W2",
    "DOC_ACCUMULATE",
    "DOC_ACCUMULATE_FIRST_REAL",
    "DOC_AUGMENT",
    "DOC_FRESH",
    "DOC_INVARIANT",
    "DOC_MEAN",
    "DOC_MOMENTS",
    "DOC_ND",
    "DOC_ND_FILTER",
    "DOC_ND_LOGDET",
    "DOC_SCHEDULES",
    "DOC_TRUNCATION",
    "DOC_WEIGHTING",
    "MAX_CV2_LOGNORMAL",
    "MAX_CV2_MIXTURE",
    "QUICK",
    "c_invariant",
    "c_kl_pt",
    "c_kl_tp",
    "c_logdet",
    "c_mean",
    "c_mean_sq",
    "c_sigma",
    "c_var",
    "c_var_logdet",
    "c_w2",
    "replace_1d_comparisons",
]
