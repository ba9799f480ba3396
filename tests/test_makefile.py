"""`make install TORCH=...`: the pip commands it would run (`make -n`); PyTorch's index is unreachable."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CPU_INDEX = "https://download.pytorch.org/whl/cpu"
# Run as a make of its own, not a sub-make of `make test` (whose flags and directory lines would leak in).
ENV = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}


def install_commands(venv: Path, *variables: str) -> list[str]:
    """What `make install` would run for a venv at ``venv``, one command a line; nothing is run."""
    result = subprocess.run(
        ["make", "--dry-run", "--always-make", "install", f"VENV={venv}", *variables],
        cwd=ROOT,
        env=ENV,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.splitlines()


def pinned(name: str) -> str:
    return re.search(rf"^{name}==(\S+)", (ROOT / "constraints.txt").read_text(), re.MULTILINE).group(1)


def pip_installs(commands: list[str]) -> list[str]:
    return [c.split(" pip install ", 1)[1] for c in commands if " pip install " in c]


def test_install_torch_cpu_takes_the_pinned_builds_from_the_cpu_index(tmp_path: Path) -> None:
    installs = pip_installs(install_commands(tmp_path / "venv", "TORCH=cpu"))

    torch, torchvision = pinned("torch"), pinned("torchvision")
    assert installs == [
        f"--quiet --disable-pip-version-check --index-url {CPU_INDEX} "
        f"torch=={torch}+cpu torchvision=={torchvision}+cpu",
        "--quiet --disable-pip-version-check -c constraints.txt -e '.[train,dev]'",
    ]


def test_install_default_takes_torch_from_pypi(tmp_path: Path) -> None:
    installs = pip_installs(install_commands(tmp_path / "venv"))

    assert installs == ["--quiet --disable-pip-version-check -c constraints.txt -e '.[train,dev]'"]


def test_install_keeps_the_torch_build_the_venv_was_made_with(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    venv.mkdir()
    (venv / ".torch").write_text("cpu\n")

    commands = install_commands(venv)  # as `make serve` after `make install TORCH=cpu`

    assert any(f"--index-url {CPU_INDEX} " in c for c in commands)
    assert commands[-1] == f"touch {venv}/.installed-cpu"


def test_install_other_index_names_follow_the_same_pattern(tmp_path: Path) -> None:
    installs = pip_installs(install_commands(tmp_path / "venv", "TORCH=cu128"))

    assert f"--index-url https://download.pytorch.org/whl/cu128 torch=={pinned('torch')}+cu128" in installs[0]


@pytest.mark.parametrize("build", ["gpu", "CPU"])
def test_install_refuses_an_unknown_torch_build(tmp_path: Path, build: str) -> None:
    result = subprocess.run(
        ["make", "--dry-run", "install", f"VENV={tmp_path}", f"TORCH={build}"],
        cwd=ROOT,
        env=ENV,
        capture_output=True,
        text=True,
    )

    assert result.returncode == 2
    assert f"TORCH={build}: use default (PyPI's build), cpu, or another PyTorch index name" in result.stderr
