"""environment.yml, pyproject.toml, the Makefile and CI agree with each other."""
import re
from pathlib import Path

import pytest
import yaml

tomllib = pytest.importorskip("tomllib")

ROOT = Path(__file__).resolve().parents[1]


def pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_environment_yml_installs_the_package_with_every_extra():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    deps = env["dependencies"]
    assert any(str(d).startswith("python") for d in deps if isinstance(d, str))
    assert "pip" in deps
    pip = next(d["pip"] for d in deps if isinstance(d, dict))
    extras = set(pyproject()["project"]["optional-dependencies"])
    line = next(p for p in pip if p.startswith("-e ."))
    listed = set(re.search(r"\[(.*)\]", line).group(1).split(","))
    assert listed == extras, f"environment.yml installs extras {listed}, pyproject.toml defines {extras}"
    # torch pinned to the CPU build before the package, and compatible with the declared range
    assert pip.index("torch==2.13.0") < pip.index(line)


def test_python_versions_agree():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    py = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python"))
    minor = py.split("=")[1]
    need = pyproject()["project"]["requires-python"].removeprefix(">=")
    assert tuple(map(int, minor.split("."))) >= tuple(map(int, need.split(".")))


def test_core_dependencies_are_the_documented_ones():
    names = {re.split(r"[<>=!~ \[]", d)[0].lower() for d in pyproject()["project"]["dependencies"]}
    assert {"torch", "transformers", "numpy", "matplotlib", "tqdm", "safetensors"} <= names
    assert "torchvision" not in names


def test_makefile_installs_cpu_torch_first_and_ci_runs_the_readme_test_command():
    make = (ROOT / "Makefile").read_text()
    assert make.index("torch==2.13.0") < make.index('-e ".[notebooks,test]"')
    readme = (ROOT / "README.md").read_text()
    assert "make demo" in readme and "make test" in readme
    assert "make test" in (ROOT / ".ci" / "run").read_text()
