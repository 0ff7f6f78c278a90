"""Validate a wheel archive, in memory, into an :class:`UnpackedWheel` ready to install.

Pure: bytes in, a value out. Nothing is written anywhere, so a wheel that fails any check
leaves no trace. :func:`open_wheel` runs every check it can and reports every problem in one
exception (like pypa/installer's ``validate_record``), so a broken wheel is diagnosed in one go.

Rules enforced (the binary distribution format, PEP 427/491, plus install rules of our own):

* Rule 1: every member path is relative, ``/``-separated, without ``..``, drive letters,
  backslashes or NUL, and no member is a symlink or special file.
* Rule 2: exactly one top-level ``{name}-{version}.dist-info`` and it matches the file name.
* Rule 3: ``WHEEL`` says ``Wheel-Version: 1.x``.
* Rule 4: ``RECORD`` lists every file with a sha256-or-stronger hash that matches, and a size
  that matches where one is given; only RECORD (and its signatures) may go unhashed. A
  member whose hash matched needs no CRC-32 check; every other member's CRC-32 is checked.
* Rule 5: ``METADATA`` has a Name and Version that agree with the file name.
* Rule 6: ``{name}-{version}.data/`` holds only ``purelib``, ``platlib``, ``scripts``,
  ``headers`` and ``data``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import csv
import hashlib
import io
import re
import stat
import struct
import zipfile
import zlib
from collections.abc import Collection, Coroutine, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from packaging.tags import Tag
from packaging.utils import NormalizedName, canonicalize_name, parse_wheel_filename
from packaging.version import Version

from .errors import (
    InvalidWheelFilenameError,
    MetadataError,
    PyemscriptenError,
    RecordError,
    UnsafePathError,
    WheelError,
)
from .metadata import (
    first,
    newer_metadata_advice,
    newer_metadata_version,
    parse_headers,
    read_bounded,
    read_headers,
    unknown_metadata_version,
    unusual_method,
)
from .seams import Hasher

if TYPE_CHECKING:
    from packaging.metadata import Metadata

    from .target import Target

__all__ = ["SCHEME_KEYS", "MemberStream", "UnpackedWheel", "WheelArchive", "WheelName", "check_wheel", "open_wheel",
           "open_wheel_async", "parse_wheel_name", "read_wheel"]

#: Where a file goes; ``purelib`` and ``platlib`` are both "the site-packages root".
SCHEME_KEYS = ("purelib", "platlib", "scripts", "headers", "data")

# md5, sha1 and sha224 are too weak to trust for integrity; everything here is >= 256 bits.
_ALLOWED_HASHES = frozenset(
    {"sha256", "sha384", "sha512", "sha3_256", "sha3_384", "sha3_512", "blake2b"}
)
# Files a RECORD cannot hash: itself, and signatures over it.
_UNHASHED = ("RECORD", "RECORD.jws", "RECORD.p7s")
_SHARED_LIBRARY = re.compile(r"\.so(\.\d+)*$")
_NAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?")  # a project's name (core metadata spec)
_DRIVE = re.compile(r"^[A-Za-z]:")


def _unhashed(dist_info: str) -> set[str]:
    """The members of ``dist_info`` RECORD cannot hash: itself and its signatures."""
    return {f"{dist_info}/{name}" for name in _UNHASHED}


@dataclass(frozen=True)
class WheelName:
    """What a wheel's file name says: ``{name}-{version}[-{build}]-{tags}.whl``."""

    filename: str
    name: NormalizedName
    version: Version
    build: tuple[int, str] | tuple[()]
    tags: frozenset[Tag]


@dataclass(frozen=True)
class UnpackedWheel:
    """A validated wheel: every file with where it goes, and the metadata installers need.

    ``files`` rows are ``(scheme_key, relative_path, data)``: ``relative_path`` is relative to
    the scheme directory named by ``scheme_key`` (one of :data:`SCHEME_KEYS`). The wheel's own
    RECORD (and signatures) are left out: the installer writes a fresh one.
    ``shared_libraries`` are the ``*.so`` paths relative to the site-packages root.
    ``sha256`` maps ``(scheme_key, relative_path)`` to the file's sha256 (urlsafe base64, as
    RECORD writes it) where RECORD gave one and it matched: the installer reuses it.
    """

    filename: str
    name: NormalizedName
    version: Version
    requires_dist: tuple[str, ...]
    requires_python: str | None
    files: tuple[tuple[str, str, bytes], ...]
    dist_info: str
    root_is_purelib: bool
    shared_libraries: tuple[str, ...]
    display_name: str  # the Name as METADATA spells it (names the headers directory)
    sha256: Mapping[tuple[str, str], str] = field(default_factory=dict)
    size: int | None = None  # the wheel file's length in bytes
    #: What the install should warn of: a WHEEL or METADATA newer than this installer knows
    #: (the specs say installers should warn, and go on).
    notes: tuple[str, ...] = ()

    @property
    def root_key(self) -> str:
        """The scheme key of the files outside ``.data`` (the dist-info's among them)."""
        return "purelib" if self.root_is_purelib else "platlib"

    @property
    def metadata(self) -> Metadata:
        """Every field of METADATA, as packaging reads it (read again on each use: the
        install itself needs only the fields above)."""
        from packaging.metadata import Metadata  # imported here: see metadata.py's imports

        return Metadata.from_raw(parse_headers(self.metadata_file), validate=False)

    @property
    def metadata_file(self) -> bytes:
        """The bytes of the wheel's METADATA (checked by rule 5)."""
        path = f"{self.dist_info}/METADATA"  # in the root: not a .data folder's file of that name
        return next(content for key, rest, content in self.files if rest == path and key == self.root_key)


def parse_wheel_name(filename: str) -> WheelName:
    """Parse a wheel file name. Raises :class:`InvalidWheelFilenameError`."""
    try:
        name, version, build, tags = parse_wheel_filename(filename)
    # InvalidWheelFilename, InvalidVersion, and the plain ValueError of int() for a number
    # longer than 4300 digits (packaging does not turn that one into its own errors).
    except ValueError as exc:
        raise InvalidWheelFilenameError(filename, _reason(exc)) from None
    return WheelName(filename, name, version, build, tags)


