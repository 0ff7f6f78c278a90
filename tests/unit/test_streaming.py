"""Members inflated while a wheel downloads (wheels.MemberStream) and how read_wheel uses them."""

from __future__ import annotations

import asyncio
import gc
import io
import random
import struct
import zipfile
import warnings
import zlib
from collections.abc import Callable, Mapping

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyemscripten.errors import NetworkError, RecordError, WheelError
from pyemscripten.index_client import RetryPolicy, get_ok
from pyemscripten.seams import BodyPieces, ByteProgress, Hasher, Response, Transport
from pyemscripten.wheels import (
    MemberStream,
    UnpackedWheel,
    open_wheel,
    open_wheel_async,
    read_wheel,
)
from tests.support.wheels import CountingHasher, make_wheel, with_crc
from tests.unit.fake_index import no_sleep

FILES = {
    "pkg/__init__.py": "from .core import answer\n",
    "pkg/core.py": "def answer():\n    return 42\n" * 200,  # deflates well
    "pkg/data.bin": bytes(range(256)) * 40,
}


def streamed(data: bytes, piece: int) -> MemberStream:
    stream = MemberStream()
    for start in range(0, len(data), piece):
        stream.feed(start, data[start:start + piece])
    return stream


def same_archive(data: bytes, stream: MemberStream, filename: str = "pkg-1.0-py3-none-any.whl") -> bool:
    """Whether read_wheel takes the same members with the stream's as without them."""
    return read_wheel(filename, data, streamed=stream).members == read_wheel(filename, data).members


def test_members_inflate_as_their_last_byte_arrives() -> None:
    wheel = make_wheel("pkg", files=FILES)
    infos = zipfile.ZipFile(io.BytesIO(bytes(wheel))).infolist()
    assert infos[0].filename == "pkg/__init__.py"
    stream = MemberStream()
    first_member_end = infos[1].header_offset
    stream.feed(0, bytes(wheel)[:first_member_end - 1])
    assert stream.members == {}
    stream.feed(first_member_end - 1, bytes(wheel)[first_member_end - 1:first_member_end])
    assert [m.content for m in stream.members.values()] == [FILES["pkg/__init__.py"].encode()]
    stream.feed(first_member_end, bytes(wheel)[first_member_end:])
    # Every member (the dist-info files too); the central directory stops it, not an error.
    assert sorted(stream.members) == [info.header_offset for info in infos]


@settings(max_examples=40, deadline=None)
@given(piece=st.integers(min_value=1, max_value=5000))
def test_read_wheel_takes_streamed_members_and_gives_the_same_archive(piece: int) -> None:
    wheel = make_wheel("pkg", files=FILES)
    data = bytes(wheel)
    stream = streamed(data, piece)
    archive = read_wheel(wheel.filename, data, streamed=stream)
    assert archive.members == read_wheel(wheel.filename, data).members
    early = {m.content for m in stream.members.values()}
    # Taken as they are, not inflated again.
    assert all(any(content is e for e in early) for content in archive.members.values())


def test_a_member_the_central_directory_disagrees_with_is_read_from_the_body() -> None:
    # The stream saw one body; the body read at the end differs in one member (same size,
    # so every offset is the same): its CRC-32 in the central directory tells them apart.
    before = make_wheel("pkg", files=FILES)
    after = make_wheel("pkg", files={**FILES, "pkg/data.bin": bytes(reversed(range(256))) * 40})
    assert len(bytes(before)) == len(bytes(after))
    archive = read_wheel(after.filename, bytes(after), streamed=streamed(bytes(before), 700))
    assert archive.members["pkg/data.bin"] == bytes(reversed(range(256))) * 40
    assert archive.members == read_wheel(after.filename, bytes(after)).members


