"""A non-vacuous PAC-Bayes certificate for a fine-tuned text classifier, with the prior at the pre-trained weights.

The classifier is the pre-trained encoder with its **last transformer layer and a linear head
fine-tuned**; the lower layers stay at their pre-trained values, so they are fixed before any label is
seen and the certificate may condition on them. The posterior Q is a Gaussian over every parameter
of the last layer and of the head,

    Q = N(μ, diag(σ_t² for each tensor t)),       P = N(θ₀, diag(s_g² for each group g)),

one learned standard deviation per tensor (so that a sampled linear layer can be applied exactly to
every token of a sentence at once, see :class:`StochasticTop`), and a prior whose centre θ₀ is the
pre-trained last layer with a zero head. Its scales s_g (one for the layer, one for the head) are
fixed before training. With a million weights per tensor, a posterior scale σ_t that differs from s_g
by a fraction ε costs about k·ε² nats, so training keeps σ_t ≈ s_g and the choice of s_g is really the
choice of the posterior's noise level. With the prior at the
pre-trained weights, KL(Q‖P) is a distance from pre-training; moving the same prior's centre to a
random initialisation of the layer (:func:`random_init_centre`) makes the very same posterior's
bound vacuous. That is the bound's own account of why pre-training helps.

The posterior is trained by minimising the PAC-Bayes objective itself ("PAC-Bayes with backprop",
Pérez-Ortiz, Rivasplata, Shawe-Taylor, Szepesvári, JMLR 2021, the f_classic objective with a bounded
cross-entropy), and certified with the PAC-Bayes-kl bound (Maurer 2004) applied to a Monte Carlo
estimate of its training error in which **each training example draws its own network** from Q: the
n errors are then independent Bernoulli variables whose mean is L̂_S(Q), so Hoeffding's (1963,
Thm 1) kl-Chernoff bound holds with m = n draws for one forward pass over the data.

``top_layer_inputs`` caches the input of the last layer (the output of the frozen layers) once per
text set, so training and certifying touch one layer only.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .._runtime import progress_enabled
from ..assets import cached_text_arrays
from ..train import autocast, resolve_precision
from .pacbayes import kl_inverse_upper, monte_carlo_risk_bound

__all__ = [
    "TopLayerInputs",
    "top_layer_inputs",
    "StochasticTop",
    "random_init_centre",
    "bert_init_like",
    "PBBConfig",
    "train_posterior",
    "bucketed_batches",
    "stochastic_errors",
    "FineTuneCertificate",
    "certify",
]


_LINEARS = ("query", "key", "value", "attn_out", "ffn_in", "ffn_out")
_NORMS = ("ln_attn", "ln_out")


# --------------------------------------------------------------------------------------------- inputs
@dataclass
class TopLayerInputs:
    """Hidden states entering the last layer: ``states`` (N, T, H) float16, ``lengths`` (N,) int."""

    states: torch.Tensor
    lengths: torch.Tensor

    def __len__(self) -> int:
        return self.states.shape[0]

    def batch(self, idx) -> tuple[torch.Tensor, torch.Tensor]:
        """Float32 states trimmed to the longest sentence of the batch, and the boolean token mask."""
        idx = torch.as_tensor(idx, dtype=torch.long)
        t = int(self.lengths[idx].max())
        mask = torch.arange(t).unsqueeze(0) < self.lengths[idx].unsqueeze(1)
        return self.states[idx, :t].float(), mask

    def subset(self, idx) -> "TopLayerInputs":
        idx = torch.as_tensor(idx, dtype=torch.long)
        return TopLayerInputs(self.states[idx], self.lengths[idx])


def top_layer_inputs(texts, *, encoder: str = "minilm", max_length: int = 48, batch_size: int = 128,
                     cache: bool = True, progress: bool | None = None) -> TopLayerInputs:
    """Run the frozen encoder up to (not through) its last layer on ``texts``; cached on disk.

    The cache file depends on the encoder, ``max_length`` and the texts themselves, and is written
    atomically, so an interrupted run never leaves a partial file behind.
    """
    from ..models import load_encoder, load_tokenizer

    texts = list(texts)
    if not texts:
        raise ValueError("top_layer_inputs needs at least one text.")

    def compute() -> dict:
        model, tok = load_encoder(encoder).eval(), load_tokenizer(encoder)
        enc = tok(texts, truncation=True, max_length=max_length, padding="max_length", return_tensors="pt")
        ids, mask = enc["input_ids"], enc["attention_mask"]
        out = torch.zeros(len(texts), ids.shape[1], model.config.hidden_size, dtype=torch.float16)
        show = progress_enabled() if progress is None else progress
        starts = range(0, len(texts), batch_size)
        if show:
            from tqdm.auto import tqdm

            starts = tqdm(starts, desc="frozen layers", unit="batch")
        with torch.inference_mode():
            for s in starts:
                hs = model(input_ids=ids[s:s + batch_size], attention_mask=mask[s:s + batch_size],
                           output_hidden_states=True).hidden_states
                out[s:s + batch_size] = hs[-2].to(torch.float16)
        return {"states": out.numpy(), "lengths": mask.sum(1).numpy()}

    arrays = (cached_text_arrays(["top_layer_inputs", encoder, max_length], texts, compute, prefix="top_")
              if cache else compute())
    return TopLayerInputs(torch.from_numpy(arrays["states"]), torch.from_numpy(arrays["lengths"]).long())


# ------------------------------------------------------------------------------------- the posterior
def _layer_tensors(layer: nn.Module) -> dict[str, torch.Tensor]:
    """The last BERT layer's parameters under our names (weights are (out, in), as in nn.Linear)."""
    att, ffn_in, ffn_out = layer.attention, layer.intermediate.dense, layer.output
    mods = {"query": att.self.query, "key": att.self.key, "value": att.self.value, "attn_out": att.output.dense,
            "ffn_in": ffn_in, "ffn_out": ffn_out.dense, "ln_attn": att.output.LayerNorm,
            "ln_out": ffn_out.LayerNorm}
    out = {}
    for name, m in mods.items():
        out[f"{name}.weight"] = m.weight.detach().clone().float()
        out[f"{name}.bias"] = m.bias.detach().clone().float()
    return out


