"""Properties of wheel archives (wheels.read_wheel, check_wheel, MemberStream) against a model:
what Python's zipfile reads from the whole archive, and what RECORD says of each member.

The archives are written byte by byte here (not by zipfile), so that they can hold what
zipfile's writer never makes: data descriptors with and without their signature, extra
fields that differ between the local header and the central directory, ZIP64 sizes, names
flagged UTF-8 or not, duplicates, directory entries, and local headers that disagree with
the central directory.
"""

from __future__ import annotations

import asyncio
import base64
import csv
import hashlib
import io
import random
import struct
import zipfile
import zlib
from dataclasses import dataclass, replace
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from pyemscripten.errors import PyemscriptenError
from pyemscripten.seams import Hasher
from pyemscripten.wheels import MemberStream, UnpackedWheel, open_wheel, open_wheel_async

FILENAME = "demo-1.0-py3-none-any.whl"
DIST_INFO = "demo-1.0.dist-info"
METADATA = b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n"
WHEEL = b"Wheel-Version: 1.0\nGenerator: hand\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))


# --- a zip writer with every knob -----------------------------------------------------------


@dataclass(frozen=True)
class Member:
    name: str
    content: bytes
    deflated: bool = True
    utf8_flag: bool = True
    descriptor: int = 0  # 0: sizes in the local header; 1: a data descriptor; 2: one without its signature
    zip64: int = 0  # 0: none; 1: ZIP64 sizes in the local header; 2: in the central directory too; 3: its offset
    local_extra: bytes = b""
    central_extra: bytes = b""
    comment: bytes = b""
    # How the local header lies (the central directory always tells the truth, unless told):
    local_name: bytes | None = None
    local_sizes: tuple[int, int] | None = None  # (compressed, uncompressed)
    local_method: int | None = None
    local_flags: int | None = None
    central_crc: int | None = None
    central_sizes: tuple[int, int] | None = None
    central_method: int | None = None
    central_offset_delta: int = 0
    central_offset_of: int | None = None  # the central entry points at that member's local header


def _extra(blocks: list[tuple[int, bytes]]) -> bytes:
    return b"".join(struct.pack("<HH", kind, len(payload)) + payload for kind, payload in blocks)


def _compressed(member: Member) -> bytes:
    if not member.deflated:
        return member.content
    packer = zlib.compressobj(6, zlib.DEFLATED, -15)
    return packer.compress(member.content) + packer.flush()


