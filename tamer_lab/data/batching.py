"""Datasets of tensors and padding collation shared by text and toy tasks."""
from __future__ import annotations

from typing import Sequence

import torch

__all__ = ["DictDataset", "collate", "tokenize"]


class DictDataset(torch.utils.data.Dataset):
    """Named, equally long columns; item ``i`` is a dict of column values.

    A column is a tensor (indexed row-wise) or a list of token-id lists (padded by ``collate``).
    ``labels`` is the target column by convention; all other columns are model inputs.
    """

    def __init__(self, **columns):
        if not columns:
            raise ValueError("DictDataset needs at least one column")
        lengths = {k: len(v) for k, v in columns.items()}
        if len(set(lengths.values())) != 1:
            raise ValueError(f"columns must have the same length, got {lengths}")
        self.columns = columns

    def __len__(self) -> int:
        return len(next(iter(self.columns.values())))

    def __getitem__(self, i):
        return {k: v[i] for k, v in self.columns.items()}

    def head(self, n: int) -> "DictDataset":
        """The first ``n`` items (all of them when there are fewer)."""
        return self if len(self) <= n else DictDataset(**{k: v[:n] for k, v in self.columns.items()})

    def lengths(self) -> list[int] | None:
        """Token counts per item when the dataset holds ``input_ids`` lists (for length-sorted evaluation)."""
        ids = self.columns.get("input_ids")
        return None if ids is None or torch.is_tensor(ids) else [len(x) for x in ids]


def collate(items: Sequence[dict], pad_id: int = 0) -> dict:
    """Stack a list of items into a batch; token-id lists are padded to the longest with an attention mask.

    Any key starting with ``input_ids`` holding lists is padded; ``input_ids_a`` gets ``attention_mask_a``.
    """
    out = {}
    for key in items[0]:
        vals = [it[key] for it in items]
        if key.startswith("input_ids") and not torch.is_tensor(vals[0]):
            width = max(len(v) for v in vals)
            ids = torch.full((len(vals), width), pad_id, dtype=torch.long)
            mask = torch.zeros((len(vals), width), dtype=torch.long)
            for i, v in enumerate(vals):
                ids[i, :len(v)] = torch.as_tensor(v, dtype=torch.long)
                mask[i, :len(v)] = 1
            out[key], out[key.replace("input_ids", "attention_mask", 1)] = ids, mask
        elif torch.is_tensor(vals[0]):
            out[key] = torch.stack(vals)
        else:
            out[key] = torch.as_tensor(vals)
    return out


def tokenize(tokenizer, texts: Sequence[str], labels=None, *, max_length: int = 64) -> DictDataset:
    """Tokenize texts once (truncated to ``max_length`` tokens); batches are padded dynamically."""
    if max_length < 4:
        raise ValueError(f"max_length must be at least 4 tokens, got {max_length}")
    ids = tokenizer(list(texts), truncation=True, max_length=max_length)["input_ids"]
    cols = {"input_ids": ids}
    if labels is not None:
        cols["labels"] = torch.as_tensor(labels, dtype=torch.long)
    return DictDataset(**cols)
