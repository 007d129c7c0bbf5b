"""The categorical closed forms of docs/theory/categorical.md
(madsim.theory / madsim.theory.categorical, by numbers): (a) every exact
number of the section-6 table and of the section-4d Monte Carlo lines, (b)
properties of the exact Wright-Fisher chain (fixation probabilities, the
diffusion gap, Suresh's bound, cross-checks between functions), (c) numpy
Monte Carlo of the replace, fresh and accumulate loops against the oracles,
(d) bad arguments.

Statistical tests follow tests/stats.py: fixed seeds, ALPHA = 1e-5 two-sided
per test, Bonferroni-split over its comparisons (each test's false-fail rate
at a fresh seed is <= 1e-5), and each Monte Carlo test checks that its
sample resolves the mistake it guards against (the generation-0 convention,
an off-by-one generation, a perturbed formula). The published Monte Carlo values (docs/theory/categorical.md)
values are checked within 3 of their stated errors (|z| < 3, 0.27% per line
if the error is one standard error); lines without a stated error use the
standard error of 10^5 replicas (the smallest run quoted there), noted per line.
The default run takes a few seconds on 2 cores; the large Monte Carlo of
the section-6 table is marked slow.
"""

import math

import numpy as np
import pytest
from scipy import stats as sst

from madsim import theory
from madsim.theory import categorical as cat
import stats

P_STAR = np.array([0.5, 0.2, 0.15, 0.1, 0.05])  # docs/theory/categorical.md's truth
U5 = np.full(5, 0.2)  # docs/theory/categorical.md: K = 5 equal


def assert_digits(x, expected: str, what: str):
    """x rounds to `expected` at the number of decimals written there."""
    decimals = len(expected.split(".")[1]) if "." in expected else 0
    tol = 0.5 * 10.0 ** (-decimals) * (1 + 1e-9)
    assert abs(float(x) - float(expected)) <= tol, f"{what}: {float(x)!r} does not round to {expected}"


def assert_mc_line(mc: float, exact: float, se: float, what: str):
    """A published Monte Carlo value against the exact one, |z| < 3."""
    assert abs(mc - exact) < 3 * se, f"{what}: published MC {mc} vs exact {exact:.6g} (se {se:.3g})"


# ================================================================ (a) the tables of docs/theory/categorical.md


def test_section6_table_diversity_and_survivors():
    assert_digits(theory.gini_simpson(100, 50, U5), "0.10610", "E[1-sum p^2], n=50, K=5, t=100")
    assert_digits(theory.gini_simpson(100, 50, U5), "0.106096", "section 9 row 17")
    assert theory.gini_simpson(100, 50, U5) == pytest.approx(0.8 * 0.98**100, rel=1e-14)
    assert_digits(theory.expected_survivors(100, 50, U5), "1.3128", "E #alive, n=50, K=5, t=100")
    both = theory.expected_survivors([10, 100], 100, np.full(100, 0.01))
    assert_digits(both[0], "16.139", "E #alive, 100 distinct, t=10")
    assert_digits(both[1], "2.304", "E #alive, 100 distinct, t=100")


def test_section6_table_survival_of_one_copy():
    t = [1, 10, 100, 200]
    exact = theory.survival(t, 100, 1)
    feller = theory.survival_feller(t, 1)
    for e, f, te, tf in zip(
        exact, feller, ["0.63397", "0.16139", "0.02304", "0.01401"], ["0.865", "0.181", "0.0198", "0.0100"]
    ):
        assert_digits(e, te, "n=100, c=1 exact")
        assert_digits(f, tf, "n=100, c=1 Feller")
    big = theory.survival([100, 1000], 1000, 1)
    assert_digits(big[0], "0.019687", "n=1000, c=1, t=100")
    assert_digits(big[1], "0.002362", "n=1000, c=1, t=1000")
    assert_digits(theory.survival_feller(100, 1), "0.01980", "Feller t=100")
    assert_digits(theory.survival_feller(1000, 1), "0.00200", "Feller t=1000")
    assert np.all(big >= theory.survival_suresh([100, 1000], 1)), "Suresh's lower bound"
    # t = 1 in closed form: the one copy is missed by all n draws w.p. (1-1/n)^n
    assert exact[0] == pytest.approx(1 - 0.99**100, rel=1e-13)


