"""Figures shared by notebooks and the command line (matplotlib; each returns its axes)."""
from __future__ import annotations

import numpy as np

from .theory.rates import fit_slope

__all__ = ["plot_probe_theory", "error_slopes"]


def error_slopes(results, methods=None, *, max_seeds: int | None = None) -> dict:
    """Fitted log-log slope of test error against labels n for each method (finite budgets only)."""
    out = {}
    for method in methods or results.methods():
        budgets = [b for b in results.budgets() if b is not None and results.values(method, b)]
        n = np.array([np.mean([r["n_train"] for r in results.records if r["method"] == method and r["budget"] == b])
                      for b in budgets])
        per = [[1 - v for v in results.values(method, b)] for b in budgets]
        k = min(len(p) for p in per) if max_seeds is None else min(max_seeds, *map(len, per))
        out[method] = fit_slope(n, np.array([p[:k] for p in per]))
    return out


def plot_probe_theory(curve, axes=None):
    """Left: the probe's generalization gap with its fitted slope and the n^(-1/2) reference.
    Right: the margin bound against the measured test error (log-log)."""
    import matplotlib.pyplot as plt

    if axes is None:
        axes = plt.subplots(1, 2, figsize=(11, 4))[1]
    n = curve.n[:, 0]
    gap = np.clip(curve.gap, 1e-3, None)
    fit = fit_slope(n, gap)
    ax = axes[0]
    ax.loglog(n, gap.mean(1), "o", label="probe: test - train error")
    ax.loglog(n, fit.predict(n), "-", label=f"fit: slope {fit.slope:.2f}")
    ax.loglog(n, gap.mean(1)[0] * (n / n[0]) ** -0.5, "--", label="n^(-1/2) (the bound's rate)")
    ax.set(xlabel="labelled examples n", ylabel="generalization gap")
    ax = axes[1]
    ax.loglog(n, curve.bound.mean(1), "s-", label="Rademacher margin bound")
    ax.loglog(n, curve.test_error.mean(1), "o-", label="measured test error")
    ax.axhline(1.0, color="grey", ls=":", label="vacuous above 1")
    ax.set(xlabel="labelled examples n", ylabel="0-1 error")
    for a in axes:
        a.grid(alpha=0.3)
        a.legend()
    axes[0].figure.tight_layout()
    return axes
