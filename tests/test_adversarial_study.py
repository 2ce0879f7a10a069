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
    assert {"SMART_0_loss", "SMART_1_loss"} <= set(twins.history[-1])


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


def test_penalty_sources_separates_dropout_from_the_perturbation():
    from tamer_lab.adversarial import R3F
    from tamer_lab.adversarial.study import penalty_sources
    from tamer_lab.data import collate, tokenize
    from tamer_lab.models import tiny_bert, tiny_tokenizer

    texts = ["a great fun film", "awful boring plot", "not very good", "the plot was fun"]
    data = tokenize(tiny_tokenizer(), texts, [1, 0, 0, 1], max_length=12)
    batch = collate([data[i] for i in range(4)])
    model = tiny_bert()
    model.train()
    src = penalty_sources(model, batch, SMART(eps=1e-5, sigma=1e-5, weight=3.0), repeats=2)
    assert model.training  # the mode is restored
    assert src["dropout"] > 0 and src["eval"] < 1e-3 * src["train"]  # ε = 1e-5: dropout dominates
    big = penalty_sources(model, batch, SMART(projection="normalize"), repeats=2)
    assert big["eval"] > 100 * src["eval"]  # unit-norm tokens are a large perturbation
    assert penalty_sources(model, batch, R3F(), repeats=1)["eval"] < src["train"]


def test_run_study_takes_your_own_variants_and_checks_them_first(monkeypatch, tmp_cache):
    import tamer_lab.adversarial.study as S

    seen = []
    monkeypatch.setattr(S, "_cell", lambda settings, cfg: seen.append(cfg["params"]["hooks"]) or
                        dict(test_accuracy=0.5, n_train=8))
    settings = StudySettings(budgets=(4,), seeds=(0,), test_size=50, mode="quick")
    with pytest.raises(ValueError, match="unknown hook 'Smart'"):
        run_study(settings=settings, methods={"mine": (("Smart", {}),)}, progress=False)
    with pytest.raises(TypeError):
        run_study(settings=settings, methods={"mine": (("SMART", {"radius": 1.0}),)}, progress=False)
    res = run_study(settings=settings, methods={"vanilla": (), "SMART eps=1e-2": (("SMART", {"eps": 1e-2}),)},
                    progress=False, recompute=True)
    assert res.methods() == ["vanilla", "SMART eps=1e-2"] and seen == [[], [["SMART", {"eps": 1e-2}]]]
