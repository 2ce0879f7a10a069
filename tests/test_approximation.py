"""Approximation with ReLU networks (notebook 41): exact identities, rates, error messages, and checks that fail
on a wrong prediction."""
import itertools
import math

import numpy as np
import pytest
import torch

from tamer_lab.theory import approximation as ap
from tamer_lab.theory import lowrank_approx as lr
from tamer_lab.theory.checks import run_check
from tamer_lab.theory.rates import CheckFailed, SlopeFit


def square(x):
    return x ** 2


# ----------------------------------------------------------------------------------- Yarotsky

@pytest.mark.parametrize("m", [1, 2, 3, 5, 8])
def test_sup_error_is_exactly_two_to_minus_2m_minus_2(m):
    assert ap.yarotsky_sup_error(m, points=2 ** 12 + 1) == pytest.approx(2.0 ** (-2 * m - 2), rel=1e-12)


def test_f_m_interpolates_x_squared_at_the_dyadic_points():
    m = 4
    x = np.arange(2 ** m + 1) / 2 ** m
    assert np.allclose(ap.yarotsky_square(x, m), x ** 2, atol=1e-15)


def test_sawtooth_has_2_to_s_minus_1_teeth():
    x = np.linspace(0, 1, 2 ** 10 + 1)
    for s in (1, 2, 3, 4):
        g = ap.sawtooth(x, s)
        peaks = np.sum((g[1:-1] > g[:-2]) & (g[1:-1] > g[2:]))
        assert peaks == 2 ** (s - 1)
        assert ap.count_teeth(lambda t, s=s: ap.sawtooth(t, s), points=2 ** 10 + 1) == 2 ** (s - 1)
        assert ap.count_linear_pieces(lambda t, s=s: ap.sawtooth(t, s), points=2 ** 10 + 1) == 2 ** s


def test_explicit_relu_network_matches_the_formula():
    net = ap.YarotskySquare(5).double()
    x = torch.rand(200, 1, dtype=torch.float64)
    assert torch.allclose(net(x).squeeze(1), ap.yarotsky_square(x.squeeze(1), 5), atol=1e-12)
    assert sum(isinstance(layer, torch.nn.ReLU) for layer in net.net) == 5
    assert ap.hidden_units(net) == 20


def test_yarotsky_error_decreases_with_depth():
    errors = [ap.yarotsky_sup_error(m, points=2 ** 12 + 1) for m in range(1, 8)]
    assert all(b < a for a, b in itertools.pairwise(errors))


def test_registered_check_passes_and_fails_on_a_wrong_prediction(monkeypatch):
    assert run_check("sawtooth_square_error_exact", quick=True).passed
    real = ap.yarotsky_square
    monkeypatch.setattr(ap, "yarotsky_square", lambda x, m: real(x, max(m - 1, 0)))  # one layer short
    with pytest.raises(CheckFailed, match="2\\^\\(-2m-2\\)"):
        ap.check_sawtooth(True)
    assert not run_check("sawtooth_square_error_exact", quick=True).passed


def test_bad_arguments():
    with pytest.raises(ValueError):
        ap.sawtooth(np.zeros(3), -1)
    with pytest.raises(ValueError):
        ap.YarotskySquare(0)
    with pytest.raises(ValueError, match="multiple"):
        ap.yarotsky_sup_error(5, points=100)


# -------------------------------------------------------------------------------- width rates

@pytest.mark.parametrize("w", [1, 3, 8, 50])
def test_interpolant_of_x_squared_has_sup_error_one_over_4w2(w):
    net = ap.relu_interpolant(square, w)
    assert net.width == w
    assert ap.sup_error(square, net, points=2 * w * 64 + 1) == pytest.approx(1 / (4 * w * w), rel=1e-10)
    knots = np.linspace(0, 1, w + 1)
    assert np.allclose(net(knots), knots ** 2, atol=1e-14)
    module = net.to_module()
    x = torch.linspace(0, 1, 101, dtype=torch.float64).unsqueeze(1)
    with torch.no_grad():
        assert np.allclose(module(x).squeeze(1).numpy(), net(x.squeeze(1).numpy()), atol=1e-13)


