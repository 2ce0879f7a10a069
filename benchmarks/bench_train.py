"""Step time of ``tamer_lab.finetune`` against a bare 15-line PyTorch loop, side by side in one process.

Same model (the default encoder with a mean-pooled head), same data, same batches in the same order,
same optimizer, schedule, clipping and precision. The two loops alternate in rounds so that machine
noise hits both alike; the ratio of the medians of per-round step times is printed last.

    python benchmarks/bench_train.py [--steps 20] [--rounds 5] [--batch-size 16]
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from tamer_lab import TrainConfig, finetune, seed_everything
from tamer_lab.data import collate, few_shot, tokenize
from tamer_lab.models import load_tokenizer, text_classifier
from tamer_lab.train import _param_groups, _schedule, autocast, resolve_precision
from tamer_lab.tour import tour_data


def bare_loop(model, data, cfg: TrainConfig, steps: int) -> float:
    """The reference: a plain loop doing exactly what one finetune step does. Returns seconds per step."""
    device = torch.device("cpu")
    dtype = resolve_precision(cfg.precision, device)
    gen = torch.Generator().manual_seed(cfg.seed)
    loader = torch.utils.data.DataLoader(data, batch_size=cfg.batch_size, shuffle=True, generator=gen, collate_fn=collate)
    opt = torch.optim.AdamW(_param_groups(model, cfg), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, _schedule(cfg, steps))
    model.train()
    start = time.perf_counter()
    for step, batch in zip(range(steps), loader):
        with autocast(device, dtype):
            logits = model(batch["input_ids"], batch["attention_mask"])
            loss = F.cross_entropy(logits.float(), batch["labels"])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.max_grad_norm)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
    return (time.perf_counter() - start) / steps


def ours(model, data, cfg: TrainConfig, steps: int) -> float:
    res = finetune(model, data, None, config=cfg, max_steps=steps, min_steps=steps, progress=False)
    return res.wall_time / res.steps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--precision", default="auto")
    args = ap.parse_args()
    torch.set_num_threads(torch.get_num_threads())
    train, _ = tour_data()
    split = few_shot(train, 256, seed=0)
    tok = load_tokenizer()
    data = tokenize(tok, split.train.texts, split.train.labels, max_length=64)
    cfg = TrainConfig(lr=5e-5, batch_size=args.batch_size, precision=args.precision, seed=0, epochs=1)
    seed_everything(0)
    model = text_classifier()
    init = {k: v.clone() for k, v in model.state_dict().items()}
    times = {"bare loop": [], "finetune": []}
    for r in range(args.rounds + 1):  # round 0 warms up both and is discarded
        for name, fn in ([("bare loop", bare_loop), ("finetune", ours)] if r % 2 == 0 else
                         [("finetune", ours), ("bare loop", bare_loop)]):
            model.load_state_dict(init)
            seed_everything(0)
            t = fn(model, data, cfg, args.steps)
            if r:
                times[name].append(t)
    print(f"default encoder, {len(data)} texts, batch {args.batch_size}, {args.steps} steps x {args.rounds} rounds, "
          f"precision {resolve_precision(args.precision, torch.device('cpu'))}, {torch.get_num_threads()} threads")
    print(f"{'loop':12s} {'median s/step':>14s} {'min':>8s} {'max':>8s}")
    for name, ts in times.items():
        print(f"{name:12s} {statistics.median(ts):14.4f} {min(ts):8.4f} {max(ts):8.4f}")
    ratio = statistics.median(times["finetune"]) / statistics.median(times["bare loop"])
    print(f"step-time ratio (finetune / bare loop) = {ratio:.2f}")


if __name__ == "__main__":
    main()