def test_streamed_members_are_crc_checked_where_record_does_not_vouch_for_them() -> None:
    # Streamed or not, the same rule (test_wheels: CRC-32): RECORD itself is checked.
    wheel = make_wheel("pkg", files=FILES)
    broken = with_crc(wheel, "pkg-1.0.dist-info/RECORD", 0x12345678)
    stream = streamed(broken, 700)
    assert len(stream.members) == len(zipfile.ZipFile(io.BytesIO(broken)).namelist())
    with pytest.raises(WheelError, match="bad CRC-32"):
        asyncio.run(open_wheel_async(wheel.filename, broken, CountingHasher(), streamed=stream))


def test_a_retry_starts_over() -> None:
    data = bytes(make_wheel("pkg", files=FILES))
    stream = MemberStream()
    stream.feed(0, b"<html>503 Service Unavailable</html>")  # the failed attempt's body
    for start in range(0, len(data), 999):
        stream.feed(start, data[start:start + 999])
    assert len(stream.members) == len(zipfile.ZipFile(io.BytesIO(data)).namelist())


def test_a_gap_garbage_or_a_data_descriptor_stops_it_without_raising() -> None:
    data = bytes(make_wheel("pkg", files=FILES))
    gap = MemberStream()
    gap.feed(0, data[:10])
    gap.feed(20, data[20:])
    assert gap.members == {}

    garbage = MemberStream()
    garbage.feed(0, b"PK\x03\x04" + b"\xff" * 200)
    garbage.feed(204, b"\x00" * 100)
    assert garbage.members == {}

    # zipfile writes a data descriptor (sizes after the data) when the output cannot seek.
    class Unseekable(io.RawIOBase):
        def __init__(self) -> None:
            self.out = bytearray()

        def writable(self) -> bool:
            return True

        def write(self, b: bytes) -> int:  # type: ignore[override]
            self.out += b
            return len(b)

    sink = Unseekable()
    with zipfile.ZipFile(sink, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in FILES.items():
            archive.writestr(name, text)
    described = MemberStream()
    described.feed(0, bytes(sink.out))
    assert described.members == {}


def test_a_bomb_inflates_no_further_than_its_declared_size() -> None:
    # A member that claims 10 bytes but inflates to a megabyte is not taken.
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("bomb.txt", b"\0" * 1_000_000)
    data = bytearray(out.getvalue())
    data[22:26] = (10).to_bytes(4, "little")  # the local header's uncompressed size
    stream = MemberStream()
    stream.feed(0, bytes(data))
    assert stream.members == {}


@pytest.mark.parametrize("piece", [1, 333, 10**6])
def test_members_hashed_while_streaming_are_not_hashed_again(piece: int) -> None:
    wheel = make_wheel("pkg", files=FILES)
    data = bytes(wheel)
    hasher = CountingHasher()

    async def download_then_open() -> UnpackedWheel:
        stream = MemberStream(hasher)
        for start in range(0, len(data), piece):  # as the transport would, inside the event loop
            stream.feed(start, data[start:start + piece])
            await asyncio.sleep(0)
        return await open_wheel_async(wheel.filename, data, hasher, streamed=stream)

    got = asyncio.run(download_then_open())
    plain = open_wheel(wheel.filename, data)
    assert (got.files, got.sha256) == (plain.files, plain.sha256)
    hashed = [bytes(b) for b in hasher.seen]
    recorded = [content for _, _, content in got.files]
    # Every recorded file exactly once (RECORD itself may be hashed too while streaming).
    assert all(hashed.count(content) == 1 for content in recorded)


def test_a_tampered_member_is_caught_with_streamed_digests() -> None:
    wheel = make_wheel("pkg", files=FILES, bad_record="pkg/core.py")
    data = bytes(wheel)

    async def download_then_open() -> UnpackedWheel:
        stream = MemberStream(Hasher())
        stream.feed(0, data)
        return await open_wheel_async(wheel.filename, data, Hasher(), streamed=stream)

    with pytest.raises(RecordError, match="pkg/core.py"):
        asyncio.run(download_then_open())


def test_a_member_over_the_inflation_budget_is_left_for_the_end() -> None:
    # 16 MB of zeros deflate to ~16 kB: far more than RATIO times the bytes received. The
    # stream skips it (a body not yet verified could be a bomb); read_wheel inflates it at
    # the end, after the body's hash was checked, and the archive is the same.
    zeros = b"\0" * (16 << 20)
    wheel = make_wheel("pkg", files={**FILES, "pkg/zeros.bin": zeros})
    data = bytes(wheel)
    stream = streamed(data, 4096)
    assert zeros not in [m.content for m in stream.members.values()]
    assert sum(m.size for m in stream.members.values()) <= MemberStream.RATIO * len(data) + MemberStream.ALLOWANCE
    assert len(stream.members) == len(zipfile.ZipFile(io.BytesIO(data)).namelist()) - 1  # the others still stream
    assert same_archive(data, stream, wheel.filename)


def test_each_try_starts_the_stream_over() -> None:
    # The first try streams half the wheel, then breaks; the second answers without
    # streaming at all (on_data is a hint). Nothing of the first try may survive.
    data = bytes(make_wheel("pkg", files=FILES))
    other = bytes(make_wheel("pkg", files={**FILES, "pkg/core.py": "def answer():\n    return 41\n" * 200}))

    class BreaksOnce(Transport):
        tries = 0

        async def get(self, url: str, headers: Mapping[str, str] | None = None,
                      on_progress: ByteProgress | None = None, on_data: BodyPieces | None = None) -> Response:
            self.tries += 1
            if self.tries == 1:
                assert on_data is not None
                on_data(0, other[:len(other) // 2])
                raise NetworkError(url, "connection reset")
            return Response(url, 200, data)

    stream = MemberStream()

    async def fetch() -> Response | None:
        return await get_ok(BreaksOnce(), "https://files.test/pkg.whl", project="pkg", what="wheel",
                            retry=RetryPolicy(attempts=2, backoff=0), on_data=stream.feed, sleep=no_sleep)

    assert asyncio.run(fetch()) is not None
    assert stream.members == {}


def test_feed_never_raises_and_failed_hashing_is_not_logged() -> None:
    data = bytes(make_wheel("pkg", files=FILES))

    class Broken(Hasher):
        async def sha256(self, blobs):  # type: ignore[no-untyped-def]
            raise RuntimeError("no hashing today")

    # No event loop at all (hashing cannot start): the stream stops, quietly.
    MemberStream(Hasher()).feed(0, data)

    reported: list[object] = []

    async def main() -> dict[int, bytes]:
        asyncio.get_running_loop().set_exception_handler(lambda loop, context: reported.append(context))
        stream = MemberStream(Broken())
        stream.feed(0, data)
        await asyncio.sleep(0.01)
        known = await stream.digests()
        failing = MemberStream(Broken())
        failing.feed(0, data)  # never asked for its digests: a download that failed
        await asyncio.sleep(0.01)
        failing.close()
        del failing
        gc.collect()
        return known

    assert asyncio.run(main()) == {}
    assert reported == []


def _noise(size: int, seed: int = 7) -> bytes:
    """Bytes that do not deflate: a member that stays large in the archive."""
    return random.Random(seed).randbytes(size)


def _member_span(data: bytes, name: str) -> tuple[int, int]:
    """Where ``name``'s compressed bytes start and end in the archive."""
    info = zipfile.ZipFile(io.BytesIO(data)).getinfo(name)
    start = info.header_offset + 30 + len(info.orig_filename.encode()) + len(info.extra)
    return start, start + info.compress_size


def test_a_large_member_inflates_piece_by_piece_as_it_arrives() -> None:
    # 200 kB that do not deflate, then 300 kB that do: over MemberStream.PARTIAL compressed,
    # so its pieces are inflated as they come in, and little is left when its last byte does.
    big = _noise(200_000) + b"def answer():\n    return 42\n" * 10_000
    wheel = make_wheel("pkg", files={**FILES, "pkg/big.bin": big})
    data = bytes(wheel)
    begin, end = _member_span(data, "pkg/big.bin")
    assert end - begin >= MemberStream.PARTIAL
    stream = MemberStream()
    stream.feed(0, data[:begin + 150_000])
    inflated = stream._partial.produced
    assert inflated >= 140_000  # most of what came in is inflated already
    stream.feed(begin + 150_000, data[begin + 150_000:end - 1])
    assert big not in [m.content for m in stream.members.values()]
    stream.feed(end - 1, data[end - 1:])
    assert big in [m.content for m in stream.members.values()]
    assert same_archive(data, stream, wheel.filename)


@settings(max_examples=15, deadline=None)
@given(piece=st.integers(min_value=500, max_value=120_000))
def test_a_large_member_streamed_in_any_pieces_gives_the_same_archive(piece: int) -> None:
    big = _noise(100_000) + b"0123456789" * 30_000
    data = bytes(make_wheel("pkg", files={**FILES, "pkg/big.bin": big}))
    stream = streamed(data, piece)
    assert big in [m.content for m in stream.members.values()]
    assert same_archive(data, stream)


def _fed_within_budget(data: bytes, piece: int, stream: MemberStream | None = None,
                       each: Callable[[MemberStream, int], None] = lambda stream, at: None) -> MemberStream:
    """``data`` fed in pieces to ``stream`` (default: a new one), the budget checked after
    each: what the stream inflated, dropped members' included, is at most RATIO times what
    came in, plus ALLOWANCE; then ``each(stream, at)``."""
    stream = stream if stream is not None else MemberStream()
    for at in range(0, len(data), piece):
        stream.feed(at, data[at:at + piece])
        part = stream._partial
        inflated = stream._inflated + (part.produced if part is not None else 0)
        assert inflated <= stream.RATIO * min(len(data), at + piece) + stream.ALLOWANCE
        each(stream, at)
    return stream


def test_a_large_member_waits_for_its_budget_and_never_inflates_past_it() -> None:
    # Zeros first (16 MB deflate to 16 kB), then noise: at the start the budget (RATIO times
    # what came in, plus ALLOWANCE) is far below what the zeros inflate to, so the member's
    # bytes wait for more of the body; it is taken once the budget allows it (its last byte).
    zeros = b"\0" * (3 << 20)
    big = zeros + _noise(250_000)
    data = bytes(make_wheel("pkg", files={"pkg/big.bin": big, **FILES}))
    begin, _ = _member_span(data, "pkg/big.bin")

    def held_back(stream: MemberStream, at: int) -> None:
        if stream._partial is not None and at < begin + 20_000:
            assert stream._partial.produced < len(zeros)  # held back by the budget

    stream = _fed_within_budget(data, 4096, each=held_back)
    assert big in [m.content for m in stream.members.values()]
    assert same_archive(data, stream)


@pytest.mark.parametrize("twice", [False, True])
def test_a_large_member_over_its_budget_at_its_end_is_left_for_the_end(twice: bool) -> None:
    zeros = b"\0" * (40 << 20)
    big = _noise(70_000) + zeros  # 70 kB + 40 kB deflated; 40 MB inflated, far over 16 times
    files = {"pkg/big.bin": big, **({"pkg/big2.bin": big[::-1]} if twice else {}), **FILES}
    data = bytes(make_wheel("pkg", files=files))
    stream = _fed_within_budget(data, 8192)  # a second one gets no budget back from the first
    assert all(m.size != len(big) for m in stream.members.values())
    assert len(stream.members) == len(zipfile.ZipFile(io.BytesIO(data)).namelist()) - len(files) + len(FILES)
    assert same_archive(data, stream)


@pytest.mark.parametrize("cut", range(30, 30 + len("pkg/big.bin") + 1))
def test_a_large_member_whose_header_comes_in_two_pieces_is_taken(cut: int) -> None:
    # A piece may end inside a large member's local header (its name, its extra field): the
    # member starts only once the header is whole.
    big = _noise(100_000)
    data = bytes(make_wheel("pkg", files={"pkg/big.bin": big, **FILES}))
    assert zipfile.ZipFile(io.BytesIO(data)).infolist()[0].filename == "pkg/big.bin"
    stream = MemberStream()
    stream.feed(0, data[:cut])
    stream.feed(cut, data[cut:])
    assert big in [m.content for m in stream.members.values()]
    assert len(stream.members) == len(zipfile.ZipFile(io.BytesIO(data)).namelist())


def _zip(*members: tuple[str, bytes, bytes]) -> bytes:
    """A zip of deflated members given as (name, content, compressed bytes as stored), the
    sizes and CRC from them: what zipfile writes, but with any compressed bytes."""
    out, central = b"", b""
    for name, content, raw in members:
        fields = (20, 0, 8, 0, 0, zlib.crc32(content), len(raw), len(content), len(name), 0)
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, *fields, 0, 0, 0, 0, len(out)) + name.encode()
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, *fields) + name.encode() + raw
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(central), len(out), 0)
    return out + central + end


