"""Log-log slope fits, bootstrap intervals and the raising checks of tamer_lab.theory.rates."""
import pickle

import numpy as np
import pytest

from tamer_lab.theory.rates import CheckFailed, SlopeFit, check_at_most, check_close, check_rate, fit_slope

X = np.array([100, 200, 400, 800, 1600, 3200], dtype=float)


def _power_law(slope, n_seeds, noise=0.1, seed=0):
    rng = np.random.default_rng(seed)
    return 3.0 * X[:, None] ** slope * np.exp(noise * rng.standard_normal((X.size, n_seeds)))


def test_exact_power_law_is_recovered():
    fit = fit_slope(X, 2.0 * X**-0.5, n_boot=200)
    assert fit.slope == pytest.approx(-0.5, abs=1e-12)
    assert fit.intercept == pytest.approx(np.log(2.0), abs=1e-12)
    assert fit.ci_low == pytest.approx(-0.5) and fit.ci_high == pytest.approx(-0.5)
    assert fit.n_points == X.size
    np.testing.assert_allclose(fit.predict(X), 2.0 * X**-0.5)


def test_noisy_seeds_slope_and_interval_contain_truth():
    fit = fit_slope(X, _power_law(-0.5, n_seeds=20), seed=1)
    assert fit.slope == pytest.approx(-0.5, abs=0.05)
    assert fit.ci_low < -0.5 < fit.ci_high
    assert fit.ci_high - fit.ci_low < 0.2


def test_interval_coverage_over_repetitions():
    # A 95% percentile interval over 8 seeds covers about 88% of the time (the bootstrap is too
    # narrow with few seeds, as documented); assert it is not wildly off.
    hits = [
        (f := fit_slope(X, _power_law(-1.0, n_seeds=8, noise=0.2, seed=s), n_boot=300, seed=s)).ci_low
        <= -1.0 <= f.ci_high
        for s in range(40)
    ]
    assert np.mean(hits) >= 0.75


def test_one_dimensional_pairs_bootstrap():
    y = _power_law(-2.0, n_seeds=1, noise=0.05)[:, 0]
    fit = fit_slope(X, y, n_boot=500)
    assert fit.slope == pytest.approx(-2.0, abs=0.1)
    assert fit.ci_low <= fit.slope <= fit.ci_high
    # a single column is the same as a 1-D y
    assert fit_slope(X, y[:, None], n_boot=500) == fit


def test_point_fit_uses_log_of_mean_over_seeds():
    y = np.column_stack([X**-1.0, 3 * X**-1.0])
    fit = fit_slope(X, y, n_boot=0)
    assert fit.slope == pytest.approx(-1.0)
    assert fit.intercept == pytest.approx(np.log(2.0))
    assert np.isnan(fit.ci_low) and np.isnan(fit.ci_high)


def test_deterministic_given_seed():
    y = _power_law(-0.5, n_seeds=5)
    assert fit_slope(X, y, seed=3) == fit_slope(X, y, seed=3)


def test_str_shows_slope_and_interval():
    fit = SlopeFit(slope=-0.523, intercept=0.0, ci_low=-0.581, ci_high=-0.47, n_points=5)
    assert str(fit) == "slope -0.52 [95% CI -0.58, -0.47]"


def test_check_rate_passes_and_returns_fit():
    fit = check_rate(X, _power_law(-0.5, n_seeds=6), -0.5, tol=0.1)
    assert isinstance(fit, SlopeFit)


def test_check_rate_raises_with_measured_and_predicted():
    with pytest.raises(CheckFailed) as info:
        check_rate(X, _power_law(-0.5, n_seeds=6), -1.0, tol=0.1, name="sgd rate")
    err = info.value
    assert isinstance(err, AssertionError)
    assert err.predicted == -1.0
    assert err.measured == pytest.approx(-0.5, abs=0.05)
    msg = str(err)
    assert "sgd rate" in msg and "-1.000" in msg and f"{err.measured:.3f}" in msg
    assert "tolerance 0.100" in msg and "CI" in msg


@pytest.mark.parametrize(
    "x, y, match",
    [
        (X[:3], X[:4], "same length"),
        ([5.0, 5.0, 5.0], [1.0, 2.0, 3.0], "2 distinct"),
        ([1.0, 2.0, 3.0], [1.0, 0.0, 3.0], r"y\[1\].*positive.*subtract the asymptote"),
        ([1.0, -2.0, 3.0], [1.0, 1.0, 3.0], r"x\[1\].*positive"),
        ([1.0, 2.0, 3.0], [1.0, np.nan, 3.0], r"y\[1\]"),
        ([1.0, 2.0], [1.0, 2.0], "at least 3 points"),
        (np.ones((2, 2)), [1.0, 2.0], "x must be 1-D"),
    ],
)
def test_input_validation(x, y, match):
    with pytest.raises(ValueError, match=match):
        fit_slope(x, y)


def test_validation_of_2d_index_and_options():
    y = np.ones((3, 2))
    y[2, 1] = -1.0
    with pytest.raises(ValueError, match=r"y\[\(2, 1\)\]"):
        fit_slope([1.0, 2.0, 3.0], y)
    with pytest.raises(ValueError, match="level"):
        fit_slope([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], level=95)
    with pytest.raises(ValueError, match="tol"):
        check_rate([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], 1.0, tol=0)
    # two points are fine without a bootstrap, or with replicates
    assert fit_slope([1.0, 2.0], [1.0, 2.0], n_boot=0).slope == pytest.approx(1.0)
    assert fit_slope([1.0, 2.0], [[1.0, 1.1], [2.0, 2.1]]).n_points == 2


def test_check_at_most():
    check_at_most(0.3, 0.5, name="gap")
    check_at_most([0.1, 0.5], [0.2, 0.5], name="gap")
    check_at_most(0.5 + 1e-12, 0.5, name="gap", atol=1e-9)
    with pytest.raises(CheckFailed, match=r"gap: measured 0.7 exceeds the bound 0.5") as info:
        check_at_most(0.7, 0.5, name="gap")
    assert (info.value.measured, info.value.predicted) == (0.7, 0.5)
    with pytest.raises(CheckFailed, match=r"index \(2,\)") as info:
        check_at_most([0.1, 0.6, 0.9], 0.5, name="per-weight error")
    assert info.value.measured == 0.9
    with pytest.raises(CheckFailed):
        check_at_most(float("nan"), 1.0, name="nan fails")


def test_check_failed_pickles_with_its_values():
    err = pickle.loads(pickle.dumps(CheckFailed("bad", measured=1.5, predicted=1.0)))
    assert (str(err), err.measured, err.predicted) == ("bad", 1.5, 1.0)


def test_check_close():
    check_close(1.0 + 1e-9, 1.0, rtol=1e-6, name="closed form")
    check_close([1.0, 2.0], [1.05, 2.0], atol=0.1, name="closed form")
    with pytest.raises(CheckFailed, match=r"measured 1.1 vs predicted 1") as info:
        check_close(1.1, 1.0, rtol=0.01, name="eckart-young")
    assert (info.value.measured, info.value.predicted) == (1.1, 1.0)
    with pytest.raises(CheckFailed):
        check_close(float("nan"), 1.0, atol=1.0, name="nan fails")
    with pytest.raises(ValueError, match="rtol, atol"):
        check_close(1.0, 1.0, name="no tolerance")