def _reason(exc: Exception) -> str:
    # packaging's message repeats the file name; keep only the part in parentheses if any.
    text = str(exc)
    match = re.match(r"Invalid wheel filename \((.*)\): ", text)
    return match.group(1) if match else text


class _Problems:
    """Problems found so far; raised once, as the most serious kind found."""

    _SEVERITY = (UnsafePathError, WheelError, RecordError, MetadataError)

    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.found: list[tuple[type[PyemscriptenError], str | None, str]] = []
        self.advice: str | None = None  # what to do, where one problem says (a MetadataError's)

    def add(self, kind: type[PyemscriptenError], reason: str, member: str | None = None,
            advice: str | None = None) -> None:
        self.found.append((kind, member, reason))
        self.advice = self.advice or advice

    def raise_if_any(self, project: str) -> None:
        if not self.found:
            return
        kind = min((k for k, _, _ in self.found), key=self._SEVERITY.index)
        if len(self.found) == 1:
            _, member, reason = self.found[0]
        else:
            member = None
            reason = f"{len(self.found)} problems: " + "; ".join(
                f"{m!r}: {r}" if m else r for _, m, r in self.found
            )
        if kind is MetadataError:
            raise MetadataError(project, self.filename, reason if not member else f"{member}: {reason}",
                                advice=self.advice if len(self.found) == 1 else None)
        raise kind(self.filename, reason, member)  # type: ignore[call-arg]


def check_requires_python(wheel: UnpackedWheel, target: Target) -> None:
    """Refuse ``wheel`` if its METADATA's Requires-Python excludes ``target``'s Python
    (its release, as resolution compares: :attr:`Target.python_release`).

    Resolution already passes over such versions; this is for what reaches the install
    without it (a lock file, ``deps=False``). Raises :class:`MetadataError`."""
    spec = wheel.requires_python
    if not spec:
        return
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    python_version = target.python_version
    try:
        fits = SpecifierSet(spec).contains(target.python_release, prereleases=True)
    except (InvalidSpecifier, ValueError):  # as metadata.parse_metadata refuses it
        raise MetadataError(wheel.name, wheel.filename, f"invalid Requires-Python {spec!r}") from None
    if not fits:
        raise MetadataError(wheel.name, wheel.filename,
                            f"Requires-Python {spec} excludes this runtime's Python {python_version}",
                            advice=f"install a version of {wheel.name} made for it")


def open_wheel(
    filename: str,
    data: bytes,
    *,
    expected_name: str | None = None,
    expected_version: str | Version | None = None,
) -> UnpackedWheel:
    """Validate a wheel's bytes and return what to install.

    Raises :class:`InvalidWheelFilenameError` for a bad file name; otherwise collects every
    problem and raises one exception of the most serious kind found:
    :class:`UnsafePathError` (rule 1), :class:`WheelError` (not a zip, rules 2, 3, 6, or the
    name/version differ from ``expected_*``), :class:`RecordError` (rule 4),
    :class:`MetadataError` (rule 5).

    The same as :func:`read_wheel` then :func:`check_wheel`; callers with a faster way to
    compute sha256s (the browser's WebCrypto) call the two themselves and pass the digests.
    """
    return check_wheel(read_wheel(filename, data, expected_name=expected_name, expected_version=expected_version))


async def open_wheel_async(
    filename: str,
    data: bytes,
    hasher: Hasher,
    *,
    expected_name: str | None = None,
    expected_version: str | Version | None = None,
    streamed: MemberStream | None = None,
    record_checked: bool = False,
) -> UnpackedWheel:
    """:func:`open_wheel`, with the RECORD's sha256s computed by ``hasher`` (and members
    already inflated while ``data`` downloaded taken from ``streamed``, see :func:`read_wheel`).

    ``record_checked``: these very bytes (their hash checked by the caller) passed every check
    before, RECORD's hashes included (a wheel cache entry, see
    :class:`~pyemscripten.downloads.WheelTasks`): the sha256s RECORD gives are taken as they
    are written instead of computed again. Every other rule is checked as always."""
    archive = read_wheel(filename, data, expected_name=expected_name, expected_version=expected_version,
                         streamed=streamed)
    if record_checked:
        return check_wheel(archive, record_as_written=True)
    hashable = archive.hashable()
    known = await streamed.digests() if streamed is not None else {}
    # bytes(): a member the sink moved out of the interpreter (see MemberSink.member), back.
    missing = await hasher.sha256([bytes(content) for content in hashable.values() if id(content) not in known])
    computed = iter(missing)
    # Either hashed while streaming (that very object, so the same bytes) or just now.
    sha256 = {path: known[id(content)] if id(content) in known else next(computed)
              for path, content in hashable.items()}
    return check_wheel(archive, sha256)


@dataclass
class WheelArchive:
    """A wheel's members, read and path-checked (rule 1); the other rules are still to check."""

    wheel_name: WheelName
    members: dict[str, bytes]
    problems: _Problems
    #: The CRC-32 the central directory gives for each member whose content was not checked
    #: against it yet: :func:`check_wheel` checks those RECORD does not vouch for by hash.
    crc_due: dict[str, int] = field(default_factory=dict)
    size: int | None = None  # the wheel file's length in bytes

    def hashable(self) -> dict[str, bytes]:
        """The members RECORD must hash (all but RECORD and its signatures), for
        :func:`check_wheel`'s ``sha256``."""
        unhashed = {path for top in _top_dirs(_tops(self.members), ".dist-info") for path in _unhashed(top)}
        return {path: content for path, content in self.members.items() if path not in unhashed}


