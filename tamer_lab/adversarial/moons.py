"""Two moons with few labels: what SMART's smoothness penalty does to a small network's decision function.

A ReLU MLP is trained on ``n_labeled`` points of two moons (full batch, Adam), with SMART's penalty
λ_s·R_s on the labelled points and, optionally, on ``n_unlabeled`` unlabelled points (R_s needs no
labels). For each λ_s and seed we record the test error and a **local Lipschitz estimate**: the
spectral norm of the Jacobian of the predicted probabilities, ‖∂p(x)/∂x‖₂, averaged over the test
points. SMART's penalty is, to second order, ε²·λ_max(G)/2 with G = Jᵀ(diag p − ppᵀ)J the Fisher form
of the logits' Jacobian J (``tamer_lab.theory.smoothness``), and ∂p/∂x = (diag p − ppᵀ)J, so a
smaller penalty means a flatter p around the data.

>>> records = moons_sweep(moons_settings())      # doctest: +SKIP
>>> plot_sweep(records)                           # doctest: +SKIP
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from .._runtime import progress_enabled, quick_mode, seed_everything
from ..data.toy import two_moons
from ..experiments import mean_ci
from ..models import MLP
from .smart import SMART

__all__ = ["MoonsSettings", "moons_settings", "moons_data", "train_moons", "local_lipschitz", "moons_sweep",
           "sweep_table", "plot_boundaries", "plot_sweep", "VARIANTS"]

VARIANTS = ("labelled", "labelled + unlabelled")  # where SMART's penalty is applied


@dataclass(frozen=True)
class MoonsSettings:
    """The two-moons experiment. SMART here uses an ℓ2 ball of radius ``eps`` on the 2-d input and one
    ascent step of size ``eps`` from N(0, (eps/10)²) noise."""

    n_labeled: int = 12
    n_unlabeled: int = 200
    n_test: int = 2000
    noise: float = 0.2
    hidden: tuple = (128, 128)
    steps: int = 800
    lr: float = 1e-2
    eps: float = 0.3
    lambdas: tuple = (0.0, 0.1, 0.3, 1.0, 3.0, 10.0)
    seeds: tuple = tuple(range(10))
    variants: tuple = VARIANTS

    def smart(self, weight: float) -> SMART:
        return SMART(eps=self.eps, sigma=self.eps / 10, step_size=self.eps, steps=1, norm="l2", weight=weight)


def moons_settings(quick: bool | None = None) -> MoonsSettings:
    """The full setting (6 values of λ_s, 10 seeds) or the quick one (4 values, 3 seeds, 400 steps)."""
    quick = quick_mode() if quick is None else quick
    if not quick:
        return MoonsSettings()
    return MoonsSettings(steps=400, lambdas=(0.0, 0.3, 1.0, 10.0), seeds=(0, 1, 2), n_test=1000)


def moons_data(settings: MoonsSettings, seed: int) -> dict[str, torch.Tensor]:
    """Labelled ``X, y``, unlabelled ``U`` and the test set ``X_test, y_test`` (the same test set for every seed)."""
    X, y = two_moons(settings.n_labeled, noise=settings.noise, seed=seed)
    U, _ = two_moons(max(settings.n_unlabeled, 1), noise=settings.noise, seed=10_000 + seed)
    X_test, y_test = two_moons(settings.n_test, noise=settings.noise, seed=999_999)
    return dict(X=X, y=y, U=U, X_test=X_test, y_test=y_test)


def train_moons(settings: MoonsSettings, weight: float, seed: int, *, unlabeled: bool = False,
                data: dict | None = None) -> nn.Module:
    """Train the MLP on the labelled points with SMART's penalty at λ_s = ``weight`` (0: vanilla).

    A plain PyTorch loop: the penalty is ``SMART.penalty`` on the labelled batch, plus the same penalty on
    the unlabelled points with ``unlabeled=True``.
    """
    if weight < 0:
        raise ValueError(f"weight (λ_s) must be >= 0, got {weight}")
    data = data or moons_data(settings, seed)
    seed_everything(seed)
    model = MLP(2, 2, hidden=settings.hidden)
    opt = torch.optim.Adam(model.parameters(), lr=settings.lr)
    smart = settings.smart(weight)
    X, y, U = data["X"], data["y"], data["U"]
    for _ in range(settings.steps):
        logits = model(X)
        loss = F.cross_entropy(logits, y)
        if weight > 0:
            loss = loss + smart.penalty(model, {"x": X}, logits)
            if unlabeled:
                loss = loss + smart.penalty(model, {"x": U}, model(U))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return model.eval()


def local_lipschitz(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """‖∂p(x_i)/∂x_i‖₂ for each row of ``x``: the spectral norm of the Jacobian of the softmax probabilities.

    It is the local Lipschitz constant of x ↦ p(x) at x_i (in ℓ2), the limit of ‖p(x + δ) − p(x)‖/‖δ‖
    over the worst direction as ‖δ‖ → 0.
    """
    if x.ndim != 2:
        raise ValueError(f"x must be a matrix of points (n, d), got shape {tuple(x.shape)}")

    def probs(v):
        return F.softmax(model(v.unsqueeze(0)).squeeze(0), dim=-1)

    jac = torch.func.vmap(torch.func.jacrev(probs))(x.detach())  # (n, C, d)
    return torch.linalg.matrix_norm(jac, ord=2).detach()


_SWEEPS: dict[MoonsSettings, list[dict]] = {}


def moons_sweep(settings: MoonsSettings | None = None, *, progress: bool | None = None,
                reuse: bool = True) -> list[dict]:
    """Train at every (variant, λ_s, seed); one record each: test and train error, mean local Lipschitz
    estimate on the test points. λ_s = 0 (vanilla) is trained once per seed and shared by both variants.

    Training is deterministic, so a sweep already run in this process with the same settings is returned
    again (a copy) unless ``reuse=False``: the notebook's plots and the registered check share one sweep.
    """
    settings = settings or moons_settings()
    if reuse and settings in _SWEEPS:
        return [dict(r) for r in _SWEEPS[settings]]
    runs = [(v, w, s) for s in settings.seeds for v in settings.variants for w in settings.lambdas]
    show = progress_enabled() if progress is None else progress
    records, vanilla = [], {}
    for variant, weight, seed in tqdm(runs, desc="two moons", disable=not show):
        data = moons_data(settings, seed)
        if weight == 0 and seed in vanilla:
            rec = dict(vanilla[seed], variant=variant)
        else:
            model = train_moons(settings, weight, seed, unlabeled=variant == VARIANTS[1], data=data)
            with torch.no_grad():
                test_err = (model(data["X_test"]).argmax(-1) != data["y_test"]).float().mean().item()
                train_err = (model(data["X"]).argmax(-1) != data["y"]).float().mean().item()
            rec = dict(variant=variant, weight=weight, seed=seed, test_error=test_err, train_error=train_err,
                       lipschitz=local_lipschitz(model, data["X_test"]).mean().item())
            if weight == 0:
                vanilla[seed] = rec
        records.append(rec)
    _SWEEPS[settings] = [dict(r) for r in records]
    return records


def sweep_table(records: list[dict], digits: int = 3) -> str:
    """Markdown: per variant and λ_s, test error and local Lipschitz estimate (mean ± 95% half-width)."""
    lines = ["| SMART on | λ_s | test error | local Lipschitz ‖∂p/∂x‖₂ | seeds |", "|---|---|---|---|---|"]
    for v in dict.fromkeys(r["variant"] for r in records):
        for w in sorted({r["weight"] for r in records if r["variant"] == v}):
            sel = [r for r in records if r["variant"] == v and r["weight"] == w]
            cells = []
            for key in ("test_error", "lipschitz"):
                m, lo, hi = mean_ci([r[key] for r in sel])
                cells.append(f"{m:.{digits}f} ± {(hi - lo) / 2:.{digits}f}")
            lines.append(f"| {v} | {w:g} | {cells[0]} | {cells[1]} | {len(sel)} |")
    return "\n".join(lines)


def _probability_grid(model: nn.Module, X: torch.Tensor, resolution: int = 200):
    lo, hi = X.min(0).values - 0.6, X.max(0).values + 0.6
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution))
    pts = torch.as_tensor(np.stack([gx.ravel(), gy.ravel()], 1), dtype=torch.float32)
    with torch.no_grad():
        p = F.softmax(model(pts), -1)[:, 1].numpy().reshape(gx.shape)
    return gx, gy, p


def plot_boundaries(models: dict[str, nn.Module], data: dict, axes=None):
    """One panel per model: P(class 1) as a colour map, its 0.5 contour (the decision boundary), the
    labelled points (large) and the test points (small)."""
    import matplotlib.pyplot as plt

    if axes is None:
        _, axes = plt.subplots(1, len(models), figsize=(4.2 * len(models), 3.8), squeeze=False)
        axes = axes[0]
    Xt, yt = data["X_test"].numpy(), data["y_test"].numpy()
    for ax, (name, model) in zip(axes, models.items()):
        gx, gy, p = _probability_grid(model, data["X_test"])
        ax.contourf(gx, gy, p, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.6)
        ax.contour(gx, gy, p, levels=[0.5], colors="k", linewidths=1.5)
        ax.scatter(Xt[:, 0], Xt[:, 1], c=yt, cmap="RdBu_r", s=2, alpha=0.25)
        X, y = data["X"].numpy(), data["y"].numpy()
        ax.scatter(X[:, 0], X[:, 1], c=y, cmap="RdBu_r", s=70, edgecolors="k", linewidths=1.2)
        ax.set_title(name, fontsize=10)
        ax.set_xticks([]), ax.set_yticks([])
    return axes


def plot_sweep(records: list[dict], axes=None):
    """Test error and local Lipschitz estimate against λ_s (symlog axis; λ_s = 0 is vanilla), mean and 95% interval."""
    import matplotlib.pyplot as plt

    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    for v in dict.fromkeys(r["variant"] for r in records):
        ws = sorted({r["weight"] for r in records if r["variant"] == v})
        for ax, key in zip(axes, ("test_error", "lipschitz")):
            stats = [mean_ci([r[key] for r in records if r["variant"] == v and r["weight"] == w]) for w in ws]
            m, lo, hi = (np.array(s) for s in zip(*stats))
            line, = ax.plot(ws, m, marker="o", label=f"SMART on {v}")
            ax.fill_between(ws, lo, hi, color=line.get_color(), alpha=0.2)
    for ax, label in zip(axes, ("test error", "local Lipschitz estimate  mean ‖∂p/∂x‖₂")):
        ax.set_xscale("symlog", linthresh=0.1)
        ax.set_xlabel("λ_s  (0 = vanilla)")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return axes
