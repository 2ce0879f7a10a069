"""The fine-tuning loop: determinism, hooks, early stopping, errors."""
import math

import pytest
import torch

from tamer_lab import Hook, TrainConfig, evaluate, finetune, seed_everything
from tamer_lab.data import DictDataset, tokenize
from tamer_lab.data.toy import gaussian_mixture
from tamer_lab.models import MLP, tiny_bert, tiny_tokenizer


def toy_data(n=64, seed=0):
    x, y = gaussian_mixture(n, dim=4, separation=3.0, seed=seed)
    return DictDataset(x=x, labels=y)


def fit_mlp(seed, **kw):
    seed_everything(seed)
    model = MLP(4, 2, hidden=(16,))
    kw = {"epochs": 3, "batch_size": 8, "lr": 1e-2, **kw}
    res = finetune(model, toy_data(), toy_data(32, seed=1), seed=seed, progress=False, **kw)
    return model, res


def test_same_seed_same_metrics_and_weights():
    m1, r1 = fit_mlp(0)
    m2, r2 = fit_mlp(0)
    assert [h["train_loss"] for h in r1.history] == [h["train_loss"] for h in r2.history]
    assert all(torch.equal(a, b) for a, b in zip(m1.state_dict().values(), m2.state_dict().values()))
    _, r3 = fit_mlp(1)
    assert [h["train_loss"] for h in r1.history] != [h["train_loss"] for h in r3.history]


def test_learns_a_separable_toy_task():
    model, res = fit_mlp(0, epochs=20)
    assert evaluate(model, toy_data(200, seed=5))["accuracy"] > 0.9
    assert res.best["accuracy"] > 0.9


class Recorder(Hook):
    def __init__(self, name, log):
        self.name, self.log = name, log

    def setup(self, model, optimizer):
        self.log.append((self.name, "setup"))

    def loss(self, model, batch, logits):
        self.log.append((self.name, "loss"))
        return 0.0 * logits.sum()

    def after_backward(self, model, step):
        assert any(p.grad is not None for p in model.parameters())
        self.log.append((self.name, "after_backward", step))

    def after_step(self, model, step):
        self.log.append((self.name, "after_step", step))

    def on_epoch_end(self, model, epoch, record):
        assert "dev_accuracy" in record
        self.log.append((self.name, "epoch_end", epoch))


def test_hooks_are_called_in_order():
    log = []
    seed_everything(0)
    finetune(MLP(4, 2, hidden=(8,)), toy_data(16), toy_data(8), hooks=[Recorder("a", log), Recorder("b", log)],
             epochs=1, batch_size=8, progress=False)
    expected = [("a", "setup"), ("b", "setup")]
    for step in range(2):
        expected += [("a", "loss"), ("b", "loss"), ("a", "after_backward", step), ("b", "after_backward", step),
                     ("a", "after_step", step), ("b", "after_step", step)]
    expected += [("a", "epoch_end", 0), ("b", "epoch_end", 0)]
    assert log == expected


def test_hook_loss_term_reaches_the_gradients():
    class PullToZero(Hook):
        def loss(self, model, batch, logits):
            return 100.0 * sum((p ** 2).sum() for p in model.parameters())

    seed_everything(0)
    plain, reg = MLP(4, 2, hidden=(8,)), MLP(4, 2, hidden=(8,))
    reg.load_state_dict(plain.state_dict())
    kw = dict(epochs=2, batch_size=8, lr=1e-2, weight_decay=0.0, progress=False)
    finetune(plain, toy_data(), **kw)
    finetune(reg, toy_data(), hooks=[PullToZero()], **kw)
    norm = lambda m: math.sqrt(sum(float((p.detach() ** 2).sum()) for p in m.parameters()))  # noqa: E731
    assert norm(reg) < 0.8 * norm(plain)


def test_early_stopping_restores_best_weights():
    snapshots = {}

    class Snap(Hook):
        def on_epoch_end(self, model, epoch, record):
            snapshots[epoch] = {k: v.clone() for k, v in model.state_dict().items()}

    seed_everything(0)
    model = MLP(4, 2, hidden=(8,))
    res = finetune(model, toy_data(), toy_data(32, seed=1), hooks=[Snap()], epochs=30, patience=2, lr=0.05, max_evals=30,
                   batch_size=8, progress=False)
    assert res.best_epoch is not None
    assert res.epochs_run == len(res.history) <= 30
    if res.stopped_early:
        assert res.epochs_run == res.best_epoch + 3
    best = snapshots[res.best_epoch]
    assert all(torch.equal(best[k], v) for k, v in model.state_dict().items())
    assert res.best["accuracy"] == max(h["dev_accuracy"] for h in res.history)


def test_min_steps_and_max_steps():
    res = finetune(MLP(4, 2, hidden=(8,)), toy_data(16), epochs=1, batch_size=8, min_steps=10, progress=False)
    assert res.steps == 10
    res = finetune(MLP(4, 2, hidden=(8,)), toy_data(64), epochs=5, batch_size=8, max_steps=7, progress=False)
    assert res.steps == 7


def test_nan_loss_is_a_clear_error():
    class Boom(Hook):
        def loss(self, model, batch, logits):
            return torch.tensor(float("nan"))

    with pytest.raises(FloatingPointError, match="lower the learning rate"):
        finetune(MLP(4, 2), toy_data(16), hooks=[Boom()], epochs=1, progress=False)


@pytest.mark.parametrize("bad", [dict(lr=-1.0), dict(epochs=0), dict(warmup=1.0), dict(precision="fp8"),
                                 dict(patience=0), dict(batch_size=0)])
def test_bad_config_is_rejected(bad):
    with pytest.raises(ValueError):
        TrainConfig(**bad)


def test_empty_training_set_is_rejected():
    with pytest.raises(ValueError, match="empty"):
        finetune(MLP(4, 2), DictDataset(x=torch.zeros(0, 4), labels=torch.zeros(0, dtype=torch.long)))


def test_tiny_bert_trains_on_text_and_bf16_autocast_runs():
    tok = tiny_tokenizer()
    texts = ["a great fun film", "good movie", "awful boring plot", "bad dull story"] * 4
    data = tokenize(tok, texts, [1, 1, 0, 0] * 4, max_length=16)
    seed_everything(0)
    model = tiny_bert()
    res = finetune(model, data, data, epochs=15, batch_size=8, lr=1e-3, progress=False)
    assert res.best["accuracy"] == 1.0
    res = finetune(tiny_bert(), data, data, epochs=1, batch_size=8, precision="bf16", progress=False)
    assert math.isfinite(res.history[0]["train_loss"])
