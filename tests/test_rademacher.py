"""Rademacher complexity of linear classes: Monte Carlo vs exact enumeration vs closed form, the
margin bound (single and union over a grid), and the adversarial Rademacher complexity with its
two-sided bound and the registered checks of notebook 10 (each must fail on a wrong prediction)."""
import dataclasses
import itertools
import math

import numpy as np
import pytest
import torch

from tamer_lab.theory import adversarial_rademacher as adv_checks
from tamer_lab.theory.rademacher import (
    AdversarialBounds,
    MarginBound,
    adversarial_inner_sup,
    adversarial_rademacher_bounds,
    empirical_adversarial_rademacher_linear,
    empirical_adversarial_rademacher_linear_exact,
    empirical_rademacher_linear,
    empirical_rademacher_linear_exact,
    margin_bound_linear,
    margin_bound_linear_union,
    rademacher_linear_l2_bound,
    rademacher_mean_abs,
    ramp_loss,
)
from tamer_lab.theory.rates import CheckFailed


def _brute_force(X, B, q):
    """E_σ B·‖(1/n) Σ σ_i x_i‖_q over all 2^n sign vectors, written as plainly as possible."""
    n = X.shape[0]
    total = 0.0
    for k in range(2**n):
        sigma = np.array([1.0 if (k >> i) & 1 else -1.0 for i in range(n)])
        total += B * np.linalg.norm(sigma @ X / n, ord=q)
    return total / 2**n


def test_single_point_is_exact():
    x = np.array([[3.0, 4.0]])
    est, se = empirical_rademacher_linear(x, 2.0, n_samples=50)
    assert est == pytest.approx(10.0) and se == pytest.approx(0.0, abs=1e-12)
    assert empirical_rademacher_linear_exact(x, 2.0) == pytest.approx(10.0)
    assert rademacher_linear_l2_bound(x, 2.0) == pytest.approx(10.0)
    # ℓ∞ ball: dual ℓ1 norm
    assert empirical_rademacher_linear(x, 2.0, n_samples=50, p="inf")[0] == pytest.approx(14.0)


def test_orthogonal_points_meet_the_closed_form():
    X = np.diag([1.0, 2.0, 3.0, 0.5])
    expected = 1.5 * math.sqrt(1 + 4 + 9 + 0.25) / 4
    assert rademacher_linear_l2_bound(X, 1.5) == pytest.approx(expected)
    assert empirical_rademacher_linear_exact(X, 1.5) == pytest.approx(expected)
    est, se = empirical_rademacher_linear(X, 1.5, n_samples=100)
    assert est == pytest.approx(expected) and se < 1e-12


@pytest.mark.parametrize("n, d, p, q", [(3, 2, 2, 2), (7, 3, 2, 2), (10, 4, 2, 2), (8, 5, "inf", 1), (6, 3, 1, np.inf)])
def test_monte_carlo_matches_enumeration(n, d, p, q):
    X = np.random.default_rng(n).standard_normal((n, d))
    exact = _brute_force(X, 0.7, q)
    assert empirical_rademacher_linear_exact(X, 0.7, p=p) == pytest.approx(exact, rel=1e-10)
    est, se = empirical_rademacher_linear(X, 0.7, n_samples=4000, seed=1, p=p)
    assert abs(est - exact) < 4 * se + 1e-12
    if p == 2:
        assert rademacher_linear_l2_bound(X, 0.7) >= exact - 1e-12


def test_bound_dominates_estimate_and_scales():
    X = torch.randn(200, 20, generator=torch.Generator().manual_seed(0))
    est, _se = empirical_rademacher_linear(X, 1.0, n_samples=500)
    bound = rademacher_linear_l2_bound(X, 1.0)
    assert est <= bound
    assert est > 0.9 * bound  # nearly tight for isotropic high-dimensional data
    assert empirical_rademacher_linear(X, 3.0, n_samples=500)[0] == pytest.approx(3 * est)
    assert empirical_rademacher_linear(X, 1.0, n_samples=500, seed=5) == empirical_rademacher_linear(X, 1.0, n_samples=500, seed=5)


