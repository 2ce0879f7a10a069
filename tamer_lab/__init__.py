"""tamer_lab: fine-tuning pre-trained models with few labels, in theory and in practice.

The library behind the notebooks: offline assets, honest few-label splits of a real task, a training
loop that methods plug into, experiment grids with caching and intervals, and theory checks that raise.
"""
import warnings

# transformers imports tqdm.auto, which warns in notebooks without ipywidgets; our bars are plain tqdm
warnings.filterwarnings("ignore", message="IProgress not found")

from ._runtime import default_device, quick_mode, seed_everything  # noqa: E402
from .train import FitResult, Hook, TrainConfig, evaluate, finetune, predict  # noqa: E402

__version__ = "0.1.0"
__all__ = ["seed_everything", "quick_mode", "default_device", "finetune", "evaluate", "predict", "TrainConfig",
           "FitResult", "Hook", "__version__"]
