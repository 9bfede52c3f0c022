"""Running pytest on a bare user project (no pyproject, no conftest) with pytester."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: A user's conftest that runs every anyio test on asyncio and trio.
BOTH_BACKENDS_CONFTEST = """
import pytest


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request):
    return request.param
"""

#: A user's conftest that runs anyio tests on asyncio only.
ASYNCIO_ONLY_CONFTEST = """
import pytest


@pytest.fixture
def anyio_backend():
    return "asyncio"
"""


def readme_testing_snippet() -> str:
    """The README's testing snippet, verbatim."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", readme, flags=re.DOTALL)
    (snippet,) = [block for block in blocks if "fake_broker" in block]
    return str(snippet)


def run_bare(
    pytester: pytest.Pytester, *args: str, without_pytest_asyncio: bool = True
) -> pytest.RunResult:
    """Run pytest in a subprocess in the bare project (pytest-asyncio blocked by default)."""
    assert not (pytester.path / "pyproject.toml").exists()
    extra = ["-p", "no:asyncio"] if without_pytest_asyncio else []
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", *extra, *args, timeout=180)


def outcomes(result: pytest.RunResult) -> dict[str, int]:
    """The outcome counts, with the output in the assertion message when it fails."""
    parsed = result.parseoutcomes()
    assert result.ret == 0 or parsed.get("failed"), result.stdout.str() + result.stderr.str()
    return parsed