def bert_init_like(name: str, param: torch.Tensor, generator: torch.Generator, *, std: float = 0.02) -> torch.Tensor:
    """BERT's initialisation of a parameter (transformers' ``_init_weights``): unit LayerNorm gains, zero
    biases (LayerNorm ones included), N(0, std²) for linear and embedding weights. LayerNorm parameters
    are recognised by ``LayerNorm`` (Hugging Face names) or an ``ln_`` prefix (ours)."""
    if "LayerNorm" in name or name.startswith("ln_"):
        return torch.ones_like(param) if name.endswith("weight") else torch.zeros_like(param)
    if name.endswith("bias"):
        return torch.zeros_like(param)
    return torch.randn(param.shape, generator=generator, dtype=param.dtype) * std


def random_init_centre(centre: dict[str, torch.Tensor], *, std: float = 0.02, seed: int = 1234) -> dict[str, torch.Tensor]:
    """A random initialisation with the shapes of ``centre`` (:func:`bert_init_like`) and a zero head
    (the head's prior is the same in both cases)."""
    g = torch.Generator().manual_seed(seed)
    return {name: torch.zeros_like(t) if name.startswith("head.") else bert_init_like(name, t, g, std=std)
            for name, t in centre.items()}


def _sqrt_gram(x: torch.Tensor) -> torch.Tensor:
    """A (B, T, T) matrix A with A Aᵀ = x xᵀ for x (B, T, d), from an eigendecomposition in float64."""
    gram = (x.float() @ x.float().transpose(1, 2)).double()
    evals, evecs = torch.linalg.eigh(gram)
    return (evecs * evals.clamp_min(0).sqrt().unsqueeze(1)).to(x.dtype)