def read_wheel(
    filename: str,
    data: bytes,
    *,
    expected_name: str | None = None,
    expected_version: str | Version | None = None,
    streamed: MemberStream | None = None,
) -> WheelArchive:
    """Inflate every member and check the file name and the paths (rule 1).

    ``streamed``: the :class:`MemberStream` ``data`` was fed to while it downloaded. A member
    it inflated is used only where the central directory agrees with it exactly; the rest
    are inflated here. Raises as :func:`open_wheel` does for the problems found so far."""
    wheel_name = parse_wheel_name(filename)
    problems = _Problems(filename)
    if expected_name is not None and canonicalize_name(expected_name) != wheel_name.name:
        problems.add(WheelError, f"expected project {expected_name!r}, the file is {wheel_name.name!r}")
    if expected_version is not None and not _same_version(str(expected_version), wheel_name.version):
        problems.add(WheelError, f"expected version {expected_version}, the file is {wheel_name.version}")

    crc_due: dict[str, int] = {}
    members = _read_archive(filename, data, problems, streamed.members if streamed else {}, crc_due)
    problems.raise_if_any(wheel_name.name)  # paths and bytes must be sound before reading on
    return WheelArchive(wheel_name, members, problems, crc_due, len(data))


def check_wheel(archive: WheelArchive, sha256: Mapping[str, bytes] | None = None,
                record_as_written: bool = False) -> UnpackedWheel:
    """Check rules 2 to 6 on a read archive; raise as :func:`open_wheel` does.

    ``sha256``: raw sha256 digests of members, by path, computed elsewhere from exactly these
    bytes (see :meth:`WheelArchive.hashable`); members not in it are hashed here.
    ``record_as_written``: take the sha256s RECORD gives as the members' (see
    :func:`open_wheel_async`, ``record_checked``); a row whose digest does not decode is
    hashed as usual.
    """
    wheel_name, members, problems = archive.wheel_name, archive.members, archive.problems
    filename = wheel_name.filename
    tops = _tops(members)
    dist_info = _find_dist_info(wheel_name, tops, problems)
    if dist_info is None:
        problems.raise_if_any(wheel_name.name)
        raise AssertionError("unreachable: no dist-info without a problem")
    notes: list[str] = []
    root_is_purelib = _check_wheel_file(members.get(f"{dist_info}/WHEEL"), problems, notes)
    verified, hashed = _check_record(members, dist_info, problems, sha256 or {}, record_as_written)
    _check_crc(members, archive.crc_due, hashed, problems)
    fields = _read_metadata(wheel_name, members.get(f"{dist_info}/METADATA"), problems, notes)
    files, digests = _place_files(wheel_name, members, tops, dist_info, root_is_purelib, verified, problems)
    problems.raise_if_any(wheel_name.name)
    assert fields is not None

    return UnpackedWheel(
        filename=filename,
        name=wheel_name.name,
        version=wheel_name.version,
        requires_dist=tuple(fields.get("requires-dist", ())),
        requires_python=first(fields, "requires-python"),
        files=files,
        dist_info=dist_info,
        root_is_purelib=root_is_purelib,
        shared_libraries=tuple(
            path for key, path, _ in files
            if key in ("purelib", "platlib") and _SHARED_LIBRARY.search(path)
        ),
        display_name=fields["name"][0],
        sha256=digests,
        size=archive.size,
        notes=tuple(notes),
    )


def _same_version(text: str, version: Version) -> bool:
    try:
        return Version(text) == version
    except ValueError:  # InvalidVersion, or a number int() refuses
        return False


# --- rule 1: the archive and its paths ------------------------------------------------


def _read_archive(filename: str, data: bytes, problems: _Problems,
                  streamed: Mapping[int, _Streamed], crc_due: dict[str, int]) -> dict[str, bytes]:
    """Every file member's bytes by name; directories are dropped after their path check.
    ``crc_due`` gets the CRC-32 of each member whose content was not checked against it."""
    members: dict[str, bytes] = {}
    view = memoryview(data)
    try:
        # The wheel spec: names in the archive are UTF-8, whether or not a member's flag says so.
        with zipfile.ZipFile(io.BytesIO(data), metadata_encoding="utf-8") as archive:
            if not _within_unpack_limit(archive.infolist(), problems):
                return members
            for info in archive.infolist():
                if not _check_member(info, problems):
                    continue
                if info.is_dir():
                    continue
                if info.filename in members:
                    problems.add(WheelError, "the archive holds this path twice", info.filename)
                    continue
                if info.compress_type not in _METHODS:
                    problems.add(WheelError, unusual_method(info), info.filename)
                    continue
                content = _member(archive, info, view, streamed)
                if content is None:
                    content = read_bounded(archive, info)  # checks the CRC-32 itself
                else:
                    crc_due[info.filename] = info.CRC
                members[info.filename] = content
    # zipfile reports corrupt or hostile archives through all of these; each means "not a
    # usable zip", which is exactly what the caller needs to hear.
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError,
            ValueError, NotImplementedError, RuntimeError, KeyError, IndexError,
            OverflowError, UnicodeDecodeError) as exc:
        problems.add(WheelError, f"not a readable zip archive ({type(exc).__name__}: {exc})")
    return members


#: The most a wheel may unpack to (the sum of its members' sizes in the central directory):
#: the page holds every file in memory, and WebAssembly's 32-bit memory stops at 4 GB. The
#: largest wheel for a browser runtime we know of, grill-usd-core, unpacks to 109 MB.
MAX_UNPACKED = 1 << 30


def _within_unpack_limit(infos: Sequence[zipfile.ZipInfo], problems: _Problems) -> bool:
    """Refuse, before anything is inflated, an archive whose members would unpack to more than
    :data:`MAX_UNPACKED` (each member inflates to at most its declared size; see ``_member``)."""
    total = sum(info.file_size for info in infos)
    if total <= MAX_UNPACKED:
        return True
    problems.add(WheelError, f"its members would unpack to {total:,} bytes (the sizes its central directory gives), "
                             f"more than the {MAX_UNPACKED:,} (1 GiB) a browser page can hold: a broken or hostile "
                             "archive; ask its publisher for a sound one")
    return False


