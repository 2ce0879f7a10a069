"""Two moons with SMART (tamer_lab.adversarial.moons) and its registered check."""
from dataclasses import replace

import matplotlib
import pytest
import torch
import torch.nn.functional as F

from tamer_lab.adversarial.moons import (VARIANTS, local_lipschitz, moons_data, moons_settings, moons_sweep,
                                         plot_boundaries, plot_sweep, sweep_table, train_moons)
from tamer_lab.theory.rates import CheckFailed
from tamer_lab.theory.smoothness import check_smart_flattens_two_moons

matplotlib.use("Agg")

TINY = replace(moons_settings(True), steps=60, lambdas=(0.0, 1.0), seeds=(0, 1), n_test=200, hidden=(16,))


def test_local_lipschitz_matches_the_closed_form_of_a_linear_softmax():
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 4)
    x = torch.randn(5, 3)
    got = local_lipschitz(model, x)
    for i in range(5):
        p = F.softmax(model(x[i]), -1).detach()
        jac = (torch.diag(p) - torch.outer(p, p)) @ model.weight.detach()
        assert got[i] == pytest.approx(torch.linalg.matrix_norm(jac, ord=2).item(), rel=1e-5)
    with pytest.raises(ValueError, match="matrix of points"):
        local_lipschitz(model, x[0])


def test_local_lipschitz_bounds_finite_differences():
    torch.manual_seed(1)
    model = train_moons(TINY, 0.0, seed=0)
    x = moons_data(TINY, 0)["X_test"][:20]
    lip = local_lipschitz(model, x)
    d = torch.randn_like(x)
    d = 1e-4 * d / d.norm(dim=1, keepdim=True)
    with torch.no_grad():
        ratio = (F.softmax(model(x + d), -1) - F.softmax(model(x), -1)).norm(dim=1) / 1e-4
    assert (ratio <= lip * 1.01 + 1e-6).all()


def test_training_is_deterministic_and_rejects_a_negative_weight():
    a, b = train_moons(TINY, 1.0, seed=3), train_moons(TINY, 1.0, seed=3)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    with pytest.raises(ValueError, match="weight"):
        train_moons(TINY, -1.0, seed=0)


def test_sweep_shares_vanilla_across_variants_and_is_reused():
    recs = moons_sweep(TINY, progress=False)
    assert len(recs) == len(TINY.seeds) * len(VARIANTS) * len(TINY.lambdas)
    van = [r for r in recs if r["weight"] == 0.0 and r["seed"] == 0]
    assert van[0]["test_error"] == van[1]["test_error"] and {r["variant"] for r in van} == set(VARIANTS)
    again = moons_sweep(TINY, progress=False)
    assert again == recs and again[0] is not recs[0]
    assert "| labelled + unlabelled | 1 |" in sweep_table(recs)
    plot_sweep(recs)
    data = moons_data(TINY, 0)
    plot_boundaries({"vanilla": train_moons(TINY, 0.0, 0, data=data)}, data)
    matplotlib.pyplot.close("all")


def _records(lips_by_weight, seeds=(0, 1, 2)):
    return [dict(variant=VARIANTS[1], weight=w, seed=s, test_error=0.1, lipschitz=lip[s])
            for w, lip in lips_by_weight.items() for s in seeds]


def test_two_moons_check_passes_on_falling_lipschitz_and_fails_otherwise():
    ok = _records({0.0: [1.0, 0.9, 1.1], 1.0: [0.5, 0.6, 0.4], 10.0: [0.2, 0.1, 0.3]})
    out = check_smart_flattens_two_moons(True, records=ok)
    assert "below vanilla on 3/3 seeds" in out["measured"]
    with pytest.raises(CheckFailed, match="does not fall"):
        check_smart_flattens_two_moons(True, records=_records({0.0: [1, 1, 1], 1.0: [1.2, 1.2, 1.2],
                                                                 10.0: [0.1, 0.1, 0.1]}))
    with pytest.raises(CheckFailed, match="seed 2"):
        check_smart_flattens_two_moons(True, records=_records({0.0: [1, 1, 0.1], 1.0: [0.5, 0.5, 0.5],
                                                                 10.0: [0.2, 0.2, 0.2]}))
    matplotlib.pyplot.close("all")
