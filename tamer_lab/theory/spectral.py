"""Norm and spectral generalization measures of networks, from their weight matrices.

Notation. A network is a chain x -> σ_L(A_L σ_{L−1}(... σ_1(A_1 x))) with weight matrices A_i of shape
(d_i, d_{i−1}) (PyTorch's ``nn.Linear.weight`` layout: rows are output units) and ρ_i-Lipschitz
activations with σ_i(0) = 0 (ρ_i = 1 for ReLU). Optional reference matrices M_i of the same shapes
(e.g. the pre-trained or initial weights; zero when absent) measure how far training moved.

Spectral complexity (Bartlett, Foster, Telgarsky, "Spectrally-normalized margin bounds for neural
networks", NeurIPS 2017, eq. (1.2)):

    R_A = (Π_i ρ_i ‖A_i‖_σ) · (Σ_i ‖A_i^T − M_i^T‖_{2,1}^{2/3} / ‖A_i‖_σ^{2/3})^{3/2},

where ‖·‖_σ is the spectral norm and, as the paper defines it, ‖B‖_{p,q} = ‖(‖B_{:,1}‖_p, ...,
‖B_{:,m}‖_p)‖_q: the q-norm of the p-norms of the *columns*. The columns of A^T − M^T are the rows of
A − M, so ‖A^T − M^T‖_{2,1} = Σ_units ‖(A − M)_{unit,:}‖_2, the sum over output units of the ℓ2 distance
of their incoming weights (:func:`norm_21_of_transpose`).

Margin bound (:func:`spectral_margin_bound`) from the paper's Lemma 3.1 and Theorem 3.3 and Dudley's
entropy integral; the derivation and the constants we could and could not confirm are in its
docstring. Other measures (each a float): :func:`spectral_product` Π‖A_i‖_σ (the Lipschitz constant of
the chain for 1-Lipschitz activations), :func:`frobenius_product` Π‖A_i‖_F (Neyshabur, Tomioka, Srebro,
COLT 2015; "prod-of-fro" in Jiang et al., "Fantastic generalization measures and where to find them",
ICLR 2020) and :func:`distance_from_reference` Σ‖A_i − M_i‖_F² (Jiang et al.'s distance from
initialization; the quantity that L2-SP penalises and that the fine-tuning bounds of Gouk, Hospedales,
Pontil, ICLR 2021, and Li & Zhang, NeurIPS 2021, are stated in, per layer). :func:`linear_layers`
collects (weight, reference) pairs from any ``nn.Module``; :func:`spearman` ranks a measure against
observed generalization gaps.

These bounds are numerically vacuous (≫ 1) on real networks; the lab uses them for their scaling and
for ranking models (see :mod:`tamer_lab.theory.norms_toy`).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from numpy.typing import ArrayLike, NDArray
from torch import nn

from .rademacher import ramp_loss

__all__ = [
    "SpectralMarginBound",
    "distance_from_reference",
    "frobenius_product",
    "linear_layers",
    "multiclass_margins",
    "norm_21_of_transpose",
    "power_iteration",
    "spearman",
    "spectral_complexity",
    "spectral_margin_bound",
    "spectral_norm",
    "spectral_product",
]

_GRAM_MAX_DIM = 2048  # above this smaller side, "auto" switches from the Gram eigenvalue to power iteration


def _matrix(A, label: str = "matrix") -> torch.Tensor:
    """A finite 2-D float64 CPU tensor, or a ValueError saying what was wrong."""
    t = A.detach() if isinstance(A, torch.Tensor) else torch.as_tensor(np.asarray(A, dtype=float))
    t = t.to(device="cpu", dtype=torch.float64)
    if t.ndim != 2 or t.shape[0] < 1 or t.shape[1] < 1:
        raise ValueError(f"{label} must be a non-empty 2-D matrix, got shape {tuple(t.shape)}.")
    if not torch.isfinite(t).all():
        raise ValueError(f"{label} contains NaN or infinite values.")
    return t


def _weights(weights: Sequence) -> list[torch.Tensor]:
    if isinstance(weights, (torch.Tensor, np.ndarray)) or len(weights) == 0:
        raise ValueError("weights must be a non-empty list of 2-D weight matrices (one per layer).")
    return [_matrix(w, f"weights[{i}]") for i, w in enumerate(weights)]


def _references(references: Sequence | None, weights: list[torch.Tensor]) -> list[torch.Tensor]:
    """The reference matrices, zeros where absent, each checked against its weight's shape."""
    if references is None:
        return [torch.zeros_like(w) for w in weights]
    if isinstance(references, (torch.Tensor, np.ndarray)) or len(references) != len(weights):
        raise ValueError(
            f"references must be a list with one matrix (or None) per weight matrix ({len(weights)}), "
            f"got {type(references).__name__} of length {len(references) if hasattr(references, '__len__') else '?'}."
        )
    out = []
    for i, (w, m) in enumerate(zip(weights, references)):
        if m is None:
            out.append(torch.zeros_like(w))
            continue
        m = _matrix(m, f"references[{i}]")
        if m.shape != w.shape:
            raise ValueError(
                f"references[{i}] has shape {tuple(m.shape)} but weights[{i}] has shape {tuple(w.shape)}; "
                "a reference must match its weight matrix."
            )
        out.append(m)
    return out