@pytest.mark.parametrize("w", [1, 2, 7, 32])
def test_least_squares_l2_error_is_one_over_sqrt180_w2(w):
    ls, interp = ap.relu_least_squares(square, w), ap.relu_interpolant(square, w)
    assert ap.l2_error(square, ls, intervals=w) == pytest.approx(1 / (math.sqrt(180) * w * w), rel=1e-9)
    assert ap.l2_error(square, interp, intervals=w) == pytest.approx(1 / (math.sqrt(30) * w * w), rel=1e-9)
    # the projection is the interpolant shifted down by h^2/6
    x = np.linspace(0, 1, 97)
    assert np.allclose(ls(x), interp(x) - 1 / (6 * w * w), atol=1e-12)


def test_width_rate_errors_decrease_and_fit_minus_two():
    r = ap.width_rate("sin(2πx)", [8, 16, 32, 64])
    for errors in (r.sup_interpolant, r.l2_interpolant, r.l2_least_squares):
        assert np.all(np.diff(errors) < 0)
    assert np.all(r.l2_least_squares <= r.l2_interpolant)
    assert np.all(r.sup_interpolant <= r.bound)
    assert r.fit_sup.slope == pytest.approx(-2, abs=0.05)
    assert r.fit_l2.slope == pytest.approx(-2, abs=0.05)


def test_width_checks_fail_on_a_wrong_exponent_or_a_missing_unit(monkeypatch):
    assert run_check("width_rate_interpolant", quick=True).passed
    assert run_check("width_rate_least_squares", quick=True).passed
    monkeypatch.setattr(ap, "WIDTH_EXPONENT", -1.0)
    with pytest.raises(CheckFailed, match="slope"):
        ap.check_width_interpolant(True)
    with pytest.raises(CheckFailed, match="slope"):
        ap.check_width_least_squares(True)
    monkeypatch.undo()
    real = ap.relu_interpolant

    def one_unit_short(f, width, **kw):
        net = real(f, width, **kw)
        return ap.ShallowReLU(net.inner_weight[:-1], net.inner_bias[:-1], net.outer_weight[:-1], net.outer_bias) \
            if width > 1 else net

    monkeypatch.setattr(ap, "relu_interpolant", one_unit_short)
    with pytest.raises(CheckFailed, match="1/\\(4w\\^2\\)"):
        ap.check_width_interpolant(True)


def test_width_rate_bad_input():
    with pytest.raises(ValueError, match="unknown target"):
        ap.width_rate("cos", [1, 2, 3])
    with pytest.raises(ValueError, match="3 distinct"):
        ap.width_rate("x^2", [4, 4, 8])
    with pytest.raises(ValueError, match="width"):
        ap.relu_interpolant(square, 0)
    with pytest.raises(ValueError, match="interval"):
        ap.relu_interpolant(square, 3, a=1.0, b=0.0)
    with pytest.raises(TypeError, match="function"):
        ap.relu_least_squares("x^2", 3)
    with pytest.raises(ValueError, match="same length|1-D"):
        ap.ShallowReLU(np.ones(3), np.ones(2), np.ones(3), 0.0)
    with pytest.raises(ValueError, match="finite"):
        ap.ShallowReLU(np.ones(2), np.array([0, np.nan]), np.ones(2), 0.0)


# -------------------------------------------------------------------------- pieces, depth, width

def test_count_linear_pieces_on_and_off_the_grid():
    assert ap.count_linear_pieces(lambda x: 3 * x + 1) == 1
    assert ap.count_linear_pieces(lambda x: np.abs(x - 0.5)) == 2  # kink on a grid point
    assert ap.count_linear_pieces(lambda x: np.abs(x - 0.3001) + np.abs(x - 0.7001)) == 3  # kinks inside cells
    with pytest.raises(ValueError, match="points"):
        ap.count_linear_pieces(lambda x: x, points=2)
    with pytest.raises(ValueError, match="grid points"):
        ap.count_linear_pieces(lambda x: np.zeros(3))


@pytest.mark.parametrize("w", [1, 4, 13, 40])
def test_shallow_net_has_at_most_width_plus_one_pieces(w):
    net = ap.random_shallow_net(w, seed=w)
    assert net.pieces() == w + 1 == ap.count_linear_pieces(net)
    rng = np.random.default_rng(w)
    for _ in range(5):  # arbitrary nets: never more than w + 1 pieces
        other = ap.ShallowReLU(rng.standard_normal(w), rng.standard_normal(w), rng.standard_normal(w), 0.0)
        assert other.pieces() <= w + 1
    merged = ap.ShallowReLU(np.ones(2), -np.full(2, 0.5), np.array([1.0, -1.0]), 0.0)  # bends cancel
    assert merged.pieces() == 1


