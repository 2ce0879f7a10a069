"""The fine-tuning loop: AdamW with warmup and decay, dev evaluation each epoch, early stopping with
the best weights restored, one-call seeding, mixed precision, progress bars, and hooks for methods.

A method plugs in as a ``Hook`` (override only what you need); hooks run in the order given:

    setup(model, optimizer)           once, before the first step (a hook whose setup also takes a
                                      ``total_steps`` keyword receives the number of optimizer steps)
    loss(model, batch, logits)        extra loss term added to the task loss (None for nothing)
    after_backward(model, step)       gradients are in p.grad (pruning scores, gradient surgery)
    after_step(model, step)           after optimizer.step() and before zero_grad (EMA teachers, masks)
    on_epoch_end(model, epoch, record)  after dev evaluation; ``record`` is the history entry

A step is: forward -> task loss + hook losses -> backward -> after_backward -> clip -> optimizer
step -> scheduler step -> after_step -> zero_grad. Hooks never depend on this loop: the same calls
fit in a user's own loop (see the README).

A hook with ``replaces_task_loss = True`` (FreeLB) makes its own backward passes for the task loss in
its ``loss`` call and returns that loss's value, detached: the loop then leaves the clean task loss out
of the step (the other hooks' terms are still added and backpropagated) and records the returned value.

Each epoch's history entry holds the mean of every hook's loss term as ``<HookClass>_loss`` (e.g.
``SMART_loss``), for the hooks whose ``loss`` returned a value, so the size of a regularizer is visible.

Multi-GPU: the loop is plain PyTorch on one device. For several GPUs, wrap the model in
``torch.nn.parallel.DistributedDataParallel`` inside a script launched with ``torchrun`` and give each
rank its shard of ``train``; nothing in the hooks assumes a single process.
"""
from __future__ import annotations

import inspect
import math
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from ._runtime import default_device, progress_enabled, seed_everything
from .data.batching import collate

__all__ = ["TrainConfig", "FitResult", "Hook", "finetune", "evaluate", "predict", "autocast", "resolve_precision"]

PRECISIONS = ("fp32", "bf16", "auto")


@dataclass
class TrainConfig:
    """Settings of ``finetune``. Steps: ``max(epochs * steps_per_epoch, min_steps)``, capped by ``max_steps``."""

    lr: float = 5e-5
    head_lr: float | None = None  # learning rate of parameters under ``head.``; default: ``lr``
    weight_decay: float = 0.01
    epochs: int = 10
    min_steps: int = 0  # tiny training sets: run enough epochs to make at least this many steps
    max_steps: int | None = None
    batch_size: int = 16
    warmup: float = 0.1  # fraction of the steps with a linear learning-rate warmup
    schedule: str = "linear"  # "linear" decay to 0 after warmup, or "constant"
    max_grad_norm: float | None = 1.0
    patience: int | None = None  # stop after this many evaluations without dev improvement
    max_evals: int = 25  # evaluate on dev every ceil(epochs / max_evals) epochs (and after the last)
    restore_best: bool = True  # load the weights of the best dev evaluation at the end
    precision: str = "fp32"  # "fp32", "bf16" (autocast) or "auto" (bf16 where the hardware has it)
    eval_batch_size: int = 128
    seed: int = 0
    device: str | None = None
    progress: bool | None = None  # None: on interactively, off in quick mode and under CI

    def __post_init__(self):
        checks = [
            (self.lr > 0, f"lr must be positive, got {self.lr}"),
            (self.head_lr is None or self.head_lr > 0, f"head_lr must be positive, got {self.head_lr}"),
            (self.weight_decay >= 0, f"weight_decay must be >= 0, got {self.weight_decay}"),
            (self.epochs >= 1, f"epochs must be >= 1, got {self.epochs}"),
            (self.min_steps >= 0, f"min_steps must be >= 0, got {self.min_steps}"),
            (self.max_steps is None or self.max_steps >= 1, f"max_steps must be >= 1, got {self.max_steps}"),
            (self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size}"),
            (0 <= self.warmup < 1, f"warmup is a fraction of the steps in [0, 1), got {self.warmup}"),
            (self.schedule in ("linear", "constant"), f"schedule must be 'linear' or 'constant', got {self.schedule!r}"),
            (self.patience is None or self.patience >= 1, f"patience must be >= 1 or None, got {self.patience}"),
            (self.max_evals >= 1, f"max_evals must be >= 1, got {self.max_evals}"),
            (self.precision in PRECISIONS, f"precision must be one of {PRECISIONS}, got {self.precision!r}"),
        ]
        for ok, msg in checks:
            if not ok:
                raise ValueError(msg)


