"""SMART's smoothness-inducing adversarial regularizer (Jiang et al., ACL 2020).

    min_θ  L(θ) + λ_s·R_s(θ),    R_s(θ) = (1/n) Σ_i max_{‖x̃_i − x_i‖ ≤ ε} ℓ_s(f(x̃_i; θ), f(x_i; θ)),

with ℓ_s the symmetric KL divergence (classification) or the squared error (regression), and x the
input embeddings. The inner maximum is approximated by K steps of normalized gradient ascent from
x_i + ν_i, ν_i ~ N(0, σ²I). The Bregman proximal point part of SMART is ``BregmanProximal``.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..train import Hook
from ._inputs import (Perturbable, check_choice, check_nonnegative, check_positive, check_steps, example_norm,
                      perturbable, token_norm)

__all__ = ["SMART", "symmetric_kl", "squared_error", "PROJECTIONS", "NORMS", "LOSSES"]

PROJECTIONS = ("ball", "normalize")
NORMS = ("l2", "linf")
LOSSES = ("sym_kl", "mse")
_TINY = 1e-30  # guards a division by a zero gradient norm
_MTDNN_STABILIZER = 1e-6  # mt-dnn's ``adv_epsilon`` default: added to the norm it divides by


def _reduce(per_example: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "mean":
        return per_example.mean()
    if reduction == "sum":
        return per_example.sum()
    if reduction == "none":
        return per_example
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def symmetric_kl(p_logits: torch.Tensor, q_logits: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Symmetric KL divergence between the softmax distributions of two logit tensors (last dim = classes).

        ℓ_s(p, q) = KL(p ‖ q) + KL(q ‖ p) = Σ_c (p_c − q_c)·(log p_c − log q_c)  ≥ 0,

    symmetric, and zero exactly when p = q. Gradients flow into both arguments (detach one yourself
    for a fixed target). ``reduction``: "mean" (over examples, the default), "sum" or "none".
    Computed in float32 whatever the input dtype (autocast).
    """
    lp, lq = F.log_softmax(p_logits.float(), dim=-1), F.log_softmax(q_logits.float(), dim=-1)
    return _reduce(((lp.exp() - lq.exp()) * (lp - lq)).sum(-1), reduction)