@pytest.mark.parametrize("k", [1, 2, 5, 17])
def test_shifted_interpolant_attains_one_over_8k2(k):
    net = ap.chebyshev_square(k)
    assert net.pieces() == k
    assert ap.sup_error(square, net, points=2 * k * 32 + 1) == pytest.approx(ap.square_pieces_lower_bound(k),
                                                                             rel=1e-10)


def test_best_line_on_an_interval_has_error_length_squared_over_8():
    for a, ell in ((0.0, 1.0), (0.4, 0.2), (-1.0, 3.0)):
        assert ap.best_line_error(square, a, a + ell) == pytest.approx(ell ** 2 / 8, rel=1e-8)


def test_fitted_shallow_nets_respect_the_lower_bound():
    for w in (3, 6):
        for net in (ap.relu_least_squares(square, w), ap.random_knot_least_squares(square, w, seed=1),
                    ap.train_shallow_relu(square, w, steps=100)):
            assert ap.sup_error(square, net) >= ap.square_pieces_lower_bound(net.pieces(tol=0.0))


@pytest.mark.parametrize("m", [1, 2, 3, 6, 10])
def test_shallow_pieces_needed_for_yarotsky_error(m):
    k = ap.shallow_pieces_needed(4.0 ** (-m - 1))
    assert k == math.ceil(2 ** (m - 0.5))
    assert ap.square_pieces_lower_bound(k) <= 4.0 ** (-m - 1)
    assert k == 1 or ap.square_pieces_lower_bound(k - 1) > 4.0 ** (-m - 1)


def test_depth_vs_width_table():
    t = ap.depth_vs_width([1, 2, 3, 4])
    assert t.deep_units.tolist() == [4, 8, 12, 16]
    assert t.deep_pieces.tolist() == [2, 4, 8, 16]
    assert np.allclose(t.deep_error, 4.0 ** (-t.ms - 1), rtol=1e-12)
    assert np.all(t.shallow_error <= 4.0 ** (-t.ms - 1))
    assert np.all(np.diff(t.shallow_width_lower) > 0)


def test_piece_and_depth_checks_fail_when_a_layer_is_dropped(monkeypatch):
    for name in ("relu_linear_pieces", "shallow_square_lower_bound", "depth_vs_width_square"):
        assert run_check(name, quick=True).passed, name
    real_saw, real_net = ap.sawtooth, ap.YarotskySquare
    monkeypatch.setattr(ap, "sawtooth", lambda x, s: real_saw(x, max(s - 1, 0)))
    with pytest.raises(CheckFailed, match="sawtooth"):
        ap.check_linear_pieces(True)
    monkeypatch.setattr(ap, "sawtooth", real_saw)
    monkeypatch.setattr(ap, "YarotskySquare", lambda m: real_net(max(m - 1, 1)))
    with pytest.raises(CheckFailed):
        ap.check_depth_vs_width(True)


@pytest.mark.parametrize("constant", [4.0, 16.0])
def test_lower_bound_check_fails_with_a_wrong_constant(monkeypatch, constant):
    monkeypatch.setattr(ap, "square_pieces_lower_bound", lambda k: 1.0 / (constant * np.asarray(k, dtype=float) ** 2))
    with pytest.raises(CheckFailed):
        ap.check_shallow_lower_bound(True)
    with pytest.raises(CheckFailed):
        ap.check_depth_vs_width(True)


def test_depth_width_bad_input():
    with pytest.raises(ValueError, match="positive integer"):
        ap.square_pieces_lower_bound(0)
    with pytest.raises(ValueError, match="eps"):
        ap.shallow_pieces_needed(0.0)
    with pytest.raises(ValueError, match="slots"):
        ap.random_shallow_net(100, slots=64)


# --------------------------------------------------------------------------- manifold regression