def test_section6_table_absorption_times():
    rows = [  # (n, p, function, exact, diffusion)
        (100, 0.5, theory.absorption_time, "136.602", "138.629"),
        (100, 0.01, theory.fixation_time, "196.742", "198.997"),
        (100, 0.1, theory.absorption_time, "63.454", "65.017"),
        (500, 0.5, theory.absorption_time, "690.585", "693.147"),
        (20, 0.5, theory.absorption_time, "26.229", "27.726"),
    ]
    for n, p, f, ex, dif in rows:
        assert_digits(f(n, p), ex, f"{f.__name__}(n={n}, p={p}) exact")
        assert_digits(f(n, p, method="diffusion"), dif, f"{f.__name__}(n={n}, p={p}) diffusion")
    assert theory.absorption_time(100, 0.5, "diffusion") == pytest.approx(200 * math.log(2), rel=1e-14)


def test_section6_table_monte_carlo_lines():
    # stated errors
    assert_mc_line(0.10628, theory.gini_simpson(100, 50, U5), 0.0004, "E[1-sum p^2]")
    both = theory.expected_survivors([10, 100], 100, np.full(100, 0.01))
    assert_mc_line(16.166, both[0], 0.02, "E #alive(10), 100 distinct")
    assert_mc_line(2.307, both[1], 0.01, "E #alive(100), 100 distinct")
    # no stated error: 10^5 replicas. #alive is in [1, 5]: sd <= 2.
    assert_mc_line(1.3130, theory.expected_survivors(100, 50, U5), 2 / math.sqrt(1e5), "E #alive, K=5")
    p1 = theory.prob_one_left(100, 50, U5)
    assert_mc_line(0.6967, p1, math.sqrt(p1 * (1 - p1) / 1e5), "P(single category), K=5")
    assert_digits(p1, "0.696966", "P(single category) exact")


def test_section4d_fresh_lines():
    g_star = 1 - np.sum(P_STAR**2)
    assert g_star == pytest.approx(0.675, rel=1e-14)
    # exact values, MC values within 3 se of 10^5 replicas; ||p_t-p*||^2 has
    # CV 0.83 at stationarity (measured), so se = 0.83 D/sqrt(1e5)
    d = theory.fresh_distance(100, 10, 10, P_STAR)
    assert_digits(d, "0.04355", "D_100, m=k=10")
    assert_mc_line(0.04356, d, 0.83 * d / math.sqrt(1e5), "MC D_100, m=k=10")
    d = theory.fresh_distance(100, 5, 40, P_STAR)
    assert_digits(d, "0.06532", "D_100, m=5, k=40")
    assert_mc_line(0.06522, d, 0.83 * d / math.sqrt(1e5), "MC D_100, m=5, k=40")
    fp = theory.categorical_fresh_fixed_point(5, 40, P_STAR)
    assert_digits(fp.gini_ratio, "0.90323", "G ratio m=5, k=40")
    assert fp.gini_ratio == pytest.approx(5 * 84 / 465, rel=1e-14)
    assert fp.distance == pytest.approx(0.675 * 45 / 465, rel=1e-14)
    assert theory.categorical_fresh_fixed_point(10, 10, P_STAR).distance == pytest.approx(
        0.675 * 20 / 310, rel=1e-14
    )
    # by t = 100 the loop is at its fixed point (r^100 = (1560/2025)^100 ~ 5e-12)
    assert d == pytest.approx(fp.distance, rel=1e-10)
    assert theory.fresh_gini_simpson(100, 5, 40, P_STAR) == pytest.approx(fp.gini_simpson, rel=1e-10)
    # "the same ratio as the Gaussian v*/sigma0^2"
    for m, k in [(5, 40), (10, 10), (1, 3)]:
        assert theory.categorical_fresh_fixed_point(m, k, P_STAR).gini_ratio == pytest.approx(
            theory.fresh_fixed_point_mle(m, k).var, rel=1e-14
        )


# ================================================================ (b) the exact chain


