"""Closed-form collapse results: the oracles that the tests and
``madsim validate`` check the simulator against.

Every function is written out, with its derivation sketch, its conditions
and its source paper, in the theory pages of the documentation
(docs/theory/, one page per topic; docs/theory/index.md has a table from
each function to its section and validate cases).

Two call styles:

* the 1-D replace loop by numbers, for a constant sample size:
  ``expected_var(t, n, tau=1.0, estimator="mle", var0=1.0)`` etc.
  (module ``replace1d``, docs/theory/replace-1d.md);
* any Gaussian loop by config: ``expected_var(cfg, t)``,
  ``expected_mean_sq(cfg, t)``, ``expected_trace(cfg, t)``,
  ``expected_logdet(cfg, t)``, ``var_logdet(cfg, t)``, ``fixed_point(cfg)``,
  ``invariant(cfg, t)``... (modules ``moments``, ``replace_nd``,
  ``real_data``, ``accumulate``, ``universal``, ``bias`` of this package:
  ``madsim.theory.real_data`` etc.).

The functions named in both styles pick the style from their first argument
(a ``madsim.Config`` or not). ``t`` may be an integer or an array of
generations (0 is the truth). Settings with no closed form raise
NotImplementedError saying what is unsupported; invalid arguments raise
TypeError/ValueError naming the argument.

Modules (``madsim.theory.<name>``) and their pages under docs/theory/:

=============  ==============================================================
replace1d      1-D replace loop by numbers (replace-1d.md)
replace_nd     d-dim replace: log-det moments, E det; the replace loop's
               E sigma, KL, W2 for any Config (replace-nd.md, replace-1d.md)
moments        E Sigma_t, E (mu_t - mu0)^2, E mu_t for every loop
               (replace-nd.md, section "First and second moments of every loop")
bias           truncation factor v_d(k), synthetic variance factor (bias.md)
real_data      fresh, augment, weighted: recursions, fixed points, optimal
               weight (real-data.md)
accumulate     accumulate recursions, Euler-product limit, Dey-Donoho ratio
               (accumulate.md)
universal      the invariant of MLE loops: invariant, invariant_holds
               (accumulate.md, section "The invariant of MLE loops")
mitigations    tail reweighting and self-correction of the Gaussian replace
               loop (mitigations.md)
=============  ==============================================================

A family's own theory module (named by its FamilySpec's ``theory``, e.g.
``madsim.theory.poisson``, docs/theory/poisson.md) is re-exported here
from the registry: its ``__all__`` joins this module's. So are
``categorical`` (tokens by numbers, no Config: the Wright-Fisher replace
loop, the martingale, fresh data; categorical.md; its fresh fixed point is
exported as ``categorical_fresh_fixed_point``, ``fresh_fixed_point`` being
the Gaussian one) and ``regression`` (test error of linear regression under
replace, accumulate and the weighted fresh loop; regression.md), whose
modules are in ``__all__`` too (``theory_module``). ``common`` holds the
helpers the modules share (the loops' counts and laws, argument picking).
"""

from __future__ import annotations

from ..config import Config
from . import accumulate, bias, moments, universal, real_data, replace1d, replace_nd
from . import mitigations
from .mitigations import (
    CorrectionMoments,
    cancelling_beta,
    correction_limit_scale,
    correction_moments,
    correction_stationary,
    tail_weight_expected_var,
    tail_weight_factor,
    tail_weight_factor_limit,
)
from .accumulate import accumulate_limit, accumulate_mle_var, accumulate_moments, dey_donoho_ratio
from .bias import synthetic_variance_factor, truncation_acceptance, truncation_factor
from .universal import invariant, invariant_holds
from .moments import (
    expected_cov,
    expected_mean,
    expected_mean_cov,
    expected_second_moment,
    expected_trace,
    standardized,
)
from .real_data import (
    FixedPoint,
    augment_conditional_fixed_point_mle,
    augment_fixed_point_mle,
    augment_mean_sq_from_conditional,
    fixed_point,
    fresh_fixed_point,
    fresh_fixed_point_mle,
    hxc_optimal_mse,
    hxc_stationary_mse,
    optimal_weight,
)
from .replace1d import (
    SIEGMUND_OVERSHOOT,
    collapse_time_wald,
    log_var_drift,
    log_var_step_variance,
    sigma_factor,
    var_factor,
)
from .replace_nd import (
    det_factor,
    expected_det,
    expected_logdet,
    logdet_drift,
    logdet_step_variance,
    var_logdet,
)