def test_sobolev_field_is_normalised_and_has_the_stated_spectrum():
    g = ap.sobolev_field(1, 1.0, seed=3)
    t = np.linspace(0, 2 * np.pi, 20001)[:-1, None]
    assert np.mean(g(t) ** 2) == pytest.approx(1.0, rel=1e-6)
    radius = np.linalg.norm(g.frequencies, axis=1)
    ratio = g.amplitudes / radius ** -1.5
    assert np.allclose(ratio, ratio[0])
    g2 = ap.sobolev_field(2, 0.75, seed=0, max_freq=6)
    assert g2.dim == 2 and len(g2.frequencies) == len({tuple(k) for k in g2.frequencies})
    assert not any(tuple(-k) in {tuple(j) for j in g2.frequencies} for k in g2.frequencies)  # one of each pair ±k


def test_manifold_regression_data_and_bad_input():
    X, y, f = ap.manifold_regression_data(50, 2, 16, seed=1, noise=0.5)
    assert X.shape == (50, 16) and y.shape == f.shape == (50,)
    assert 0.2 < float((y - f).std()) < 0.8
    X2, y2, _f2 = ap.manifold_regression_data(50, 2, 16, seed=1, noise=0.5)
    assert torch.equal(X, X2) and torch.equal(y, y2)
    with pytest.raises(ValueError, match="noise"):
        ap.manifold_regression_data(10, 1, 4, noise=-1.0)
    with pytest.raises(ValueError, match="smoothness"):
        ap.sobolev_field(1, 0.0)
    with pytest.raises(ValueError, match="max_freq"):
        ap.sobolev_field(5, 1.0)
    with pytest.raises(ValueError, match="too few"):
        ap.fit_relu_regressor(X[:2], y[:2])
    with pytest.raises(ValueError, match="X must be"):
        ap.knn_regressor(X, y[:10])
    with pytest.raises(ValueError, match="embed"):
        ap.ManifoldSettings(intrinsic_dims=(2,), ambient_dims=(3,))
    with pytest.raises(ValueError, match="3 distinct"):
        ap.ManifoldSettings(ns=(64, 128, 256), fit_from=128)


def test_knn_and_net_learn_the_target():
    X, y, _ = ap.manifold_regression_data(400, 1, 4, seed=0, noise=0.3)
    Xq, _, fq = ap.manifold_regression_data(200, 1, 4, seed=99, noise=0.0)
    predict, k = ap.knn_regressor(X, y)
    assert 1 <= k <= 160
    assert float(((predict(Xq) - fq) ** 2).mean()) < 0.5 * float((fq ** 2).mean())
    net, info = ap.fit_relu_regressor(X, y, width=16, max_steps=200, patience=50)
    assert 1 <= info["best_step"] <= 200
    with torch.no_grad():
        assert float(((net(Xq).squeeze(1) - fq) ** 2).mean()) < float((fq ** 2).mean())


def test_manifold_rates_tiny_run_is_cached():
    s = ap.ManifoldSettings(intrinsic_dims=(1,), ambient_dims=(4,), ns=(32, 64, 128), seeds=1, width=8,
                            max_steps=30, patience=10, n_test=50, fit_from=32)
    r = ap.manifold_rates(s)
    assert ap.manifold_rates(s) is r
    c = r.curves[(1, 4)]
    assert c.net.shape == c.knn.shape == (3, 1) and np.all(c.net > 0)
    assert c.predicted == pytest.approx(-2 / 3)
    assert len(r.table()) == 1


def _fake(slopes: dict, smoothness=1.0) -> ap.ManifoldRates:
    s = ap.ManifoldSettings(smoothness=smoothness)
    fit = lambda v: SlopeFit(v, 0.0, v - 0.05, v + 0.05, 6)
    curves = {key: ap.ManifoldCurve(key[0], key[1], np.array(s.ns), np.ones((6, 1)), np.ones((6, 1)), fit(v), fit(v),
                                    ap.predicted_manifold_exponent(key[0], smoothness), np.ones((6, 1)))
              for key, v in slopes.items()}
    return ap.ManifoldRates(s, curves)


TOL = ap.MANIFOLD_TOLERANCES[False]


def test_manifold_comparison_passes_when_the_rate_follows_d():
    good = _fake({(1, 4): -0.70, (1, 16): -0.66, (1, 64): -0.72, (2, 4): -0.50, (2, 16): -0.47, (2, 64): -0.53})
    means = ap.compare_manifold_rates(good, **TOL)
    assert means[1] == pytest.approx(-0.6933, abs=1e-3)


