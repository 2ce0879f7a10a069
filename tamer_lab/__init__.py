"""tamer_lab: fine-tuning pre-trained models with few labels, in theory and in practice.

The library behind the notebooks: offline assets, honest few-label splits of a real task, a training
loop that methods plug into, experiment grids with caching and intervals, and theory checks that raise.
"""
from ._runtime import default_device, quick_mode, seed_everything
from .train import FitResult, Hook, TrainConfig, evaluate, finetune, predict

__version__ = "0.1.0"
__all__ = ["seed_everything", "quick_mode", "default_device", "finetune", "evaluate", "predict", "TrainConfig",
           "FitResult", "Hook", "__version__"]
