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

Adversarial Rademacher complexity of linear classes (Yin, Ramchandran, Bartlett, ICML 2019; Awasthi,
Frank, Mohri, ICML 2020). Against an attacker who moves each input within ‖x' − x‖_r ≤ ε, the margin of
a linear classifier becomes min_{‖x'−x‖_r ≤ ε} y w·x' = y w·x − ε‖w‖_{r*} (Hölder, 1/r + 1/r* = 1), so
the ℓ∞ attack costs ε‖w‖_1 and the ℓ2 attack ε‖w‖_2. For the adversarial class
F̃ = {(x, y) -> y w·x − ε‖w‖_{r*} : ‖w‖_p ≤ W}, with u = (1/n) Σ σ_i y_i x_i and s = (1/n) Σ σ_i,

    R̂_S(F̃) = E_σ sup_{‖w‖_p ≤ W} [w·u − ε s ‖w‖_{r*}],

and the inner supremum has a closed form (derived in :func:`adversarial_inner_sup`):

    ℓ∞ attack:  W · ‖(|u| − ε s 1)_+‖_q          (any p in {1, 2, inf}; both signs of s)
    ℓ2 attack:  W · (‖u‖_2 − ε s)_+               (p = 2)

For s ≥ 0 the ℓ∞ form soft-thresholds |u| (the attack shrinks the class); for s < 0 every coordinate
gains ε|s| (the −εs‖w‖_1 term rewards a large ℓ1 norm) and (·)_+ is inactive. The same σ give the
standard complexity R̂_S(F) = W · E_σ ‖u‖_q, so the two are estimated as a pair
(:func:`empirical_adversarial_rademacher_linear`), or computed exactly for n ≤ 20
(:func:`empirical_adversarial_rademacher_linear_exact`).

Two-sided bound (:func:`adversarial_rademacher_bounds`; derived here, see its docstring). With
κ = sup_{‖w‖_p ≤ 1} ‖w‖_{r*} (= d^{1/q} for the ℓ∞ attack, 1 for the ℓ2 attack with p = 2),

    max(R̂_S(F), ε W κ E|s| / 2) ≤ R̂_S(F̃) ≤ R̂_S(F) + ε W κ E|s| / 2,

and E|s| ∈ [1/sqrt(2n), 1/sqrt(n)] (Szarek's sharp Khintchine constant; Jensen). With those two
constants this is Yin et al.'s Theorem 2 form, max(R̂(F), c ε W d^{1/q}/sqrt(n)) ≤ R̂(F̃) ≤
R̂(F) + ε W d^{1/q}/(2 sqrt(n)), with c = 1/(2 sqrt 2): for ℓ∞ attacks the price of robustness grows like
sqrt(d) for ℓ2-bounded weights, even when R̂(F) does not depend on d.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "AdversarialBounds",
    "AdversarialRademacher",
    "MarginBound",
    "adversarial_inner_sup",
    "adversarial_rademacher_bounds",
    "empirical_adversarial_rademacher_linear",
    "empirical_adversarial_rademacher_linear_exact",
    "empirical_rademacher_linear",
    "empirical_rademacher_linear_exact",
    "margin_bound_linear",
    "margin_bound_linear_union",
    "rademacher_linear_l2_bound",
    "rademacher_mean_abs",
    "ramp_loss",
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


# --- Adversarial Rademacher complexity of linear classes -------------------------------------------

_ATTACKS = ("linf", "l2")


def _attack_and_dual(attack: str, p: float | str) -> tuple[str, float]:
    """Validate the attack norm and the weight norm; return (attack, q) with 1/p + 1/q = 1."""
    if attack not in _ATTACKS:
        raise ValueError(
            f"attack must be 'linf' (‖x' − x‖_∞ ≤ ε) or 'l2' (‖x' − x‖_2 ≤ ε), got {attack!r}."
        )
    q = _dual_exponent(p)
    if attack == "l2" and q != 2.0:
        raise ValueError(
            f"the l2 attack has a closed-form inner supremum only for ℓ2-bounded weights (p=2), got p={p!r}."
        )
    return attack, q


def _epsilon(eps: float) -> float:
    if not (isinstance(eps, (int, float, np.integer, np.floating)) and math.isfinite(eps) and eps >= 0):
        raise ValueError(f"eps (the attack radius) must be a finite number >= 0, got {eps!r}.")
    return float(eps)


def _signed_labels(y: ArrayLike | torch.Tensor, n: int) -> NDArray[np.float64]:
    if isinstance(y, torch.Tensor):
        y = y.detach().cpu().numpy()
    arr = np.asarray(y, dtype=float)
    if arr.shape != (n,):
        raise ValueError(f"y must be 1-D with one label per row of X ({n}), got shape {arr.shape}.")
    if not np.all(np.abs(arr) == 1.0):
        raise ValueError("y must hold labels −1 or +1; map 0/1 labels with 2·y − 1.")
    return arr


def adversarial_inner_sup(
    u: ArrayLike,
    s: ArrayLike,
    norm_bound: float,
    eps: float,
    *,
    attack: str = "linf",
    p: float | str = 2,
) -> NDArray[np.float64]:
    """The exact inner supremum sup_{‖w‖_p ≤ W} [w·u − ε s ‖w‖_{r*}], vectorised over leading axes.

    ``u`` has shape (..., d) and ``s`` shape (...) (one scalar per vector u). Derivation, ℓ∞ attack
    (r* = 1): w·u − εs‖w‖_1 = Σ_j (w_j u_j − εs|w_j|) is largest, for given magnitudes a_j = |w_j|, when
    sign(w_j) = sign(u_j); it is then Σ_j a_j b_j with b_j = |u_j| − εs. Over a ≥ 0 with ‖a‖_p ≤ W the
    maximum of a·b is W‖b_+‖_q (Hölder; coordinates with b_j < 0 get a_j = 0). So the supremum is
    W · ‖(|u| − εs)_+‖_q. For s ≥ 0 this soft-thresholds |u| at εs; for s < 0 every b_j = |u_j| + ε|s| > 0
    and it is W · ‖|u| + ε|s|‖_q: one formula covers both signs of s.

    ℓ2 attack with p = 2: write w = t·v with ‖v‖_2 = 1 and 0 ≤ t ≤ W. Then w·u − εs‖w‖_2 = t (v·u − εs),
    largest at v = u/‖u‖ and t = W when ‖u‖_2 > εs, else at t = 0: the supremum is W · (‖u‖_2 − εs)_+.
    """
    attack, q = _attack_and_dual(attack, p)
    W = _positive(norm_bound, "norm_bound")
    eps = _epsilon(eps)
    u_arr = np.asarray(u, dtype=float)
    s_arr = np.asarray(s, dtype=float)
    if u_arr.ndim < 1 or s_arr.shape != u_arr.shape[:-1]:
        raise ValueError(
            f"u must have shape (..., d) and s shape (...) matching its leading axes, got {u_arr.shape} and "
            f"{s_arr.shape}."
        )
    if attack == "l2":
        return W * np.maximum(np.linalg.norm(u_arr, axis=-1) - eps * s_arr, 0.0)
    shrunk = np.maximum(np.abs(u_arr) - eps * s_arr[..., None], 0.0)
    return W * np.linalg.norm(shrunk, ord=q, axis=-1)


@dataclass(frozen=True)
class AdversarialRademacher:
    """R̂_S(F̃) and R̂_S(F) estimated with the same sign vectors, and their difference.

    ``gap = adversarial − standard`` has its own (paired) standard error ``gap_se``, much smaller than
    the two separate errors when they are correlated. Exact enumeration sets the errors to 0.
    """

    adversarial: float
    adversarial_se: float
    standard: float
    standard_se: float
    gap: float
    gap_se: float
    n_samples: int
    eps: float
    attack: str


def _paired_values(
    signs: NDArray[np.float64], X: NDArray[np.float64], y: NDArray[np.float64], W: float, eps: float,
    attack: str, p: float | str, q: float,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Per sign vector: the adversarial inner sup and the standard one, W‖u‖_q."""
    u = (signs * y) @ X / X.shape[0]
    s = signs.mean(axis=1)
    return adversarial_inner_sup(u, s, W, eps, attack=attack, p=p), W * np.linalg.norm(u, ord=q, axis=1)


def _validated(X, y, norm_bound, eps, attack, p):
    arr = _as_matrix(X)
    labels = _signed_labels(y, arr.shape[0])
    W = _positive(norm_bound, "norm_bound")
    eps = _epsilon(eps)
    attack, q = _attack_and_dual(attack, p)
    return arr, labels, W, eps, attack, q


def empirical_adversarial_rademacher_linear(
    X: ArrayLike | torch.Tensor,
    y: ArrayLike | torch.Tensor,
    norm_bound: float,
    eps: float,
    *,
    attack: str = "linf",
    p: float | str = 2,
    n_samples: int = 2000,
    seed: int = 0,
) -> AdversarialRademacher:
    """Monte Carlo estimate of R̂_S(F̃) for F̃ = {y w·x − ε‖w‖_{r*} : ‖w‖_p ≤ W}, paired with R̂_S(F).

    ``y`` holds labels ±1 (they matter: s = (1/n) Σ σ_i is correlated with u = (1/n) Σ σ_i y_i x_i through
    them). Each sign vector σ gives the exact inner supremum (:func:`adversarial_inner_sup`); the mean over
    ``n_samples`` draws estimates the expectation, with standard errors. Sign vectors are drawn in chunks,
    so memory stays bounded for large n·d.
    """
    arr, labels, W, eps, attack, q = _validated(X, y, norm_bound, eps, attack, p)
    if not isinstance(n_samples, (int, np.integer)) or n_samples < 2:
        raise ValueError(f"n_samples must be an integer >= 2 (for a standard error), got {n_samples!r}.")
    rng = np.random.default_rng(seed)
    n, d = arr.shape
    chunk = max(1, _CHUNK_ELEMENTS // max(n, d))
    adv, std = [], []
    for start in range(0, n_samples, chunk):
        signs = rng.choice([-1.0, 1.0], size=(min(chunk, n_samples - start), n))
        a, b = _paired_values(signs, arr, labels, W, eps, attack, p, q)
        adv.append(a)
        std.append(b)
    a, b = np.concatenate(adv), np.concatenate(std)
    root = math.sqrt(n_samples)
    return AdversarialRademacher(
        float(a.mean()), float(a.std(ddof=1) / root), float(b.mean()), float(b.std(ddof=1) / root),
        float((a - b).mean()), float((a - b).std(ddof=1) / root), int(n_samples), eps, attack,
    )


def empirical_adversarial_rademacher_linear_exact(
    X: ArrayLike | torch.Tensor,
    y: ArrayLike | torch.Tensor,
    norm_bound: float,
    eps: float,
    *,
    attack: str = "linf",
    p: float | str = 2,
) -> AdversarialRademacher:
    """R̂_S(F̃) and R̂_S(F) exactly, by enumerating all 2^n sign vectors (n ≤ 20); errors are 0.

    No σ -> −σ halving here: the adversarial supremum is not symmetric (s changes sign).
    """
    arr, labels, W, eps, attack, q = _validated(X, y, norm_bound, eps, attack, p)
    n, d = arr.shape
    if n > _MAX_EXACT_N:
        raise ValueError(
            f"exact enumeration needs n <= {_MAX_EXACT_N} (2^n sign vectors), got n={n}; "
            "use empirical_adversarial_rademacher_linear for a Monte Carlo estimate."
        )
    count = 2**n
    bits = np.arange(n)
    chunk = max(1, _CHUNK_ELEMENTS // max(n, d))
    total_a = total_b = 0.0
    for start in range(0, count, chunk):
        k = np.arange(start, min(start + chunk, count))[:, None]
        signs = 1.0 - 2.0 * ((k >> bits) & 1)
        a, b = _paired_values(signs, arr, labels, W, eps, attack, p, q)
        total_a += a.sum()
        total_b += b.sum()
    adv, std = float(total_a / count), float(total_b / count)
    return AdversarialRademacher(adv, 0.0, std, 0.0, adv - std, 0.0, count, eps, attack)


def rademacher_mean_abs(n: int) -> float:
    """E|(1/n) Σ_i σ_i| exactly, for n i.i.d. uniform signs.

    E|σ_1 + ... + σ_n| = n · C(n−1, ⌊(n−1)/2⌋) / 2^(n−1) (computed with log-gamma, so any n works); it lies
    in [sqrt(n/2), sqrt(n)] (Szarek's sharp Khintchine constant 1/sqrt 2 below, Jensen above; equality
    below at n = 2, above at n = 1) and is ~ sqrt(2n/π) for large n.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be an integer >= 1 (the sample size), got {n!r}.")
    n = int(n)
    k = (n - 1) // 2
    log_abs_sum = math.log(n) + math.lgamma(n) - math.lgamma(k + 1) - math.lgamma(n - k) - (n - 1) * math.log(2)
    return math.exp(log_abs_sum) / n


@dataclass(frozen=True)
class AdversarialBounds:
    """Two-sided bounds on R̂_S(F̃) given R̂_S(F) (see :func:`adversarial_rademacher_bounds`).

    ``lower``/``upper`` use the exact E|s|; ``lower_yin``/``upper_yin`` replace it by 1/sqrt(2n) and
    1/sqrt(n), the form of Yin et al. (2019, Thm 2). ``penalty`` = ε W κ E|s| / 2 and ``kappa`` = κ.
    Always lower_yin ≤ lower ≤ upper ≤ upper_yin.
    """

    lower: float
    upper: float
    lower_yin: float
    upper_yin: float
    penalty: float
    kappa: float


def adversarial_rademacher_bounds(
    standard: float,
    n: int,
    d: int,
    norm_bound: float,
    eps: float,
    *,
    attack: str = "linf",
    p: float | str = 2,
) -> AdversarialBounds:
    """Bounds on the adversarial Rademacher complexity R̂_S(F̃) of a linear class from R̂_S(F) = ``standard``.

    With u, s as in the module docstring, κ = sup_{‖w‖_p ≤ 1} ‖w‖_{r*} (ℓ∞ attack: ‖w‖_1 ≤ d^{1/q}‖w‖_p,
    so κ = d^{1 − 1/p} = d^{1/q}; ℓ2 attack with p = 2: κ = 1) and h(σ) the inner supremum:

    * upper: h(σ) ≤ sup_w w·u + sup_w (−εs‖w‖_{r*}) = W‖u‖_q + ε W κ (−s)_+ for every σ; averaging and
      E(−s)_+ = E|s|/2 (s is symmetric) give R̂(F̃) ≤ R̂(F) + ε W κ E|s|/2.
    * lower (1): σ and −σ are equally likely and map (u, s) to (−u, −s). If w* attains W‖u‖_q, using w* at
      σ and −w* at −σ gives h(σ) + h(−σ) ≥ 2 W‖u‖_q, so R̂(F̃) ≥ R̂(F): robustness never shrinks the class.
    * lower (2): for s < 0 take w with ‖w‖_p = W, ‖w‖_{r*} = W κ and w·u ≥ 0 (flip its sign if needed);
      for s ≥ 0 take w = 0. So h(σ) ≥ ε W κ (−s)_+ and R̂(F̃) ≥ ε W κ E|s|/2.

    E|s| is :func:`rademacher_mean_abs`; the ``*_yin`` fields use 1/sqrt(n) above and 1/sqrt(2n) below,
    which gives the form max(R̂(F), ε W d^{1/q}/(2 sqrt(2n))) ≤ R̂(F̃) ≤ R̂(F) + ε W d^{1/q}/(2 sqrt(n)) of Yin,
    Ramchandran, Bartlett (ICML 2019, Thm 2: its upper constant 1/2 as we read it; its lower constant is
    "a universal c", here c = 1/(2 sqrt 2)). For the ℓ_r attack κ = max(d^{1 − 1/r − 1/p}, 1), the
    dimension factor of Awasthi, Frank, Mohri (ICML 2020).
    """
    attack, q = _attack_and_dual(attack, p)
    W = _positive(norm_bound, "norm_bound")
    eps = _epsilon(eps)
    if not (isinstance(standard, (int, float, np.integer, np.floating)) and math.isfinite(standard)
            and standard >= 0):
        raise ValueError(f"standard (R̂_S(F)) must be a finite number >= 0, got {standard!r}.")
    mean_abs = rademacher_mean_abs(n)  # validates n
    if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 1:
        raise ValueError(f"d must be an integer >= 1 (the input dimension), got {d!r}.")
    kappa = float(d) ** (1.0 / q) if attack == "linf" else 1.0  # 1/q = 0 for p = 1 (q = inf)
    scale = eps * W * kappa
    penalty = scale * mean_abs / 2.0
    standard = float(standard)
    return AdversarialBounds(
        lower=max(standard, penalty),
        upper=standard + penalty,
        lower_yin=max(standard, scale / (2.0 * math.sqrt(2.0 * n))),
        upper_yin=standard + scale / (2.0 * math.sqrt(n)),
        penalty=penalty,
        kappa=kappa,
    )
