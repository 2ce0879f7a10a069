"""Grids: caching by content hash, resuming after an interruption, tables and intervals."""
import json

import numpy as np
import pytest

from tamer_lab.experiments import Grid, cell_key, mean_ci, t_quantile


def make_grid(tmp_path, calls, fail_at=None):
    def run_cell(cfg):
        calls.append((cfg["method"], cfg["budget"], cfg["seed"]))
        if fail_at is not None and len(calls) == fail_at:
            raise KeyboardInterrupt  # an interrupted sweep
        return {"test_accuracy": 0.5 + 0.01 * cfg["seed"] + (0.1 if cfg["method"] == "b" else 0.0), "n_train": 2 * (cfg["budget"] or 100)}

    return Grid("t", run_cell, methods={"a": {"lr": 1}, "b": {"lr": 2}}, budgets=[4, None], seeds=[0, 1, 2],
                common={"task": "toy"}, cache_dir=tmp_path / "grid", progress=False)


def test_grid_resumes_from_cache_after_interruption(tmp_path):
    calls = []
    with pytest.raises(KeyboardInterrupt):
        make_grid(tmp_path, calls, fail_at=5).run()
    assert len(calls) == 5
    assert len(list((tmp_path / "grid").glob("*.json"))) == 4  # the interrupted cell left nothing behind
    calls.clear()
    res = make_grid(tmp_path, calls).run()
    assert len(calls) == 12 - 4  # only the missing cells ran
    assert len(res.records) == 12
    calls.clear()
    make_grid(tmp_path, calls).run()
    assert calls == []


def test_changed_configuration_is_not_read_from_cache(tmp_path):
    calls = []
    make_grid(tmp_path, calls).run()
    grid = make_grid(tmp_path, calls)
    grid.methods["a"] = {"lr": 3}
    calls.clear()
    grid.run()
    assert sorted(set(c[0] for c in calls)) == ["a"]


def test_corrupted_cell_is_recomputed(tmp_path):
    calls = []
    grid = make_grid(tmp_path, calls)
    grid.run()
    victim = grid.path(grid.cells()[0])
    victim.write_text("{not json")
    calls.clear()
    grid.run()
    assert len(calls) == 1
    assert json.loads(victim.read_text())["result"]["test_accuracy"] > 0


def test_cell_key_ignores_key_order():
    assert cell_key({"a": 1, "b": [1, 2]}) == cell_key({"b": [1, 2], "a": 1})
    assert cell_key({"a": 1}) != cell_key({"a": 2})


def test_table_means_and_intervals(tmp_path):
    res = make_grid(tmp_path, []).run()
    rows = {(r["method"], r["budget"]): r for r in res.table()}
    r = rows[("b", 4)]
    assert r["n_seeds"] == 3 and r["mean"] == pytest.approx(0.61)
    assert r["ci_low"] < r["mean"] < r["ci_high"]
    md = res.to_markdown()
    assert "K=all" in md and "| b |" in md
    ax = res.plot()
    assert ax.get_xscale() == "log"


def test_t_quantiles_match_tables():
    assert t_quantile(0.975, 2) == pytest.approx(4.303, abs=1e-3)
    assert t_quantile(0.975, 4) == pytest.approx(2.776, abs=1e-3)
    assert t_quantile(0.975, 1e6) == pytest.approx(1.960, abs=1e-3)


def test_mean_ci_covers_the_mean_at_the_nominal_rate():
    rng = np.random.default_rng(0)
    hits = sum(lo <= 0.0 <= hi for lo, hi in (mean_ci(rng.normal(size=5))[1:] for _ in range(2000)))
    assert 0.93 < hits / 2000 < 0.97
    assert mean_ci([0.7]) == (0.7, 0.7, 0.7)
    with pytest.raises(ValueError):
        mean_ci([])
