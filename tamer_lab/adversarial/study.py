"""The real-task comparison of Thrust I: every adversarial or proximal regularizer against vanilla
fine-tuning, at K labels per class, over seeds.

Each method is a list of hooks added to the same recipe (``STUDY_RECIPE``: a linear probe fitted on the
frozen features, then end-to-end fine-tuning, the best dev evaluation kept; the dev set is as scarce as
the labels). Seed s fixes the split, the initialisation and the batch order, so the methods see the same
data and start from the same weights, and a method's difference from vanilla is *paired* by seed:
:func:`paired_differences` gives its mean and t-interval, which says where a method helps and where it
does not.

>>> results = run_study()                  # doctest: +SKIP  (cached per cell: an interrupted run resumes)
>>> print(study_table(results))            # doctest: +SKIP
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, replace

import numpy as np

from .._runtime import quick_mode
from ..experiments import Grid, Results, budget_label, mean_ci
from ..recipes import RECIPES, Recipe, run_finetune
from ..tour import task_feature_bank, tour_data, tour_split
from ..train import Hook
from .bregman import BregmanProximal
from .freelb import FreeLB
from .l2sp import L2SP
from .r3f import R3F
from .smart import SMART
from .vat import VAT

__all__ = ["METHODS", "STUDY_RECIPE", "StudySettings", "study_settings", "build_hooks", "run_study",
           "paired_differences", "study_table", "plot_study", "penalty_sources"]

_HOOKS = {"SMART": SMART, "BregmanProximal": BregmanProximal, "R3F": R3F, "FreeLB": FreeLB, "VAT": VAT,
          "L2SP": L2SP}

# name -> the hooks (class name, keyword arguments); the paper's defaults unless given
METHODS: dict[str, tuple[tuple[str, dict], ...]] = {
    "vanilla": (),
    "SMART (ball)": (("SMART", {}),),
    "SMART (normalize)": (("SMART", {"projection": "normalize"}),),
    "SMART + Bregman": (("SMART", {}), ("BregmanProximal", {})),
    "Bregman": (("BregmanProximal", {}),),
    "R3F": (("R3F", {}),),
    "FreeLB": (("FreeLB", {}),),
    "VAT": (("VAT", {}),),
    "L2-SP": (("L2SP", {}),),
}

# the library's default recipe without SetFit's contrastive stage: the regularizers act on one plain
# end-to-end stage (fixed in advance, like the default recipe; see ``tamer_lab.recipes``)
STUDY_RECIPE = replace(RECIPES["default"], contrastive_pairs=0)


def build_hooks(spec) -> list[Hook]:
    """Fresh hooks from a method's spec: a name in ``METHODS`` or a sequence of (class name, kwargs)."""
    if isinstance(spec, str):
        if spec not in METHODS:
            raise ValueError(f"unknown method {spec!r}; choose from {list(METHODS)} or pass (class, kwargs) pairs")
        spec = METHODS[spec]
    hooks = []
    for name, kwargs in spec:
        if name not in _HOOKS:
            raise ValueError(f"unknown hook {name!r}; choose from {list(_HOOKS)}")
        hooks.append(_HOOKS[name](**kwargs))
    return hooks


@dataclass(frozen=True)
class StudySettings:
    """What the study runs. ``full`` is the published setting; ``quick`` the CI-sized one."""

    budgets: tuple = (16, 64, 256)
    seeds: tuple = (0, 1, 2, 3, 4)
    methods: tuple = tuple(METHODS)
    test_size: int | None = None
    recipe: Recipe = STUDY_RECIPE
    mode: str = "full"


def study_settings(quick: bool | None = None) -> StudySettings:
    """The full setting, or the quick one (``TAMER_LAB_QUICK=1``): K = 16, 3 seeds, 4 steps of 24 tokens, 100
    test texts (a smoke test of the pipeline: its accuracies say nothing about the methods)."""
    quick = quick_mode() if quick is None else quick
    if not quick:
        return StudySettings()
    return StudySettings(budgets=(16,), seeds=(0, 1, 2), test_size=100, mode="quick",
                         recipe=replace(STUDY_RECIPE, min_steps=4, max_steps=4, max_length=24))