def test_fixation_probability_equals_p_in_the_exact_chain():
    for n in [1, 2, 20, 100, 500]:
        lattice = np.arange(n + 1) / n
        assert np.abs(theory.fixation_probability(lattice, n=n) - lattice).max() < 1e-12, n
        off = (np.arange(n) + 0.37) / n  # truth off the lattice: binomial first step
        assert np.abs(theory.fixation_probability(off, n=n) - off).max() < 1e-12, n
    assert theory.fixation_probability(0.3) == 0.3
    assert np.array_equal(theory.fixation_probability(U5), U5)


def test_wf_transition_is_the_binomial_chain():
    n = 30
    P = theory.wf_transition(n)
    assert P.shape == (n + 1, n + 1)
    np.testing.assert_allclose(P.sum(1), 1.0, rtol=0, atol=1e-14)
    np.testing.assert_allclose(P @ np.arange(n + 1), np.arange(n + 1), rtol=1e-13, atol=1e-13)  # martingale
    np.testing.assert_allclose(P, P[::-1, ::-1], rtol=1e-12, atol=1e-300)  # i <-> n-i
    assert P[7, 3] == pytest.approx(math.comb(30, 3) * (7 / 30) ** 3 * (23 / 30) ** 27, rel=1e-13)
    assert P[0, 0] == 1.0 and P[n, n] == 1.0
    P[0, 0] = 5.0  # a copy: the cached matrix is untouched
    assert theory.wf_transition(n)[0, 0] == 1.0
    # E[1 - sum p_t^2] from the marginal laws [P^t]_{c,.} equals the closed form
    counts = np.array([12, 9, 6, 2, 1])
    Pt = np.linalg.matrix_power(theory.wf_transition(n), 7)
    e_sq = sum(Pt[c] @ (np.arange(n + 1) / n) ** 2 for c in counts)
    assert 1 - e_sq == pytest.approx(theory.gini_simpson(7, n, counts / n), rel=1e-12)
    assert theory.survival(7, n, 2) == pytest.approx(1 - Pt[2, 0], rel=1e-12)


def test_diffusion_gap_is_a_few_generations():
    # docs/theory/categorical.md: exact values sit "about 1-2 generations" below the diffusion.
    # True up to n ~ 100; the gap grows like (ln n)/3 (2.56 at n = 500).
    gaps = [
        theory.absorption_time(n, 0.5, "diffusion") - theory.absorption_time(n, 0.5) for n in (20, 100, 500)
    ]
    assert 1.0 < gaps[0] < 2.0 and 1.0 < gaps[1] < 2.1 and 2.0 < gaps[2] < 3.0, gaps
    assert gaps[0] < gaps[1] < gaps[2]
    for n, p in [(100, 0.1), (50, 0.3), (200, 0.02)]:
        for f in (theory.absorption_time, theory.fixation_time):
            gap = f(n, p, "diffusion") - f(n, p)
            assert 0.5 < gap < 3.0, (f.__name__, n, p, gap)
    gap = theory.time_to_one_left(50, U5, "diffusion") - theory.time_to_one_left(50, U5)
    assert 1.0 < gap < 3.0, gap


def test_suresh_bound_holds_and_feller_is_close_in_its_range():
    # every row of the table (n = 1000 is checked in test_section6_table_survival_of_one_copy)
    t = [1, 10, 100, 200]
    assert np.all(theory.survival(t, 100, 1) >= theory.survival_suresh(t, 1))
    # every n <= 60, every initial count, t <= 3n (rounding slack 1e-12)
    for n in [1, 2, 3, 5, 10, 25, 60, 150]:
        t = np.arange(3 * n + 2)
        c = np.arange(1, n + 1)
        gap = theory.survival(t, n, c) - np.array([theory.survival_suresh(t, ci) for ci in c]).T  # [t, c]
        assert gap.min() > -1e-12, (n, np.unravel_index(np.argmin(gap), gap.shape))
    # Feller for 1 << t << n: within 1% at n = 1000, t = 100 (c = 1, 3)
    for c in (1, 3):
        assert theory.survival(100, 1000, c) == pytest.approx(theory.survival_feller(100, c), rel=0.01)
    assert theory.survival_feller(0, 2) == 1.0 and theory.survival_suresh(0, 2) == 1.0
    assert theory.survival_feller(5, 0) == 0.0