@pytest.mark.parametrize("slopes, match", [
    ({(1, 4): -0.67, (1, 16): -0.40, (1, 64): -0.15, (2, 4): -0.5, (2, 16): -0.5, (2, 64): -0.5}, "spread"),  # follows D
    ({(1, 4): -0.50, (1, 16): -0.50, (1, 64): -0.50, (2, 4): -0.5, (2, 16): -0.5, (2, 64): -0.5}, "steeper|predicted"),
    ({(1, 4): -1.00, (1, 16): -1.00, (1, 64): -1.00, (2, 4): -0.5, (2, 16): -0.5, (2, 64): -0.5}, "predicted"),
])
def test_manifold_comparison_fails_on_wrong_rates(slopes, match):
    with pytest.raises(CheckFailed, match=match):
        ap.compare_manifold_rates(_fake(slopes), **TOL)


def test_manifold_comparison_fails_when_the_prediction_uses_D(monkeypatch):
    measured = {(1, 4): -0.70, (1, 16): -0.66, (1, 64): -0.72, (2, 4): -0.50, (2, 16): -0.47, (2, 64): -0.53}
    result = _fake(measured)
    wrong = {key: ap.ManifoldCurve(c.intrinsic_dim, c.ambient_dim, c.ns, c.net, c.knn, c.fit_net, c.fit_knn,
                                   -2.0 / (2.0 + c.ambient_dim), c.best_steps)  # the exponent of the ambient dimension
             for key, c in result.curves.items()}
    with pytest.raises(CheckFailed, match="predicted"):
        ap.compare_manifold_rates(ap.ManifoldRates(result.settings, wrong), **TOL)


# ----------------------------------------------------------------------- low rank and pruning

def test_eckart_young_identity_and_monotone_error():
    A = np.random.default_rng(0).standard_normal((12, 7))
    s = np.linalg.svd(A, compute_uv=False)
    previous = np.inf
    for k in range(8):
        B = lr.truncated_svd(A, k)
        assert np.linalg.matrix_rank(B) == k
        frob, _spec = lr.eckart_young_error(A, k)
        assert np.sum((A - B) ** 2) == pytest.approx(frob, rel=1e-10, abs=1e-12)
        assert np.linalg.norm(A - B, 2) == pytest.approx(s[k] if k < 7 else 0.0, abs=1e-10)
        assert frob < previous or frob == 0
        previous = frob


def test_data_aware_low_rank_is_exact_on_the_inputs_span():
    rng = np.random.default_rng(1)
    H = rng.standard_normal((50, 3)) @ rng.standard_normal((3, 10))  # inputs in a 3-dim subspace of R^10
    W = rng.standard_normal((8, 10))
    B = lr.data_aware_low_rank(W, H, 3)
    assert np.linalg.matrix_rank(B) <= 3
    assert np.allclose(B @ H.T, W @ H.T, atol=1e-10)
    for k in (1, 2):
        err = np.sum(((W - lr.data_aware_low_rank(W, H, k)) @ H.T) ** 2)
        assert err == pytest.approx(lr.eckart_young_error(W @ H.T, k)[0], rel=1e-9)
        assert err <= np.sum(((W - lr.truncated_svd(W, k)) @ H.T) ** 2) + 1e-9


def test_magnitude_pruning_identity():
    A = np.random.default_rng(2).standard_normal((9, 11))
    for keep in (0.0, 0.25, 0.5, 1.0):
        pruned, mask = lr.magnitude_prune(A, keep)
        assert mask.sum() == math.floor(keep * A.size + 0.5)
        assert np.sum((A - pruned) ** 2) == pytest.approx(lr.pruning_error(A, mask), rel=1e-12, abs=1e-15)
    errors = [np.sum((A - lr.magnitude_prune(A, keep)[0]) ** 2) for keep in (0.1, 0.3, 0.6, 0.9)]
    assert all(b < a for a, b in itertools.pairwise(errors))