class StochasticTop(nn.Module):
    """The last transformer layer of a BERT encoder, mean pooling and a linear head, as a Gaussian posterior.

    Parameters: the means ``mu[name]`` (initialised at the pre-trained layer and a zero head) and one
    log standard deviation per tensor, ``log_sigma[name]``. ``centre`` (a buffer copy of the initial
    means) is the prior's centre. ``forward(states, mask, sample=...)``:

    * ``"mean"``: the deterministic network at μ;
    * ``"shared"``: one network θ ~ Q for the whole batch (reparameterised; for training);
    * ``"per_example"``: an independent θ_i ~ Q for every sentence, applied exactly. For a linear map
      with weights W + σE (E standard normal, shared by the T tokens of a sentence x ∈ R^{T×d}) the
      noise term x Eᵀ has independent columns with covariance σ² x xᵀ, so it is drawn as
      σ · A z with A Aᵀ = x xᵀ (T × T) and z standard normal; LayerNorm gains and biases draw one
      vector per sentence. No per-sentence weight matrix is ever materialised.
    """

    def __init__(self, layer: nn.Module, *, num_heads: int, num_labels: int = 2, eps: float = 1e-12,
                 sigma_body: float = 1e-2, sigma_head: float = 1e-1):
        super().__init__()
        if sigma_body <= 0 or sigma_head <= 0:
            raise ValueError(f"initial posterior scales must be > 0, got {sigma_body} and {sigma_head}")
        tensors = _layer_tensors(layer)
        hidden = tensors["query.weight"].shape[0]
        if hidden % num_heads:
            raise ValueError(f"hidden size {hidden} is not divisible by num_heads={num_heads}")
        tensors["head.weight"] = torch.zeros(num_labels, hidden)
        tensors["head.bias"] = torch.zeros(num_labels)
        self.names = list(tensors)
        self.num_heads, self.eps = num_heads, eps
        self.mu = nn.ParameterDict({k.replace(".", "__"): nn.Parameter(v.clone()) for k, v in tensors.items()})
        self.log_sigma = nn.ParameterDict({
            k.replace(".", "__"): nn.Parameter(torch.tensor(math.log(sigma_head if k.startswith("head.") else sigma_body)))
            for k in tensors})
        for k, v in tensors.items():
            self.register_buffer(f"centre__{k.replace('.', '__')}", v.clone())
        # a fixed affine map of the pooled features (set by ``standardize_from`` on texts outside the sample)
        self.register_buffer("feature_mean", torch.zeros(hidden))
        self.register_buffer("feature_scale", torch.ones(hidden))

    @classmethod
    def from_encoder(cls, encoder: nn.Module, num_labels: int = 2, **kw) -> "StochasticTop":
        cfg = encoder.config
        return cls(encoder.encoder.layer[-1], num_heads=cfg.num_attention_heads, num_labels=num_labels,
                   eps=cfg.layer_norm_eps, **kw)

    # parameters by our dotted names
    def mean(self, name: str) -> torch.Tensor:
        return self.mu[name.replace(".", "__")]

    def sigma(self, name: str) -> torch.Tensor:
        return self.log_sigma[name.replace(".", "__")].exp()

    def centre(self) -> dict[str, torch.Tensor]:
        return {k: getattr(self, f"centre__{k.replace('.', '__')}") for k in self.names}

    def means(self) -> dict[str, torch.Tensor]:
        return {k: self.mean(k).detach() for k in self.names}

    def sigmas(self) -> dict[str, float]:
        return {k: float(self.sigma(k).detach()) for k in self.names}

    # the network
    def _linear(self, name: str, x: torch.Tensor, sample: str, root: torch.Tensor | None = None) -> torch.Tensor:
        w, b = self.mean(f"{name}.weight"), self.mean(f"{name}.bias")
        if sample == "shared":
            w = w + self.sigma(f"{name}.weight") * torch.randn_like(w)
            b = b + self.sigma(f"{name}.bias") * torch.randn_like(b)
        out = F.linear(x, w, b)
        if sample == "per_example":
            shape = (x.shape[0], 1, w.shape[0]) if x.dim() == 3 else (x.shape[0], w.shape[0])
            bias_noise = self.sigma(f"{name}.bias") * torch.randn(shape, dtype=x.dtype, device=x.device)
            if x.dim() == 3:
                z = torch.randn(x.shape[0], x.shape[1], w.shape[0], dtype=x.dtype, device=x.device)
                root = _sqrt_gram(x) if root is None else root
                out = out + self.sigma(f"{name}.weight") * (root @ z) + bias_noise
            else:  # one row per example: x Eᵀ ~ N(0, σ²‖x‖² I)
                z = torch.randn(x.shape[0], w.shape[0], dtype=x.dtype, device=x.device)
                out = out + self.sigma(f"{name}.weight") * x.norm(dim=1, keepdim=True) * z + bias_noise
        return out

    def _norm(self, name: str, x: torch.Tensor, sample: str) -> torch.Tensor:
        g, b = self.mean(f"{name}.weight"), self.mean(f"{name}.bias")
        if sample == "shared":
            g = g + self.sigma(f"{name}.weight") * torch.randn_like(g)
            b = b + self.sigma(f"{name}.bias") * torch.randn_like(b)
        elif sample == "per_example":
            shape = (x.shape[0], 1, x.shape[-1])
            g = g + self.sigma(f"{name}.weight") * torch.randn(shape, dtype=x.dtype, device=x.device)
            b = b + self.sigma(f"{name}.bias") * torch.randn(shape, dtype=x.dtype, device=x.device)
        return F.layer_norm(x, x.shape[-1:], eps=self.eps) * g + b

    def last_hidden(self, states: torch.Tensor, mask: torch.Tensor, sample: str = "mean") -> torch.Tensor:
        """The layer's output (B, T, H): attention, residual and norm, feed-forward, residual and norm."""
        if sample not in ("mean", "shared", "per_example"):
            raise ValueError(f"sample must be 'mean', 'shared' or 'per_example', got {sample!r}")
        bsz, t, hidden = states.shape
        heads, hd = self.num_heads, hidden // self.num_heads

        def split(z):
            return z.view(bsz, t, heads, hd).transpose(1, 2)

        root = _sqrt_gram(states) if sample == "per_example" else None  # one factor for q, k and v
        q, k, v = (split(self._linear(n, states, sample, root)) for n in ("query", "key", "value"))
        scores = q @ k.transpose(-1, -2) / math.sqrt(hd)
        scores = scores.masked_fill(~mask[:, None, None, :], torch.finfo(scores.dtype).min)
        ctx = (scores.softmax(-1) @ v).transpose(1, 2).reshape(bsz, t, hidden)
        h = self._norm("ln_attn", self._linear("attn_out", ctx, sample) + states, sample)
        inner = F.gelu(self._linear("ffn_in", h, sample))
        return self._norm("ln_out", self._linear("ffn_out", inner, sample) + h, sample)

    def pooled(self, states: torch.Tensor, mask: torch.Tensor, sample: str = "mean") -> torch.Tensor:
        """Mean of the layer's output over the real tokens, then the fixed standardisation."""
        out = self.last_hidden(states, mask, sample)
        m = mask.unsqueeze(-1).to(out.dtype)
        pooled = (out * m).sum(1) / m.sum(1).clamp_min(1.0)
        return (pooled - self.feature_mean) / self.feature_scale

    def forward(self, states: torch.Tensor, mask: torch.Tensor, sample: str = "mean") -> torch.Tensor:
        """Logits (B, num_labels): the layer, mean pooling over the real tokens, standardisation, the head."""
        return self._linear("head", self.pooled(states, mask, sample), sample)

    @torch.no_grad()
    def standardize_from(self, pool: "TopLayerInputs", *, batch_size: int = 256) -> "StochasticTop":
        """Centre and scale the pooled features by their mean and std over ``pool`` at the current means.

        The pooled features of a sentence encoder share a large common component; the head's noise
        scales with the feature norm while its signal lives in the small class-dependent part, so
        without this map a stochastic head needs a huge KL to be accurate. For a valid certificate
        ``pool`` must not contain the training sample (e.g. the unlabelled rest of the training split):
        the map is then part of the data-independent architecture. Labels are never used.
        """
        self.feature_mean.zero_()
        self.feature_scale.fill_(1.0)
        feats = []
        for s in range(0, len(pool), batch_size):
            x, mask = pool.batch(torch.arange(s, min(s + batch_size, len(pool))))
            feats.append(self.pooled(x, mask))
        feats = torch.cat(feats)
        if feats.shape[0] < 2:
            raise ValueError("standardize_from needs at least 2 pooled sentences")
        self.feature_mean.copy_(feats.mean(0))
        self.feature_scale.copy_(feats.std(0).clamp_min(1e-6))
        return self

    # the divergence
    def kl(self, prior_body: float, prior_head: float, centre: dict[str, torch.Tensor] | None = None) -> torch.Tensor:
        """KL(Q ‖ P) in nats, P = N(centre, s²I) with s = ``prior_body`` for the layer, ``prior_head`` for the head.

        Per tensor with k entries: k·(ln(s/σ) + σ²/(2s²) − ½) + ‖μ − centre‖²/(2s²).
        """
        if prior_body <= 0 or prior_head <= 0:
            raise ValueError(f"prior scales must be > 0, got {prior_body} and {prior_head}")
        centre = self.centre() if centre is None else centre
        total = torch.zeros((), dtype=torch.float64)
        for name in self.names:
            s = prior_head if name.startswith("head.") else prior_body
            mu, c = self.mean(name).double(), centre[name].double().to(self.mean(name).device)
            log_sigma = self.log_sigma[name.replace(".", "__")].double()
            k = mu.numel()
            total = total + k * (math.log(s) - log_sigma + log_sigma.exp() ** 2 / (2 * s * s) - 0.5)
            total = total + ((mu - c) ** 2).sum() / (2 * s * s)
        return total


