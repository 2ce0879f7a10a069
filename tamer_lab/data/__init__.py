"""Data: the real transfer task (text.py), synthetic tasks (toy.py), batching helpers."""
from .batching import DictDataset, collate, tokenize
from .text import FewShotSplit, TextDataset, few_shot, group_split, load_rotten_tomatoes, real_task

__all__ = ["DictDataset", "collate", "tokenize", "TextDataset", "FewShotSplit", "few_shot", "group_split",
           "load_rotten_tomatoes", "real_task"]
