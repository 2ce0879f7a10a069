"""Step time and activation memory of the adversarial hooks against vanilla fine-tuning, side by side.

Same model (the default encoder, ``text_classifier("minilm")``, mean pooling), the same fixed batches
of real Rotten Tomatoes snippets (batch 32, every sequence truncated / padded to exactly 48 tokens, the
padding masked), the same optimizer (AdamW over ``finetune``'s parameter groups), clipping and precision
(``resolve_precision``: the default recipe's "auto", or ``--precision fp32``).

What a "step" is: the body of ``finetune``'s loop, replicated line for line in ``loop_step`` below
(autocast forward -> task loss unless a hook replaces it -> each hook's ``loss`` -> finiteness check ->
backward -> ``after_backward`` -> clip -> AdamW step -> scheduler step -> ``after_step`` -> zero_grad),
calling the hooks exactly as ``finetune`` does (``setup`` through ``tamer_lab.train._setup``, so
Bregman gets ``total_steps``). No DataLoader: the batches are pre-collated tensors.

Protocol: rounds; in each round every method (in a rotating order) runs one chunk: reset the weights to
the pre-trained ones, a fresh AdamW, fresh hooks, one untimed warmup step, then ``--steps`` timed steps
over the fixed batches. The chunk's mean step time is one sample; the table reports the median over
rounds. The "floor" primitives are timed in the same rounds on the same batches (see ``FLOOR``).

Memory: CPU has no allocator high-water mark that can be reset between methods, so the figure is the
peak of the bytes held by autograd for backward (``torch.autograd.graph.saved_tensors_hooks``): each
saved tensor's storage is counted once while any graph holds it (views and re-saves deduplicated),
released when its graph frees it (after backward / ``autograd.grad``), parameters' own storages
excluded (autocast's bf16 weight copies are counted: they are real extra memory). Persistent extra
state (Bregman's teacher, L2-SP's snapshot) is printed apart. On CUDA the table also gives
``torch.cuda.max_memory_allocated`` during one step, above the memory allocated before it.

    python benchmarks/bench_adversarial.py [--quick] [--precision auto|fp32|bf16] [--rounds 9] [--steps 4]
"""
from __future__ import annotations

import argparse
import itertools
import statistics
import time
from collections import defaultdict

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from tamer_lab import TrainConfig, seed_everything
from tamer_lab.adversarial import L2SP, R3F, SMART, VAT, BregmanProximal, FreeLB
from tamer_lab.data import real_task
from tamer_lab.models import load_tokenizer, text_classifier
from tamer_lab.train import _inputs, _param_groups, _setup, autocast, resolve_precision

BATCH, TOKENS, N_BATCHES = 32, 48, 4
FREELB_K = 2

# The methods, as finetune would get them: hooks=[...] (a factory, so each chunk starts fresh).
METHODS = {
    "vanilla": lambda: [],
    "SMART K=1 ball": lambda: [SMART(steps=1, projection="ball")],
    "SMART K=1 normalize": lambda: [SMART(steps=1, projection="normalize")],
    "SMART+Bregman": lambda: [SMART(steps=1), BregmanProximal()],
    "Bregman": lambda: [BregmanProximal()],
    "R3F": lambda: [R3F()],
    f"FreeLB K={FREELB_K}": lambda: [FreeLB(steps=FREELB_K)],
    "VAT K=1": lambda: [VAT(iterations=1)],
    "L2-SP": lambda: [L2SP()],
}

