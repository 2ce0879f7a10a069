"""SMART's Bregman proximal point step with momentum (Jiang et al., ACL 2020): an EMA teacher.

    θ_{t+1} = argmin_θ  F(θ) + μ·D_Breg(θ, θ̃_t),    D_Breg(θ, θ̃) = (1/n) Σ_i ℓ_s(f(x_i; θ), f(x_i; θ̃)),
    θ̃_t = (1 − β)·θ_t + β·θ̃_{t−1}                  (momentum: an exponential moving average)

with one inner step per update (the paper's S = 1): the penalty is simply added to the loss of each
step. Neither mt-dnn nor smart-pytorch implements this part; we do.
"""
from __future__ import annotations

import copy

import torch
from torch import nn

from ..train import Hook
from ._inputs import check_nonnegative, require
from .smart import symmetric_kl

__all__ = ["BregmanProximal"]


class BregmanProximal(Hook):
    """The Bregman proximal penalty μ·D_Breg(θ, θ̃) against an EMA teacher θ̃ of the model.

    * ``setup(model, optimizer=None, total_steps=None)`` copies the model into the teacher θ̃_0 = θ_0.
    * ``penalty(model, batch, logits)`` returns μ·(1/n) Σ_i ℓ_s(f(x_i; θ), f(x_i; θ̃)), the teacher's
      logits computed under ``no_grad`` in eval mode (no dropout), so gradients reach θ only.
    * ``after_step(model)`` (after ``optimizer.step()``) updates θ̃ ← (1 − β_t)·θ + β_t·θ̃ for every
      parameter and copies the buffers; β_t = ``beta`` for the first ``switch_fraction`` of the
      ``total_steps`` updates (t < switch_fraction·T) and ``beta_after`` from then on: the paper's
      0.99 for the first 10% of updates, then 0.999.

    ``finetune`` passes the number of steps to ``setup``; in your own loop pass ``total_steps`` here
    or to ``setup`` (it is only needed when ``beta != beta_after``). ``loss`` is ``"sym_kl"`` or
    ``"mse"`` (regression). Usable alone or beside ``SMART`` (``hooks=[SMART(), BregmanProximal()]``);
    it costs one copy of the parameters and one teacher forward per step.
    """

    def __init__(self, mu: float = 1.0, beta: float = 0.99, beta_after: float = 0.999, switch_fraction: float = 0.1,
                 total_steps: int | None = None, loss: str = "sym_kl"):
        check_nonnegative("mu", mu, "it is the weight of the proximal penalty (paper: 1)")
        require(0 <= beta < 1, f"beta must be in [0, 1), got {beta}; it is the EMA momentum (paper: 0.99)")
        require(0 <= beta_after < 1, f"beta_after must be in [0, 1), got {beta_after} (paper: 0.999)")
        require(0 <= switch_fraction <= 1, f"switch_fraction must be in [0, 1], got {switch_fraction}; it is the "
                                           f"fraction of the updates that use beta (paper: 0.1)")
        require(total_steps is None or total_steps >= 1, f"total_steps must be >= 1 or None, got {total_steps}")
        require(loss in ("sym_kl", "mse"), f"loss must be one of ('sym_kl', 'mse'), got {loss!r}")
        self.mu, self.beta, self.beta_after, self.switch_fraction = mu, beta, beta_after, switch_fraction
        self.total_steps, self.divergence_name = total_steps, loss
        self.teacher: nn.Module | None = None
        self.updates = 0

    def setup(self, model: nn.Module, optimizer=None, total_steps: int | None = None) -> None:
        """Start the teacher at the model's weights; ``total_steps`` sets the β schedule's length."""
        if total_steps is not None:
            self.total_steps = total_steps
        require(self.total_steps is not None or self.beta == self.beta_after or self.switch_fraction in (0, 1),
                "BregmanProximal needs the number of optimizer steps for its beta schedule: pass total_steps= to "
                "BregmanProximal(...) or to setup(...) (finetune passes it for you)")
        self.teacher = copy.deepcopy(model).eval()
        for p in self.teacher.parameters():
            p.requires_grad_(False)
        self.updates = 0

    def current_beta(self) -> float:
        """β for the next update: ``beta`` while updates < switch_fraction·total_steps, then ``beta_after``."""
        if self.switch_fraction == 1:
            return self.beta
        if self.switch_fraction == 0:
            return self.beta_after
        return self.beta if self.updates < self.switch_fraction * self.total_steps else self.beta_after

    def _teacher(self) -> nn.Module:
        require(self.teacher is not None, "call setup(model) before using BregmanProximal (finetune does it)")
        return self.teacher

    def penalty(self, model: nn.Module, batch: dict, logits: torch.Tensor) -> torch.Tensor:
        """μ·(1/n) Σ_i ℓ_s(f(x_i; θ), f(x_i; θ̃)); ``logits`` are the model's on ``batch``."""
        teacher = self._teacher()
        with torch.no_grad():
            target = teacher(**{k: v for k, v in batch.items() if k != "labels"})
        if self.divergence_name == "mse":
            return self.mu * ((logits.float() - target.float()) ** 2).reshape(len(logits), -1).sum(-1).mean()
        return self.mu * symmetric_kl(logits, target)

    def loss(self, model: nn.Module, batch: dict, logits: torch.Tensor) -> torch.Tensor:
        return self.penalty(model, batch, logits)

    @torch.no_grad()
    def after_step(self, model: nn.Module, step: int | None = None) -> None:
        """θ̃ ← (1 − β)·θ + β·θ̃ (call after ``optimizer.step()``); buffers are copied."""
        teacher, beta = self._teacher(), self.current_beta()
        for t, p in zip(teacher.parameters(), model.parameters()):
            t.mul_(beta).add_(p.detach(), alpha=1 - beta)
        for t, b in zip(teacher.buffers(), model.buffers()):
            t.copy_(b)
        self.updates += 1