# ---------------------------------------------------------------------------------------- training
@dataclass
class PBBConfig:
    """Training of the posterior by the PAC-Bayes objective (f_classic with a bounded cross-entropy)."""

    steps: int = 300
    batch_size: int = 64
    lr_body: float = 2e-5  # Adam on the layer's means: a step moves each weight by about lr
    lr_head: float = 1e-2
    lr_sigma: float = 1e-2
    prior_body: float = 1e-2  # the prior's scales, fixed before training (see the module docstring)
    prior_head: float = 1e-1
    delta: float = 0.025
    p_min: float = 1e-2  # cross-entropy clipped at ln(1/p_min), then scaled into [0, 1]
    seed: int = 0
    device: str = "cpu"
    precision: str = "auto"  # bf16 autocast for the training forward where the CPU has it; certify is fp32

    def __post_init__(self):
        for name in ("steps", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("lr_body", "lr_head", "lr_sigma", "prior_body", "prior_head"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if not 0 < self.delta < 1 or not 0 < self.p_min < 1:
            raise ValueError(f"delta and p_min must lie in (0, 1), got {self.delta} and {self.p_min}")


def bucketed_batches(lengths: torch.Tensor, batch_size: int, generator: torch.Generator, *,
                     bucket: int = 50):
    """An endless stream of index batches: shuffled, then sorted by length within runs of ``bucket``
    batches, then the batches shuffled; batches of similar length waste little padding."""
    n = lengths.shape[0]
    size = min(batch_size, n)
    while True:
        perm = torch.randperm(n, generator=generator)
        batches = []
        for s in range(0, n - size + 1, size * bucket):
            chunk = perm[s:s + size * bucket]
            chunk = chunk[torch.argsort(lengths[chunk], stable=True)]
            batches += [chunk[i:i + size] for i in range(0, len(chunk) - size + 1, size)]
        for j in torch.randperm(len(batches), generator=generator).tolist():
            yield batches[j]


def _bounded_ce(logits: torch.Tensor, labels: torch.Tensor, p_min: float) -> torch.Tensor:
    logp = logits.log_softmax(-1).gather(1, labels.unsqueeze(1)).squeeze(1)
    return (-logp.clamp_min(math.log(p_min))).mean() / math.log(1 / p_min)


def train_posterior(top: StochasticTop, data: TopLayerInputs, labels, config: PBBConfig | None = None,
                    *, progress: bool | None = None) -> list[dict]:
    """Minimise L̂_CE(Q) + sqrt((KL + ln(2√n/δ)) / (2n)) over the means and scales; returns the history."""
    config = config or PBBConfig()
    labels = torch.as_tensor(labels, dtype=torch.long)
    n = len(data)
    if labels.shape != (n,):
        raise ValueError(f"labels must have shape ({n},) to match the inputs, got {tuple(labels.shape)}")
    if n < 2:
        raise ValueError(f"need at least 2 training examples, got {n}")
    g = torch.Generator().manual_seed(config.seed)
    torch.manual_seed(config.seed)
    head = [p for k, p in top.mu.items() if k.startswith("head__")]
    body = [p for k, p in top.mu.items() if not k.startswith("head__")]
    opt = torch.optim.Adam([{"params": body, "lr": config.lr_body}, {"params": head, "lr": config.lr_head},
                            {"params": list(top.log_sigma.parameters()), "lr": config.lr_sigma}])
    const = math.log(2 * math.sqrt(n) / config.delta)
    device = torch.device(config.device)
    dtype = resolve_precision(config.precision, device)
    history, batches = [], bucketed_batches(data.lengths, config.batch_size, g)
    show = progress_enabled() if progress is None else progress
    steps = range(config.steps)
    if show:
        from tqdm.auto import tqdm

        steps = tqdm(steps, desc="PAC-Bayes training", unit="step")
    top.train()
    for step in steps:
        idx = next(batches)
        x, mask = data.batch(idx)
        with autocast(device, dtype):
            logits = top(x, mask, sample="shared")
        loss_emp = _bounded_ce(logits.float(), labels[idx], config.p_min)
        kl = top.kl(config.prior_body, config.prior_head).float()
        objective = loss_emp + torch.sqrt((kl + const) / (2 * n))
        opt.zero_grad(set_to_none=True)
        objective.backward()
        opt.step()
        if step % 10 == 0 or step == config.steps - 1:
            history.append({"step": step, "objective": objective.detach().item(), "loss": loss_emp.detach().item(),
                            "kl": kl.detach().item()})
    top.eval()
    return history


# ------------------------------------------------------------------------------------ certification
@torch.no_grad()
def stochastic_errors(top: StochasticTop, data: TopLayerInputs, labels, *, sample: str = "per_example",
                      batch_size: int = 256, seed: int = 0) -> np.ndarray:
    """0/1 errors of the classifier on each example (``sample="per_example"``: a fresh θ_i ~ Q for each)."""
    labels = torch.as_tensor(labels, dtype=torch.long)
    if labels.shape != (len(data),):
        raise ValueError(f"labels must have shape ({len(data)},), got {tuple(labels.shape)}")
    torch.manual_seed(seed)
    order = torch.argsort(data.lengths)
    errors = torch.zeros(len(data), dtype=torch.bool)
    for s in range(0, len(data), batch_size):
        idx = order[s:s + batch_size]
        x, mask = data.batch(idx)
        errors[idx] = top(x, mask, sample=sample).argmax(-1) != labels[idx]
    return errors.numpy()


@dataclass
class FineTuneCertificate:
    """The certificate and its parts; ``bound`` holds with probability ≥ 1 − delta − delta_mc."""

    bound: float  # PAC-Bayes-kl bound on the true error of Q, prior at the pre-trained weights
    bound_random_prior: float  # the same posterior, the prior's centre moved to a random initialisation
    train_error_mc: float  # mean error over n per-example draws θ_i ~ Q
    train_error_bound: float  # Monte Carlo upper bound on L̂_S(Q)
    test_error_stochastic: float  # the same sampling on the test set
    test_error_mean: float  # the deterministic network at μ
    kl: float
    kl_random_prior: float
    prior_body: float
    prior_head: float
    distance: float  # ‖μ − θ₀‖₂ over the layer and head
    distance_random: float
    n: int
    delta: float
    delta_mc: float
    sigmas: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def certify(top: StochasticTop, train: TopLayerInputs, train_labels, test: TopLayerInputs | None = None,
            test_labels=None, *, prior_body: float, prior_head: float, delta: float = 0.025, delta_mc: float = 0.01,
            seed: int = 0, random_centre: dict[str, torch.Tensor] | None = None) -> FineTuneCertificate:
    """The certificate for ``top`` trained on ``train``: Monte Carlo step, then the kl bound, both priors.

    With probability at least 1 − δ − δ_mc over the training sample and the draws, the true error of
    the stochastic classifier Q is at most ``bound``. The prior scales must be the ones fixed before
    training (a scale picked after seeing the data would need a union bound). Test errors, when a test
    set is given, are measured, not bounded.
    """
    n = len(train)
    errs = stochastic_errors(top, train, train_labels, seed=seed)
    p_hat = float(errs.mean())
    r_hat = monte_carlo_risk_bound(p_hat, n, delta_mc)
    centre = top.centre()
    rand = random_init_centre(centre) if random_centre is None else random_centre
    log_term = math.log(2 * math.sqrt(n) / delta)
    with torch.no_grad():
        kl = float(top.kl(prior_body, prior_head, centre))
        kl_r = float(top.kl(prior_body, prior_head, rand))
    bound = kl_inverse_upper(r_hat, (kl + log_term) / n)
    bound_r = kl_inverse_upper(r_hat, (kl_r + log_term) / n)
    means = top.means()
    dist = math.sqrt(sum(float(((means[k] - centre[k]) ** 2).sum()) for k in top.names))
    dist_r = math.sqrt(sum(float(((means[k] - rand[k]) ** 2).sum()) for k in top.names))
    test_sto = test_mean = float("nan")
    if test is not None:
        test_sto = float(stochastic_errors(top, test, test_labels, seed=seed + 1).mean())
        test_mean = float(stochastic_errors(top, test, test_labels, sample="mean").mean())
    return FineTuneCertificate(bound, bound_r, p_hat, r_hat, test_sto, test_mean, kl, kl_r, prior_body, prior_head,
                               dist, dist_r, n, delta, delta_mc, top.sigmas())