class Hook:
    """Base class of training-loop hooks; every method is a no-op until overridden."""

    replaces_task_loss: bool = False  # True: ``loss`` backpropagates the task loss itself (see the module doc)

    def setup(self, model: nn.Module, optimizer: torch.optim.Optimizer) -> None:
        pass

    def loss(self, model: nn.Module, batch: dict, logits: torch.Tensor) -> torch.Tensor | None:
        return None

    def after_backward(self, model: nn.Module, step: int) -> None:
        pass

    def after_step(self, model: nn.Module, step: int) -> None:
        pass

    def on_epoch_end(self, model: nn.Module, epoch: int, record: dict) -> None:
        pass


@dataclass
class FitResult:
    """What ``finetune`` returns: the per-epoch history, the best dev evaluation, steps and wall time."""

    history: list[dict] = field(default_factory=list)
    best: dict = field(default_factory=dict)
    best_epoch: int | None = None
    steps: int = 0
    epochs_run: int = 0
    stopped_early: bool = False
    wall_time: float = 0.0
    config: dict = field(default_factory=dict)


def resolve_precision(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for a precision setting, or None for plain fp32."""
    if precision == "fp32":
        return None
    if precision == "bf16":
        return torch.bfloat16
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else None
    try:
        native = torch.ops.mkldnn._is_mkldnn_bf16_supported()
    except (AttributeError, RuntimeError):
        native = False
    return torch.bfloat16 if native else None


def autocast(device: torch.device, dtype: torch.dtype | None):
    """An autocast context for ``dtype`` on ``device`` (a no-op context when ``dtype`` is None)."""
    return torch.autocast(device.type, dtype=dtype or torch.bfloat16, enabled=dtype is not None)


def _inputs(batch: dict) -> dict:
    return {k: v for k, v in batch.items() if k != "labels"}


def _to(batch: dict, device: torch.device) -> dict:
    return {k: v.to(device, non_blocking=True) for k, v in batch.items()}


def _param_groups(model: nn.Module, cfg: TrainConfig) -> list[dict]:
    groups: dict[tuple, list] = {}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        lr = cfg.head_lr if (cfg.head_lr is not None and name.startswith("head.")) else cfg.lr
        no_decay = p.ndim < 2 or "LayerNorm" in name or "layer_norm" in name or name.endswith(".bias")
        groups.setdefault((lr, 0.0 if no_decay else cfg.weight_decay), []).append(p)
    if not groups:
        raise ValueError("the model has no trainable parameters (all requires_grad=False)")
    return [dict(params=ps, lr=lr, weight_decay=wd) for (lr, wd), ps in groups.items()]


def _setup(hook: Hook, model: nn.Module, optimizer: torch.optim.Optimizer, total: int) -> None:
    """``hook.setup(model, optimizer)``, plus ``total_steps=total`` where its setup accepts that keyword."""
    try:
        takes_total = "total_steps" in inspect.signature(hook.setup).parameters
    except (TypeError, ValueError):
        takes_total = False
    if takes_total:
        hook.setup(model, optimizer, total_steps=total)
    else:
        hook.setup(model, optimizer)


def _schedule(cfg: TrainConfig, total: int) -> Callable[[int], float]:
    warm = int(cfg.warmup * total)

    def factor(step: int) -> float:
        if step < warm:
            return (step + 1) / (warm + 1)
        if cfg.schedule == "constant":
            return 1.0
        return max(0.0, (total - step) / max(1, total - warm))

    return factor


@torch.no_grad()
def predict(model: nn.Module, data, *, batch_size: int = 128, device=None, precision: str = "fp32",
            collate_fn=collate) -> torch.Tensor:
    """Logits for every item of ``data`` in its original order (float32, on the CPU).

    Text items are batched by length, so padding costs little.
    """
    device = torch.device(device) if device is not None else next(model.parameters()).device
    dtype = resolve_precision(precision, device)
    n = len(data)
    if n == 0:
        raise ValueError("cannot predict on an empty dataset")
    lengths = data.lengths() if hasattr(data, "lengths") else None
    order = sorted(range(n), key=lambda i: lengths[i]) if lengths else list(range(n))
    was_training = model.training
    model.eval()
    out = [None] * n
    try:
        for start in range(0, n, batch_size):
            idx = order[start:start + batch_size]
            batch = _to(collate_fn([data[i] for i in idx]), device)
            with autocast(device, dtype):
                logits = model(**_inputs(batch)).float().cpu()
            for j, i in enumerate(idx):
                out[i] = logits[j]
    finally:
        model.train(was_training)
    return torch.stack(out)


def evaluate(model: nn.Module, data, **kw) -> dict:
    """Accuracy and mean cross-entropy of ``model`` on a labelled dataset."""
    logits = predict(model, data, **kw)
    labels = torch.stack([data[i]["labels"] for i in range(len(data))]) if not hasattr(data, "columns") \
        else torch.as_tensor(data.columns["labels"])
    return {"accuracy": (logits.argmax(-1) == labels).float().mean().item(),
            "loss": F.cross_entropy(logits, labels).item(), "n": len(data)}


def _better(a: dict, b: dict | None) -> bool:
    """Higher dev accuracy wins; ties go to the lower dev loss (tiny dev sets tie often)."""
    return b is None or (a["accuracy"], -a["loss"]) > (b["accuracy"], -b["loss"])


def _hook_names(hooks: Sequence[Hook]) -> list[str]:
    """History keys of the hooks' loss terms: ``SMART_loss``, or ``SMART_0_loss``, ``SMART_1_loss`` for twins."""
    names = [type(h).__name__ for h in hooks]
    return [f"{n}_loss" if names.count(n) == 1 else f"{n}_{names[:i].count(n)}_loss" for i, n in enumerate(names)]


def finetune(model: nn.Module, train, dev=None, *, config: TrainConfig | None = None, hooks: Sequence[Hook] = (),
             loss_fn: Callable | None = None, optimizer: torch.optim.Optimizer | None = None,
             collate_fn=collate, **overrides) -> FitResult:
    """Train ``model`` on ``train`` (a dataset of dicts with ``labels``), evaluating on ``dev`` each epoch.

    Keyword ``overrides`` replace fields of ``config`` (``finetune(m, tr, dev, lr=1e-4, epochs=5)``).
    With a dev set the weights of the best evaluation are restored at the end (``restore_best``),
    and ``patience`` stops training early. The model is trained in place; the result holds the history.
    Seeding: the batch order and dropout follow ``config.seed``; seed before building the model to fix
    its initialisation too (``tamer_lab.seed_everything``).
    """
    cfg = replace(config or TrainConfig(), **overrides)
    if len(train) == 0:
        raise ValueError("the training set is empty")
    device = torch.device(cfg.device) if cfg.device else default_device()
    dtype = resolve_precision(cfg.precision, device)
    loss_fn = loss_fn or F.cross_entropy
    model.to(device)
    seed_everything(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    loader = torch.utils.data.DataLoader(train, batch_size=cfg.batch_size, shuffle=True, generator=gen,
                                         collate_fn=collate_fn, drop_last=False)
    per_epoch = len(loader)
    total = max(cfg.epochs * per_epoch, cfg.min_steps)
    if cfg.max_steps is not None:
        total = min(total, cfg.max_steps)
    n_epochs = math.ceil(total / per_epoch)
    eval_every = math.ceil(n_epochs / cfg.max_evals)
    if optimizer is None:
        optimizer = torch.optim.AdamW(_param_groups(model, cfg), lr=cfg.lr)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _schedule(cfg, total))
    replaced = [h for h in hooks if getattr(h, "replaces_task_loss", False)]
    if len(replaced) > 1:
        raise ValueError(f"at most one hook may replace the task loss, got {len(replaced)}: {replaced}")
    for h in hooks:
        _setup(h, model, optimizer, total)
    hook_names = _hook_names(hooks)
    show = progress_enabled() if cfg.progress is None else cfg.progress
    bar = tqdm(total=total, desc="fine-tuning", disable=not show, leave=False)
    result = FitResult(config=asdict(cfg))
    best_state, best, since_best, step = None, None, 0, 0
    start = time.perf_counter()
    model.train()
    try:
        for epoch in range(n_epochs):
            running, seen = torch.zeros((), device=device), 0
            extra_sums, contributed = torch.zeros(len(hooks), device=device), set()
            for batch in loader:
                if step >= total:
                    break
                batch = _to(batch, device)
                with autocast(device, dtype):
                    logits = model(**_inputs(batch))
                    loss = None if replaced else loss_fn(logits.float(), batch["labels"])
                    for i, h in enumerate(hooks):
                        extra = h.loss(model, batch, logits)
                        if extra is not None:
                            extra_sums[i] += extra.detach().float() * len(batch["labels"])
                            contributed.add(i)
                            loss = extra if loss is None else loss + extra
                if loss is None:
                    raise ValueError(f"{replaced[0]!r} replaces the task loss but its loss() returned None; it must "
                                     f"return the value of the loss it backpropagated")
                if not torch.isfinite(loss):
                    raise FloatingPointError(
                        f"the training loss became {loss.item()} at step {step} (epoch {epoch}); lower the learning "
                        f"rate (lr={cfg.lr}) or check the inputs and the hooks' loss terms")
                if not replaced or loss.requires_grad:
                    loss.backward()
                for h in hooks:
                    h.after_backward(model, step)
                if cfg.max_grad_norm is not None:
                    nn.utils.clip_grad_norm_(model.parameters(), cfg.max_grad_norm)
                optimizer.step()
                scheduler.step()
                for h in hooks:
                    h.after_step(model, step)
                optimizer.zero_grad(set_to_none=True)
                running += loss.detach() * len(batch["labels"])
                seen += len(batch["labels"])
                step += 1
                bar.update(1)
            record = {"epoch": epoch, "step": step, "train_loss": (running / max(seen, 1)).item(),
                      "seconds": time.perf_counter() - start}
            means = (extra_sums / max(seen, 1)).tolist()
            record.update((hook_names[i], means[i]) for i in sorted(contributed))
            if dev is not None and len(dev) and ((epoch + 1) % eval_every == 0 or epoch == n_epochs - 1):
                metrics = evaluate(model, dev, batch_size=cfg.eval_batch_size, device=device,
                                   precision=cfg.precision, collate_fn=collate_fn)
                record.update(dev_accuracy=metrics["accuracy"], dev_loss=metrics["loss"])
                if _better(metrics, best):
                    best, since_best, result.best_epoch = metrics, 0, epoch
                    if cfg.restore_best:
                        best_state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
                else:
                    since_best += 1
            result.history.append(record)
            for h in hooks:
                h.on_epoch_end(model, epoch, record)
            bar.set_postfix({k: round(v, 3) for k, v in record.items() if k.startswith(("dev_acc", "train_loss"))})
            if cfg.patience is not None and since_best >= cfg.patience:
                result.stopped_early = True
                break
    finally:
        bar.close()
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    result.best = dict(best or {})
    result.steps, result.epochs_run = step, len(result.history)
    result.wall_time = time.perf_counter() - start
    return result
