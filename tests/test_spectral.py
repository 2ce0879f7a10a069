"""Spectral and norm generalization measures: closed forms on tiny cases, invariances, the margin
bound's terms and monotonicity, layer collection from torch models, Spearman with ties, and the
registered ranking check of notebook 40 (which must fail on a wrong prediction)."""
import itertools
import math

import numpy as np
import pytest
import torch
from torch import nn

from tamer_lab.models import MLP, tiny_bert
from tamer_lab.theory import norms_toy
from tamer_lab.theory.rademacher import ramp_loss
from tamer_lab.theory.rates import CheckFailed
from tamer_lab.theory.spectral import (
    SpectralMarginBound,
    distance_from_reference,
    frobenius_product,
    linear_layers,
    multiclass_margins,
    norm_21_of_transpose,
    power_iteration,
    spearman,
    spectral_complexity,
    spectral_margin_bound,
    spectral_norm,
    spectral_product,
)


def _chain(seed=0, dims=(3, 5, 4, 2)):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((b, a)) for a, b in itertools.pairwise(dims)]


def test_spectral_norm_methods_agree():
    rng = np.random.default_rng(1)
    for shape in [(1, 1), (7, 3), (3, 7), (60, 200)]:
        A = rng.standard_normal(shape)
        exact = float(np.linalg.svd(A, compute_uv=False)[0])
        for method in ("svd", "gram", "auto"):
            assert spectral_norm(A, method=method) == pytest.approx(exact, rel=1e-10)
    assert spectral_norm(np.diag([3.0, -5.0, 1.0])) == pytest.approx(5.0)
    assert spectral_norm(torch.tensor([[3.0, 4.0]])) == pytest.approx(5.0)


def test_power_iteration_tolerance():
    rng = np.random.default_rng(2)
    # a spectral gap (sigma_2/sigma_1 = 0.5): converges fast to full precision
    U, _ = np.linalg.qr(rng.standard_normal((80, 40)))
    V, _ = np.linalg.qr(rng.standard_normal((40, 40)))
    A = U @ np.diag(np.r_[2.0, np.linspace(1.0, 0.1, 39)]) @ V.T
    assert power_iteration(A) == pytest.approx(2.0, rel=1e-9)
    # a Gaussian matrix (close top singular values): still within 1e-6 at the default tolerance
    B = rng.standard_normal((300, 200))
    exact = float(np.linalg.svd(B, compute_uv=False)[0])
    estimate = power_iteration(B)
    assert estimate <= exact * (1 + 1e-12) and estimate == pytest.approx(exact, rel=1e-6)
    assert spectral_norm(B, method="power") == estimate
    assert power_iteration(np.zeros((3, 2))) == 0.0


def test_norm_21_of_transpose_sums_row_norms():
    A = np.array([[3.0, 4.0], [0.0, 1.0], [1.0, 0.0]])
    assert norm_21_of_transpose(A) == pytest.approx(5.0 + 1.0 + 1.0)
    # Bartlett et al.'s definition: ||B||_{2,1} = sum of column 2-norms of B, here B = A^T
    assert norm_21_of_transpose(A) == pytest.approx(np.linalg.norm(A.T, axis=0).sum())


def test_spectral_complexity_matches_the_definition():
    W = _chain()
    s = [np.linalg.norm(w, 2) for w in W]
    b = [np.linalg.norm(w, axis=1).sum() for w in W]
    direct = np.prod(s) * sum((bi / si) ** (2 / 3) for bi, si in zip(b, s)) ** 1.5
    assert spectral_complexity(W) == pytest.approx(direct, rel=1e-12)
    # with references and Lipschitz constants
    M = _chain(seed=5)
    b_ref = [np.linalg.norm(w - m, axis=1).sum() for w, m in zip(W, M)]
    direct_ref = 2 * 0.5 * 3 * np.prod(s) * sum((bi / si) ** (2 / 3) for bi, si in zip(b_ref, s)) ** 1.5
    assert spectral_complexity(W, M, lipschitz=[2, 0.5, 3]) == pytest.approx(direct_ref, rel=1e-12)