def _lipschitz(lipschitz: float | Sequence[float], count: int) -> list[float]:
    values = [lipschitz] * count if np.isscalar(lipschitz) else list(lipschitz)
    if len(values) != count or not all(
        isinstance(v, (int, float, np.integer, np.floating)) and math.isfinite(v) and v > 0 for v in values
    ):
        raise ValueError(
            f"lipschitz must be a positive number or one positive number per layer ({count}), got {lipschitz!r}."
        )
    return [float(v) for v in values]


def power_iteration(A, *, tol: float = 1e-10, max_iter: int = 5000, seed: int = 0) -> float:
    """Largest singular value of ``A`` by power iteration on AᵀA from a seeded random start.

    Every iterate ‖A v‖ (‖v‖ = 1) is a lower bound on ‖A‖_σ that increases to it; iteration stops when
    the relative change of the estimate falls below ``tol`` (a stopping rule, not a certified error:
    convergence is geometric in (σ_2/σ_1)², slow when the top two singular values are close).
    """
    M = _matrix(A)
    if not (tol > 0 and isinstance(max_iter, (int, np.integer)) and max_iter >= 1):
        raise ValueError(f"tol must be > 0 and max_iter an integer >= 1, got tol={tol!r}, max_iter={max_iter!r}.")
    gen = torch.Generator().manual_seed(seed)
    v = torch.randn(M.shape[1], generator=gen, dtype=torch.float64)
    v /= v.norm()
    estimate = 0.0
    for _ in range(max_iter):
        Av = M @ v
        new = float(Av.norm())
        w = M.T @ Av
        norm = float(w.norm())
        if norm == 0.0:  # v in the null space (or A = 0)
            return new
        v = w / norm
        if abs(new - estimate) <= tol * new:
            return new
        estimate = new
    return float((M @ v).norm())


def spectral_norm(A, *, method: str = "auto") -> float:
    """‖A‖_σ, the largest singular value.

    ``method``: ``"svd"`` (torch.linalg.matrix_norm with ord=2), ``"gram"`` (sqrt of the largest
    eigenvalue of the smaller of AAᵀ, AᵀA: much faster than an SVD for wide matrices and accurate to
    rounding for the top singular value), ``"power"`` (:func:`power_iteration`) or ``"auto"`` (gram
    up to a smaller side of 2048, power iteration above).
    """
    M = _matrix(A)
    if method == "auto":
        method = "gram" if min(M.shape) <= _GRAM_MAX_DIM else "power"
    if method == "svd":
        return float(torch.linalg.matrix_norm(M, ord=2))
    if method == "gram":
        G = M @ M.T if M.shape[0] <= M.shape[1] else M.T @ M
        return math.sqrt(max(float(torch.linalg.eigvalsh(G)[-1]), 0.0))
    if method == "power":
        return power_iteration(M)
    raise ValueError(f"method must be 'auto', 'svd', 'gram' or 'power', got {method!r}.")


def norm_21_of_transpose(A) -> float:
    """‖Aᵀ‖_{2,1} in Bartlett et al.'s notation: Σ_rows ‖A_{r,:}‖_2 for A stored (out, in).

    (‖B‖_{2,1} sums the ℓ2 norms of the columns of B; the columns of Aᵀ are the rows of A.)
    """
    return float(_matrix(A).norm(dim=1).sum())