def build_zip(members: list[Member], archive_comment: bytes = b"", zip64_end: bool = False) -> bytes:
    """The archive of ``members`` (offsets from its start: bytes put before it shift them all,
    as a self-extracting archive's are, and zipfile reads it all the same)."""
    out = bytearray()
    central = bytearray()
    offsets: list[int] = []
    for member in members:
        raw = _compressed(member)
        crc = zlib.crc32(member.content)
        name = member.name.encode()
        flags = (0x800 if member.utf8_flag else 0) | (0x8 if member.descriptor else 0)
        method = 8 if member.deflated else 0
        csize, usize = len(raw), len(member.content)
        local_extra = member.local_extra
        if member.zip64:
            local_extra = _extra([(1, struct.pack("<QQ", usize, csize))]) + local_extra
        if member.descriptor:
            l_crc, l_csize, l_usize = 0, 0, 0
        elif member.zip64:
            l_crc, l_csize, l_usize = crc, 0xFFFFFFFF, 0xFFFFFFFF
        else:
            l_crc, l_csize, l_usize = crc, csize, usize
        if member.local_sizes is not None:
            l_csize, l_usize = member.local_sizes
        local_name = member.local_name if member.local_name is not None else name
        offsets.append(len(out))
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 45 if member.zip64 else 20,
                           member.local_flags if member.local_flags is not None else flags,
                           member.local_method if member.local_method is not None else method, 0, 0x5821,
                           l_crc, l_csize, l_usize, len(local_name), len(local_extra))
        out += local_name + local_extra + raw
        if member.descriptor:
            sizes = struct.pack("<QQ" if member.zip64 else "<II", csize, usize)
            out += (struct.pack("<I", 0x08074B50) if member.descriptor == 1 else b"") + struct.pack("<I", crc) + sizes
    for member, offset in zip(members, offsets):
        raw_size = len(_compressed(member))
        name = member.name.encode()
        flags = (0x800 if member.utf8_flag else 0) | (0x8 if member.descriptor else 0)
        is_dir = member.name.endswith("/")
        attributes = ((0o40755 << 16) | 0x10) if is_dir else (0o100644 << 16)
        c_csize, c_usize, extra = raw_size, len(member.content), member.central_extra
        if member.central_sizes is not None:
            c_csize, c_usize = member.central_sizes
        if member.central_offset_of is not None:
            offset = offsets[member.central_offset_of]
        offset = max(0, offset + member.central_offset_delta)
        if member.zip64 >= 2:  # 3: the local header's offset there too
            extra = _extra([(1, struct.pack("<QQ", c_usize, c_csize) + (struct.pack("<Q", offset)
                                                                       if member.zip64 == 3 else b""))]) + extra
            c_csize = c_usize = 0xFFFFFFFF
            offset = 0xFFFFFFFF if member.zip64 == 3 else offset
        crc = member.central_crc if member.central_crc is not None else zlib.crc32(member.content)
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 0x031E, 45 if member.zip64 else 20, flags,
                               member.central_method if member.central_method is not None else 8 if member.deflated
                               else 0, 0, 0x5821, crc, c_csize, c_usize, len(name),
                               len(extra), len(member.comment), 0, 0, attributes, offset)
        central += name + extra + member.comment
    start = len(out)
    out += central
    if zip64_end:
        at = len(out)
        out += struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, len(members), len(members),
                           len(central), start)
        out += struct.pack("<IIQI", 0x07064B50, 0, at, 1)
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(central), start,
                       len(archive_comment)) + archive_comment
    return bytes(out)


# --- wheels and their RECORD ----------------------------------------------------------------

ROW_MODES = ("good", "good", "good", "nosize", "sha512", "padded", "wronghash", "wrongsize", "nohash", "absent",
             "md5")


def _b64(digest: bytes) -> str:
    return base64.urlsafe_b64encode(digest).decode()


def record_row(path: str, content: bytes, mode: str) -> str | None:
    if mode == "absent":
        return None
    sha256 = _b64(hashlib.sha256(content).digest()).rstrip("=")
    hashed = {"nosize": f"sha256={sha256}", "sha512": "sha512=" + _b64(hashlib.sha512(content).digest()).rstrip("="),
              "padded": "sha256=" + _b64(hashlib.sha256(content).digest()),
              "wronghash": "sha256=" + _b64(hashlib.sha256(content + b"!").digest()).rstrip("="),
              "nohash": "", "md5": "md5=" + _b64(hashlib.md5(content).digest()).rstrip("=")}.get(mode, f"sha256={sha256}")
    size = {"nosize": "", "wrongsize": str(len(content) + 1)}.get(mode, str(len(content)))
    quoted = f'"{path}"' if "," in path else path
    return f"{quoted},{hashed},{size}\n"


def row_matches(mode: str) -> bool:
    """Whether a row of ``mode`` vouches for its member (hash allowed and equal, size equal)."""
    return mode in ("good", "nosize", "sha512", "padded")


NAMES = ["demo/__init__.py", "demo/mod.py", "demo/données.txt", "demo/日本.py", "demo/empty.txt", "demo/\ufffd.txt",
         "demo/sub/deep.bin", "demo/a,b.txt", "demo-1.0.data/scripts/tool", "demo-1.0.dist-info/extra.txt"]
DIRS = ["demo/", "demo/sub/", "demo-1.0.dist-info/"]


def _big(seed: int) -> bytes:
    """Bytes that stay over MemberStream.PARTIAL deflated: inflated piece by piece."""
    return random.Random(seed).randbytes(70_000) + b"def f():\n    return 1\n" * 2000


