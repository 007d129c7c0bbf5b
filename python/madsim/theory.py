"""Closed-form collapse results: the oracles the tests and ``madsim validate``
check Monte Carlo against. Formulas, derivations and Monte Carlo checks:
shared/THEORY.md; every function cites its section and paper.

Two call styles:

* section 1 (1-D replace loop) by numbers, as before:
  ``expected_var(t, n, tau=1.0, estimator="mle", var0=1.0)`` etc.
  (module ``replace1d``);
* any Gaussian loop by config: ``expected_var(cfg, t)``,
  ``expected_mean_sq(cfg, t)``, ``expected_trace(cfg, t)``,
  ``expected_logdet(cfg, t)``, ``var_logdet(cfg, t)``, ``fixed_point(cfg)``,
  ``invariant(cfg, t)``... (modules ``moments``, ``replace_nd``,
  ``real_data``, ``accumulate``, ``universal``, ``bias`` of ``madsim._theory``,
  also reachable as attributes: ``madsim.theory.real_data`` etc.).

The functions named in both styles pick the style from their first argument
(a ``madsim.Config`` or not). ``t`` may be an integer or an array of
generations (0 is the truth). Settings with no closed form raise
NotImplementedError saying what is unsupported; invalid arguments raise
TypeError/ValueError naming the argument.

Modules (madsim._theory.<name>) by THEORY.md section:
  1  replace1d    1-D replace loop by numbers
  2  replace_nd   d-dim replace: log-det moments, E det; replace-loop E sigma,
                  KL, W2 for any Config
  3  bias         truncation factor v(k), synthetic variance factor
  4  real_data    fresh (4a), augment (4b), weighted (4c): recursions,
                  fixed points, optimal weight
  5  accumulate   accumulate recursions, Euler-product limit, Dey-Donoho ratio
  7  universal    the universal MLE invariant (invariant, invariant_holds)
  4d/6 categorical  tokens by numbers (no Config): Wright-Fisher replace loop
                  (gini_simpson, wf_transition, survival, survival_feller,
                  survival_suresh, expected_survivors, prob_one_left,
                  fixation_probability, absorption_time, fixation_time,
                  loss_time, time_to_one_left), martingale
                  (expected_frequencies, expected_mass), fresh data
                  (fresh_distance, fresh_gini_simpson and
                  categorical_fresh_fixed_point = categorical.fresh_fixed_point,
                  renamed because fresh_fixed_point is the Gaussian one)
  -  moments      E Sigma_t, E (mu_t - mu0)^2, E mu_t for every loop
"""

from __future__ import annotations

from .config import Config
from ._theory import accumulate, bias, categorical, moments, universal, real_data, replace1d, replace_nd
from ._theory import regression
from ._theory.regression import (accumulate_test_error, expected_noise_var, expected_test_error,
                                 replace_test_error)
from ._theory.categorical import (CategoricalFixedPoint, absorption_time, expected_frequencies,
                          expected_mass, expected_support_size, expected_survivors,
                          fixation_probability, fixation_time, fresh_distance, fresh_gini_simpson,
                          gini_simpson, loss_time, prob_one_left, survival, survival_feller,
                          survival_suresh, time_to_one_left, wf_transition)
from ._theory.categorical import fresh_fixed_point as categorical_fresh_fixed_point
from ._theory.accumulate import (accumulate_limit, accumulate_mle_var, accumulate_moments,
                         dey_donoho_ratio)
from ._theory.bias import synthetic_variance_factor, truncation_acceptance, truncation_factor
from ._theory.universal import invariant, invariant_holds
from ._theory.moments import (expected_cov, expected_mean, expected_mean_cov, expected_second_moment,
                      expected_trace, standardized)
from ._theory.real_data import (FixedPoint, augment_conditional_fixed_point_mle, augment_fixed_point_mle,
                        augment_mean_sq_from_conditional, fixed_point, fresh_fixed_point,
                        fresh_fixed_point_mle, hxc_optimal_mse, hxc_stationary_mse,
                        optimal_weight)
from ._theory.replace1d import (SIEGMUND_OVERSHOOT, collapse_time_wald, log_var_drift,
                        log_var_step_variance, sigma_factor, var_factor)
from ._theory.replace_nd import (det_factor, expected_det, expected_logdet, logdet_drift,
                         logdet_step_variance, var_logdet)


def _by_config(args, kwargs) -> bool:
    return (bool(args) and isinstance(args[0], Config)) or isinstance(kwargs.get("cfg"), Config)


def _dispatch(name, by_numbers, by_config):
    def f(*args, **kwargs):
        if _by_config(args, kwargs):
            return by_config(*args, **kwargs)
        return by_numbers(*args, **kwargs)

    f.__name__ = f.__qualname__ = name
    f.__doc__ = (f"{name}(cfg, ...) or {name}(t, n, ...): picks the style from the first argument.\n\n"
                 f"By config:\n{by_config.__doc__}\n\nBy numbers (section 1):\n{by_numbers.__doc__}")
    return f


