"""Backbones, pooling, heads and the probe."""
import numpy as np
import pytest
import torch

from tamer_lab.data import collate, tokenize
from tamer_lab.models import MLP, TextClassifier, tiny_bert, tiny_tokenizer
from tamer_lab.probe import fit_probe, init_head


def batch():
    tok = tiny_tokenizer()
    data = tokenize(tok, ["a great film", "awful boring movie and plot"], [1, 0])
    return collate([data[0], data[1]])


def test_mean_pooling_ignores_padding():
    model = tiny_bert().eval()
    b = batch()
    feats = model.features(b["input_ids"], b["attention_mask"])
    n = int(b["attention_mask"][0].sum())
    alone = model.features(b["input_ids"][:1, :n], b["attention_mask"][:1, :n])
    assert torch.allclose(feats[0], alone[0], atol=1e-5)


def test_cls_pooling_and_inputs_embeds_agree_with_ids():
    model = tiny_bert(pooling="cls").eval()
    b = batch()
    by_ids = model(b["input_ids"], b["attention_mask"])
    by_embeds = model(inputs_embeds=model.embed(b["input_ids"]), attention_mask=b["attention_mask"])
    assert torch.allclose(by_ids, by_embeds, atol=1e-5)


def test_bad_pooling_and_labels_are_rejected():
    with pytest.raises(ValueError, match="pooling"):
        tiny_bert(pooling="max")
    with pytest.raises(ValueError, match="num_labels"):
        TextClassifier(tiny_bert().encoder, 1)


def test_probe_recovers_a_linear_rule_and_initialises_the_head():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(600, 32)) + 3.0
    y = (x[:, 0] > 3.0).astype(int)
    probe = fit_probe(x[:400], y[:400], x[400:450], y[400:450])
    assert probe.accuracy(x[450:], y[450:]) > 0.9
    model = tiny_bert()
    head = torch.nn.Linear(32, 2)
    model.head = head
    init_head(model, probe)
    logits = head(torch.as_tensor(x[450:], dtype=torch.float32)).detach().numpy()
    assert np.allclose(logits, probe.logits(x[450:]), atol=1e-3)


def test_mlp_shapes():
    assert MLP(3, 5, hidden=(7, 7))(torch.zeros(4, 3)).shape == (4, 5)


def test_a_local_folder_works_as_encoder(tmp_path):
    from tamer_lab.models import load_tokenizer, text_classifier

    tiny = tiny_bert()
    tiny.encoder.save_pretrained(tmp_path)
    tiny_tokenizer().save_pretrained(tmp_path)
    model = text_classifier(str(tmp_path), pooling="mean")
    assert all(torch.equal(a, b) for a, b in zip(model.encoder.state_dict().values(), tiny.encoder.state_dict().values()))
    assert load_tokenizer(str(tmp_path))("good film")["input_ids"][0] == 2  # [CLS]
    fresh = text_classifier(str(tmp_path), pretrained=False)
    assert not torch.equal(fresh.encoder.embeddings.word_embeddings.weight, tiny.encoder.embeddings.word_embeddings.weight)


def test_missing_hub_model_is_a_clear_error(monkeypatch):
    from tamer_lab.models import load_encoder

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(OSError, match="neither the offline default"):
        load_encoder("no-such-org/no-such-model-xyz")