contents = st.one_of(st.binary(max_size=40), st.builds(lambda b, n: b * n, st.binary(min_size=1, max_size=8),
                                                         st.integers(1, 3000)),
                     st.just(b""), st.integers(0, 3).map(_big))
extra_blocks = st.lists(st.tuples(st.sampled_from([0x5455, 0x7875, 0xCAFE]), st.binary(max_size=12)), max_size=2)


@st.composite
def members(draw: Any, name: str, content: bytes | None = None) -> Member:
    big = content is not None and len(content) > 60_000
    return Member(
        name=name,
        content=draw(contents) if content is None else content,
        deflated=draw(st.booleans()),
        utf8_flag=draw(st.booleans()),
        descriptor=draw(st.sampled_from([0, 0, 0, 1, 2])),
        zip64=draw(st.sampled_from([0, 0, 0, 1, 2, 3])),
        local_extra=_extra(draw(extra_blocks)),
        central_extra=_extra(draw(extra_blocks)),
        comment=draw(st.binary(max_size=6)) if not big else b"",
    )


@dataclass(frozen=True)
class Wheel:
    members: list[Member]
    modes: dict[str, str]  # the RECORD row of each file member
    ghosts: list[str]  # rows for paths the archive lacks
    comment: bytes
    zip64_end: bool
    prefix: bytes = b""  # before the archive (a self-extracting one's program)

    def record(self) -> bytes:
        rows = [record_row(m.name, m.content, self.modes[m.name]) for m in self.members
                if not m.name.endswith("/") and m.name != f"{DIST_INFO}/RECORD"]
        rows += [record_row(ghost, b"ghost", "good") for ghost in self.ghosts]
        return ("".join(row for row in rows if row) + f"{DIST_INFO}/RECORD,,\n").encode()

    def bytes(self) -> bytes:
        members = [replace(m, content=self.record()) if m.name == f"{DIST_INFO}/RECORD" else m for m in self.members]
        return self.prefix + build_zip(members, self.comment, self.zip64_end)


@st.composite
def wheels(draw: Any, duplicates: bool = True) -> Wheel:
    names = draw(st.lists(st.sampled_from(NAMES), max_size=5, unique=not duplicates))
    names += draw(st.lists(st.sampled_from(DIRS), max_size=2, unique=True))
    fixed = [f"{DIST_INFO}/METADATA", f"{DIST_INFO}/WHEEL", f"{DIST_INFO}/RECORD"]
    order = draw(st.permutations(names + fixed[:2])) + [fixed[2]] if draw(st.booleans()) else \
        draw(st.permutations(names + fixed))
    known = {fixed[0]: METADATA, fixed[1]: WHEEL, fixed[2]: b""}
    built = [draw(members(name, known.get(name, b"" if name.endswith("/") else None))) for name in order]
    files = [m.name for m in built if not m.name.endswith("/") and m.name != fixed[2]]
    modes = {name: draw(st.sampled_from(ROW_MODES)) if draw(st.integers(0, 3)) == 0 else "good" for name in files}
    ghosts = draw(st.lists(st.sampled_from(["demo/gone.py", "demo/also_gone.py"]), max_size=1))
    prefix = draw(st.sampled_from([b"", b"", b"", b"#!/bin/sh\nexit 0\n", b"PK\x03\x04" + bytes(40)]))
    return Wheel(built, modes, ghosts, draw(st.binary(max_size=8)), draw(st.booleans()), prefix)


# --- the model: zipfile's reading -----------------------------------------------------------


@dataclass(frozen=True)
class Read:
    content: bytes
    crc_ok: bool


def zipfile_reads(data: bytes) -> list[tuple[str, Read]] | None:
    """Every file member as zipfile reads it from the whole archive (names as the wheel spec
    reads them: UTF-8), the CRC-32 noted rather than checked; None where zipfile fails or a
    member does not give its declared size."""
    try:
        with zipfile.ZipFile(io.BytesIO(data), metadata_encoding="utf-8") as archive:
            found = []
            for info in archive.infolist():
                if info.is_dir():
                    continue
                with archive.open(info) as stream:
                    stream._expected_crc = None  # type: ignore[attr-defined]  # noted below instead
                    content = stream.read()
                if len(content) != info.file_size:
                    return None
                found.append((info.filename, Read(content, zlib.crc32(content) == info.CRC)))
            return found
    except (zipfile.BadZipFile, zlib.error, EOFError, UnicodeDecodeError, NotImplementedError, ValueError) as exc:
        assert type(exc) is not ValueError or "negative" in str(exc) or "seek" in str(exc), exc
        return None