def _by_config(args, kwargs) -> bool:
    return (bool(args) and isinstance(args[0], Config)) or isinstance(kwargs.get("cfg"), Config)


def _pick(args, kwargs, by_numbers, by_config):
    """Calls ``by_config`` when the first argument (or ``cfg=``) is a Config, else ``by_numbers``."""
    if _by_config(args, kwargs):
        return by_config(*args, **kwargs)
    return by_numbers(*args, **kwargs)


def _log_var_cfg(cfg, t):
    """E ln sigma_t^2 (1-D replace loop, any schedule/filter/tau): expected_logdet."""
    return expected_logdet(cfg, t)


def _var_log_var_cfg(cfg, t):
    """Var ln sigma_t^2 (1-D replace loop, any schedule/filter): var_logdet."""
    return var_logdet(cfg, t)


def _cv2_var_cfg(cfg, t):
    """CV^2 of sigma_t^2 (1-D replace loop): E sigma^4/(E sigma^2)^2 - 1, exact
    (((n+1)/(n-1))^t - 1 for constant n: docs/theory/replace-1d.md, section
    "Monte Carlo precision")."""
    return replace_nd.expected_var_power(cfg, 2, t) / replace_nd.expected_var_power(cfg, 1, t) ** 2 - 1.0


def _cv2_sigma_cfg(cfg, t):
    """CV^2 of sigma_t (1-D replace loop): E sigma^2/(E sigma)^2 - 1
    ((a/c^2)^t - 1 for constant n: docs/theory/replace-1d.md)."""
    return replace_nd.expected_var_power(cfg, 1, t) / replace_nd.expected_var_power(cfg, 0.5, t) ** 2 - 1.0


def expected_var(*args, **kwargs):
    """Expected variance of the fitted model, E sigma_t^2.

    Two call styles, picked by the first argument:

    * by numbers, ``expected_var(t, n, tau=1.0, estimator="mle", var0=1.0)``:
      the 1-D replace loop, ``sigma0^2 a^t`` with ``a = tau^2 (n-1)/div``;
    * by config, ``expected_var(cfg, t)``: any loop of a 1-D Gaussian
      ``Config`` (replace, fresh, augment, accumulate; schedules, filters,
      temperature, truncation, weighting), ``v_t sigma0^2`` from the loop's
      exact linear recursion.

    Parameters
    ----------
    t : int or array of int
        Generation(s), >= 0 (0 is the truth).
    n : int
        By numbers: points per fit (>= 2).
    tau : float, default 1.0
        By numbers: temperature (> 0).
    estimator : {"mle", "unbiased"}, default "mle"
        By numbers: the scatter's divisor, n or n - 1.
    var0 : float, default 1.0
        By numbers: the truth's variance sigma0^2.
    cfg : madsim.Config
        By config: a 1-D Gaussian configuration.

    Returns
    -------
    float or ndarray
        Shaped like ``t``.

    Raises
    ------
    ValueError
        By config with ``dim > 1`` (use ``expected_trace`` or ``expected_cov``).
    NotImplementedError
        By config for ``AccumulateSubsample`` (no closed form) and PPCA.

    Notes
    -----
    docs/theory/replace-1d.md, section "Variance"; other loops:
    docs/theory/replace-nd.md, section "First and second moments of every
    loop", and the pages it links. Checked (by config) by the 1-D validate
    cases: ``row1-*`` to ``row15-*`` except ``row8-*``, ``sec4a-*``,
    ``sec4b-*``, ``sec4c-*``, ``sec5a-*``, ``sched-*``, ``filter-*``,
    ``trunc-fresh-k1.5``.

    Examples
    --------
    >>> import madsim as ms
    >>> from madsim import theory
    >>> round(float(theory.expected_var(10, n=10)), 6)
    0.348678
    >>> round(theory.expected_var(ms.Config(loop=ms.Replace(n=10)), 10), 6)
    0.348678
    >>> round(theory.expected_var(ms.Config(loop=ms.Fresh(real=10, synthetic=10)), 60), 6)
    0.935484
    """
    return _pick(args, kwargs, replace1d.expected_var, moments.expected_var)


