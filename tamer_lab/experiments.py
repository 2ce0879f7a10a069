"""Experiment grids: methods x label budgets x seeds, cached per cell by a content hash.

Each cell's configuration (a JSON-able dict) is hashed; its result is written atomically to
``<cache>/grids/<name>/<hash>.json``. Re-running a grid, or running it after an interruption, reads the
finished cells and computes only the missing ones. A changed configuration gets a new hash, so a stale
result is never read.

>>> grid = Grid("demo", run_cell, methods={"probe": {}, "finetune": {"lr": 5e-5}}, budgets=[4, 16], seeds=[0, 1, 2])
>>> results = grid.run()                       # doctest: +SKIP
>>> print(results.to_markdown())               # doctest: +SKIP
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np
from tqdm import tqdm

from ._runtime import atomic_write, progress_enabled
from .assets import cache_dir as _cache_root

__all__ = ["Grid", "Results", "mean_ci", "t_quantile", "cell_key"]


def _t_cdf(x: float, df: float) -> float:
    """CDF of Student's t by Simpson integration of the density from 0 (accurate to ~1e-10 here)."""
    if x < 0:
        return 1.0 - _t_cdf(-x, df)
    logc = math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(df * math.pi)
    t = np.linspace(0.0, x, 2001)
    pdf = np.exp(logc - (df + 1) / 2 * np.log1p(t * t / df))
    h = t[1] - t[0] if len(t) > 1 else 0.0
    return 0.5 + h / 3 * (pdf[0] + pdf[-1] + 4 * pdf[1:-1:2].sum() + 2 * pdf[2:-1:2].sum())


def t_quantile(p: float, df: float) -> float:
    """The ``p`` quantile of Student's t with ``df`` degrees of freedom (bisection on the CDF)."""
    if not 0.5 <= p < 1 or df <= 0:
        raise ValueError(f"need 0.5 <= p < 1 and df > 0, got p={p}, df={df}")
    lo, hi = 0.0, 1.0
    while _t_cdf(hi, df) < p:
        hi *= 2
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if _t_cdf(mid, df) < p else (lo, mid)
    return (lo + hi) / 2


def mean_ci(values: Iterable[float], level: float = 0.95) -> tuple[float, float, float]:
    """Mean and two-sided Student-t confidence interval over seeds (NaN-free; one value gives a zero-width interval)."""
    v = np.asarray([x for x in values if x is not None], dtype=float)
    if v.size == 0:
        raise ValueError("mean_ci needs at least one value")
    m = float(v.mean())
    if v.size == 1:
        return m, m, m
    half = t_quantile(0.5 + level / 2, v.size - 1) * float(v.std(ddof=1)) / math.sqrt(v.size)
    return m, m - half, m + half


