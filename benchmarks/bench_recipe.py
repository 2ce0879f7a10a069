"""Which fine-tuning recipe to use by default on the real task, decided without the test split.

Runs the candidate recipes side by side on a movie-disjoint holdout carved from the training split
(so the test split is never looked at), at a few label budgets and seeds, and prints the mean holdout
accuracy with a 95% interval per recipe, then each recipe's gain over the plain recipe.

    python benchmarks/bench_recipe.py [--k 16 32] [--seeds 3]
"""
from __future__ import annotations

import argparse
from dataclasses import replace

import numpy as np

from tamer_lab.data import few_shot, group_split, real_task
from tamer_lab.experiments import mean_ci
from tamer_lab.recipes import RECIPES, feature_bank, run_finetune, run_probe

PLAIN = "plain (cls, lr 1e-4, 5 ep, bs 32)"
DEFAULT = "default"
CANDIDATES = {
    PLAIN: RECIPES["plain"],
    "plain + mean pooling": replace(RECIPES["plain"], pooling="mean"),
    "LP-FT (probe-initialised head)": replace(RECIPES["default"], contrastive_pairs=0),
    "SetFit (contrastive + probe head only)": replace(RECIPES["default"], end_to_end=False),
    DEFAULT: RECIPES["default"],
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--k", type=int, nargs="+", default=[16, 32])
    ap.add_argument("--seeds", type=int, default=3)
    args = ap.parse_args()
    train, _ = real_task()
    inner, holdout = group_split(train, test_size=0.2, seed=1)
    print(f"inner train: {inner.describe()}\nholdout:     {holdout.describe()}")
    bank = feature_bank(inner.texts + holdout.texts)
    rows = {}
    for k in args.k:
        for seed in range(args.seeds):
            split = few_shot(inner, k, seed)
            rows.setdefault(("linear probe (mean)", k), []).append(run_probe(split, holdout, bank)["test_accuracy"])
            for name, recipe in CANDIDATES.items():
                acc = run_finetune(split, holdout, recipe, seed, bank=bank, progress=False)["test_accuracy"]
                rows.setdefault((name, k), []).append(acc)
                print(f"  k={k} seed={seed} {name}: {acc:.3f}", flush=True)
    print(f"\n{'recipe':40s} " + " ".join(f"{'k=' + str(k):>22s}" for k in args.k))
    for name in ["linear probe (mean)", *CANDIDATES]:
        cells = []
        for k in args.k:
            m, lo, hi = mean_ci(rows[(name, k)])
            cells.append(f"{m:.3f} [{lo:.3f}, {hi:.3f}]")
        print(f"{name:40s} " + " ".join(f"{c:>22s}" for c in cells))
    for k in args.k:
        d = np.mean(rows[(DEFAULT, k)])
        print(f"k={k}: default - plain = {d - np.mean(rows[(PLAIN, k)]):+.3f}, "
              f"default - probe = {d - np.mean(rows[('linear probe (mean)', k)]):+.3f}")


if __name__ == "__main__":
    main()
