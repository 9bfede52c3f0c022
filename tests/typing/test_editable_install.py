"""The README's ``pip install -e .`` gives an install mypy can follow.

A fresh virtualenv gets the project installed editable, with its dependencies; the
install must be a ``.pth`` path entry, not an import hook, and ``mypy --strict
--python-executable`` must find the packages through it. Installing needs the
package index (setuptools for the build, anyio and pamqp); the test is skipped when
the index cannot be reached.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
USER_CODE = Path(__file__).with_name("user_code.py")


def _clean_env() -> dict[str, str]:
    """This environment without the variables that would put the tree on sys.path."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MYPYPATH")}


def test_editable_install_is_a_path_mypy_follows(tmp_path: Path) -> None:
    pytest.importorskip("mypy")
    venv.create(tmp_path / "venv", with_pip=True)
    python = tmp_path / "venv" / "bin" / "python"
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "-e", str(ROOT)],
        capture_output=True,
        text=True,
        timeout=600,
        env=_clean_env(),
    )
    if install.returncode != 0 and "No matching distribution" in install.stderr:
        pytest.skip(f"cannot fetch the build backend: {install.stderr.strip()[-300:]}")
    assert install.returncode == 0, install.stderr
    (site,) = (tmp_path / "venv" / "lib").glob("python3*/site-packages")
    pth = [path.read_text().strip() for path in site.glob("__editable__*.pth")]
    assert pth == [str(ROOT)]
    assert not list(site.glob("__editable__*finder*.py"))  # no import hook
    shutil.copy(USER_CODE, tmp_path / "user_code.py")
    mypy = [sys.executable, "-m", "mypy", "--strict", "--no-incremental"]
    check = subprocess.run(
        [*mypy, "--python-executable", str(python), "user_code.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        env=_clean_env(),
    )
    assert check.returncode == 0, check.stdout + check.stderr