def cell_key(config: dict) -> str:
    """A content hash of a cell's configuration (order of keys does not matter)."""
    blob = json.dumps(config, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def _write_json_atomic(path: Path, obj) -> None:
    def write(tmp: str) -> None:
        with open(tmp, "w") as f:
            json.dump(obj, f, indent=1, default=str)

    atomic_write(path, write)


def budget_label(budget) -> str:
    return "all" if budget is None else str(budget)


@dataclass
class Results:
    """The records of a grid (one dict per cell: method, budget, seed and the cell's metrics)."""

    records: list[dict] = field(default_factory=list)

    def methods(self) -> list[str]:
        return list(dict.fromkeys(r["method"] for r in self.records))

    def budgets(self) -> list:
        b = list(dict.fromkeys(r["budget"] for r in self.records))
        return sorted([x for x in b if x is not None]) + ([None] if None in b else [])

    def values(self, method: str, budget, metric: str = "test_accuracy") -> list[float]:
        return [r[metric] for r in self.records if r["method"] == method and r["budget"] == budget
                and r.get(metric) is not None]

    def table(self, metric: str = "test_accuracy", level: float = 0.95) -> list[dict]:
        """Mean and interval over seeds per (method, budget)."""
        rows = []
        for m in self.methods():
            for b in self.budgets():
                vals = self.values(m, b, metric)
                if vals:
                    mean, lo, hi = mean_ci(vals, level)
                    rows.append(dict(method=m, budget=b, n_seeds=len(vals), mean=mean, ci_low=lo, ci_high=hi))
        return rows

    def to_markdown(self, metric: str = "test_accuracy", digits: int = 3) -> str:
        """Methods as rows, budgets as columns: ``mean ± half-width`` (95% t-interval over seeds)."""
        tab = {(r["method"], r["budget"]): r for r in self.table(metric)}
        budgets = self.budgets()
        head = "| method | " + " | ".join(f"K={budget_label(b)}" for b in budgets) + " |"
        lines = [head, "|" + "---|" * (len(budgets) + 1)]
        for m in self.methods():
            cells = []
            for b in budgets:
                r = tab.get((m, b))
                cells.append("" if r is None else
                             f"{r['mean']:.{digits}f} ± {(r['ci_high'] - r['ci_low']) / 2:.{digits}f}")
            lines.append(f"| {m} | " + " | ".join(cells) + " |")
        return "\n".join(lines)

    def plot(self, metric: str = "test_accuracy", *, x: str = "n_train", ax=None, title: str | None = None):
        """Mean and interval against the number of labels (log x), one line per method."""
        import matplotlib.pyplot as plt

        ax = ax or plt.subplots(figsize=(6, 4))[1]
        for m in self.methods():
            xs, ys, los, his = [], [], [], []
            for b in self.budgets():
                vals = self.values(m, b, metric)
                if not vals:
                    continue
                mean, lo, hi = mean_ci(vals)
                xs.append(np.mean([r[x] for r in self.records if r["method"] == m and r["budget"] == b]))
                ys.append(mean), los.append(lo), his.append(hi)
            line, = ax.plot(xs, ys, marker="o", label=m)
            ax.fill_between(xs, los, his, color=line.get_color(), alpha=0.2)
        ax.set_xscale("log")
        ax.set_xlabel("labelled training examples" if x == "n_train" else x)
        ax.set_ylabel(metric.replace("_", " "))
        if title:
            ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend()
        return ax


class Grid:
    """Methods x budgets x seeds, each cell computed by ``run_cell(config) -> dict`` and cached.

    ``methods`` maps a method name to its parameters (part of each cell's configuration); ``common``
    holds settings shared by every cell (data, quick mode, ...) and is part of the hash too.
    """

    def __init__(self, name: str, run_cell: Callable[[dict], dict], *, methods: dict[str, dict],
                 budgets: Sequence, seeds: Sequence[int], common: dict | None = None,
                 cache_dir: str | os.PathLike | None = None, progress: bool | None = None):
        if not methods or not budgets or not seeds:
            raise ValueError("a grid needs at least one method, one budget and one seed")
        self.name, self.run_cell, self.methods = name, run_cell, dict(methods)
        self.budgets, self.seeds, self.common = list(budgets), list(seeds), dict(common or {})
        self.dir = Path(cache_dir) if cache_dir is not None else _cache_root() / "grids" / name
        self.progress = progress_enabled() if progress is None else progress

    def cells(self) -> list[dict]:
        return [dict(grid=self.name, method=m, params=self.methods[m], budget=b, seed=s, **self.common)
                for b in self.budgets for s in self.seeds for m in self.methods]

    def path(self, config: dict) -> Path:
        return self.dir / f"{cell_key(config)}.json"

    def cached(self, config: dict) -> dict | None:
        """The cached result of a cell, or None (a corrupted file counts as missing)."""
        p = self.path(config)
        try:
            with open(p) as f:
                blob = json.load(f)
            return blob["result"] if blob.get("config") == json.loads(json.dumps(config, default=str)) else None
        except (OSError, ValueError, KeyError):
            return None

    def run(self, *, recompute: bool = False) -> Results:
        """Compute the missing cells (all of them with ``recompute``) and return every cell's record."""
        cells = self.cells()
        records, todo = [], []
        for cfg in cells:
            res = None if recompute else self.cached(cfg)
            (todo.append(cfg) if res is None else None)
            records.append((cfg, res))
        bar = tqdm(total=len(todo), desc=f"{self.name}: {len(cells) - len(todo)} cached",
                   disable=not (self.progress and todo))
        out = []
        try:
            for cfg, res in records:
                if res is None:
                    bar.set_postfix(method=cfg["method"], K=budget_label(cfg["budget"]), seed=cfg["seed"])
                    start = time.perf_counter()
                    res = dict(self.run_cell(cfg))
                    res.setdefault("cell_seconds", time.perf_counter() - start)
                    _write_json_atomic(self.path(cfg), {"config": cfg, "result": res})
                    bar.update(1)
                out.append(dict(method=cfg["method"], budget=cfg["budget"], seed=cfg["seed"], **res))
        finally:
            bar.close()
        return Results(out)