def _bank(settings: StudySettings):
    return task_feature_bank(settings.recipe, tuple(settings.budgets), tuple(settings.seeds), settings.test_size,
                             every_text=settings.mode == "full")


def _cell(settings: StudySettings, config: dict) -> dict:
    train, test = tour_data(settings.test_size)
    split = tour_split(train, config["budget"], config["seed"])
    recipe = settings.recipe
    return run_finetune(split, test, recipe, config["seed"], bank=_bank(settings), progress=False,
                        hooks=build_hooks(config["params"]["hooks"]))


def run_study(quick: bool | None = None, *, methods=None, progress: bool | None = None, recompute: bool = False,
              settings: StudySettings | None = None) -> Results:
    """Run (or read from the cache) every cell of the study and return the results.

    ``methods``: names from ``METHODS`` (default: the settings' methods), in the order given, or a dict
    of your own variants, name -> hooks as (class name, kwargs) pairs, e.g.
    ``{"vanilla": (), "SMART eps=1e-2": (("SMART", {"eps": 1e-2, "step_size": 1e-2}),)}``.
    """
    settings = settings or study_settings(quick)
    specs = dict(methods) if isinstance(methods, dict) else {}
    for n in ([] if specs else list(methods or settings.methods)):
        if n not in METHODS:
            raise ValueError(f"unknown method {n!r}; choose from {list(METHODS)}, or pass a dict name -> hooks")
        specs[n] = METHODS[n]
    for n, spec in specs.items():
        build_hooks(spec)  # fail now on a bad spec, not in the middle of the grid
    params = {n: {"hooks": [[h, dict(kw)] for h, kw in spec], "recipe": settings.recipe.to_dict()}
              for n, spec in specs.items()}
    common = dict(task="rotten_tomatoes", split_seed=0, test_size=settings.test_size, version=1)
    grid = Grid("adversarial_study", functools.partial(_cell, settings), methods=params, budgets=settings.budgets,
                seeds=settings.seeds, common=common, progress=progress)
    return grid.run(recompute=recompute)


def penalty_sources(model, batch: dict, hook=None, *, repeats: int = 5, seed: int = 0) -> dict:
    """Where a perturbation penalty comes from on ``batch``: the perturbation δ, or the dropout masks?

    In training mode the clean and the perturbed forward passes draw different dropout masks, so
    SMART's R_s (or R3F's, VAT's: any ``hook`` with ``penalty(model, batch, logits)``, default
    ``SMART()``) also measures the divergence between two dropout networks, as R-Drop does on purpose.
    Returns the mean over ``repeats`` draws of ``train`` (the penalty as training computes it), ``eval``
    (the same with dropout off: the perturbation's part alone) and ``dropout`` (symmetric KL between
    two clean forward passes in training mode, no δ), the first two divided by the hook's ``weight``.
    """
    import torch

    from .smart import symmetric_kl

    hook = hook if hook is not None else SMART()
    weight = max(float(getattr(hook, "weight", 1.0)), 1e-30)
    inputs = {k: v for k, v in batch.items() if k != "labels"}
    was_training = model.training
    out = {"train": [], "eval": [], "dropout": []}
    rng_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        for _ in range(repeats):
            for mode in ("train", "eval"):
                model.train(mode == "train")
                out[mode].append(hook.penalty(model, batch, model(**inputs)).item() / weight)
            model.train(True)
            with torch.no_grad():
                out["dropout"].append(symmetric_kl(model(**inputs), model(**inputs)).item())
    finally:
        model.train(was_training)
        torch.random.set_rng_state(rng_state)
    return {k: float(np.mean(v)) for k, v in out.items()}


