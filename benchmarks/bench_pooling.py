"""Mean pooling against the [CLS] vector for the default encoder, side by side in one process.

all-MiniLM-L6-v2 was trained with mean pooling. This fits the same logistic probe on frozen
mean-pooled and [CLS] features of the real task at several label budgets and seeds (penalty chosen
on the scarce dev set) and prints test accuracy per pooling and the difference, mean over seeds.
(The fine-tuned comparison, plain recipe with either pooling, is in bench_recipe.py.)

    python benchmarks/bench_pooling.py [--seeds 5]
"""
from __future__ import annotations

import argparse

import numpy as np

from tamer_lab.data import few_shot, real_task
from tamer_lab.experiments import mean_ci
from tamer_lab.recipes import feature_bank, run_probe

BUDGETS = (4, 16, 32, 128, 512, None)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5)
    args = ap.parse_args()
    train, test = real_task()
    banks = {p: feature_bank(train.texts + test.texts, pooling=p) for p in ("mean", "cls")}
    acc = {(p, b): [] for p in banks for b in BUDGETS}
    for b in BUDGETS:
        for seed in range(args.seeds):
            split = few_shot(train, b, seed)
            for p, bank in banks.items():
                acc[(p, b)].append(run_probe(split, test, bank)["test_accuracy"])
    print(f"linear probe test accuracy, mean [95% CI] over {args.seeds} seeds ({len(test)} test snippets)")
    print(f"{'K per class':>12s} {'mean pooling':>22s} {'[CLS]':>22s} {'mean - cls':>11s}")
    for b in BUDGETS:
        cells = []
        for p in banks:
            m, lo, hi = mean_ci(acc[(p, b)])
            cells.append(f"{m:.3f} [{lo:.3f}, {hi:.3f}]")
        diff = np.mean(acc[("mean", b)]) - np.mean(acc[("cls", b)])
        print(f"{'all' if b is None else b:>12} {cells[0]:>22s} {cells[1]:>22s} {diff:+11.3f}")
    gains = [np.mean(acc[("mean", b)]) - np.mean(acc[("cls", b)]) for b in BUDGETS]
    print(f"mean-pooling gain averaged over budgets = {np.mean(gains):+.3f}")


if __name__ == "__main__":
    main()