def test_spectral_complexity_closed_forms_and_invariances():
    W = _chain()
    # one layer: R_A = ||A^T - M^T||_{2,1}
    assert spectral_complexity([W[0]]) == pytest.approx(norm_21_of_transpose(W[0]))
    # references equal to the weights: the (2,1) term vanishes
    assert spectral_complexity(W, W) == 0.0
    assert spectral_complexity(W, [W[0], None, W[2]]) > 0.0
    # scaling one layer by c scales R_A by c (both factors are homogeneous)
    scaled = [W[0], 3.0 * W[1], W[2]]
    assert spectral_complexity(scaled) == pytest.approx(3.0 * spectral_complexity(W))
    # ReLU rescaling invariance of the measure is not exact, but rescaling c and 1/c keeps the product
    balanced = [2.0 * W[0], 0.5 * W[1], W[2]]
    assert spectral_product(balanced) == pytest.approx(spectral_product(W))
    # identical layers: R_A = s^L * (L (b/s)^(2/3))^(3/2) = L^(3/2) s^(L-1) b
    A = np.array([[2.0, 0.0], [0.0, 1.0]])
    assert spectral_complexity([A, A, A]) == pytest.approx(3**1.5 * 2.0**2 * 3.0)
    # a zero layer: R_A reduces to b_i times the other spectral norms
    Z = np.zeros((2, 2))
    assert spectral_complexity([A, Z]) == 0.0
    assert spectral_complexity([A, Z], [None, np.eye(2)]) == pytest.approx(2.0 * 2.0)
    # deep chains: R_A = 10^400 * 400^(3/2) * 3 overflows a float; its logarithm does not
    deep = [10.0 * np.eye(3)] * 400
    assert spectral_complexity(deep) == math.inf
    expected_log = 400 * math.log(10) + 1.5 * math.log(400) + math.log(3)
    assert spectral_complexity(deep, log=True) == pytest.approx(expected_log, rel=1e-12)
    assert spectral_complexity([np.eye(3)] * 400) == pytest.approx(400**1.5 * 3)
    assert spectral_complexity(W, log=True) == pytest.approx(math.log(spectral_complexity(W)))
    assert spectral_complexity(W, W, log=True) == -math.inf


def test_other_measures():
    W = _chain()
    assert frobenius_product(W) == pytest.approx(np.prod([np.linalg.norm(w) for w in W]))
    assert spectral_product(W) == pytest.approx(np.prod([np.linalg.norm(w, 2) for w in W]))
    M = _chain(seed=3)
    assert distance_from_reference(W, M) == pytest.approx(sum(((w - m) ** 2).sum() for w, m in zip(W, M)))
    assert distance_from_reference(W, W) == 0.0
    assert distance_from_reference(W) == pytest.approx(sum((w**2).sum() for w in W))
    assert spectral_product(W) <= frobenius_product(W)


def test_multiclass_margins():
    logits = torch.tensor([[2.0, 0.5, 1.0], [0.0, 3.0, -1.0], [1.0, 1.0, 4.0]])
    np.testing.assert_allclose(multiclass_margins(logits, torch.tensor([0, 0, 2])), [1.0, -3.0, 3.0])
    with pytest.raises(ValueError, match="0..2"):
        multiclass_margins(logits, [0, 3, 1])
    with pytest.raises(ValueError, match="integer class"):
        multiclass_margins(logits, [0, 1])


def _bound_case(n=50, seed=0):
    rng = np.random.default_rng(seed)
    W = _chain(seed)
    X = rng.standard_normal((n, 3))
    h = X.T
    for w in W[:-1]:
        h = np.maximum(w @ h, 0.0)
    logits = (W[-1] @ h).T
    y = rng.integers(0, 2, size=n)
    return multiclass_margins(logits, y), X, W