def squared_error(p: torch.Tensor, q: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """ℓ_s(p, q) = ‖p − q‖² per example (SMART's choice for regression), in float32."""
    diff = (p.float() - q.float()).reshape(p.shape[0], -1)
    return _reduce((diff ** 2).sum(-1), reduction)


class SMART(Hook):
    """SMART's adversarial smoothness regularizer as a hook: ``loss`` returns ``weight · R_s``.

    Algorithm (K = ``steps``, η = ``step_size``), per batch with clean logits f(x):

        δ ← ν,  ν ~ N(0, σ²)                                    (padding tokens get 0)
        repeat K times:   g ← ∇_δ Σ_i ℓ_s(f(x_i + δ_i), f(x_i).detach())
            projection="ball":       δ ← Π_{‖δ_i‖ ≤ ε}(δ + η·g/‖g_i‖)
            projection="normalize":  δ ← (δ + η·g) / (‖δ + η·g‖_token + 1e-6)
        penalty = weight · (1/n) Σ_i ℓ_s(f(x_i + δ_i), f(x_i))   (both sides attached)

    ``projection="ball"`` is the paper's projected gradient ascent. With ``norm="l2"`` the ball is
    ‖δ_i‖_2 ≤ ε over example i's whole embedding tensor (g is normalized by its per-example ℓ2 norm and
    Π rescales δ_i onto the ball when it leaves it); with ``norm="linf"`` g is divided by its
    per-example max |g| and Π clamps each entry to [−ε, ε]: exactly the paper's Algorithm 1, and the
    default. After the last step ‖δ_i‖ ≤ ε always holds.

    ``projection="normalize"`` reproduces mt-dnn's ``SmartPerturbation`` (``mt_dnn/perturbation.py``,
    ``_norm_grad`` with token-level normalization): the raw gradient step δ + η·g is divided, token by
    token, by its norm over the hidden dimension (ℓ∞: max |·|, mt-dnn's default ``norm_p="inf"``; ℓ2)
    plus the stabilizer 1e-6 (mt-dnn's default ``adv_epsilon``). So every token's perturbation has norm
    just below 1 whatever ε is (``eps`` is not used in this mode: there is no ε-ball, mt-dnn issue
    #224). What we keep from mt-dnn: the N(0, σ²) start, the update rule, the per-token normalization,
    the ascent gradient of an example-summed divergence against the detached clean logits. What we do
    not copy: its ``stable_kl`` variant in the ascent (we use ℓ_s itself), noise on padding tokens, and
    the detached targets of its final symmetric KL (ours keeps both sides attached, as the paper's R_s).

    The penalty's gradient reaches the parameters through f(x + δ) and through f(x) (the ``logits``
    passed in), and the embedding weights through x. Cost for K = 1: K + 1 extra forwards, K extra
    backwards to δ and one to the parameters. Use in any loop::

        smart = SMART()
        loss = F.cross_entropy(logits, y) + smart.penalty(model, batch, logits)
    """

    def __init__(self, eps: float = 1e-5, sigma: float = 1e-5, step_size: float = 1e-3, steps: int = 1,
                 projection: str = "ball", norm: str = "linf", weight: float = 1.0, loss: str = "sym_kl"):
        check_positive("eps", eps, "it is the radius of the perturbation ball (the paper uses 1e-5)")
        check_nonnegative("sigma", sigma, "it is the standard deviation of the initial noise (paper: 1e-5)")
        check_positive("step_size", step_size, "it is the ascent step η (paper: 1e-3)")
        check_steps("steps", steps)
        check_choice("projection", projection, PROJECTIONS)
        check_choice("norm", norm, NORMS)
        check_nonnegative("weight", weight, "it is λ_s, the weight of the regularizer (paper: 1 to 5)")
        check_choice("loss", loss, LOSSES)
        self.eps, self.sigma, self.step_size, self.steps = eps, sigma, step_size, steps
        self.projection, self.norm, self.weight, self.divergence_name = projection, norm, weight, loss

    def __repr__(self) -> str:
        return (f"SMART(eps={self.eps}, sigma={self.sigma}, step_size={self.step_size}, steps={self.steps}, "
                f"projection={self.projection!r}, norm={self.norm!r}, weight={self.weight}, "
                f"loss={self.divergence_name!r})")

    def divergence(self, a: torch.Tensor, b: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
        """ℓ_s: ``symmetric_kl`` or ``squared_error`` as chosen by ``loss``."""
        fn = symmetric_kl if self.divergence_name == "sym_kl" else squared_error
        return fn(a, b, reduction)

    def project(self, delta: torch.Tensor) -> torch.Tensor:
        """Π onto {‖δ_i‖ ≤ ε} for each example (``projection="ball"``)."""
        if self.norm == "linf":
            return delta.clamp(-self.eps, self.eps)
        return delta * (self.eps / example_norm(delta, "l2").clamp_min(self.eps))

    def ascent_step(self, delta: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
        """One update of δ from the gradient ``grad`` of the ascent objective."""
        if self.projection == "ball":
            return self.project(delta + self.step_size * grad / example_norm(grad, self.norm).clamp_min(_TINY))
        step = delta + self.step_size * grad
        return step / (token_norm(step, self.norm) + _MTDNN_STABILIZER)

    def initial_noise(self, inputs: Perturbable) -> torch.Tensor:
        """ν ~ N(0, σ²) on the perturbable positions."""
        return torch.randn_like(inputs.clean) * self.sigma * inputs.mask

    def perturbation(self, model: nn.Module, batch: dict, logits: torch.Tensor,
                     inputs: Perturbable | None = None) -> torch.Tensor:
        """The adversarial δ after ``steps`` ascent steps (detached; shaped like the embeddings or ``x``)."""
        inputs = inputs if inputs is not None else perturbable(model, batch)
        target = logits.detach()
        delta = self.initial_noise(inputs)
        for _ in range(self.steps):
            delta.requires_grad_(True)
            ascent = self.divergence(inputs(delta, detach_clean=True), target, reduction="sum")
            (grad,) = torch.autograd.grad(ascent, delta)
            delta = (self.ascent_step(delta.detach(), grad) * inputs.mask).detach()
        return delta

    def penalty(self, model: nn.Module, batch: dict, logits: torch.Tensor) -> torch.Tensor:
        """weight · (1/n) Σ_i ℓ_s(f(x_i + δ_i), f(x_i)), differentiable in the parameters through both sides."""
        inputs = perturbable(model, batch)
        delta = self.perturbation(model, batch, logits, inputs)
        return self.weight * self.divergence(inputs(delta), logits)

    def loss(self, model: nn.Module, batch: dict, logits: torch.Tensor) -> torch.Tensor:
        return self.penalty(model, batch, logits)
