"""End to end on the real default encoder (all-MiniLM-L6-v2) and the real task."""
from dataclasses import replace

import numpy as np
import pytest

from tamer_lab.data import few_shot
from tamer_lab.models import load_tokenizer, text_classifier
from tamer_lab.probe import extract_features
from tamer_lab.recipes import RECIPES, feature_bank, run_finetune, run_probe
from tamer_lab.tour import tour_data

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def task():
    return tour_data(test_size=200)


def test_default_encoder_is_the_documented_one():
    model = text_classifier()
    assert model.encoder.config.num_hidden_layers == 6 and model.encoder.config.hidden_size == 384
    n = sum(p.numel() for p in model.encoder.parameters())
    assert 22.5e6 < n < 22.8e6


def test_finetune_recipe_runs_on_the_real_encoder(task):
    train, test = task
    split = few_shot(train, 8, seed=0)
    # every stage of the default recipe: one contrastive step of 16 pairs, probe head, 4 fine-tuning steps
    recipe = replace(RECIPES["default"], min_steps=4, max_steps=4, max_length=32, contrastive_pairs=1,
                     contrastive_max_pairs=16)
    out = run_finetune(split, test, recipe, seed=0, progress=False)
    assert out["steps"] == 1 + 4 and out["n_test"] == 200 and out["n_train"] == 16
    assert 0.3 < out["test_accuracy"] < 1.0
    again = run_finetune(split, test, recipe, seed=0, progress=False)
    assert again["test_accuracy"] == out["test_accuracy"]  # same seed, same numbers


def test_probe_on_real_features_beats_chance(task):
    train, test = task
    split = few_shot(train, 64, seed=0)
    bank = feature_bank(split.train.texts + split.dev.texts + test.texts, max_length=32)
    out = run_probe(split, test, bank)
    assert out["test_accuracy"] > 0.55 and out["train_accuracy"] >= out["test_accuracy"]


def test_feature_cache_is_reused_and_a_corrupted_file_recomputed(task, tmp_cache):
    _, test = task
    model, tok = text_classifier(), load_tokenizer()
    texts = test.texts[:16]
    first = extract_features(model, tok, texts, max_length=32, cache_key="minilm")
    files = list((tmp_cache / "features").glob("*.npz"))
    assert len(files) == 1
    assert np.array_equal(extract_features(model, tok, texts, max_length=32, cache_key="minilm"), first)
    files[0].write_bytes(b"garbage")
    assert np.allclose(extract_features(model, tok, texts, max_length=32, cache_key="minilm"), first)
