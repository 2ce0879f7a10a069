"""A registry of named theory checks, runnable one by one or all together, with a summary table.

A check is a function ``fn(quick: bool) -> dict`` that computes a number, compares it with a
prediction and raises (normally :class:`~tamer_lab.theory.rates.CheckFailed`) when they disagree.
It returns at least ``{"predicted": ..., "measured": ...}`` and may add ``"figure"`` (a path) and
``"detail"`` (a short string). A module registers its checks at import time::

    @register("eckart_young", statement="min rank-k error = sum of tail sigma^2",
              source="Eckart & Young 1936", notebook="40_low_rank")
    def _eckart_young(quick: bool) -> dict:
        ...
        check_close(measured, predicted, rtol=1e-8, name="eckart_young")
        return {"predicted": predicted, "measured": measured}

:func:`load_all` imports every module in :data:`CHECK_MODULES`, so that :func:`run_all` sees them.
"""
from __future__ import annotations

import importlib
import os
import time
from pathlib import Path
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

import numpy as np

from tamer_lab._runtime import quick_mode, seed_everything
from tamer_lab.theory.rates import CheckFailed

__all__ = [
    "CHECK_MODULES",
    "Check",
    "CheckResult",
    "register",
    "unregister",
    "registered",
    "run_check",
    "run_all",
    "format_table",
    "to_markdown",
    "load_all",
    "figure_path",
    "save_figure",
]

CHECK_MODULES: list[str] = [
    "tamer_lab.theory.label_scarcity",
    "tamer_lab.theory.pacbayes",
    "tamer_lab.theory.approximation",
    "tamer_lab.theory.lowrank_approx",
    "tamer_lab.theory.adversarial_rademacher",
    "tamer_lab.theory.smoothness",
    "tamer_lab.theory.norms_toy",
    "tamer_lab.theory.finetune_bounds",
]

CheckFn = Callable[[bool], dict]


@dataclass(frozen=True)
class Check:
    """A registered check: its name, the claim it tests, where the claim comes from, its notebook."""

    name: str
    statement: str
    source: str
    notebook: str
    fn: CheckFn


@dataclass
class CheckResult:
    """The outcome of one check. ``predicted``/``measured`` are numbers or short strings."""

    name: str
    statement: str
    source: str
    predicted: str | float
    measured: str | float
    passed: bool
    detail: str = ""
    seconds: float = 0.0
    figure: str | None = None
    notebook: str = ""

    @property
    def pass_line(self) -> str:
        """``PASS <name>`` or ``FAIL <name>``: the same in quick and full mode (for NBVAL_CHECK_OUTPUT)."""
        return f"{'PASS' if self.passed else 'FAIL'} {self.name}"

    def summary(self) -> str:
        """One line with the measured and predicted values (these depend on the mode)."""
        return f"{self.name}: measured {self.measured}; predicted {self.predicted}"


_REGISTRY: dict[str, Check] = {}


def register(name: str, *, statement: str, source: str, notebook: str) -> Callable[[CheckFn], CheckFn]:
    """Decorator registering ``fn(quick) -> dict`` under ``name``; returns ``fn`` unchanged.

    A second registration under the same name raises ValueError, except when it is the same function
    (same module and qualified name), which happens when a module is reloaded: then it replaces it.
    """
    for label, value in (("name", name), ("statement", statement), ("source", source), ("notebook", notebook)):
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"register: {label} must be a non-empty string, got {value!r}.")

    def decorator(fn: CheckFn) -> CheckFn:
        if not callable(fn):
            raise ValueError(f"register({name!r}) must decorate a function fn(quick) -> dict, got {fn!r}.")
        old = _REGISTRY.get(name)
        if old is not None and _identity(old.fn) != _identity(fn):
            raise ValueError(
                f"a check named {name!r} is already registered by {old.fn.__module__}.{old.fn.__qualname__}; "
                "choose another name."
            )
        _REGISTRY[name] = Check(name, statement, source, notebook, fn)
        return fn

    return decorator


def _identity(fn: CheckFn) -> tuple[str, str]:
    return (getattr(fn, "__module__", ""), getattr(fn, "__qualname__", repr(fn)))


def unregister(name: str) -> None:
    """Remove a registered check (for tests and interactive experiments)."""
    _lookup(name)
    del _REGISTRY[name]


def registered() -> list[Check]:
    """All registered checks, sorted by notebook, then name."""
    return sorted(_REGISTRY.values(), key=lambda c: (c.notebook, c.name))


def _lookup(name: str) -> Check:
    if name not in _REGISTRY:  # a check from a module not imported yet: import the registered modules once
        load_all()
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY)) or "none"
        raise ValueError(
            f"no check named {name!r} (registered: {known}); import the module that defines it, "
            "or call tamer_lab.theory.checks.load_all()."
        ) from None