def test_rademacher_validation():
    with pytest.raises(ValueError, match="shape"):
        empirical_rademacher_linear(np.ones(3), 1.0)
    with pytest.raises(ValueError, match="norm_bound"):
        rademacher_linear_l2_bound(np.ones((3, 2)), -1.0)
    with pytest.raises(ValueError, match="p must be"):
        empirical_rademacher_linear(np.ones((3, 2)), 1.0, p=3)
    with pytest.raises(ValueError, match="p must be"):
        empirical_rademacher_linear(np.ones((3, 2)), 1.0, p="two")
    with pytest.raises(ValueError, match="n <= 20"):
        empirical_rademacher_linear_exact(np.ones((21, 2)), 1.0)


def test_ramp_loss():
    np.testing.assert_allclose(ramp_loss([-1.0, 0.0, 0.25, 0.5, 2.0], 0.5), [1.0, 1.0, 0.5, 0.0, 0.0])


def _sample(n, rng, shift=2.0):
    """Two Gaussian classes at ±shift along e_1 in 2-D, labels ±1."""
    y = rng.choice([-1.0, 1.0], size=n)
    X = rng.standard_normal((n, 2)) + np.outer(y, [shift, 0.0])
    return X, y


def test_margin_bound_terms():
    rng = np.random.default_rng(0)
    X, y = _sample(500, rng)
    w = np.array([0.6, 0.8])
    b = margin_bound_linear(y * (X @ w), X, 1.0, gamma=1.0, delta=0.1)
    assert isinstance(b, MarginBound) and b.n == 500 and b.grid_size == 1
    assert b.empirical_ramp_loss == pytest.approx(ramp_loss(y * (X @ w), 1.0).mean())
    assert b.rademacher_term == pytest.approx(2 * rademacher_linear_l2_bound(X, 1.0) / 1.0)
    assert b.confidence_term == pytest.approx(3 * math.sqrt(math.log(2 / 0.1) / 1000))
    assert b.bound == pytest.approx(b.empirical_ramp_loss + b.rademacher_term + b.confidence_term)
    assert b.clipped == min(b.bound, 1.0)


def test_margin_bound_monotone_in_n_and_delta():
    rng = np.random.default_rng(1)
    X, y = _sample(100, rng)
    w = np.array([1.0, 0.0])
    bounds = [
        margin_bound_linear(np.tile(y * (X @ w), k), np.tile(X, (k, 1)), 1.0, gamma=1.0).bound for k in (1, 2, 4, 8)
    ]
    assert all(a > b for a, b in itertools.pairwise(bounds))
    by_delta = [margin_bound_linear(y * (X @ w), X, 1.0, gamma=1.0, delta=d).bound for d in (0.5, 0.1, 0.01, 0.001)]
    assert all(a < b for a, b in itertools.pairwise(by_delta))


def test_margin_bound_rejects_margins_too_large_for_the_norm():
    X = np.array([[1.0, 0.0], [0.0, 1.0]])
    with pytest.raises(ValueError, match=r"train_margins\[0\].*norm_bound"):
        margin_bound_linear([2.0, 0.5], X, 1.0, gamma=0.5)
    with pytest.raises(ValueError, match="one margin"):
        margin_bound_linear([0.5], X, 1.0, gamma=0.5)
    with pytest.raises(ValueError, match="delta"):
        margin_bound_linear([0.5, 0.5], X, 1.0, gamma=0.5, delta=1.5)