_LOCAL_HEADER = struct.Struct(zipfile.structFileHeader)  # type: ignore[attr-defined]  # zipfile's, not in its stubs
_LOCAL_SIGNATURE: bytes = zipfile.stringFileHeader  # type: ignore[attr-defined]
_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)  # what wheels use, each inflated within bounds
_UNUSUAL_FLAGS = 0x1 | 0x20 | 0x40  # encrypted, compressed patch data, strong encryption
_DATA_DESCRIPTOR = 0x8  # the sizes follow the data instead of the header


def _member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, data: memoryview,
            streamed: Mapping[int, _Streamed]) -> bytes | None:
    """``archive.read(info)`` but for its CRC-32 check, minus zipfile's per-member objects and
    seeks, which cost more than the decompression itself for the many small files of a
    wheel (Pyodide: ~1/3 of unpacking); ``None`` where the short way does not apply.

    Only the plain case takes the short way: a stored or deflated member whose local header,
    name, extent and size check out exactly as zipfile checks them; anything else is left
    to ``archive.read``, which returns or raises as it always has. In the plain case, a
    member ``streamed`` inflated from these very bytes (its compressed bytes' Adler-32 the
    same), the same way, to the size the central directory gives, is taken as it is. The
    CRC-32 is left to :func:`check_wheel`: RECORD's hash, where it matches, is the stronger
    check of the same bytes, and computing both cost (b) 50 ms on its 109 MB.
    """
    start = info.header_offset + _LOCAL_HEADER.size
    if (info.flag_bits & _UNUSUAL_FLAGS or info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
            or info.header_offset < 0):  # an end record that overstates the directory's offset
        return None
    header = data[info.header_offset:start]
    if len(header) != _LOCAL_HEADER.size:
        return None
    # The local file header: signature, versions, flags, method, time, date, CRC, sizes,
    # then the lengths of the name and of the extra field that follow it.
    signature, *_, name_length, extra_length = _LOCAL_HEADER.unpack(header)
    begin = start + name_length + extra_length
    end = begin + info.compress_size
    limit = getattr(info, "_end_offset", None)  # set by zipfile >= 3.12 (overlapping entries)
    if (signature != _LOCAL_SIGNATURE
            or _member_name(bytes(data[start:start + name_length])) != info.orig_filename
            or end > len(data) or (limit is not None and end > limit)):
        return None
    early = streamed.get(info.header_offset)
    if (early is not None and early[:4] == (begin, end, info.compress_type, info.file_size)
            and early.check == zlib.adler32(data[begin:end])):
        return early.content
    if info.compress_type == zipfile.ZIP_STORED:
        content = bytes(data[begin:end])
    else:
        inflater = zlib.decompressobj(-15)
        # Never more than the declared size (+1 to notice a longer stream): no zip bomb.
        content = inflater.decompress(data[begin:end], info.file_size + 1)
        if not inflater.eof:
            return None
    return content if len(content) == info.file_size else None


def _member_name(raw: bytes) -> str | None:
    """A local header's name as the archive is read (``metadata_encoding="utf-8"``): UTF-8,
    whatever the header's flag says (the wheel spec's names are UTF-8); None for a name that
    is not, whose read fails in zipfile (decoded with "replace" instead, bytes \xff matched a
    central directory name U+FFFD, and a member zipfile refuses was taken). ASCII first: its
    decoder is the cheapest (Pyodide; (a) decodes 7,692 names)."""
    if raw.isascii():
        return raw.decode("ascii")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


class _Streamed(NamedTuple):
    begin: int  # where the member's compressed bytes start in the body
    end: int
    method: int
    size: int
    check: int  # the Adler-32 of the compressed bytes (body[begin:end]) it was inflated from
    content: Any  # bytes, or what the stream's sink gave to stand for them (see MemberSink.member)


class _Partial:
    """A deflated member :class:`MemberStream` inflates piece by piece."""

    __slots__ = ("base", "begin", "end", "size", "name", "inflater", "out", "produced", "check")

    def __init__(self, base: int, begin: int, end: int, size: int, name: bytes) -> None:
        self.base, self.begin, self.end, self.size, self.name = base, begin, end, size, name
        self.inflater: Any = zlib.decompressobj(-15)  # None once it can no longer be taken
        self.out: list[bytes] = []
        self.produced = 0
        self.check = zlib.adler32(b"")  # of the compressed bytes read so far


class MemberSink(Protocol):
    """Takes the members a :class:`MemberStream` inflated (see there). Untrusted input."""

    def member(self, name: str, content: bytes) -> object | None:
        """Take ``content``; return None, or an object that stands for it from then on (its
        ``len()`` and ``bytes()`` give the content; the stream keeps it instead, so that
        the sink can move the bytes out of the interpreter's memory)."""

    def flush(self) -> None:
        """The members of one piece are all handed over (they may be written in one go)."""

    def reset(self) -> None: ...

    def close(self) -> None:
        """The download failed or is not needed: drop what was taken (not called by the stream)."""


