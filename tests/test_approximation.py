"""Yarotsky's sawtooth approximation of x² and its registered check."""
import numpy as np
import pytest
import torch

from tamer_lab.theory import approximation as ap
from tamer_lab.theory.checks import run_check
from tamer_lab.theory.rates import CheckFailed


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


def test_explicit_relu_network_matches_the_formula():
    net = ap.YarotskySquare(5).double()
    x = torch.rand(200, 1, dtype=torch.float64)
    assert torch.allclose(net(x).squeeze(1), ap.yarotsky_square(x.squeeze(1), 5), atol=1e-12)
    assert sum(isinstance(layer, torch.nn.ReLU) for layer in net.net) == 5


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