def spectral_complexity(
    weights: Sequence,
    references: Sequence | None = None,
    *,
    lipschitz: float | Sequence[float] = 1.0,
    log: bool = False,
) -> float:
    """Bartlett-Foster-Telgarsky spectral complexity R_A of a chain of weight matrices.

    R_A = (Π_i ρ_i s_i) · (Σ_i (b_i / s_i)^{2/3})^{3/2} with s_i = ‖A_i‖_σ, b_i = ‖A_i^T − M_i^T‖_{2,1}
    (:func:`norm_21_of_transpose` of A_i − M_i), M_i the references (zero if None) and ρ_i = ``lipschitz``
    (1 for ReLU). It is computed in the equivalent form (Π ρ_i) · (Σ_i (b_i Π_{j≠i} s_j)^{2/3})^{3/2}, in
    logarithms, so that it is defined when some A_i = 0. ``log=True`` returns ln R_A (−inf for 0), which
    stays finite for deep networks whose R_A exceeds the float range (then R_A itself is returned as inf).
    With a single layer it is ρ_1 ‖A_1^T − M_1^T‖_{2,1}; with references equal to the weights it is 0.
    """
    W = _weights(weights)
    M = _references(references, W)
    rho = _lipschitz(lipschitz, len(W))
    with np.errstate(divide="ignore"):
        log_s = np.log([spectral_norm(w) for w in W])
        log_b = np.log([norm_21_of_transpose(w - m) for w, m in zip(W, M)])
    # log of b_i Π_{j≠i} s_j, times 2/3 (a zero matrix gives −inf, i.e. a vanishing term)
    terms = np.array([log_b[i] + np.delete(log_s, i).sum() for i in range(len(W))]) * (2.0 / 3.0)
    if np.all(np.isneginf(terms)):
        return -math.inf if log else 0.0
    top = terms.max()
    log_r = 1.5 * (top + math.log(np.exp(terms - top).sum())) + float(np.sum(np.log(rho)))
    if log:
        return float(log_r)
    return math.exp(log_r) if log_r < math.log(np.finfo(float).max) else math.inf


def spectral_product(weights: Sequence) -> float:
    """Π_i ‖A_i‖_σ: the Lipschitz constant bound of the chain for 1-Lipschitz activations."""
    return float(math.prod(spectral_norm(w) for w in _weights(weights)))


def frobenius_product(weights: Sequence) -> float:
    """Π_i ‖A_i‖_F (Neyshabur, Tomioka, Srebro, COLT 2015; "prod-of-fro" in Jiang et al., ICLR 2020)."""
    return float(math.prod(float(w.norm()) for w in _weights(weights)))


def distance_from_reference(weights: Sequence, references: Sequence | None = None) -> float:
    """Σ_i ‖A_i − M_i‖_F², the squared Frobenius distance to the reference weights (zero if None).

    With the pre-trained weights as reference this is what L2-SP penalises; with the initial weights it
    is the distance-from-initialization measure of Jiang et al. (ICLR 2020); Gouk et al. (ICLR 2021) and
    Li & Zhang (NeurIPS 2021) bound fine-tuned networks by per-layer versions of this distance.
    """
    W = _weights(weights)
    M = _references(references, W)
    return float(sum(float(((w - m) ** 2).sum()) for w, m in zip(W, M)))


def multiclass_margins(logits, labels) -> NDArray[np.float64]:
    """M(f(x_i), y_i) = f(x_i)_{y_i} − max_{j ≠ y_i} f(x_i)_j for each row of ``logits`` (n, k), k ≥ 2."""
    z = _matrix(logits, "logits")
    y = torch.as_tensor(labels.detach().cpu() if isinstance(labels, torch.Tensor) else np.asarray(labels))
    n, k = z.shape
    if k < 2:
        raise ValueError(f"logits need at least 2 classes (columns), got shape {tuple(z.shape)}.")
    if y.shape != (n,) or y.dtype.is_floating_point and not torch.all(y == y.round()):
        raise ValueError(f"labels must be n = {n} integer class indices, got shape {tuple(y.shape)}.")
    y = y.long()
    if y.numel() and (y.min() < 0 or y.max() >= k):
        raise ValueError(f"labels must lie in 0..{k - 1}, got range [{int(y.min())}, {int(y.max())}].")
    own = z.gather(1, y[:, None])[:, 0]
    others = z.masked_fill(torch.nn.functional.one_hot(y, k).bool(), -math.inf).max(dim=1).values
    return (own - others).numpy()


@dataclass(frozen=True)
class SpectralMarginBound:
    """The terms of the spectral margin bound: test error ≤ ``bound`` with probability ≥ 1 − ``delta``.

    ``bound = empirical_ramp_risk + constant_term + complexity_term + confidence_term`` (not clipped;
    :attr:`clipped` caps it at 1). ``width`` is W = max(d, d_1, ..., d_L), ``data_norm`` is ‖X‖_F.
    """

    empirical_ramp_risk: float
    constant_term: float
    complexity_term: float
    confidence_term: float
    bound: float
    spectral_complexity: float
    data_norm: float
    width: int
    n: int
    gamma: float
    delta: float

    @property
    def clipped(self) -> float:
        """The bound capped at 1."""
        return min(self.bound, 1.0)


