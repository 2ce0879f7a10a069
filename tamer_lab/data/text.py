"""The real transfer task: Rotten Tomatoes critic snippets, fresh (1) vs rotten (0).

Honest evaluation is built in:

* the test split is grouped by movie: no movie has snippets on both sides;
* ``few_shot`` samples exactly ``k`` labels per class with a seed, and a dev split that is as
  scarce as the labels (at most ``k`` per class, disjoint from them), following Perez, Kiela and
  Cho, "True Few-Shot Learning" (NeurIPS 2021); the rest of train is an unlabelled pool.
"""
from __future__ import annotations

import bz2
import csv
from dataclasses import dataclass, field

import numpy as np

from .. import assets

__all__ = ["TextDataset", "FewShotSplit", "load_rotten_tomatoes", "group_split", "real_task", "few_shot"]

LABEL_NAMES = ("rotten", "fresh")


@dataclass
class TextDataset:
    """Texts with integer labels and a group (movie) per text."""

    texts: list[str]
    labels: np.ndarray
    groups: np.ndarray
    label_names: tuple[str, ...] = LABEL_NAMES

    def __post_init__(self):
        self.labels = np.asarray(self.labels, dtype=np.int64)
        self.groups = np.asarray(self.groups)
        if not (len(self.texts) == len(self.labels) == len(self.groups)):
            raise ValueError(f"texts ({len(self.texts)}), labels ({len(self.labels)}) and groups "
                             f"({len(self.groups)}) must have the same length")
        if len(self.labels) and (self.labels.min() < 0 or self.labels.max() >= len(self.label_names)):
            raise ValueError(f"labels must lie in 0..{len(self.label_names) - 1} ({self.label_names}); "
                             f"got values in {self.labels.min()}..{self.labels.max()}")

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def num_classes(self) -> int:
        return len(self.label_names)

    def subset(self, index) -> "TextDataset":
        index = np.asarray(index, dtype=np.int64)
        return TextDataset([self.texts[i] for i in index], self.labels[index], self.groups[index], self.label_names)

    def class_counts(self) -> dict[str, int]:
        counts = np.bincount(self.labels, minlength=self.num_classes)
        return {name: int(c) for name, c in zip(self.label_names, counts)}

    def describe(self) -> str:
        counts = self.class_counts()
        n = max(len(self), 1)
        parts = ", ".join(f"{k} {v} ({v / n:.1%})" for k, v in counts.items())
        return f"{len(self)} texts, {len(set(self.groups.tolist()))} groups: {parts}"


def load_rotten_tomatoes() -> TextDataset:
    """All fresh and rotten snippets (``plot`` rows dropped, duplicate texts kept once).

    12,752 snippets from 1,449 movies (fresh = 1, rotten = 0), read from the verified offline asset.
    """
    file = assets.path("rotten_tomatoes") / "rotten_tomatoes_corpus_full.csv.bz2"
    with bz2.open(file, "rt", encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    texts, labels, groups, seen = [], [], [], set()
    for row in rows:
        cat = row["category"]
        if cat == "plot":
            continue
        if cat not in LABEL_NAMES:
            raise ValueError(f"unexpected category {cat!r} in {file}")
        text = row["text"].strip()
        if not text or text in seen:
            continue
        seen.add(text)
        texts.append(text)
        labels.append(LABEL_NAMES.index(cat))
        groups.append(row["movie_name"])
    return TextDataset(texts, np.array(labels), np.array(groups))


def group_split(data: TextDataset, test_size: float = 0.2, seed: int = 0) -> tuple[TextDataset, TextDataset]:
    """Split by group so that no group (movie) is on both sides; about ``test_size`` of the texts go to test."""
    if not 0 < test_size < 1:
        raise ValueError(f"test_size must be in (0, 1), got {test_size}")
    uniq = np.unique(data.groups)
    if len(uniq) < 2:
        raise ValueError("a group split needs at least two groups")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(uniq))
    sizes = {g: c for g, c in zip(*np.unique(data.groups, return_counts=True))}
    test_groups, n_test = set(), 0
    for i in order:
        if n_test >= test_size * len(data):
            break
        test_groups.add(uniq[i])
        n_test += sizes[uniq[i]]
    is_test = np.array([g in test_groups for g in data.groups])
    return data.subset(np.flatnonzero(~is_test)), data.subset(np.flatnonzero(is_test))


def real_task(split_seed: int = 0) -> tuple[TextDataset, TextDataset]:
    """The fixed train/test split of the real task (movie-disjoint, 20% of snippets in test)."""
    return group_split(load_rotten_tomatoes(), test_size=0.2, seed=split_seed)


@dataclass
class FewShotSplit:
    """A few-label training set, its scarce dev set, and the unlabelled pool (the rest of train)."""

    train: TextDataset
    dev: TextDataset
    pool: TextDataset
    k: int | None
    seed: int
    info: dict = field(default_factory=dict)

    def describe(self) -> str:
        k = "all" if self.k is None else self.k
        return (f"k={k} per class, seed {self.seed}\n  train: {self.train.describe()}\n"
                f"  dev:   {self.dev.describe()}\n  pool:  {self.pool.describe()}")


def few_shot(train: TextDataset, k: int | None, seed: int, *, dev_k: int | None = None,
             dev_fraction: float = 0.1) -> FewShotSplit:
    """Sample exactly ``k`` labelled texts per class (seeded), a dev set and the unlabelled pool.

    ``dev_k`` is the number of dev texts per class; it defaults to ``k`` and may not exceed it, so the
    dev set is never richer than the labels. ``k=None`` means all labels: then ``dev_fraction`` of
    train (stratified) is held out as dev. The same (train, k, seed) always gives the same split.
    """
    rng = np.random.default_rng(seed)
    counts = np.bincount(train.labels, minlength=train.num_classes)
    if k is None:
        if not 0 < dev_fraction < 1:
            raise ValueError(f"dev_fraction must be in (0, 1), got {dev_fraction}")
        dev_idx, tr_idx = [], []
        for c in range(train.num_classes):
            idx = rng.permutation(np.flatnonzero(train.labels == c))
            n_dev = int(round(dev_fraction * len(idx)))
            dev_idx += idx[:n_dev].tolist()
            tr_idx += idx[n_dev:].tolist()
        return FewShotSplit(train.subset(rng.permutation(tr_idx)), train.subset(dev_idx), train.subset([]), None, seed)
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k (labels per class) must be a positive integer or None for all labels, got {k!r}")
    dev_k = k if dev_k is None else dev_k
    if not isinstance(dev_k, (int, np.integer)) or not 0 <= dev_k <= k:
        raise ValueError(f"dev_k must be an integer in 0..k={k} (a dev set richer than the labels is not a "
                         f"few-label experiment), got {dev_k!r}")
    smallest = int(counts.min())
    if k + dev_k > smallest:
        name = train.label_names[int(counts.argmin())]
        raise ValueError(f"k={k} labels plus dev_k={dev_k} dev texts per class exceed the smallest class "
                         f"({name!r} has {smallest} texts); use k + dev_k <= {smallest}, or k=None for all labels")
    tr_idx, dev_idx = [], []
    for c in range(train.num_classes):
        idx = rng.permutation(np.flatnonzero(train.labels == c))
        tr_idx += idx[:k].tolist()
        dev_idx += idx[k:k + dev_k].tolist()
    used = np.zeros(len(train), dtype=bool)
    used[tr_idx + dev_idx] = True
    return FewShotSplit(train.subset(rng.permutation(tr_idx)), train.subset(dev_idx),
                        train.subset(np.flatnonzero(~used)), int(k), seed)
