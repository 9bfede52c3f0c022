"""docs/api.rst documents the whole public API: every exported name, every channel method."""

from __future__ import annotations

import inspect
import re

import async_amqp

from .snippets import DOCS

_DIRECTIVE = re.compile(
    r"^\s*\.\. (?:auto(?:function|class|exception|method|attribute)|"
    r"py:(?:function|data|exception|attribute|method))::\s+(?P<names>.*)$"
)


def documented_names() -> set[str]:
    """Names with a reference entry in api.rst (multi-signature directives included)."""
    lines = (DOCS / "api.rst").read_text(encoding="utf-8").splitlines()
    names: set[str] = set()
    for index, line in enumerate(lines):
        match = _DIRECTIVE.match(line)
        if match is None:
            continue
        signatures = [match["names"]]
        column = line.index("::") + 3
        for continuation in lines[index + 1 :]:  # further signatures, aligned under the first
            if not continuation.strip() or continuation[:column].strip():
                break
            signatures.append(continuation.strip())
        names.update(re.split(r"[(\s]", signature, maxsplit=1)[0] for signature in signatures)
    return names


def test_every_exported_name_is_documented() -> None:
    missing = set(async_amqp.__all__) - documented_names()
    assert not missing, f"no reference entry in docs/api.rst for {sorted(missing)}"


def test_every_channel_method_is_documented() -> None:
    public = {
        name
        for name, member in inspect.getmembers(async_amqp.Channel)
        if not name.startswith("_") and (callable(member) or isinstance(member, property))
    }
    missing = {f"Channel.{name}" for name in public} - documented_names()
    assert not missing, f"no reference entry in docs/api.rst for {sorted(missing)}"


def test_every_example_is_shown_in_the_docs() -> None:
    pages = "".join(path.read_text(encoding="utf-8") for path in DOCS.glob("*.rst"))
    shown = set(re.findall(r"literalinclude:: \.\./examples/(\w+)\.py", pages))
    scripts = {path.stem for path in (DOCS.parent / "examples").glob("*.py")}
    assert scripts - shown == {"demo"}  # the README's demo has a sentence, not a listing
