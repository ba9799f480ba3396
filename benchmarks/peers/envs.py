"""Each framework peer's own virtual environment, made on first use: their pins conflict with ours and with
each other's (MLServer 1.7.1 pins fastapi 0.115 and starlette 0.46, for one).

    python -m benchmarks.peers.envs [mlserver kserve ...]      # make (or check) them without benchmarking

benchmarks/peers/requirements/<peer>.txt lists each environment exactly (``uv pip freeze``), torch==2.14.1
included, as constraints.txt pins it for us. uv installs them: from its cache, on the same file system,
it hard-links files instead of copying them, so five environments holding torch and its CUDA libraries
take the disk space of one. uv itself comes from PyPI into an environment of its own, and takes pip's
configured indexes, so a local mirror works as it does for pip.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
VENVS = HERE / ".venvs"  # ignored by git (benchmarks/peers/.gitignore)
REQUIREMENTS = HERE / "requirements"
UV_VERSION = "0.13.9"


def peers_with_requirements() -> list[str]:
    return sorted(path.stem for path in REQUIREMENTS.glob("*.txt"))


def pip_index_options(pip_config: str) -> list[str]:
    """``pip config list`` output -> the same indexes and links as uv options (pip's choice among them:
    the best match from any index, not the first index that has the package)."""
    options = ["--index-strategy", "unsafe-best-match"]
    seen = set()
    flags = {"index-url": "--index-url", "extra-index-url": "--extra-index-url", "find-links": "--find-links"}
    for line in pip_config.splitlines():
        key, _, value = line.partition("=")
        flag = flags.get(key.rsplit(".", 1)[-1])
        if flag:
            for item in value.strip().strip("'\"").split():
                if (flag, item) not in seen:
                    seen.add((flag, item))
                    options += [flag, item]
    return options


def pip_certificates(pip_config: str) -> dict[str, str]:
    """pip's ``cert`` (a CA bundle, where a proxy re-signs TLS) as the variable uv reads it from."""
    for line in pip_config.splitlines():
        key, _, value = line.partition("=")
        if key.rsplit(".", 1)[-1] == "cert":
            return {"SSL_CERT_FILE": value.strip().strip("'\"")}
    return {}


def _uv() -> Path:
    uv = VENVS / "uv" / "bin" / "uv"
    if not uv.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENVS / "uv")], check=True)
        pip = [str(VENVS / "uv" / "bin" / "python"), "-m", "pip", "install", "--quiet"]
        subprocess.run([*pip, f"uv=={UV_VERSION}"], check=True)
    return uv


def ensure(peer: str) -> Path:
    """The Python interpreter of ``peer``'s environment, made or brought in line with its requirements."""
    requirements = REQUIREMENTS / f"{peer}.txt"
    venv = VENVS / peer
    python = venv / "bin" / "python"
    digest = hashlib.sha256(requirements.read_bytes()).hexdigest()
    stamp = venv / ".requirements-sha256"
    if python.exists() and stamp.exists() and stamp.read_text() == digest:
        return python
    print(f"setting up the {peer} environment in {venv} (once)", file=sys.stderr)
    uv = str(_uv())
    pip_config = subprocess.run(
        [sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True, check=False
    ).stdout
    env = {**os.environ, "UV_CACHE_DIR": str(VENVS / "uv-cache"), **pip_certificates(pip_config)}
    if not python.exists():
        subprocess.run([uv, "venv", "--quiet", "--python", sys.executable, str(venv)], check=True, env=env)
    subprocess.run(
        [uv, "pip", "sync", "--python", str(python), *pip_index_options(pip_config), str(requirements)],
        check=True,
        env=env,
    )
    stamp.write_text(digest)
    return python


if __name__ == "__main__":
    for name in sys.argv[1:] or peers_with_requirements():
        print(name, ensure(name))
