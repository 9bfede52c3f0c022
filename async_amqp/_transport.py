"""Byte streams for plain TCP: on asyncio's transport/protocol API, and on trio's sockets.

anyio's asyncio socket stream pauses reading whenever no ``receive`` is waiting and
resumes it around every wait (two ``epoll_ctl`` calls per wait), and its ``send``
ends with an extra turn of the event loop. For a connection whose reader is
always waiting, both are pure cost: this stream keeps reading enabled, buffers
what arrives until ``receive`` takes it, and returns from ``send`` at once unless
the transport's write buffer is over its high-water mark. What arrives is handed to
the connection in the transport's own callback (:meth:`AsyncioTransportStream.push_to`),
and so is the end of the stream: the connection needs no reader task on asyncio, and
no turn of the event loop is spent waking one per read (6.1 turns per RPC round trip
with a reader task instead of 4.1).

On trio, anyio's socket stream goes through trio's ``SocketStream``, whose every
``send`` that completes at once ends with a yield to the scheduler (one more turn of
the run loop per frame batch sent) and whose ``receive`` first tries a ``recv`` that
fails whenever the reader is caught up. :class:`TrioSocketStream` keeps the socket
anyio connected and moves bytes with the socket's own non-blocking calls: ``send``
returns without yielding once the kernel took everything, ``receive`` waits until the
socket is readable (``trio.lowlevel.wait_readable``), then reads.

A stream is chosen once per connection, where the socket is opened (``_connect``),
and only for plain TCP; TLS uses anyio's streams. Everything above
(:class:`~._connection.AmqpProtocol`) sees an :class:`anyio.abc.ByteStream` either
way. Only public asyncio, trio and anyio APIs are used.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import threading
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

import anyio
import anyio.abc
import sniffio

#: The most one read takes from the kernel.
READ_SIZE = 1 << 18
_local = threading.local()


def read_buffer() -> memoryview:
    """This thread's buffer to read into (all its connections share it).

    ``recv(READ_SIZE)`` allocates a fresh ``READ_SIZE`` object for every read, which
    the allocator maps and unmaps (three system calls and a page fault per read); a
    read into this buffer and a copy of what arrived does not. Reading and copying
    happen without an ``await`` in between, so one buffer serves every connection of
    a thread.
    """
    view: memoryview | None = getattr(_local, "view", None)
    if view is None:
        view = _local.view = memoryview(bytearray(READ_SIZE))
    return view


class _ReadingProtocol(asyncio.BufferedProtocol):
    """Collects incoming data and wakes the one waiting ``receive``/``send``."""

    def __init__(self) -> None:
        self._buffer = read_buffer()
        self.chunks: deque[bytes] = deque()
        #: while set, what arrives goes to it at once instead of to ``chunks``
        self.receiver: Callable[[bytes], None] | None = None
        #: while set, called once when the stream ends (see ``push_to``)
        self.on_end: Callable[[], None] | None = None
        self.eof = False
        self.error: BaseException | None = None
        self.closed = False
        self.read_waiter: asyncio.Future[None] | None = None
        self.write_waiter: asyncio.Future[None] | None = None
        self.writing_paused = False

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._buffer

    def buffer_updated(self, nbytes: int) -> None:
        data = self._buffer[:nbytes].tobytes()
        receiver = self.receiver
        if receiver is not None:
            receiver(data)
            return
        self.chunks.append(data)
        self.wake_reader()

    def eof_received(self) -> bool:
        self.eof = True
        self.wake_reader()
        self.end_pushing()
        return False  # let the transport close itself

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.error = exc
        self.wake_reader()
        self._wake_writer()
        self.end_pushing()

    def end_pushing(self) -> None:
        """The stream ended: stop pushing, and tell the receiver's owner (once)."""
        on_end = self.on_end
        self.receiver = self.on_end = None
        if on_end is not None:
            on_end()

    def pause_writing(self) -> None:
        self.writing_paused = True

    def resume_writing(self) -> None:
        self.writing_paused = False
        self._wake_writer()

    def wake_reader(self) -> None:
        waiter = self.read_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _wake_writer(self) -> None:
        waiter = self.write_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