def outcome(run: Any) -> tuple[str, Any]:
    """What a read of a wheel gives: its files, or the error's type and message."""
    try:
        wheel: UnpackedWheel = run()
    except PyemscriptenError as exc:
        return type(exc).__name__, str(exc)
    return "ok", (tuple((key, path, bytes(content)) for key, path, content in wheel.files), dict(wheel.sha256))


class Standing:
    """What a sink may give to stand for a member's bytes (as installation.KeptBytes)."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def __len__(self) -> int:
        return len(self._data)

    def __bytes__(self) -> bytes:
        return self._data


class Sink:
    """Keeps the members handed over; gives a stand-in for the files the install stages early."""

    def __init__(self) -> None:
        self.taken: list[tuple[str, bytes]] = []

    def member(self, name: str, content: bytes) -> object | None:
        self.taken.append((name, content))
        if name.partition("/")[0].endswith((".dist-info", ".data")):
            return None
        return Standing(content)

    def flush(self) -> None:
        pass

    def reset(self) -> None:
        self.taken = []

    def close(self) -> None:
        pass


def pieces_of(data: bytes, cuts: list[int], window: int | None) -> list[tuple[int, bytes]]:
    """``data`` cut at ``cuts``, and into 1-byte pieces for 200 bytes from ``window``."""
    points = {0, len(data), *(c % (len(data) + 1) for c in cuts)}
    if window is not None:
        start = window % (len(data) + 1)
        points |= set(range(start, min(start + 200, len(data))))
    ordered = sorted(points)
    return [(a, data[a:b]) for a, b in zip(ordered, ordered[1:])]


def streamed_outcome(data: bytes, pieces: list[tuple[int, bytes]], sink: bool,
                     false_start: bytes = b"") -> tuple[tuple[str, Any], dict[int, Any]]:
    """What open_wheel_async gives for ``data`` fed in ``pieces`` (after a first try that
    gave ``false_start`` and broke), and the members the stream took."""
    async def download_then_open() -> tuple[tuple[str, Any], dict[int, Any]]:
        stream = MemberStream(Hasher(), sink=Sink() if sink else None)
        for offset, piece in [*pieces_of(false_start, [len(false_start) // 3], None), *pieces]:
            stream.feed(offset, piece)
            await asyncio.sleep(0)
        try:
            got = await _outcome_async(lambda: open_wheel_async(FILENAME, data, Hasher(), streamed=stream))
            return got, dict(stream.members)
        finally:
            stream.close()  # as the download does: the hashing of a refused wheel is not awaited

    return asyncio.run(download_then_open())


async def _outcome_async(run: Any) -> tuple[str, Any]:
    try:
        wheel: UnpackedWheel = await run()
    except PyemscriptenError as exc:
        return type(exc).__name__, str(exc)
    return "ok", (tuple((key, path, bytes(content)) for key, path, content in wheel.files), dict(wheel.sha256))


def check_against_zipfile(data: bytes, got: tuple[str, Any], record_vouches: set[str]) -> None:
    """An accepted wheel's files are zipfile's bytes, each RECORD's or with its CRC-32 right."""
    if got[0] != "ok":
        return
    read = zipfile_reads(data)
    assert read is not None, "accepted an archive zipfile cannot read"
    by_name = dict(read)
    assert len(by_name) == len(read), "accepted an archive holding a path twice"
    files = {path: content for _, path, content in got[1][0]}
    rows = {row[0]: row[1:] for row in csv.reader(by_name[f"{DIST_INFO}/RECORD"].content.decode().splitlines())}
    for name, member in by_name.items():
        if name == f"{DIST_INFO}/RECORD":
            assert member.crc_ok
            continue
        assert files[name.removeprefix("demo-1.0.data/scripts/")] == member.content
        assert member.crc_ok or name in record_vouches, name
        # RECORD's hash and size are those of the bytes installed.
        (algorithm, _, written), size = rows[name][0].partition("="), rows[name][1]
        assert base64.urlsafe_b64decode(written + "=" * (-len(written) % 4)) == hashlib.new(
            algorithm, member.content).digest(), name
        assert size in ("", str(len(member.content)))