def _log_var_cfg(cfg, t):
    """E ln sigma_t^2 (1-D replace loop, any schedule/filter/tau): expected_logdet."""
    return expected_logdet(cfg, t)


def _var_log_var_cfg(cfg, t):
    """Var ln sigma_t^2 (1-D replace loop, any schedule/filter): var_logdet."""
    return var_logdet(cfg, t)


def _cv2_var_cfg(cfg, t):
    """CV^2 of sigma_t^2 (1-D replace loop): E sigma^4/(E sigma^2)^2 - 1, exact
    (THEORY.md section 1 "MC precision": ((n+1)/(n-1))^t - 1 for constant n)."""
    return replace_nd.expected_var_power(cfg, 2, t) / replace_nd.expected_var_power(cfg, 1, t) ** 2 - 1.0


def _cv2_sigma_cfg(cfg, t):
    """CV^2 of sigma_t (1-D replace loop): E sigma^2/(E sigma)^2 - 1
    (THEORY.md section 1: (a/c^2)^t - 1 for constant n)."""
    return replace_nd.expected_var_power(cfg, 1, t) / replace_nd.expected_var_power(cfg, 0.5, t) ** 2 - 1.0


expected_var = _dispatch("expected_var", replace1d.expected_var, moments.expected_var)
expected_mean_sq = _dispatch("expected_mean_sq", replace1d.expected_mean_sq, moments.expected_mean_sq)
expected_sigma = _dispatch("expected_sigma", replace1d.expected_sigma, replace_nd.expected_sigma)
expected_var_power = _dispatch("expected_var_power", replace1d.expected_var_power,
                               replace_nd.expected_var_power)
expected_log_var = _dispatch("expected_log_var", replace1d.expected_log_var, _log_var_cfg)
var_log_var = _dispatch("var_log_var", replace1d.var_log_var, _var_log_var_cfg)
expected_w2_sq = _dispatch("expected_w2_sq", replace1d.expected_w2_sq, replace_nd.expected_w2_sq)
expected_kl_model_truth = _dispatch("expected_kl_model_truth", replace1d.expected_kl_model_truth,
                                    replace_nd.expected_kl_model_truth)
expected_kl_truth_model = _dispatch("expected_kl_truth_model", replace1d.expected_kl_truth_model,
                                    replace_nd.expected_kl_truth_model)
cv2_var = _dispatch("cv2_var", replace1d.cv2_var, _cv2_var_cfg)
cv2_sigma = _dispatch("cv2_sigma", replace1d.cv2_sigma, _cv2_sigma_cfg)

__all__ = [
    "FixedPoint", "SIEGMUND_OVERSHOOT", "accumulate", "accumulate_limit", "accumulate_mle_var",
    "accumulate_moments", "augment_conditional_fixed_point_mle", "augment_fixed_point_mle",
    "augment_mean_sq_from_conditional", "bias", "collapse_time_wald", "cv2_sigma", "cv2_var",
    "det_factor", "dey_donoho_ratio", "expected_cov", "expected_det", "expected_kl_model_truth",
    "expected_kl_truth_model", "expected_log_var", "expected_logdet", "expected_mean",
    "expected_mean_cov", "expected_mean_sq", "expected_second_moment", "expected_sigma",
    "expected_trace", "expected_var", "expected_var_power", "expected_w2_sq", "fixed_point",
    "fresh_fixed_point", "fresh_fixed_point_mle", "hxc_optimal_mse", "hxc_stationary_mse",
    "invariant", "invariant_holds", "log_var_drift", "log_var_step_variance", "logdet_drift",
    "logdet_step_variance", "moments", "optimal_weight", "real_data", "replace1d", "replace_nd", "universal",
    "sigma_factor", "standardized", "synthetic_variance_factor", "truncation_acceptance",
    "truncation_factor", "var_factor", "var_log_var", "var_logdet",
    # 4d/6 categorical (by numbers)
    "CategoricalFixedPoint", "absorption_time", "categorical", "categorical_fresh_fixed_point",
    "expected_frequencies", "expected_mass", "expected_support_size", "expected_survivors",
    "fixation_probability", "fixation_time", "fresh_distance", "fresh_gini_simpson", "gini_simpson",
    "loss_time", "prob_one_left", "survival", "survival_feller", "survival_suresh",
    "time_to_one_left", "wf_transition",
    # 5b regression (by numbers; expected_test_error by config)
    "accumulate_test_error", "expected_noise_var", "expected_test_error", "regression",
    "replace_test_error",
]