# Floor primitives, each timed alone on the same batches (see ``time_floor``):
#   F   one clean forward with grad enabled, train mode (the graph is built and saved, as in training)
#   F0  one forward under no_grad in eval mode (Bregman's teacher)
#   Bp  one full backward of the clean forward's task loss (parameter gradients, embedding matrix included)
#   Bx  one input-only backward: torch.autograd.grad w.r.t. δ through a forward at detached(e) + δ
#       (the engine skips the weight-gradient matmuls: only the input path is computed)
#   O   clip_grad_norm_ + AdamW step + scheduler step + zero_grad (everything after backward)
#   E   one EMA update of a teacher copy (Bregman's after_step: a lerp over all parameters)
# Each method's operation count: what its step must do at the least, given how the hook is specified.
FLOOR = {
    # forward, backward, optimizer
    "vanilla": dict(F=1, Bp=1, O=1),
    # clean forward; ascent forward at e.detach() + δ; ∇_δ (input-only); adversarial forward at e + δ
    # (attached); one backward of CE + symKL through BOTH graphs (clean and adversarial): 2 Bp; optimizer
    "SMART K=1 ball": dict(F=3, Bx=1, Bp=2, O=1),
    "SMART K=1 normalize": dict(F=3, Bx=1, Bp=2, O=1),  # same operations, only the δ update differs
    # SMART K=1 + the teacher's no-grad forward + its EMA update (its KL adds nothing to the backward:
    # the teacher side is constant and the student side is the clean graph, already backpropagated)
    "SMART+Bregman": dict(F=3, Bx=1, Bp=2, O=1, F0=1, E=1),
    "Bregman": dict(F=1, Bp=1, O=1, F0=1, E=1),
    # clean forward + noisy forward (both attached), one backward through both graphs, optimizer
    "R3F": dict(F=2, Bp=2, O=1),
    # finetune's clean forward (made for the other hooks and the history; FreeLB does not use it: in
    # your own loop, freelb.backward(...) saves this F) + K × (adversarial forward + full backward that
    # also yields ∇_δ) + optimizer
    f"FreeLB K={FREELB_K}": dict(F=1 + FREELB_K, Bp=FREELB_K, O=1),
    # clean forward; power-iteration forward at e.detach() + ξd; ∇_d (input-only); adversarial forward
    # at e + r_adv (attached); one backward through both graphs (the clean target is detached in the KL,
    # but the CE still goes through the clean graph); optimizer: the same count as SMART K=1
    "VAT K=1": dict(F=3, Bx=1, Bp=2, O=1),
    # vanilla: the penalty's elementwise passes over the parameters (and their backward) are overhead
    # (an optimizer-side decay towards θ^pre would cost nearly nothing)
    "L2-SP": dict(F=1, Bp=1, O=1),
}
PRIMITIVES = ("F", "F0", "Bp", "Bx", "O", "E")
TARGETS = {"SMART K=1 ball": 2.5, "R3F": 1.9}  # issue 3: ratio to vanilla, and within 5% of the floor
FLOOR_SLACK = 0.05


# ---------------------------------------------------------------- data
def fixed_batches(tok, n_batches: int, device) -> list[dict]:
    """``n_batches`` batches of real Rotten Tomatoes training snippets, each [BATCH, TOKENS], seeded."""
    train, _ = real_task()
    rng = np.random.default_rng(0)
    idx = rng.choice(len(train), size=n_batches * BATCH, replace=False)
    texts = [train.texts[i] for i in idx]
    enc = tok(texts, truncation=True, max_length=TOKENS, padding="max_length", return_tensors="pt")
    labels = torch.as_tensor(train.labels[idx], dtype=torch.long)
    out = []
    for b in range(n_batches):
        s = slice(b * BATCH, (b + 1) * BATCH)
        out.append({"input_ids": enc["input_ids"][s].to(device), "attention_mask": enc["attention_mask"][s].to(device),
                    "labels": labels[s].to(device)})
    return out


