"""PAC-Bayes bounds: the kl inverse against closed forms and brute force, monotonicity, validity."""
import math

import numpy as np
import pytest

from tamer_lab.theory import pacbayes as pb
from tamer_lab.theory.pacbayes import (catoni_bound, certificate, kl_bernoulli, kl_inverse_lower, kl_inverse_upper,
                                       mcallester_bound, monte_carlo_risk_bound, pac_bayes_kl_bound)


def test_kl_bernoulli_closed_forms():
    assert kl_bernoulli(0.3, 0.3) == 0.0
    assert kl_bernoulli(0.0, 0.5) == pytest.approx(math.log(2))
    assert kl_bernoulli(1.0, 0.25) == pytest.approx(math.log(4))
    assert kl_bernoulli(0.5, 0.0) == math.inf


def test_kl_inverse_closed_form_at_zero_empirical_risk():
    # kl(0 || p) = -ln(1 - p), so the upper inverse of (0, c) is 1 - exp(-c)
    for c in (1e-3, 0.1, 1.0, 5.0):
        assert kl_inverse_upper(0.0, c) == pytest.approx(1 - math.exp(-c), abs=1e-9)


@pytest.mark.parametrize("q", [0.0, 0.05, 0.3, 0.7, 0.99])
@pytest.mark.parametrize("c", [1e-4, 0.01, 0.2, 2.0])
def test_kl_inverse_matches_brute_force(q, c):
    grid = np.linspace(0, 1, 200001)
    ok = [p for p in grid if p >= q and kl_bernoulli(q, p) <= c]
    assert kl_inverse_upper(q, c) == pytest.approx(max(ok), abs=1e-5)
    ok = [p for p in grid if p <= q and kl_bernoulli(q, p) <= c]
    assert kl_inverse_lower(q, c) == pytest.approx(min(ok), abs=1e-5)


def test_kl_bound_is_tighter_than_mcallester_and_monotone():
    for r in (0.0, 0.1, 0.3):
        for n in (100, 1000, 10000):
            kl = pac_bayes_kl_bound(r, 5.0, n, 0.05)
            assert r <= kl <= mcallester_bound(r, 5.0, n, 0.05) + 1e-12
    # decreasing in n, increasing as delta shrinks, increasing in KL
    bounds_n = [pac_bayes_kl_bound(0.1, 5.0, n, 0.05) for n in (100, 300, 1000, 3000)]
    assert all(a > b for a, b in zip(bounds_n, bounds_n[1:]))
    bounds_d = [pac_bayes_kl_bound(0.1, 5.0, 1000, d) for d in (0.5, 0.1, 0.01, 0.001)]
    assert all(a < b for a, b in zip(bounds_d, bounds_d[1:]))
    assert pac_bayes_kl_bound(0.1, 1.0, 1000, 0.05) < pac_bayes_kl_bound(0.1, 50.0, 1000, 0.05)
    for f in (mcallester_bound, catoni_bound):
        assert f(0.1, 5.0, 100, 0.05) > f(0.1, 5.0, 10000, 0.05)
        assert f(0.1, 5.0, 1000, 0.1) < f(0.1, 5.0, 1000, 0.001)


def test_monte_carlo_bound_covers_the_mean_at_the_stated_rate():
    rng = np.random.default_rng(0)
    p, m, delta = 0.2, 200, 0.1
    misses = sum(monte_carlo_risk_bound(rng.binomial(m, p) / m, m, delta) < p for _ in range(2000))
    assert misses / 2000 <= delta / 2 + 0.01  # one-sided, at most delta/2 (the bound uses ln(2/delta))


def test_certificate_combines_both_steps():
    cert = certificate(0.1, m=1000, kl=20.0, n=5000, delta=0.05, delta_mc=0.01)
    assert cert.empirical_risk_bound > 0.1
    assert cert.risk_bound == pytest.approx(pac_bayes_kl_bound(cert.empirical_risk_bound, 20.0, 5000, 0.05))
    assert cert.risk_bound < 1


@pytest.mark.parametrize("bad", [dict(empirical_risk=1.5), dict(kl=-1.0), dict(n=0), dict(delta=0.0),
                                 dict(delta=1.0)])
def test_bad_inputs_are_rejected(bad):
    args = dict(empirical_risk=0.1, kl=1.0, n=100, delta=0.05) | bad
    with pytest.raises(ValueError):
        pac_bayes_kl_bound(**args)


def test_occam_bound_grows_with_description_length():
    from tamer_lab.theory.pacbayes import occam_bound

    small, big = occam_bound(0.1, 1000, 8, 10000, 0.05), occam_bound(0.1, 100000, 8, 10000, 0.05)
    assert 0.1 < small < big
    assert occam_bound(0.1, 1000, 4, 10000, 0.05) < small
    assert small == pytest.approx(pac_bayes_kl_bound(0.1, 1000 * 8 * math.log(2), 10000, 0.05))


