"""Low-rank and pruned approximation of weight matrices, and what it does to the network's function.

The link between the approximation theory of notebook 41 and compression (Thrust III). Exact here:

* Eckart-Young-Mirsky: for A with singular values σ_1 ≥ σ_2 ≥ ..., the truncated SVD A_k is a best
  rank-k approximation in both norms, with ‖A - A_k‖_F² = Σ_{i>k} σ_i² and ‖A - A_k‖_2 = σ_{k+1}
  (Eckart & Young, Psychometrika 1936; Mirsky 1960 for every unitarily invariant norm).
* The same theorem in the norm of the layer's inputs: for inputs H (rows h_j), the best rank-k B for
  ‖(A - B) Hᵀ‖_F is B = [A V Σ]_k Σ⁻¹ Vᵀ (H = U Σ Vᵀ, Σ invertible on H's row space) with error²
  Σ_{i>k} σ_i(A Hᵀ)²: data-aware truncation, as in activation-aware SVD compression of LLMs.
* Magnitude pruning: zeroing all but the s largest-magnitude entries leaves ‖A - A_s‖_F² equal to the
  sum of squares of the zeroed entries, the least over all masks keeping s entries.
* A one-layer perturbation of a ReLU net f = W_L σ(... σ(W_1 x + b_1) ...) + b_L: replacing W_l by
  W_l + Δ moves the output by at most Π_{j>l} ‖W_j‖_2 · ‖Δ h_{l-1}(x)‖_2 (σ is 1-Lipschitz per coordinate),
  and ‖Δ h‖ ≤ ‖Δ‖_2 ‖h‖, with ‖Δ‖_2 = σ_{k+1} for truncation.

Only measured: the function error itself (its dependence on rank or kept fraction is not monotone in
general, and the bound can be loose by orders of magnitude).
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .approximation import _svd, _torch_threads
from .checks import register, save_figure
from .rates import check_at_most, check_close

__all__ = [
    "COMPRESSION_GRID",
    "CompressionCurve",
    "compare_bound",
    "compare_eckart_young",
    "compare_pruning",
    "compress_layer",
    "compression_curve",
    "compression_curves",
    "data_aware_low_rank",
    "eckart_young_error",
    "layer_inputs",
    "magnitude_prune",
    "manifold_mlp",
    "perturbation_bound",
    "plot_compression_curves",
    "pruning_error",
    "trained_manifold_mlp",
    "truncated_svd",
]


def _matrix(A, label: str = "A") -> np.ndarray:
    if torch.is_tensor(A):
        A = A.detach().cpu().double().numpy()
    A = np.asarray(A, dtype=float)
    if A.ndim != 2 or A.size == 0:
        raise ValueError(f"{label} must be a non-empty 2-D matrix, got shape {A.shape}")
    if not np.all(np.isfinite(A)):
        raise ValueError(f"{label} has non-finite entries")
    return A


def _rank(rank, A: np.ndarray) -> int:
    top = min(A.shape)
    if isinstance(rank, bool) or not isinstance(rank, (int, np.integer)) or not 0 <= rank <= top:
        raise ValueError(f"rank must be an integer in [0, {top}] for a {A.shape[0]}x{A.shape[1]} matrix, got {rank!r}")
    return int(rank)


def _spectral_norm(A) -> float:
    """‖A‖₂, the largest singular value (0 for a zero matrix)."""
    return float(_svd(A, compute_uv=False)[0])


def truncated_svd(A, rank: int) -> np.ndarray:
    """A best rank-``rank`` approximation of ``A`` (Frobenius and spectral norm): the truncated SVD."""
    A = _matrix(A)
    k = _rank(rank, A)
    u, s, vt = _svd(A)
    return (u[:, :k] * s[:k]) @ vt[:k]


def eckart_young_error(A, rank: int) -> tuple[float, float]:
    """The predicted errors of :func:`truncated_svd`: ``(Σ_{i>k} σ_i², σ_{k+1})`` (the second is 0 at full rank)."""
    A = _matrix(A)
    k = _rank(rank, A)
    s = _svd(A, compute_uv=False)
    return float(np.sum(s[k:] ** 2)), float(s[k]) if k < s.size else 0.0


def data_aware_low_rank(A, H, rank: int) -> np.ndarray:
    """The rank-``rank`` B minimising ``‖(A - B) Hᵀ‖_F`` for inputs ``H`` (n, in) of the layer ``x ↦ A x``.

    With ``H = U Σ Vᵀ`` (thin SVD, directions of zero singular value dropped), B = [A V Σ]_k Σ⁻¹ Vᵀ; the
    error is ``Σ_{i>k} σ_i(A Hᵀ)²`` (Eckart-Young applied to A V Σ). B acts as zero on directions no input
    uses, so ``rank`` can be far below the rank of A without any error on the inputs.
    """
    A, H = _matrix(A), _matrix(H, "H")
    if H.shape[1] != A.shape[1]:
        raise ValueError(f"H must have one column per input of A ({A.shape[1]}), got shape {H.shape}")
    _, sh, vht = _svd(H)
    keep = sh > sh[0] * max(H.shape) * np.finfo(float).eps
    v, sh = vht[keep].T, sh[keep]
    core = A @ v * sh
    k = _rank(rank, A)
    k = min(k, min(core.shape))
    u, s, wt = _svd(core)
    return ((u[:, :k] * s[:k]) @ wt[:k] / sh) @ v.T


def magnitude_prune(A, keep: float) -> tuple[np.ndarray, np.ndarray]:
    """Zero all but the ``round(keep · size)`` largest-magnitude entries; returns ``(pruned, mask)``.

    Ties are broken by position (stable sort), so exactly that many entries are kept.
    """
    A = _matrix(A)
    if not (isinstance(keep, (int, float, np.floating)) and 0.0 <= keep <= 1.0):
        raise ValueError(f"keep must be the fraction of entries kept, in [0, 1], got {keep!r}")
    count = math.floor(keep * A.size + 0.5)
    order = np.argsort(-np.abs(A), axis=None, kind="stable")
    mask = np.zeros(A.size, dtype=bool)
    mask[order[:count]] = True
    mask = mask.reshape(A.shape)
    return np.where(mask, A, 0.0), mask


def pruning_error(A, mask) -> float:
    """The predicted squared Frobenius error of keeping ``mask``: the sum of squares of the zeroed entries."""
    A = _matrix(A)
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != A.shape:
        raise ValueError(f"mask must have the shape of A {A.shape}, got {mask.shape}")
    return float(np.sum(A[~mask] ** 2))


# ------------------------------------------------------------------ compressing one layer of an MLP

def _linears(model: nn.Module) -> list[nn.Linear]:
    layers = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not layers:
        raise ValueError("the model has no Linear layers")
    return layers


def _check_layer(model: nn.Module, layer: int) -> list[nn.Linear]:
    layers = _linears(model)
    if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)) or not 0 <= layer < len(layers):
        raise ValueError(f"layer must be an index in [0, {len(layers) - 1}] of the model's Linear layers, got {layer!r}")
    return layers


def compress_layer(model: nn.Module, layer: int, method: str, amount, *, inputs=None) -> nn.Module:
    """A float64 copy of ``model`` with the weight of its ``layer``-th Linear compressed.

    ``method``: "svd" (truncated SVD to rank ``amount``), "data_svd" (:func:`data_aware_low_rank` on
    ``inputs``, the layer's inputs, rank ``amount``) or "prune" (magnitude pruning keeping the fraction
    ``amount``). Biases are kept.
    """
    _check_layer(model, layer)
    out = copy.deepcopy(model).double()
    target = _linears(out)[layer]
    W = target.weight.detach().numpy()
    if method == "svd":
        new = truncated_svd(W, amount)
    elif method == "data_svd":
        if inputs is None:
            raise ValueError("method 'data_svd' needs the layer's inputs (see layer_inputs)")
        new = data_aware_low_rank(W, inputs, amount)
    elif method == "prune":
        new, _ = magnitude_prune(W, amount)
    else:
        raise ValueError(f"method must be 'svd', 'data_svd' or 'prune', got {method!r}")
    with torch.no_grad():
        target.weight.copy_(torch.as_tensor(new))
    return out


def layer_inputs(model: nn.Module, X, layer: int) -> np.ndarray:
    """The inputs h_{l-1}(x) of the ``layer``-th Linear of a Linear/ReLU stack, one row per x (float64)."""
    _check_layer(model, layer)
    captured = {}
    target = _linears(model)[layer]
    handle = target.register_forward_hook(lambda mod, inp, out: captured.__setitem__("h", inp[0]))
    try:
        with torch.no_grad():
            model.double()(torch.as_tensor(X, dtype=torch.float64))
    finally:
        handle.remove()
    return captured["h"].numpy()


def perturbation_bound(model: nn.Module, compressed: nn.Module, layer: int, X) -> tuple[np.ndarray, np.ndarray]:
    """Per-input bounds on ``|model(x) - compressed(x)|`` when only the ``layer``-th weight differs (Δ).

    Returns ``(tight, loose)``: ``Π_{j>l} ‖W_j‖_2 · ‖Δ h_{l-1}(x)‖_2`` and ``Π_{j>l} ‖W_j‖_2 · ‖Δ‖_2 ·
    ‖h_{l-1}(x)‖_2``. Valid for a stack of Linear layers with 1-Lipschitz coordinatewise activations
    (ReLU) between them and a scalar output.
    """
    layers, other = _check_layer(model, layer), _linears(compressed)
    if len(other) != len(layers):
        raise ValueError("the two models must have the same Linear layers")
    for j, (a, b) in enumerate(zip(layers, other)):
        same = torch.equal(a.weight.double(), b.weight.double()) and torch.equal(a.bias.double(), b.bias.double())
        if j != layer and not same:
            raise ValueError(f"layer {j} differs between the models; the bound covers one compressed layer ({layer})")
    delta = (other[layer].weight.double() - layers[layer].weight.double()).detach().numpy()
    lip = math.prod(_spectral_norm(m.weight.detach().double().numpy()) for m in layers[layer + 1:])
    H = layer_inputs(model, X, layer)
    tight = lip * np.linalg.norm(H @ delta.T, axis=1)
    loose = lip * _spectral_norm(delta) * np.linalg.norm(H, axis=1)
    return tight, loose


def _outputs(model: nn.Module, X) -> np.ndarray:
    with torch.no_grad():
        return model.double()(torch.as_tensor(X, dtype=torch.float64)).squeeze(1).numpy()


@dataclass(frozen=True)
class CompressionCurve:
    """Function error of a network with one layer compressed, against the amount kept.

    ``amounts``: ranks (for "svd", "data_svd") or kept fractions ("prune"); ``weight_error``: the
    measured ‖W - W'‖_F²; ``predicted_weight_error``: Eckart-Young's Σ_{i>k} σ_i² (or, for data_svd,
    Σ_{i>k} σ_i(W Hᵀ)² against the measured ‖(W - W')Hᵀ‖_F²; for prune, the sum of pruned squares);
    ``function_error``: root mean square of f - f' over X; ``max_error`` its max, ``bound`` the max of
    the per-input bound of :func:`perturbation_bound` (tight form).
    """

    method: str
    layer: int
    amounts: np.ndarray
    weight_error: np.ndarray
    predicted_weight_error: np.ndarray
    function_error: np.ndarray
    max_error: np.ndarray
    bound: np.ndarray


def compression_curve(model: nn.Module, X, layer: int, method: str, amounts) -> CompressionCurve:
    """Compress the ``layer``-th weight of ``model`` at each amount and measure what changes on inputs ``X``."""
    layers = _check_layer(model, layer)
    W = layers[layer].weight.detach().double().numpy()
    H = layer_inputs(model, X, layer) if method == "data_svd" else None
    base = _outputs(model, X)
    rows = []
    for amount in amounts:
        small = compress_layer(model, layer, method, amount, inputs=H)
        W2 = _linears(small)[layer].weight.detach().numpy()
        if method == "svd":
            measured, predicted = float(np.sum((W - W2) ** 2)), eckart_young_error(W, amount)[0]
        elif method == "data_svd":
            measured = float(np.sum(((W - W2) @ H.T) ** 2))
            predicted = eckart_young_error(W @ H.T, min(int(amount), min(W.shape[0], H.shape[0])))[0]
        else:
            measured, predicted = float(np.sum((W - W2) ** 2)), pruning_error(W, W2 != 0)
        diff = np.abs(_outputs(small, X) - base)
        tight, _ = perturbation_bound(model, small, layer, X)
        rows.append((measured, predicted, float(np.sqrt(np.mean(diff ** 2))), float(diff.max()), float(tight.max())))
    m, p, rms, mx, bound = (np.array(c) for c in zip(*rows))
    return CompressionCurve(method, layer, np.asarray(amounts), m, p, rms, mx, bound)


def manifold_mlp(quick: bool, *, intrinsic_dim: int = 2, ambient_dim: int = 64, seed: int = 0):
    """A ReLU MLP trained on the manifold regression task of notebook 41 (with the settings of
    :func:`~tamer_lab.theory.approximation.manifold_rates`), and clean test inputs.

    Returns ``(model, X_test, f_test)``; the model is float64, in eval mode.
    """
    from .approximation import (
        ManifoldSettings,
        fit_relu_regressor,
        manifold_regression_data,
    )

    s = ManifoldSettings.for_mode(quick)
    n = 1024 if quick else 4096
    X, y, _ = manifold_regression_data(n, intrinsic_dim, ambient_dim, seed=seed, noise=s.noise,
                                       smoothness=s.smoothness, target_seed=s.target_seed)
    model, _ = fit_relu_regressor(X, y, width=s.width, depth=s.depth, lr=s.lr, max_steps=s.max_steps,
                                  patience=s.patience, seed=seed)
    Xq, _, fq = manifold_regression_data(s.n_test, intrinsic_dim, ambient_dim, seed=10 ** 6 + seed, noise=0.0,
                                         smoothness=s.smoothness, target_seed=s.target_seed)
    return model.double(), Xq.double(), fq.double()


_MLP_CACHE: dict[bool, tuple] = {}
_CURVE_CACHE: dict[tuple, dict] = {}


def _cached_mlp(quick: bool):
    """The notebook's manifold MLP (d=2, D=64), trained once per process and mode; a fresh copy each call."""
    if quick not in _MLP_CACHE:
        _MLP_CACHE[quick] = manifold_mlp(quick)
    model, X, f = _MLP_CACHE[quick]
    return copy.deepcopy(model), X.clone(), f.clone()


def trained_manifold_mlp(quick: bool):
    """The MLP of :func:`manifold_mlp` with its clean test set, trained once per process and mode (the
    compression checks and notebook 41 share it): ``(model, X_test, f_test)``, fresh copies."""
    return _cached_mlp(quick)


def _matrices(quick: bool) -> dict[str, np.ndarray]:
    """The matrices the exact checks run on: the trained MLP's two hidden weights and a random one."""
    model, _, _ = _cached_mlp(quick)
    layers = _linears(model)
    rng = np.random.default_rng(0)
    out = {f"W{i + 1} ({'x'.join(map(str, layers[i].weight.shape))})": layers[i].weight.detach().numpy()
           for i in (0, 1)}
    out["Gaussian (40x25)"] = rng.standard_normal((40, 25))
    return out


def compare_eckart_young(matrices: dict[str, np.ndarray], *, competitors: int = 10, seed: int = 0) -> float:
    """Raise CheckFailed unless, for every matrix and every rank k, the truncated SVD's errors equal
    Eckart-Young's (Σ_{i>k} σ_i², σ_{k+1}) and no random rank-k competitor (the best approximation with a
    random column space, Q Qᵀ A) does better. Returns the largest relative deviation from the identity."""
    rng = np.random.default_rng(seed)
    worst = 0.0
    for name, A in matrices.items():
        A = _matrix(A)
        scale = float(np.sum(A ** 2))
        ks = np.arange(min(A.shape) + 1)
        measured = np.array([[np.sum((A - truncated_svd(A, k)) ** 2), _spectral_norm(A - truncated_svd(A, k))]
                             for k in ks])
        predicted = np.array([eckart_young_error(A, int(k)) for k in ks])
        check_close(measured[:, 0], predicted[:, 0], rtol=1e-9, atol=1e-12 * scale,
                    name=f"{name}: ||A - A_k||_F^2 vs sum of sigma_i^2, i > k")
        check_close(measured[:, 1], predicted[:, 1], rtol=1e-9, atol=1e-9 * math.sqrt(scale),
                    name=f"{name}: ||A - A_k||_2 vs sigma_(k+1)")
        worst = max(worst, float(np.max(np.abs(measured[:, 0] - predicted[:, 0]) / scale)))
        for k in ks[1:-1:max(1, len(ks) // 8)]:
            errs = []
            for _ in range(competitors):
                with _torch_threads(1):
                    q = torch.linalg.qr(torch.as_tensor(rng.standard_normal((A.shape[0], int(k))))).Q.numpy()
                errs.append(float(np.sum((A - q @ (q.T @ A)) ** 2)))
            check_at_most(predicted[k, 0], np.min(errs) * (1 + 1e-12),
                          name=f"{name}: Eckart-Young error vs random rank-{k} competitors")
    return worst


@register("eckart_young_exact", notebook="41_approximation",
          statement="the truncated SVD of a weight matrix has ||A - A_k||_F^2 = sum_{i>k} sigma_i^2 and ||A - A_k||_2 "
                    "= sigma_{k+1}, and no rank-k matrix does better; the same in the norm of the layer's inputs",
          source="Eckart & Young, Psychometrika 1936; Mirsky 1960")
def check_eckart_young(quick: bool) -> dict:
    matrices = _matrices(quick)
    worst = compare_eckart_young(matrices, competitors=5 if quick else 20)
    model, X, _ = _cached_mlp(quick)
    H = layer_inputs(model, X, 0)
    W = _linears(model)[0].weight.detach().numpy()
    ranks = np.arange(1, min(12, *W.shape) + 1)
    measured = np.array([np.sum(((W - data_aware_low_rank(W, H, int(k))) @ H.T) ** 2) for k in ranks])
    predicted = np.array([eckart_young_error(W @ H.T, int(k))[0] for k in ranks])
    check_close(measured, predicted, rtol=1e-8, atol=1e-10 * float(np.sum((W @ H.T) ** 2)),
                name="data-aware truncation of W1: ||(W - B) H^T||_F^2 vs sum of sigma_i(W H^T)^2, i > k")
    return {"predicted": "sum_{i>k} sigma_i^2 and sigma_{k+1}, for every k",
            "measured": f"max relative deviation {worst:.1e} on {len(matrices)} matrices; random rank-k subspaces "
                        "never better"}


def compare_pruning(matrices: dict[str, np.ndarray], keeps, *, competitors: int = 20, seed: int = 0) -> float:
    """Raise CheckFailed unless magnitude pruning at each kept fraction has squared Frobenius error equal to
    the sum of squares of the pruned entries and to the least error of any mask keeping as many entries,
    and no random mask does better. Returns the largest relative deviation."""
    rng = np.random.default_rng(seed)
    worst = 0.0
    for name, A in matrices.items():
        A = _matrix(A)
        scale = float(np.sum(A ** 2))
        smallest_first = np.sort(A.ravel() ** 2)
        for keep in keeps:
            pruned, mask = magnitude_prune(A, keep)
            measured = float(np.sum((A - pruned) ** 2))
            count = int(mask.sum())
            optimum = float(np.sum(smallest_first[:A.size - count]))
            check_close([measured, measured], [pruning_error(A, mask), optimum], rtol=1e-12, atol=1e-14 * scale,
                        name=f"{name}, keep {keep}: ||A - A_s||_F^2 vs the pruned squares and the best mask")
            worst = max(worst, abs(measured - pruning_error(A, mask)) / scale)
            for _ in range(competitors):
                other = np.zeros(A.size, dtype=bool)
                other[rng.choice(A.size, size=count, replace=False)] = True
                check_at_most(measured, np.sum(A.ravel()[~other] ** 2) * (1 + 1e-12),
                              name=f"{name}, keep {keep}: magnitude pruning vs a random mask")
    return worst


@register("magnitude_pruning_error_exact", notebook="41_approximation",
          statement="magnitude pruning keeping s entries has ||A - A_s||_F^2 = sum of the squared pruned entries, "
                    "the least over all masks keeping s entries",
          source="direct computation (the Frobenius norm is a sum over entries)")
def check_pruning(quick: bool) -> dict:
    matrices = _matrices(quick)
    keeps = (0.0, 0.1, 0.3, 0.5, 0.9, 1.0)
    worst = compare_pruning(matrices, keeps, competitors=10 if quick else 50)
    return {"predicted": "sum of pruned squares (= best mask)",
            "measured": f"max relative deviation {worst:.1e}; random masks never better"}


#: Ranks and kept fractions of the compression curves (quick, full).
COMPRESSION_GRID = {True: {"svd": (1, 2, 4, 8, 16, 32), "data_svd": (1, 2, 4, 8, 16),
                           "prune": (0.05, 0.1, 0.2, 0.4, 0.7, 1.0)},
                    False: {"svd": (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64), "data_svd": (1, 2, 3, 4, 6, 8, 12, 16),
                            "prune": (0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.7, 0.85, 1.0)}}


def compression_curves(quick: bool) -> dict[tuple[int, str], CompressionCurve]:
    """The compression curves of notebook 41: each hidden weight (layers 0, 1) of the manifold MLP,
    compressed by "svd", "data_svd" and "prune" over :data:`COMPRESSION_GRID` (ranks capped at, and
    always including, the layer's full rank), measured on test inputs.
    Cached per mode and grid within the process (the notebook and its check share them)."""
    key = (quick, tuple((m, tuple(a)) for m, a in COMPRESSION_GRID[quick].items()))
    if key not in _CURVE_CACHE:
        model, X, _ = _cached_mlp(quick)
        curves = {}
        for layer in (0, 1):
            full_rank = min(_linears(model)[layer].weight.shape)
            for method, amounts in COMPRESSION_GRID[quick].items():
                if method != "prune":  # ranks up to the layer's full rank, which is always included
                    amounts = sorted({int(a) for a in amounts if a <= full_rank} | {full_rank})
                curves[(layer, method)] = compression_curve(model, X, layer, method, amounts)
        _CURVE_CACHE[key] = curves
    return dict(_CURVE_CACHE[key])


def compare_bound(curves: dict[tuple[int, str], CompressionCurve], model: nn.Module, X) -> float:
    """Raise CheckFailed unless every curve's largest function error is at most its perturbation bound,
    the weight errors match their exact predictions, and nothing changes when everything is kept.
    Returns the smallest ratio bound / measured max error (how tight the bound gets)."""
    tightest = math.inf
    for (layer, method), c in curves.items():
        label = f"layer {layer}, {method}"
        check_at_most(c.max_error, c.bound * (1 + 1e-9) + 1e-12, name=f"{label}: max |f - f'| vs the bound")
        scale = max(float(c.predicted_weight_error.max()), 1.0)
        check_close(c.weight_error, c.predicted_weight_error, rtol=1e-8, atol=1e-10 * scale,
                    name=f"{label}: weight error vs its exact prediction")
        full = c.amounts == (1.0 if method == "prune" else min(_linears(model)[layer].weight.shape))
        check_close(c.max_error[full], 0.0, atol=1e-9, name=f"{label}: nothing kept out, no change")
        moved = c.max_error > 1e-9
        if np.any(moved):
            tightest = min(tightest, float(np.min(c.bound[moved] / c.max_error[moved])))
    return tightest


def plot_compression_curves(curves: dict[tuple[int, str], CompressionCurve]):
    """Function error (RMS over the inputs, solid) and the perturbation bound (its max, dotted) against the
    kept rank, one panel per layer, and against the kept fraction of entries (last panel). Exact zeros
    (everything kept) are not drawn on the log axis. Returns the figure."""
    import matplotlib.pyplot as plt

    layers = sorted({layer for layer, _ in curves})
    fig, axes = plt.subplots(1, len(layers) + 1, figsize=(4.6 * (len(layers) + 1), 3.6))

    def positive(v):
        return np.where(np.asarray(v) > 1e-12, v, np.nan)

    for (layer, method), c in sorted(curves.items()):
        ax = axes[-1] if method == "prune" else axes[layers.index(layer)]
        label = f"W{layer + 1}" if method == "prune" else method
        line, = ax.semilogy(c.amounts, positive(c.function_error), "o-", label=f"{label}: RMS |f - f'|")
        ax.semilogy(c.amounts, positive(c.bound), ":", color=line.get_color(), label=f"{label}: bound (max over x)")
    for layer, ax in zip(layers, axes):
        ax.set(xlabel="kept rank k", title=f"W{layer + 1}: low rank")
    axes[0].set_ylabel("function error")
    axes[-1].set(xlabel="kept fraction of entries", title="magnitude pruning")
    for ax in axes:
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


@register("compressed_mlp_error_bound", notebook="41_approximation",
          statement="compressing one weight W_l of a ReLU MLP moves the output by at most prod_{j>l} ||W_j||_2 "
                    "||Delta h_{l-1}(x)|| (measured on the manifold MLP, truncated SVD and magnitude pruning)",
          source="1-Lipschitz ReLU and submultiplicative norms; cf. Arora et al. ICML 2018, sec. 3")
def check_compressed_bound(quick: bool) -> dict:
    model, X, _ = _cached_mlp(quick)
    curves = compression_curves(quick)
    tightest = compare_bound(curves, model, X)
    return {"predicted": "max |f - f'| <= bound, exact weight errors",
            "measured": f"bound holds on every curve; tightest at {tightest:.1f}x the measured max error",
            "figure": save_figure(plot_compression_curves(curves), "compressed_mlp_error_bound")}