def test_survival_conventions_agree():
    n = 40
    t = np.array([0, 1, 2, 9, 40])
    for c in (0, 1, 7, 40):
        np.testing.assert_allclose(theory.survival(t, n, c), theory.survival(t, n, p=c / n), rtol=1e-13)
    # off the lattice: generation 1 is Binom(n, p), then the chain
    p = 0.123
    b = sst.binom.pmf(np.arange(n + 1), n, p)
    for s in (1, 2, 9, 40):
        ref = b @ np.array([theory.survival(s - 1, n, j) for j in range(n + 1)])
        assert theory.survival(s, n, p=p) == pytest.approx(ref, rel=1e-12)
    assert theory.survival(0, n, p=p) == 1.0 and theory.survival(0, n, p=0.0) == 0.0
    # arrays of counts / frequencies: shape t.shape + c.shape
    many = theory.survival(t, n, np.array([1, 7]))
    assert many.shape == (5, 2)
    np.testing.assert_array_equal(many[:, 1], theory.survival(t, n, 7))
    assert theory.survival(3, n, p=[0.1, p]).shape == (2,)
    assert theory.survival(3, n, p=[0.1, p])[1] == theory.survival(3, n, p=p)
    # expected_survivors = sum of per-token survivals; 2-D t keeps its shape
    p0 = np.array([0.4, 0.3, 0.123, 0.177])
    tt = np.array([[1, 3], [9, 0]])
    es = theory.expected_survivors(tt, n, p0)
    assert es.shape == (2, 2)
    ref = sum(theory.survival(tt, n, p=q) for q in p0)
    np.testing.assert_allclose(es, ref, rtol=1e-13)
    assert theory.expected_support_size is theory.expected_survivors
    # generation 0 is the truth: one left only if it has a single token
    assert theory.prob_one_left(0, n, [0.95, 0.05]) == 0.0
    assert theory.prob_one_left([0, 2], n, [1.0, 0.0, 0.0]).tolist() == [1.0, 1.0]
    assert theory.expected_survivors(0, n, [0.95, 0.05, 0.0]) == 2.0
    # one token: always alive, always alone
    assert theory.expected_survivors(5, n, [1.0]) == 1.0 and theory.prob_one_left(5, n, [1.0]) == 1.0


def test_zipf_truth_matches_the_full_binomial_sum():
    # many distinct, tiny probabilities (the banded first-generation sum)
    n, K = 200, 3000
    w = 1.0 / np.arange(1, K + 1) ** 1.1
    p0 = w / w.sum()
    b = sst.binom.pmf(np.arange(n + 1)[None, :], n, p0[:, None])  # [K, n+1], every count
    for s in (1, 4, 30):
        alive = theory.survival(s - 1, n, np.arange(n + 1))
        assert theory.expected_survivors(s, n, p0) == pytest.approx((b @ alive).sum(), rel=1e-12)
    h = np.arange(1, n + 1) / n
    g_fix = theory.fixation_time(n, h) * h  # E[T 1{fix}] from count j
    g_fix[-1] = 0.0  # count n: already alone
    ref = (b[:, 1:] @ (h + g_fix)).sum()  # generation 1, then the chain
    assert theory.time_to_one_left(n, p0) == pytest.approx(ref, rel=1e-12)


