"""The label-scarcity tour: how much do pre-trained features buy when labels are few?

Three learners on the real task (Rotten Tomatoes, fresh vs rotten, movie-disjoint test split), at
K labels per class from 4 to all, over seeds:

* ``fine-tune``: the pre-trained encoder fine-tuned end to end (``RECIPES["default"]``);
* ``linear probe``: a logistic regression on the frozen mean-pooled features;
* ``from scratch``: the same architecture from a random initialisation (``RECIPES["scratch"]``).

``run_tour()`` returns the grid's ``Results`` (cached per cell, so an interrupted run resumes);
``tamer-lab tour`` runs it from the command line and writes the figure.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, replace

import numpy as np

from ._runtime import quick_mode
from .data.text import TextDataset, few_shot, real_task
from .experiments import Grid, Results
from .recipes import RECIPES, Recipe, feature_bank, run_finetune, run_probe

__all__ = ["TourSettings", "tour_settings", "run_tour", "tour_data", "tour_split", "task_feature_bank", "METHODS"]

METHODS = ("fine-tune", "linear probe", "from scratch")


@dataclass(frozen=True)
class TourSettings:
    """What the tour runs. ``full`` is the published setting; ``quick`` the CI-sized one."""

    budgets: tuple = (4, 16, 32, 64, 256, 1024, None)  # labels per class; None = all
    seeds: tuple = (0, 1, 2)
    scratch_budgets: tuple | None = (4, 16, 64, 256, 1024, None)  # None: every budget
    test_size: int | None = None  # a fixed stratified subset of the test split (quick mode)
    finetune: Recipe = RECIPES["default"]
    scratch: Recipe = RECIPES["scratch"]
    mode: str = "full"


def tour_settings(quick: bool | None = None) -> TourSettings:
    """The full setting, or the quick one (``TAMER_LAB_QUICK=1``): two budgets, two seeds, 400 test texts."""
    quick = quick_mode() if quick is None else quick
    if not quick:
        return TourSettings()
    short = dict(min_steps=15, max_steps=20, max_length=48)
    return TourSettings(budgets=(8, 64), seeds=(0, 1), test_size=400, scratch_budgets=None,
                        finetune=replace(RECIPES["default"], contrastive_pairs=2, contrastive_max_pairs=64, **short),
                        scratch=replace(RECIPES["scratch"], **short), mode="quick")


def _stratified_subset(data: TextDataset, size: int, seed: int = 0) -> TextDataset:
    rng = np.random.default_rng(seed)
    frac = size / len(data)
    idx = []
    for c in range(data.num_classes):
        members = np.flatnonzero(data.labels == c)
        idx += rng.choice(members, int(round(frac * len(members))), replace=False).tolist()
    return data.subset(sorted(idx))


@functools.lru_cache(maxsize=4)
def tour_data(test_size: int | None = None) -> tuple[TextDataset, TextDataset]:
    """The train split and the (possibly subsampled) movie-disjoint test split."""
    train, test = real_task()
    if test_size is not None and test_size < len(test):
        test = _stratified_subset(test, test_size)
    return train, test


def _bank(settings: TourSettings):
    return task_feature_bank(settings.finetune, tuple(settings.budgets), tuple(settings.seeds), settings.test_size,
                             every_text=settings.mode == "full")


@functools.lru_cache(maxsize=4)
def task_feature_bank(recipe: Recipe, budgets: tuple, seeds: tuple, test_size: int | None = None, *,
                      every_text: bool = True):
    """Frozen features of the real task under ``recipe``'s encoder, pooling and length (cached on disk).

    ``every_text``: every train and test text (full runs); otherwise only the test texts and those of
    the few-label splits ``tour_split(train, b, s)`` for the given budgets and seeds (quick runs).
    """
    train, test = tour_data(test_size)
    if every_text:
        texts = train.texts + test.texts
    else:
        texts = list(test.texts)
        for b in budgets:
            for s in seeds:
                sp = tour_split(train, b, s)
                texts += sp.train.texts + sp.dev.texts
    return feature_bank(texts, encoder=recipe.encoder, pooling=recipe.pooling, max_length=recipe.max_length,
                        precision=recipe.precision)


DEV_MAX_PER_CLASS = 256


def tour_split(train: TextDataset, budget, seed: int):
    """The tour's few-label split: K labels per class and a dev set of min(K, 256) per class (5% of train for all)."""
    if budget is None:
        return few_shot(train, None, seed, dev_fraction=0.05)
    return few_shot(train, budget, seed, dev_k=min(budget, DEV_MAX_PER_CLASS))


def _cell(settings: TourSettings, config: dict) -> dict:
    train, test = tour_data(settings.test_size)
    split = tour_split(train, config["budget"], config["seed"])
    method = config["method"]
    if method == "linear probe":
        return run_probe(split, test, _bank(settings))
    recipe = settings.finetune if method == "fine-tune" else settings.scratch
    return run_finetune(split, test, recipe, config["seed"], bank=_bank(settings) if recipe.probe_init else None,
                        progress=False)


def _budget_groups(settings: TourSettings, params: dict) -> list[tuple[list, dict]]:
    """Budgets with every method, and budgets without ``from scratch`` (where it is not run)."""
    if settings.scratch_budgets is None:
        return [(list(settings.budgets), params)]
    every = [b for b in settings.budgets if b in settings.scratch_budgets]
    rest = [b for b in settings.budgets if b not in settings.scratch_budgets]
    groups = [(every, params)] if every else []
    if rest:
        groups.append((rest, {k: v for k, v in params.items() if k != "from scratch"}))
    return groups


def run_tour(quick: bool | None = None, *, progress: bool | None = None, recompute: bool = False,
             settings: TourSettings | None = None) -> Results:
    """Run (or read from the cache) every cell of the tour and return the results."""
    settings = settings or tour_settings(quick)
    params = {"fine-tune": settings.finetune.to_dict(), "linear probe": {"pooling": settings.finetune.pooling},
              "from scratch": settings.scratch.to_dict()}
    common = dict(task="rotten_tomatoes", split_seed=0, test_size=settings.test_size, version=1,
                  dev=f"min(K, {DEV_MAX_PER_CLASS}) per class; 5% of train for all labels")
    run = functools.partial(_cell, settings)
    grids = []
    for budgets, methods in _budget_groups(settings, params):
        grids.append(Grid("label_scarcity", run, methods=methods, budgets=budgets, seeds=settings.seeds,
                          common=common, progress=progress))
    records = []
    for g in grids:
        records += g.run(recompute=recompute).records
    return Results(records)