def expected_mean_sq(*args, **kwargs):
    """Expected squared error of the fitted mean, E (mu_t - mu0)^2 (``E |mu_t - mu0|^2`` for d > 1).

    Two call styles, picked by the first argument:

    * by numbers, ``expected_mean_sq(t, n, tau=1.0, estimator="mle", var0=1.0)``:
      the 1-D replace loop, ``(tau^2 sigma0^2 / n) sum_{s<t} a^s``;
    * by config, ``expected_mean_sq(cfg, t)``: any loop of a Gaussian or
      PPCA ``Config`` in any dimension, ``d_t tr Sigma0``.

    Parameters
    ----------
    t : int or array of int
        Generation(s), >= 0 (0 is the truth).
    n : int
        By numbers: points per fit (>= 2).
    tau : float, default 1.0
        By numbers: temperature (> 0).
    estimator : {"mle", "unbiased"}, default "mle"
        By numbers: the scatter's divisor, n or n - 1.
    var0 : float, default 1.0
        By numbers: the truth's variance sigma0^2.
    cfg : madsim.Config
        By config: a Gaussian or PPCA configuration.

    Returns
    -------
    float or ndarray
        Shaped like ``t``.

    Raises
    ------
    NotImplementedError
        By config for ``AccumulateSubsample`` (no closed form).

    Notes
    -----
    docs/theory/replace-1d.md, section "Error of the mean";
    docs/theory/replace-nd.md, section "First and second moments of every
    loop"; PPCA: docs/theory/ppca-gmm.md. Checked by the same validate cases
    as ``expected_var`` and the ``ppca-*`` cases.

    Examples
    --------
    >>> import madsim as ms
    >>> from madsim import theory
    >>> round(float(theory.expected_mean_sq(10, n=10)), 6)
    0.651322
    >>> round(theory.expected_mean_sq(ms.Config(loop=ms.Fresh(real=10, synthetic=10)), 60), 6)
    0.064516
    """
    return _pick(args, kwargs, replace1d.expected_mean_sq, moments.expected_mean_sq)


def expected_sigma(*args, **kwargs):
    """Expected standard deviation of the fitted model, E sigma_t (1-D replace loop).

    Two call styles, picked by the first argument:

    * by numbers, ``expected_sigma(t, n, tau=1.0, estimator="mle", var0=1.0)``:
      ``sigma0 c^t`` with ``c = tau sqrt(2/div) Gamma(n/2)/Gamma((n-1)/2)``;
    * by config, ``expected_sigma(cfg, t)``: the 1-D Gaussian replace loop
      with any schedule and filter (the factor averaged over the surviving
      count of each generation).

    Parameters
    ----------
    t : int or array of int
        Generation(s), >= 0 (0 is the truth).
    n : int
        By numbers: points per fit (>= 2).
    tau : float, default 1.0
        By numbers: temperature (> 0).
    estimator : {"mle", "unbiased"}, default "mle"
        By numbers: the scatter's divisor, n or n - 1.
    var0 : float, default 1.0
        By numbers: the truth's variance sigma0^2.
    cfg : madsim.Config
        By config: a 1-D Gaussian replace configuration.

    Returns
    -------
    float or ndarray

    Raises
    ------
    NotImplementedError
        By config for other loops or with truncation.

    Notes
    -----
    docs/theory/replace-1d.md, section "Standard deviation". Checked (by
    config) by the validate cases ``row1-*``, ``row2-replace-mle-n10-t50``,
    ``row3-*``, ``row5-*``, ``row6-*`` (where its CV^2 allows).

    Examples
    --------
    >>> import madsim as ms
    >>> from madsim import theory
    >>> round(float(theory.expected_sigma(10, n=10)), 6)
    0.447528
    >>> round(theory.expected_sigma(ms.Config(loop=ms.Replace(n=10)), 10), 6)
    0.447528
    """
    return _pick(args, kwargs, replace1d.expected_sigma, replace_nd.expected_sigma)


