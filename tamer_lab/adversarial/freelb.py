"""FreeLB: free large-batch adversarial training (Zhu, Cheng, Gan, Sun, Goldstein, Liu, ICLR 2020).

    min_θ  (1/K) Σ_{k=0}^{K−1} L(f(x + δ_k; θ), y)
    δ_0 ~ init_mag·U(−1, 1)/√(N_i·H) per entry (ℓ2; N_i real tokens, H the hidden size) or U(±init_mag) (ℓ∞)
    δ_{k+1} = Π(δ_k + α·g_k/‖g_k‖),   g_k = ∇_δ L(f(x + δ_k), y)

Each of the K forward/backward passes yields both g_k and the parameter gradient of L(x + δ_k)/K;
the parameter gradients accumulate in ``p.grad`` ("free" adversarial training), then one optimizer
step uses their mean. ‖·‖ is the per-example ℓ2 norm (or max |·| for ℓ∞); Π rescales to
‖δ_i‖_2 ≤ ``max_norm`` (or clamps to [−max_norm, max_norm]) when ``max_norm > 0``, else nothing.
Follows zhuchen03/FreeLB's ``run_glue_freelb.py``; the clean loss is not part of the objective.
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ..train import Hook
from ._inputs import check_choice, check_nonnegative, check_positive, check_steps, example_norm, per_example, \
    perturbable

__all__ = ["FreeLB"]


class FreeLB(Hook):
    """FreeLB as a hook that does its own backward passes (``replaces_task_loss = True``).

    ``backward(model, batch)`` runs the K adversarial forward/backward passes, accumulates the
    parameter gradients (1/K each) in ``p.grad`` and returns the mean adversarial loss (detached). In
    your own loop it replaces ``loss.backward()``::

        freelb = FreeLB()
        for batch in loader:
            freelb.backward(model, batch)           # K forwards and backwards
            opt.step(); opt.zero_grad()

    In ``finetune`` its ``loss`` hook does the same and the loop, seeing ``replaces_task_loss``, leaves
    the clean task loss out of its own backward (it still makes the clean forward, for the other
    hooks and the history: K + 1 forwards and K backwards per step). Other hooks' loss terms are added
    and backpropagated as usual. ``loss_fn`` must be the task loss (``finetune``'s ``loss_fn``,
    cross-entropy by default). Defaults follow the paper's GLUE ranges: K = 2 to 3, adv-lr 4e-2 to
    2e-1, init magnitude 8e-2 to 1, max-norm 0 (none) to 0.7.
    """

    replaces_task_loss = True

    def __init__(self, steps: int = 2, adv_lr: float = 0.1, init_mag: float = 0.1, max_norm: float = 0.0,
                 norm: str = "l2", loss_fn: Callable = F.cross_entropy):
        check_steps("steps", steps)
        check_positive("adv_lr", adv_lr, "it is the ascent step size α on δ (paper: 4e-2 to 2e-1)")
        check_nonnegative("init_mag", init_mag, "it is the magnitude of the random start (0: start at δ = 0)")
        check_nonnegative("max_norm", max_norm, "it bounds ‖δ‖ (0: no bound)")
        check_choice("norm", norm, ("l2", "linf"))
        self.steps, self.adv_lr, self.init_mag, self.max_norm, self.norm = steps, adv_lr, init_mag, max_norm, norm
        self.loss_fn = loss_fn

    def initial_delta(self, clean: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """δ_0: uniform noise on the real tokens, of ℓ2 size about ``init_mag`` per example (or ℓ∞ ``init_mag``)."""
        u = (torch.rand_like(clean) * 2 - 1) * mask
        if self.norm == "linf":
            return u * self.init_mag
        entries = (mask.expand_as(clean)).flatten(1).sum(1).clamp_min(1)
        return u * per_example(self.init_mag / entries.sqrt(), clean)

    def ascent_step(self, delta: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
        """δ + α·g/‖g‖, then the ``max_norm`` bound."""
        delta = delta + self.adv_lr * grad / example_norm(grad, self.norm).clamp_min(1e-8)
        if self.max_norm > 0:
            if self.norm == "linf":
                return delta.clamp(-self.max_norm, self.max_norm)
            return delta * (self.max_norm / example_norm(delta, "l2").clamp_min(self.max_norm))
        return delta

    def backward(self, model: nn.Module, batch: dict) -> torch.Tensor:
        """K adversarial passes; accumulates (1/K)·∇_θ L(x + δ_k) into ``p.grad``; returns the mean loss."""
        labels = batch["labels"]
        first = perturbable(model, batch)
        delta = self.initial_delta(first.clean.detach(), first.mask)
        total = torch.zeros((), device=labels.device)
        for k in range(self.steps):
            inputs = first if k == 0 else perturbable(model, batch)  # a fresh embedding graph for each backward
            delta.requires_grad_(True)
            loss = self.loss_fn(inputs(delta).float(), labels) / self.steps
            loss.backward()
            total += loss.detach()
            if k < self.steps - 1:
                delta = (self.ascent_step(delta.detach(), delta.grad) * first.mask).detach()
        return total

    def loss(self, model: nn.Module, batch: dict, logits: torch.Tensor) -> torch.Tensor:
        return self.backward(model, batch)
