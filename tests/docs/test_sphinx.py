"""The documentation builds with every cross-reference to this project's names resolved.

``sphinx -n -W`` (nitpicky, warnings are errors), as CI builds it; and every name
:mod:`async_amqp_testing` exports, the inspection result types included, has a
reference entry.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import async_amqp_testing

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_sphinx_nitpicky_build_is_clean(tmp_path: Path) -> None:
    pytest.importorskip("sphinx")
    command = [sys.executable, "-m", "sphinx", "-n", "-W", "-q", "-E", "-b", "html"]
    result = subprocess.run(
        [*command, str(DOCS), str(tmp_path / "html")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "WARNING" not in result.stderr


def test_every_testing_export_has_a_reference_entry() -> None:
    pages = "".join(
        (DOCS / name).read_text(encoding="utf-8") for name in ("testing.rst", "tls.rst")
    )
    entries = re.findall(r"^\.\. (?:auto\w+|py:\w+):: (?:[\w.]+\.)?(\w+)", pages, re.M)
    member_lists = re.findall(r"^\.\. automodule:: [\w.]+\n   :members: ([^\n]+)", pages, re.M)
    documented = set(entries) | set(re.findall(r"\w+", " ".join(member_lists)))
    missing = set(async_amqp_testing.__all__) - documented
    # ConnectionRef is a type alias named in FakeBroker's signatures, not a class
    assert missing <= {"ConnectionRef"}, sorted(missing)