def test_absorption_time_identities():
    for n in (2, 17, 100):
        for p in (1 / n, 0.5, 0.3137, 1 - 1 / n):
            for method in ("exact", "diffusion"):
                total = theory.absorption_time(n, p, method)
                split = p * theory.fixation_time(n, p, method) + (1 - p) * theory.loss_time(n, p, method)
                assert split == pytest.approx(total, rel=1e-12), (n, p, method)
                # K = 2: time to one left = absorption time
                assert theory.time_to_one_left(n, [p, 1 - p], method) == pytest.approx(total, rel=1e-12)
    # Littler for equal frequencies: 2n (K-1) ln(K/(K-1))
    assert theory.time_to_one_left(50, U5, "diffusion") == pytest.approx(
        2 * 50 * 4 * math.log(5 / 4), rel=1e-14
    )
    # Kimura-Ohta limits: E[T | fix] -> 2n as p -> 0; E[T | loss] ~ 2 ln n at p = 1/n
    assert theory.fixation_time(100, 1e-9, "diffusion") == pytest.approx(200, rel=1e-8)
    assert theory.loss_time(1000, 1e-3, "diffusion") == pytest.approx(2 * math.log(1000), rel=2e-3)
    # boundaries and arrays
    assert theory.absorption_time(10, 0.0) == 0.0 and theory.absorption_time(10, 1.0, "diffusion") == 0.0
    assert theory.fixation_time(10, 1.0) == 0.0 and theory.loss_time(10, 0.0) == 0.0
    arr = theory.absorption_time(20, np.array([0.5, 0.25]))
    assert arr.shape == (2,) and arr[0] == pytest.approx(26.229485, abs=1e-6)
    # n = 1: one draw, absorbed after generation 1 unless already absorbed
    assert theory.absorption_time(1, 0.4) == 1.0
    # a lattice start read as a count equals the binomial mix of its row
    n, c = 30, 4
    tau = np.array([theory.absorption_time(n, j / n) for j in range(n + 1)])
    assert theory.absorption_time(n, c / n) == pytest.approx(1 + theory.wf_transition(n)[c] @ tau, rel=1e-12)


def test_fresh_recursion_and_limits():
    g_star = 1 - np.sum(P_STAR**2)
    for m, k in [(5, 40), (10, 10), (3, 1), (7, 0), (0, 12)]:
        N = m + k
        d = theory.fresh_distance(np.arange(30), m, k, P_STAR)
        assert d[0] == 0.0
        rec = d[:-1] * k * (k - 1) / N**2 + g_star / N
        np.testing.assert_allclose(d[1:], rec, rtol=1e-13, err_msg=f"m={m}, k={k}")
        np.testing.assert_allclose(
            theory.fresh_gini_simpson(np.arange(30), m, k, P_STAR), g_star - d, rtol=1e-13
        )
        if m > 0:
            fp = theory.categorical_fresh_fixed_point(m, k, P_STAR)
            assert fp.distance == pytest.approx(g_star * N / (m * (N + k) + k), rel=1e-14)
            assert fp.gini_simpson == pytest.approx(g_star - fp.distance, rel=1e-13)
            assert theory.fresh_distance(2000, m, k, P_STAR) == pytest.approx(fp.distance, rel=1e-12)
    # m = 0 is the replace loop with n = k (Wright-Fisher)
    t = np.arange(50)
    np.testing.assert_allclose(
        theory.fresh_gini_simpson(t, 0, 12, P_STAR), theory.gini_simpson(t, 12, P_STAR), rtol=1e-12
    )
    assert theory.categorical_fresh_fixed_point(0, 12, P_STAR).gini_ratio == 0.0


def test_martingale_oracles():
    p0 = np.array([0.6, 0.3, 0.07, 0.03])
    assert np.array_equal(theory.expected_frequencies(7, p0), p0)
    ef = theory.expected_frequencies([1, 2, 3], p0)
    assert ef.shape == (3, 4) and np.all(ef == p0)
    assert theory.expected_mass(5, p0, [2, 3]) == pytest.approx(0.1, rel=1e-14)
    m = theory.expected_mass(np.arange(4), p0, np.array([False, True, False, True]))
    assert m.shape == (4,) and np.allclose(m, 0.33, rtol=1e-14)
    assert theory.expected_mass(3, p0, []) == 0.0


# ================================================================ (c) Monte Carlo


def assert_frequency(hits, expected: float, what: str, alpha: float):
    """Exact binomial test of a frequency of events (valid for the tiny
    probabilities where the CLT z-test is not, e.g. one left at t = 1)."""
    hits = np.asarray(hits, dtype=bool)
    res = sst.binomtest(int(hits.sum()), hits.size, float(expected))
    assert res.pvalue > alpha, (
        f"{what}: {hits.mean():.6g} over {hits.size} vs expected {expected:.6g} "
        f"(binomial p = {res.pvalue:.3g} < {alpha:g})"
    )