# --- the properties -------------------------------------------------------------------------


@SETTINGS
@given(wheels(), st.lists(st.integers(0, 1 << 20), max_size=12), st.none() | st.integers(0, 1 << 20),
       st.booleans(), st.sampled_from(["", "garbage", "half"]))
def test_generated_wheels_read_as_zipfile_reads_them_streamed_or_whole(
        wheel: Wheel, cuts: list[int], window: int | None, sink: bool, first_try: str) -> None:
    data = wheel.bytes()
    whole = outcome(lambda: open_wheel(FILENAME, data))
    # A first try that broke: what it fed is dropped when the next starts at offset 0.
    false_start = {"": b"", "garbage": bytes(b ^ 0x5A for b in data), "half": data[:len(data) // 2]}[first_try]
    streamed, early = streamed_outcome(data, pieces_of(data, cuts, window), sink, false_start)
    assert streamed == whole
    # The model's verdict: zipfile reads it (it always can: nothing here is corrupt); a path
    # twice is a WheelError; else any row that does not vouch for its member, or a row for
    # a member not there, is a RecordError; else it installs zipfile's bytes.
    read = zipfile_reads(data)
    assert read is not None
    names = [name for name, _ in read]
    if len(set(names)) != len(names):
        assert whole[0] == "WheelError" and "twice" in whole[1]
    elif wheel.ghosts or not all(row_matches(mode) for mode in wheel.modes.values()):
        assert whole[0] == "RecordError", whole
    else:
        assert whole[0] == "ok", whole
        check_against_zipfile(data, whole, set())
        # Every member the stream took where the central directory has one is that one (the
        # others, such as a local header in bytes before the archive, are never taken).
        with zipfile.ZipFile(io.BytesIO(data), metadata_encoding="utf-8") as archive:
            at = {info.header_offset: archive.read(info) for info in archive.infolist()}
        for offset, member in early.items():
            assert offset not in at or bytes(member.content) == at[offset]


LIES = st.one_of(
    st.builds(lambda i, b: ("local_name", i, b), st.integers(0, 20), st.binary(min_size=1, max_size=24)),
    st.builds(lambda i, a, b: ("local_sizes", i, (a, b)), st.integers(0, 20), st.integers(0, 200_000),
              st.integers(0, 200_000)),
    st.builds(lambda i, m: ("local_method", i, m), st.integers(0, 20), st.sampled_from([0, 8, 12, 99])),
    st.builds(lambda i: ("central_crc", i, 0x12345678), st.integers(0, 20)),
    st.builds(lambda i, j: ("central_offset_of", i, j), st.integers(0, 20), st.integers(0, 20)),
    st.builds(lambda i, f: ("local_flags", i, f), st.integers(0, 20), st.sampled_from([0, 0x1, 0x8, 0x800, 0x808, 0x20])),
    st.builds(lambda i, a, b: ("central_sizes", i, (a, b)), st.integers(0, 20), st.integers(0, 200_000),
              st.integers(0, 200_000)),
    st.builds(lambda i, m: ("central_method", i, m), st.integers(0, 20), st.sampled_from([0, 8, 12, 99])),
    st.builds(lambda i, d: ("central_offset_delta", i, d), st.integers(0, 20), st.integers(-60, 200)),
)


def _plain_wheel(*files: Member) -> Wheel:
    told = [*files, Member(f"{DIST_INFO}/METADATA", METADATA), Member(f"{DIST_INFO}/WHEEL", WHEEL),
            Member(f"{DIST_INFO}/RECORD", b"")]
    return Wheel(told, {m.name: "good" for m in told}, [], b"", False)


@SETTINGS
# A local name that is not UTF-8, where the central directory's is U+FFFD: zipfile refuses
# it (the names differ); the check of the names decoded it with "replace" and took it.
@example(_plain_wheel(Member("demo/\ufffd.txt", b"x")), [("local_name", 0, b"demo/\xff.txt")], [], False)
@given(wheels(duplicates=False), st.lists(LIES, min_size=1, max_size=2),
       st.lists(st.integers(0, 1 << 20), max_size=8), st.booleans())
def test_a_local_header_that_lies_is_refused_or_read_as_zipfile_reads_it(
        wheel: Wheel, lies: list[tuple[str, int, Any]], cuts: list[int], sink: bool) -> None:
    told = list(wheel.members)
    for field, index, value in lies:
        index %= len(told)
        if field == "central_offset_of":
            value %= len(told)
        told[index] = replace(told[index], **{field: value})
    wheel = replace(wheel, members=told)
    data = wheel.bytes()
    whole = outcome(lambda: open_wheel(FILENAME, data))
    streamed, _ = streamed_outcome(data, pieces_of(data, cuts, None), sink)
    assert streamed == whole
    vouched = {m.name for m in wheel.members if row_matches(wheel.modes.get(m.name, "good"))}
    check_against_zipfile(data, whole, vouched)


def test_the_sha256s_kept_for_the_installer_are_the_files_own() -> None:
    wheel = _plain_wheel(Member("demo/__init__.py", b"x = 1\n"), Member("demo/stored.txt", b"s", deflated=False))
    got = open_wheel(FILENAME, wheel.bytes())
    assert {path for _, path, _ in got.files} == {"demo/__init__.py", "demo/stored.txt", f"{DIST_INFO}/METADATA",
                                                  f"{DIST_INFO}/WHEEL"}
    for key, path, content in got.files:
        assert got.sha256[(key, path)] == _b64(hashlib.sha256(content).digest()).rstrip("=")


# --- downloads.verify: the body against the index's size and strongest hash -------------------


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=30), st.binary(max_size=30),
       st.dictionaries(st.sampled_from(["sha256", "sha384", "sha512", "md5", "sha1", "sha224", "blake2b"]),
                       st.sampled_from(["right", "RIGHT", "wrong", "empty"]), max_size=4),
       st.sampled_from(["none", "right", "wrong"]), st.booleans(), st.booleans())
