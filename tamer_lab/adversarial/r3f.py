"""R3F: robust representations through regularized fine-tuning (Aghajanyan et al., ICLR 2021).

    loss = L(θ) + λ·(1/n) Σ_i ℓ_s(f(x_i + z_i), f(x_i)),    z ~ U(−σ, σ) or N(0, σ²)

SMART without the ascent step: random noise on the input embeddings (fairseq ``examples/rxf``),
about one extra forward and backward per step.
"""
from __future__ import annotations

import torch
from torch import nn

from ..train import Hook
from ._inputs import check_choice, check_nonnegative, check_positive, perturbable
from .smart import symmetric_kl

__all__ = ["R3F"]

NOISES = ("uniform", "normal")


class R3F(Hook):
    """R3F's noise-stability penalty ``weight · mean_i symKL(f(x_i + z_i), f(x_i))`` (both sides attached).

    ``noise="uniform"`` draws z ~ U(−σ, σ), ``"normal"`` z ~ N(0, σ²) (the paper: σ = 1e-5, λ = 1);
    padding tokens get no noise. ``penalty(model, batch, logits)`` works in any loop.
    """

    def __init__(self, sigma: float = 1e-5, noise: str = "uniform", weight: float = 1.0):
        check_positive("sigma", sigma, "it is the noise scale (paper: 1e-5)")
        check_choice("noise", noise, NOISES)
        check_nonnegative("weight", weight, "it is λ, the weight of the penalty (paper: 1)")
        self.sigma, self.noise, self.weight = sigma, noise, weight

    def sample_noise(self, like: torch.Tensor) -> torch.Tensor:
        """z ~ U(−σ, σ) or N(0, σ²), shaped like ``like``."""
        if self.noise == "uniform":
            return (torch.rand_like(like) * 2 - 1) * self.sigma
        return torch.randn_like(like) * self.sigma

    def penalty(self, model: nn.Module, batch: dict, logits: torch.Tensor) -> torch.Tensor:
        inputs = perturbable(model, batch)
        noisy = inputs(self.sample_noise(inputs.clean) * inputs.mask)
        return self.weight * symmetric_kl(noisy, logits)

    def loss(self, model: nn.Module, batch: dict, logits: torch.Tensor) -> torch.Tensor:
        return self.penalty(model, batch, logits)