def wf_run(rng, n, p0, t_max, reps):
    """Replace loop by numpy: counts [t_max+1, reps, K]; generation 0 is the
    truth (stored as n p0, possibly fractional), generation s+1 is n draws
    from generation s."""
    K = len(p0)
    out = np.empty((t_max + 1, reps, K))
    out[0] = n * np.asarray(p0)
    p = np.tile(np.asarray(p0, dtype=float), (reps, 1))
    for s in range(1, t_max + 1):
        c = rng.multinomial(n, p)
        out[s] = c
        p = c / n
    return out


def test_mc_replace_loop_off_lattice_truth():
    """Truth p0 not a multiple of 1/n: generation 1 is a multinomial draw from
    p0 (the kernel's convention). Per-token survival, E #alive, P(one left),
    E Gini-Simpson at t = 1, 3, 10, 30 against the exact chain; the rounded
    lattice start and the shifted generation are shown to be rejected."""
    n, reps = 20, 20000
    p0 = np.array([0.37, 0.33, 0.2, 0.07, 0.03])
    ts = np.array([1, 3, 10, 30])
    runs = wf_run(np.random.default_rng(20240806), n, p0, ts.max(), reps)[ts]  # [4, reps, K]
    alive = runs > 0
    one = (runs == n).any(-1)
    gs = 1 - ((runs / n) ** 2).sum(-1)
    comparisons = 4 * (len(p0) + 3)
    alpha = stats.ALPHA / comparisons
    for j, s in enumerate(ts):
        for i, q in enumerate(p0):
            assert_frequency(alive[j, :, i], theory.survival(int(s), n, p=q), f"alive token {i} t={s}", alpha)
        stats.assert_mean(alive[j].sum(-1), theory.expected_survivors(int(s), n, p0), f"#alive t={s}", alpha)
        assert_frequency(one[j], theory.prob_one_left(int(s), n, p0), f"one left t={s}", alpha)
        stats.assert_mean(gs[j], theory.gini_simpson(int(s), n, p0), f"Gini-Simpson t={s}", alpha)
    # power: the sample resolves the wrong conventions
    se = alive[0, :, 4].std(ddof=1) / math.sqrt(reps)
    rounded = theory.survival(1, n, int(round(n * p0[4])))  # count 1 at gen 0: 0.642 vs 0.456
    assert abs(rounded - theory.survival(1, n, p=p0[4])) > stats.detectable_shift(se, alpha)
    se = alive[2].sum(-1).std(ddof=1) / math.sqrt(reps)
    shifted = theory.expected_survivors(9, n, p0)  # one generation off
    assert abs(shifted - theory.expected_survivors(10, n, p0)) > stats.detectable_shift(se, alpha)


def absorption_run(rng, n, p0, reps, t_cap):
    """Times until one type is left, and which type, for the replace loop."""
    p = np.tile(np.asarray(p0, dtype=float), (reps, 1))
    T = np.where((p == 1.0).any(-1), 0, -1)
    winner = np.where(T == 0, p.argmax(-1), -1)
    for s in range(1, t_cap + 1):
        live = np.flatnonzero(T < 0)  # only the replicas not yet absorbed
        if live.size == 0:
            break
        c = rng.multinomial(n, p[live])
        p[live] = c / n
        done = (c == n).any(-1)
        T[live[done]] = s
        winner[live[done]] = c[done].argmax(-1)
    assert (T >= 0).all(), "raise t_cap"
    return T, winner


def test_mc_absorption_and_fixation_times():
    """Two types (n = 20, p = 1/2 on the lattice and p = 0.33 off it) and three
    types (time to one left): mean times overall, given fixation and given
    loss, and fixation frequencies, against the exact chain; the diffusion
    values are shown to be rejected."""
    n, reps = 20, 20000
    rng = np.random.default_rng(8)
    alpha = stats.ALPHA / 9
    for p in (0.5, 0.33):
        T, w = absorption_run(rng, n, [p, 1 - p], reps, 2000)
        fix = w == 0
        stats.assert_mean(T, theory.absorption_time(n, p), f"E T p={p}", alpha)
        stats.assert_mean(T[fix], theory.fixation_time(n, p), f"E[T|fix] p={p}", alpha)
        stats.assert_mean(T[~fix], theory.loss_time(n, p), f"E[T|loss] p={p}", alpha)
        assert_frequency(fix, p, f"P(fix) p={p}", alpha)
        se = T.std(ddof=1) / math.sqrt(reps)
        assert theory.absorption_time(n, p, "diffusion") - theory.absorption_time(
            n, p
        ) > stats.detectable_shift(se, alpha)
    p0 = [0.5, 0.3, 0.2]
    T, _ = absorption_run(rng, n, p0, reps, 2000)
    stats.assert_mean(T, theory.time_to_one_left(n, p0), "time to one left, K=3", alpha)