def test_verify_accepts_exactly_the_body_the_strongest_hash_names(
        body: bytes, other: bytes, told: dict[str, str], size: str, allow_unhashed: bool, precomputed: bool) -> None:
    from pyemscripten.downloads import WheelRequest, verify
    from pyemscripten.index_pages import IndexFile

    def digest(algorithm: str, how: str) -> str:
        text = hashlib.new(algorithm, body if how.lower() == "right" else body + b"!").hexdigest()
        return {"RIGHT": text.upper(), "empty": ""}.get(how, text)

    hashes = tuple(sorted((algorithm, digest(algorithm, how)) for algorithm, how in told.items()))
    length = {"none": None, "right": len(body), "wrong": len(body) + 1}[size]
    file = IndexFile(FILENAME, "https://files.test/" + FILENAME, hashes, size=length)
    # The model: the size, where given, is the body's; the strongest of sha512, sha384 and
    # sha256 given names the body (any case); with none of them, only if unhashed files are allowed.
    strongest = next((a for a in ("sha512", "sha384", "sha256") if a in told), None)
    for data in (body, other):
        names = (hashlib.new(strongest, data).hexdigest() == dict(hashes)[strongest].lower() if strongest
                 else allow_unhashed)
        expected = (length is None or length == len(data)) and names
        sha256 = hashlib.sha256(data).digest() if precomputed else None
        try:
            verify(WheelRequest("demo", file), data, allow_unhashed, sha256=sha256)
            accepted = True
        except PyemscriptenError:
            accepted = False
        assert accepted == expected, (data, hashes, length)
