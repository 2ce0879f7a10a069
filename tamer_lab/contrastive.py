"""Contrastive sentence-pair fine-tuning of the encoder before classification (SetFit's first stage).

Tunstall et al., "Efficient Few-Shot Learning Without Prompts" (2022): from K labelled sentences per
class, build pairs (same class: target 1, different classes: target 0) and fine-tune the encoder so
that the cosine similarity of the pooled embeddings matches the target (squared error). Pairs grow
quadratically with the labels, so a handful of labels gives thousands of training signals; the
encoder was pre-trained with the same cosine geometry, which is why this suits sentence encoders.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .data.batching import DictDataset
from .train import FitResult, TrainConfig, finetune

__all__ = ["sample_pairs", "PairSimilarity", "contrastive_finetune"]


def sample_pairs(labels, pairs_per_example: int, seed: int, max_pairs: int | None = None) -> np.ndarray:
    """Rows (i, j, target): for each example and round, one positive and one negative partner.

    With ``max_pairs`` the pairs are subsampled (seeded). A class with one member gets no positives.
    """
    labels = np.asarray(labels)
    if pairs_per_example < 1:
        raise ValueError(f"pairs_per_example must be >= 1, got {pairs_per_example}")
    if len(np.unique(labels)) < 2:
        raise ValueError("contrastive pairs need at least two classes among the labels")
    rng = np.random.default_rng(seed)
    by_class = {c: np.flatnonzero(labels == c) for c in np.unique(labels)}
    rows = []
    for _ in range(pairs_per_example):
        for i, y in enumerate(labels):
            same = by_class[y][by_class[y] != i]
            if len(same):
                rows.append((i, int(rng.choice(same)), 1))
            rows.append((i, int(rng.choice(np.flatnonzero(labels != y))), 0))
    rows = np.array(rows, dtype=np.int64)
    if max_pairs is not None and len(rows) > max_pairs:
        rows = rows[rng.choice(len(rows), max_pairs, replace=False)]
    return rows[rng.permutation(len(rows))]


class PairSimilarity(nn.Module):
    """Cosine similarity of a classifier's pooled features for two batches of inputs."""

    def __init__(self, classifier: nn.Module):
        super().__init__()
        self.classifier = classifier

    def forward(self, input_ids_a, attention_mask_a, input_ids_b, attention_mask_b) -> torch.Tensor:
        a = self.classifier.features(input_ids_a, attention_mask_a)
        b = self.classifier.features(input_ids_b, attention_mask_b)
        return F.cosine_similarity(a.float(), b.float(), dim=-1)


def _cosine_mse(similarity: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return F.mse_loss(similarity, target.float())


def contrastive_finetune(classifier: nn.Module, data: DictDataset, *, pairs_per_example: int = 20,
                         max_pairs: int | None = 2000, config: TrainConfig | None = None, seed: int = 0,
                         **overrides) -> FitResult:
    """Fine-tune ``classifier``'s encoder on sentence pairs from a tokenized labelled dataset (one epoch).

    ``data`` has ``input_ids`` lists and ``labels``; training settings default to SetFit's
    (lr 2e-5, batch 16 pairs, one pass, no dev set) and take ``TrainConfig`` overrides.
    """
    ids, labels = data.columns["input_ids"], data.columns["labels"]
    rows = sample_pairs(labels.numpy() if torch.is_tensor(labels) else labels, pairs_per_example, seed, max_pairs)
    pairs = DictDataset(input_ids_a=[ids[i] for i in rows[:, 0]], input_ids_b=[ids[j] for j in rows[:, 1]],
                        labels=torch.as_tensor(rows[:, 2]))
    base = config or TrainConfig(lr=2e-5, epochs=1, batch_size=16, warmup=0.1, seed=seed)
    return finetune(PairSimilarity(classifier), pairs, None, config=base, loss_fn=_cosine_mse, **overrides)