def test_mc_fresh_loop():
    """m = 5 real + k = 10 synthetic draws per generation from p* (4d): D_t,
    E Gini-Simpson and E p_t (martingale) at t = 1, 2, 5, 20; the literal
    recursion with k^2 in place of k(k-1) (no sampling-variance term) is
    shown to be rejected."""
    m, k, reps = 5, 10, 20000
    N = m + k
    ts = [1, 2, 5, 20]
    rng = np.random.default_rng(44)
    p = np.tile(P_STAR, (reps, 1))
    alpha = stats.ALPHA / (len(ts) * (2 + len(P_STAR)))
    for s in range(1, max(ts) + 1):
        p = (rng.multinomial(m, P_STAR, size=reps) + rng.multinomial(k, p)) / N
        if s in ts:
            d = ((p - P_STAR) ** 2).sum(-1)
            stats.assert_mean(d, theory.fresh_distance(s, m, k, P_STAR), f"D_{s}", alpha)
            stats.assert_mean(1 - (p**2).sum(-1), theory.fresh_gini_simpson(s, m, k, P_STAR), f"G_{s}", alpha)
            for i in range(len(P_STAR)):
                stats.assert_mean(p[:, i], theory.expected_frequencies(s, P_STAR)[i], f"E p_{s},{i}", alpha)
    # power at t = 20: D* with k^2/N^2 in place of k(k-1)/N^2 is G*/N / (1 - k^2/N^2)
    g_star = 1 - np.sum(P_STAR**2)
    wrong = g_star / N / (1 - k**2 / N**2)
    se = d.std(ddof=1) / math.sqrt(reps)
    assert abs(wrong - theory.fresh_distance(20, m, k, P_STAR)) > stats.detectable_shift(se, alpha)


def test_mc_accumulate_loop_martingale():
    """Accumulate (all draws kept, n new synthetic draws per generation from
    the pooled frequencies): E p_t = p0 and the mass of the two rarest tokens
    is p0's (expected_mass), t = 1..8."""
    n, reps, T = 10, 20000, 8
    p0 = np.array([0.55, 0.3, 0.1, 0.05])
    rng = np.random.default_rng(7)
    pool = np.zeros((reps, len(p0)))
    p = np.tile(p0, (reps, 1))
    alpha = stats.ALPHA / (T * 2)
    for s in range(1, T + 1):
        pool += rng.multinomial(n, p)
        p = pool / (s * n)
        stats.assert_mean(p[:, 0], theory.expected_frequencies(s, p0)[0], f"E p_{s},0", alpha)
        stats.assert_mean(p[:, 2:].sum(-1), theory.expected_mass(s, p0, [2, 3]), f"rare mass t={s}", alpha)


@pytest.mark.slow
def test_mc_section6_table_large():
    """docs/theory/categorical.md's n = 50, K = 5 equal, t = 100 row with 10^5
    replicas (about 10 s): E Gini-Simpson, E #alive, P(single category)."""
    n, reps = 50, 100_000
    runs = wf_run(np.random.default_rng(6), n, U5, 100, reps)[100]
    alpha = stats.ALPHA / 3
    stats.assert_mean(1 - ((runs / n) ** 2).sum(-1), theory.gini_simpson(100, n, U5), "Gini-Simpson", alpha)
    stats.assert_mean((runs > 0).sum(-1), theory.expected_survivors(100, n, U5), "#alive", alpha)
    assert_frequency((runs == n).any(-1), theory.prob_one_left(100, n, U5), "one left", alpha)


