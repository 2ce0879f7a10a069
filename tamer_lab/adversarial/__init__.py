"""Adversarial and proximal regularization for fine-tuning with few labels (Thrust I).

Each method is a ``Hook`` for ``finetune(..., hooks=[...])`` and works as well in your own loop, where
``penalty(model, batch, logits)`` returns the extra loss term:

===================  ================================================================  ==========================
method               adds to the task loss L(θ)                                        own-loop calls
===================  ================================================================  ==========================
``SMART``            λ_s·mean_i max_{‖δ_i‖≤ε} ℓ_s(f(x_i+δ_i), f(x_i)), K ascent steps  penalty
``BregmanProximal``  μ·mean_i ℓ_s(f(x_i; θ), f(x_i; θ')), θ' the EMA teacher           setup, penalty, after_step
``R3F``              λ·mean_i symKL(f(x_i+z_i), f(x_i)), z random, no ascent           penalty
``FreeLB``           replaces L by (1/K)·Σ_k L(f(x+δ_k)), K ascent steps on δ          backward(model, batch)
``VAT``              λ·mean_i KL(p(x_i) ‖ p(x_i+r_adv)), also on unlabelled data       penalty
``L2SP``             α/2·‖θ_enc − θ_enc^pre‖² + β/2·‖θ_head‖²                          setup, penalty
===================  ================================================================  ==========================

ℓ_s is ``symmetric_kl`` (classification) or the squared error (regression). Perturbations act on the
word embeddings of a ``TextClassifier`` (``model.embed(input_ids)`` and
``model(inputs_embeds=..., attention_mask=...)``), or on the input ``x`` of a toy model like ``MLP``.
SMART is ``[SMART(), BregmanProximal()]``: its two parts compose as two hooks.
"""
from .bregman import BregmanProximal
from .freelb import FreeLB
from .l2sp import L2SP
from .r3f import R3F
from .smart import SMART, squared_error, symmetric_kl
from .vat import VAT, kl_to

__all__ = ["SMART", "BregmanProximal", "R3F", "FreeLB", "VAT", "L2SP", "symmetric_kl", "squared_error", "kl_to"]