# ---------------------------------------------------------------- the step, as finetune does it
class Run:
    """One chunk's state: the model reset to its pre-trained weights, a fresh AdamW, fresh hooks set up."""

    def __init__(self, model, init, hooks, cfg, device, dtype, total):
        model.load_state_dict(init)
        model.train()
        self.model, self.hooks, self.cfg, self.device, self.dtype = model, hooks, cfg, device, dtype
        self.opt = torch.optim.AdamW(_param_groups(model, cfg), lr=cfg.lr)
        self.sched = torch.optim.lr_scheduler.LambdaLR(self.opt, lambda s: 1.0)
        self.replaced = [h for h in hooks if getattr(h, "replaces_task_loss", False)]
        for h in hooks:
            _setup(h, model, self.opt, total)
        self.step = 0

    def loop_step(self, batch: dict) -> None:
        """The body of ``finetune``'s inner loop (tamer_lab/train.py), line for line."""
        model, hooks, cfg, opt = self.model, self.hooks, self.cfg, self.opt
        with autocast(self.device, self.dtype):
            logits = model(**_inputs(batch))
            loss = None if self.replaced else F.cross_entropy(logits.float(), batch["labels"])
            for h in hooks:
                extra = h.loss(model, batch, logits)
                if extra is not None:
                    loss = extra if loss is None else loss + extra
        if not torch.isfinite(loss):
            raise FloatingPointError(f"loss {loss.item()} at step {self.step}")
        if not self.replaced or loss.requires_grad:
            loss.backward()
        for h in hooks:
            h.after_backward(model, self.step)
        if cfg.max_grad_norm is not None:
            nn.utils.clip_grad_norm_(model.parameters(), cfg.max_grad_norm)
        opt.step()
        self.sched.step()
        for h in hooks:
            h.after_step(model, self.step)
        opt.zero_grad(set_to_none=True)
        self.step += 1


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_method(run: Run, batches, steps: int) -> float:
    """One untimed warmup step, then the mean seconds per step over ``steps`` steps."""
    run.loop_step(batches[-1])
    sync(run.device)
    start = time.perf_counter()
    for i in range(steps):
        run.loop_step(batches[i % len(batches)])
    sync(run.device)
    return (time.perf_counter() - start) / steps


# ---------------------------------------------------------------- floor primitives
def time_floor(run: Run, teacher: nn.Module, batches, steps: int) -> dict[str, float]:
    """Mean seconds of each primitive over ``steps`` repetitions (after one untimed warmup pass)."""
    model, device, dtype = run.model, run.device, run.dtype
    acc = defaultdict(float)

    def clock(name, fn):
        sync(device)
        t0 = time.perf_counter()
        out = fn()
        sync(device)
        acc[name] += time.perf_counter() - t0
        return out

    for i in range(steps + 1):
        if i == 1:
            acc.clear()
        batch = batches[i % len(batches)] if i else batches[-1]
        inp = _inputs(batch)
        # F, then Bp through it
        with autocast(device, dtype):
            logits = clock("F", lambda: model(**inp))
            loss = F.cross_entropy(logits.float(), batch["labels"])
        clock("Bp", loss.backward)
        del logits, loss
        # O: everything after backward (clip, AdamW, scheduler, zero_grad)
        def opt_step():
            nn.utils.clip_grad_norm_(model.parameters(), run.cfg.max_grad_norm)
            run.opt.step()
            run.sched.step()
            run.opt.zero_grad(set_to_none=True)
        clock("O", opt_step)
        # Bx: ∇_δ only, through a (grad-enabled, untimed) forward at e.detach() + δ, as SMART/VAT's ascent
        with autocast(device, dtype):
            e = model.embed(batch["input_ids"]).detach()
            delta = torch.zeros_like(e).requires_grad_(True)
            out = model(inputs_embeds=e + delta, attention_mask=batch["attention_mask"])
            obj = F.cross_entropy(out.float(), batch["labels"], reduction="sum")
        clock("Bx", lambda: torch.autograd.grad(obj, delta))
        del out, obj, e, delta
        # F0: Bregman's teacher forward (no_grad, eval mode)
        def teacher_fwd():
            with torch.no_grad(), autocast(device, dtype):
                return teacher(**inp)
        clock("F0", teacher_fwd)
        # E: Bregman's EMA update of the teacher
        def ema():
            with torch.no_grad():
                for t, p in zip(teacher.parameters(), model.parameters()):
                    t.mul_(0.99).add_(p.detach(), alpha=0.01)
        clock("E", ema)
    return {k: v / steps for k, v in acc.items()}


# ---------------------------------------------------------------- memory
class SavedBytes:
    """Live and peak bytes of the storages autograd saves for backward (each storage counted once)."""

    def __init__(self, exclude_ptrs: set[int]):
        self.exclude, self.count, self.size = exclude_ptrs, defaultdict(int), {}
        self.live = self.peak = 0

    def _pack(self, t: torch.Tensor):
        return _Holder(self, t)

    @staticmethod
    def _unpack(h: "_Holder") -> torch.Tensor:
        return h.t

    def add(self, t: torch.Tensor) -> int | None:
        st = t.untyped_storage()
        ptr = st.data_ptr()
        if ptr == 0 or ptr in self.exclude:
            return None
        if self.count[ptr] == 0:
            self.size[ptr] = st.nbytes()
            self.live += st.nbytes()
            self.peak = max(self.peak, self.live)
        self.count[ptr] += 1
        return ptr

    def remove(self, ptr: int) -> None:
        self.count[ptr] -= 1
        if self.count[ptr] == 0:
            self.live -= self.size.pop(ptr)
            del self.count[ptr]

    def context(self):
        return torch.autograd.graph.saved_tensors_hooks(self._pack, self._unpack)


