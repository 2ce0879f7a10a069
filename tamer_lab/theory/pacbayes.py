"""PAC-Bayes bounds: the kl bound with its inverse, McAllester's and Catoni's forms, and the Monte
Carlo step that turns a bound on a stochastic predictor into a number we can compute.

Notation: a prior P fixed before seeing the sample, a posterior Q, n i.i.d. examples, a loss in
[0, 1], L(Q) = E_{h~Q} L(h) the risk and L̂(Q) the empirical risk of the stochastic predictor.

* PAC-Bayes-kl (Seeger 2002; Maurer 2004): with probability >= 1 - δ, for every Q simultaneously,
      kl(L̂(Q) ‖ L(Q)) <= (KL(Q‖P) + ln(2√n/δ)) / n,
  so L(Q) <= kl⁻¹(L̂(Q), (KL + ln(2√n/δ))/n), the upper inverse computed by bisection.
* McAllester (1999; in Maurer's form): L(Q) <= L̂(Q) + sqrt((KL + ln(2√n/δ)) / (2n)), by Pinsker.
* Catoni (2007), in the form given by Germain et al. (ICML 2009) for a fixed λ > 0:
  L(Q) <= (1 - exp(-λ L̂(Q) - (KL + ln(1/δ))/n)) / (1 - exp(-λ)); λ must be fixed in advance (or paid
  for by a union bound over a grid). Theorem numbers in both sources are not yet checked here.
* Occam / compression (Langford 2005; Arora et al. ICML 2018): a predictor described by q
  parameters at b bits each, chosen after seeing the data, satisfies
      kl(L̂ ‖ L) <= (q·b·ln 2 + ln(2√n/δ)) / n,
  the PAC-Bayes-kl bound with a point-mass posterior and a uniform prior over the 2^(qb) codes.
* Gaussian linear head on fixed features (binary): Q = N((c·W, c·b), s²I) over the head's weights and
  bias, P = N(0, s²I); c is chosen freely after seeing the data, and only c/s matters. The logit difference of an input u is Gaussian, so the error of Q on each
  example is exactly Φ(−c·m(u) / (s·sqrt(2(‖u‖² + 1)))) with m(u) the mean head's margin, and
  KL(Q‖P) = c²(‖W‖² + ‖b‖²)/(2s²). No Monte Carlo step is needed (:func:`gaussian_head_certificate`).
* Monte Carlo (Langford & Caruana 2002): L̂(Q) is estimated from m predictors drawn from Q; with
  probability >= 1 - δ', L̂(Q) <= kl⁻¹(mean, ln(2/δ')/m). The final certificate splits δ between
  the two steps (Dziugaite & Roy 2017; Pérez-Ortiz et al. 2021).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from .checks import register
from .rates import CheckFailed

__all__ = ["occam_bound", "kl_bernoulli", "kl_inverse_upper", "kl_inverse_lower", "pac_bayes_kl_bound", "mcallester_bound",
           "catoni_bound", "monte_carlo_risk_bound", "Certificate", "certificate", "gaussian_head_risk",
           "HeadCertificate", "gaussian_head_certificate"]


def _check_prob(name: str, p: float) -> float:
    p = float(p)
    if not 0.0 <= p <= 1.0 or math.isnan(p):
        raise ValueError(f"{name} must be a probability in [0, 1], got {p}")
    return p


def _check_delta(delta: float) -> float:
    delta = float(delta)
    if not 0.0 < delta < 1.0:
        raise ValueError(f"delta must be in (0, 1), got {delta}")
    return delta


def _check_n(n: int) -> int:
    if int(n) != n or n < 1:
        raise ValueError(f"n must be a positive integer (the number of examples), got {n!r}")
    return int(n)


def _check_kl(kl: float) -> float:
    kl = float(kl)
    if kl < 0 or math.isnan(kl):
        raise ValueError(f"KL(Q||P) must be >= 0, got {kl}")
    return kl


def kl_bernoulli(q: float, p: float) -> float:
    """kl(q ‖ p) = q ln(q/p) + (1 - q) ln((1 - q)/(1 - p)) between Bernoulli(q) and Bernoulli(p)."""
    q, p = _check_prob("q", q), _check_prob("p", p)
    out = 0.0
    for a, b in ((q, p), (1 - q, 1 - p)):
        if a > 0:
            if b == 0:
                return math.inf
            out += a * math.log(a / b)
    return max(out, 0.0)


def _kl_inverse(q: float, c: float, end: float, tol: float) -> float:
    """The p between q and ``end`` (0 or 1) farthest from q with kl(q ‖ p) <= c, by bisection
    (kl(q ‖ ·) grows monotonically away from q on either side)."""
    q = _check_prob("q", q)
    if c < 0 or math.isnan(c):
        raise ValueError(f"c must be >= 0, got {c}")
    if kl_bernoulli(q, end) <= c:
        return end
    inside, outside = q, end  # kl(q || inside) <= c < kl(q || outside)
    while abs(outside - inside) > tol:
        mid = (inside + outside) / 2
        inside, outside = (mid, outside) if kl_bernoulli(q, mid) <= c else (inside, mid)
    return inside


def kl_inverse_upper(q: float, c: float, *, tol: float = 1e-12) -> float:
    """The largest p in [q, 1] with kl(q ‖ p) <= c."""
    return _kl_inverse(q, c, 1.0, tol)


def kl_inverse_lower(q: float, c: float, *, tol: float = 1e-12) -> float:
    """The smallest p in [0, q] with kl(q ‖ p) <= c (for lower confidence bounds)."""
    return _kl_inverse(q, c, 0.0, tol)


def _complexity(kl: float, n: int, delta: float) -> float:
    return (_check_kl(kl) + math.log(2 * math.sqrt(_check_n(n)) / _check_delta(delta))) / n


def pac_bayes_kl_bound(empirical_risk: float, kl: float, n: int, delta: float) -> float:
    """Upper bound on L(Q) from the PAC-Bayes-kl inequality (Maurer 2004)."""
    return kl_inverse_upper(_check_prob("empirical_risk", empirical_risk), _complexity(kl, n, delta))


def mcallester_bound(empirical_risk: float, kl: float, n: int, delta: float) -> float:
    """L̂ + sqrt((KL + ln(2√n/δ)) / (2n)) (Pinsker relaxation of the kl bound; can exceed 1)."""
    return _check_prob("empirical_risk", empirical_risk) + math.sqrt(_complexity(kl, n, delta) / 2)


def catoni_bound(empirical_risk: float, kl: float, n: int, delta: float, *, lam: float = 1.0) -> float:
    """Catoni's bound for a fixed λ > 0: (1 - exp(-λ L̂ - (KL + ln(1/δ))/n)) / (1 - exp(-λ))."""
    if lam <= 0:
        raise ValueError(f"lam must be > 0, got {lam}")
    r = _check_prob("empirical_risk", empirical_risk)
    n = _check_n(n)
    c = (_check_kl(kl) + math.log(1 / _check_delta(delta))) / n
    return (1 - math.exp(-lam * r - c)) / (1 - math.exp(-lam))


