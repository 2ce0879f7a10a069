"""Theory checks of notebook 00 (label scarcity): the linear probe on frozen pre-trained features.

The probe is a fixed, norm-bounded linear class over a feature map chosen before seeing any label
(the pre-trained encoder), so uniform convergence applies to it exactly:

* its generalization gap shrinks with the number of labels n at the n^(-1/2) rate of a
  Rademacher bound (Mohri, Rostamizadeh, Talwalkar, Foundations of ML, 2nd ed., Thm 3.3 and 5.10);
* the margin bound, with the ramp loss and a union over a grid of margins and norms fixed in
  advance, holds: test error <= bound on every budget and seed (with probability >= 1 - delta).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from ..data.text import few_shot
from ..probe import fit_probe
from ..recipes import RECIPES, feature_bank
from .checks import register
from .rademacher import empirical_rademacher_linear, margin_bound_linear_union, rademacher_linear_l2_bound
from .rates import CheckFailed, check_rate

NOTEBOOK = "00_label_scarcity"
GAMMAS = np.geomspace(1e-3, 10.0, 25)  # the union-bound grid, fixed before seeing data
NORMS = np.geomspace(1e-2, 1e3, 31)
DELTA = 0.05


@dataclass
class ProbeCurve:
    """Per budget (rows) and seed (columns): labels n, train and test error, and the margin bound."""

    budgets: list
    n: np.ndarray
    train_error: np.ndarray
    test_error: np.ndarray
    bound: np.ndarray
    rademacher_term: np.ndarray

    @property
    def gap(self) -> np.ndarray:
        return self.test_error - self.train_error


def curve_settings(quick: bool) -> dict:
    if quick:
        return dict(budgets=(8, 32, 128), seeds=(0, 1, 2), test_size=400)
    return dict(budgets=(4, 16, 64, 256, 1024, None), seeds=(0, 1, 2, 3, 4), test_size=None)


@functools.lru_cache(maxsize=2)
def probe_curve(quick: bool) -> ProbeCurve:
    """Fit the raw-feature probe at each budget and seed; record errors and its margin bound."""
    from ..tour import tour_data

    s = curve_settings(quick)
    train, test = tour_data(s["test_size"])
    splits = {(b, sd): few_shot(train, b, sd) for b in s["budgets"] for sd in s["seeds"]}
    texts = list(test.texts) + [t for sp in splits.values() for t in sp.train.texts + sp.dev.texts]
    bank = feature_bank(texts if quick else train.texts + test.texts, max_length=RECIPES["default"].max_length)
    x_test = bank.get(test.texts)
    shape = (len(s["budgets"]), len(s["seeds"]))
    n, tr, te, bd, rad = (np.zeros(shape) for _ in range(5))
    for i, b in enumerate(s["budgets"]):
        for j, sd in enumerate(s["seeds"]):
            sp = splits[(b, sd)]
            x = bank.get(sp.train.texts)
            probe = fit_probe(x, sp.train.labels, bank.get(sp.dev.texts), sp.dev.labels, standardize=False)
            w, c = probe.raw_weights()
            v = np.append(w[1] - w[0], c[1] - c[0])  # binary margin direction, bias as a constant feature
            x_aug = np.hstack([x, np.ones((len(x), 1))])
            margins = np.where(sp.train.labels == 1, 1.0, -1.0) * (x_aug @ v)
            mb = margin_bound_linear_union(margins, x_aug, float(np.linalg.norm(v)), gammas=GAMMAS,
                                           norm_bounds=NORMS, delta=DELTA)
            n[i, j] = len(sp.train)
            tr[i, j] = 1 - probe.accuracy(x, sp.train.labels)
            te[i, j] = 1 - probe.accuracy(x_test, test.labels)
            bd[i, j], rad[i, j] = mb.bound, mb.rademacher_term
    return ProbeCurve(list(s["budgets"]), n, tr, te, bd, rad)


@register("probe_margin_bound_holds", notebook=NOTEBOOK,
          statement="linear probe: test error <= ramp loss + 2R/gamma + 3 sqrt(ln(2K/delta)/2n), every budget and seed",
          source="Mohri et al. 2018, Thm 5.8 + 5.10; union over a fixed (gamma, B) grid")
def check_probe_margin_bound(quick: bool) -> dict:
    c = probe_curve(quick)
    slack = c.bound - c.test_error
    worst = np.unravel_index(np.argmin(slack), slack.shape)
    if slack[worst] < 0:
        raise CheckFailed(f"bound {c.bound[worst]:.3f} < test error {c.test_error[worst]:.3f} at budget "
                          f"{c.budgets[worst[0]]}", measured=float(c.test_error[worst]), predicted=float(c.bound[worst]))
    last = c.bound[-1].mean() / c.test_error[-1].mean()
    return {"predicted": f"bound >= test error (tightest: {c.bound[-1].mean():.3f} at n={c.n[-1].mean():.0f})",
            "measured": f"min slack {slack[worst]:.3f}; bound/test error {last:.1f}x at the largest n"}


@register("probe_gap_rate", notebook=NOTEBOOK,
          statement="linear probe: generalization gap decays like n^(-1/2) (fitted slope within tol of -1/2)",
          source="uniform convergence, Mohri et al. 2018, Thm 3.3")
def check_probe_gap_rate(quick: bool) -> dict:
    c = probe_curve(quick)
    n = c.n[:, 0]
    gap = np.clip(c.gap, 1e-3, None)
    fit = check_rate(n, gap, -0.5, tol=0.5 if quick else 0.35, name="probe generalization gap")
    return {"predicted": "slope -0.50 (bound's rate)", "measured": str(fit)}


@register("rademacher_linear_two_sided", notebook=NOTEBOOK,
          statement="on real features, B sqrt(sum ||x||^2)/(n sqrt 2) <= Monte Carlo R(linear class) <= B sqrt(sum ||x||^2)/n",
          source="Mohri et al. 2018, Thm 5.10 (Jensen); Latala & Oleszkiewicz 1994 (Khintchine-Kahane, constant 1/sqrt 2)")
def check_rademacher_closed_form(quick: bool) -> dict:
    from ..tour import tour_data

    train, _ = tour_data(500 if quick else None)
    sp = few_shot(train, 32, 0)
    x = feature_bank(sp.train.texts, max_length=RECIPES["default"].max_length).get(sp.train.texts)
    est, se = empirical_rademacher_linear(x, 1.0, n_samples=4000, seed=0)
    closed = rademacher_linear_l2_bound(x, 1.0)
    lower = closed / np.sqrt(2.0)
    if not (lower - 3 * se <= est <= closed + 3 * se):
        raise CheckFailed(f"Monte Carlo {est:.4f} ± {se:.4f} outside [{lower:.4f}, {closed:.4f}]", measured=est,
                          predicted=closed)
    return {"predicted": f"in [{lower:.4f}, {closed:.4f}]", "measured": f"{est:.4f} ± {se:.4f} ({est / closed:.3f} of the upper)"}
