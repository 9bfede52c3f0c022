"""Every Python example of docs/recovery.rst runs, in a fresh process."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.docpages import DOCS, marked_examples, run_example
from tests.examples.snippets import assert_printed, expected_prints

PAGE = DOCS / "recovery.rst"
EXAMPLES = marked_examples(PAGE, "recovery-example")


def test_every_python_block_is_an_example() -> None:
    blocks = PAGE.read_text(encoding="utf-8").count(".. code-block:: python")
    assert blocks == len(EXAMPLES) > 0


@pytest.mark.parametrize(
    ("kind", "line", "code"), EXAMPLES, ids=[f"line-{line}" for _, line, _ in EXAMPLES]
)
def test_example_runs(tmp_path: Path, kind: str, line: int, code: str) -> None:
    result = run_example(tmp_path, kind, code)
    assert result.returncode == 0, f"docs/recovery.rst:{line}\n{result.stdout}\n{result.stderr}"
    if kind == "pytest":
        assert " passed" in result.stdout
        assert "failed" not in result.stdout
    else:
        where = f"docs/recovery.rst:{line}"
        assert_printed(result.stdout.splitlines(), expected_prints(code), where)
