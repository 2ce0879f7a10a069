import os

import pytest

os.environ.setdefault("TAMER_LAB_QUICK", "1")


@pytest.fixture
def tmp_cache(tmp_path, monkeypatch):
    """An empty, private TAMER_LAB_CACHE (for tests that write to the cache)."""
    monkeypatch.setenv("TAMER_LAB_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"
