"""Fine-tuning recipes for the real task and the runners the experiments share.

A ``Recipe`` fixes everything about how a classifier is trained on a few-label split, so a grid cell
is (recipe, labels per class, seed). The default recipe was chosen in advance on a movie-disjoint
holdout carved from the training split (``benchmarks/bench_recipe.py``), never on the test split.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np

from ._runtime import seed_everything
from .data.batching import tokenize
from .data.text import FewShotSplit, TextDataset
from .models import DEFAULT_ENCODER, load_tokenizer, text_classifier
from .contrastive import contrastive_finetune
from .probe import FeatureBank, extract_features, fit_probe, init_head
from .train import Hook, TrainConfig, evaluate, finetune

__all__ = ["Recipe", "RECIPES", "run_finetune", "run_probe", "feature_bank"]


@dataclass(frozen=True)
class Recipe:
    """How to fine-tune a ``TextClassifier`` on a few-label split.

    Steps: ``epochs`` passes over the labels, but at least ``min_steps`` and at most ``max_steps``
    optimizer steps; the dev set (as scarce as the labels) picks the best evaluation.
    ``probe_init`` fits a linear probe on the frozen features first and starts from it (LP-FT).
    ``pretrained=False`` trains the same architecture from a random initialisation.
    ``contrastive_pairs > 0`` first tunes the encoder on that many sentence pairs per labelled
    example (SetFit's stage 1, ``tamer_lab.contrastive``), when there are at most
    ``contrastive_max_k`` labels per class (a few-shot device: with hundreds of labels per class the
    supervised signal is plentiful); ``end_to_end=False`` then stops after the probe-initialised head
    (SetFit proper) instead of fine-tuning everything on the labels.
    """

    pooling: str = "mean"
    lr: float = 2e-5
    head_lr: float | None = None
    epochs: int = 10
    min_steps: int = 80
    max_steps: int | None = 200
    batch_size: int = 16
    warmup: float = 0.1
    weight_decay: float = 0.01
    probe_init: bool = True
    restore_best: bool = True
    max_length: int = 48
    precision: str = "auto"
    pretrained: bool = True
    encoder: str = DEFAULT_ENCODER
    contrastive_pairs: int = 20
    contrastive_max_pairs: int = 640
    contrastive_lr: float = 2e-5
    contrastive_max_k: int | None = 64  # labels per class above which the contrastive stage is skipped
    end_to_end: bool = True

    def train_config(self, seed: int, **overrides) -> TrainConfig:
        return TrainConfig(lr=self.lr, head_lr=self.head_lr, epochs=self.epochs, min_steps=self.min_steps,
                           max_steps=self.max_steps, batch_size=self.batch_size, warmup=self.warmup,
                           weight_decay=self.weight_decay, restore_best=self.restore_best,
                           precision=self.precision, seed=seed, **overrides)

    def to_dict(self) -> dict:
        return asdict(self)


PROBE_INIT_MAX = 1024

RECIPES: dict[str, Recipe] = {
    # plain AutoModelForSequenceClassification-style fine-tuning: [CLS], lr 1e-4, 5 epochs, batch 32
    "plain": Recipe(pooling="cls", lr=1e-4, epochs=5, min_steps=0, max_steps=None, batch_size=32,
                    probe_init=False, restore_best=False, contrastive_pairs=0),
    # SetFit's contrastive stage, then a probe-initialised head, then end-to-end fine-tuning (LP-FT)
    "default": Recipe(),
    # the same architecture from a random initialisation: no probe, no contrastive stage, a larger lr
    "scratch": Recipe(pretrained=False, probe_init=False, contrastive_pairs=0, lr=1e-4),
}


def run_finetune(split: FewShotSplit, test: TextDataset, recipe: Recipe, seed: int, *,
                 bank: FeatureBank | None = None, progress: bool | None = None, hooks: Sequence[Hook] = ()) -> dict:
    """Fine-tune a fresh classifier on ``split`` with ``recipe`` and return its metrics on ``test``.

    ``bank`` (frozen features of the same encoder and pooling) saves recomputing them for ``probe_init``.
    ``hooks`` (fresh ones: a hook may keep state) join the end-to-end stage, e.g. ``[SMART()]``; the
    mean of each hook's loss term over the last epoch is returned as ``<Hook>_loss``.
    """
    start = time.perf_counter()
    seed_everything(seed)
    tok = load_tokenizer(recipe.encoder)
    model = text_classifier(recipe.encoder, split.train.num_classes, pooling=recipe.pooling,
                            pretrained=recipe.pretrained)
    enc = lambda d: tokenize(tok, d.texts, d.labels, max_length=recipe.max_length)  # noqa: E731
    train, dev, test_data = enc(split.train), enc(split.dev), enc(test)
    steps = 0
    per_class = min(np.bincount(split.train.labels))
    if recipe.contrastive_pairs and (recipe.contrastive_max_k is None or per_class <= recipe.contrastive_max_k):
        steps += contrastive_finetune(model, train, pairs_per_example=recipe.contrastive_pairs,
                                      max_pairs=recipe.contrastive_max_pairs, seed=seed, lr=recipe.contrastive_lr,
                                      precision=recipe.precision, progress=progress).steps
        bank = None  # the encoder changed: frozen features must be recomputed
    if recipe.probe_init:  # on at most PROBE_INIT_MAX labelled texts: a head to start from, not the final word
        ptrain, pdev = (d.subset(range(min(len(d), PROBE_INIT_MAX))) for d in (split.train, split.dev))
        if bank is not None:
            ftr, fdev = bank.get(ptrain.texts), bank.get(pdev.texts)
        else:
            ftr, fdev = (extract_features(model, tok, d.texts, max_length=recipe.max_length, precision=recipe.precision)
                         for d in (ptrain, pdev))
        init_head(model, fit_probe(ftr, ptrain.labels, fdev, pdev.labels))
    best_dev, hook_losses = None, {}
    if recipe.end_to_end:
        fit = finetune(model, train, dev if len(dev) else None, config=recipe.train_config(seed, progress=progress),
                       hooks=hooks)
        steps, best_dev = steps + fit.steps, fit.best.get("accuracy")
        hook_losses = {k: v for k, v in fit.history[-1].items() if k.endswith("_loss") and k[0].isupper()}
    elif hooks:
        raise ValueError("hooks act in the end-to-end stage, but this recipe has end_to_end=False")
    elif not recipe.probe_init:
        raise ValueError("a recipe with end_to_end=False needs probe_init=True (otherwise the head is untrained)")
    test_m = evaluate(model, test_data, precision=recipe.precision)
    train_m = evaluate(model, train.head(512), precision=recipe.precision)
    return dict(test_accuracy=test_m["accuracy"], test_loss=test_m["loss"], train_accuracy=train_m["accuracy"],
                dev_accuracy=best_dev, steps=steps,
                n_train=len(split.train), n_dev=len(split.dev), n_test=len(test), wall_time=time.perf_counter() - start,
                **hook_losses)


def run_probe(split: FewShotSplit, test: TextDataset, bank: FeatureBank) -> dict:
    """A logistic probe on the frozen features in ``bank``, its penalty chosen on the scarce dev set."""
    start = time.perf_counter()
    probe = fit_probe(bank.get(split.train.texts), split.train.labels, bank.get(split.dev.texts), split.dev.labels)
    return dict(test_accuracy=probe.accuracy(bank.get(test.texts), test.labels),
                train_accuracy=probe.accuracy(bank.get(split.train.texts), split.train.labels),
                dev_accuracy=probe.accuracy(bank.get(split.dev.texts), split.dev.labels) if len(split.dev) else None,
                l2=probe.l2, n_train=len(split.train), n_dev=len(split.dev), n_test=len(test),
                wall_time=time.perf_counter() - start)


def feature_bank(texts, *, encoder: str = DEFAULT_ENCODER, pooling: str = "mean", max_length: int = 64,
                 precision: str = "auto") -> FeatureBank:
    """Frozen pooled features of ``texts`` under the pre-trained ``encoder`` (cached on disk)."""
    model = text_classifier(encoder, 2, pooling=pooling)
    return FeatureBank(model, load_tokenizer(encoder), texts, max_length=max_length, precision=precision,
                       cache_key=encoder)
