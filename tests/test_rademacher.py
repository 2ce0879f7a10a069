"""Rademacher complexity of linear classes: Monte Carlo vs exact enumeration vs closed form, and the
margin bound (single and union over a grid)."""
import math

import numpy as np
import pytest
import torch

from tamer_lab.theory.rademacher import (
    MarginBound,
    empirical_rademacher_linear,
    empirical_rademacher_linear_exact,
    margin_bound_linear,
    margin_bound_linear_union,
    rademacher_linear_l2_bound,
    ramp_loss,
)


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
    est, se = empirical_rademacher_linear(X, 1.0, n_samples=500)
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
    assert all(a > b for a, b in zip(bounds, bounds[1:]))
    by_delta = [margin_bound_linear(y * (X @ w), X, 1.0, gamma=1.0, delta=d).bound for d in (0.5, 0.1, 0.01, 0.001)]
    assert all(a < b for a, b in zip(by_delta, by_delta[1:]))


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
