"""Approximation with ReLU networks: Yarotsky's sawtooth construction of x² (exact error 2^(-2m-2)).

Yarotsky, "Error bounds for approximations with deep ReLU networks", Neural Networks 94 (2017),
Proposition 2. The tent map g(x) = 2x on [0, 1/2], 2(1 - x) on [1/2, 1] is a ReLU network with
three units, g(x) = 2σ(x) - 4σ(x - 1/2) + 2σ(x - 1). Its s-fold composition g_s is a sawtooth with
2^(s-1) teeth, and

    f_m(x) = x - Σ_{s=1}^{m} g_s(x) / 2^(2s)

is the piecewise-linear interpolant of x² at the 2^m + 1 points k/2^m, so
sup_{x in [0,1]} |x² - f_m(x)| = 2^(-2m-2) exactly, attained at the midpoints (2k+1)/2^(m+1).
The network has depth m + 1 and O(m) units: the error falls exponentially with depth.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .checks import register
from .rates import CheckFailed

__all__ = ["tent", "sawtooth", "yarotsky_square", "YarotskySquare", "yarotsky_sup_error"]


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
