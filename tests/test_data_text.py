"""The real task's splits and the few-label sampler."""
import numpy as np
import pytest

from tamer_lab.data import TextDataset, few_shot, group_split, load_rotten_tomatoes, real_task


@pytest.fixture(scope="module")
def task():
    return real_task()


def test_corpus_size_and_labels():
    data = load_rotten_tomatoes()
    assert len(data) == 12752  # 7,403 fresh + 5,405 rotten, duplicate texts kept once
    assert len(set(data.texts)) == len(data)
    assert set(np.unique(data.labels)) == {0, 1}


def test_test_split_is_movie_disjoint(task):
    train, test = task
    assert not set(train.groups) & set(test.groups)
    assert len(train) + len(test) == 12752
    assert 0.18 < len(test) / (len(train) + len(test)) < 0.25


def test_group_split_generic_is_disjoint_and_seeded():
    data = TextDataset([f"t{i}" for i in range(100)], np.arange(100) % 2, np.arange(100) // 5)
    a_tr, a_te = group_split(data, 0.3, seed=1)
    b_tr, b_te = group_split(data, 0.3, seed=1)
    assert a_te.texts == b_te.texts
    assert not set(a_tr.groups) & set(a_te.groups)


def test_few_shot_exactly_k_per_class_and_disjoint(task):
    train, _ = task
    sp = few_shot(train, 16, seed=3)
    assert sp.train.class_counts() == {"rotten": 16, "fresh": 16}
    assert sp.dev.class_counts() == {"rotten": 16, "fresh": 16}
    assert not set(sp.train.texts) & set(sp.dev.texts)
    assert not (set(sp.train.texts) | set(sp.dev.texts)) & set(sp.pool.texts)
    assert len(sp.train) + len(sp.dev) + len(sp.pool) == len(train)


def test_few_shot_same_seed_same_sample_other_seed_differs(task):
    train, _ = task
    assert few_shot(train, 8, seed=0).train.texts == few_shot(train, 8, seed=0).train.texts
    assert few_shot(train, 8, seed=0).train.texts != few_shot(train, 8, seed=1).train.texts


def test_few_shot_rejects_k_larger_than_a_class(task):
    train, _ = task
    smallest = min(train.class_counts().values())
    with pytest.raises(ValueError, match="exceed the smallest class"):
        few_shot(train, smallest, seed=0)
    with pytest.raises(ValueError, match="positive integer"):
        few_shot(train, 0, seed=0)
    with pytest.raises(ValueError, match="dev_k"):
        few_shot(train, 4, seed=0, dev_k=5)


def test_all_labels_holds_out_a_stratified_dev(task):
    train, _ = task
    sp = few_shot(train, None, seed=0)
    assert len(sp.pool) == 0
    assert abs(len(sp.dev) - 0.1 * len(train)) <= 2
    assert len(sp.train) + len(sp.dev) == len(train)


def test_label_range_is_validated():
    with pytest.raises(ValueError, match="labels must lie in"):
        TextDataset(["a", "b"], [0, 2], ["g", "g"])