class _Holder:
    __slots__ = ("owner", "t", "ptr")

    def __init__(self, owner: SavedBytes, t: torch.Tensor):
        self.owner, self.t, self.ptr = owner, t, owner.add(t)

    def __del__(self):
        if self.ptr is not None:
            self.owner.remove(self.ptr)


def measure_memory(run: Run, batch: dict, teacher_like: list[nn.Module]) -> dict[str, float]:
    """Peak saved-for-backward MB of one step (and CUDA's peak allocation above the start, on CUDA)."""
    exclude = {p.untyped_storage().data_ptr() for m in [run.model, *teacher_like] for p in m.parameters()}
    for h in run.hooks:  # the teacher of a Bregman hook: its parameters are not activations either
        if getattr(h, "teacher", None) is not None:
            exclude |= {p.untyped_storage().data_ptr() for p in h.teacher.parameters()}
    tracker = SavedBytes(exclude)
    out = {}
    if run.device.type == "cuda":
        torch.cuda.synchronize()
        base = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
    with tracker.context():
        run.loop_step(batch)
    if run.device.type == "cuda":
        torch.cuda.synchronize()
        out["cuda_peak_mb"] = (torch.cuda.max_memory_allocated() - base) / 2**20
    out["saved_peak_mb"] = tracker.peak / 2**20
    out["saved_left_mb"] = tracker.live / 2**20  # should be 0: every graph freed by the end of the step
    extra = 0
    for h in run.hooks:
        if getattr(h, "teacher", None) is not None:
            extra += sum(t.numel() * t.element_size() for t in itertools.chain(h.teacher.parameters(), h.teacher.buffers()))
        if getattr(h, "start", None):
            extra += sum(t.numel() * t.element_size() for t in h.start.values())
    out["extra_state_mb"] = extra / 2**20
    return out


