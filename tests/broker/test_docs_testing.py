"""Every Python example of docs/testing.rst runs, in a fresh process.

The page marks each example with ``.. testing-example: pytest`` (a test module,
run by pytest in an empty directory, as a user's project would) or
``.. testing-example: program`` (a script, run with the interpreter).
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PAGE = Path(__file__).resolve().parents[2] / "docs" / "testing.rst"
_MARKER = re.compile(r"^\.\. testing-example: (?P<kind>pytest|program)\s*$")


def _examples() -> list[tuple[str, int, str]]:
    lines = PAGE.read_text(encoding="utf-8").splitlines()
    examples = []
    for number, line in enumerate(lines):
        match = _MARKER.match(line)
        if match is None:
            continue
        start = next(
            i for i in range(number + 1, len(lines)) if lines[i].startswith(".. code-block::")
        )
        body = []
        for text in lines[start + 1 :]:
            if text.strip() and not text.startswith("    "):
                break
            body.append(text)
        examples.append((match["kind"], start + 1, textwrap.dedent("\n".join(body)).strip()))
    return examples


EXAMPLES = _examples()


def test_every_python_block_is_an_example() -> None:
    blocks = PAGE.read_text(encoding="utf-8").count(".. code-block:: python")
    assert blocks == len(EXAMPLES) > 0


@pytest.mark.parametrize(
    ("kind", "line", "code"), EXAMPLES, ids=[f"line-{line}" for _, line, _ in EXAMPLES]
)
def test_example_runs(tmp_path: Path, kind: str, line: int, code: str) -> None:
    if kind == "pytest":
        (tmp_path / "test_example.py").write_text(code + "\n")
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    else:
        (tmp_path / "example.py").write_text(code + "\n")
        command = [sys.executable, "example.py"]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"docs/testing.rst:{line}\n{result.stdout}\n{result.stderr}"
    if kind == "pytest":
        assert " passed" in result.stdout
        assert "failed" not in result.stdout
