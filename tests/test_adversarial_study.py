"""The real-task comparison of Thrust I (tamer_lab.adversarial.study) and the loop's per-hook loss record."""
from dataclasses import replace

import matplotlib
import pytest
import torch

from tamer_lab import finetune
from tamer_lab.adversarial import L2SP, SMART, BregmanProximal
from tamer_lab.adversarial.study import (METHODS, STUDY_RECIPE, StudySettings, build_hooks, paired_differences,
                                         plot_study, run_study, study_settings, study_table)
from tamer_lab.data import DictDataset
from tamer_lab.data.toy import gaussian_mixture
from tamer_lab.experiments import Results
from tamer_lab.models import MLP

matplotlib.use("Agg")


def toy():
    x, y = gaussian_mixture(32, dim=4, separation=3.0, seed=0)
    return DictDataset(x=x, labels=y)


def test_finetune_records_each_hooks_mean_loss_term_and_skips_hooks_without_one():
    torch.manual_seed(0)
    res = finetune(MLP(4, 2, hidden=(8,)), toy(), hooks=[SMART(eps=0.5, step_size=0.5, norm="l2"), L2SP(head_prefix=None)],
                   epochs=2, batch_size=8, progress=False)
    rec = res.history[-1]
    assert rec["SMART_loss"] > 0 and "L2SP_loss" not in rec  # L2-SP adds its gradient, it returns no loss term
    twins = finetune(MLP(4, 2, hidden=(8,)), toy(), hooks=[SMART(), SMART(projection="normalize")], epochs=1,
                     batch_size=8, progress=False)
    assert {"SMART_loss_0", "SMART_loss_1"} <= set(twins.history[-1])


def test_build_hooks_gives_fresh_hooks_and_clear_errors():
    hooks = build_hooks("SMART + Bregman")
    assert [type(h) for h in hooks] == [SMART, BregmanProximal]
    assert build_hooks("SMART + Bregman")[1] is not hooks[1]  # fresh state per cell
    assert hooks[0].projection == "ball" and hooks[0].norm == "linf"  # the paper's algorithm
    assert build_hooks("SMART (normalize)")[0].projection == "normalize"
    assert build_hooks("vanilla") == []
    with pytest.raises(ValueError, match="unknown method 'smart'.*choose from"):
        build_hooks("smart")
    with pytest.raises(ValueError, match="unknown hook 'Mixup'"):
        build_hooks([("Mixup", {})])
    with pytest.raises(ValueError, match="unknown method"):
        run_study(methods=["vanilla", "SMART++"])


def test_study_settings_cover_the_issue_grid():
    full, quick = study_settings(False), study_settings(True)
    assert full.budgets == (16, 64, 256) and len(full.seeds) == 5 and full.test_size is None
    assert set(full.methods) == set(METHODS) and len(METHODS) == 9
    assert len(quick.seeds) == 3 and len(quick.budgets) < len(full.budgets)
    assert STUDY_RECIPE.contrastive_pairs == 0 and STUDY_RECIPE.probe_init


def fake_results():
    recs = []
    for seed, base in enumerate([0.60, 0.70, 0.65, 0.62]):
        recs.append(dict(method="vanilla", budget=16, seed=seed, test_accuracy=base, n_train=32))
        recs.append(dict(method="good", budget=16, seed=seed, test_accuracy=base + 0.05 + 0.001 * seed, n_train=32))
        recs.append(dict(method="bad", budget=16, seed=seed, test_accuracy=base - 0.10 + 0.002 * seed, n_train=32))
        recs.append(dict(method="noise", budget=16, seed=seed, test_accuracy=base + (0.03 if seed % 2 else -0.03),
                         n_train=32))
    return Results(recs)


def test_paired_differences_pair_by_seed_and_give_a_verdict():
    rows = {r["method"]: r for r in paired_differences(fake_results())}
    assert rows["good"]["verdict"] == "helps" and rows["good"]["mean"] == pytest.approx(0.0515)
    assert rows["bad"]["verdict"] == "hurts" and rows["bad"]["ci_high"] < 0
    assert rows["noise"]["verdict"] == "no effect shown" and rows["noise"]["mean"] == pytest.approx(0.0)
    # unpaired, "good" would not separate from vanilla (its seed spread is 0.1); paired it does
    assert rows["good"]["ci_low"] > 0.04
    with pytest.raises(ValueError, match="no 'vanilla' cells"):
        paired_differences(Results([r for r in fake_results().records if r["method"] != "vanilla"]))


def test_study_table_and_plot():
    res = fake_results()
    table = study_table(res)
    assert table.splitlines()[0].startswith("| method | K=16: accuracy | Δ vs vanilla")
    assert "| good | 0.694 ± " in table and "+0.052 [" in table
    axes = plot_study(res)
    assert len(axes[1].get_xticklabels()) == 3
    matplotlib.pyplot.close("all")


@pytest.mark.slow
def test_every_method_runs_on_the_real_encoder_and_the_grid_resumes(tmp_cache):
    settings = StudySettings(budgets=(4,), seeds=(0,), test_size=100, mode="quick",
                             recipe=replace(STUDY_RECIPE, min_steps=2, max_steps=2, max_length=24))
    res = run_study(settings=settings, progress=False)
    assert res.methods() == list(METHODS)
    by = {r["method"]: r for r in res.records}
    assert all(r["steps"] == 2 and r["n_test"] == 100 and 0 <= r["test_accuracy"] <= 1 for r in by.values())
    assert by["SMART (ball)"]["SMART_loss"] > 0 and by["Bregman"]["BregmanProximal_loss"] >= 0
    assert by["SMART (normalize)"]["SMART_loss"] > by["SMART (ball)"]["SMART_loss"]  # unit-norm tokens vs ε=1e-5
    again = run_study(settings=settings, progress=False, methods=["vanilla", "R3F"])
    assert [r["cell_seconds"] for r in again.records] == [by["vanilla"]["cell_seconds"], by["R3F"]["cell_seconds"]]