def expected_var_power(*args, **kwargs):
    """Moment of order r of the fitted variance, E sigma_t^{2r} (1-D replace loop).

    Two call styles, picked by the first argument:

    * by numbers, ``expected_var_power(r, t, n, tau=1.0, estimator="mle", var0=1.0)``:
      ``sigma0^{2r} m_r^t`` with
      ``m_r = (2 tau^2/div)^r Gamma((n-1)/2 + r) / Gamma((n-1)/2)``;
    * by config, ``expected_var_power(cfg, r, t)``: the 1-D Gaussian replace
      loop with any schedule and filter.

    Parameters
    ----------
    r : float
        The order; the moment is finite for ``r > -(K-1)/2`` at every count K
        a fit can have.
    t : int or array of int
        Generation(s), >= 0.
    n : int
        By numbers: points per fit (>= 2).
    tau : float, default 1.0
        By numbers: temperature (> 0).
    estimator : {"mle", "unbiased"}, default "mle"
        By numbers: the scatter's divisor.
    var0 : float, default 1.0
        By numbers: sigma0^2.
    cfg : madsim.Config
        By config: a 1-D Gaussian replace configuration.

    Returns
    -------
    float or ndarray

    Raises
    ------
    ValueError
        If the moment is infinite (r too negative).
    NotImplementedError
        By config for other loops or with truncation.

    Notes
    -----
    docs/theory/replace-1d.md, section "Variance". Checked through
    ``expected_sigma`` (r = 1/2) and the CV^2 gates of the validate cases.

    Examples
    --------
    >>> import madsim as ms
    >>> from madsim import theory
    >>> round(float(theory.expected_var_power(2, 10, n=10)), 6)
    0.904382
    >>> round(theory.expected_var_power(ms.Config(loop=ms.Replace(n=10)), 2, 10), 6)
    0.904382
    """
    return _pick(args, kwargs, replace1d.expected_var_power, replace_nd.expected_var_power)


def expected_log_var(*args, **kwargs):
    """Expected log-variance of the fitted model (1-D replace loop).

    Two call styles, picked by the first argument:

    * by numbers, ``expected_log_var(t, n, tau=1.0, estimator="mle")``:
      ``E ln(sigma_t^2 / sigma0^2) = t delta`` with
      ``delta = psi((n-1)/2) + ln(2/div) + 2 ln tau``;
    * by config, ``expected_log_var(cfg, t)``: ``E ln sigma_t^2`` in the
      truth's units (it includes ``ln sigma0^2``) for the 1-D Gaussian
      replace loop with any schedule and filter: ``expected_logdet(cfg, t)``.

    Parameters
    ----------
    t : int or array of int
        Generation(s), >= 0.
    n : int
        By numbers: points per fit (>= 2).
    tau : float, default 1.0
        By numbers: temperature (> 0).
    estimator : {"mle", "unbiased"}, default "mle"
        By numbers: the scatter's divisor.
    cfg : madsim.Config
        By config: a 1-D Gaussian replace configuration.

    Returns
    -------
    float or ndarray

    Raises
    ------
    NotImplementedError
        By config for other loops or with truncation.

    Notes
    -----
    docs/theory/replace-1d.md, section "Log-variance: drift and spread".
    Checked (by config, as ``expected_logdet``) by the validate cases
    ``row1-*`` ... ``row6-*``.

    Examples
    --------
    >>> import madsim as ms
    >>> from madsim import theory
    >>> round(float(theory.expected_log_var(10, n=10)), 5)
    -2.20567
    >>> cfg = ms.Config(family=ms.Gaussian(var=4.0), loop=ms.Replace(n=10))
    >>> round(theory.expected_log_var(cfg, 10), 5)  # ln 4 - 2.20567
    -0.81938
    """
    return _pick(args, kwargs, replace1d.expected_log_var, _log_var_cfg)


