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

__all__ = ["YarotskySquare", "sawtooth", "tent", "yarotsky_square", "yarotsky_sup_error"]


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
    values = np.linalg.lstsq(hats * root[:, None], np.asarray(f(x), dtype=float) * root, rcond=None)[0]
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


def _width_figure(rates: list[WidthRate], name: str) -> str:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for r, c in zip(rates, ("C0", "C1")):
        ax.loglog(r.widths, r.sup_interpolant, "o-", color=c, label=f"{r.target}: interpolant, sup")
        ax.loglog(r.widths, r.l2_least_squares, "s--", color=c, label=f"{r.target}: least squares, L2")
        ax.loglog(r.widths, r.bound, ":", color=c, label=f"{r.target}: max|f''|/(8w²)")
    ax.set(xlabel="width w", ylabel="error", title="one hidden layer: error ~ w^-2")
    ax.legend(fontsize=7)
    return save_figure(fig, name)


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
        with torch.no_grad():
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
    """The least sup error of a line ``p·x + q`` approximating ``f`` on a grid of [a, b], by linear
    programming (min t subject to |f(x_i) - p·x_i - q| ≤ t). For x² it is (b - a)²/8 when the grid holds
    a, b and the midpoint (``points`` odd)."""
    from scipy.optimize import linprog

    f = _callable(f)
    a, b = _interval(a, b)
    x = np.linspace(a, b, _positive_int(points, "points", 3))
    y = np.asarray(f(x), dtype=float)
    ones = np.ones_like(x)
    # variables (p, q, t): p x + q - t <= y and -p x - q - t <= -y
    a_ub = np.vstack([np.column_stack([x, ones, -ones]), np.column_stack([-x, -ones, -ones])])
    res = linprog([0.0, 0.0, 1.0], A_ub=a_ub, b_ub=np.concatenate([y, -y]),
                  bounds=[(None, None), (None, None), (0, None)], method="highs")
    if not res.success:
        raise RuntimeError(f"linear program failed: {res.message}")
    return float(res.x[2])


def shallow_pieces_needed(eps: float) -> int:
    """The least number of linear pieces k with ``1/(8k²) ≤ eps``: fewer pieces cannot reach sup error
    ``eps`` on x² over [0, 1], so a one-hidden-layer net (≤ width + 1 pieces) needs width ≥ k - 1."""
    if not (isinstance(eps, (int, float, np.floating)) and math.isfinite(eps) and eps > 0):
        raise ValueError(f"eps must be a positive number, got {eps!r}")
    k = max(1, math.ceil(1.0 / math.sqrt(8.0 * eps)))
    while k > 1 and square_pieces_lower_bound(k - 1) <= eps:
        k -= 1
    while square_pieces_lower_bound(k) > eps:
        k += 1
    return k


def random_knot_least_squares(f, width: int, *, seed: int = 0, points: int = 4097) -> ShallowReLU:
    """A width-``width`` net ``c + Σ a_i σ(x - r_i)`` with one knot at 0 and the others uniform at random
    in (0, 1), the output layer fitted by least squares on ``points`` grid points of [0, 1]."""
    f, width = _callable(f), _positive_int(width, "width")
    rng = np.random.default_rng(_positive_int(seed, "seed", 0))
    knots = np.sort(np.concatenate([[0.0], rng.uniform(0.0, 1.0, width - 1)]))
    x = np.linspace(0.0, 1.0, _positive_int(points, "points", 2))
    design = np.column_stack([_relu_np(x[:, None] - knots[None, :]), np.ones_like(x)])
    coef = np.linalg.lstsq(design, np.asarray(f(x), dtype=float), rcond=None)[0]
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
        nets += [("Adam-trained", w, train_shallow_relu(_square, w, steps=300 if quick else 2000))]
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