def _deflated(content: bytes) -> bytes:
    packer = zlib.compressobj(6, zlib.DEFLATED, -15)
    return packer.compress(content) + packer.flush()


def test_bytes_after_a_large_members_deflate_stream_are_read_not_inflated() -> None:
    # The member's compressed size covers its deflate stream and 1 MB after it, which zipfile
    # ignores: the stream reads them without handing them to the inflater again and again.
    big = _noise(100_000)
    data = _zip(("big.bin", big, _deflated(big) + bytes(1 << 20)), ("after.txt", b"after", _deflated(b"after")))
    stream = streamed(data, 4096)
    assert [m.content for m in stream.members.values()] == [big, b"after"]
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.read("big.bin") == big
    assert read_wheel_members(data, stream) == read_wheel_members(data)


def read_wheel_members(data: bytes, stream: MemberStream | None = None) -> dict[str, bytes]:
    """What read_wheel takes from a plain zip (not a wheel: its problems are not the point),
    and that each streamed member it took is the very object the stream inflated."""
    from pyemscripten.wheels import _Problems, _read_archive

    members = _read_archive("x.zip", data, _Problems("x.zip"), stream.members if stream is not None else {}, {})
    if stream is not None:
        assert all(any(c is m.content for m in stream.members.values()) for c in members.values())
    return members


