"""The receive arena of a plain-TCP connection (:mod:`async_amqp_testing._arena`)."""

from __future__ import annotations

import threading

from async_amqp_testing._arena import COPIED_READ, MAX_ARENA, MIN_ARENA, QUIET_READS, ReceiveArena


def read(arena: ReceiveArena, data: bytes) -> tuple[memoryview, int]:
    """One read of *data* in place (it must fit in the room given), as asyncio does it."""
    arena.views = True
    room = arena.free()
    assert len(room) >= len(data)
    room[: len(data)] = data
    view, start = arena.filled(len(data))
    assert isinstance(view, memoryview)
    return view, start


def test_reads_follow_each_other_in_one_arena_and_are_handed_on_read_only() -> None:
    arena = ReceiveArena()
    arena.views = True
    assert len(arena.free()) == MIN_ARENA  # the first arena is small
    first, start = read(arena, b"abc")
    assert (bytes(first), start) == (b"abc", 0)
    second, start = read(arena, b"defg")
    assert (bytes(second), start) == (b"abcdefg", 3)  # from the arena's start
    assert second.obj is first.obj
    assert second.readonly
    assert len(arena.free()) == MIN_ARENA - 7
    assert bytes(first) == b"abc"  # a view handed on is never written again


def test_a_quiet_connection_keeps_small_arenas() -> None:
    arena = ReceiveArena()
    arena.views = True
    seen = set()
    for _ in range(200):
        data, _ = read(arena, b"x" * 300)
        seen.add(len(data.obj))  # type: ignore[arg-type]
    assert seen == {MIN_ARENA}


def fill(arena: ReceiveArena) -> None:
    """Read into the current arena until the next read gets a new one."""
    read(arena, b"f" * len(arena.free()))


def test_the_next_arena_is_sixteen_times_the_largest_read_up_to_the_largest_arena() -> None:
    arena = ReceiveArena()
    arena.views = True
    first, _ = read(arena, b"y" * MIN_ARENA)  # fills the first arena
    assert len(arena.free()) == MIN_ARENA * 16
    data, start = read(arena, b"z" * 1000)
    assert data.obj is not first.obj
    assert start == 0
    fill(arena)  # its largest read: the rest of it, 256 KiB - 1000
    assert len(arena.free()) == MAX_ARENA  # 16 times that, capped
    read(arena, b"q" * 100)
    fill(arena)
    assert len(arena.free()) == MAX_ARENA
    # A quiet spell: an arena filled by reads of 100 bytes; the next one is small again.
    data, _ = read(arena, b"q" * 100)
    while len(arena.free()) != MIN_ARENA:
        read(arena, b"q" * 100)
    assert data.obj is not arena.free().obj


def test_an_arena_is_left_when_less_than_a_sixteenth_of_it_is_free() -> None:
    arena = ReceiveArena(min_size=1600, max_size=1600)
    first, _ = read(arena, b"a" * 1500)
    assert len(arena.free()) == 100  # exactly a sixteenth: still this arena
    read(arena, b"b")
    room = arena.free()  # 99 bytes left: a new arena
    assert len(room) == 1600
    data, start = read(arena, b"c")
    assert data.obj is not first.obj
    assert start == 0


def copy_read(arena: ReceiveArena, data: bytes) -> bytes:
    room = arena.free()
    room[: len(data)] = data
    copied, start = arena.filled(len(data))
    assert isinstance(copied, bytes)
    assert start == 0
    return copied


def test_reads_are_copied_until_large_publishes_arrive_and_again_after_a_quiet_spell() -> None:
    arena = ReceiveArena()
    assert not arena.views  # a new connection: copies
    scratch = arena.free()
    assert len(scratch) == COPIED_READ
    assert copy_read(arena, b"abc") == b"abc"
    assert copy_read(arena, b"xyz") == b"xyz"
    assert ReceiveArena().free().obj is scratch.obj  # one scratch buffer per thread
    arena.read_was(large=False)
    assert not arena.views
    arena.read_was(large=True)  # a read had a large publish: read in place from now
    assert arena.views
    room = arena.free()
    assert room.obj is not scratch.obj  # its own arena
    assert len(room) == MIN_ARENA  # sized by the largest read so far (3 bytes)
    room[:2] = b"hi"
    view, start = arena.filled(2)
    assert (bytes(view), start) == (b"hi", 0)
    for _ in range(QUIET_READS - 1):
        arena.read_was(large=False)
    assert arena.views
    arena.read_was(large=True)  # the spell starts again
    for _ in range(QUIET_READS):
        arena.read_was(large=False)
    assert not arena.views
    assert arena.free().obj is scratch.obj
    assert bytes(view) == b"hi"  # the view handed on is never written again


def test_the_first_arena_read_in_place_is_sized_by_the_copied_reads_before_it() -> None:
    arena = ReceiveArena()
    copy_read(arena, b"c" * 70_000)
    arena.read_was(large=True)
    assert len(arena.free()) == MAX_ARENA  # 16 x 70,000 bytes, capped


def test_scratch_buffers_are_per_thread() -> None:
    rooms = []
    thread = threading.Thread(target=lambda: rooms.append(ReceiveArena().free()))
    thread.start()
    thread.join()
    assert rooms[0].obj is not ReceiveArena().free().obj