def test_lowrank_bad_input():
    A = np.ones((3, 4))
    with pytest.raises(ValueError, match="rank"):
        lr.truncated_svd(A, 4)
    with pytest.raises(ValueError, match="rank"):
        lr.eckart_young_error(A, -1)
    with pytest.raises(ValueError, match="2-D"):
        lr.truncated_svd(np.ones(3), 1)
    with pytest.raises(ValueError, match="non-finite"):
        lr.truncated_svd(np.array([[np.nan, 1.0]]), 1)
    with pytest.raises(ValueError, match="keep"):
        lr.magnitude_prune(A, 1.5)
    with pytest.raises(ValueError, match="shape"):
        lr.pruning_error(A, np.ones((4, 3), dtype=bool))
    with pytest.raises(ValueError, match="column"):
        lr.data_aware_low_rank(A, np.ones((5, 3)), 1)


def _small_mlp(seed=0):
    from tamer_lab.models import MLP

    torch.manual_seed(seed)
    model = MLP(6, 1, hidden=(10, 10)).double()
    X = torch.randn(40, 6, dtype=torch.float64)
    return model, X


def test_perturbation_bound_holds_and_bad_layers_are_refused():
    model, X = _small_mlp()
    for layer in (0, 1, 2):
        for method, amount in (("svd", 1), ("prune", 0.3)):
            small = lr.compress_layer(model, layer, method, amount)
            with torch.no_grad():
                diff = (model(X) - small(X)).abs().squeeze(1).numpy()
            tight, loose = lr.perturbation_bound(model, small, layer, X)
            assert np.all(diff <= tight + 1e-12) and np.all(tight <= loose + 1e-12)
    with pytest.raises(ValueError, match="layer"):
        lr.compress_layer(model, 3, "svd", 1)
    with pytest.raises(ValueError, match="method"):
        lr.compress_layer(model, 0, "quantize", 1)
    with pytest.raises(ValueError, match="inputs"):
        lr.compress_layer(model, 0, "data_svd", 1)
    other = lr.compress_layer(lr.compress_layer(model, 0, "svd", 1), 1, "svd", 1)
    with pytest.raises(ValueError, match="differs"):
        lr.perturbation_bound(model, other, 0, X)


@pytest.fixture
def small_mlp(monkeypatch):
    model, X = _small_mlp(1)
    monkeypatch.setattr(lr, "_cached_mlp", lambda quick: (model, X, torch.zeros(X.shape[0], dtype=torch.float64)))
    monkeypatch.setattr(lr, "_CURVE_CACHE", {})
    monkeypatch.setattr(lr, "COMPRESSION_GRID", {True: {"svd": (1, 3, 6), "data_svd": (1, 3, 6),
                                                        "prune": (0.1, 0.5, 1.0)}})
    return model, X


def test_compression_checks_pass_and_fail_on_wrong_predictions(small_mlp, monkeypatch):
    for name in ("eckart_young_exact", "magnitude_pruning_error_exact", "compressed_mlp_error_bound"):
        assert run_check(name, quick=True).passed, name
    real_ey, real_prune, real_bound = lr.eckart_young_error, lr.pruning_error, lr.perturbation_bound
    monkeypatch.setattr(lr, "eckart_young_error", lambda A, k: real_ey(A, min(k + 1, min(np.shape(A)))))  # off by one
    with pytest.raises(CheckFailed, match="sigma"):
        lr.check_eckart_young(True)
    monkeypatch.setattr(lr, "eckart_young_error", real_ey)
    monkeypatch.setattr(lr, "pruning_error", lambda A, mask: float(np.sum(np.asarray(A)[mask] ** 2)))  # kept squares
    with pytest.raises(CheckFailed, match="pruned"):
        lr.check_pruning(True)
    monkeypatch.setattr(lr, "pruning_error", real_prune)
    real_magnitude = lr.magnitude_prune

    def keep_smallest(A, keep):  # the wrong end of the magnitudes
        A = np.asarray(A)
        mask = np.zeros(A.size, dtype=bool)
        mask[np.argsort(np.abs(A), axis=None)[:math.floor(keep * A.size + 0.5)]] = True
        mask = mask.reshape(A.shape)
        return np.where(mask, A, 0.0), mask

    monkeypatch.setattr(lr, "magnitude_prune", keep_smallest)
    with pytest.raises(CheckFailed):
        lr.check_pruning(True)
    monkeypatch.setattr(lr, "magnitude_prune", real_magnitude)
    monkeypatch.setattr(lr, "perturbation_bound", lambda *a: tuple(b / 20 for b in real_bound(*a)))
    lr._CURVE_CACHE.clear()
    with pytest.raises(CheckFailed, match="bound"):
        lr.check_compressed_bound(True)
