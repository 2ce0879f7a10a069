"""Virtual adversarial training (Miyato, Maeda, Koyama, Ishii, TPAMI 2019).

    LDS(x; θ) = KL(p(·|x; θ̂) ‖ p(·|x + r_adv; θ)),   r_adv = ε·g/‖g‖_2,
    g ≈ top eigenvector of the Hessian of r ↦ KL(p(x) ‖ p(x + r)) at r = 0, by K power iterations:
        d ~ N(0, I), d ← d/‖d‖;  repeat K times:  d ← ∇_r KL(p(x) ‖ p(x + r))|_{r = ξ·d},  d ← d/‖d‖

θ̂ is θ with the gradient stopped: p(·|x; θ̂) is a fixed target. No label is used, so the penalty
applies to unlabelled batches as well: the semi-supervised bridge to self-training.
"""
from __future__ import annotations

from typing import Iterable

import torch
import torch.nn.functional as F
from torch import nn

from ..train import Hook
from ._inputs import check_nonnegative, check_positive, check_steps, example_norm, perturbable, require

__all__ = ["VAT", "kl_to"]

_TINY = 1e-30  # a zero direction stays zero


def kl_to(target_logits: torch.Tensor, logits: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """KL(softmax(target) ‖ softmax(logits)) per example, mean (default) or sum, in float32."""
    lt, lq = F.log_softmax(target_logits.float(), -1), F.log_softmax(logits.float(), -1)
    per = (lt.exp() * (lt - lq)).sum(-1)
    return per.sum() if reduction == "sum" else per.mean()


class VAT(Hook):
    """VAT's local distributional smoothness penalty ``weight · LDS`` on the input embeddings (or ``x``).

    ``eps`` is the radius ε of r_adv (ℓ2 per example, over the real tokens), ``xi`` the finite
    difference ξ of the power iteration, ``iterations`` its K (the paper: K = 1). With ``unlabeled``
    (a re-iterable of batches, e.g. a DataLoader; labels are ignored) each call also draws the next
    unlabelled batch and the penalty is the LDS averaged over the labelled and unlabelled examples.
    ``penalty(model, batch, logits=None)`` works in any loop; ``adversarial_direction`` gives r_adv.
    """

    def __init__(self, eps: float = 1.0, xi: float = 1e-6, iterations: int = 1, weight: float = 1.0,
                 unlabeled: Iterable[dict] | None = None):
        check_positive("eps", eps, "it is the radius of the virtual adversarial perturbation")
        check_positive("xi", xi, "it is the finite-difference step of the power iteration (paper: 1e-6)")
        check_steps("iterations", iterations, "power iterations")
        check_nonnegative("weight", weight, "it is the weight of the LDS penalty (paper: 1)")
        self.eps, self.xi, self.iterations, self.weight = eps, xi, iterations, weight
        self.unlabeled, self._iter = unlabeled, None

    def adversarial_direction(self, model: nn.Module, batch: dict, target: torch.Tensor, inputs=None) -> torch.Tensor:
        """r_adv = ε·d/‖d‖ after ``iterations`` power iterations (detached), given the clean logits."""
        inputs = inputs if inputs is not None else perturbable(model, batch)
        target = target.detach()
        d = torch.randn_like(inputs.clean) * inputs.mask
        for _ in range(self.iterations):
            d = (d / example_norm(d, "l2").clamp_min(_TINY)).detach().requires_grad_(True)
            kl = kl_to(target, inputs(self.xi * d, detach_clean=True), reduction="sum")
            (d,) = torch.autograd.grad(kl, d)
            d = d * inputs.mask
        return (self.eps * d / example_norm(d, "l2").clamp_min(_TINY)).detach()

    def lds(self, model: nn.Module, batch: dict, logits: torch.Tensor | None = None) -> tuple[torch.Tensor, int]:
        """(mean LDS over the batch, number of examples); ``logits`` default to a no-grad clean forward."""
        inputs = perturbable(model, batch)
        if logits is None:
            with torch.no_grad():
                logits = inputs()
        r_adv = self.adversarial_direction(model, batch, logits, inputs)
        return kl_to(logits.detach(), inputs(r_adv)), len(logits)

    def _next_unlabeled(self, device: torch.device) -> dict:
        if self._iter is None:
            self._iter = iter(self.unlabeled)
        try:
            batch = next(self._iter)
        except StopIteration:
            self._iter = iter(self.unlabeled)
            try:
                batch = next(self._iter)
            except StopIteration:
                raise ValueError("the unlabelled batches ran out: pass a re-iterable (a list or a DataLoader) "
                                 "as unlabeled=, not a one-shot iterator or generator") from None
        require(isinstance(batch, dict), f"unlabelled batches must be dicts of tensors, got {type(batch).__name__}")
        return {k: v.to(device) for k, v in batch.items() if k != "labels"}

    def penalty(self, model: nn.Module, batch: dict, logits: torch.Tensor | None = None) -> torch.Tensor:
        """weight · LDS, averaged over the examples of ``batch`` and of the next unlabelled batch (if any)."""
        lds, n = self.lds(model, batch, logits)
        if self.unlabeled is not None:
            u_lds, m = self.lds(model, self._next_unlabeled(next(model.parameters()).device))
            lds = (n * lds + m * u_lds) / (n + m)
        return self.weight * lds

    def loss(self, model: nn.Module, batch: dict, logits: torch.Tensor) -> torch.Tensor:
        return self.penalty(model, batch, logits)
