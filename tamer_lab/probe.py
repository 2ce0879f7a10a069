"""Frozen features and linear probes.

``extract_features`` runs an encoder once over a dataset and caches the pooled features on disk
(keyed by a hash of the model name, pooling, length and texts; written atomically). ``LinearProbe``
is an L2-regularised multinomial logistic regression on standardised features, fitted by L-BFGS,
with the penalty chosen on a dev set; ``init_head`` turns a fitted probe into the classifier's head
(the linear-probe-then-fine-tune recipe, Kumar et al., ICLR 2022).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .assets import cached_text_arrays
from .data.batching import tokenize
from .train import predict

__all__ = ["extract_features", "FeatureBank", "LinearProbe", "fit_probe", "init_head"]


class _Pooled(torch.nn.Module):
    def __init__(self, classifier):
        super().__init__()
        self.classifier = classifier

    def forward(self, **inputs):
        return self.classifier.features(**inputs)


def extract_features(model, tokenizer, texts, *, max_length: int = 64, batch_size: int = 128,
                     precision: str = "fp32", cache_key: str | None = None) -> np.ndarray:
    """Pooled features (``model.features``) of ``texts`` as a float32 array, cached when ``cache_key`` is given.

    ``cache_key`` names the encoder (e.g. ``"minilm"``); the cache file also depends on the pooling,
    ``max_length``, ``precision`` and the texts themselves, so a stale cache is never read.
    """
    texts = list(texts)

    def compute() -> dict:
        data = tokenize(tokenizer, texts, max_length=max_length)
        out = predict(_Pooled(model), data, batch_size=batch_size, precision=precision)
        return {"features": out.numpy().astype(np.float32)}

    if cache_key is None:
        return compute()["features"]
    return cached_text_arrays([cache_key, model.pooling, max_length, precision], texts, compute)["features"]


class FeatureBank:
    """Frozen features of a fixed universe of texts, extracted once (and cached), looked up by text.

    >>> bank = FeatureBank(model, tokenizer, all_texts, cache_key="minilm")   # doctest: +SKIP
    >>> x_train = bank.get(split.train.texts)                                 # doctest: +SKIP
    """

    def __init__(self, model, tokenizer, texts, **kw):
        texts = list(dict.fromkeys(texts))
        self.features = extract_features(model, tokenizer, texts, **kw)
        self.row = {t: i for i, t in enumerate(texts)}

    def get(self, texts) -> np.ndarray:
        try:
            return self.features[[self.row[t] for t in texts]]
        except KeyError as exc:
            raise KeyError(f"text not in this feature bank: {str(exc)[:80]}...; build the bank over every "
                           f"text you will look up") from None


@dataclass
class LinearProbe:
    """A fitted multinomial logistic regression on standardised features."""

    weight: np.ndarray  # (classes, dim), acting on standardised features
    bias: np.ndarray
    mean: np.ndarray
    scale: np.ndarray
    l2: float

    def logits(self, features: np.ndarray) -> np.ndarray:
        return ((features - self.mean) / self.scale) @ self.weight.T + self.bias

    def predict(self, features: np.ndarray) -> np.ndarray:
        return self.logits(features).argmax(-1)

    def accuracy(self, features: np.ndarray, labels) -> float:
        return float((self.predict(features) == np.asarray(labels)).mean())

    def raw_weights(self) -> tuple[np.ndarray, np.ndarray]:
        """Weight and bias acting on raw (unstandardised) features."""
        w = self.weight / self.scale
        return w, self.bias - w @ self.mean


def _fit_logistic(x: torch.Tensor, y: torch.Tensor, n_classes: int, l2: float) -> tuple[torch.Tensor, torch.Tensor]:
    w = torch.zeros(n_classes, x.shape[1], dtype=torch.float64, requires_grad=True)
    b = torch.zeros(n_classes, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], lr=1, max_iter=500, tolerance_grad=1e-9, tolerance_change=1e-12,
                            line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(x @ w.T + b, y) + 0.5 * l2 * (w ** 2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return w.detach(), b.detach()


def fit_probe(train_x: np.ndarray, train_y, dev_x: np.ndarray | None = None, dev_y=None, *,
              l2_grid=(1e-2, 1e-1, 1.0, 10.0), n_classes: int | None = None, standardize: bool = True) -> LinearProbe:
    """Fit the probe for each L2 penalty in ``l2_grid`` and keep the best on the dev set.

    Ties (common on tiny dev sets) go to the stronger penalty. Without a dev set the largest penalty
    is used. Features are standardised with the training mean and scale (``standardize=False``
    keeps the raw features, so the hypothesis class does not depend on the sample: the margin bounds
    of ``tamer_lab.theory`` need that).
    """
    train_x = np.asarray(train_x, dtype=np.float64)
    train_y = np.asarray(train_y, dtype=np.int64)
    if train_x.ndim != 2 or len(train_x) != len(train_y) or len(train_y) == 0:
        raise ValueError(f"need a non-empty (n, dim) feature matrix with n labels; got {train_x.shape} "
                         f"and {train_y.shape}")
    n_classes = n_classes or int(train_y.max()) + 1
    mean = train_x.mean(0) if standardize else np.zeros(train_x.shape[1])
    scale = train_x.std(0) + 1e-6 if standardize else np.ones(train_x.shape[1])
    x = torch.from_numpy((train_x - mean) / scale)
    y = torch.from_numpy(train_y)
    grid = sorted(l2_grid, reverse=True)
    if dev_x is None or len(dev_x) == 0:
        grid = grid[:1]
    best, best_acc = None, -1.0
    for l2 in grid:
        w, b = _fit_logistic(x, y, n_classes, l2)
        probe = LinearProbe(w.numpy(), b.numpy(), mean, scale, l2)
        acc = probe.accuracy(np.asarray(dev_x, dtype=np.float64), dev_y) if len(grid) > 1 else 0.0
        if acc > best_acc:
            best, best_acc = probe, acc
    return best


@torch.no_grad()
def init_head(model, probe: LinearProbe) -> None:
    """Copy a probe fitted on ``model.features`` into ``model.head`` (folding in the standardisation)."""
    w, b = probe.raw_weights()
    if tuple(model.head.weight.shape) != w.shape:
        raise ValueError(f"probe weight {w.shape} does not match the head {tuple(model.head.weight.shape)}")
    model.head.weight.copy_(torch.as_tensor(w, dtype=model.head.weight.dtype))
    model.head.bias.copy_(torch.as_tensor(b, dtype=model.head.bias.dtype))
