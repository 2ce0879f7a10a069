"""The theory-check registry: register, run, fail, format, with throwaway checks cleaned up after."""
import pytest

from tamer_lab.theory import checks
from tamer_lab.theory.checks import CheckResult, format_table, register, registered, run_all, run_check, to_markdown
from tamer_lab.theory.rates import check_close


@pytest.fixture
def throwaway():
    """Register three checks in notebooks 'zz_a'/'zz_b' and remove them afterwards."""
    before = dict(checks._REGISTRY)
    calls = []

    @register("zz_pass", statement="1 + 1 = 2", source="arithmetic", notebook="zz_b")
    def _pass(quick):
        calls.append(quick)
        return {"predicted": 2.0, "measured": 1.0 + 1.0, "figure": "fig.png", "detail": "ok"}

    @register("zz_fail", statement="pi | 3", source="folklore", notebook="zz_a")
    def _fail(quick):
        check_close(3.14159, 3.0, rtol=1e-3, name="zz_fail")
        return {"predicted": 3.0, "measured": 3.14159}

    @register("zz_crash", statement="never finishes", source="nobody", notebook="zz_b")
    def _crash(quick):
        raise RuntimeError("boom")

    yield calls
    checks._REGISTRY.clear()
    checks._REGISTRY.update(before)


def test_registered_sorted_by_notebook_then_name(throwaway):
    names = [c.name for c in registered() if c.name.startswith("zz_")]
    assert names == ["zz_fail", "zz_crash", "zz_pass"]


def test_run_passing_check(throwaway):
    r = run_check("zz_pass", quick=True)
    assert r.passed and r.predicted == 2.0 and r.measured == 2.0
    assert r.figure == "fig.png" and r.detail == "ok" and r.notebook == "zz_b"
    assert r.seconds >= 0.0
    assert throwaway == [True]


def test_run_failing_and_crashing_checks(throwaway):
    fail = run_check("zz_fail", quick=True)
    assert not fail.passed
    assert fail.measured == pytest.approx(3.14159) and fail.predicted == 3.0
    assert "zz_fail" in fail.detail
    crash = run_check("zz_crash", quick=True)
    assert not crash.passed and crash.measured == "error"
    assert "RuntimeError: boom" in crash.detail


def test_bad_return_value_fails():
    try:
        register("zz_bad", statement="s", source="s", notebook="zz")(lambda quick: 1.0)
        r = run_check("zz_bad", quick=True)
        assert not r.passed and "must return a dict" in r.detail
    finally:
        checks.unregister("zz_bad")


def test_duplicate_name_raises(throwaway):
    with pytest.raises(ValueError, match="already registered"):
        register("zz_pass", statement="s", source="s", notebook="zz")(lambda quick: {})


def test_reregistering_the_same_function_replaces_it(throwaway):
    fn = checks._REGISTRY["zz_pass"].fn
    register("zz_pass", statement="new statement", source="s", notebook="zz_b")(fn)
    assert checks._REGISTRY["zz_pass"].statement == "new statement"


def test_registration_validates_arguments():
    with pytest.raises(ValueError, match="statement"):
        register("zz_x", statement="", source="s", notebook="n")


def test_unknown_name():
    with pytest.raises(ValueError, match="no check named 'zz_missing'.*load_all"):
        run_check("zz_missing", quick=True)


def test_run_all_in_registry_order_and_by_name(throwaway):
    ours = [c.name for c in registered() if c.name.startswith("zz_")]  # registry order, without the heavy checks
    assert ours == ["zz_fail", "zz_crash", "zz_pass"]
    assert [r.name for r in run_all(quick=True, names=ours)] == ours
    assert [r.name for r in run_all(quick=False, names=["zz_pass"])] == ["zz_pass"]
    assert throwaway == [True, False]
    with pytest.raises(ValueError, match="no check named"):
        run_all(quick=True, names=["zz_nope"])


def test_quick_none_reads_environment(throwaway, monkeypatch):
    monkeypatch.setenv("TAMER_LAB_QUICK", "1")
    run_check("zz_pass")
    assert throwaway == [True]


def test_format_table_and_markdown(throwaway):
    results = run_all(quick=True, names=["zz_pass", "zz_fail"])
    table = format_table(results)
    lines = table.splitlines()
    assert lines[0].split() == ["check", "statement", "source", "predicted", "measured", "pass"]
    assert set(lines[1]) <= {"-", " "}
    assert "PASS" in lines[2] and "FAIL" in lines[3]
    assert "3.142" in lines[3]  # floats printed with 4 significant digits
    # columns are aligned: each column starts at the same offset on every line
    start = lines[0].index("source")
    assert lines[2][start:].startswith("arithmetic") and lines[3][start:].startswith("folklore")
    md = to_markdown(results, title="report")
    lines = md.splitlines()
    assert lines[0] == "# report" and "1/2 checks passed." in lines
    assert "| check | statement | source | predicted | measured | pass |" in lines
    assert "pi \\| 3" in md  # pipes escaped
    assert "## Failures" in md and "`zz_fail`" in md


def test_markdown_links_figures_relative_to_the_report(tmp_path):
    fig = tmp_path / "figs" / "a.png"
    fig.parent.mkdir()
    fig.write_bytes(b"png")
    r = CheckResult("a", "claim", "src", 1.0, 1.0, True, figure=str(fig))
    md = to_markdown([r], relative_to=tmp_path)
    assert "![a](figs/a.png)" in md and "## Figures" in md


def test_save_figure_writes_under_the_figures_folder(tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    monkeypatch.setenv("TAMER_LAB_FIGURES", str(tmp_path / "out"))
    fig, ax = plt.subplots()
    ax.plot([0, 1])
    path = checks.save_figure(fig, "demo")
    assert path == str(tmp_path / "out" / "demo.png") and (tmp_path / "out" / "demo.png").stat().st_size > 0
    with pytest.raises(ValueError, match="plain file stem"):
        checks.figure_path("a/b")


def test_format_table_truncates_long_cells():
    r = CheckResult("c", "x" * 200, "s", 1.0, 1.0, True)
    assert "x" * 57 + "..." in format_table([r], max_width=60)
    assert "x" * 61 not in format_table([r], max_width=60)


def test_check_modules_listed():
    assert "tamer_lab.theory.label_scarcity" in checks.CHECK_MODULES