def run_check(name: str, quick: bool | None = None, *, seed: int = 0) -> CheckResult:
    """Run one check and record the outcome; never raises for a failing check.

    ``quick=None`` reads ``TAMER_LAB_QUICK``. Every check starts from ``seed_everything(seed)``, so a
    result does not depend on which checks ran before it. A :class:`CheckFailed` gives
    ``passed=False`` with its measured and predicted values; any other exception gives
    ``passed=False`` with the error in ``detail`` (measured ``"error"``).
    """
    check = _lookup(name)
    quick = quick_mode() if quick is None else bool(quick)
    result = CheckResult(check.name, check.statement, check.source, "", "", False, notebook=check.notebook)
    seed_everything(seed)
    start = time.perf_counter()
    try:
        out = check.fn(quick)
    except CheckFailed as exc:
        result.predicted, result.measured, result.detail = exc.predicted, exc.measured, str(exc)
    except Exception as exc:  # a crashing check is a failing check, reported rather than raised
        result.measured, result.detail = "error", f"{type(exc).__name__}: {exc}"
    else:
        if not isinstance(out, dict) or not {"predicted", "measured"} <= out.keys():
            result.measured = "error"
            result.detail = (
                f"check {name!r} returned {type(out).__name__}; it must return a dict with at least "
                "'predicted' and 'measured' (and optionally 'figure', 'detail')."
            )
        else:
            result.predicted, result.measured = out["predicted"], out["measured"]
            result.detail = str(out.get("detail", ""))
            figure = out.get("figure")
            result.figure = None if figure is None else str(figure)
            result.passed = True
    result.seconds = time.perf_counter() - start
    return result


def require(name: str, quick: bool | None = None, *, seed: int = 0) -> CheckResult:
    """Run one check in a notebook: raise ``CheckFailed`` (measured and predicted in the message) on failure.

    Returns the result, whose ``pass_line`` ("PASS <name>") does not depend on quick or full mode.
    """
    result = run_check(name, quick, seed=seed)
    if not result.passed:
        raise CheckFailed(f"check {name!r} failed: {result.detail}", measured=result.measured,
                          predicted=result.predicted)
    return result


def run_all(
    quick: bool | None = None, names: Sequence[str] | None = None, progress: bool = False
) -> list[CheckResult]:
    """Run the named checks (default: all registered, in :func:`registered` order).

    ``progress=True`` shows a progress bar on stderr.
    """
    if names is None:
        names = [c.name for c in registered()]
    else:
        names = list(names)
        for name in names:
            _lookup(name)
    iterator: Iterable[str] = names
    if progress:
        from tqdm import tqdm

        iterator = tqdm(names, desc="theory checks", unit="check")
    return [run_check(name, quick) for name in iterator]


def _fmt(value: object) -> str:
    if isinstance(value, (float, np.floating)):
        return f"{value:.4g}"
    return " ".join(str(value).split())


def _rows(results: Sequence[CheckResult]) -> list[list[str]]:
    return [
        [r.name, _fmt(r.statement), _fmt(r.source), _fmt(r.predicted), _fmt(r.measured),
         "PASS" if r.passed else "FAIL"]
        for r in results
    ]


_HEADER = ["check", "statement", "source", "predicted", "measured", "pass"]


def format_table(results: Sequence[CheckResult], *, max_width: int = 60) -> str:
    """A plain-text table aligned in columns; cells longer than ``max_width`` are cut with '...'."""
    if max_width < 4:
        raise ValueError(f"max_width must be at least 4 characters, got {max_width}.")
    cut = [[c if len(c) <= max_width else c[: max_width - 3] + "..." for c in row] for row in _rows(results)]
    widths = [max(len(row[i]) for row in [_HEADER, *cut]) for i in range(len(_HEADER))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in [_HEADER, *cut]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def to_markdown(results: Sequence[CheckResult], *, relative_to: str | os.PathLike | None = None,
                title: str | None = None) -> str:
    """A Markdown report: a table of the results (full cell text, pipes escaped), then the figures.

    ``relative_to`` is the folder of the report file: figure links are written relative to it.
    """
    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    lines = [f"# {title}", ""] if title else []
    passed = sum(r.passed for r in results)
    lines += [f"{passed}/{len(results)} checks passed.", ""]
    lines += ["| " + " | ".join(_HEADER) + " |", "|" + "---|" * len(_HEADER)]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in _rows(results)]
    failed = [r for r in results if not r.passed]
    if failed:
        lines += ["", "## Failures", ""]
        lines += [f"- `{r.name}`: {' '.join(r.detail.split())}" for r in failed]
    figures = [r for r in results if r.figure]
    if figures:
        lines += ["", "## Figures", ""]
        for r in figures:
            path = Path(r.figure)
            if relative_to is not None:
                path = Path(os.path.relpath(path.resolve(), Path(relative_to).resolve()))
            lines += [f"### {r.name}", "", f"{r.statement}", "", f"![{r.name}]({path.as_posix()})", ""]
    return "\n".join(lines).rstrip()


def load_all() -> list[Check]:
    """Import every module in :data:`CHECK_MODULES` (registering their checks); return :func:`registered`."""
    for module in CHECK_MODULES:
        importlib.import_module(module)
    return registered()


def figure_path(name: str) -> Path:
    """Where a check saves its figure: ``$TAMER_LAB_FIGURES/<name>.png`` (default ``figures/checks``).

    The folder is created on demand. ``tamer-lab validate --report`` points ``TAMER_LAB_FIGURES`` at a
    folder beside the report, so the report links every figure the checks produced.
    """
    if not name or any(c in name for c in "/\\"):
        raise ValueError(f"figure name must be a plain file stem (no slashes), got {name!r}.")
    folder = Path(os.environ.get("TAMER_LAB_FIGURES", "figures/checks"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{name}.png"


def save_figure(fig, name: str) -> str:
    """Save a matplotlib figure for a check (PNG, 110 dpi), close it, and return the path as a string.

    A check returns it as ``{"figure": save_figure(fig, name), ...}``.
    """
    import matplotlib.pyplot as plt

    path = figure_path(name)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return str(path)