def occam_bound(empirical_risk: float, n_params: int, bits: float, n: int, delta: float) -> float:
    """Risk bound for a predictor written in ``n_params`` numbers of ``bits`` bits each (compression bound)."""
    if n_params < 0 or bits <= 0:
        raise ValueError(f"need n_params >= 0 and bits > 0, got {n_params} and {bits}")
    return pac_bayes_kl_bound(empirical_risk, n_params * bits * math.log(2), n, delta)


def monte_carlo_risk_bound(sample_mean: float, m: int, delta: float) -> float:
    """Upper bound on the expectation of a [0, 1] quantity from the mean of m i.i.d. draws: kl⁻¹(mean, ln(2/δ)/m)."""
    return kl_inverse_upper(_check_prob("sample_mean", sample_mean), math.log(2 / _check_delta(delta)) / _check_n(m))


@dataclass(frozen=True)
class Certificate:
    """A computed PAC-Bayes certificate for a stochastic predictor, with its parts."""

    risk_bound: float  # with probability >= 1 - delta over the sample and the Monte Carlo draws
    empirical_risk_mc: float  # mean training error over the m sampled predictors
    empirical_risk_bound: float  # Monte Carlo upper bound on L̂(Q)
    kl: float
    n: int
    m: int
    delta: float
    delta_mc: float


def certificate(sample_mean: float, m: int, kl: float, n: int, *, delta: float = 0.05,
                delta_mc: float = 0.01) -> Certificate:
    """The two-step certificate: bound L̂(Q) from m draws (confidence δ'), then the kl bound (confidence δ).

    Holds with probability >= 1 - δ - δ' (union bound).
    """
    r_hat = monte_carlo_risk_bound(sample_mean, m, delta_mc)
    return Certificate(pac_bayes_kl_bound(r_hat, kl, n, delta), float(sample_mean), r_hat, float(kl), int(n),
                       int(m), float(delta), float(delta_mc))