class AsyncioTransportStream(anyio.abc.ByteStream):
    """An anyio byte stream over an asyncio transport that always reads."""

    def __init__(self, transport: asyncio.Transport, protocol: _ReadingProtocol) -> None:
        self._transport = transport
        self._protocol = protocol
        self._loop = asyncio.get_running_loop()
        self._closing = False

    def _end_error(self) -> Exception:
        """Why the stream ended, as anyio's streams say it: closed here, broken, or EOF."""
        if self._closing:
            return anyio.ClosedResourceError()
        error = self._protocol.error
        if error is not None:
            broken = anyio.BrokenResourceError()
            broken.__cause__ = error
            return broken
        return anyio.EndOfStream()

    async def receive(self, max_bytes: int = 65536) -> bytes:
        """Return what has arrived (at most *max_bytes*), waiting if nothing has."""
        protocol = self._protocol
        chunks = protocol.chunks
        if not chunks:
            if self._closing or protocol.eof or protocol.closed:
                raise self._end_error()
            waiter = self._loop.create_future()
            protocol.read_waiter = waiter
            try:
                await waiter
            finally:
                protocol.read_waiter = None
            if not chunks:
                return await self.receive(max_bytes)
        data = chunks.popleft() if len(chunks) == 1 else b"".join(chunks)
        chunks.clear()
        if len(data) > max_bytes:
            chunks.append(data[max_bytes:])
            data = data[:max_bytes]
        return data

    def push_to(
        self, receiver: Callable[[bytes], None], on_end: Callable[[BaseException], None]
    ) -> None:
        """From now on, hand what arrives to *receiver*, and the stream's end to *on_end*.

        Both run in the event loop's callbacks, outside any task, which saves the turn
        of the loop that waking a reader task would take (and the reader task itself).
        What arrived before this call goes to *receiver* now. *on_end* is called once,
        with the error :meth:`receive` would raise. Neither may raise; to stop, the
        receiver calls :meth:`stop_pushing`. ``receive`` is not used once pushing began.
        """
        protocol = self._protocol
        protocol.receiver = receiver
        protocol.on_end = lambda: on_end(self._end_error())
        chunks = protocol.chunks
        if chunks:
            data = b"".join(chunks)
            chunks.clear()
            receiver(data)
        if protocol.eof or protocol.closed:
            protocol.end_pushing()

    def stop_pushing(self) -> None:
        """Stop handing received bytes (and the stream's end) to the receiver."""
        protocol = self._protocol
        protocol.receiver = protocol.on_end = None

    async def send(self, item: bytes) -> None:
        """Hand *item* to the transport; wait only while its write buffer is full."""
        if self._closing:
            raise anyio.ClosedResourceError
        protocol = self._protocol
        if protocol.closed or self._transport.is_closing():
            raise anyio.BrokenResourceError from protocol.error
        self._transport.write(item)
        while protocol.writing_paused and not protocol.closed:
            waiter = self._loop.create_future()
            protocol.write_waiter = waiter
            try:
                await waiter
            finally:
                protocol.write_waiter = None
        if protocol.closed and protocol.error is not None:
            raise anyio.BrokenResourceError from protocol.error

    def send_nowait(self, item: bytes) -> int:
        """Hand *item* to the transport now unless it is closed or full: how much was taken."""
        protocol = self._protocol
        transport = self._transport
        if self._closing or protocol.closed or protocol.writing_paused or transport.is_closing():
            return 0
        transport.write(item)
        return len(item)

    async def send_eof(self) -> None:
        """Shut down the sending side."""
        self._transport.write_eof()

    async def aclose(self) -> None:
        """Close the connection (without waiting for unsent data, and without yielding)."""
        self.close_now()

    def close_now(self) -> bool:
        """Close at once, without awaiting (the transport sends what it holds): True."""
        self._closing = True
        if not self._transport.is_closing():
            self._transport.close()
        return True

    @property
    def extra_attributes(self) -> dict[Any, Any]:
        return _socket_attributes(self._transport.get_extra_info("socket"))