def spectral_margin_bound(
    margins: ArrayLike,
    X,
    weights: Sequence,
    references: Sequence | None = None,
    *,
    gamma: float,
    delta: float = 0.05,
    lipschitz: float | Sequence[float] = 1.0,
) -> SpectralMarginBound:
    """Spectrally-normalized margin bound on the 0-1 test error of a ReLU chain, explicit constants.

    ``margins[i] = F(x_i)_{y_i} − max_{j≠y_i} F(x_i)_j`` on the training inputs ``X`` (n, d) (see
    :func:`multiclass_margins`); ``weights`` is the chain A_1 (d_1, d), ..., A_L (k, d_{L−1}) (biases are
    not covered: fold them in with a constant input feature). Returns

        error ≤ R̂_γ + 8/n + 48 ‖X‖_F sqrt(ln(2W²)) R_A ln(n) / (γ n) + 3 sqrt(ln(1/δ) / (2n)),

    with R̂_γ the mean ramp loss of the margins at scale γ, R_A :func:`spectral_complexity` and
    W = max(d, d_1, ..., d_L). Derivation (confirmed against the paper's text: Lemma 3.1 and Theorem 3.3
    of Bartlett, Foster, Telgarsky 2017):

    1. Lemma 3.1: error ≤ R̂_γ(f) + 2 ℜ(F_γ|S) + 3 sqrt(ln(1/δ)/(2n)) for all f in a class F, where F_γ
       composes the ramp loss with the margin operator.
    2. Theorem 3.3: ln N({F_A(Xᵀ)}, ε, ‖·‖_2) ≤ ‖X‖_F² ln(2W²) R²/ε² for networks with ‖A_i‖_σ ≤ s_i and
       ‖A_i^T − M_i^T‖_{2,1} ≤ b_i, R = (Π ρ_j s_j)(Σ (b_i/s_i)^{2/3})^{3/2}. The margin operator is
       2-Lipschitz and the ramp 1/γ-Lipschitz, so ln N(F_γ|S, ε) ≤ C²/ε² with C = 2‖X‖_F sqrt(ln(2W²)) R/γ.
    3. Dudley's entropy integral in the form ℜ ≤ inf_α 4α/sqrt(n) + (12/n) ∫_α^{sqrt n} sqrt(ln N) dε
       (the paper's appendix Lemma A.5 as we read it; not confirmed against its text) at α = 1/sqrt(n)
       gives ℜ(F_γ|S) ≤ 4/n + 12 C ln(n)/n; twice this is the 8/n and complexity terms.

    The budgets (s_i, b_i) and γ must be fixed before seeing the data; evaluating at the network's own
    norms, as here, is what the paper's Theorem 1.1 licenses after a union bound over budgets and
    margins, which adds logarithmic terms (its appendix; the full statement with explicit constants, read
    elsewhere as 8/n + 72 ‖X‖_F R_A ln(2W) ln(n)/(γn) + 3 sqrt(ln(1/δ)/(2n)) plus union-bound terms, could
    not be confirmed and is not implemented). For W ≥ 2, 48 sqrt(ln(2W²)) ≤ 72 ln(2W), so our term is
    never larger than that reading's. Treat the result as the fixed-budget bound at the observed norms.
    """
    W = _weights(weights)
    x = _matrix(X, "X")
    n, d = x.shape
    if W[0].shape[1] != d:
        raise ValueError(f"X has {d} features but weights[0] expects {W[0].shape[1]} inputs.")
    for i in range(1, len(W)):
        if W[i].shape[1] != W[i - 1].shape[0]:
            raise ValueError(
                f"weights[{i}] expects {W[i].shape[1]} inputs but weights[{i - 1}] has {W[i - 1].shape[0]} "
                "outputs; the bound needs a chain of layers (x -> A_1 x -> ... -> A_L h)."
            )
    m = np.asarray(margins, dtype=float)
    if m.shape != (n,) or not np.all(np.isfinite(m)):
        raise ValueError(f"margins must be {n} finite numbers (one per row of X), got shape {m.shape}.")
    if not (isinstance(gamma, (int, float, np.integer, np.floating)) and math.isfinite(gamma) and gamma > 0):
        raise ValueError(f"gamma must be a positive finite number, got {gamma!r}.")
    if not (isinstance(delta, (int, float, np.floating)) and 0.0 < delta < 1.0):
        raise ValueError(f"delta must lie strictly between 0 and 1 (e.g. 0.05), got {delta!r}.")
    r_a = spectral_complexity(W, references, lipschitz=lipschitz)
    width = max([d] + [w.shape[0] for w in W])
    data_norm = float(x.norm())
    ramp = float(ramp_loss(m, gamma).mean())
    constant = 8.0 / n
    complexity = 48.0 * data_norm * math.sqrt(math.log(2.0 * width**2)) * r_a * math.log(n) / (gamma * n)
    confidence = 3.0 * math.sqrt(math.log(1.0 / delta) / (2.0 * n))
    return SpectralMarginBound(ramp, constant, complexity, confidence, ramp + constant + complexity + confidence,
                               r_a, data_norm, int(width), int(n), float(gamma), float(delta))