def test_kl_inverse_check_passes_and_fails_on_a_wrong_inverse(monkeypatch):
    from tamer_lab.theory import pacbayes
    from tamer_lab.theory.checks import run_check
    from tamer_lab.theory.rates import CheckFailed

    assert run_check("kl_inverse_closed_form", quick=True).passed
    monkeypatch.setattr(pacbayes, "kl_inverse_upper", lambda q, c, tol=1e-12: min(1.0, q + math.sqrt(c / 2)))  # Pinsker
    with pytest.raises(CheckFailed):
        pacbayes.check_kl_inverse(True)


def _head_data(n=400, d=5, seed=0):
    rng = np.random.default_rng(seed)
    u = rng.standard_normal((n, d))
    y = (u[:, 0] + 0.5 * rng.standard_normal(n) > 0).astype(int)
    W = np.zeros((2, d))
    W[1, 0], W[0, 0] = 1.0, -1.0
    return u, y, W, np.array([0.1, -0.1])


def test_gaussian_head_risk_matches_monte_carlo():
    u, y, W, b = _head_data()
    exact = pb.gaussian_head_risk(u, y, W, b, scale=0.7, sigma=0.3)
    rng = np.random.default_rng(1)
    draws = 4000
    errs = 0.0
    for _ in range(draws // 100):  # 100 heads at a time, each applied to every example
        Wd = 0.7 * W + 0.3 * rng.standard_normal((100, 2, u.shape[1]))
        bd = 0.7 * b + 0.3 * rng.standard_normal((100, 2))
        logits = np.einsum("nd,mkd->mnk", u, Wd) + bd[:, None, :]
        errs += (logits.argmax(-1) != y).mean(1).sum()
    mc = errs / draws
    assert mc == pytest.approx(exact, abs=0.01)


def test_gaussian_head_risk_limits_and_errors():
    u, y, W, b = _head_data()
    deterministic = float(((u @ W.T + b).argmax(1) != y).mean())
    assert pb.gaussian_head_risk(u, y, W, b, scale=1.0, sigma=1e-9) == pytest.approx(deterministic, abs=1e-9)
    assert pb.gaussian_head_risk(u, y, W, b, scale=0.0, sigma=1.0) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="binary"):
        pb.gaussian_head_risk(u, np.full(len(y), 2), W, b, scale=1.0, sigma=1.0)
    with pytest.raises(ValueError, match="weight"):
        pb.gaussian_head_risk(u, y, W[:, :2], b, scale=1.0, sigma=1.0)
    with pytest.raises(ValueError, match="sigma"):
        pb.gaussian_head_risk(u, y, W, b, scale=1.0, sigma=0.0)


def test_gaussian_head_certificate_is_a_valid_minimum_and_tightens_with_n():
    u, y, W, b = _head_data(n=2000)
    scales = [0.5, 1.0, 2.0, 4.0]
    cert = pb.gaussian_head_certificate(u, y, W, b, scales=scales, delta=0.05)
    assert cert.empirical_risk <= cert.bound < 1
    assert cert.scale in scales and cert.sigma == 1.0
    norm2 = (W ** 2).sum() + (b ** 2).sum()
    assert cert.kl == pytest.approx(cert.scale ** 2 * norm2 / 2)
    for c in scales:  # no other mean scale does better than the reported one
        r = pb.gaussian_head_risk(u, y, W, b, scale=c, sigma=1.0)
        assert pb.kl_inverse_upper(r, (c * c * norm2 / 2 + math.log(2 * math.sqrt(2000) / 0.05)) / 2000) >= cert.bound - 1e-12
    # only scale / sigma matters
    twice = pb.gaussian_head_certificate(u, y, W, b, scales=[2 * c for c in scales], sigma=2.0, delta=0.05)
    assert twice.bound == pytest.approx(cert.bound, rel=1e-9)
    small = pb.gaussian_head_certificate(u[:200], y[:200], W, b, scales=scales, delta=0.05)
    assert small.bound > cert.bound
    looser = pb.gaussian_head_certificate(u, y, W, b, scales=scales, delta=0.001)
    assert looser.bound > cert.bound
    with_body = pb.gaussian_head_certificate(u, y, W, b, scales=scales, extra_kl=1e6)
    assert with_body.bound > 0.99
    with pytest.raises(ValueError, match="at least one"):
        pb.gaussian_head_certificate(u, y, W, b, scales=[])


def test_occam_bound_monotone_in_n_delta_and_description_length():
    occam = pb.occam_bound
    assert occam(0.1, 1000, 4, 10_000, 0.05) > occam(0.1, 1000, 4, 100_000, 0.05)
    assert occam(0.1, 1000, 4, 10_000, 0.1) < occam(0.1, 1000, 4, 10_000, 0.001)
    assert occam(0.1, 1000, 2, 10_000, 0.05) < occam(0.1, 1000, 8, 10_000, 0.05)
    assert occam(0.1, 0, 8, 10_000, 0.05) == pytest.approx(pac_bayes_kl_bound(0.1, 0.0, 10_000, 0.05))
    with pytest.raises(ValueError, match="bits"):
        occam(0.1, 10, 0, 100, 0.05)