def var_log_var(*args, **kwargs):
    """Variance of the log-variance of the fitted model (1-D replace loop).

    Two call styles, picked by the first argument:

    * by numbers, ``var_log_var(t, n)``: ``t psi'((n-1)/2)`` (any
      temperature and estimator);
    * by config, ``var_log_var(cfg, t)``: the 1-D Gaussian replace loop with
      any schedule and filter: ``var_logdet(cfg, t)``.

    Parameters
    ----------
    t : int or array of int
        Generation(s), >= 0.
    n : int
        By numbers: points per fit (>= 2).
    cfg : madsim.Config
        By config: a 1-D Gaussian replace configuration.

    Returns
    -------
    float or ndarray

    Raises
    ------
    NotImplementedError
        By config for other loops or with truncation.

    Notes
    -----
    docs/theory/replace-1d.md, section "Log-variance: drift and spread".
    Checked (by config, as ``var_logdet``) by the validate cases ``row1-*``
    ... ``row6-*``.

    Examples
    --------
    >>> import madsim as ms
    >>> from madsim import theory
    >>> round(float(theory.var_log_var(10, n=10)), 5)
    2.48725
    >>> round(theory.var_log_var(ms.Config(loop=ms.Replace(n=10)), 10), 5)
    2.48725
    """
    return _pick(args, kwargs, replace1d.var_log_var, _var_log_var_cfg)


def expected_w2_sq(*args, **kwargs):
    """Expected squared Wasserstein-2 distance between the truth and the model (1-D replace loop).

    ``E W2^2(p0, p_t) = E(mu_t-mu0)^2 + E sigma_t^2 - 2 sigma0 E sigma_t + sigma0^2``.
    Two call styles, picked by the first argument: by numbers,
    ``expected_w2_sq(t, n, tau=1.0, estimator="mle", var0=1.0)``; by config,
    ``expected_w2_sq(cfg, t)`` (1-D Gaussian replace loop, any schedule and
    filter).

    Parameters
    ----------
    t : int or array of int
        Generation(s), >= 0.
    n : int
        By numbers: points per fit (>= 2).
    tau : float, default 1.0
        By numbers: temperature (> 0).
    estimator : {"mle", "unbiased"}, default "mle"
        By numbers: the scatter's divisor.
    var0 : float, default 1.0
        By numbers: sigma0^2.
    cfg : madsim.Config
        By config: a 1-D Gaussian replace configuration.

    Returns
    -------
    float or ndarray

    Raises
    ------
    NotImplementedError
        By config for other loops or with truncation.

    Notes
    -----
    docs/theory/replace-1d.md, section "Wasserstein-2 distance to the
    truth". Checked (by config) by the validate cases ``row1-*``, ``row3-*``,
    ``row5-*``, ``row6-*`` and ``sec1-kl-truth-model-n100-t20``.

    Examples
    --------
    >>> import madsim as ms
    >>> from madsim import theory
    >>> round(float(theory.expected_w2_sq(10, n=10)), 5)
    1.10494
    >>> round(theory.expected_w2_sq(ms.Config(loop=ms.Replace(n=10)), 10), 5)
    1.10494
    """
    return _pick(args, kwargs, replace1d.expected_w2_sq, replace_nd.expected_w2_sq)


def expected_kl_model_truth(*args, **kwargs):
    """Expected KL divergence of the model from the truth, E KL(p_t || p0) (replace loop).

    Two call styles, picked by the first argument:

    * by numbers, ``expected_kl_model_truth(t, n, tau=1.0, estimator="mle")``:
      1-D, ``(1/2)[a^t + E(mu_t-mu0)^2/sigma0^2 - 1 - t delta]``;
    * by config, ``expected_kl_model_truth(cfg, t)``: the Gaussian replace
      loop in any dimension, any schedule and filter,
      ``(1/2)[d v_t + d d_t - d - E ln det(Sigma_t Sigma0^{-1})]``.

    Parameters
    ----------
    t : int or array of int
        Generation(s), >= 0.
    n : int
        By numbers: points per fit (>= 2).
    tau : float, default 1.0
        By numbers: temperature (> 0).
    estimator : {"mle", "unbiased"}, default "mle"
        By numbers: the scatter's divisor.
    cfg : madsim.Config
        By config: a Gaussian replace configuration.

    Returns
    -------
    float or ndarray

    Raises
    ------
    NotImplementedError
        By config for other loops or with truncation.

    Notes
    -----
    docs/theory/replace-1d.md, section "Kullback-Leibler divergences";
    docs/theory/replace-nd.md, same section. Checked (by config) by the
    validate cases ``row1-*``, ``row3-*``, ``row5-*``, ``row6-*``.

    Examples
    --------
    >>> import madsim as ms
    >>> from madsim import theory
    >>> round(float(theory.expected_kl_model_truth(10, n=10)), 5)
    1.10283
    >>> round(theory.expected_kl_model_truth(ms.Config(loop=ms.Replace(n=10)), 10), 5)
    1.10283
    """
    return _pick(args, kwargs, replace1d.expected_kl_model_truth, replace_nd.expected_kl_model_truth)