def test_spectral_margin_bound_terms():
    margins, X, W = _bound_case()
    b = spectral_margin_bound(margins, X, W, gamma=0.5, delta=0.1)
    assert isinstance(b, SpectralMarginBound) and b.n == 50 and b.width == 5
    r_a = spectral_complexity(W)
    assert b.spectral_complexity == pytest.approx(r_a)
    assert b.data_norm == pytest.approx(np.linalg.norm(X))
    assert b.empirical_ramp_risk == pytest.approx(ramp_loss(margins, 0.5).mean())
    assert b.constant_term == pytest.approx(8 / 50)
    expected = 48 * np.linalg.norm(X) * math.sqrt(math.log(2 * 25)) * r_a * math.log(50) / (0.5 * 50)
    assert b.complexity_term == pytest.approx(expected)
    assert b.confidence_term == pytest.approx(3 * math.sqrt(math.log(10) / 100))
    assert b.bound == pytest.approx(b.empirical_ramp_risk + b.constant_term + b.complexity_term + b.confidence_term)
    assert b.clipped == min(1.0, b.bound)
    # never larger than the form 72 ||X|| R_A ln(2W) ln(n) / (gamma n) read for the paper's Theorem
    assert b.complexity_term <= 72 * b.data_norm * r_a * math.log(2 * b.width) * math.log(50) / (0.5 * 50)


def test_spectral_margin_bound_monotone_in_n_delta_and_gamma():
    margins, X, W = _bound_case()
    by_n = [spectral_margin_bound(np.tile(margins, k), np.tile(X, (k, 1)), W, gamma=1.0).bound for k in (1, 2, 4, 8)]
    assert all(a > b for a, b in itertools.pairwise(by_n))
    by_delta = [spectral_margin_bound(margins, X, W, gamma=1.0, delta=d).bound for d in (0.5, 0.1, 0.01, 0.001)]
    assert all(a < b for a, b in itertools.pairwise(by_delta))
    complexity = [spectral_margin_bound(margins, X, W, gamma=g).complexity_term for g in (0.1, 1.0, 10.0)]
    assert all(a > b for a, b in itertools.pairwise(complexity))


def test_spectral_margin_bound_errors():
    margins, X, W = _bound_case()
    with pytest.raises(ValueError, match="features"):
        spectral_margin_bound(margins, X[:, :2], W, gamma=1.0)
    with pytest.raises(ValueError, match="chain"):
        spectral_margin_bound(margins, X, [W[0], W[2]], gamma=1.0)
    with pytest.raises(ValueError, match="margins"):
        spectral_margin_bound(margins[:-1], X, W, gamma=1.0)
    with pytest.raises(ValueError, match="gamma"):
        spectral_margin_bound(margins, X, W, gamma=0.0)
    with pytest.raises(ValueError, match="delta"):
        spectral_margin_bound(margins, X, W, gamma=1.0, delta=1.0)
    with pytest.raises(ValueError, match="2-D"):
        spectral_margin_bound(margins, X[:0], W, gamma=1.0)


def test_measure_input_errors():
    W = _chain()
    with pytest.raises(ValueError, match="references\\[1\\] has shape"):
        spectral_complexity(W, [W[0], W[0], W[2]])
    with pytest.raises(ValueError, match="one matrix"):
        spectral_complexity(W, W[:2])
    with pytest.raises(ValueError, match="non-empty list"):
        spectral_complexity([])
    with pytest.raises(ValueError, match="2-D"):
        spectral_product([np.ones(3)])
    with pytest.raises(ValueError, match="NaN"):
        frobenius_product([np.array([[np.nan]])])
    with pytest.raises(ValueError, match="lipschitz"):
        spectral_complexity(W, lipschitz=[1.0, 1.0])
    with pytest.raises(ValueError, match="method"):
        spectral_norm(W[0], method="exact")


def test_linear_layers_of_an_mlp_follow_the_chain():
    torch.manual_seed(0)
    model, init = MLP(3, 2, hidden=(5, 4)), MLP(3, 2, hidden=(5, 4))
    pairs = linear_layers(model)
    assert [tuple(w.shape) for w, _ in pairs] == [(5, 3), (4, 5), (2, 4)]
    assert all(r is None for _, r in pairs)
    pairs = linear_layers(model, init)
    assert all(torch.equal(r, m.weight) for (_, r), m in zip(pairs, [l for l in init.modules() if isinstance(l, nn.Linear)]))
    weights = [w for w, _ in pairs]
    x = torch.randn(20, 3)
    margins = multiclass_margins(model(x).detach(), torch.zeros(20, dtype=torch.long))
    spectral_margin_bound(margins, x, weights, [r for _, r in pairs], gamma=1.0)  # a valid chain
    with pytest.raises(ValueError, match="matching shapes"):
        linear_layers(model, MLP(3, 2, hidden=(6, 4)))
    with pytest.raises(ValueError, match="same linear layers"):
        linear_layers(model, MLP(3, 2, hidden=(5,)))
    with pytest.raises(TypeError, match="nn.Module"):
        linear_layers([w for w, _ in pairs])
    with pytest.raises(ValueError, match="no nn.Linear"):
        linear_layers(nn.ReLU())


