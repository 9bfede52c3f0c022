"""Keeping secrets out of error messages, reprs and logs."""

from __future__ import annotations

import re

__all__ = ["redact_url"]

_USERINFO_PASSWORD = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://[^:/@?#]*):[^@/?#]*@")


def redact_url(url: str) -> str:
    """*url* with its password replaced by ``***`` (``amqp://user:***@host/``).

    Works on URLs too broken to parse, which is when they end up in error messages.

    :param url: the URL, as the user gave it
    """
    return _USERINFO_PASSWORD.sub(r"\1:***@", url)
