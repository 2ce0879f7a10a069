"""Environment flags, the contrastive pair sampler, the tour's settings and the command line."""
import numpy as np
import pytest
import torch

from tamer_lab import quick_mode
from tamer_lab._runtime import progress_enabled
from tamer_lab.cli import main
from tamer_lab.contrastive import PairSimilarity, contrastive_finetune, sample_pairs
from tamer_lab.data import tokenize
from tamer_lab.models import tiny_bert, tiny_tokenizer
from tamer_lab.tour import tour_settings


@pytest.mark.parametrize("value,expected", [("1", True), ("true", True), ("YES", True), ("0", False),
                                            ("", False), ("no", False)])
def test_quick_flag_is_parsed_strictly(monkeypatch, value, expected):
    monkeypatch.setenv("TAMER_LAB_QUICK", value)
    assert quick_mode() is expected


def test_bad_quick_flag_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("TAMER_LAB_QUICK", "maybe")
    with pytest.raises(ValueError, match="TAMER_LAB_QUICK"):
        quick_mode()


def test_progress_bars_are_off_in_quick_mode_and_ci(monkeypatch):
    monkeypatch.setenv("TAMER_LAB_QUICK", "0")
    monkeypatch.setenv("CI", "false")
    assert progress_enabled()
    monkeypatch.setenv("CI", "true")
    assert not progress_enabled()
    monkeypatch.setenv("CI", "0")
    monkeypatch.setenv("TAMER_LAB_QUICK", "1")
    assert not progress_enabled()


def test_tour_settings_full_and_quick():
    full, quick = tour_settings(False), tour_settings(True)
    assert full.budgets == (4, 16, 32, 64, 256, 1024, None) and len(full.seeds) >= 3
    assert quick.mode == "quick" and quick.test_size is not None and len(quick.budgets) < len(full.budgets)


def test_pairs_have_the_right_targets_and_are_seeded():
    labels = np.array([0, 0, 0, 1, 1, 1])
    rows = sample_pairs(labels, 3, seed=0)
    assert len(rows) == 6 * 3 * 2
    assert all((labels[i] == labels[j]) == bool(t) for i, j, t in rows)
    assert all(i != j for i, j, _ in rows)
    assert np.array_equal(rows, sample_pairs(labels, 3, seed=0))
    assert len(sample_pairs(labels, 3, seed=0, max_pairs=10)) == 10
    with pytest.raises(ValueError, match="two classes"):
        sample_pairs(np.zeros(4, dtype=int), 1, seed=0)


def test_contrastive_stage_pulls_same_class_together():
    tok = tiny_tokenizer()
    texts = ["good great fun", "great fine film", "good fun movie", "bad awful dull", "boring bad plot", "dull awful story"]
    data = tokenize(tok, texts, [1, 1, 1, 0, 0, 0])
    torch.manual_seed(0)
    model = tiny_bert()
    pair = PairSimilarity(model).eval()

    def margin():
        with torch.no_grad():
            feats = torch.nn.functional.normalize(model.features(*_batch(data)), dim=-1)
        sim = feats @ feats.T
        same = torch.tensor([[a == b for b in [1, 1, 1, 0, 0, 0]] for a in [1, 1, 1, 0, 0, 0]])
        return (sim[same].mean() - sim[~same].mean()).item()

    before = margin()
    contrastive_finetune(model, data, pairs_per_example=10, max_pairs=None, lr=1e-3, epochs=3, progress=False)
    assert margin() > before + 0.05
    assert pair(*_batch(data), *_batch(data)).shape == (6,)


def _batch(data):
    from tamer_lab.data import collate

    b = collate([data[i] for i in range(len(data))])
    return b["input_ids"], b["attention_mask"]


def test_cli_assets_list_and_verify(capsys):
    assert main(["assets", "list"]) == 0
    out = capsys.readouterr().out
    assert "minilm" in out and "rotten_tomatoes" in out
    assert main(["assets", "verify", "rotten_tomatoes"]) == 0


def test_cli_validate_fails_on_a_failing_check(capsys, monkeypatch):
    from tamer_lab.theory import checks
    from tamer_lab.theory.rates import CheckFailed

    monkeypatch.setattr(checks, "load_all", lambda: None)

    @checks.register("always_fails_for_test", statement="s", source="src", notebook="zz")
    def _fail(quick):
        raise CheckFailed("measured 2 > predicted 1", measured=2.0, predicted=1.0)

    try:
        assert main(["validate", "--quick", "--only", "always_fails_for_test"]) == 1
        out = capsys.readouterr().out
        assert "0/1 checks passed; failed: always_fails_for_test" in out
    finally:
        checks.unregister("always_fails_for_test")