def test_union_bound_pays_for_the_grid():
    rng = np.random.default_rng(2)
    X, y = _sample(400, rng)
    w = np.array([2.0, 0.5])
    margins = y * (X @ w)
    norm = float(np.linalg.norm(w))
    gammas, norm_bounds = [0.5, 1.0, 2.0, 4.0], [1.0, norm, 4.0]
    u = margin_bound_linear_union(margins, X, norm, gammas=gammas, norm_bounds=norm_bounds, delta=0.05)
    assert u.grid_size == 12 and u.delta == 0.05
    assert u.gamma in gammas and u.norm_bound in norm_bounds
    # it is the single bound of the chosen (γ, B) at δ/K, applied to w rescaled into the B-ball
    scale = min(1.0, u.norm_bound / norm)
    single = margin_bound_linear(margins * scale, X, u.norm_bound, gamma=u.gamma, delta=0.05 / 12)
    assert u.bound == pytest.approx(single.bound)
    # and it costs more than pretending (γ, B) were fixed in advance
    assert u.bound > margin_bound_linear(margins * scale, X, u.norm_bound, gamma=u.gamma, delta=0.05).bound
    # and it is the smallest over the grid
    for B in norm_bounds:
        for g in gammas:
            s = min(1.0, B / norm)
            assert u.bound <= margin_bound_linear(margins * s, X, B, gamma=g, delta=0.05 / 12).bound + 1e-12


def test_union_bound_holds_on_fresh_data():
    # Well-separated classes, a large sample: the bound is non-vacuous and above the true test error.
    rng = np.random.default_rng(3)
    for _ in range(3):
        X, y = _sample(20000, rng, shift=3.0)
        w = (X * y[:, None]).mean(axis=0)  # mean-difference classifier, chosen from the data
        w_norm = float(np.linalg.norm(w))
        u = margin_bound_linear_union(
            y * (X @ w), X, w_norm, gammas=np.geomspace(0.25, 8, 6), norm_bounds=[1.0], delta=0.05
        )
        X_test, y_test = _sample(100000, rng, shift=3.0)
        test_error = float(np.mean(y_test * (X_test @ w) <= 0))
        assert test_error <= u.bound < 1.0


def test_union_validation():
    X = np.eye(2)
    with pytest.raises(ValueError, match="gammas"):
        margin_bound_linear_union([0.5, 0.5], X, 1.0, gammas=[], norm_bounds=[1.0])
    with pytest.raises(ValueError, match="weight_norm"):
        margin_bound_linear_union([2.0, 0.5], X, 1.0, gammas=[1.0], norm_bounds=[1.0])


# --- adversarial Rademacher complexity of linear classes -------------------------------------------

