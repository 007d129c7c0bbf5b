"""Parameter checks are written once, in Python: the public API (Config, the
family classes, Filter, TailWeight) refuses every value outside a
parameter's numerical domain before any kernel runs. The bindings
(csrc/bindings/*.cpp) and the twins' adapters keep only the checks memory
safety needs (tested against each other in each family's test file); each
row here is a check they used to repeat, with the public call that now
raises it (csrc/bindings/common.hpp says the rule)."""

from __future__ import annotations

import math
import re

import pytest

import madsim as ms

NAN, INF = math.nan, math.inf
FRESH = ms.Fresh(real=10, synthetic=10)

# the binding's removed check: (the public call that raises it, what its ValueError says)
CASES = {
    # categorical.cpp (make_categorical)
    "categorical tau > 0": (
        lambda: ms.Config(family=ms.Categorical(), temperature=0.0),
        "Config.temperature",
    ),
    "categorical top_p in (0, 1]": (lambda: ms.Config(family=ms.Categorical(), top_p=0.0), "Config.top_p"),
    "categorical top_p <= 1": (lambda: ms.Config(family=ms.Categorical(), top_p=1.5), "Config.top_p"),
    "categorical smoothing >= 0": (lambda: ms.Categorical(smoothing=-1.0), "Categorical.smoothing"),
    "categorical smoothing finite": (lambda: ms.Categorical(smoothing=INF), "Categorical.smoothing"),
    "categorical weight in [0, 1]": (
        lambda: ms.Config(family=ms.Categorical(), loop=FRESH, weight=1.5),
        "Config.weight",
    ),
    "categorical smoothing needs the pooled fit": (
        lambda: ms.Config(family=ms.Categorical(smoothing=1.0), loop=FRESH, weight=0.5),
        "smoothing applies to the pooled fit",
    ),
    "tpr in [0, 1] (every family's filter)": (lambda: ms.Filter(tpr=2.0), "Filter.tpr"),
    "fpr in [0, 1] (every family's filter)": (lambda: ms.Filter(fpr=-0.1), "Filter.fpr"),
    "categorical truth in [0, 1]": (
        lambda: ms.Categorical(probs=[1.5, -0.5]),
        "probs must be finite and >= 0",
    ),
    "categorical truth sums to 1": (lambda: ms.Categorical(probs=[0.5, 0.6]), "must sum to 1"),
    # bigram.cpp (make_bigram)
    "bigram path 0 does not exist": (
        lambda: ms.Config(family=ms.Bigram(), path="exact"),
        "Bigram needs path='samples'",
    ),
    "bigram tau > 0": (lambda: ms.Config(family=ms.Bigram(), temperature=-1.0), "Config.temperature"),
    "bigram top_p in (0, 1]": (lambda: ms.Config(family=ms.Bigram(), top_p=0.0), "Config.top_p"),
    "bigram smoothing >= 0": (lambda: ms.Bigram(smoothing=-1.0), "Bigram.smoothing"),
    "bigram truth rows in [0, 1]": (
        lambda: ms.Bigram(transition=[[1.5, -0.5], [0.5, 0.5]]),
        "Bigram.transition",
    ),
    "bigram truth rows sum to 1": (
        lambda: ms.Bigram(transition=[[0.5, 0.4], [0.5, 0.5]]),
        "Bigram.transition",
    ),
    "bigram start in [0, 1]": (lambda: ms.Bigram(tokens=2, start=[1.5, -0.5]), "Bigram.start"),
    "bigram start sums to 1": (lambda: ms.Bigram(tokens=2, start=[0.5, 0.6]), "Bigram.start"),
    # gaussian1d.cpp (Gaussian1DParams)
    "gaussian1d tau >= 0, finite": (lambda: ms.Config(temperature=NAN), "Config.temperature"),
    "gaussian1d mu0 finite": (lambda: ms.Gaussian(mean=INF), "Gaussian.mean"),
    "gaussian1d var0 > 0": (lambda: ms.Gaussian(var=0.0), "Gaussian.var"),
    "gaussian1d var0 finite": (lambda: ms.Gaussian(var=INF), "Gaussian.var"),
    # gaussian_loop.cpp (make_gaussian_loop)
    "gaussian_loop tau > 0": (
        lambda: ms.Config(family=ms.Gaussian(dim=2), temperature=0.0),
        "Config.temperature",
    ),
    "gaussian_loop trunc >= 0": (lambda: ms.Config(truncation=-1.0, path="samples"), "Config.truncation"),
    "gaussian_loop trunc needs the samples path": (
        lambda: ms.Config(truncation=2.0, path="exact"),
        "Config.truncation needs path='samples'",
    ),
    "gaussian_loop weight in [0, 1]": (lambda: ms.Config(loop=FRESH, weight=-0.5), "Config.weight"),
    "gaussian_loop reweight_beta >= 0": (lambda: ms.TailWeight(beta=-1.0), "TailWeight.beta"),
    "gaussian_loop reweight_k >= 0": (lambda: ms.TailWeight(k=-1.0), "TailWeight.k"),
    "gaussian_loop reweight needs the samples path": (
        lambda: ms.Config(reweight=ms.TailWeight(), path="exact"),
        "Config.reweight needs path",
    ),
    "gaussian_loop correction in [0, 1]": (lambda: ms.Config(correction=1.5), "Config.correction"),
    "gaussian_loop reweight not with subsample": (
        lambda: ms.Config(
            loop=ms.AccumulateSubsample(real=5, synthetic=5, n=10), reweight=ms.TailWeight(), path="samples"
        ),
        "AccumulateSubsample",
    ),
    "gaussian_loop correction not with subsample": (
        lambda: ms.Config(
            loop=ms.AccumulateSubsample(real=5, synthetic=5, n=10), correction=0.5, path="samples"
        ),
        "AccumulateSubsample",
    ),
    "gaussian_loop correction not with factors (PPCA)": (
        lambda: ms.Config(family=ms.PPCA(dim=3, factors=1), correction=0.5),
        "Config.correction applies to",
    ),
    "gaussian_loop truth finite": (lambda: ms.Gaussian(dim=2, mean=[NAN, 0.0]), "Gaussian.mean"),
    "gaussian_loop Cholesky diagonal > 0": (
        lambda: ms.Gaussian(dim=2, cov=[[1.0, 0.0], [0.0, -1.0]]),
        "positive definite",
    ),
    "ppca basis orthonormal (from full-rank loadings)": (
        lambda: ms.PPCA(dim=3, factors=2, loadings=[[1.0, 2.0], [1.0, 2.0], [1.0, 2.0]]),
        "PPCA.loadings",
    ),
    # gmm.cpp (make_gmm)
    "gmm em_iters >= 1": (lambda: ms.GaussianMixture(em_iters=0), "GaussianMixture.em_iters"),
    "gmm em_tol >= 0": (lambda: ms.GaussianMixture(em_tol=-1.0), "GaussianMixture.em_tol"),
    "gmm cov_floor > 0": (lambda: ms.GaussianMixture(cov_floor=0.0), "GaussianMixture.cov_floor"),
    "gmm tau > 0": (lambda: ms.Config(family=ms.GaussianMixture(), temperature=0.0), "Config.temperature"),
    "gmm truth finite": (lambda: ms.GaussianMixture(means=((NAN,), (2.0,))), "GaussianMixture.means"),
    "gmm weights in [0, 1]": (lambda: ms.GaussianMixture(weights=(1.5, -0.5)), "GaussianMixture.weights"),
    "gmm weights sum to 1": (lambda: ms.GaussianMixture(weights=(0.5, 0.6)), "GaussianMixture.weights"),
    "gmm Cholesky pivot^2 >= cov_floor": (
        lambda: ms.GaussianMixture(covs=(((1e-4,),), ((1.0,),)), cov_floor=1e-2),
        "cov_floor",
    ),
    # kde.cpp (make_kde)
    "kde h > 0": (lambda: ms.KDE(bandwidth=0.0), "KDE.bandwidth"),
    "kde h finite": (lambda: ms.KDE(bandwidth=INF), "KDE.bandwidth"),
    "kde truth finite": (lambda: ms.KDE(mean=NAN), "KDE.mean"),
    "kde Cholesky diagonal > 0": (lambda: ms.KDE(var=0.0), "KDE.var"),
    # logistic.cpp (make_logistic)
    "logistic max_iter >= 1": (lambda: ms.Logistic(max_iter=0), "Logistic.max_iter"),
    "logistic ridge >= 0": (lambda: ms.Logistic(ridge=-1.0), "Logistic.ridge"),
    "logistic ridge finite": (lambda: ms.Logistic(ridge=INF), "Logistic.ridge"),
    "logistic tol > 0": (lambda: ms.Logistic(tol=0.0), "Logistic.tol"),
    "logistic fixed design: the same counts every generation": (
        lambda: ms.Config(family=ms.Logistic(design="fixed"), loop=ms.Replace(n=(20, 30))),
        "must be a constant integer",
    ),
    "logistic truth finite": (lambda: ms.Logistic(weights=(NAN, 1.0)), "Logistic.weights"),
    "logistic Cholesky diagonal > 0": (
        lambda: ms.Logistic(cov=((1.0, 0.0), (0.0, -1.0))),
        "positive definite",
    ),
    # poisson.cpp (make_poisson)
    "poisson rate0 >= 0": (lambda: ms.Poisson(rate=-1.0), "Poisson.rate"),
    "poisson rate0 finite": (lambda: ms.Poisson(rate=INF), "Poisson.rate"),
    "poisson rate normal": (lambda: ms.Poisson(rate=1e-310), "Poisson.rate must be 0 or at least"),
    # regression.cpp (make_regression)
    "regression weight in [0, 1]": (
        lambda: ms.Config(family=ms.Regression(), loop=FRESH, weight=2.0),
        "Config.weight",
    ),
    "regression weight needs augment or fresh": (
        lambda: ms.Config(family=ms.Regression(), weight=0.5),
        "Config.weight needs a loop with a real and a synthetic part",
    ),
    "regression ridge >= 0": (lambda: ms.Regression(ridge=-1.0), "Regression.ridge"),
    "regression fixed design takes no filter": (
        lambda: ms.Config(family=ms.Regression(design="fixed"), filter=ms.Filter(tpr=0.1)),
        "Config.filter needs Regression.design='fresh'",
    ),
    "regression fixed design: the same counts every generation": (
        lambda: ms.Config(family=ms.Regression(design="fixed"), loop=ms.Replace(n=(20, 30))),
        "must be a constant integer",
    ),
    "regression truth finite": (lambda: ms.Regression(dim=2, weights=(NAN, 1.0)), "Regression.weights"),
    "regression Cholesky diagonal > 0": (
        lambda: ms.Regression(dim=2, cov=((1.0, 0.0), (0.0, -1.0))),
        "positive definite",
    ),
    "regression noise variance > 0": (lambda: ms.Regression(noise=0.0), "Regression.noise"),
    # rng.cpp (the samplers behind madsim.rng)
    "rng gamma alpha > 0": (lambda: ms.rng.gamma(0.0, 1, [0]), "alpha must be"),
    "rng gamma alpha finite": (lambda: ms.rng.gamma(INF, 1, [0]), "alpha must be"),
    "rng binomial p in [0, 1]": (lambda: ms.rng.binomial(10, 1.5, 1, [0]), "p must be"),
}


@pytest.mark.parametrize("check", list(CASES))
def test_the_public_api_raises_each_check_the_bindings_trust(check):
    call, says = CASES[check]
    with pytest.raises(ValueError, match=re.escape(says)):
        call()
