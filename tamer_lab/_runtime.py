"""Run-time settings read from the environment: quick mode, CI, progress bars, device, seeding."""
from __future__ import annotations

import os
import random
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np
import torch

_TRUE = {"1", "true", "yes"}
_FALSE = {"", "0", "false", "no"}


def _flag(name: str) -> bool:
    """Parse a boolean environment variable strictly: 1/true/yes or 0/false/no (any case)."""
    raw = os.environ.get(name, "")
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(
        f"{name}={raw!r} is not a boolean; set it to 1/true/yes to enable or 0/false/no (or unset) to disable."
    )


def quick_mode() -> bool:
    """True when ``TAMER_LAB_QUICK`` asks for CI-sized runs (at most ~2 minutes a notebook)."""
    return _flag("TAMER_LAB_QUICK")


def in_ci() -> bool:
    """True under continuous integration (``CI`` set to a true value)."""
    try:
        return _flag("CI")
    except ValueError:  # some CI systems set CI to arbitrary non-empty strings
        return True


def progress_enabled() -> bool:
    """Progress bars are shown interactively and hidden in quick mode and under CI."""
    return not (quick_mode() or in_ci())


def default_device() -> torch.device:
    """CUDA when present, otherwise the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and PyTorch (CPU and CUDA) in one call."""
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    random.seed(int(seed))
    np.random.seed(int(seed) % 2**32)
    torch.manual_seed(int(seed))
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(int(seed))


def atomic_write(path: str | os.PathLike, write: Callable[[str], None], *, suffix: str = ".tmp") -> None:
    """Write a file so that readers see the old file or the complete new one, never a partial one.

    ``write(tmp_path)`` writes to a temporary file in the same folder, which then replaces ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=suffix)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
