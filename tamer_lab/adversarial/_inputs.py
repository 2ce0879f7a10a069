"""Where the adversarial methods perturb a batch, and the checks and norms they share (private).

A text model (a batch with ``input_ids`` and a model with ``embed``, like ``TextClassifier``) is
perturbed on its word embeddings e = model.embed(input_ids), then run as
``model(inputs_embeds=e + δ, attention_mask=...)``; a toy model is perturbed on its input ``x``.
Padding tokens (``attention_mask == 0``) are never perturbed, so norms count real tokens only.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn


@dataclass
class Perturbable:
    """The clean input of a batch (``clean``), the mask of perturbable positions and the forward map."""

    clean: torch.Tensor  # the word embeddings [B, T, H] (attached to the embedding weights) or x [B, ...]
    mask: torch.Tensor  # 1 where a perturbation is allowed, broadcastable to ``clean``
    forward: Callable[[torch.Tensor], torch.Tensor]  # input (clean + δ) -> logits

    def __call__(self, delta: torch.Tensor | None = None, *, detach_clean: bool = False) -> torch.Tensor:
        """Logits at clean + δ; ``detach_clean`` stops gradients into the embedding weights."""
        x = self.clean.detach() if detach_clean else self.clean
        return self.forward(x if delta is None else x + delta)


def perturbable(model: nn.Module, batch: dict) -> Perturbable:
    """The perturbable input of ``batch`` for ``model`` (word embeddings of text, or ``x``)."""
    rest = {k: v for k, v in batch.items() if k != "labels"}
    if "input_ids" in rest:
        if not callable(getattr(model, "embed", None)):
            raise ValueError("the batch has input_ids but the model has no embed(input_ids) method: adversarial "
                             "methods perturb word embeddings, so use a tamer_lab TextClassifier or add embed() and "
                             "forward(inputs_embeds=...) to your model")
        ids = rest.pop("input_ids")
        clean = model.embed(ids)
        am = rest.get("attention_mask")
        mask = (am if am is not None else torch.ones_like(ids)).unsqueeze(-1).to(clean.dtype)
        return Perturbable(clean, mask, lambda e: model(inputs_embeds=e, **rest))
    if "x" in rest:
        x = rest.pop("x")
        if not torch.is_floating_point(x):
            raise ValueError(f"the input x must be a floating-point tensor to be perturbed, got {x.dtype}")
        mask = torch.ones((x.shape[0],) + (1,) * (x.ndim - 1), dtype=x.dtype, device=x.device)
        return Perturbable(x, mask, lambda v: model(x=v, **rest))
    raise ValueError(f"cannot find the input to perturb: the batch needs input_ids (text, with model.embed) or x "
                     f"(toy models); it has {sorted(batch)}")


def per_example(values: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Reshape one value per example to broadcast against ``like``."""
    return values.view(-1, *([1] * (like.ndim - 1)))


def example_norm(t: torch.Tensor, norm: str) -> torch.Tensor:
    """‖t_i‖ over all of example i's entries (ℓ2 or ℓ∞), shaped to broadcast against ``t``."""
    flat = t.flatten(1)
    n = flat.norm(dim=1) if norm == "l2" else flat.abs().amax(dim=1)
    return per_example(n, t)


def token_norm(t: torch.Tensor, norm: str) -> torch.Tensor:
    """‖t_{i,j}‖ over the last dimension (per token; per row for a toy input ``x``), keepdim."""
    return t.norm(dim=-1, keepdim=True) if norm == "l2" else t.abs().amax(dim=-1, keepdim=True)


def require(ok: bool, message: str) -> None:
    """Raise ``ValueError(message)`` unless ``ok``."""
    if not ok:
        raise ValueError(message)


def check_nonnegative(name: str, value: float, hint: str = "") -> None:
    require(value >= 0, f"{name} must be >= 0, got {value}{'; ' + hint if hint else ''}")


def check_positive(name: str, value: float, hint: str = "") -> None:
    require(value > 0, f"{name} must be > 0, got {value}{'; ' + hint if hint else ''}")


def check_steps(name: str, value: int, what: str = "ascent steps") -> None:
    require(isinstance(value, int) and not isinstance(value, bool) and value >= 1,
            f"{name} must be an integer >= 1 (the number of {what}), got {value!r}; use {name}=1 for the "
            f"paper's single step")


def check_choice(name: str, value: str, choices: tuple) -> None:
    require(value in choices, f"{name} must be one of {choices}, got {value!r}")
