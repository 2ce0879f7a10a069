"""Backbones and heads: any Hugging Face encoder plus a classification head, tiny test models, toy MLPs.

The default encoder, all-MiniLM-L6-v2, was trained with mean pooling over tokens, so
``TextClassifier`` pools by the attention-masked mean by default; ``pooling="cls"`` uses the
[CLS] vector instead (``benchmarks/bench_pooling.py`` measures both).
"""
from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from . import assets

__all__ = ["DEFAULT_ENCODER", "resolve_encoder", "load_encoder", "load_tokenizer", "TextClassifier",
           "text_classifier", "tiny_bert", "tiny_tokenizer", "MLP"]

DEFAULT_ENCODER = "minilm"
POOLINGS = ("mean", "cls")


def resolve_encoder(name_or_path: str = DEFAULT_ENCODER) -> str:
    """``"minilm"`` (the offline default asset), a local folder, or a Hugging Face model id."""
    if name_or_path in assets.ASSETS and assets.ASSETS[name_or_path].name == "minilm":
        return str(assets.path(name_or_path))
    if Path(name_or_path).expanduser().is_dir():
        return str(Path(name_or_path).expanduser())
    return name_or_path


def _hub_error(name: str, exc: Exception) -> OSError:
    return OSError(
        f"could not load {name!r}: it is neither the offline default ('minilm') nor a local folder, and the "
        f"Hugging Face hub did not provide it ({type(exc).__name__}: {str(exc)[:300]}). Use a local folder with "
        f"config.json and weights, or set HF_HUB_OFFLINE=0 with network access.")


def load_tokenizer(name_or_path: str = DEFAULT_ENCODER):
    from transformers import AutoTokenizer

    path = resolve_encoder(name_or_path)
    try:
        return AutoTokenizer.from_pretrained(path)
    except OSError as exc:
        raise _hub_error(name_or_path, exc) from None


def load_encoder(name_or_path: str = DEFAULT_ENCODER, *, pretrained: bool = True) -> nn.Module:
    """The encoder with its pre-trained weights, or the same architecture freshly initialised."""
    from transformers import AutoConfig, AutoModel
    from transformers.utils import logging as hf_logging

    path = resolve_encoder(name_or_path)
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        if pretrained:
            return AutoModel.from_pretrained(path, add_pooling_layer=False) if _is_bert(path) else AutoModel.from_pretrained(path)
        return AutoModel.from_config(AutoConfig.from_pretrained(path))
    except OSError as exc:
        raise _hub_error(name_or_path, exc) from None
    finally:
        hf_logging.set_verbosity(verbosity)
        hf_logging.enable_progress_bar()


def _is_bert(path: str) -> bool:
    try:
        from transformers import AutoConfig

        return AutoConfig.from_pretrained(path).model_type == "bert"
    except OSError:
        return False


class TextClassifier(nn.Module):
    """Encoder + pooling + dropout + linear head; returns logits.

    ``forward`` accepts ``input_ids`` or ``inputs_embeds`` (the word embeddings, for methods that
    perturb them: ``model.embed(input_ids)`` gives the clean ones).
    """

    def __init__(self, encoder: nn.Module, num_labels: int = 2, *, pooling: str = "mean", dropout: float = 0.1):
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
        if num_labels < 2:
            raise ValueError(f"num_labels must be at least 2, got {num_labels}")
        self.encoder = encoder
        self.pooling = pooling
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(encoder.config.hidden_size, num_labels)

    @property
    def num_labels(self) -> int:
        return self.head.out_features

    def embed(self, input_ids: torch.Tensor) -> torch.Tensor:
        """The word embeddings of ``input_ids`` (before position embeddings and layer norm)."""
        return self.encoder.get_input_embeddings()(input_ids)

    def features(self, input_ids=None, attention_mask=None, inputs_embeds=None) -> torch.Tensor:
        """The pooled sentence representation fed to the head."""
        if attention_mask is None:
            ref = input_ids if input_ids is not None else inputs_embeds[..., 0]
            attention_mask = torch.ones(ref.shape[:2], dtype=torch.long, device=ref.device)
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask,
                              inputs_embeds=inputs_embeds).last_hidden_state
        if self.pooling == "cls":
            return hidden[:, 0]
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * mask).sum(1) / mask.sum(1).clamp_min(1.0)

    def forward(self, input_ids=None, attention_mask=None, inputs_embeds=None) -> torch.Tensor:
        return self.head(self.dropout(self.features(input_ids, attention_mask, inputs_embeds)))


def text_classifier(name_or_path: str = DEFAULT_ENCODER, num_labels: int = 2, *, pooling: str = "mean",
                    pretrained: bool = True, dropout: float = 0.1) -> TextClassifier:
    """A ``TextClassifier`` on the named encoder (pre-trained, or the same architecture from scratch)."""
    return TextClassifier(load_encoder(name_or_path, pretrained=pretrained), num_labels, pooling=pooling,
                          dropout=dropout)


_TINY_WORDS = ("good great fine fun bad awful dull boring movie film plot actor story not very the a is was and "
               "but it this that of").split()


def tiny_tokenizer(words=_TINY_WORDS):
    """A BERT word-piece tokenizer over a tiny vocabulary (for fast tests; no download)."""
    import inspect
    import tempfile

    from transformers import BertTokenizerFast

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words]
    if "vocab" in inspect.signature(BertTokenizerFast.__init__).parameters:  # transformers >= 5
        return BertTokenizerFast(vocab={w: i for i, w in enumerate(vocab)}, do_lower_case=True)
    with tempfile.TemporaryDirectory() as tmp:  # transformers 4.x reads a vocab file
        file = os.path.join(tmp, "vocab.txt")
        with open(file, "w") as f:
            f.write("\n".join(vocab) + "\n")
        return BertTokenizerFast(vocab_file=file, do_lower_case=True)


def tiny_bert(num_labels: int = 2, *, vocab_size: int = 64, hidden: int = 32, layers: int = 2, heads: int = 2,
              pooling: str = "mean", seed: int | None = 0) -> TextClassifier:
    """A randomly initialised 2-layer BERT classifier with hidden size 32 (for tests)."""
    from transformers import BertConfig, BertModel

    if seed is not None:
        torch.manual_seed(seed)
    cfg = BertConfig(vocab_size=vocab_size, hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
                     intermediate_size=2 * hidden, max_position_embeddings=128)
    return TextClassifier(BertModel(cfg, add_pooling_layer=False), num_labels, pooling=pooling)


class MLP(nn.Module):
    """A fully connected ReLU network ``in_dim -> hidden... -> out_dim`` for toy tasks (input key ``x``)."""

    def __init__(self, in_dim: int, out_dim: int, hidden=(64, 64), activation=nn.ReLU):
        super().__init__()
        dims = [in_dim, *hidden]
        layers = []
        for a, b in zip(dims[:-1], dims[1:]):
            layers += [nn.Linear(a, b), activation()]
        layers.append(nn.Linear(dims[-1], out_dim))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