def test_linear_layers_of_a_tiny_bert():
    model, ref = tiny_bert(seed=0), tiny_bert(seed=1)
    pairs = linear_layers(model, ref)
    # per layer: query, key, value, attention output, intermediate, output; then the classifier head
    assert len(pairs) == 2 * 6 + 1
    assert tuple(pairs[4][0].shape) == (64, 32) and tuple(pairs[-1][0].shape) == (2, 32)
    weights, refs = [w for w, _ in pairs], [r for _, r in pairs]
    assert spectral_complexity(weights, refs) > 0 and spectral_complexity(weights, weights) == 0.0
    assert distance_from_reference(weights, refs) > 0
    with pytest.raises(ValueError, match="matching shapes"):
        linear_layers(model, tiny_bert(hidden=16, seed=0))


def test_spearman_by_hand_and_ties():
    # x ranks (1, 2.5, 2.5, 4), y ranks (1, 3, 2, 4): r = 4.5 / sqrt(4.5 * 5)
    assert spearman([1, 2, 2, 3], [1, 3, 2, 4]) == pytest.approx(4.5 / math.sqrt(22.5))
    assert spearman([10, 20, 30], [1, 5, 100]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    # no ties: 1 - 6 sum d^2 / (n (n^2 - 1))
    x, y = [3.1, 0.2, 5.0, 1.7, 4.4], [2.0, 1.0, 4.0, 5.0, 3.0]
    d = np.array([3, 1, 5, 2, 4]) - np.array([2, 1, 4, 5, 3])
    assert spearman(x, y) == pytest.approx(1 - 6 * (d**2).sum() / (5 * 24))
    assert spearman(x, y) == pytest.approx(spearman(np.exp(x), y))  # invariant to monotone maps
    with pytest.raises(ValueError, match="constant"):
        spearman([1, 1, 1], [1, 2, 3])
    with pytest.raises(ValueError, match="same length"):
        spearman([1, 2], [1, 2, 3])
    with pytest.raises(ValueError, match="finite"):
        spearman([1, np.nan], [1, 2])


def test_ranking_check_passes_and_fails_on_a_wrong_prediction():
    out = norms_toy.check_spectral_ranking(True)
    assert out["measured"].startswith("Spearman")
    with pytest.raises(CheckFailed, match="Spearman"):  # "the bound shrinks as the gap grows"
        norms_toy.check_spectral_ranking(True, measure=lambda r: -r.normalized)


def _fake_runs(gaps, measures):
    """ToyRuns for one seed and n in {100, 400} with given gaps and measures (in NOISE_LEVELS order)."""
    runs = []
    for i, (gap, value) in enumerate(zip(gaps, measures)):
        n, noise = (100, 400)[i // 5], norms_toy.NOISE_LEVELS[i % 5]
        runs.append(norms_toy.ToyRun(n, noise, 0, 1.0, 1.0 - gap, 50, value, value, 1.0, 1.0, 1.0, 1.0, 1.0))
    return tuple(runs)


@pytest.mark.parametrize("swap", ["gap", "measure"])
def test_ranking_check_fails_when_random_labels_do_not_exceed_clean_ones(monkeypatch, swap):
    gaps = [0.10, 0.20, 0.30, 0.40, 0.50, 0.31, 0.35, 0.40, 0.45, 0.32]  # n = 400: random barely above clean
    measures = list(gaps)
    if swap == "gap":  # random labels generalize *better* than clean ones: the prediction is falsified
        gaps[9], measures[9] = 0.305, 0.32
    else:  # the measure ranks clean labels above random ones at n = 400
        measures[9] = 0.309
    monkeypatch.setattr(norms_toy, "toy_runs", lambda quick: _fake_runs(gaps, measures))
    with pytest.raises(CheckFailed, match="random labels should exceed"):
        norms_toy.check_spectral_ranking(True, measure=lambda r: r.spectral_complexity)
    assert spearman(measures, gaps) > norms_toy.SPEARMAN_MIN  # the ranking itself still passes