def expected_kl_truth_model(*args, **kwargs):
    """Expected KL divergence of the truth from the model, E KL(p0 || p_t) (replace loop).

    Two call styles, picked by the first argument:

    * by numbers, ``expected_kl_truth_model(t, n, tau=1.0, estimator="mle")``:
      1-D, ``(1/2)[t delta + b^t + (tau^2/n) sum_{j=1..t} b^j - 1]`` with
      ``b = div/(tau^2 (n-3))``;
    * by config, ``expected_kl_truth_model(cfg, t)``: the Gaussian replace
      loop in any dimension (inverse-Wishart means), any schedule and filter.

    Parameters
    ----------
    t : int or array of int
        Generation(s), >= 0.
    n : int
        By numbers: points per fit (> 3).
    tau : float, default 1.0
        By numbers: temperature (> 0).
    estimator : {"mle", "unbiased"}, default "mle"
        By numbers: the scatter's divisor.
    cfg : madsim.Config
        By config: a Gaussian replace configuration.

    Returns
    -------
    float or ndarray

    Raises
    ------
    ValueError
        When a fit can have at most d + 2 points (the divergence is infinite).
    NotImplementedError
        By config for other loops or with truncation.

    Notes
    -----
    docs/theory/replace-1d.md, section "Kullback-Leibler divergences";
    docs/theory/replace-nd.md, same section. Checked by the validate case
    ``sec1-kl-truth-model-n100-t20``.

    Examples
    --------
    >>> import madsim as ms
    >>> from madsim import theory
    >>> round(float(theory.expected_kl_truth_model(10, n=10)), 4)
    21.8314
    >>> round(theory.expected_kl_truth_model(ms.Config(loop=ms.Replace(n=10)), 10), 4)
    21.8314
    """
    return _pick(args, kwargs, replace1d.expected_kl_truth_model, replace_nd.expected_kl_truth_model)


def cv2_var(*args, **kwargs):
    """Squared coefficient of variation of the fitted variance, CV^2(sigma_t^2) (1-D replace loop).

    A mean of sigma_t^2 over R replicas has relative standard error
    ``sqrt(CV^2 / R)``. Two call styles, picked by the first argument:

    * by numbers, ``cv2_var(t, n)``: ``((n+1)/(n-1))^t - 1`` (any temperature
      and estimator);
    * by config, ``cv2_var(cfg, t)``: ``E sigma^4 / (E sigma^2)^2 - 1`` for the
      1-D Gaussian replace loop with any schedule and filter.

    Parameters
    ----------
    t : int or array of int
        Generation(s), >= 0.
    n : int
        By numbers: points per fit (>= 2).
    cfg : madsim.Config
        By config: a 1-D Gaussian replace configuration.

    Returns
    -------
    float or ndarray

    Raises
    ------
    NotImplementedError
        By config for other loops or with truncation.

    Notes
    -----
    docs/theory/replace-1d.md, section "Monte Carlo precision". ``madsim
    validate`` gates heavy-tailed means by its d-dim form,
    ``replace_nd.cv2_trace``.

    Examples
    --------
    >>> import madsim as ms
    >>> from madsim import theory
    >>> round(float(theory.cv2_var(50, n=10)))
    22777
    >>> round(theory.cv2_var(ms.Config(loop=ms.Replace(n=10)), 10), 4)
    6.4388
    """
    return _pick(args, kwargs, replace1d.cv2_var, _cv2_var_cfg)