class MemberStream:
    """Inflates a wheel's members while its body is still downloading.

    Feed it the body's pieces in order (:meth:`feed`, the transport's ``on_data``). A zip
    lists its members front to back, each behind a local header; every member whose header
    gives its sizes (no data descriptor), stored or deflated and not encrypted, is inflated
    the moment its last byte is in, bounded by its declared size; a deflated one of
    :attr:`PARTIAL` bytes or more is inflated piece by piece as its bytes come in (the
    transport hands over a piece every 256 kB), and taken whole at its last byte. So when
    the last byte of a large wheel arrives, little is left to inflate (in (b) on the WAN,
    the 18.7 MB of ``_vt.so``, inflated from 2.0 s to 2.3 s instead of all at 2.3 s).
    Nothing here is trusted:
    :func:`read_wheel` takes a member only if the central directory, read from the whole
    verified body, agrees on its place, method and size, and its compressed bytes there are
    the ones inflated (see ``_member``).

    The body is not verified yet while it streams, so what it may cost is bounded: members
    inflate to at most :attr:`RATIO` times the bytes received so far (plus
    :attr:`ALLOWANCE`), and at most :attr:`MAX_PENDING` bytes wait for a member to end. A
    member over budget is left for the end (real wheels inflate 4 to 10 times; a zip bomb
    is refused by its hash before it is inflated).

    With a ``hasher``, the sha256s RECORD needs are started too, one batch per piece, so
    they are ready (or nearly) when the body is; see :meth:`digests`. With a ``sink``
    (:class:`MemberSink`), each inflated member is handed over with the name its local header
    gives, so that its file can be staged while the rest downloads, and ``sink.flush()``
    follows each piece's members; ``sink.reset()`` says that what it was given is void (the
    request restarted, or a gap).

    It never raises. At anything unexpected (an unusual member, the central directory, a
    gap in the pieces) it stops, and whatever is left is inflated at the end as before;
    after a gap it also forgets what it inflated.
    """

    RATIO = 16
    ALLOWANCE = 1 << 20
    MAX_PENDING = 64 << 20
    PARTIAL = 64 << 10  # deflated members of this many bytes or more inflate piece by piece
    SLICE = 256 << 10  # of such a member's bytes, handed to the inflater at a time

    def __init__(self, hasher: Hasher | None = None, sink: MemberSink | None = None) -> None:
        self.hasher = hasher
        self.sink = sink
        self._start()

    def _start(self) -> None:
        self.members: dict[int, _Streamed] = {}  # by the offset of the member's local header
        self._pending = bytearray()  # the last body bytes received, not yet a whole member
        self._received = 0
        self._inflated = 0
        self._stopped = False
        self._partial: _Partial | None = None  # a large member being inflated piece by piece
        self._fresh: list[bytes] = []  # inflated by the current piece, not yet hashing
        self._standing: list[object] = []  # what stands for each of them (see MemberSink.member)
        self._hashing: list[tuple[list[object], Coroutine[Any, Any, list[bytes]]]] = []
        self._digests: dict[int, bytes] = {}  # what digests() collected so far

    def feed(self, offset: int, piece: bytes) -> None:
        """The body's bytes ``piece`` starting at ``offset``. Offset 0 means the request
        (re)starts: everything fed before is dropped (``get_ok`` says so before each try)."""
        try:
            if offset == 0:
                if self._received:
                    self._void()
                self.close()
                self._start()
            if self._stopped:
                return
            if offset != self._received:  # a gap or an overlap: these are not the body's bytes
                self._void()
                self.close()
                self._stopped = True
                return
            self._received += len(piece)
            self._pending += piece
            self._inflate_whole_members()
            if self.sink is not None:
                self._flush_sink()
            fresh, self._fresh = self._fresh, []
            standing, self._standing = self._standing, []
            if fresh and self.hasher is not None:
                asyncio.get_running_loop()  # none (a thread, plain code): no hashing, no coroutine
                self._hashing.append((standing, self.hasher.start(fresh)))
        except Exception:  # noqa: BLE001 - hostile bytes, no event loop: read_wheel reads it all
            self._stopped = True
        if self._stopped:
            self._pending = bytearray()  # the rest is read from the whole body at the end
            self._partial = None

    async def digests(self) -> dict[int, bytes]:
        """The sha256 of each member hashed so far, by ``id`` of its content (the very
        object :func:`read_wheel` takes: the bytes, or what the sink gave to stand for
        them). A batch that failed is left out."""
        known: dict[int, bytes] = {}
        while self._hashing:
            # One at a time: if this waiter is cancelled, the batches not reached are still
            # there for close() (never awaited otherwise: a warning each).
            standing, batch = self._hashing.pop(0)
            try:
                digests = await batch
                known.update(zip(map(id, standing), digests, strict=True))
            except Exception:  # noqa: BLE001, S112 - hashed again at the end
                continue
        self._digests.update(known)
        return self._digests

    def close(self) -> None:
        """Drop the hashing not collected (:meth:`digests`) and let go of the inflated members."""
        for _, batch in self._hashing:
            batch.close()  # never awaited: no warning about it
        self._hashing = []
        self.members = {}
        self._partial = None

    def _void(self) -> None:
        if self.sink is not None:
            self.sink.reset()

    def _hand_over(self, header: bytes, content: bytes) -> object:
        """What stands for ``content`` from now on (see :meth:`MemberSink.member`)."""
        # As the archive's read decodes names (the central directory's may differ: the name
        # is then another, and read_wheel does not take the content anyway).
        name = _member_name(header)
        if name is None:  # not UTF-8: read_wheel refuses the archive
            return content
        try:
            standing = self.sink.member(name, content)  # type: ignore[union-attr]
        except Exception:  # noqa: BLE001 - a sink must not stop the stream; it is checked at the end
            self.sink = None
            return content
        return content if standing is None else standing

    def _flush_sink(self) -> None:
        try:
            self.sink.flush()  # type: ignore[union-attr]
        except Exception:  # noqa: BLE001 - as in _hand_over
            self.sink = None

    def _inflate_whole_members(self) -> None:
        pending = self._pending
        while not self._stopped:
            if self._partial is not None:
                if not self._inflate_partial():
                    return
                continue
            if len(pending) < _LOCAL_HEADER.size:
                return
            (signature, _, _, flags, method, _, _, _, compressed, size,
             name_length, extra_length) = _LOCAL_HEADER.unpack_from(pending)
            if (signature != _LOCAL_SIGNATURE or flags & (_UNUSUAL_FLAGS | _DATA_DESCRIPTOR)
                    or method not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
                    or 0xFFFFFFFF in (compressed, size)):  # the central directory, or ZIP64
                self._stopped = True
                return
            begin = _LOCAL_HEADER.size + name_length + extra_length
            end = begin + compressed
            base = self._received - len(pending)  # where this member's local header is in the body
            if len(pending) < end:
                if method == zipfile.ZIP_DEFLATED and compressed >= self.PARTIAL and len(pending) >= begin:
                    # A large member is inflated piece by piece as its bytes come in, so
                    # that little of it is left when its last byte does.
                    part = self._partial = _Partial(base, base + begin, base + end, size,
                                                    bytes(pending[_LOCAL_HEADER.size:_LOCAL_HEADER.size + name_length]))
                    if self._inflated + size > self.RATIO * (base + end) + self.ALLOWANCE:
                        part.inflater = None  # over budget even once all its bytes are in: read, not inflated
                    del pending[:begin]
                    continue
                self._stopped = end > self.MAX_PENDING
                return
            if self._inflated + size <= self.RATIO * self._received + self.ALLOWANCE:
                # Inflated (never past the declared size, +1 to notice a longer stream) and
                # checked here, not in a function of its own: this runs for every member.
                with memoryview(pending) as view:
                    compressed = view[begin:end]
                    if method == zipfile.ZIP_STORED:
                        content, ended = bytes(compressed), True
                    else:
                        inflater = zlib.decompressobj(-15)
                        content = inflater.decompress(compressed, size + 1)
                        ended = inflater.eof
                    check = zlib.adler32(compressed)
                    del compressed  # before the view is released
                if ended and len(content) == size:
                    start = _LOCAL_HEADER.size
                    self._take(_Streamed(base + begin, base + end, method, size, check, content),
                               base, bytes(pending[start:start + name_length]))
                else:
                    self._inflated += len(content)  # not taken, but what it inflated counts all the same
            del pending[:end]

    def _take(self, member: _Streamed, base: int, name: bytes) -> None:
        """A member inflated whole and to its declared size: handed to the sink, kept, hashed."""
        content = member.content
        self._inflated += member.size
        standing: object = content
        if self.sink is not None:
            standing = self._hand_over(name, content)
        self.members[base] = member._replace(content=standing)
        self._fresh.append(content)
        self._standing.append(standing)

    def _inflate_partial(self) -> bool:
        """Inflate what has come in of the member begun in pieces; True once its last byte
        is in (and the member taken, if it inflated whole to its declared size, its deflate
        stream ended), False while more is needed.

        The budget holds at every step: what would inflate beyond it waits in ``_pending``
        for more of the body. The inflater is handed :attr:`SLICE` bytes at a time, so that
        what it gives back unused (and copies) is never more. The member is dropped, its
        bytes read to its end without inflating and left for :func:`read_wheel`, when it
        inflates past its declared size, is not deflate data, is still over budget once all
        its bytes are in, or would keep more than :attr:`MAX_PENDING` bytes waiting; what it
        inflated counts against the budget all the same. Bytes after its deflate stream's
        end are only read (as ``zipfile`` ignores them)."""
        part, pending = self._partial, self._pending
        assert part is not None
        at = self._received - len(pending)  # where pending starts in the body
        take = min(len(pending), part.end - at)
        # Over budget now means over budget for good once all its bytes are in, or once
        # more than MAX_PENDING of them would wait (neither changes within this call).
        for_good = self._received >= part.end or len(pending) > self.MAX_PENDING
        used = 0
        with memoryview(pending) as view:
            while used < take and part.inflater is not None and not part.inflater.eof:
                room = self.RATIO * self._received + self.ALLOWANCE - self._inflated - part.produced
                limit = min(part.size + 1 - part.produced, room)
                if limit <= 0:  # over budget now
                    if for_good:
                        self._drop(part)
                    break
                piece = view[used:min(take, used + self.SLICE)]
                try:
                    out = part.inflater.decompress(piece, limit)
                except zlib.error:
                    del piece
                    self._drop(part)
                    break
                left = len(part.inflater.unconsumed_tail)
                used += len(piece) - left
                del piece  # before the view is released
                part.out.append(out)
                part.produced += len(out)
                if part.produced > part.size or (left and for_good):
                    self._drop(part)  # longer than declared, or over budget for good
                elif left:
                    break  # over budget now: the rest waits for more of the body
            if part.inflater is None or part.inflater.eof:
                used = take  # read to its end, not inflated
            with view[:used] as read:
                part.check = zlib.adler32(read, part.check)
        del pending[:used]
        if at + used < part.end:
            return False
        self._partial = None
        inflater = part.inflater
        if inflater is not None and inflater.eof and part.produced == part.size:
            content = part.out[0] if len(part.out) == 1 else b"".join(part.out)
            part.out = []
            self._take(_Streamed(part.begin, part.end, zipfile.ZIP_DEFLATED, part.size, part.check, content),
                       part.base, part.name)
        elif inflater is not None:
            self._drop(part)
        return True

    def _drop(self, part: _Partial) -> None:
        """A member begun in pieces that will not be taken: what it inflated still counts."""
        self._inflated += part.produced
        part.produced = 0
        part.inflater = None
        part.out = []


