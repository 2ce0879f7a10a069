"""Notebook hygiene: kernelspec python3, kept outputs carry execution counts, each has its theory note."""
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks():
    assert NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_hygiene(path):
    nb = json.loads(path.read_text())
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert code, "a notebook without code cells"
    for i, cell in enumerate(code):
        if cell.get("outputs"):
            assert cell.get("execution_count") is not None, f"code cell {i} keeps outputs without an execution count"
        assert "tags" not in cell.get("metadata", {}) or not set(cell["metadata"]["tags"]) & {"nbval-skip", "nbval-ignore-output"}, \
            "mark nbval behaviour with comments, not tags"
    assert any(c.get("outputs") for c in code), "commit notebooks executed (full mode)"
    counts = [c["execution_count"] for c in code if c.get("execution_count") is not None]
    assert counts == sorted(counts), "cells were executed out of order"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_each_notebook_has_its_theory_note(path):
    assert (ROOT / "theory" / f"{path.stem}.md").is_file()


def test_every_registered_check_is_required_in_its_notebook():
    from tamer_lab.theory.checks import load_all, registered

    load_all()
    for check in registered():
        path = ROOT / "notebooks" / f"{check.notebook}.ipynb"
        assert path.is_file(), f"check {check.name!r} names notebook {check.notebook!r}, which does not exist"
        source = "".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code")
        assert f'"{check.name}"' in source, f"notebook {path.name} does not run its check {check.name!r}"
