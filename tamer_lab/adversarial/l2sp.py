"""L2-SP: stay close to the starting point (Li, Grandvalet, Davoine, ICML 2018).

    Ω(θ) = α/2·‖θ_enc − θ_enc^pre‖² + β/2·‖θ_head‖²

The pre-trained encoder weights θ^pre are the reference instead of 0 (plain weight decay); the new
head, which has no pre-trained value, gets ordinary L2. The simplest strong few-label baseline.
"""
from __future__ import annotations

import torch
from torch import nn

from ..train import Hook
from ._inputs import check_nonnegative, require

__all__ = ["L2SP"]


class L2SP(Hook):
    """The L2-SP penalty over trainable parameters; ``setup(model)`` snapshots θ^pre.

    A parameter whose name starts with ``head_prefix`` (default ``"head."``, the head of a
    ``TextClassifier``; ``"net.4."`` for the last layer of ``MLP(d, c, hidden=(h, h))``) counts as head;
    the others as encoder. With the loop's AdamW, set ``weight_decay=0`` to compare with plain L2-SP
    rather than L2-SP plus decay.

    Two ways to apply it, with the same gradient:

    * ``penalty(model)``: the value Ω(θ) as a differentiable term to add to the loss (any loop);
    * ``add_gradient(model)`` after ``loss.backward()``: adds ∇Ω = α(θ_enc − θ^pre) and β·θ_head
      straight into ``p.grad`` with fused ``torch._foreach`` operations and no autograd graph. As a hook
      in ``finetune`` this is what runs (in ``after_backward``): building the graph of Ω over every
      parameter cost 19% of a step on the default encoder (``benchmarks/bench_adversarial.py``). The
      loop's logged training loss then leaves Ω out; ``penalty(model)`` gives its value.
    """

    def __init__(self, alpha: float = 0.1, beta: float = 0.01, head_prefix: str | None = "head."):
        check_nonnegative("alpha", alpha, "it weighs the distance to the pre-trained encoder (paper: 0.1)")
        check_nonnegative("beta", beta, "it weighs the L2 norm of the head (paper: 0.01)")
        self.alpha, self.beta, self.head_prefix = alpha, beta, head_prefix
        self.start: dict[str, torch.Tensor] | None = None

    def is_head(self, name: str) -> bool:
        return self.head_prefix is not None and name.startswith(self.head_prefix)

    def setup(self, model: nn.Module, optimizer=None) -> None:
        """Snapshot the encoder's starting weights θ^pre."""
        self.start = {n: p.detach().clone() for n, p in model.named_parameters()
                      if p.requires_grad and not self.is_head(n)}

    def penalty(self, model: nn.Module, batch: dict | None = None, logits: torch.Tensor | None = None) -> torch.Tensor:
        """α/2·‖θ_enc − θ^pre‖² + β/2·‖θ_head‖² (``batch`` and ``logits`` are not used)."""
        require(self.start is not None, "call setup(model) before L2SP.penalty (finetune does it)")
        enc, head = [], []
        for n, p in model.named_parameters():
            if not p.requires_grad:
                continue
            if self.is_head(n):
                head.append((p ** 2).sum())
            elif n in self.start:
                enc.append(((p - self.start[n]) ** 2).sum())
        zero = next(model.parameters()).new_zeros(())
        return self.alpha / 2 * sum(enc, zero) + self.beta / 2 * sum(head, zero)

    @torch.no_grad()
    def add_gradient(self, model: nn.Module) -> None:
        """p.grad += α(p − p^pre) for the encoder and β·p for the head (call after ``loss.backward()``)."""
        require(self.start is not None, "call setup(model) before L2SP.add_gradient (finetune does it)")
        enc_g, enc_p, enc_0, head_g, head_p = [], [], [], [], []
        for n, p in model.named_parameters():
            if not p.requires_grad:
                continue
            if p.grad is None:
                p.grad = torch.zeros_like(p)
            if self.is_head(n):
                head_g.append(p.grad), head_p.append(p)
            elif n in self.start:
                enc_g.append(p.grad), enc_p.append(p), enc_0.append(self.start[n])
        if enc_g and self.alpha:
            diff = torch._foreach_sub(enc_p, enc_0)
            torch._foreach_add_(enc_g, diff, alpha=self.alpha)
        if head_g and self.beta:
            torch._foreach_add_(head_g, head_p, alpha=self.beta)

    def loss(self, model: nn.Module, batch: dict, logits: torch.Tensor) -> None:
        return None  # applied to the gradients in after_backward: no graph to build

    def after_backward(self, model: nn.Module, step: int | None = None) -> None:
        self.add_gradient(model)