def _check_member(info: zipfile.ZipInfo, problems: _Problems) -> bool:
    name = info.orig_filename  # zipfile's filename stops at a NUL: the rule is about the whole name
    reason = _unsafe_path_reason(name)
    mode = info.external_attr >> 16
    if reason is None and info.create_system == 3 and stat.S_IFMT(mode):
        if stat.S_ISLNK(mode):
            reason = "symbolic links are not allowed in wheels"
        elif not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
            reason = "special files are not allowed in wheels"
    if reason is not None:
        problems.add(UnsafePathError, reason, name)
        return False
    return True


def _unsafe_path_reason(name: str) -> str | None:
    if not name:
        return "empty member name"
    if "\x00" in name:
        return "NUL in path"
    if "\\" in name:
        return "backslash in path"
    if name.startswith("/"):
        return "absolute path"
    if _DRIVE.match(name):
        return "drive letter in path"
    # The path's parts, each between slashes: a part ".." is "/../" in it, and so on.
    parts = f"/{name.rstrip('/')}/"
    if "/../" in parts:
        return "'..' in path escapes the install directory"
    if "//" in parts or "/./" in parts:
        return "empty or '.' path component"
    return None


# --- rules 2 and 3: dist-info and WHEEL -------------------------------------------------


def _tops(paths: Iterable[str]) -> set[str]:
    """The top-level folders of ``paths`` (one pass over a wheel's members, for _top_dirs)."""
    return {path[:path.find("/")] for path in paths if "/" in path}