def linear_layers(model: nn.Module, reference: nn.Module | None = None) -> list[tuple[torch.Tensor, torch.Tensor | None]]:
    """(weight, reference weight) pairs of every ``nn.Linear`` in ``model``, in module order.

    The weights are detached views (no copy). With ``reference`` (e.g. the pre-trained model before
    fine-tuning) the pairs match by module name, and every name and shape must agree; without it the
    second entry is None (a zero reference). Biases, embeddings, normalisation layers and non-Linear
    modules (e.g. GPT-2's Conv1D) are not collected.

    For an MLP built from ``nn.Sequential`` the module order is the chain order the bounds assume. For
    Hugging Face BERT-like encoders the list holds every attention (query, key, value, output) and
    feed-forward matrix of every layer plus the head: these do not form a chain (attention multiplies
    activations together, residual connections and layer norms add paths), so the chain hypothesis of
    :func:`spectral_margin_bound` fails and :func:`spectral_complexity` and the other measures are then
    only numbers for ranking models, not bounds.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch nn.Module, got {type(model).__name__}.")
    mine = [(name, mod) for name, mod in model.named_modules() if isinstance(mod, nn.Linear)]
    if not mine:
        raise ValueError(f"{type(model).__name__} has no nn.Linear layers to collect.")
    if reference is None:
        return [(mod.weight.detach(), None) for _, mod in mine]
    if not isinstance(reference, nn.Module):
        raise TypeError(f"reference must be a torch nn.Module or None, got {type(reference).__name__}.")
    theirs = {name: mod for name, mod in reference.named_modules() if isinstance(mod, nn.Linear)}
    missing = [name for name, _ in mine if name not in theirs]
    extra = sorted(set(theirs) - {name for name, _ in mine})
    if missing or extra:
        raise ValueError(
            f"reference does not have the same linear layers as model: missing {missing[:3]}, extra {extra[:3]}; "
            "pass the same architecture (e.g. the pre-trained model before fine-tuning)."
        )
    pairs = []
    for name, mod in mine:
        ref = theirs[name]
        if ref.weight.shape != mod.weight.shape:
            raise ValueError(
                f"layer {name!r}: model weight has shape {tuple(mod.weight.shape)} but the reference's has "
                f"{tuple(ref.weight.shape)}; the reference must have matching shapes."
            )
        pairs.append((mod.weight.detach(), ref.weight.detach()))
    return pairs


def _average_ranks(a: NDArray[np.float64]) -> NDArray[np.float64]:
    """Ranks 1..n, ties sharing the average of the ranks they span."""
    order = np.argsort(a, kind="mergesort")
    ranks = np.empty(a.size)
    sorted_a = a[order]
    start = 0
    while start < a.size:
        stop = start
        while stop + 1 < a.size and sorted_a[stop + 1] == sorted_a[start]:
            stop += 1
        ranks[order[start:stop + 1]] = (start + stop) / 2.0 + 1.0
        start = stop + 1
    return ranks


def spearman(x: ArrayLike, y: ArrayLike) -> float:
    """Spearman's rank correlation: Pearson's correlation of the average ranks (ties share ranks).

    Raises ValueError for fewer than 2 points, different lengths, NaN, or a constant input (where the
    correlation is undefined).
    """
    a, b = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if a.ndim != 1 or a.shape != b.shape or a.size < 2:
        raise ValueError(f"x and y must be 1-D of the same length >= 2, got shapes {a.shape} and {b.shape}.")
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        raise ValueError("x and y must be finite (no NaN or inf).")
    ra, rb = _average_ranks(a), _average_ranks(b)
    ra, rb = ra - ra.mean(), rb - rb.mean()
    denom = math.sqrt(float((ra * ra).sum() * (rb * rb).sum()))
    if denom == 0.0:
        raise ValueError("a constant input has no ranking; Spearman's correlation is undefined.")
    return float((ra * rb).sum() / denom)
