"""Every Python example of docs/testing.rst runs, in a fresh process.

The page marks each example with ``.. testing-example: pytest`` (a test module,
run by pytest in an empty directory, as a user's project would) or
``.. testing-example: program`` (a script, run with the interpreter).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.docpages import DOCS, marked_examples, run_example

PAGE = DOCS / "testing.rst"
EXAMPLES = marked_examples(PAGE, "testing-example")


def test_every_python_block_is_an_example() -> None:
    blocks = PAGE.read_text(encoding="utf-8").count(".. code-block:: python")
    assert blocks == len(EXAMPLES) > 0


@pytest.mark.parametrize(
    ("kind", "line", "code"), EXAMPLES, ids=[f"line-{line}" for _, line, _ in EXAMPLES]
)
def test_example_runs(tmp_path: Path, kind: str, line: int, code: str) -> None:
    result = run_example(tmp_path, kind, code)
    assert result.returncode == 0, f"docs/testing.rst:{line}\n{result.stdout}\n{result.stderr}"
    if kind == "pytest":
        assert " passed" in result.stdout
        assert "failed" not in result.stdout