def paired_differences(results: Results, baseline: str = "vanilla", metric: str = "test_accuracy",
                       level: float = 0.95) -> list[dict]:
    """Each method minus ``baseline`` on the same seeds: mean, t-interval, and whether it helps.

    ``verdict`` is "helps" when the interval lies above 0, "hurts" when below, "no effect shown" otherwise.
    """
    base = {(r["budget"], r["seed"]): r[metric] for r in results.records if r["method"] == baseline}
    if not base:
        raise ValueError(f"the results have no {baseline!r} cells to compare against; run it too")
    rows = []
    for m in results.methods():
        if m == baseline:
            continue
        for b in results.budgets():
            d = [r[metric] - base[(b, r["seed"])] for r in results.records
                 if r["method"] == m and r["budget"] == b and (b, r["seed"]) in base]
            if not d:
                continue
            mean, lo, hi = mean_ci(d, level)
            verdict = "helps" if lo > 0 else "hurts" if hi < 0 else "no effect shown"
            rows.append(dict(method=m, budget=b, n_seeds=len(d), mean=mean, ci_low=lo, ci_high=hi, verdict=verdict))
    return rows


def study_table(results: Results, metric: str = "test_accuracy", digits: int = 3) -> str:
    """A Markdown table: per method and budget, the mean ± 95% half-width, and the paired difference from vanilla."""
    diffs = {(r["method"], r["budget"]): r for r in paired_differences(results, metric=metric)} \
        if "vanilla" in results.methods() else {}
    budgets = results.budgets()
    head = "| method | " + " | ".join(f"K={budget_label(b)}: accuracy | Δ vs vanilla" for b in budgets) + " |"
    lines = [head, "|" + "---|" * (2 * len(budgets) + 1)]
    tab = {(r["method"], r["budget"]): r for r in results.table(metric)}
    for m in results.methods():
        cells = []
        for b in budgets:
            r, d = tab.get((m, b)), diffs.get((m, b))
            cells.append("" if r is None else f"{r['mean']:.{digits}f} ± {(r['ci_high'] - r['ci_low']) / 2:.{digits}f}")
            cells.append("" if d is None else
                         f"{d['mean']:+.{digits}f} [{d['ci_low']:+.{digits}f}, {d['ci_high']:+.{digits}f}]")
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot_study(results: Results, metric: str = "test_accuracy", baseline: str = "vanilla", axes=None):
    """Left: accuracy against K per method; right: the paired difference from ``baseline`` with its interval."""
    import matplotlib.pyplot as plt

    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(12, 4.2))
    results.plot(metric, x="n_train", ax=axes[0], title="test accuracy (mean, 95% interval)")
    axes[0].legend(fontsize=7, ncol=2)
    rows = paired_differences(results, baseline, metric)
    methods = list(dict.fromkeys(r["method"] for r in rows))
    budgets = results.budgets()
    width = 0.8 / max(len(budgets), 1)
    for j, b in enumerate(budgets):
        sel = {r["method"]: r for r in rows if r["budget"] == b}
        xs = np.arange(len(methods)) + (j - (len(budgets) - 1) / 2) * width
        means = np.array([sel[m]["mean"] if m in sel else np.nan for m in methods])
        lo = np.array([sel[m]["ci_low"] if m in sel else np.nan for m in methods])
        hi = np.array([sel[m]["ci_high"] if m in sel else np.nan for m in methods])
        axes[1].errorbar(xs, means, yerr=[means - lo, hi - means], fmt="o", capsize=3, label=f"K={budget_label(b)}")
    axes[1].axhline(0, color="k", lw=0.8)
    axes[1].set_xticks(np.arange(len(methods)), methods, rotation=35, ha="right", fontsize=8)
    axes[1].set_ylabel(f"{metric.replace('_', ' ')} − {baseline}")
    axes[1].set_title(f"paired difference from {baseline} (same seeds)")
    axes[1].grid(alpha=0.3)
    axes[1].legend(fontsize=8)
    return axes