def _top_dirs(tops: Iterable[str], suffix: str) -> list[str]:
    return sorted(top for top in tops if top.endswith(suffix))


def _matches(stem: str, wheel_name: WheelName) -> bool:
    name, sep, version = stem.rpartition("-")
    return bool(sep) and canonicalize_name(name) == wheel_name.name and _same_version(
        version.replace("_", "-"), wheel_name.version
    )


def _find_dist_info(wheel_name: WheelName, tops: set[str], problems: _Problems) -> str | None:
    found = _top_dirs(tops, ".dist-info")
    expected = f"{wheel_name.name.replace('-', '_')}-{wheel_name.version}.dist-info"
    if not found:
        problems.add(WheelError, f"no .dist-info directory (expected {expected})")
        return None
    if len(found) > 1:
        problems.add(WheelError, f"more than one .dist-info directory: {', '.join(found)}")
    matching = [d for d in found if _matches(d[: -len(".dist-info")], wheel_name)]
    if not matching:
        problems.add(WheelError, f"{found[0]} does not match the file name (expected {expected})")
        return None
    return matching[0]


def _check_wheel_file(data: bytes | None, problems: _Problems, notes: list[str]) -> bool:
    """Check WHEEL; return Root-Is-Purelib (True when unreadable, so checks can go on).
    ``notes`` gets a warning for a 1.x newer than 1.0 (the wheel spec: installers should warn)."""
    if data is None:
        problems.add(WheelError, "the .dist-info directory has no WHEEL file")
        return True
    fields = read_headers(data)  # as the email parser reads headers (see there)
    version = first(fields, "wheel-version") or ""
    match = re.fullmatch(r"(\d+)\.(\d+)", version)
    if not match:
        problems.add(WheelError, f"WHEEL has no valid Wheel-Version (got {version!r})")
    elif match.group(1) != "1":
        problems.add(WheelError, f"Wheel-Version {version} is not supported (only 1.x)")
    elif match.group(2).strip("0"):  # a minor above 0 (any number of digits)
        notes.append(f"Wheel-Version {version} is newer than this installer knows (1.0): installed as a 1.0 "
                     "wheel; a newer pyemscripten may know what it adds")
    return (first(fields, "root-is-purelib") or "").lower() == "true"


# --- rule 4: RECORD ---------------------------------------------------------------------


def _check_record(members: dict[str, bytes], dist_info: str, problems: _Problems,
                  sha256: Mapping[str, bytes], as_written: bool = False) -> tuple[dict[str, str], set[str]]:
    """Check RECORD against the members; return the sha256s that matched, by member path,
    and the paths whose hash (any algorithm) and size matched.

    ``sha256``: digests already computed, by member path. ``as_written``: a row's own sha256
    stands for its member's (see :func:`check_wheel`)."""
    record_path = f"{dist_info}/RECORD"
    data = members.get(record_path)
    verified: dict[str, str] = {}
    hashed: set[str] = set()
    if data is None:
        problems.add(RecordError, "the wheel has no RECORD", record_path)
        return verified, hashed
    try:
        rows = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    except (UnicodeDecodeError, csv.Error) as exc:
        problems.add(RecordError, f"RECORD is not valid UTF-8 CSV ({exc})", record_path)
        return verified, hashed
    listed: set[str] = set()
    for number, row in enumerate(rows, start=1):
        if not row:
            continue
        if len(row) != 3:
            problems.add(RecordError, f"RECORD line {number} has {len(row)} fields, not 3", record_path)
            continue
        path, hash_field, size_field = row
        if path.endswith("/") and not hash_field and not size_field and path not in members:
            # A folder's row: the spec lists files only, but some builders list folders too
            # (and pip installs their wheels). Nothing to check or install; the installed
            # RECORD is written fresh, without it.
            continue
        if path in listed:
            problems.add(RecordError, "listed twice in RECORD", path)
            continue
        listed.add(path)
        digest = _written_sha256(hash_field) if as_written else sha256.get(path)
        content = members.get(path)
        # The common row first, inline (thousands per wheel): a sha256 written as the spec
        # says that matches; anything else, mismatches included, is _check_row's.
        if (digest is not None and content is not None and hash_field.startswith("sha256=")
                and hash_field[7:] == record_digest(digest) and (not size_field or size_field == str(len(content)))):
            hashed.add(path)
            verified[path] = hash_field[7:]
            continue
        if _check_row(path, hash_field, size_field, content, dist_info, problems, digest):
            hashed.add(path)
            algorithm, _, written = hash_field.partition("=")
            if algorithm == "sha256":
                verified[path] = written.rstrip("=")
    # RECORD and its signatures are the only members RECORD need not list (the signatures
    # "are not mentioned in RECORD at all": they sign it).
    unlisted = _unhashed(dist_info)
    for path in members:
        if path not in listed and path not in unlisted:
            problems.add(RecordError, "in the archive but not listed in RECORD", path)
    return verified, hashed


def _check_crc(members: Mapping[str, bytes], crc_due: Mapping[str, int], hashed: Collection[str],
               problems: _Problems) -> None:
    """The CRC-32 of each member read without it (``crc_due``) that RECORD's hash did not
    vouch for: RECORD itself and its signatures, and members whose row failed."""
    for path, expected in crc_due.items():
        if path not in hashed:
            got = zlib.crc32(bytes(members[path]))
            if got != expected:
                problems.add(WheelError, f"bad CRC-32: the archive says {expected:08x}, the content is {got:08x}",
                             path)


_URLSAFE = bytes.maketrans(b"+/", b"-_")


def record_digest(digest: bytes) -> str:
    """``digest`` as RECORD writes it: urlsafe base64, unpadded (base64.urlsafe_b64encode,
    in C calls only)."""
    return binascii.b2a_base64(digest, newline=False).rstrip(b"=").translate(_URLSAFE).decode("ascii")


