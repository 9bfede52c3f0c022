"""Packaging as a user meets it: the wheel's metadata and license, install instructions.

The wheel is built from this tree with pip (``pip wheel --no-deps .``), as the docs tell
users to; building needs setuptools from the package index (pip's build isolation).
"""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

from async_amqp._core.handshake import build_client_properties

ROOT = Path(__file__).resolve().parents[1]


def test_client_properties_advertise_no_other_projects_address() -> None:
    properties = build_client_properties("1.0", None)
    assert "pypi.org" not in repr(properties)
    assert not re.search(r"https?://", repr(properties))


def test_docs_never_install_the_index_project_of_the_same_name() -> None:
    pages = [*sorted((ROOT / "docs").glob("*.rst")), ROOT / "README.md"]
    wrong = re.compile(r"pip install +['\"]?async[_-]amqp(?![\w./*-])")
    offenders = [
        f"{page.name}: {line.strip()}"
        for page in pages
        for line in page.read_text(encoding="utf-8").splitlines()
        if wrong.search(line) and "from the package index" not in line
    ]
    assert offenders == []


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel built from this tree."""
    out = tmp_path_factory.mktemp("wheel")
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", str(ROOT), "-w", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if result.returncode != 0 and "No matching distribution" in result.stderr:
        pytest.skip(f"cannot fetch the build backend: {result.stderr.strip()[-300:]}")
    assert result.returncode == 0, result.stderr
    (built,) = out.glob("async_amqp-*.whl")
    return built


def test_wheel_ships_the_license_and_typed_markers(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert any(name.endswith(".dist-info/licenses/LICENSE") for name in names)
    assert "async_amqp/py.typed" in names
    assert "async_amqp_testing/py.typed" in names
    assert {name.split("/")[0] for name in names if "/" in name} == {
        "async_amqp",
        "async_amqp_testing",
        wheel.name.split("-py3")[0] + ".dist-info",
    }


def test_wheel_metadata(wheel: Path) -> None:
    archive = zipfile.ZipFile(wheel)
    (metadata_name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
    metadata = Parser().parsestr(archive.read(metadata_name).decode())
    assert metadata["License-Expression"] == "BSD-3-Clause"
    assert metadata["Requires-Python"] == ">=3.11"
    classifiers = metadata.get_all("Classifier") or []
    assert "Typing :: Typed" in classifiers
    assert "Programming Language :: Python :: 3.11" in classifiers
    requirements = metadata.get_all("Requires-Dist") or []
    assert [r for r in requirements if 'extra == "tls"' in r] == ['trustme>=1.1; extra == "tls"']
    assert "tls" in (metadata.get_all("Provides-Extra") or [])
