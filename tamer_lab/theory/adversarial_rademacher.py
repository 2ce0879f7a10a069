"""Theory checks of notebook 10 (adversarial regularization): the adversarial Rademacher complexity of
linear classes, computed exactly per sign vector (see :mod:`tamer_lab.theory.rademacher`).

For F = {(x, y) -> y w·x : ‖w‖_2 ≤ W} and its ℓ∞-adversarial version F̃ = {y w·x − ε‖w‖_1}:

* ``adversarial_rademacher_two_sided``: the Monte Carlo R̂_S(F̃) lies between
  max(R̂_S(F), ε W κ E|s|/2) and R̂_S(F) + ε W κ E|s|/2 (κ = sqrt(d) for ℓ∞, 1 for ℓ2 attacks), within
  three standard errors, for several data sets, seeds, attacks and a grid of ε. These bounds are
  tight in opposite corners of the grid (small ε: R̂(F̃) ≈ R̂(F); large ε·sqrt(d): R̂(F̃) ≈ the penalty),
  so a bound that is wrong by a constant factor fails somewhere.
* ``adversarial_rademacher_sqrt_d``: on inputs with ‖x_i‖_2 = 1, where R̂_S(F) ≤ W/sqrt(n) does not
  depend on d, the gap R̂_S(F̃) − R̂_S(F) grows like d^(1/2) under ℓ∞ attacks (fitted log-log slope
  within 0.1 of 1/2) and does not grow under ℓ2 attacks (slope within 0.1 of 0): Yin, Ramchandran,
  Bartlett (ICML 2019), "unavoidable dimension dependence", and its ℓ_r form d^(1 − 1/r − 1/p) of
  Awasthi, Frank, Mohri (ICML 2020).

Why sqrt(d) is the asymptotic rate here: with ‖x_i‖_2 = 1 and d ≫ n the coordinates of u are
O(1/sqrt(nd)) while εs is O(ε/sqrt(n)), so for ε sqrt(d) ≫ 1 the inner supremum is about
ε|s| W sqrt(d) when s < 0 and O(W/sqrt(n)) when s ≥ 0: the gap is ε W sqrt(d) E|s|/2 − O(W/sqrt(n)),
whose local log-log slope approaches 1/2 from above (measured 0.51-0.53 for ε = 1, n = 50,
d = 256 ... 16384).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from .checks import register
from .rademacher import (
    adversarial_rademacher_bounds,
    empirical_adversarial_rademacher_linear,
)
from .rates import CheckFailed, check_rate

__all__ = [
    "L2_EXPONENT",
    "LINF_EXPONENT",
    "NOTEBOOK",
    "DimensionCurve",
    "check_sqrt_d",
    "check_two_sided",
    "dimension_curve",
    "sphere_data",
]

NOTEBOOK = "10_adversarial_regularization"
LINF_EXPONENT = 0.5  # predicted d-exponent of R̂(F̃) − R̂(F) under ℓ∞ attacks, ℓ2-bounded weights
L2_EXPONENT = 0.0  # ... under ℓ2 attacks: no dimension factor
SLOPE_TOL = 0.1


def sphere_data(n: int, d: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points uniform on the unit sphere of R^d and labels ±1, from ``seed``."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    return X, rng.choice([-1.0, 1.0], size=n)


def _gaussian_data(n: int, d: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)), rng.choice([-1.0, 1.0], size=n)


def _two_sided_settings(quick: bool) -> dict:
    return {
        "data": (("sphere", sphere_data, 40, 4096), ("gaussian", _gaussian_data, 40, 20)),
        "eps": (0.0, 0.01, 0.03, 0.1, 0.3, 1.0),
        "attacks": ("linf", "l2"),
        "seeds": (0, 1) if quick else (0, 1, 2, 3, 4),
        "n_samples": 2000 if quick else 4000,
    }


@register("adversarial_rademacher_two_sided", notebook=NOTEBOOK,
          statement="linear class: max(R(F), eps W kappa E|s|/2) <= Monte Carlo R(F_adv) <= R(F) + eps W kappa E|s|/2 "
                    "(kappa = sqrt(d) for l_inf, 1 for l_2 attacks), within 3 standard errors",
          source="Yin, Ramchandran, Bartlett ICML 2019, Thm 2 (with exact E|s|); Awasthi, Frank, Mohri ICML 2020")
def check_two_sided(quick: bool) -> dict:
    """Every (data set, seed, attack, ε): R̂(F̃) within three standard errors of the two-sided bound."""
    s = _two_sided_settings(quick)
    W = 1.0
    upper_ratio, lower_ratio, count = 0.0, np.inf, 0
    for label, make, n, d in s["data"]:
        for seed in s["seeds"]:
            X, y = make(n, d, seed)
            for attack in s["attacks"]:
                for eps in s["eps"]:
                    r = empirical_adversarial_rademacher_linear(X, y, W, eps, attack=attack,
                                                                n_samples=s["n_samples"], seed=seed)
                    b = adversarial_rademacher_bounds(r.standard, n, d, W, eps, attack=attack)
                    where = f"{label} data (n={n}, d={d}), seed {seed}, {attack} attack, eps={eps}"
                    # upper: R(F~) - R(F) <= penalty, with the paired error of the difference
                    if r.adversarial - b.upper > 3 * r.gap_se + 1e-12:
                        raise CheckFailed(
                            f"{where}: R(F~) = {r.adversarial:.5f} ± {r.adversarial_se:.5f} above the upper bound "
                            f"{b.upper:.5f} by more than 3 standard errors of the gap ({r.gap_se:.2e})",
                            measured=r.adversarial, predicted=b.upper)
                    # lower: against R(F) (paired error) and against the penalty (error of R(F~))
                    se = r.gap_se if b.lower == r.standard else r.adversarial_se
                    if b.lower - r.adversarial > 3 * se + 1e-12:
                        raise CheckFailed(
                            f"{where}: R(F~) = {r.adversarial:.5f} ± {se:.5f} below the lower bound {b.lower:.5f} "
                            "by more than 3 standard errors",
                            measured=r.adversarial, predicted=b.lower)
                    if eps > 0:
                        upper_ratio = max(upper_ratio, r.gap / b.penalty)
                        lower_ratio = min(lower_ratio, r.adversarial / b.lower)
                    count += 1
    return {"predicted": "lower <= R(F~) <= upper (3 s.e.)",
            "measured": f"holds in all {count} settings; gap/penalty up to {upper_ratio:.3f}, "
                        f"R(F~)/lower down to {lower_ratio:.3f}"}


@dataclass(frozen=True)
class DimensionCurve:
    """Per dimension (rows) and seed (columns): R̂(F), and the ℓ∞ and ℓ2 gaps R̂(F̃) − R̂(F)."""

    dims: np.ndarray
    n: int
    eps: float
    standard: np.ndarray
    gap_linf: np.ndarray
    gap_l2: np.ndarray
    predicted_linf: np.ndarray  # ε W sqrt(d) E|s|/2, the upper bound on the ℓ∞ gap (one value per d)


def _curve_settings(quick: bool) -> dict:
    if quick:
        return {"dims": (256, 512, 1024, 2048, 4096), "seeds": (0, 1, 2), "n_samples": 1000}
    return {"dims": (256, 512, 1024, 2048, 4096, 8192, 16384), "seeds": (0, 1, 2, 3, 4, 5), "n_samples": 2000}


@functools.lru_cache(maxsize=2)
def dimension_curve(quick: bool, *, n: int = 50, eps: float = 1.0) -> DimensionCurve:
    """R̂(F) and the gaps for unit-norm inputs over a grid of dimensions (W = 1), cached per setting."""
    s = _curve_settings(quick)
    shape = (len(s["dims"]), len(s["seeds"]))
    std, g_inf, g_2 = np.zeros(shape), np.zeros(shape), np.zeros(shape)
    predicted = np.zeros(len(s["dims"]))
    for i, d in enumerate(s["dims"]):
        for j, seed in enumerate(s["seeds"]):
            X, y = sphere_data(n, d, seed)
            r_inf = empirical_adversarial_rademacher_linear(X, y, 1.0, eps, attack="linf",
                                                            n_samples=s["n_samples"], seed=seed)
            r_2 = empirical_adversarial_rademacher_linear(X, y, 1.0, eps, attack="l2",
                                                          n_samples=s["n_samples"], seed=seed)
            std[i, j], g_inf[i, j], g_2[i, j] = r_inf.standard, r_inf.gap, r_2.gap
        predicted[i] = adversarial_rademacher_bounds(0.0, n, d, 1.0, eps).penalty
    return DimensionCurve(np.array(s["dims"]), n, eps, std, g_inf, g_2, predicted)


@register("adversarial_rademacher_sqrt_d", notebook=NOTEBOOK,
          statement="unit-norm inputs: R(F_adv) - R(F) grows like d^(1/2) under l_inf attacks (slope within 0.1 of 1/2), "
                    "like d^0 under l_2 attacks, while R(F) stays flat",
          source="Yin, Ramchandran, Bartlett ICML 2019 (dimension dependence); Awasthi, Frank, Mohri ICML 2020")
def check_sqrt_d(quick: bool, *, exponent: float = LINF_EXPONENT) -> dict:
    """Fit the log-log slopes of the gaps against d and compare with ``exponent`` (ℓ∞) and 0 (ℓ2)."""
    c = dimension_curve(quick)
    fit_inf = check_rate(c.dims, c.gap_linf, exponent, tol=SLOPE_TOL, name="l_inf adversarial gap vs d")
    fit_2 = check_rate(c.dims, c.gap_l2, L2_EXPONENT, tol=SLOPE_TOL, name="l_2 adversarial gap vs d")
    fit_std = check_rate(c.dims, c.standard, 0.0, tol=SLOPE_TOL, name="standard Rademacher complexity vs d")
    tight = float((c.gap_linf.mean(axis=1) / c.predicted_linf)[-1])
    return {"predicted": f"slopes {exponent:.2f} (l_inf gap), {L2_EXPONENT:.2f} (l_2 gap), 0 (R(F)), tol {SLOPE_TOL}",
            "measured": f"l_inf gap {fit_inf}; l_2 gap {fit_2}; R(F) {fit_std}",
            "detail": f"at d={c.dims[-1]} the l_inf gap is {tight:.3f} of its upper bound eps sqrt(d) E|s|/2"}