def cv2_sigma(*args, **kwargs):
    """Squared coefficient of variation of the fitted standard deviation, CV^2(sigma_t) (1-D replace loop).

    Two call styles, picked by the first argument:

    * by numbers, ``cv2_sigma(t, n, tau=1.0, estimator="mle")``:
      ``(a/c^2)^t - 1``;
    * by config, ``cv2_sigma(cfg, t)``: ``E sigma^2 / (E sigma)^2 - 1`` for
      the 1-D Gaussian replace loop with any schedule and filter.

    Parameters
    ----------
    t : int or array of int
        Generation(s), >= 0.
    n : int
        By numbers: points per fit (>= 2).
    tau : float, default 1.0
        By numbers: temperature (> 0).
    estimator : {"mle", "unbiased"}, default "mle"
        By numbers: the scatter's divisor.
    cfg : madsim.Config
        By config: a 1-D Gaussian replace configuration.

    Returns
    -------
    float or ndarray

    Raises
    ------
    NotImplementedError
        By config for other loops or with truncation.

    Notes
    -----
    docs/theory/replace-1d.md, section "Monte Carlo precision". Gates the
    ``E sigma`` comparisons of the validate cases ``row1-*`` ... ``row6-*``.

    Examples
    --------
    >>> import madsim as ms
    >>> from madsim import theory
    >>> round(float(theory.cv2_sigma(10, n=10)), 6)
    0.740946
    >>> round(theory.cv2_sigma(ms.Config(loop=ms.Replace(n=10)), 10), 6)
    0.740946
    """
    return _pick(args, kwargs, replace1d.cv2_sigma, _cv2_sigma_cfg)


__all__ = [
    "FixedPoint",
    "SIEGMUND_OVERSHOOT",
    "accumulate",
    "accumulate_limit",
    "accumulate_mle_var",
    "accumulate_moments",
    "augment_conditional_fixed_point_mle",
    "augment_fixed_point_mle",
    "augment_mean_sq_from_conditional",
    "bias",
    "collapse_time_wald",
    "cv2_sigma",
    "cv2_var",
    "det_factor",
    "dey_donoho_ratio",
    "expected_cov",
    "expected_det",
    "expected_kl_model_truth",
    "expected_kl_truth_model",
    "expected_log_var",
    "expected_logdet",
    "expected_mean",
    "expected_mean_cov",
    "expected_mean_sq",
    "expected_second_moment",
    "expected_sigma",
    "expected_trace",
    "expected_var",
    "expected_var_power",
    "expected_w2_sq",
    "fixed_point",
    "fresh_fixed_point",
    "fresh_fixed_point_mle",
    "hxc_optimal_mse",
    "hxc_stationary_mse",
    "invariant",
    "invariant_holds",
    "log_var_drift",
    "log_var_step_variance",
    "logdet_drift",
    "logdet_step_variance",
    "moments",
    "optimal_weight",
    "real_data",
    "replace1d",
    "replace_nd",
    "universal",
    "sigma_factor",
    "standardized",
    "synthetic_variance_factor",
    "truncation_acceptance",
    "truncation_factor",
    "var_factor",
    "var_log_var",
    "var_logdet",
    # tail reweighting and self-correction (by numbers): docs/theory/mitigations.md
    "CorrectionMoments",
    "cancelling_beta",
    "correction_limit_scale",
    "correction_moments",
    "correction_stationary",
    "mitigations",
    "tail_weight_expected_var",
    "tail_weight_factor",
    "tail_weight_factor_limit",
]


def _family_theory() -> list[str]:
    """Re-exports the theory module each registered family names in its
    FamilySpec (``theory``: a module of this package, its ``__all__``; with
    ``theory_module``, the module itself too, as ``madsim.theory.<theory>``),
    so a family's closed forms need no line here. A name exported twice must
    be the same object (two families may share one theory module)."""
    import importlib

    from ..families import all_families

    names: list[str] = []
    for spec in all_families():
        if not spec.theory:
            continue
        mod = importlib.import_module(f"{__name__}.{spec.theory}")
        exports = {n: getattr(mod, n) for n in mod.__all__}
        if spec.theory_module:
            exports[spec.theory] = mod
        for name, obj in exports.items():
            if name in globals() and globals()[name] is not obj:
                raise ImportError(
                    f"madsim.theory.{spec.theory} exports {name!r}, which madsim.theory already has"
                )
            globals()[name] = obj
            if name not in names and name not in __all__:
                names.append(name)
    return names


__all__ += _family_theory()