def gaussian_head_risk(features, labels, weight, bias, *, scale: float, sigma: float) -> float:
    """Exact expected 0-1 error of the Gaussian head N((scale·W, scale·b), σ²I) on binary data.

    ``features`` (n, d), ``labels`` in {0, 1}, ``weight`` (2, d), ``bias`` (2,). Each logit gets noise
    σ·sqrt(‖u‖² + 1)·z, independently, so the logit difference of the true class over the other is
    N(scale·m(u), 2σ²(‖u‖² + 1)) and the error is Φ(−scale·m(u)/(σ·sqrt(2(‖u‖² + 1)))).
    """
    u = np.asarray(features, dtype=np.float64)
    y = np.asarray(labels)
    W, b = np.asarray(weight, dtype=np.float64), np.asarray(bias, dtype=np.float64)
    if u.ndim != 2 or W.shape != (2, u.shape[1]) or b.shape != (2,) or y.shape != (u.shape[0],):
        raise ValueError(f"need features (n, d), labels (n,), weight (2, d) and bias (2,) for a binary head; got "
                         f"{u.shape}, {y.shape}, {W.shape} and {b.shape}")
    if not set(np.unique(y)) <= {0, 1}:
        raise ValueError("gaussian_head_risk is for binary labels in {0, 1}; use Monte Carlo for more classes")
    if sigma <= 0 or scale < 0:
        raise ValueError(f"need sigma > 0 and scale >= 0, got {sigma} and {scale}")
    logits = u @ W.T + b
    sign = np.where(y == 1, 1.0, -1.0)
    margin = sign * (logits[:, 1] - logits[:, 0])
    z = scale * margin / (sigma * np.sqrt(2.0 * ((u ** 2).sum(1) + 1.0)))
    return float(torch.special.erfc(torch.from_numpy(z / math.sqrt(2.0))).mean() / 2)


@dataclass(frozen=True)
class HeadCertificate:
    """The PAC-Bayes-kl certificate of a Gaussian head (posterior mean scale chosen freely)."""

    bound: float
    empirical_risk: float  # exact L̂(Q) on the sample
    kl: float
    scale: float  # the posterior mean is scale·(W, b); prior and posterior have covariance sigma²I
    sigma: float
    n: int
    delta: float

    def complexity(self) -> float:
        return (self.kl + math.log(2 * math.sqrt(self.n) / self.delta)) / self.n


def gaussian_head_certificate(features, labels, weight, bias, *, scales, sigma: float = 1.0, delta: float = 0.05,
                              extra_kl: float = 0.0) -> HeadCertificate:
    """The best PAC-Bayes-kl bound over posterior means ``scale·(W, b)`` for ``scale`` in ``scales``.

    Prior N(0, σ²I), posterior N(scale·(W, b), σ²I). Choosing ``scale`` after seeing the data is free
    (the posterior may depend on the sample; only the prior may not). The risk and the KL depend on
    scale/σ only, so σ is a unit, not a choice: no union bound over prior scales is needed.
    ``extra_kl`` adds a KL term for the rest of the network (0 when it is a point mass shared by the
    prior and the posterior, e.g. frozen pre-trained weights).
    """
    scales = [float(c) for c in scales]
    if not scales:
        raise ValueError("need at least one posterior mean scale")
    n = len(np.asarray(labels))
    norm2 = float((np.asarray(weight, dtype=np.float64) ** 2).sum() + (np.asarray(bias, dtype=np.float64) ** 2).sum())
    log_term = math.log(2 * math.sqrt(_check_n(n)) / _check_delta(delta))
    best = None
    for c in scales:
        risk = gaussian_head_risk(features, labels, weight, bias, scale=c, sigma=sigma)
        kl = c * c * norm2 / (2 * sigma * sigma) + _check_kl(extra_kl)
        bound = kl_inverse_upper(risk, (kl + log_term) / n)
        if best is None or bound < best.bound:
            best = HeadCertificate(bound, risk, kl, c, float(sigma), n, float(delta))
    return best


@register("kl_inverse_closed_form", notebook="40_generalization_bounds",
          statement="kl^-1(0, c) = 1 - exp(-c), and kl(q || kl^-1(q, c)) = c where the inverse is below 1",
          source="closed form of kl(0 || p) = -ln(1 - p); Maurer 2004")
def check_kl_inverse(quick: bool) -> dict:
    cs = np.geomspace(1e-4, 5.0, 12 if quick else 40)
    closed = max(abs(kl_inverse_upper(0.0, c) - (1 - math.exp(-c))) for c in cs)
    tight = max(abs(kl_bernoulli(q, kl_inverse_upper(q, c)) - c)
                for q in (0.01, 0.1, 0.4) for c in cs if kl_inverse_upper(q, c) < 1)
    worst = max(closed, tight)
    if worst > 1e-7:  # bisection stops at 1e-12 in p; kl is steep near p = 1, so allow 1e-7 in kl
        raise CheckFailed(f"kl inverse off by {worst:.2e}", measured=worst, predicted=0.0)
    return {"predicted": "0 (exact inverse)", "measured": f"max deviation {worst:.1e}"}