def test_a_large_member_that_is_not_deflate_data_is_dropped_and_the_stream_goes_on() -> None:
    big = _noise(100_000)
    data = _zip(("big.bin", big, _noise(80_000, seed=9)), ("after.txt", b"after", _deflated(b"after")))
    stream = streamed(data, 4096)
    assert [m.content for m in stream.members.values()] == [b"after"]  # the stream went on after it


def test_a_restart_or_a_gap_inside_a_large_member_leaves_nothing_of_it() -> None:
    big = _noise(200_000)
    data = bytes(make_wheel("pkg", files={"pkg/big.bin": big, **FILES}))
    stream = MemberStream()
    stream.feed(0, data[:100_000])
    assert stream._partial is not None
    stream.feed(0, data[:50_000])  # the request started over
    assert stream._partial is not None and stream._partial.produced < 60_000
    stream.feed(50_000, data[50_000:])
    assert big in [m.content for m in stream.members.values()]
    stream = MemberStream()
    stream.feed(0, data[:100_000])
    stream.feed(100_001, data[100_001:])  # a gap
    assert stream._stopped and stream._partial is None and stream.members == {}


def test_a_large_member_longer_than_its_header_says_is_not_taken() -> None:
    big = _noise(120_000)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("big.bin", big)
        archive.writestr("after.txt", b"after" * 100)
    data = bytearray(out.getvalue())
    data[22:26] = (1000).to_bytes(4, "little")  # the local header's uncompressed size
    stream = streamed(bytes(data), 5000)
    assert [m.content for m in stream.members.values()] == [b"after" * 100]  # the stream went on after it


