"""Rademacher complexity of norm-bounded linear classes, and the margin bound it gives.

For a sample ``S = (x_1, ..., x_n)`` and the class ``F_B = {x -> w·x : ‖w‖_p ≤ B}`` the empirical
Rademacher complexity has a closed inner supremum (Hölder, with ``1/p + 1/q = 1``):

    R̂_S(F_B) = E_σ sup_{‖w‖_p ≤ B} (1/n) Σ_i σ_i w·x_i = B · E_σ ‖(1/n) Σ_i σ_i x_i‖_q,

with σ uniform on {−1, +1}^n. The expectation is estimated by Monte Carlo over σ
(:func:`empirical_rademacher_linear`) or computed by enumerating all sign vectors for n ≤ 20
(:func:`empirical_rademacher_linear_exact`). For p = 2, Jensen's inequality gives the closed-form bound

    R̂_S(F_B) ≤ B · sqrt(Σ_i ‖x_i‖²) / n     (Mohri, Rostamizadeh, Talwalkar, Foundations of Machine
                                              Learning, 2nd ed., Thm 5.10, with the linear kernel)

with equality when the x_i are orthogonal (the cross terms of ‖Σ σ_i x_i‖² vanish for every σ).

Margin bound (Mohri et al. Thm 5.8, from the Rademacher bound Thm 3.3 and Talagrand's contraction
lemma for the 1/γ-Lipschitz ramp loss): with probability at least 1 − δ over an i.i.d. sample of size
n, simultaneously for every w with ‖w‖_2 ≤ B,

    P(y · w·x ≤ 0) ≤ (1/n) Σ_i Φ_γ(y_i w·x_i) + (2/γ) · R̂_S(F_B) + 3 · sqrt(ln(2/δ) / (2n)),

where Φ_γ(m) = min(1, max(0, 1 − m/γ)) is the ramp loss. The bound holds for all w at once, so w may
be chosen after seeing the data; γ and B may not. :func:`margin_bound_linear_union` makes choosing
them honest by a union bound over a grid fixed in advance. For a classifier with a bias, append a
constant feature to x (and count its weight in ‖w‖).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "empirical_rademacher_linear",
    "empirical_rademacher_linear_exact",
    "rademacher_linear_l2_bound",
    "ramp_loss",
    "MarginBound",
    "margin_bound_linear",
    "margin_bound_linear_union",
]

_MAX_EXACT_N = 20
_CHUNK_ELEMENTS = 2**22  # sign-matrix entries processed at once, to bound memory


def _as_matrix(X: ArrayLike | torch.Tensor) -> NDArray[np.float64]:
    """The sample as a float64 array of shape (n, d), validated."""
    if isinstance(X, torch.Tensor):
        X = X.detach().cpu().numpy()
    arr = np.asarray(X, dtype=float)
    if arr.ndim != 2 or arr.shape[0] < 1:
        raise ValueError(f"X must be a 2-D array of shape (n, d) with n >= 1, got shape {arr.shape}.")
    if not np.all(np.isfinite(arr)):
        raise ValueError("X contains NaN or infinite values; clean or drop those rows first.")
    return arr


def _positive(value: float, label: str) -> float:
    if not (isinstance(value, (int, float, np.integer, np.floating)) and math.isfinite(value) and value > 0):
        raise ValueError(f"{label} must be a positive finite number, got {value!r}.")
    return float(value)


def _dual_exponent(p: float | str) -> float:
    """q with 1/p + 1/q = 1, for the supported p in {1, 2, inf}."""
    try:
        p_val = float(p)  # accepts "inf"
    except (TypeError, ValueError):
        p_val = float("nan")
    duals = {1.0: math.inf, 2.0: 2.0, math.inf: 1.0}
    if p_val not in duals:
        raise ValueError(f"p must be 1, 2 or inf (the norm bounding w), got {p!r}.")
    return duals[p_val]


def _sup_values(signs: NDArray[np.float64], X: NDArray[np.float64], B: float, q: float) -> NDArray[np.float64]:
    """B · ‖(1/n) Σ_i σ_i x_i‖_q for each row σ of ``signs``."""
    return B * np.linalg.norm(signs @ X / X.shape[0], ord=q, axis=1)


def empirical_rademacher_linear(
    X: ArrayLike | torch.Tensor,
    norm_bound: float,
    *,
    n_samples: int = 2000,
    seed: int = 0,
    p: float | str = 2,
) -> tuple[float, float]:
    """Monte Carlo estimate of R̂_S({x -> w·x : ‖w‖_p ≤ B}) = B · E_σ ‖(1/n) Σ σ_i x_i‖_q.

    Returns ``(estimate, stderr)``: the mean over ``n_samples`` sign vectors and its standard error.
    ``p`` is 2 (q = 2) or inf (q = 1), and 1 (q = inf) is also accepted.
    """
    arr = _as_matrix(X)
    B = _positive(norm_bound, "norm_bound")
    q = _dual_exponent(p)
    if not isinstance(n_samples, (int, np.integer)) or n_samples < 2:
        raise ValueError(f"n_samples must be an integer >= 2 (for a standard error), got {n_samples!r}.")
    rng = np.random.default_rng(seed)
    n = arr.shape[0]
    chunk = max(1, _CHUNK_ELEMENTS // n)
    values = np.concatenate([
        _sup_values(rng.choice([-1.0, 1.0], size=(min(chunk, n_samples - start), n)), arr, B, q)
        for start in range(0, n_samples, chunk)
    ])
    return float(values.mean()), float(values.std(ddof=1) / math.sqrt(n_samples))


def empirical_rademacher_linear_exact(
    X: ArrayLike | torch.Tensor, norm_bound: float, *, p: float | str = 2
) -> float:
    """R̂_S of the linear class computed exactly by enumerating all sign vectors (n ≤ 20).

    Uses the symmetry σ -> −σ, so 2^(n−1) vectors suffice.
    """
    arr = _as_matrix(X)
    B = _positive(norm_bound, "norm_bound")
    q = _dual_exponent(p)
    n = arr.shape[0]
    if n > _MAX_EXACT_N:
        raise ValueError(
            f"exact enumeration needs n <= {_MAX_EXACT_N} (2^(n-1) sign vectors), got n={n}; "
            "use empirical_rademacher_linear for a Monte Carlo estimate."
        )
    total, count = 0.0, 2 ** (n - 1)
    bits = np.arange(n - 1)
    chunk = max(1, _CHUNK_ELEMENTS // n)
    for start in range(0, count, chunk):
        k = np.arange(start, min(start + chunk, count))[:, None]
        signs = np.hstack([np.ones((k.shape[0], 1)), 1.0 - 2.0 * ((k >> bits) & 1)])
        total += _sup_values(signs, arr, B, q).sum()
    return float(total / count)


def rademacher_linear_l2_bound(X: ArrayLike | torch.Tensor, norm_bound: float) -> float:
    """Closed-form bound R̂_S({w·x : ‖w‖_2 ≤ B}) ≤ B · sqrt(Σ_i ‖x_i‖²) / n (Mohri et al. Thm 5.10)."""
    arr = _as_matrix(X)
    B = _positive(norm_bound, "norm_bound")
    return B * math.sqrt(float((arr**2).sum())) / arr.shape[0]


def ramp_loss(margins: ArrayLike, gamma: float) -> NDArray[np.float64]:
    """Φ_γ(m) = 1 if m ≤ 0, 1 − m/γ if 0 < m < γ, 0 if m ≥ γ (1/γ-Lipschitz, ≥ the 0-1 loss)."""
    gamma = _positive(gamma, "gamma")
    return np.clip(1.0 - np.asarray(margins, dtype=float) / gamma, 0.0, 1.0)


@dataclass(frozen=True)
class MarginBound:
    """The terms of the margin bound: test error ≤ ``bound`` with probability ≥ 1 − ``delta``.

    ``bound = empirical_ramp_loss + rademacher_term + confidence_term`` is not clipped (a value above
    1 is vacuous, and saying by how much is informative); :attr:`clipped` is ``min(bound, 1)``.
    ``grid_size`` > 1 when (γ, B) were chosen from a grid, with δ split over the grid.
    """

    empirical_ramp_loss: float
    rademacher_term: float
    confidence_term: float
    bound: float
    n: int
    gamma: float
    norm_bound: float
    delta: float
    grid_size: int = 1

    @property
    def clipped(self) -> float:
        """The bound capped at 1 (any error rate is at most 1)."""
        return min(self.bound, 1.0)


def _validate_margins(
    train_margins: ArrayLike, X: NDArray[np.float64], weight_norm: float, label: str
) -> NDArray[np.float64]:
    margins = np.asarray(train_margins, dtype=float)
    if margins.ndim != 1 or margins.shape[0] != X.shape[0]:
        raise ValueError(
            f"train_margins must be 1-D with one margin y_i·w·x_i per row of X ({X.shape[0]}), "
            f"got shape {margins.shape}."
        )
    if not np.all(np.isfinite(margins)):
        raise ValueError("train_margins contains NaN or infinite values.")
    # Cauchy-Schwarz: |y_i w·x_i| ≤ ‖w‖_2 ‖x_i‖_2, so larger margins mean ‖w‖_2 exceeds the stated norm.
    limit = weight_norm * np.linalg.norm(X, axis=1)
    bad = np.flatnonzero(np.abs(margins) > limit * (1 + 1e-6) + 1e-12)
    if bad.size:
        i = int(bad[0])
        raise ValueError(
            f"train_margins[{i}] = {margins[i]:.4g} exceeds {label} · ‖x_{i}‖ = {limit[i]:.4g}, so the "
            f"weights have ‖w‖_2 > {label} = {weight_norm:.4g}; pass the weights' true ℓ2 norm, or "
            "compute the margins on the training sample X."
        )
    return margins


def _delta(delta: float) -> float:
    if not (isinstance(delta, (int, float, np.floating)) and 0.0 < delta < 1.0):
        raise ValueError(f"delta must lie strictly between 0 and 1 (e.g. 0.05), got {delta!r}.")
    return float(delta)


def _bound(
    margins: NDArray[np.float64], X: NDArray[np.float64], B: float, gamma: float, delta: float
) -> tuple[float, float, float]:
    """(mean ramp loss, 2·R̂/γ with the closed form, 3·sqrt(ln(2/δ)/(2n)))."""
    n = X.shape[0]
    ramp = float(ramp_loss(margins, gamma).mean())
    rad = 2.0 * rademacher_linear_l2_bound(X, B) / gamma
    conf = 3.0 * math.sqrt(math.log(2.0 / delta) / (2.0 * n))
    return ramp, rad, conf


def margin_bound_linear(
    train_margins: ArrayLike,
    X: ArrayLike | torch.Tensor,
    norm_bound: float,
    *,
    gamma: float,
    delta: float = 0.05,
) -> MarginBound:
    """Margin bound on the test 0-1 error of a linear classifier ``sign(w·x)`` with ‖w‖_2 ≤ B.

    ``train_margins[i] = y_i · w·x_i`` on the training sample ``X`` (labels ±1). With probability
    ≥ 1 − δ: error ≤ mean Φ_γ(margins) + 2 · B · sqrt(Σ‖x_i‖²)/(n γ) + 3 · sqrt(ln(2/δ)/(2n)).
    ``gamma`` and ``norm_bound`` must be fixed before seeing the data; to choose them from the data,
    use :func:`margin_bound_linear_union`.
    """
    arr = _as_matrix(X)
    B = _positive(norm_bound, "norm_bound")
    gamma = _positive(gamma, "gamma")
    delta = _delta(delta)
    margins = _validate_margins(train_margins, arr, B, "norm_bound")
    ramp, rad, conf = _bound(margins, arr, B, gamma, delta)
    return MarginBound(ramp, rad, conf, ramp + rad + conf, arr.shape[0], gamma, B, delta)


def margin_bound_linear_union(
    train_margins: ArrayLike,
    X: ArrayLike | torch.Tensor,
    weight_norm: float,
    *,
    gammas: ArrayLike,
    norm_bounds: ArrayLike,
    delta: float = 0.05,
) -> MarginBound:
    """The smallest margin bound over a grid of (γ, B) fixed in advance, paid for by a union bound.

    Each of the K = len(gammas) · len(norm_bounds) bounds is taken at confidence δ/K, so with
    probability ≥ 1 − δ all K hold at once and their minimum is a valid bound even though (γ, B)
    is picked after looking at the data. ``weight_norm`` is ‖w‖_2 of the trained classifier. For a
    grid value B < ‖w‖ the bound is applied to w·B/‖w‖, which makes the same predictions (so has the
    same test error) and lies in the class; its margins shrink by the same factor. The returned
    :class:`MarginBound` records the chosen ``gamma`` and ``norm_bound``, the overall ``delta`` and
    ``grid_size`` = K. The grid must not depend on the training data.
    """
    arr = _as_matrix(X)
    w_norm = _positive(weight_norm, "weight_norm")
    delta = _delta(delta)
    gamma_grid = np.atleast_1d(np.asarray(gammas, dtype=float))
    b_grid = np.atleast_1d(np.asarray(norm_bounds, dtype=float))
    for label, grid in (("gammas", gamma_grid), ("norm_bounds", b_grid)):
        if grid.ndim != 1 or grid.size == 0 or not np.all(np.isfinite(grid) & (grid > 0)):
            raise ValueError(f"{label} must be a non-empty 1-D grid of positive finite numbers, got {grid!r}.")
    margins = _validate_margins(train_margins, arr, w_norm, "weight_norm")
    k = gamma_grid.size * b_grid.size
    best: MarginBound | None = None
    for B in b_grid:
        scaled = margins * min(1.0, B / w_norm)
        for gamma in gamma_grid:
            ramp, rad, conf = _bound(scaled, arr, float(B), float(gamma), delta / k)
            total = ramp + rad + conf
            if best is None or total < best.bound:
                best = MarginBound(ramp, rad, conf, total, arr.shape[0], float(gamma), float(B), delta, k)
    assert best is not None
    return best