# ---------------------------------------------------------------- main
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smoke run: 2 rounds of 1 timed step")
    ap.add_argument("--rounds", type=int, default=None, help="timed rounds (default 9; quick 2)")
    ap.add_argument("--steps", type=int, default=None, help="timed steps per chunk (default 4; quick 1)")
    ap.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16"))
    args = ap.parse_args()
    rounds = args.rounds or (2 if args.quick else 9)
    steps = args.steps or (1 if args.quick else 4)

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dtype = resolve_precision(args.precision, device)
    cfg = TrainConfig(lr=2e-5, batch_size=BATCH, precision=args.precision, seed=0)
    tok = load_tokenizer()
    batches = fixed_batches(tok, N_BATCHES, device)
    seed_everything(0)
    model = text_classifier("minilm", pooling="mean").to(device)
    init = {k: v.detach().clone() for k, v in model.state_dict().items()}
    import copy
    floor_teacher = copy.deepcopy(model).eval()
    for p in floor_teacher.parameters():
        p.requires_grad_(False)
    total = 10 * (steps + 1)  # Bregman's beta schedule length (irrelevant to the cost)

    names = list(METHODS)
    times: dict[str, list[float]] = {n: [] for n in names}
    prims: dict[str, list[float]] = {p: [] for p in PRIMITIVES}
    memory: dict[str, dict] = {}
    real = float(sum(b["attention_mask"].float().mean() for b in batches) / len(batches))
    print(f"default encoder minilm (mean pooling), device {device}, precision "
          f"{'fp32' if dtype is None else str(dtype).replace('torch.', '')} (--precision {args.precision}), "
          f"{torch.get_num_threads()} threads, torch {torch.__version__}")
    print(f"{N_BATCHES} fixed batches of {BATCH} Rotten Tomatoes snippets x {TOKENS} tokens "
          f"({real:.0%} real tokens, the rest masked padding); {rounds} rounds x {steps} timed steps per method "
          f"(+1 warmup step per chunk), interleaved, median over rounds", flush=True)
    wall = time.perf_counter()
    for r in range(rounds + 1):  # round 0 warms everything up (and measures memory), discarded
        order = names[r % len(names):] + names[:r % len(names)] + ["(floor)"]
        if r % 2:
            order = order[::-1]
        for name in order:
            seed_everything(r)
            if name == "(floor)":
                run = Run(model, init, [], cfg, device, dtype, total)
                floor_teacher.load_state_dict(init)
                p = time_floor(run, floor_teacher, batches, steps)
                if r:
                    for k, v in p.items():
                        prims[k].append(v)
                continue
            run = Run(model, init, METHODS[name](), cfg, device, dtype, total)
            t = time_method(run, batches, steps)
            if r:
                times[name].append(t)
            else:
                memory[name] = measure_memory(run, batches[0], [floor_teacher])
        print(f"  round {r}{' (warmup)' if r == 0 else ''} done, {time.perf_counter() - wall:.0f} s", flush=True)

    med = {n: statistics.median(ts) for n, ts in times.items()}
    pm = {k: statistics.median(v) for k, v in prims.items()}
    van = med["vanilla"]
    floor_s = {n: sum(c * pm[k] for k, c in FLOOR[n].items()) for n in names}
    print()
    print("floor primitives, median ms: " + ", ".join(f"{k} {pm[k] * 1e3:.1f}" for k in PRIMITIVES))
    print(f"vanilla floor F+Bp+O = {floor_s['vanilla'] * 1e3:.1f} ms vs measured vanilla step {van * 1e3:.1f} ms")
    cuda = device.type == "cuda"
    head = (f"{'method':22s} | {'step ms':>8s} | {'spread':>11s} | {'x vanilla':>9s} | {'floor x':>7s} | "
            f"{'over floor':>10s} | {'rel. van.':>9s} | {'saved MB':>8s} | {'extra MB':>8s}" + (f" | {'cuda MB':>8s}" if cuda else "")
            + " | floor count")
    print(head)
    print("-" * len(head))
    for n in names:
        ts = times[n]
        m = memory[n]
        count = " + ".join(f"{c}{k}" if c > 1 else k for k, c in FLOOR[n].items())
        print(f"{n:22s} | {med[n] * 1e3:8.1f} | {min(ts) * 1e3:5.0f}-{max(ts) * 1e3:<5.0f} | {med[n] / van:9.2f} | "
              f"{floor_s[n] / floor_s['vanilla']:7.2f} | {(med[n] / floor_s[n] - 1) * 100:9.1f}% | "
              f"{((med[n] / floor_s[n]) / (van / floor_s['vanilla']) - 1) * 100:8.1f}% | {m['saved_peak_mb']:8.1f} | {m['extra_state_mb']:8.1f}"
              + (f" | {m['cuda_peak_mb']:8.1f}" if cuda else "") + f" | {count}")
    print("step ms: median over rounds of the per-chunk mean step time; spread: min-max over rounds; floor x: the "
          "floor of the method's operation count over vanilla's floor; over floor: measured step / its floor - 1; rel. van.: the same, "
          "relative to vanilla's own excess over its floor (loop bookkeeping the primitives leave out).")
    print("saved MB: peak bytes held by autograd for backward during one step (unique storages, parameters "
          "excluded); extra MB: persistent state beyond the model and AdamW (teacher, snapshot).")
    for n, target in TARGETS.items():
        ratio, over = med[n] / van, med[n] / floor_s[n] - 1
        ok = ratio <= target and over <= FLOOR_SLACK
        rel = (med[n] / floor_s[n]) / (van / floor_s["vanilla"]) - 1
        print(f"{'PASS' if ok else 'MISS'}: {n}: {ratio:.2f}x vanilla (target <= {target}x), "
              f"{over * 100:+.1f}% over its floor (target <= {FLOOR_SLACK:.0%}; {rel * 100:+.1f}% relative to "
              f"vanilla's own {(van / floor_s['vanilla'] - 1) * 100:+.1f}%)")
    print(f"total wall time {time.perf_counter() - wall:.0f} s")
    print(f"step-time ratio (SMART K=1 / vanilla) = {med['SMART K=1 ball'] / van:.2f}")


if __name__ == "__main__":
    main()