def _written_sha256(hash_field: str) -> bytes | None:
    """The digest a RECORD hash field gives, if it is a sha256 that decodes to 32 bytes."""
    algorithm, _, encoded = hash_field.partition("=")
    if algorithm != "sha256":
        return None
    try:
        digest = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    except (binascii.Error, ValueError):
        return None
    return digest if len(digest) == 32 else None


def _check_row(path: str, hash_field: str, size_field: str, content: bytes | None,
               dist_info: str, problems: _Problems, sha256: bytes | None) -> bool:
    """Check one RECORD row; True when it has a hash and hash and size match.

    ``sha256``: the content's sha256 digest if already computed."""
    if content is None:
        problems.add(RecordError, "listed in RECORD but not in the archive", path)
        return False
    if not hash_field:
        if path not in _unhashed(dist_info):
            problems.add(RecordError, "RECORD gives no hash", path)
        return False
    algorithm, sep, expected = hash_field.partition("=")
    if not sep or algorithm not in _ALLOWED_HASHES:
        problems.add(RecordError, f"hash algorithm {algorithm!r} is not allowed (use sha256 or stronger)", path)
        return False
    if algorithm != "sha256":
        digest = hashlib.new(algorithm, bytes(content)).digest()
    else:
        digest = sha256 if sha256 is not None else hashlib.sha256(bytes(content)).digest()
    got = record_digest(digest)
    ok = True
    # Written as the spec says (urlsafe, unpadded), the text compares directly; only other
    # spellings are decoded.
    if got != expected and not _digest_equal(expected, digest):
        problems.add(RecordError, f"hash mismatch: RECORD says {algorithm}={expected}, content is {algorithm}={got}", path)
        ok = False
    if size_field and size_field != str(len(content)):
        problems.add(RecordError, f"size mismatch: RECORD says {size_field}, content is {len(content)} bytes", path)
        ok = False
    # RECORD may write the digest with padding; the installer's RECORD never does.
    return ok and got == expected.rstrip("=")


def _digest_equal(expected: str, digest: bytes) -> bool:
    try:
        return base64.urlsafe_b64decode(expected + "=" * (-len(expected) % 4)) == digest
    except (binascii.Error, ValueError):
        return False


# --- rule 5: METADATA -------------------------------------------------------------------


def _read_metadata(wheel_name: WheelName, data: bytes | None, problems: _Problems,
                   notes: list[str]) -> dict[str, list[str]] | None:
    if data is None:
        problems.add(MetadataError, "the .dist-info directory has no METADATA file")
        return None
    fields = read_headers(data)
    newer = newer_metadata_version(fields)
    if newer is not None:
        problems.add(MetadataError, newer, advice=newer_metadata_advice(wheel_name.name))
        return None
    unknown = unknown_metadata_version(fields)
    if unknown is not None:
        notes.append(unknown)
    name, version = first(fields, "name"), first(fields, "version")
    if not name or not version:
        problems.add(MetadataError, "METADATA has no Name or no Version")
        return None
    if not _NAME.fullmatch(name):  # it names the headers' folder: ".." would leave it
        problems.add(MetadataError, f"METADATA's Name {name!r} is not a valid project name")
        return None
    if canonicalize_name(name) != wheel_name.name:
        problems.add(MetadataError, f"METADATA says Name {name!r}, the file name says {wheel_name.name!r}")
    if not _same_version(version, wheel_name.version):
        problems.add(MetadataError, f"METADATA says Version {version!r}, the file name says {wheel_name.version}")
    return fields


# --- rule 6: where each file goes -------------------------------------------------------


def _place_files(wheel_name: WheelName, members: dict[str, bytes], tops: set[str], dist_info: str,
                 root_is_purelib: bool, verified: Mapping[str, str], problems: _Problems,
                 ) -> tuple[tuple[tuple[str, str, bytes], ...], dict[tuple[str, str], str]]:
    """Each member's (scheme key, relative path, bytes), and the verified sha256s by row."""
    data_dir = dist_info[: -len(".dist-info")] + ".data"
    for other in _top_dirs(tops, ".data"):
        # Builders differ in how they spell the name; any spelling of this name-version counts.
        if other != data_dir and _matches(other[: -len(".data")], wheel_name):
            data_dir = other
    for other in _top_dirs(tops, ".data"):
        if other != data_dir:
            problems.add(WheelError, f"unexpected .data directory (expected {data_dir})", other)
    root_key = "purelib" if root_is_purelib else "platlib"
    skip = _unhashed(dist_info)
    files = []
    sha256: dict[tuple[str, str], str] = {}
    data_prefix = data_dir + "/"
    from_data: list[tuple[str, str, str]] = []  # (scheme key, relative path, member) of .data members
    for path, content in members.items():
        if path in skip:
            continue
        if not path.startswith(data_prefix):
            key, rest = root_key, path
        else:
            key, sep, rest = path[len(data_dir) + 1:].partition("/")
            if not sep or key not in SCHEME_KEYS:
                problems.add(WheelError, f"unknown .data folder {key!r} (allowed: {', '.join(SCHEME_KEYS)})", path)
                continue
            if key in ("purelib", "platlib") and rest.split("/", 1)[0].endswith(".dist-info"):
                # It would stand beside site-packages' own records as a distribution's (its
                # RECORD naming files to remove): only the wheel's own .dist-info is one.
                problems.add(WheelError, "a .dist-info folder inside .data would pose as an installed distribution",
                             path)
                continue
            from_data.append((key, rest, path))
        files.append((key, rest, content))
        if path in verified:
            sha256[(key, rest)] = verified[path]
    if from_data:
        # Two members installed as one file: a root one and a .data one, or .data/purelib
        # and .data/platlib ones (one folder in the runtime, as in most environments).
        places = {("lib", path): path for path in members if path not in skip and not path.startswith(data_prefix)}
        for key, rest, path in from_data:
            other = places.setdefault(("lib" if key in ("purelib", "platlib") else key, rest), path)
            if other != path:
                problems.add(WheelError, f"would be installed where {other!r} is", path)
    return tuple(files), sha256