class TrioSocketStream(anyio.abc.ByteStream):
    """An anyio byte stream over a connected TCP socket, on trio.

    *owner* closes the socket: the anyio stream that connected it, or the trio socket
    :func:`connect_trio_address` connected.
    """

    def __init__(self, sock: socket.socket, owner: anyio.abc.SocketStream | Any) -> None:
        import trio  # only here: trio is optional, and this runs only under trio

        self._owner = owner
        self._sock = sock
        self._buffer = read_buffer()
        self._wait_readable = trio.lowlevel.wait_readable
        self._wait_writable = trio.lowlevel.wait_writable
        self._checkpoint_if_cancelled = trio.lowlevel.checkpoint_if_cancelled
        self._trio_closed = trio.ClosedResourceError
        self._closing = False

    async def receive(self, max_bytes: int = 65536) -> bytes:
        """Wait until the socket is readable, then return what it holds (≤ *max_bytes*)."""
        if self._closing:
            raise anyio.ClosedResourceError
        sock = self._sock
        while True:
            try:
                await self._wait_readable(sock)
                size = sock.recv_into(self._buffer, min(max_bytes, READ_SIZE))
            except BlockingIOError:
                continue
            except (OSError, self._trio_closed) as error:
                raise self._error(error) from error
            if not size:
                raise anyio.EndOfStream
            return self._buffer[:size].tobytes()

    async def send(self, item: bytes) -> None:
        """Send *item*; wait only while the kernel's send buffer is full (no yield otherwise)."""
        await self._checkpoint_if_cancelled()
        if self._closing:
            raise anyio.ClosedResourceError
        sock = self._sock
        view = memoryview(item)
        while True:
            try:
                sent = sock.send(view)
            except BlockingIOError:
                sent = 0
            except OSError as error:
                raise self._error(error) from error
            if sent == len(view):
                return
            view = view[sent:]
            try:
                await self._wait_writable(sock)
            except self._trio_closed as error:
                raise self._error(error) from error

    def send_nowait(self, item: bytes) -> int:
        """Send what the kernel takes of *item* now, without waiting: how much it took.

        0 when nothing could be sent, also when the socket failed: the next ``send``
        raises that.
        """
        if self._closing:
            return 0
        try:
            return self._sock.send(item)
        except OSError:
            return 0

    def _error(self, error: BaseException) -> Exception:
        if self._closing:
            return anyio.ClosedResourceError()
        return anyio.BrokenResourceError()

    async def send_eof(self) -> None:
        """Shut down the sending side."""
        await self._checkpoint_if_cancelled()
        self._sock.shutdown(socket.SHUT_WR)

    async def aclose(self) -> None:
        """Close the socket, waking a task waiting on it (without yielding, unless anyio's)."""
        if not self.close_now():
            await self._owner.aclose()

    def close_now(self) -> bool:
        """Close the socket at once if trio's socket owns it; False if anyio's stream does.

        Closing a trio socket wakes whoever waits on it; anyio's stream is closed by
        awaiting its ``aclose``, which the caller then does.
        """
        self._closing = True
        owner = self._owner
        if isinstance(owner, anyio.abc.SocketStream):
            return False
        owner.close()
        return True

    @property
    def extra_attributes(self) -> Mapping[Any, Callable[[], Any]]:
        if isinstance(self._owner, anyio.abc.SocketStream):
            return self._owner.extra_attributes
        return _socket_attributes(self._sock)


def _socket_attributes(sock: socket.socket) -> dict[Any, Callable[[], Any]]:
    return {
        anyio.abc.SocketAttribute.family: lambda: sock.family,
        anyio.abc.SocketAttribute.local_address: lambda: sock.getsockname(),
        anyio.abc.SocketAttribute.remote_address: lambda: sock.getpeername(),
        anyio.abc.SocketAttribute.raw_socket: lambda: sock,
    }


def plain_tcp_stream(stream: anyio.abc.SocketStream) -> anyio.abc.ByteStream:
    """The stream a plain TCP connection uses: :class:`TrioSocketStream` on trio."""
    if sniffio.current_async_library() == "trio":
        return TrioSocketStream(stream.extra(anyio.abc.SocketAttribute.raw_socket), stream)
    return stream


async def connect_trio_address(host: str, port: int) -> anyio.abc.ByteStream | None:
    """On trio, to an IP address: one non-blocking connect; None elsewhere (use anyio).

    anyio's ``connect_tcp`` races the addresses a name resolves to in a task group of
    its own (a task and a few turns of the run loop per connection); an address needs
    none of that.
    """
    if sniffio.current_async_library() != "trio":
        return None
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    import trio

    family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    trio_socket = trio.socket.from_stdlib_socket(sock)
    try:
        await trio_socket.connect((host, port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except BaseException:
        trio_socket.close()
        raise
    return TrioSocketStream(sock, trio_socket)


async def connect_tcp_fast(host: str, port: int) -> anyio.abc.ByteStream | None:
    """Connect with :class:`AsyncioTransportStream` on asyncio; None elsewhere (use anyio)."""
    if sniffio.current_async_library() != "asyncio":
        return None
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_connection(_ReadingProtocol, host, port)
    return AsyncioTransportStream(transport, protocol)  # asyncio sets TCP_NODELAY itself