def test_a_large_member_waiting_for_its_budget_keeps_no_more_than_max_pending() -> None:
    # Waiting for the budget, a member's bytes pile up in the stream's buffer; past
    # MAX_PENDING it is dropped (read to its end, left for read_wheel), and the members after
    # it still stream.
    class Small(MemberStream):
        MAX_PENDING = 50_000

    big = b"\0" * (3 << 20) + _noise(250_000)
    data = bytes(make_wheel("pkg", files={"pkg/big.bin": big, **FILES}))

    def bounded(stream: MemberStream, at: int) -> None:
        assert len(stream._pending) <= Small.MAX_PENDING + 4096

    stream = _fed_within_budget(data, 4096, Small(), bounded)
    assert big not in [m.content for m in stream.members.values()]
    assert len(stream.members) == len(zipfile.ZipFile(io.BytesIO(data)).namelist()) - 1
    assert same_archive(data, stream)


def test_members_that_inflate_to_another_size_count_against_the_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    # Each member inflates to one byte more than its header says, so none is taken; what they
    # inflated still counts, so the stream inflates no more than its bound (it used to start
    # afresh with each such member: 3 GB from a 3 MB body).
    inflated = 0
    real = zlib.decompressobj

    class Counting:
        def __init__(self, *args: int) -> None:
            self.inner = real(*args)

        def decompress(self, data: bytes, max_length: int = 0) -> bytes:
            nonlocal inflated
            out = self.inner.decompress(data, max_length)
            inflated += len(out)
            return out

        def __getattr__(self, name: str) -> object:
            return getattr(self.inner, name)

    monkeypatch.setattr(zlib, "decompressobj", Counting)
    raw = 1 << 20
    deflater = zlib.compressobj(9, zlib.DEFLATED, -15)
    data = deflater.compress(bytes(raw)) + deflater.flush()
    body = b"".join(struct.pack("<4s5HL2L2H", b"PK\x03\x04", 20, 0, 8, 0, 0, zlib.crc32(bytes(raw)),
                                len(data), raw - 1, len(f"m{i}"), 0) + f"m{i}".encode() + data for i in range(300))
    stream = MemberStream()
    for at in range(0, len(body), 256 << 10):
        stream.feed(at, body[at:at + (256 << 10)])
    bound = MemberStream.RATIO * len(body) + MemberStream.ALLOWANCE
    assert stream.members == {} and 0 < inflated <= bound + raw


def test_a_cancelled_collection_of_digests_leaves_no_hashing_unawaited() -> None:
    # The hashing of later batches, not reached when the waiter is cancelled, is closed by
    # close() (as a download's end does): no "coroutine was never awaited".
    class AwaitingHasher(Hasher):  # as WebCrypto's: the digests come from an await
        async def sha256(self, blobs):  # type: ignore[no-untyped-def]
            await asyncio.sleep(0)
            return await super().sha256(blobs)

    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        for n in range(3):
            zf.writestr(f"m{n}.txt", b"x" * 5000)
    body = archive.getvalue()

    async def scenario() -> None:
        stream = MemberStream(AwaitingHasher())
        for at in range(0, len(body), 1000):
            stream.feed(at, body[at:at + 1000])
        assert len(stream._hashing) >= 2
        waiter = asyncio.ensure_future(stream.digests())
        await asyncio.sleep(0)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        stream.close()

    with warnings.catch_warnings(record=True) as told:
        warnings.simplefilter("always")
        asyncio.run(scenario())
        gc.collect()
    assert [str(w.message) for w in told if "never awaited" in str(w.message)] == []
