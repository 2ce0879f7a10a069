"""Approximation with ReLU networks: Yarotsky's sawtooth construction of x² (exact error 2^(-2m-2)).

Yarotsky, "Error bounds for approximations with deep ReLU networks", Neural Networks 94 (2017),
Proposition 2. The tent map g(x) = 2x on [0, 1/2], 2(1 - x) on [1/2, 1] is a ReLU network with
three units, g(x) = 2σ(x) - 4σ(x - 1/2) + 2σ(x - 1). Its s-fold composition g_s is a sawtooth with
2^(s-1) teeth, and

    f_m(x) = x - Σ_{s=1}^{m} g_s(x) / 2^(2s)

is the piecewise-linear interpolant of x² at the 2^m + 1 points k/2^m, so
sup_{x in [0,1]} |x² - f_m(x)| = 2^(-2m-2) exactly, attained at the midpoints (2k+1)/2^(m+1).
The network has depth m + 1 and O(m) units: the error falls exponentially with depth.

Width (one hidden layer). A one-hidden-layer ReLU net on the line is continuous and piecewise linear
with at most w + 1 pieces, and every continuous piecewise-linear function with knots
a = x_0 < ... < x_w = b is such a net of width w on [a, b]. With uniform knots, h = (b - a)/w:

* the interpolant I_w f has sup error ≤ h² max|f''| / 8; for f = x² on [0, 1] it is exactly 1/(4w²);
* the L2 projection P_w f (least squares over the output layer, inner layer fixed at the knots)
  has ‖f - P_w f‖ ≤ ‖f - I_w f‖; for x² on [0, 1], P_w x² = I_w x² - h²/6 and the L2 error is
  exactly 1/(√180 w²) (the interpolant's is 1/(√30 w²)).

Depth against width. The best sup approximation of x² on an interval of length ℓ by a line has error
exactly ℓ²/8 (Chebyshev equioscillation); a function that is linear on k pieces of [0, 1] has a piece
of length ≥ 1/k, so its sup error is at least 1/(8k²), and the interpolant shifted down by 1/(8k²)
attains it. A shallow net of width w has at most w + 1 pieces, so reaching Yarotsky's 4^(-m-1) needs
w ≥ 2^(m - 1/2) - 1 units, against 4m units for the deep net.

Manifold regression: trained ReLU nets and k-NN on data from a d-dimensional torus embedded in R^D
(``tamer_lab.data.toy.manifold``) with a target of Sobolev smoothness β; the error's rate in n is set
by d, not D (Chen, Jiang, Liao, Zhao 2019; Kpotufe 2011): see :func:`manifold_rates`.
"""
from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .checks import register, save_figure
from .rates import (
    CheckFailed,
    SlopeFit,
    check_at_most,
    check_close,
    check_rate,
    fit_slope,
)

__all__ = [
    "MANIFOLD_TOLERANCES",
    "MAX_FREQUENCY",
    "WIDTH_EXPONENT",
    "WIDTH_TARGETS",
    "DepthVsWidth",
    "ManifoldCurve",
    "ManifoldRates",
    "ManifoldSettings",
    "ShallowReLU",
    "TorusField",
    "WidthRate",
    "YarotskySquare",
    "best_line_error",
    "chebyshev_square",
    "compare_manifold_rates",
    "count_linear_pieces",
    "count_teeth",
    "depth_vs_width",
    "fit_relu_regressor",
    "hidden_units",
    "knn_regressor",
    "l2_error",
    "manifold_rates",
    "manifold_regression_data",
    "plot_depth_vs_width",
    "plot_manifold_rates",
    "plot_width_rates",
    "predicted_manifold_exponent",
    "random_knot_least_squares",
    "random_shallow_net",
    "relu_interpolant",
    "relu_least_squares",
    "sawtooth",
    "shallow_pieces_needed",
    "sobolev_field",
    "square_pieces_lower_bound",
    "sup_error",
    "tent",
    "train_shallow_relu",
    "width_rate",
    "yarotsky_square",
    "yarotsky_sup_error",
]


def tent(x):
    """g(x) = 2σ(x) - 4σ(x - 1/2) + 2σ(x - 1): the tent map on [0, 1] as a ReLU combination."""
    relu = (lambda t: torch.relu(t)) if torch.is_tensor(x) else (lambda t: np.maximum(t, 0.0))
    return 2 * relu(x) - 4 * relu(x - 0.5) + 2 * relu(x - 1.0)


def sawtooth(x, s: int):
    """g_s = g ∘ ... ∘ g (s times): a sawtooth with 2^(s-1) teeth on [0, 1]."""
    if s < 0:
        raise ValueError(f"s must be >= 0, got {s}")
    for _ in range(s):
        x = tent(x)
    return x


def yarotsky_square(x, m: int):
    """f_m(x) = x - Σ_{s=1}^m g_s(x)/4^s, the approximation of x² on [0, 1] with m sawtooth layers."""
    if m < 0:
        raise ValueError(f"m must be >= 0, got {m}")
    out, g = x, x
    for s in range(1, m + 1):
        g = tent(g)
        out = out - g / 4.0 ** s
    return out


class YarotskySquare(nn.Module):
    """f_m as an explicit ReLU network (Linear and ReLU layers) of depth m + 1 and width 4.

    Each hidden layer carries (x_running, g's three ReLU units) forward; the weights are set by hand.
    """

    def __init__(self, m: int):
        super().__init__()
        if m < 1:
            raise ValueError(f"m must be >= 1, got {m}")
        self.m = m
        layers = []
        first = nn.Linear(1, 4)  # units: σ(x), σ(x - 1/2), σ(x - 1), σ(x) (x itself on [0, 1])
        with torch.no_grad():
            first.weight.copy_(torch.tensor([[1.0], [1.0], [1.0], [1.0]]))
            first.bias.copy_(torch.tensor([0.0, -0.5, -1.0, 0.0]))
        layers += [first, nn.ReLU()]
        for s in range(1, m):
            lin = nn.Linear(4, 4)  # g_s = 2a - 4b + 2c from the previous units; running = prev - g_s / 4^s
            g = torch.tensor([2.0, -4.0, 2.0, 0.0])
            with torch.no_grad():
                lin.weight.copy_(torch.stack([g, g, g, torch.tensor([0.0, 0.0, 0.0, 1.0]) - g / 4.0 ** s]))
                lin.bias.copy_(torch.tensor([0.0, -0.5, -1.0, 0.0]))
            layers += [lin, nn.ReLU()]
        last = nn.Linear(4, 1)
        g = torch.tensor([2.0, -4.0, 2.0, 0.0])
        with torch.no_grad():
            last.weight.copy_((torch.tensor([0.0, 0.0, 0.0, 1.0]) - g / 4.0 ** m).unsqueeze(0))
            last.bias.zero_()
        layers.append(last)
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def yarotsky_sup_error(m: int, *, points: int = 2 ** 14 + 1) -> float:
    """sup |x² - f_m(x)| over a uniform grid on [0, 1] that contains every midpoint (2k+1)/2^(m+1)."""
    if (points - 1) % 2 ** (m + 1):
        raise ValueError(f"points - 1 must be a multiple of 2^(m+1) = {2 ** (m + 1)} so the grid holds the maximisers")
    x = np.linspace(0.0, 1.0, points)
    return float(np.max(np.abs(x ** 2 - yarotsky_square(x, m))))


@register("sawtooth_square_error_exact", notebook="41_approximation",
          statement="Yarotsky's sawtooth net with m layers approximates x^2 on [0,1] with sup error exactly 2^(-2m-2)",
          source="Yarotsky, Neural Networks 2017, Prop. 2")
def check_sawtooth(quick: bool) -> dict:
    ms = range(1, 7 if quick else 11)
    errs = {m: yarotsky_sup_error(m, points=2 ** 13 + 1) for m in ms}
    worst = max(ms, key=lambda m: abs(errs[m] / 2.0 ** (-2 * m - 2) - 1))
    rel = abs(errs[worst] / 2.0 ** (-2 * worst - 2) - 1)
    if rel > 1e-9:
        raise CheckFailed(f"m={worst}: sup error {errs[worst]:.3e} vs 2^(-2m-2) = {2.0 ** (-2 * worst - 2):.3e}",
                          measured=errs[worst], predicted=2.0 ** (-2 * worst - 2))
    net = YarotskySquare(max(ms))
    x = torch.linspace(0, 1, 1025, dtype=torch.float64).unsqueeze(1)
    gap = (net.double()(x).squeeze(1) - torch.as_tensor(yarotsky_square(x.squeeze(1).numpy(), max(ms)))).abs().max()
    if gap > 1e-12:
        raise CheckFailed(f"the explicit ReLU network differs from the formula by {gap:.2e}", measured=float(gap),
                          predicted=0.0)
    return {"predicted": f"2^(-2m-2) for m = 1..{max(ms)}", "measured": f"max relative deviation {rel:.1e}"}


