"""Helpers of the TLS tests: waiting for a broker log line, raw TLS bytes, clear errors."""

from __future__ import annotations

import contextlib
import logging
import ssl

import anyio
import anyio.abc

import async_amqp


class LogWaiter(logging.Handler):
    """Collects the broker's log messages; :meth:`wait_for` waits for one (no polling)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []
        self._changed = anyio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())
        self._changed.set()  # records come from the broker, in the test's event loop

    async def wait_for(self, text: str) -> str:
        """Return the first message containing *text*, waiting for it if needed."""
        with anyio.fail_after(30):
            while True:
                for message in self.messages:
                    if text in message:
                        return message
                self._changed = anyio.Event()
                await self._changed.wait()


def client_hello(server_hostname: str = "localhost") -> bytes:
    """The bytes of a real TLS ClientHello (the start of a handshake)."""
    context = ssl.create_default_context()
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname=server_hostname)
    with contextlib.suppress(ssl.SSLWantReadError):  # it waits for the ServerHello
        tls.do_handshake()
    return outgoing.read()


async def read_until_closed(stream: anyio.abc.ByteStream) -> bytes:
    """Read until the broker closes (or half-closes) the stream; return what came."""
    received = b""
    with anyio.fail_after(30):
        while True:
            try:
                received += await stream.receive()
            except (anyio.EndOfStream, anyio.BrokenResourceError):
                return received


def assert_clear_tls_error(error: async_amqp.TLSError, *words: str) -> None:
    """The error names its cause in words, and no anyio internal leaks out of it."""
    text = str(error)
    for word in words:
        assert word in text, text
    assert "BrokenResourceError" not in text, text
    assert "EndOfStream" not in text, text
    assert not isinstance(error.__cause__, anyio.BrokenResourceError | anyio.EndOfStream)
