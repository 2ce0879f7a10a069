"""The real-task bound checks fail on wrong outcomes (synthetic grids), and their tables and plots work."""
import matplotlib

matplotlib.use("Agg")

import pytest

from tamer_lab.experiments import Results
from tamer_lab.theory import finetune_bounds as fb
from tamer_lab.theory.rates import CheckFailed


def _cert(bound, test_error, random_bound=1.0, n=512, seed=0):
    rec = dict(method="Gaussian head", budget=n // 2, seed=seed, n_train=n, bound=bound, train_error=0.3,
               kl=10.0, test_error_stochastic=test_error, test_error_mean=test_error - 0.03)
    for s in fb.BODY_SCALES:
        rec[f"bound_random_prior_{s:g}"] = random_bound
        rec[f"kl_random_prior_{s:g}"] = 1e5
    return rec


@pytest.fixture
def figures(tmp_path, monkeypatch):
    monkeypatch.setenv("TAMER_LAB_FIGURES", str(tmp_path))
    return tmp_path


def test_certificate_check_passes_and_fails(monkeypatch, figures):
    good = Results([_cert(0.45, 0.35, seed=0), _cert(0.47, 0.36, seed=1)])
    monkeypatch.setattr(fb, "_certificates", lambda quick: good)
    out = fb.check_certificate(True)
    assert "0.45" in out["measured"] and (figures / "pacbayes_certificate.png").is_file()
    monkeypatch.setattr(fb, "_certificates", lambda quick: Results([_cert(1.0, 0.35)]))
    with pytest.raises(CheckFailed, match="vacuous"):
        fb.check_certificate(True)
    monkeypatch.setattr(fb, "_certificates", lambda quick: Results([_cert(0.30, 0.35)]))  # below the test error
    with pytest.raises(CheckFailed, match="below the test error"):
        fb.check_certificate(True)


def test_random_prior_check_fails_when_the_random_prior_certifies(monkeypatch):
    monkeypatch.setattr(fb, "_certificates", lambda quick: Results([_cert(0.45, 0.35)]))
    assert fb.check_random_prior(True)["predicted"].startswith(">= 0.99")
    monkeypatch.setattr(fb, "_certificates", lambda quick: Results([_cert(0.45, 0.35, random_bound=0.6)]))
    with pytest.raises(CheckFailed):
        fb.check_random_prior(True)


def _gap(method, budget, seed, gap, distance, bound=1e8):
    return dict(method=method, budget=budget, seed=seed, train_accuracy=1.0, test_accuracy=1 - gap, gap=gap,
                n_train=2 * budget, gamma=1.0, spectral_bound=bound, spectral_measure=distance * 10,
                spectral_product_over_margin=distance, distance=distance)


def _gaps(order=1, bound=1e8):
    recs = []
    for i, budget in enumerate((16, 64, 256)):
        for seed in (0, 1):
            gap = 0.5 - 0.1 * i - 0.01 * seed
            recs.append(_gap("true labels", budget, seed, gap, 10 + order * 10 * gap, bound))
            recs.append(_gap("random labels", budget, seed, gap + 0.1, 12 + order * 10 * gap, bound))
    return Results(recs)


def test_ranking_check_passes_and_fails(monkeypatch, figures):
    monkeypatch.setattr(fb, "gap_study", lambda settings, progress=False: _gaps())
    out = fb.check_real_task_ranking(True)
    assert "Spearman 1.00" in out["measured"] and "6/6" in out["detail"]
    monkeypatch.setattr(fb, "gap_study", lambda settings, progress=False: _gaps(order=-1))
    with pytest.raises(CheckFailed, match="Spearman"):
        fb.check_real_task_ranking(True)
    monkeypatch.setattr(fb, "gap_study", lambda settings, progress=False: _gaps(bound=0.5))
    with pytest.raises(CheckFailed, match="not vacuous"):
        fb.check_real_task_ranking(True)


def test_tables_and_correlations():
    res = _gaps()
    table = fb.gap_table(res)
    assert table.count("\n") == 1 + 6 and "| random labels | 256 |" in table
    rho = fb.rank_correlations(res)
    assert rho["distance"]["true labels"] == pytest.approx(1.0)
    cert = fb.certificate_table(Results([_cert(0.45, 0.35, seed=0), _cert(0.47, 0.36, seed=1)]))
    assert "| 256 | 512 |" in cert and "0.470 |" in cert


def test_settings_quick_and_full():
    quick, full = fb.bounds_settings(True), fb.bounds_settings(False)
    assert quick.mode == "quick" and full.mode == "full"
    assert max(full.cert_budgets) > max(quick.cert_budgets)
    assert hash(quick) != hash(full)  # settings are hashable (the data cache is keyed by them)