# ================================================================ (d) bad arguments


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda: theory.gini_simpson(1, 0, U5), ValueError, "n must be"),
        (lambda: theory.gini_simpson(1, 2.5, U5), TypeError, "n must be"),
        (lambda: theory.gini_simpson(1, True, U5), TypeError, "n must be"),
        (lambda: theory.gini_simpson(1, 10, [0.5, 0.4]), ValueError, "p0 must sum to 1"),
        (lambda: theory.gini_simpson(1, 10, [1.5, -0.5]), ValueError, "p0 must be >= 0"),
        (lambda: theory.gini_simpson(1, 10, []), ValueError, "p0 must have at least one"),
        (lambda: theory.gini_simpson(1, 10, [[0.5, 0.5]]), ValueError, "p0 must be a 1-D"),
        (lambda: theory.gini_simpson(1, 10, ["a", "b"]), TypeError, "p0 must be"),
        (lambda: theory.gini_simpson(1, 10, [np.nan, 1.0]), ValueError, "p0 must be finite"),
        (lambda: theory.gini_simpson(-1, 10, U5), ValueError, "t must be >= 0"),
        (lambda: theory.gini_simpson(1.5, 10, U5), TypeError, "t must be"),
        (lambda: theory.survival(1, 10, 11), ValueError, "c must be"),
        (lambda: theory.survival(1, 10, 1.0), TypeError, "c must be"),
        (lambda: theory.survival(1, 10, [1, -1]), ValueError, "c must be"),
        (lambda: theory.survival(1, 10), TypeError, "exactly one of c"),
        (lambda: theory.survival(1, 10, 1, p=0.1), TypeError, "exactly one of c"),
        (lambda: theory.survival(1, 10, p=1.2), ValueError, "p must be in"),
        (lambda: theory.survival(1, 10, p="x"), TypeError, "p must be"),
        (lambda: theory.survival(1, 10**5, 1), ValueError, "n must be <= 4000"),
        (lambda: theory.survival_feller(1, -1), ValueError, "c must be"),
        (lambda: theory.wf_transition(0), ValueError, "n must be"),
        (lambda: theory.absorption_time(10, 0.5, method="kimura"), ValueError, "method must be one of"),
        (lambda: theory.absorption_time(10, -0.1), ValueError, "p must be in"),
        (lambda: theory.absorption_time(10, "0.5"), TypeError, "p must be"),
        (lambda: theory.fixation_time(10, 0.0), ValueError, "p must be > 0"),
        (lambda: theory.loss_time(10, 1.0), ValueError, "p must be < 1"),
        (lambda: theory.fixation_probability(1.1), ValueError, "p0 must be in"),
        (lambda: theory.time_to_one_left(10, [0.7, 0.7]), ValueError, "p0 must sum to 1"),
        (lambda: theory.fresh_distance(1, 0, 0, P_STAR), ValueError, "m \\+ k must be >= 1"),
        (lambda: theory.fresh_distance(1, -1, 3, P_STAR), ValueError, "m must be"),
        (lambda: theory.fresh_distance(1, 1, 3.0, P_STAR), TypeError, "k must be"),
        (lambda: theory.categorical_fresh_fixed_point(1, 3, [0.2, 0.2]), ValueError, "p_star must sum to 1"),
        (lambda: theory.expected_mass(1, U5, [5]), ValueError, "subset indices"),
        (lambda: theory.expected_mass(1, U5, [1, 1]), ValueError, "distinct"),
        (lambda: theory.expected_mass(1, U5, [True, False]), ValueError, "subset as a mask"),
        (lambda: theory.expected_mass(1, U5, [0.5]), TypeError, "subset must be"),
    ],
)
def test_bad_arguments_raise_naming_the_argument(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_diffusion_needs_no_chain():
    # the diffusion formulas work beyond the exact chain's size limit
    n = 10**7
    assert theory.absorption_time(n, 0.5, "diffusion") == pytest.approx(2 * n * math.log(2), rel=1e-14)
    assert theory.gini_simpson(3, n, U5) == pytest.approx(0.8 * (1 - 1 / n) ** 3, rel=1e-14)
    with pytest.raises(ValueError, match="diffusion"):
        theory.absorption_time(n, 0.5)
