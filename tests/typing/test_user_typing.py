"""mypy --strict on a user's program: ``declared["queue"]`` is a ``str``, no workarounds.

mypy runs in a directory outside the repository with this tree on MYPYPATH (the
install-based check, after ``pip install -e .`` and after a wheel install, is in
.ci/run). The program also runs against the fake broker.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
USER_CODE = Path(__file__).with_name("user_code.py")


def test_mypy_strict_accepts_a_users_program(tmp_path: Path) -> None:
    pytest.importorskip("mypy")
    shutil.copy(USER_CODE, tmp_path / "user_code.py")
    cache = str(tmp_path / ".mypy")
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", cache, "user_code.py"],
        cwd=tmp_path,
        env={**os.environ, "MYPYPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success: no issues found in 1 source file" in result.stdout


def test_the_users_program_runs(tmp_path: Path) -> None:
    shutil.copy(USER_CODE, tmp_path / "user_code.py")
    result = subprocess.run(
        [sys.executable, "user_code.py"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "0", "True", "1"]
