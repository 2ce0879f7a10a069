"""Fisher quadratic form, VAT's power iteration and the max-margin bias of adversarial training
(tamer_lab.theory.smoothness): unit tests, and each registered check failing on a wrong prediction."""
import math

import numpy as np
import pytest
import torch

from tamer_lab.adversarial.smart import symmetric_kl
from tamer_lab.adversarial.vat import kl_to
from tamer_lab.theory import smoothness as sm
from tamer_lab.theory.checks import run_check
from tamer_lab.theory.rates import CheckFailed


@pytest.fixture(scope="module")
def point():
    f = sm.toy_classifier(seed=0)
    x = torch.randn(5, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    return f, x, sm.fisher_quadratic_form(f, x)


def test_fisher_form_symmetric_psd_low_rank(point):
    _, _, form = point
    G = form.G
    assert G.shape == (5, 5) and G.dtype == np.float64
    np.testing.assert_allclose(G, G.T, atol=1e-15)
    assert form.eigenvalues.min() > -1e-14 * form.lambda_max
    assert np.sum(form.eigenvalues > 1e-10 * form.lambda_max) <= 3  # rank <= C - 1 = 3
    np.testing.assert_allclose(G @ form.top, form.lambda_max * form.top, atol=1e-14)


def test_kl_is_half_the_quadratic_form_for_tiny_delta(point):
    f, x, form = point
    rng = np.random.default_rng(1)
    for scale in (1e-3, 1e-4):
        delta = scale * rng.standard_normal(5)
        with torch.no_grad():
            kl = float(sm.kl_divergence(f(x[None]), f((x + torch.as_tensor(delta))[None]))[0])
        quad = 0.5 * delta @ form.G @ delta
        assert abs(kl - quad) <= 50 * scale * quad  # relative error O(|delta|)


def test_divergences_match_the_library_float32_versions(point):
    f, x, _ = point
    with torch.no_grad():
        a, b = f(x[None]), f(x[None] + 0.3)
    assert float(sm.kl_divergence(a, b)[0]) == pytest.approx(float(kl_to(a, b)), rel=1e-4)
    assert float(sm.symmetric_kl_divergence(a, b)[0]) == pytest.approx(float(symmetric_kl(a, b)), rel=1e-4)
    assert float(sm.kl_divergence(a, a)[0]) == 0.0


def test_cubic_coefficient_is_odd(point):
    f, x, form = point
    c = sm.cubic_coefficient(f, x, form.top)
    assert c != 0.0 and sm.cubic_coefficient(f, x, -form.top) == pytest.approx(-c, rel=1e-10)


def test_power_iteration_on_a_known_matrix():
    Q, _ = np.linalg.qr(np.random.default_rng(0).standard_normal((4, 4)))
    A = Q @ np.diag([3.0, 2.0, 1.0, 0.5]) @ Q.T
    d0 = np.ones(4)
    dirs = sm.power_iteration(A, d0, 40)
    angles = np.array([sm.angle_between(d, Q[:, 0]) for d in dirs])
    assert angles[-1] < 1e-6
    ratios = np.tan(angles[21:31]) / np.tan(angles[20:30])
    np.testing.assert_allclose(ratios, 2.0 / 3.0, rtol=1e-3)  # tan angle shrinks by lambda_2/lambda_1


def test_vat_power_iteration_finds_the_top_eigenvector_of_a_linear_softmax_model():
    torch.manual_seed(0)
    f = torch.nn.Linear(4, 3).double()
    x = torch.randn(4, dtype=torch.float64)
    form = sm.fisher_quadratic_form(f, x)
    W = f.weight.detach().numpy()
    p = torch.softmax(f(x[None])[0], -1).detach().numpy()
    np.testing.assert_allclose(form.G, W.T @ (np.diag(p) - np.outer(p, p)) @ W, atol=1e-14)
    dirs = sm.vat_power_iteration(f, x, np.ones(4), 60, xi=1e-6)
    assert math.cos(sm.angle_between(dirs[-1], form.top)) > 0.999999


def test_angle_between_is_sign_blind_and_accurate():
    assert sm.angle_between([1.0, 0.0], [-1.0, 1e-9]) == pytest.approx(1e-9, rel=1e-6)
    assert sm.angle_between([1.0, 0.0], [0.0, 2.0]) == pytest.approx(math.pi / 2)


@pytest.mark.parametrize("X, y, n_support", [
    (np.array([[2.0, 0.0], [3.0, 1.0], [-2.0, -3.0]]), np.array([1.0, 1.0, -1.0]), 1),
    (np.array([[2.0, 1.0], [2.0, -1.0], [-3.0, -3.0]]), np.array([1.0, 1.0, -1.0]), 2),
])
def test_max_margin_direction_on_hand_made_data(X, y, n_support):
    # margin = distance from 0 to the convex hull of y_i x_i, here the point (2, 0): direction e_1, margin 2
    u, gamma, alpha = sm.max_margin_direction(X, y)
    np.testing.assert_allclose(u, [1.0, 0.0], atol=1e-10)
    assert gamma == pytest.approx(2.0, rel=1e-10)
    assert np.sum(alpha > 1e-12) == n_support
    assert (y * (X @ u)).min() == pytest.approx(gamma, rel=1e-10)


def test_max_margin_direction_rejects_non_separable_data():
    with pytest.raises(ValueError):
        sm.max_margin_direction(np.array([[1.0, 0.0], [2.0, 0.0]]), np.array([1.0, -1.0]))


@pytest.mark.parametrize("name", ["smart_quadratic_form", "vat_power_iteration_top_eigenvector",
                                  "adversarial_training_max_margin"])
def test_registered_checks_pass_quick(name, tmp_path, monkeypatch):
    monkeypatch.setenv("TAMER_LAB_FIGURES", str(tmp_path))
    r = run_check(name, quick=True)
    assert r.passed, r.detail
    assert r.notebook == "10_adversarial_regularization" and r.figure and (tmp_path / f"{name}.png").exists()


@pytest.fixture
def figures(tmp_path, monkeypatch):
    monkeypatch.setenv("TAMER_LAB_FIGURES", str(tmp_path))


@pytest.mark.parametrize("kwargs", [{"exponent": 2.0}, {"sym_factor": 1.0}])
def test_quadratic_form_check_fails_on_wrong_prediction(kwargs, figures):
    with pytest.raises(CheckFailed):
        sm.check_quadratic_form(True, **kwargs)


def test_quadratic_form_check_fails_on_wrong_fisher(point, figures):
    with pytest.raises(CheckFailed) as info:
        sm.check_quadratic_form(True, fisher=2 * point[2].G)
    assert info.value.measured == pytest.approx(0.5, abs=0.01) and info.value.predicted == 1.0


def test_vat_check_fails_on_wrong_rate_or_fisher(figures):
    with pytest.raises(CheckFailed):
        sm.check_vat_power_iteration(True, rate=2 * math.log(0.3))
    f, x, form, _ = sm._vat_point(True)
    vals = form.eigenvalues.copy()
    vals[1] *= 0.8  # same eigenvectors, wrong gap
    wrong = form.eigenvectors @ np.diag(vals) @ form.eigenvectors.T
    with pytest.raises(CheckFailed):
        sm.check_vat_power_iteration(True, fisher=wrong)


def test_max_margin_check_fails_on_wrong_direction(figures):
    u, _, _ = sm.max_margin_direction(*sm.separable_data())
    c, s = math.cos(0.1), math.sin(0.1)
    with pytest.raises(CheckFailed):
        sm.check_max_margin(True, direction=np.array([[c, -s], [s, c]]) @ u)


def test_worst_case_beats_random_directions_and_aligns_with_top_eigenvector(point):
    f, x, form = point
    rng = np.random.default_rng(3)
    for eps in (1e-2, 0.5):
        value, delta = sm.worst_case_divergence(f, x, eps, starts=np.stack([form.top, -form.top]), restarts=16)
        assert np.linalg.norm(delta) == pytest.approx(eps, rel=1e-12)
        U = rng.standard_normal((2000, 5))
        U /= np.linalg.norm(U, axis=1, keepdims=True)
        with torch.no_grad():
            z = f(x[None]).expand(2000, -1)
            sampled = sm.kl_divergence(z, f(x[None] + eps * torch.as_tensor(U))).max()
        assert value >= float(sampled)
        if eps < 0.1:
            assert sm.angle_between(delta, form.top) < 0.05