# ------------------------------------------------------------------ one-hidden-layer nets on a line

def _relu_np(t):
    return np.maximum(t, 0.0)


@contextmanager
def _torch_threads(n: int):
    """Run small torch computations on ``n`` threads, then restore the setting. Tiny full-batch nets are
    as fast on one thread, and on a busy 2-core machine two threads ran 10x slower (measured)."""
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def _lstsq(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Least squares ``argmin ‖a x - b‖₂`` in float64, by torch's LAPACK on one thread: NumPy's
    multi-threaded BLAS ran up to 200x slower on a busy 2-core machine (measured)."""
    with _torch_threads(1):
        sol = torch.linalg.lstsq(torch.as_tensor(a, dtype=torch.float64),
                                 torch.as_tensor(b, dtype=torch.float64).unsqueeze(1), driver="gelsd").solution
    return sol.squeeze(1).numpy()


def _svd(A: np.ndarray, *, compute_uv: bool = True):
    """Thin SVD ``(U, s, Vᵀ)`` (or the singular values) in float64, by torch on one thread (see ``_lstsq``)."""
    with _torch_threads(1):
        t = torch.as_tensor(np.asarray(A, dtype=float))
        if not compute_uv:
            return torch.linalg.svdvals(t).numpy()
        u, sv, vt = torch.linalg.svd(t, full_matrices=False)
    return u.numpy(), sv.numpy(), vt.numpy()


def _interval(a: float, b: float) -> tuple[float, float]:
    a, b = float(a), float(b)
    if not (math.isfinite(a) and math.isfinite(b) and a < b):
        raise ValueError(f"need a finite interval a < b, got a={a!r}, b={b!r}")
    return a, b


def _positive_int(value, label: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{label} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _callable(f, label: str = "f"):
    if not callable(f):
        raise TypeError(f"{label} must be a function of a NumPy array (e.g. lambda x: x**2), got {f!r}")
    return f


@dataclass(frozen=True)
class ShallowReLU:
    """A one-hidden-layer ReLU network on the line, ``x ↦ c + Σ_i a_i σ(u_i x + v_i)``.

    ``inner_weight`` u, ``inner_bias`` v and ``outer_weight`` a have shape ``(width,)``; ``outer_bias``
    is c. Call it on a NumPy array (float64), or turn it into a torch module with :meth:`to_module`.
    """

    inner_weight: np.ndarray
    inner_bias: np.ndarray
    outer_weight: np.ndarray
    outer_bias: float

    def __post_init__(self) -> None:
        arrays = [np.asarray(getattr(self, k), dtype=float) for k in ("inner_weight", "inner_bias", "outer_weight")]
        if any(v.ndim != 1 for v in arrays) or len({v.shape for v in arrays}) != 1 or arrays[0].size == 0:
            raise ValueError("inner_weight, inner_bias and outer_weight must be non-empty 1-D arrays of one length, "
                             f"got shapes {[v.shape for v in arrays]}")
        if not all(np.all(np.isfinite(v)) for v in arrays) or not math.isfinite(float(self.outer_bias)):
            raise ValueError("the weights of a ShallowReLU must be finite")
        for k, v in zip(("inner_weight", "inner_bias", "outer_weight"), arrays):
            object.__setattr__(self, k, v)
        object.__setattr__(self, "outer_bias", float(self.outer_bias))

    @property
    def width(self) -> int:
        """The number of hidden units."""
        return int(self.inner_weight.size)

    def __call__(self, x):
        x = np.asarray(x, dtype=float)
        return self.outer_bias + _relu_np(np.multiply.outer(x, self.inner_weight) + self.inner_bias) @ self.outer_weight

    def breakpoints(self, a: float = 0.0, b: float = 1.0, *, tol: float = 1e-12) -> np.ndarray:
        """The points of the open interval (a, b) where the slope changes, computed from the weights.

        Unit i bends at ``-v_i/u_i`` and changes the slope there by ``a_i·|u_i|``; units bending at the
        same point add up, and a point whose total change is below ``tol·Σ|a_i u_i|`` is not a break.
        """
        a, b = _interval(a, b)
        active = (self.inner_weight != 0) & (self.outer_weight != 0)
        where = -self.inner_bias[active] / self.inner_weight[active]
        jump = self.outer_weight[active] * np.abs(self.inner_weight[active])
        inside = (where > a) & (where < b)
        where, jump = where[inside], jump[inside]
        if where.size == 0:
            return where
        points, inverse = np.unique(where, return_inverse=True)
        total = np.bincount(inverse, weights=jump)
        scale = np.abs(self.outer_weight * self.inner_weight).sum()
        return points[np.abs(total) > tol * scale]

    def pieces(self, a: float = 0.0, b: float = 1.0, *, tol: float = 1e-12) -> int:
        """The number of linear pieces on [a, b]: breakpoints inside (a, b) plus one (at most width + 1).
        ``tol=0`` counts every bend with a non-zero slope change (the count to use in a lower bound)."""
        return int(self.breakpoints(a, b, tol=tol).size) + 1

    def to_module(self, dtype: torch.dtype = torch.float64) -> nn.Sequential:
        """The same function as ``Linear(1, width) → ReLU → Linear(width, 1)``."""
        first, last = nn.Linear(1, self.width), nn.Linear(self.width, 1)
        with torch.no_grad():
            first.weight.copy_(torch.as_tensor(self.inner_weight).unsqueeze(1))
            first.bias.copy_(torch.as_tensor(self.inner_bias))
            last.weight.copy_(torch.as_tensor(self.outer_weight).unsqueeze(0))
            last.bias.fill_(self.outer_bias)
        return nn.Sequential(first, nn.ReLU(), last).to(dtype)


def _knot_net(values: np.ndarray, a: float, b: float) -> ShallowReLU:
    """The continuous piecewise-linear function with the given values at w + 1 uniform knots of [a, b],
    as a width-w net: ``values[0] + Σ_{k<w} (s_k - s_{k-1}) σ(x - x_k)`` with slopes s_k (s_{-1} = 0)."""
    w = values.size - 1
    h = (b - a) / w
    slopes = np.diff(values) / h
    jumps = np.diff(slopes, prepend=0.0)
    knots = a + h * np.arange(w)
    return ShallowReLU(np.ones(w), -knots, jumps, float(values[0]))


def relu_interpolant(f, width: int, *, a: float = 0.0, b: float = 1.0) -> ShallowReLU:
    """The piecewise-linear interpolant of ``f`` at the ``width + 1`` uniform knots ``a + k(b - a)/width``,
    written as a one-hidden-layer ReLU net of width ``width`` (exact on [a, b]).

    Its sup error is at most ``h² max|f''| / 8`` with ``h = (b - a)/width``, with equality for
    quadratics: for ``f = x²`` on [0, 1] it is exactly ``1/(4 width²)``, attained at the midpoints.
    """
    f, width = _callable(f), _positive_int(width, "width")
    a, b = _interval(a, b)
    return _knot_net(np.asarray(f(np.linspace(a, b, width + 1)), dtype=float), a, b)


def _gauss_grid(a: float, b: float, intervals: int, nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """Composite Gauss-Legendre nodes and weights on ``intervals`` equal cells of [a, b]."""
    g, wt = np.polynomial.legendre.leggauss(nodes)
    h = (b - a) / intervals
    x = a + h * (np.arange(intervals)[:, None] + (g[None, :] + 1.0) / 2.0)
    return x.ravel(), np.broadcast_to(wt * h / 2.0, x.shape).ravel()


def relu_least_squares(f, width: int, *, a: float = 0.0, b: float = 1.0, nodes: int = 6) -> ShallowReLU:
    """The L2([a, b]) projection of ``f`` onto width-``width`` ReLU nets with the inner layer fixed at the
    uniform knots (only the output layer is fitted): least squares, solved in the well-conditioned hat
    basis with ``nodes`` Gauss points per knot interval (exact for polynomials of degree ≤ 2·nodes - 3).

    Its L2 error is at most the interpolant's; for ``f = x²`` on [0, 1] the projection is the
    interpolant minus ``h²/6`` and the error is exactly ``1/(√180 width²)``.
    """
    f, width = _callable(f), _positive_int(width, "width")
    nodes = _positive_int(nodes, "nodes", 2)
    a, b = _interval(a, b)
    x, wt = _gauss_grid(a, b, width, nodes)
    h = (b - a) / width
    knots = a + h * np.arange(width + 1)
    hats = np.maximum(0.0, 1.0 - np.abs(x[:, None] - knots[None, :]) / h)
    root = np.sqrt(wt)
    values = _lstsq(hats * root[:, None], np.asarray(f(x), dtype=float) * root)
    return _knot_net(values, a, b)


def sup_error(f, g, *, a: float = 0.0, b: float = 1.0, points: int = 2 ** 14 + 1) -> float:
    """``max |f - g|`` over ``points`` uniformly spaced points of [a, b] (endpoints included).

    A grid measures the sup from below; put the maximisers on it (e.g. ``points - 1`` a multiple of
    twice the number of knot intervals puts every knot and midpoint on the grid).
    """
    f, g = _callable(f), _callable(g, "g")
    a, b = _interval(a, b)
    x = np.linspace(a, b, _positive_int(points, "points", 2))
    return float(np.max(np.abs(np.asarray(f(x), dtype=float) - np.asarray(g(x), dtype=float))))


def l2_error(f, g, *, a: float = 0.0, b: float = 1.0, intervals: int = 1024, nodes: int = 6) -> float:
    """The root-mean-square error ``(∫_a^b (f - g)² dx / (b - a))^(1/2)`` by composite Gauss-Legendre
    quadrature on ``intervals`` equal cells (make the knots of a piecewise-linear ``g`` cell boundaries:
    ``intervals`` a multiple of the number of knot intervals; then the rule is exact for polynomials of
    degree ≤ 2·nodes - 1 on each cell). On [0, 1] this is the L2 norm.
    """
    f, g = _callable(f), _callable(g, "g")
    a, b = _interval(a, b)
    x, wt = _gauss_grid(a, b, _positive_int(intervals, "intervals"), _positive_int(nodes, "nodes", 2))
    r = np.asarray(f(x), dtype=float) - np.asarray(g(x), dtype=float)
    return float(np.sqrt(np.sum(wt * r * r) / (b - a)))


def _square(x):
    return x * x


def _sine(x):
    return np.sin(2 * np.pi * x)


#: Targets on [0, 1] for the width rates: name -> (f, max |f''| on [0, 1]).
WIDTH_TARGETS: dict[str, tuple[Callable, float]] = {"x^2": (_square, 2.0), "sin(2πx)": (_sine, 4 * np.pi ** 2)}


@dataclass(frozen=True)
class WidthRate:
    """Errors of width-w one-hidden-layer ReLU nets on [0, 1] against the width.

    ``sup_interpolant``/``l2_interpolant``: the uniform-knot interpolant; ``l2_least_squares``/
    ``sup_least_squares``: the output layer fitted by least squares; ``bound``: the interpolation bound
    ``max|f''| / (8 w²)``. ``fit_sup`` and ``fit_l2`` are the log-log slopes of the interpolant's sup
    error and of the least-squares L2 error (predicted: -2).
    """

    target: str
    widths: np.ndarray
    sup_interpolant: np.ndarray
    l2_interpolant: np.ndarray
    sup_least_squares: np.ndarray
    l2_least_squares: np.ndarray
    bound: np.ndarray
    fit_sup: SlopeFit
    fit_l2: SlopeFit


def width_rate(target: str, widths) -> WidthRate:
    """Measure the interpolant and the least-squares fit of ``target`` (a key of :data:`WIDTH_TARGETS`)
    at each width; sup errors on a grid holding every knot and midpoint, L2 errors by quadrature."""
    if target not in WIDTH_TARGETS:
        raise ValueError(f"unknown target {target!r}; choose one of {sorted(WIDTH_TARGETS)}")
    f, curvature = WIDTH_TARGETS[target]
    widths = np.array([_positive_int(w, "each width") for w in np.atleast_1d(widths)])
    if np.unique(widths).size < 3:
        raise ValueError(f"need at least 3 distinct widths to fit a rate, got {widths.tolist()}")
    rows = []
    for w in widths:
        interp, ls = relu_interpolant(f, int(w)), relu_least_squares(f, int(w))
        points = 2 * int(w) * max(1, 4096 // int(w)) + 1
        rows.append((sup_error(f, interp, points=points), l2_error(f, interp, intervals=int(w)),
                     sup_error(f, ls, points=points), l2_error(f, ls, intervals=int(w))))
    si, li, sl, ll = (np.array(c) for c in zip(*rows))
    return WidthRate(target, widths, si, li, sl, ll, curvature / (8.0 * widths ** 2),
                     fit_slope(widths, si, n_boot=0), fit_slope(widths, ll, n_boot=0))


#: The predicted exponent of the width rate, error ~ width^(-2), for a C² target (tests patch it).
WIDTH_EXPONENT = -2.0


def plot_width_rates(rates: list[WidthRate], ax=None):
    """Errors against width on log-log axes: the interpolant's sup error, the least-squares L2 error and
    the bound max|f''|/(8w²), one colour per target. Returns the figure."""
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=(5.5, 3.8))
    else:
        fig = ax.figure
    for r, c in zip(rates, ("C0", "C1", "C2", "C3")):
        ax.loglog(r.widths, r.sup_interpolant, "o-", color=c, label=f"{r.target}: interpolant, sup ({r.fit_sup.slope:.2f})")
        ax.loglog(r.widths, r.l2_least_squares, "s--", color=c,
                  label=f"{r.target}: least squares, L2 ({r.fit_l2.slope:.2f})")
        ax.loglog(r.widths, r.bound, ":", color=c, label=f"{r.target}: max|f''|/(8w²)")
    ax.set(xlabel="width w", ylabel="error", title="one hidden layer: error ~ w^-2")
    ax.legend(fontsize=7)
    return fig


def _width_figure(rates: list[WidthRate], name: str) -> str:
    return save_figure(plot_width_rates(rates), name)


def _width_rates(quick: bool) -> list[WidthRate]:
    widths = np.unique(np.geomspace(8, 64 if quick else 512, 6 if quick else 10).round().astype(int))
    return [width_rate(t, widths) for t in WIDTH_TARGETS]


@register("width_rate_interpolant", notebook="41_approximation",
          statement="a width-w one-hidden-layer ReLU net (the uniform-knot interpolant) approximates x^2 on [0,1] "
                    "with sup error exactly 1/(4w^2), a C^2 target within max|f''|/(8w^2); fitted slope -2",
          source="classical linear-interpolation error bound (e.g. de Boor, A Practical Guide to Splines, ch. 2); "
                 "ReLU form: Yarotsky 2017, sec. 3")
def check_width_interpolant(quick: bool) -> dict:
    rates = _width_rates(quick)
    sq, sine = rates
    check_close(sq.sup_interpolant, 1.0 / (4.0 * sq.widths ** 2), rtol=1e-9, name="x^2: sup error vs 1/(4w^2)")
    for r in rates:
        check_at_most(r.sup_interpolant, r.bound, name=f"{r.target}: sup error vs max|f''|/(8w^2)", atol=1e-15)
    fit = check_rate(sine.widths, sine.sup_interpolant, WIDTH_EXPONENT, tol=0.05, name="sin(2πx): sup error vs width",
                     n_boot=0)
    w = int(sq.widths[-1])
    module = relu_interpolant(_square, w).to_module()
    x = torch.linspace(0, 1, 2 * w * 8 + 1, dtype=torch.float64).unsqueeze(1)
    with torch.no_grad():
        gap = float((module(x).squeeze(1) - x.squeeze(1) ** 2).abs().max())
    check_close(gap, 1.0 / (4.0 * w ** 2), rtol=1e-9, name=f"torch module of width {w}: sup error")
    return {"predicted": f"sup error 1/(4w^2) for x^2; slope {WIDTH_EXPONENT:.1f} for sin(2πx)",
            "measured": f"x^2 exact to 1e-9 for w = {sq.widths.min()}..{w}; sin(2πx) slope {fit.slope:.3f}",
            "figure": _width_figure(rates, "width_rate_interpolant")}


@register("width_rate_least_squares", notebook="41_approximation",
          statement="least squares over the output layer of a width-w ReLU net with uniform knots: L2 error "
                    "<= the interpolant's, exactly 1/(sqrt(180) w^2) for x^2 on [0,1]; fitted slope -2 for sin(2πx)",
          source="L2 projection onto continuous piecewise-linear functions (derived in theory/41_approximation.md)")
def check_width_least_squares(quick: bool) -> dict:
    rates = _width_rates(quick)
    sq, sine = rates
    check_close(sq.l2_least_squares, 1.0 / (math.sqrt(180.0) * sq.widths ** 2), rtol=1e-8,
                name="x^2: L2 error of least squares vs 1/(sqrt(180) w^2)")
    check_close(sq.l2_interpolant, 1.0 / (math.sqrt(30.0) * sq.widths ** 2), rtol=1e-8,
                name="x^2: L2 error of the interpolant vs 1/(sqrt(30) w^2)")
    for r in rates:
        check_at_most(r.l2_least_squares, r.l2_interpolant, name=f"{r.target}: least squares vs interpolant (L2)",
                      atol=1e-14)
    fit = check_rate(sine.widths, sine.l2_least_squares, WIDTH_EXPONENT, tol=0.05,
                     name="sin(2πx): least-squares L2 error vs width", n_boot=0)
    return {"predicted": f"L2 error 1/(sqrt(180) w^2) for x^2; slope {WIDTH_EXPONENT:.1f} for sin(2πx)",
            "measured": f"x^2 exact to 1e-8; sin(2πx) slope {fit.slope:.3f}"}


# ------------------------------------------------------------------------- counting linear pieces

def count_linear_pieces(fn, *, a: float = 0.0, b: float = 1.0, points: int = 2 ** 14 + 1, tol: float = 1e-7) -> int:
    """The number of maximal intervals of [a, b] on which ``fn`` is affine, counted on a uniform grid.

    The slope on each grid cell is compared with the next; a change larger than
    ``tol · max(1, max |slope|)`` is a kink. A kink on a grid point changes the slope once; a kink strictly
    inside a cell makes that cell's slope an average, i.e. two changes on adjacent cells, counted as one
    kink. So the count is exact when kinks are at least three cells apart (refine ``points`` otherwise).
    ``fn`` takes and returns NumPy arrays (for a torch module, wrap it).
    """
    fn = _callable(fn, "fn")
    a, b = _interval(a, b)
    points = _positive_int(points, "points", 3)
    if not (math.isfinite(tol) and tol > 0):
        raise ValueError(f"tol must be a positive number, got {tol!r}")
    x = np.linspace(a, b, points)
    y = np.asarray(fn(x), dtype=float)
    if y.shape != x.shape or not np.all(np.isfinite(y)):
        raise ValueError(f"fn must map the {points} grid points to as many finite values, got shape {y.shape}")
    slope = np.diff(y) / np.diff(x)
    change = np.flatnonzero(np.abs(np.diff(slope)) > tol * max(1.0, float(np.abs(slope).max())))
    if change.size == 0:
        return 1
    return int(1 + 1 + np.count_nonzero(np.diff(change) > 1))


def count_teeth(fn, *, a: float = 0.0, b: float = 1.0, points: int = 2 ** 14 + 1) -> int:
    """The number of strict local maxima of ``fn`` on a uniform grid of [a, b] (the teeth of a sawtooth;
    exact when every peak lies on the grid, e.g. dyadic peaks on a dyadic grid)."""
    fn = _callable(fn, "fn")
    a, b = _interval(a, b)
    y = np.asarray(fn(np.linspace(a, b, _positive_int(points, "points", 3))), dtype=float)
    return int(np.count_nonzero((y[1:-1] > y[:-2]) & (y[1:-1] > y[2:])))


def _module_fn(module: nn.Module):
    """A NumPy function evaluating a 1-in, 1-out torch module in float64."""
    module = module.double()

    def fn(x):
        with torch.no_grad(), _torch_threads(1):
            return module(torch.as_tensor(x, dtype=torch.float64).unsqueeze(1)).squeeze(1).numpy()

    return fn


def hidden_units(module: nn.Module) -> int:
    """The number of hidden ReLU units of a ``Linear``/``ReLU`` stack (outputs of all but the last Linear)."""
    linears = [m for m in module.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ValueError("the module has no Linear layers")
    return int(sum(m.out_features for m in linears[:-1]))


# ---------------------------------------------------------------------------- depth against width

def square_pieces_lower_bound(k) -> np.ndarray | float:
    """``1/(8k²)``: the least sup error on [0, 1] of any function that is linear on each of k intervals
    (continuous or not) approximating x². Each piece of length ℓ costs at least ℓ²/8 (the best line,
    by equioscillation); some piece has length ≥ 1/k. :func:`chebyshev_square` attains it."""
    k_arr = np.asarray(k)
    if not np.issubdtype(k_arr.dtype, np.integer) or np.any(k_arr < 1):
        raise ValueError(f"the number of pieces must be a positive integer, got {k!r}")
    out = 1.0 / (8.0 * k_arr.astype(float) ** 2)
    return float(out) if out.ndim == 0 else out


def chebyshev_square(pieces: int) -> ShallowReLU:
    """The best k-piece approximation of x² on [0, 1]: the uniform interpolant shifted down by
    ``1/(8k²)``, a one-hidden-layer net of width k whose error equioscillates (±1/(8k²)) at the knots and
    midpoints."""
    k = _positive_int(pieces, "pieces")
    net = relu_interpolant(_square, k)
    return ShallowReLU(net.inner_weight, net.inner_bias, net.outer_weight, net.outer_bias - 1.0 / (8.0 * k * k))


def best_line_error(f, a: float, b: float, *, points: int = 513) -> float:
    """The least sup error of a line ``p·x + q`` approximating ``f`` on a grid of [a, b]. For x² it is
    (b - a)²/8 when the grid holds a, b and the midpoint (``points`` odd).

    For a fixed slope p the best intercept centres the residuals y - p·x, leaving the error
    g(p) = (max(y - p·x) - min(y - p·x))/2, a convex piecewise-linear function of p whose minimiser lies
    between the smallest and largest slopes of adjacent grid points; a ternary search finds it to 1e-13.
    """
    f = _callable(f)
    a, b = _interval(a, b)
    x = np.linspace(a, b, _positive_int(points, "points", 3))
    y = np.asarray(f(x), dtype=float)

    def g(p: float) -> float:
        r = y - p * x
        return float(r.max() - r.min()) / 2

    slopes = np.diff(y) / np.diff(x)
    lo, hi = float(slopes.min()), float(slopes.max())
    while hi - lo > 1e-13 * max(1.0, abs(lo), abs(hi)):
        m1, m2 = lo + (hi - lo) / 3, hi - (hi - lo) / 3
        if g(m1) <= g(m2):
            hi = m2
        else:
            lo = m1
    return g((lo + hi) / 2)


def shallow_pieces_needed(eps: float) -> int:
    """The least number of linear pieces k with ``1/(8k²) ≤ eps``: fewer pieces cannot reach sup error
    ``eps`` on x² over [0, 1], so a one-hidden-layer net (≤ width + 1 pieces) needs width ≥ k - 1."""
    if not (isinstance(eps, (int, float, np.floating)) and math.isfinite(eps) and eps > 0):
        raise ValueError(f"eps must be a positive number, got {eps!r}")
    hi = 1
    while square_pieces_lower_bound(hi) > eps:  # the bound decreases in k: bracket, then bisect
        hi *= 2
    lo = hi // 2  # bound(lo) > eps, or lo = 0
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if square_pieces_lower_bound(mid) <= eps:
            hi = mid
        else:
            lo = mid
    return hi


def random_knot_least_squares(f, width: int, *, seed: int = 0, points: int = 4097) -> ShallowReLU:
    """A width-``width`` net ``c + Σ a_i σ(x - r_i)`` with one knot at 0 and the others uniform at random
    in (0, 1), the output layer fitted by least squares on ``points`` grid points of [0, 1]."""
    f, width = _callable(f), _positive_int(width, "width")
    rng = np.random.default_rng(_positive_int(seed, "seed", 0))
    knots = np.sort(np.concatenate([[0.0], rng.uniform(0.0, 1.0, width - 1)]))
    x = np.linspace(0.0, 1.0, _positive_int(points, "points", 2))
    design = np.column_stack([_relu_np(x[:, None] - knots[None, :]), np.ones_like(x)])
    coef = _lstsq(design, np.asarray(f(x), dtype=float))
    return ShallowReLU(np.ones(width), -knots, coef[:-1], float(coef[-1]))


def train_shallow_relu(f, width: int, *, steps: int = 2000, lr: float = 3e-3, points: int = 1025,
                       seed: int = 0) -> ShallowReLU:
    """A width-``width`` one-hidden-layer ReLU net fitted to ``f`` on [0, 1] by full-batch Adam on the
    mean squared error over ``points`` grid points, all weights trained (knots included), starting
    from :func:`random_knot_least_squares`. An illustration: training comes with no guarantee."""
    f, width = _callable(f), _positive_int(width, "width")
    steps, points = _positive_int(steps, "steps"), _positive_int(points, "points", 2)
    start = random_knot_least_squares(f, width, seed=seed)
    net = start.to_module()
    x = torch.linspace(0, 1, points, dtype=torch.float64).unsqueeze(1)
    y = torch.as_tensor(np.asarray(f(x.squeeze(1).numpy()), dtype=float)).unsqueeze(1)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    with _torch_threads(1):
        for _ in range(steps):
            opt.zero_grad()
            loss = ((net(x) - y) ** 2).mean()
            loss.backward()
            opt.step()
    first, last = net[0], net[2]
    return ShallowReLU(first.weight.detach().squeeze(1).numpy().copy(), first.bias.detach().numpy().copy(),
                       last.weight.detach().squeeze(0).numpy().copy(), float(last.bias.detach()))


@dataclass(frozen=True)
class DepthVsWidth:
    """Reaching Yarotsky's error 4^(-m-1) on x² with a deep net against a shallow one, per m.

    ``deep_units`` (4m), ``deep_pieces`` (counted) and ``deep_error`` (measured sup error) describe
    :class:`YarotskySquare`; ``shallow_pieces`` is the least k with 1/(8k²) ≤ 4^(-m-1),
    ``shallow_width_lower`` = k - 1 the width below which no one-hidden-layer net reaches the error, and
    ``shallow_error`` the measured sup error of :func:`chebyshev_square` with k pieces (width k).
    """

    ms: np.ndarray
    deep_units: np.ndarray
    deep_pieces: np.ndarray
    deep_error: np.ndarray
    shallow_pieces: np.ndarray
    shallow_width_lower: np.ndarray
    shallow_error: np.ndarray


def plot_depth_vs_width(table: DepthVsWidth, ax=None):
    """Hidden units needed to reach sup error 4^(-m-1) on x²: the deep net's 4m against the shallow
    lower bound 2^(m-1/2) - 1 (log scale). Returns the figure."""
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=(5.5, 3.8))
    else:
        fig = ax.figure
    ax.semilogy(table.ms, table.deep_units, "o-", label="deep (Yarotsky): 4m units")
    ax.semilogy(table.ms, np.maximum(table.shallow_width_lower, 0.5), "s-",
                label="one hidden layer: width needed (lower bound)")
    ax.set(xlabel="m (target error 4^(-m-1))", ylabel="hidden units", title="x² to error 4^(-m-1)")
    ax.legend(fontsize=8)
    return fig


def depth_vs_width(ms) -> DepthVsWidth:
    """Build the table of :class:`DepthVsWidth` for the given numbers of sawtooth layers ``m ≥ 1``."""
    ms = np.array([_positive_int(m, "each m") for m in np.atleast_1d(ms)])
    rows = []
    for m in ms:
        m = int(m)
        net = YarotskySquare(m)
        grid = 2 ** max(14, m + 4) + 1
        fn = _module_fn(net)
        k = shallow_pieces_needed(4.0 ** (-m - 1))
        rows.append((hidden_units(net), count_linear_pieces(fn, points=grid), sup_error(_square, fn, points=grid), k,
                     k - 1, sup_error(_square, chebyshev_square(k), points=2 * k * max(1, 4096 // k) + 1)))
    cols = list(zip(*rows))
    return DepthVsWidth(ms, *(np.array(c) for c in cols))


def random_shallow_net(width: int, *, seed: int = 0, slots: int = 64) -> ShallowReLU:
    """A width-``width`` net whose units bend at distinct random points ``(j + 0.37)/slots`` of (0, 1)
    (off any dyadic grid, at least 1/slots apart), with random orientation and slope jumps of size
    0.25 to 2: exactly ``width + 1`` linear pieces on [0, 1]."""
    width = _positive_int(width, "width")
    if width > slots:
        raise ValueError(f"width {width} exceeds the number of slots {slots}")
    rng = np.random.default_rng(_positive_int(seed, "seed", 0))
    where = (rng.choice(slots, size=width, replace=False) + 0.37) / slots
    u = rng.choice([-1.0, 1.0], size=width) * rng.uniform(0.5, 2.0, size=width)
    a = rng.choice([-1.0, 1.0], size=width) * rng.uniform(0.5, 1.0, size=width)
    return ShallowReLU(u, -u * where, a, float(rng.standard_normal()))


@register("relu_linear_pieces", notebook="41_approximation",
          statement="the sawtooth g_s has 2^(s-1) teeth and 2^s linear pieces; Yarotsky's net with 4m units has 2^m "
                    "pieces; a one-hidden-layer net of width w has at most w+1 (counted on a grid)",
          source="Yarotsky 2017, sec. 3.1; Telgarsky, 'Benefits of depth in neural networks', COLT 2016")
def check_linear_pieces(quick: bool) -> dict:
    top = 8 if quick else 12
    grid = 2 ** (top + 4) + 1
    for s in range(1, top + 1):
        teeth = count_teeth(lambda x, s=s: sawtooth(x, s), points=grid)
        pieces = count_linear_pieces(lambda x, s=s: sawtooth(x, s), points=grid)
        check_close([teeth, pieces], [2 ** (s - 1), 2 ** s], atol=0, name=f"sawtooth g_{s}: teeth and pieces")
    for m in range(1, top + 1):
        net = YarotskySquare(m)
        check_close([count_linear_pieces(_module_fn(net), points=grid), hidden_units(net)], [2 ** m, 4 * m], atol=0,
                    name=f"Yarotsky net m={m}: pieces and units")
    widths = (1, 2, 5, 10, 20) if quick else (1, 2, 5, 10, 20, 40, 60)
    for w in widths:
        for seed in range(3):
            net = random_shallow_net(w, seed=seed)
            check_close([count_linear_pieces(net), net.pieces()], [w + 1, w + 1], atol=0,
                        name=f"shallow net of width {w} (seed {seed}): counted and exact pieces")
    return {"predicted": f"2^s pieces for s = 1..{top}, 2^m for Yarotsky with 4m units, w+1 for width w",
            "measured": "all counts equal"}


@register("shallow_square_lower_bound", notebook="41_approximation",
          statement="any k-piece linear approximation of x^2 on [0,1] has sup error >= 1/(8k^2), attained by the "
                    "shifted interpolant (a width-k ReLU net); fitted one-hidden-layer nets respect it",
          source="Chebyshev equioscillation (best line on an interval of length l: error l^2/8); "
                 "derived in theory/41_approximation.md")
def check_shallow_lower_bound(quick: bool) -> dict:
    lengths = np.array([0.05, 0.25, 0.5, 1.0])
    lines = np.array([best_line_error(_square, 0.3, 0.3 + ell) for ell in lengths])
    check_close(lines, lengths ** 2 / 8.0, rtol=1e-8, name="best line to x^2 on an interval of length l vs l^2/8")
    ks = np.arange(1, 17 if quick else 65)
    attained = np.array([sup_error(_square, chebyshev_square(int(k)), points=2 * int(k) * 64 + 1) for k in ks])
    check_close(attained, square_pieces_lower_bound(ks), rtol=1e-9, name="shifted interpolant vs 1/(8k^2)")
    nets = []
    widths = (2, 4, 8, 16) if quick else (2, 4, 8, 16, 32, 64)
    for w in widths:
        nets += [("uniform least squares", w, relu_least_squares(_square, w))]
        nets += [(f"random knots {s}", w, random_knot_least_squares(_square, w, seed=s)) for s in range(3)]
        if not quick or w in (4, 16):
            nets += [("Adam-trained", w, train_shallow_relu(_square, w, steps=200 if quick else 2000))]
    errors = np.array([sup_error(_square, net) for _, _, net in nets])
    pieces = np.array([net.pieces(tol=0.0) if hasattr(net, "pieces") else 0 for _, _, net in nets])
    bound = square_pieces_lower_bound(pieces)
    check_at_most(bound, errors, name="1/(8 pieces^2) vs the sup error of fitted one-hidden-layer nets")
    ratio = errors / bound
    return {"predicted": "sup error >= 1/(8k^2) for k pieces, with equality for the shifted interpolant",
            "measured": f"equality to 1e-9 for k = 1..{ks[-1]}; {len(nets)} fitted nets at "
                        f"{ratio.min():.2f}x to {ratio.max():.1f}x the bound"}


@register("depth_vs_width_square", notebook="41_approximation",
          statement="Yarotsky's net reaches sup error 4^(-m-1) on x^2 with 4m units; a one-hidden-layer net needs "
                    "width >= 2^(m-1/2) - 1 (least pieces k with 1/(8k^2) <= 4^(-m-1)), i.e. exponentially many",
          source="Yarotsky 2017, Prop. 2; lower bound from shallow_square_lower_bound")
def check_depth_vs_width(quick: bool) -> dict:
    table = depth_vs_width(range(1, 9 if quick else 13))
    target = 4.0 ** (-table.ms - 1)
    check_close(table.deep_error, target, rtol=1e-9, name="deep net: sup error vs 4^(-m-1)")
    check_close(table.deep_units, 4 * table.ms, atol=0, name="deep net: hidden units vs 4m")
    check_close(table.deep_pieces, 2 ** table.ms, atol=0, name="deep net: pieces vs 2^m")
    check_at_most(table.shallow_error, target, name="shallow net with k pieces reaches 4^(-m-1)", atol=1e-15)
    short = table.shallow_pieces > 1
    check_at_most(target[short], square_pieces_lower_bound(table.shallow_pieces[short] - 1) * (1 - 1e-12),
                  name="k - 1 pieces cannot reach 4^(-m-1)")
    check_close(table.shallow_width_lower, np.ceil(2.0 ** (table.ms - 0.5)) - 1, atol=0,
                name="shallow width lower bound vs ceil(2^(m-1/2)) - 1")
    fit = check_rate(2.0 ** table.ms[2:], table.shallow_pieces[2:], 1.0, tol=0.05,
                     name="shallow pieces needed vs 2^m", n_boot=0)
    return {"predicted": "deep: 4m units; shallow: width >= 2^(m-1/2) - 1",
            "measured": f"m = {table.ms[-1]}: deep {table.deep_units[-1]} units, shallow >= "
                        f"{table.shallow_width_lower[-1]} (slope in 2^m {fit.slope:.3f})"}


# ------------------------------------------------------------------------ regression on a manifold

@dataclass(frozen=True)
class TorusField:
    """A real Fourier series on the d-torus, ``g(t) = Σ_k a_k cos(⟨k, t⟩ + φ_k)``.

    ``frequencies`` (m, d) integer vectors, ``amplitudes`` (m,), ``phases`` (m,). Built by
    :func:`sobolev_field`; call it on intrinsic coordinates ``t`` of shape (n, d).
    """

    frequencies: np.ndarray
    amplitudes: np.ndarray
    phases: np.ndarray
    smoothness: float

    @property
    def dim(self) -> int:
        return int(self.frequencies.shape[1])

    def __call__(self, t) -> np.ndarray:
        t = np.asarray(t, dtype=float)
        if t.ndim != 2 or t.shape[1] != self.dim:
            raise ValueError(f"t must have shape (n, {self.dim}), got {t.shape}")
        out = np.empty(t.shape[0])
        for start in range(0, t.shape[0], 1024):
            block = t[start:start + 1024]
            out[start:start + 1024] = np.cos(block @ self.frequencies.T + self.phases) @ self.amplitudes
        return out


#: Highest frequency |k| kept by :func:`sobolev_field` by default, per intrinsic dimension.
MAX_FREQUENCY = {1: 1024, 2: 48, 3: 16}


def sobolev_field(dim: int, smoothness: float, *, seed: int = 0, max_freq: int | None = None) -> TorusField:
    """A random function on the ``dim``-torus of smoothness ``smoothness`` (β), normalised to mean square 1.

    One frequency k from each pair ±k of the integer lattice with 0 < |k| ≤ ``max_freq``, amplitude
    ``a_k ∝ |k|^(-(β + d/2))`` and an independent uniform phase: a random-phase field with power
    spectrum ∝ |k|^(-(2β + d)), like fractional Brownian motion with Hurst index β. It lies in the
    Sobolev space H^s for every s < β (Σ |k|^(2s) a_k² < ∞ exactly when s < β, uniformly in
    ``max_freq``) and not in H^β, and it has structure at every scale up to ``max_freq``: a generic
    member of a β-smooth class, for which no estimator beats the rate n^(-2β/(2β+d)). ``seed`` fixes
    the phases, i.e. the function (not the sample).
    """
    dim = _positive_int(dim, "dim")
    if not (isinstance(smoothness, (int, float, np.floating)) and 0 < smoothness < 10):
        raise ValueError(f"smoothness must be a number in (0, 10), got {smoothness!r}")
    if max_freq is None:
        if dim not in MAX_FREQUENCY:
            raise ValueError(f"give max_freq for dim = {dim} (defaults exist for {sorted(MAX_FREQUENCY)})")
        max_freq = MAX_FREQUENCY[dim]
    max_freq = _positive_int(max_freq, "max_freq")
    axes = np.meshgrid(*[np.arange(-max_freq, max_freq + 1)] * dim, indexing="ij")
    k = np.stack([a.ravel() for a in axes], axis=1)
    first = np.argmax(k != 0, axis=1)  # keep k whose first non-zero coordinate is positive: one of ±k
    keep = k[np.arange(len(k)), first] > 0
    radius = np.linalg.norm(k, axis=1)
    keep &= radius <= max_freq
    k, radius = k[keep], radius[keep]
    rng = np.random.default_rng(_positive_int(seed, "seed", 0))
    amp = radius ** (-(smoothness + dim / 2.0))
    amp /= np.sqrt(np.sum(amp ** 2) / 2.0)
    return TorusField(k.astype(float), amp, rng.uniform(0.0, 2 * np.pi, len(k)), float(smoothness))


def manifold_regression_data(n: int, intrinsic_dim: int, ambient_dim: int, *, seed: int = 0, noise: float = 1.0,
                             smoothness: float = 1.0, target_seed: int = 0, embedding_seed: int = 0):
    """Points of ``toy.manifold`` (a d-torus curved into R^D) labelled by :func:`sobolev_field`.

    Returns ``X`` (n, D) float32, ``y = g(t) + noise·ε`` (n,) float32 and the clean ``f = g(t)`` (n,)
    float32. The target replaces ``toy.manifold``'s own, which is a trigonometric polynomial (infinitely
    smooth, so its rate would be nearly n^(-1) for every d).
    """
    from tamer_lab.data.toy import manifold

    X, _, t = manifold(n, intrinsic_dim=intrinsic_dim, ambient_dim=ambient_dim, seed=seed,
                       embedding_seed=embedding_seed)
    if not (isinstance(noise, (int, float, np.floating)) and math.isfinite(noise) and noise >= 0):
        raise ValueError(f"noise must be a finite number >= 0, got {noise!r}")
    f = sobolev_field(intrinsic_dim, smoothness, seed=target_seed)(t.double().numpy())
    eps = np.random.default_rng([seed, 7]).standard_normal(n)
    return X, torch.as_tensor(f + noise * eps, dtype=torch.float32), torch.as_tensor(f, dtype=torch.float32)


def _split(n: int, val_fraction: float) -> int:
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must lie in (0, 1), got {val_fraction!r}")
    n_val = math.floor(n * val_fraction + 0.5)
    if n_val < 1 or n - n_val < 2:
        raise ValueError(f"{n} points are too few to hold out a validation fraction of {val_fraction}")
    return n_val


def fit_relu_regressor(X: torch.Tensor, y: torch.Tensor, *, width: int = 64, depth: int = 2, lr: float = 3e-3,
                       max_steps: int = 1500, patience: int = 200, eval_every: int = 10, val_fraction: float = 0.2,
                       seed: int = 0) -> tuple[nn.Module, dict]:
    """Fit a ReLU MLP (``depth`` hidden layers of ``width``) to (X, y) by full-batch Adam on the squared loss.

    The first ``val_fraction`` of the rows is held out (the sample is i.i.d., so the first rows are a
    random subset); training stops ``patience`` steps after the best validation loss, or at
    ``max_steps``, and the best validation checkpoint is returned with ``{"best_step", "val_loss"}``.
    No test data is seen. Runs on one CPU thread (see ``_torch_threads``).
    """
    from tamer_lab.models import MLP

    X, y = torch.as_tensor(X, dtype=torch.float32), torch.as_tensor(y, dtype=torch.float32)
    if X.ndim != 2 or y.shape != (X.shape[0],):
        raise ValueError(f"X must be (n, D) and y (n,), got {tuple(X.shape)} and {tuple(y.shape)}")
    n_val = _split(X.shape[0], val_fraction)
    width, depth = _positive_int(width, "width"), _positive_int(depth, "depth")
    max_steps, eval_every = _positive_int(max_steps, "max_steps"), _positive_int(eval_every, "eval_every")
    patience = _positive_int(patience, "patience")
    if not (math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a positive number, got {lr!r}")
    Xv, yv, Xt, yt = X[:n_val], y[:n_val], X[n_val:], y[n_val:]
    with torch.random.fork_rng(devices=[]):  # seed the initialisation without touching the global stream
        torch.manual_seed(_positive_int(seed, "seed", 0))
        net = MLP(X.shape[1], 1, hidden=(width,) * depth)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    best, best_step, best_state = math.inf, 0, None
    with _torch_threads(1):
        for step in range(1, max_steps + 1):
            opt.zero_grad()
            loss = ((net(Xt).squeeze(1) - yt) ** 2).mean()
            if not torch.isfinite(loss):
                raise FloatingPointError(f"the training loss became {loss.item()} at step {step}; lower lr ({lr})")
            loss.backward()
            opt.step()
            if step % eval_every == 0 or step == max_steps:
                with torch.no_grad():
                    val = float(((net(Xv).squeeze(1) - yv) ** 2).mean())
                if val < best:
                    best, best_step = val, step
                    best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
                elif step - best_step >= patience:
                    break
    net.load_state_dict(best_state)
    net.eval()
    return net, {"best_step": best_step, "val_loss": best}


def knn_regressor(X: torch.Tensor, y: torch.Tensor, *, val_fraction: float = 0.2, candidates: int = 16):
    """k-nearest-neighbour regression with k chosen on a held-out validation fraction among ``candidates``
    values spaced geometrically in [1, n_train/2]. Returns ``(predict, k)``; ``predict(Xq)`` averages the
    k nearest of all n points. Its rate adapts to the intrinsic dimension (Kpotufe, NeurIPS 2011)."""
    X, y = torch.as_tensor(X, dtype=torch.float32), torch.as_tensor(y, dtype=torch.float32)
    if X.ndim != 2 or y.shape != (X.shape[0],):
        raise ValueError(f"X must be (n, D) and y (n,), got {tuple(X.shape)} and {tuple(y.shape)}")
    n_val = _split(X.shape[0], val_fraction)
    n_train = X.shape[0] - n_val
    ks = np.unique(np.geomspace(1, max(1, n_train // 2), _positive_int(candidates, "candidates")).astype(int))
    with _torch_threads(1):
        order = torch.cdist(X[:n_val], X[n_val:]).topk(int(ks[-1]), largest=False).indices
        sums = torch.cumsum(y[n_val:][order], dim=1)
        errors = [float(((sums[:, k - 1] / k - y[:n_val]) ** 2).mean()) for k in ks]
    k = int(ks[int(np.argmin(errors))])

    def predict(Xq: torch.Tensor) -> torch.Tensor:
        with _torch_threads(1):
            idx = torch.cdist(torch.as_tensor(Xq, dtype=torch.float32), X).topk(k, largest=False).indices
            return y[idx].mean(dim=1)

    return predict, k


@dataclass(frozen=True)
class ManifoldSettings:
    """The grid of :func:`manifold_rates`: intrinsic dimensions d, ambient dimensions D, sample sizes n,
    seeds; the target's smoothness β and the noise; the network and its training. Slopes are fitted on
    the sizes ``n ≥ fit_from`` (the asymptotic range: at the smallest n the error is still near the
    target's variance)."""

    intrinsic_dims: tuple[int, ...] = (1, 2)
    ambient_dims: tuple[int, ...] = (4, 16, 64)
    ns: tuple[int, ...] = (128, 256, 512, 1024, 2048, 4096)
    seeds: int = 4
    smoothness: float = 1.0
    noise: float = 1.0
    width: int = 64
    depth: int = 2
    lr: float = 3e-3
    max_steps: int = 1500
    patience: int = 200
    n_test: int = 2000
    target_seed: int = 0
    fit_from: int = 256

    def __post_init__(self) -> None:
        for label in ("intrinsic_dims", "ambient_dims", "ns"):
            values = tuple(getattr(self, label))
            if not values or any(_positive_int(v, f"each of {label}") < 1 for v in values):
                raise ValueError(f"{label} must be a non-empty tuple of positive integers")
            object.__setattr__(self, label, tuple(int(v) for v in values))
        if len({n for n in self.ns if n >= self.fit_from}) < 3:
            raise ValueError(f"need at least 3 distinct sample sizes >= fit_from = {self.fit_from} to fit a rate, "
                             f"got {self.ns}")
        for d in self.intrinsic_dims:
            for D in self.ambient_dims:
                if D < 2 * d:
                    raise ValueError(f"ambient dimension {D} < 2 x intrinsic dimension {d}: the torus does not embed")
        _positive_int(self.seeds, "seeds")

    @classmethod
    def for_mode(cls, quick: bool) -> ManifoldSettings:
        """The settings of the registered check and notebook 41 (quick: CI-sized)."""
        if quick:
            return cls(ns=(128, 256, 512, 1024), seeds=3, width=32, max_steps=800, patience=150, n_test=1000,
                       fit_from=128)
        return cls(seeds=6)


def predicted_manifold_exponent(intrinsic_dim: int, smoothness: float) -> float:
    """``-2β/(2β + d)``: the exponent of the minimax rate of the mean squared error for β-smooth regression
    on a d-dimensional manifold (Chen, Jiang, Liao, Zhao 2019, up to log factors; it does not involve D)."""
    d = _positive_int(intrinsic_dim, "intrinsic_dim")
    return -2.0 * smoothness / (2.0 * smoothness + d)


@dataclass(frozen=True)
class ManifoldCurve:
    """Test errors of one (d, D) cell: ``net`` and ``knn`` have shape (len(ns), seeds), the mean squared
    error against the clean target; ``fit_net``/``fit_knn`` their log-log slopes over ``n ≥ fit_from``
    (bootstrap over seeds); ``predicted`` the exponent -2β/(2β+d); ``best_steps`` the early-stopping steps."""

    intrinsic_dim: int
    ambient_dim: int
    ns: np.ndarray
    net: np.ndarray
    knn: np.ndarray
    fit_net: SlopeFit
    fit_knn: SlopeFit
    predicted: float
    best_steps: np.ndarray


@dataclass(frozen=True)
class ManifoldRates:
    """The curves of :func:`manifold_rates`, keyed by (d, D)."""

    settings: ManifoldSettings
    curves: dict[tuple[int, int], ManifoldCurve]

    def slopes(self, learner: str = "net") -> dict[tuple[int, int], float]:
        """The fitted slope per (d, D) for ``learner`` ("net" or "knn")."""
        if learner not in ("net", "knn"):
            raise ValueError(f"learner must be 'net' or 'knn', got {learner!r}")
        return {key: getattr(c, f"fit_{learner}").slope for key, c in self.curves.items()}

    def table(self) -> list[dict]:
        """One row per (d, D): slopes with intervals and the predicted exponent."""
        return [{"d": d, "D": D, "net": c.fit_net, "knn": c.fit_knn, "predicted": c.predicted}
                for (d, D), c in sorted(self.curves.items())]


_MANIFOLD_CACHE: dict[ManifoldSettings, ManifoldRates] = {}


def manifold_rates(settings: ManifoldSettings | None = None) -> ManifoldRates:
    """Test MSE of ReLU nets (and of k-NN) against n for every (d, D) of ``settings``, over seeds.

    For each seed s and size n, a fresh sample of n noisy points trains both learners (the net with
    early stopping on 20% of it); the error is measured on ``n_test`` clean points. The result is
    cached in memory per settings, so a notebook and its check share one run.
    """
    settings = ManifoldSettings() if settings is None else settings
    if not isinstance(settings, ManifoldSettings):
        raise TypeError(f"settings must be a ManifoldSettings, got {type(settings).__name__}")
    if settings in _MANIFOLD_CACHE:
        return _MANIFOLD_CACHE[settings]
    s = settings
    curves = {}
    for d in s.intrinsic_dims:
        for D in s.ambient_dims:
            net_err = np.zeros((len(s.ns), s.seeds))
            knn_err = np.zeros_like(net_err)
            steps = np.zeros_like(net_err, dtype=int)
            for seed in range(s.seeds):
                Xq, _, fq = manifold_regression_data(s.n_test, d, D, seed=10 ** 6 + seed, noise=0.0,
                                                     smoothness=s.smoothness, target_seed=s.target_seed)
                X_all, y_all, _ = manifold_regression_data(max(s.ns), d, D, seed=1000 + seed, noise=s.noise,
                                                           smoothness=s.smoothness, target_seed=s.target_seed)
                for i, n in enumerate(s.ns):
                    X, y = X_all[:n], y_all[:n]  # nested samples: common random numbers across n
                    net, info = fit_relu_regressor(X, y, width=s.width, depth=s.depth, lr=s.lr,
                                                   max_steps=s.max_steps, patience=s.patience, seed=seed)
                    with torch.no_grad():
                        net_err[i, seed] = float(((net(Xq).squeeze(1) - fq) ** 2).mean())
                    predict, _ = knn_regressor(X, y)
                    knn_err[i, seed] = float(((predict(Xq) - fq) ** 2).mean())
                    steps[i, seed] = info["best_step"]
            ns = np.array(s.ns)
            use = ns >= s.fit_from
            curves[(d, D)] = ManifoldCurve(d, D, ns, net_err, knn_err, fit_slope(ns[use], net_err[use]),
                                           fit_slope(ns[use], knn_err[use]),
                                           predicted_manifold_exponent(d, s.smoothness), steps)
    result = ManifoldRates(settings, curves)
    _MANIFOLD_CACHE[settings] = result
    return result


def compare_manifold_rates(result: ManifoldRates, *, spread_tol: float, pred_tol: float, min_gap: float,
                           learner: str = "net") -> dict[int, float]:
    """Raise CheckFailed unless the fitted slopes follow the intrinsic dimension d and not D:

    * for each d, the slopes over the ambient dimensions D differ by at most ``spread_tol``;
    * every slope lies within ``pred_tol`` of its predicted exponent (``curve.predicted``);
    * for d < d', the mean slope over D at d is steeper than at d' by at least ``min_gap``.

    Returns the mean slope per d.
    """
    slopes = result.slopes(learner)
    dims = sorted({d for d, _ in slopes})
    means = {}
    for d in dims:
        cell = {D: slopes[(d, D)] for dd, D in slopes if dd == d}
        spread = max(cell.values()) - min(cell.values())
        if spread > spread_tol:
            raise CheckFailed(f"{learner}, d={d}: slopes over D = {sorted(cell)} spread by {spread:.3f} > {spread_tol} "
                              f"({', '.join(f'D={D}: {v:.3f}' for D, v in sorted(cell.items()))})",
                              measured=spread, predicted=0.0)
        means[d] = float(np.mean(list(cell.values())))
    for (d, D), slope in sorted(slopes.items()):
        predicted = result.curves[(d, D)].predicted
        if not abs(slope - predicted) <= pred_tol:
            raise CheckFailed(f"{learner}, d={d}, D={D}: slope {slope:.3f} vs predicted {predicted:.3f}: |difference| "
                              f"{abs(slope - predicted):.3f} > {pred_tol}", measured=slope, predicted=predicted)
    for lo, hi in itertools.pairwise(dims):
        if not means[lo] <= means[hi] - min_gap:
            raise CheckFailed(f"{learner}: mean slope at d={lo} ({means[lo]:.3f}) is not steeper than at d={hi} "
                              f"({means[hi]:.3f}) by {min_gap}", measured=means[lo] - means[hi], predicted=-min_gap)
    return means


#: Tolerances of the manifold check per mode. Full (6 seeds, n up to 4096): over three target fields the
#: largest spread over D was 0.11, the largest distance to the prediction 0.10, the smallest d-gap 0.16.
#: Quick (3 seeds, n <= 1024) is much noisier and only guards against gross failures.
MANIFOLD_TOLERANCES = {True: {"spread_tol": 0.45, "pred_tol": 0.3, "min_gap": 0.05},
                       False: {"spread_tol": 0.15, "pred_tol": 0.15, "min_gap": 0.08}}


def plot_manifold_rates(result: ManifoldRates, *, learner: str = "net", ax=None):
    """Log MSE against log n, one panel per d, one line per D with its fitted slope; returns the figure."""
    import matplotlib.pyplot as plt

    dims = sorted({d for d, _ in result.curves})
    if ax is None:
        fig, ax = plt.subplots(1, len(dims), figsize=(5 * len(dims), 3.8), squeeze=False)
        ax = ax[0]
    else:
        ax = np.atleast_1d(ax)
        fig = ax[0].figure
    for panel, d in zip(ax, dims):
        for (dd, D), c in sorted(result.curves.items()):
            if dd != d:
                continue
            err, fit = getattr(c, learner), getattr(c, f"fit_{learner}")
            line, = panel.loglog(c.ns, err.mean(axis=1), "o", label=f"D={D}: {fit}")
            use = c.ns >= result.settings.fit_from
            panel.loglog(c.ns[use], fit.predict(c.ns[use]), "-", color=line.get_color())
        c = next(c for (dd, _), c in result.curves.items() if dd == d)
        ref = c.net.mean(axis=1)[-1] * (c.ns / c.ns[-1]) ** c.predicted
        panel.loglog(c.ns, ref, "k:", label=f"predicted n^{c.predicted:.2f}")
        panel.set(xlabel="n (training points)", ylabel="test MSE", title=f"{learner}, intrinsic d = {d}")
        panel.set_xticks(c.ns, [str(n) for n in c.ns])
        panel.xaxis.set_minor_formatter(plt.NullFormatter())
        panel.legend(fontsize=7)
    return fig


@register("manifold_rate_follows_d", notebook="41_approximation",
          statement="ReLU nets regressing a beta-smooth target on a d-manifold in R^D: the fitted slope of test MSE "
                    "vs n is -2beta/(2beta+d) within tolerance, the same for D = 4, 16, 64, and steeper for d=1 than d=2",
          source="Chen, Jiang, Liao, Zhao, 'Nonparametric regression on low-dimensional manifolds using deep ReLU "
                 "networks', 2019 (and NeurIPS 2019 for the approximation); Kpotufe, NeurIPS 2011 for k-NN")
def check_manifold_rates(quick: bool) -> dict:
    result = manifold_rates(ManifoldSettings.for_mode(quick))
    means = compare_manifold_rates(result, **MANIFOLD_TOLERANCES[quick])
    import matplotlib.pyplot as plt

    fig = plot_manifold_rates(result)
    path = save_figure(fig, "manifold_rate_follows_d")
    plt.close(fig)
    s = result.settings
    predicted = ", ".join(f"d={d}: {predicted_manifold_exponent(d, s.smoothness):.3f}" for d in sorted(means))
    measured = ", ".join(f"d={d}: {m:.3f}" for d, m in sorted(means.items()))
    return {"predicted": f"slope {predicted} for every D", "measured": f"mean slope over D {measured}",
            "figure": path, "detail": "; ".join(f"d={d}, D={D}: {c.fit_net}" for (d, D), c in sorted(result.curves.items()))}