def _ball_grid(p, W, k=601):
    """A dense grid of the 2-D ℓp ball of radius W (p in {1, 2, inf}), boundary included."""
    if p == 2:
        theta = np.linspace(0, 2 * np.pi, 4 * k)
        r = np.linspace(0, W, k // 2)
        return (r[:, None, None] * np.stack([np.cos(theta), np.sin(theta)], -1)[None]).reshape(-1, 2)
    g = np.linspace(-W, W, k)
    w = np.stack(np.meshgrid(g, g), -1).reshape(-1, 2)
    return w if p == "inf" else w[np.abs(w).sum(1) <= W + 1e-12]


@pytest.mark.parametrize("attack, p", [("linf", 2), ("linf", "inf"), ("linf", 1), ("l2", 2)])
def test_inner_sup_matches_a_search_over_w(attack, p):
    rng = np.random.default_rng(7)
    W = 1.3
    w = _ball_grid(p, W)
    penalty = np.abs(w).sum(1) if attack == "linf" else np.linalg.norm(w, axis=1)
    for s in (-0.7, -0.1, 0.0, 0.2, 0.9):  # both signs of s
        u, eps = rng.standard_normal(2), rng.uniform(0.1, 2.0)
        searched = float((w @ u - eps * s * penalty).max())
        exact = float(adversarial_inner_sup(u, s, W, eps, attack=attack, p=p))
        assert exact >= searched - 1e-12  # the closed form is an upper bound on every w in the ball ...
        assert exact == pytest.approx(searched, abs=2e-3 * (1 + abs(exact)))  # ... and is attained


def test_inner_sup_by_hand():
    u = np.array([0.3, -0.1])
    # s > 0: soft thresholding of |u| at eps*s = 0.2 -> (0.1, 0); s < 0: |u| + 0.2 = (0.5, 0.3)
    assert adversarial_inner_sup(u, 0.2, 2.0, 1.0) == pytest.approx(0.2)
    assert adversarial_inner_sup(u, -0.2, 2.0, 1.0) == pytest.approx(2.0 * math.sqrt(0.34))
    assert adversarial_inner_sup(u, -0.2, 2.0, 1.0, p="inf") == pytest.approx(2.0 * 0.8)  # q = 1
    assert adversarial_inner_sup(u, -0.2, 2.0, 1.0, p=1) == pytest.approx(2.0 * 0.5)  # q = inf
    # l2 attack: W (‖u‖ − eps s)_+
    assert adversarial_inner_sup(u, 0.1, 2.0, 1.0, attack="l2") == pytest.approx(2.0 * (math.sqrt(0.1) - 0.1))
    assert adversarial_inner_sup(u, 0.5, 2.0, 1.0, attack="l2") == 0.0
    # vectorised over leading axes
    out = adversarial_inner_sup(np.stack([u, u]), np.array([0.2, -0.2]), 2.0, 1.0)
    np.testing.assert_allclose(out, [0.2, 2.0 * math.sqrt(0.34)])


def _plain_adversarial(X, y, W, eps, attack):
    """E_σ of the inner sup with ℓ2-bounded weights over all 2^n sign vectors, written plainly."""
    n = X.shape[0]
    total = 0.0
    for k in range(2**n):
        sigma = np.array([1.0 if (k >> i) & 1 else -1.0 for i in range(n)])
        u = (sigma * y) @ X / n
        s = sigma.mean()
        if attack == "linf":
            total += W * np.linalg.norm(np.maximum(np.abs(u) - eps * s, 0.0))
        else:
            total += W * max(np.linalg.norm(u) - eps * s, 0.0)
    return total / 2**n


@pytest.mark.parametrize("attack", ["linf", "l2"])
def test_exact_enumeration_and_monte_carlo(attack):
    rng = np.random.default_rng(3)
    X, y = rng.standard_normal((9, 4)), rng.choice([-1.0, 1.0], size=9)
    exact = empirical_adversarial_rademacher_linear_exact(X, y, 0.8, 0.4, attack=attack)
    assert exact.adversarial == pytest.approx(_plain_adversarial(X, y, 0.8, 0.4, attack), rel=1e-10)
    assert exact.standard == pytest.approx(empirical_rademacher_linear_exact(X, 0.8), rel=1e-10)
    assert exact.gap == pytest.approx(exact.adversarial - exact.standard) and exact.n_samples == 2**9
    mc = empirical_adversarial_rademacher_linear(X, y, 0.8, 0.4, attack=attack, n_samples=6000, seed=2)
    assert abs(mc.adversarial - exact.adversarial) < 4 * mc.adversarial_se
    assert abs(mc.gap - exact.gap) < 4 * mc.gap_se + 1e-12
    assert mc.gap_se < mc.adversarial_se  # pairing the two estimates pays off
    again = empirical_adversarial_rademacher_linear(X, y, 0.8, 0.4, attack=attack, n_samples=6000, seed=2)
    assert again == mc


def test_zero_attack_gives_the_standard_complexity():
    rng = np.random.default_rng(4)
    X, y = rng.standard_normal((7, 3)), rng.choice([-1.0, 1.0], size=7)
    for p in (2, "inf", 1):
        r = empirical_adversarial_rademacher_linear_exact(X, y, 1.5, 0.0, p=p)
        assert r.gap == 0.0
        assert r.adversarial == pytest.approx(empirical_rademacher_linear_exact(X, 1.5, p=p), rel=1e-10)


@pytest.mark.parametrize("attack, p", [("linf", 2), ("linf", "inf"), ("linf", 1), ("l2", 2)])
def test_two_sided_bound_holds_exactly_on_enumeration(attack, p):
    rng = np.random.default_rng(5)
    for trial in range(6):
        n, d = int(rng.integers(2, 11)), int(rng.integers(1, 30))
        X = rng.standard_normal((n, d)) * rng.uniform(0.1, 3.0)
        y = rng.choice([-1.0, 1.0], size=n)
        for eps in (0.0, 0.05, 0.5, 3.0):
            r = empirical_adversarial_rademacher_linear_exact(X, y, 0.7, eps, attack=attack, p=p)
            b = adversarial_rademacher_bounds(r.standard, n, d, 0.7, eps, attack=attack, p=p)
            assert b.lower - 1e-12 <= r.adversarial <= b.upper + 1e-12
            assert b.lower_yin <= b.lower + 1e-15 and b.upper <= b.upper_yin + 1e-15


def test_bounds_are_tight_in_their_corners():
    # one point, s = ±1: R(F~) = (W/2)(‖(|x| − eps)_+‖ + ‖|x| + eps‖), between the bounds
    x = np.array([[0.5, 0.0, 2.0]])
    r = empirical_adversarial_rademacher_linear_exact(x, [1.0], 1.0, 0.25)
    expected = 0.5 * (math.hypot(0.25, 1.75) + np.linalg.norm([0.75, 0.25, 2.25]))
    assert r.adversarial == pytest.approx(expected)
    b = adversarial_rademacher_bounds(r.standard, 1, 3, 1.0, 0.25)
    assert b.kappa == pytest.approx(math.sqrt(3)) and b.penalty == pytest.approx(0.25 * math.sqrt(3) / 2)
    assert b.lower <= r.adversarial <= b.upper
    # data at zero: R(F) = 0 and R(F~) equals the penalty exactly (lower bound attained)
    zeros = np.zeros((6, 5))
    r0 = empirical_adversarial_rademacher_linear_exact(zeros, np.ones(6), 2.0, 0.3)
    b0 = adversarial_rademacher_bounds(0.0, 6, 5, 2.0, 0.3)
    assert r0.standard == 0.0 and r0.adversarial == pytest.approx(b0.penalty) == pytest.approx(b0.upper)


def test_bound_constants():
    b = adversarial_rademacher_bounds(0.1, 50, 400, 2.0, 0.01, attack="linf", p=2)
    assert b.kappa == pytest.approx(20.0)
    assert b.penalty == pytest.approx(0.01 * 2.0 * 20.0 * rademacher_mean_abs(50) / 2)
    assert b.upper_yin == pytest.approx(0.1 + 0.01 * 2.0 * 20.0 / (2 * math.sqrt(50)))
    assert b.lower_yin == pytest.approx(max(0.1, 0.01 * 2.0 * 20.0 / (2 * math.sqrt(100))))
    assert adversarial_rademacher_bounds(0.1, 50, 400, 2.0, 0.01, p="inf").kappa == pytest.approx(400.0)
    assert adversarial_rademacher_bounds(0.1, 50, 400, 2.0, 0.01, p=1).kappa == pytest.approx(1.0)
    assert adversarial_rademacher_bounds(0.1, 50, 400, 2.0, 0.01, attack="l2").kappa == 1.0
    assert isinstance(b, AdversarialBounds)
    # the penalty shrinks like n^(-1/2) and vanishes with eps
    pens = [adversarial_rademacher_bounds(0.0, n, 10, 1.0, 0.1).penalty for n in (10, 40, 160, 640)]
    assert all(a > c for a, c in itertools.pairwise(pens))
    assert adversarial_rademacher_bounds(0.3, 10, 10, 1.0, 0.0).upper == 0.3


def test_rademacher_mean_abs():
    for n in range(1, 11):
        plain = sum(abs(sum(s)) for s in itertools.product([-1, 1], repeat=n)) / 2**n / n
        assert rademacher_mean_abs(n) == pytest.approx(plain, rel=1e-12)
        assert 1 / math.sqrt(2 * n) - 1e-12 <= rademacher_mean_abs(n) <= 1 / math.sqrt(n) + 1e-12
    assert rademacher_mean_abs(2) == pytest.approx(1 / 2)  # Szarek's constant is attained at n = 2
    assert rademacher_mean_abs(10**6) * 1e3 == pytest.approx(math.sqrt(2 / math.pi), rel=1e-5)


def test_adversarial_validation():
    X, y = np.ones((3, 2)), np.ones(3)
    with pytest.raises(ValueError, match="eps"):
        empirical_adversarial_rademacher_linear(X, y, 1.0, -0.1)
    with pytest.raises(ValueError, match="eps"):
        adversarial_rademacher_bounds(0.1, 3, 2, 1.0, float("nan"))
    with pytest.raises(ValueError, match="labels"):
        empirical_adversarial_rademacher_linear(X, [0, 1, 1], 1.0, 0.1)
    with pytest.raises(ValueError, match="one label per row"):
        empirical_adversarial_rademacher_linear(X, [1, 1], 1.0, 0.1)
    with pytest.raises(ValueError, match="attack"):
        empirical_adversarial_rademacher_linear(X, y, 1.0, 0.1, attack="l1")
    with pytest.raises(ValueError, match="p=2"):
        empirical_adversarial_rademacher_linear(X, y, 1.0, 0.1, attack="l2", p="inf")
    with pytest.raises(ValueError, match="n <= 20"):
        empirical_adversarial_rademacher_linear_exact(np.ones((21, 2)), np.ones(21), 1.0, 0.1)
    with pytest.raises(ValueError, match="n must be"):
        rademacher_mean_abs(0)
    with pytest.raises(ValueError, match="n must be"):
        adversarial_rademacher_bounds(0.1, 0, 2, 1.0, 0.1)
    with pytest.raises(ValueError, match="d must be"):
        adversarial_rademacher_bounds(0.1, 3, 0, 1.0, 0.1)
    with pytest.raises(ValueError, match="standard"):
        adversarial_rademacher_bounds(-0.1, 3, 2, 1.0, 0.1)
    with pytest.raises(ValueError, match="shape"):
        adversarial_inner_sup(np.ones((4, 2)), np.ones(3), 1.0, 0.1)
    with pytest.raises(ValueError, match="norm_bound"):
        adversarial_inner_sup(np.ones(2), 0.0, 0.0, 0.1)


def test_adversarial_checks_pass():
    out = adv_checks.check_two_sided(True)
    assert "holds in all" in out["measured"]
    out = adv_checks.check_sqrt_d(True)
    assert out["predicted"].startswith("slopes 0.50")


@pytest.mark.parametrize("wrong", [
    lambda b: dataclasses.replace(b, lower=1.25 * b.lower),  # a lower bound 25% too high
    lambda b: dataclasses.replace(b, upper=b.upper - 0.2 * b.penalty),  # an upper bound with 0.8 x the penalty
])
def test_two_sided_check_fails_on_a_wrong_bound(monkeypatch, wrong):
    real = adv_checks.adversarial_rademacher_bounds
    monkeypatch.setattr(adv_checks, "adversarial_rademacher_bounds", lambda *a, **k: wrong(real(*a, **k)))
    with pytest.raises(CheckFailed, match="bound"):
        adv_checks.check_two_sided(True)


@pytest.mark.parametrize("exponent", [0.0, 1.0, 0.35])
def test_sqrt_d_check_fails_on_a_wrong_exponent(exponent):
    with pytest.raises(CheckFailed, match="l_inf adversarial gap"):
        adv_checks.check_sqrt_d(True, exponent=exponent)
