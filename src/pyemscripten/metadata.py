"""Core metadata (METADATA / PEP 658 ``.metadata`` files): just what resolution needs.

Pure. Raises :class:`MetadataError` naming the project and file for anything unparseable.
"""

from __future__ import annotations

import re
import zipfile
import zlib
from dataclasses import dataclass
from io import BytesIO
from typing import TYPE_CHECKING

from packaging.markers import UndefinedEnvironmentName
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from .errors import MetadataError

# packaging.metadata is imported where it is used: it brings the email package and SPDX's
# license list, about 0.2 s of compiling in Pyodide, and an install never needs it.
if TYPE_CHECKING:
    from packaging.metadata import RawMetadata


@dataclass(frozen=True)
class DistMetadata:
    name: str  # canonical
    version: Version
    requires_dist: tuple[Requirement, ...]
    requires_python: SpecifierSet | None
    provides_extra: tuple[str, ...] = ()


_PROBE = Version("0")
# A marker's variables that hold versions, each set to one, so that a marker compares them as
# versions wherever the runtime's would (the host's platform_release may be no version).
_PROBE_ENVIRONMENT = {"extra": "", "python_version": "3.14", "python_full_version": "3.14.0",
                      "implementation_version": "3.14.0", "platform_release": "1.0", "platform_version": "1.0"}
_BLANK_LINE = re.compile(rb"\r?\n\r?\n")


def header_block(data: bytes) -> bytes:
    """METADATA up to the first blank line: its headers, without the body.

    The body is the long description, often most of the file, and nothing here reads it;
    feeding it through the email parser was most of the time spent on metadata in Pyodide
    (4 to 6 ms a file). The parser ends the headers at the first empty line, so it reads
    the same headers either way: the cut is never before the point where it stops.
    """
    match = _BLANK_LINE.search(data)
    return data[:match.end()] if match else data


# The email parser's reading of a header block (email.feedparser, policy compat32): lines end
# at \r\n, \r or \n; a line starting with a space or tab continues the field before it;
# "Name: value" starts a field, its name printable ASCII without a colon; anything else ends
# the headers. A line starting "From " (an mbox envelope) or ":" is no field, and lines
# continuing it are dropped.
_LINE_ENDS = re.compile(r"(\r\n|\r|\n)")
_FIELD_NAME = re.compile(r"[\x21-\x39\x3b-\x7e]*")


def read_headers(data: bytes) -> dict[str, list[str]]:
    """METADATA's header fields: each value, stripped, under its lowercased name, in file order.

    What :class:`email.parser.BytesParser` (compat32, as packaging and pip use it) reads as
    the headers, in a single pass: in Pyodide the email parser took 2 to 4 ms a file, and
    every install reads METADATA a few times per distribution (resolution, the wheel check,
    what is installed). Bytes are read as UTF-8; what is not UTF-8 becomes U+FFFD.
    A property test compares the two readers.
    """
    parts = _LINE_ENDS.split(header_block(data).decode("utf-8", "replace"))
    fields: dict[str, list[str]] = {}
    current: list[str] | None = None  # the field the next continuation line goes to
    for k in range(0, len(parts), 2):
        line = parts[k]
        if not line:
            break  # the blank line after the headers, or the end of the text
        if line[0] in " \t":
            if current is not None:
                current[-1] += parts[k - 1] + line  # keeps the line end, as compat32 does
            continue
        current = None
        if line.startswith("From "):
            continue
        name, colon, value = line.partition(":")
        if not colon or _FIELD_NAME.fullmatch(name) is None:
            break  # the body starts here
        if name:
            current = fields.setdefault(name.lower(), [])
            current.append(value.lstrip(" \t"))
    return {name: [value.strip() for value in values] for name, values in fields.items()}


def parse_headers(data: bytes) -> RawMetadata:
    """packaging's reading of METADATA's header block (see :func:`header_block`): every
    field, for :class:`packaging.metadata.Metadata`."""
    from packaging.metadata import parse_email  # see the imports above

    return parse_email(header_block(data))[0]


def check_requirement(req: Requirement) -> Requirement:
    """``req``, once its specifier and marker have been compared: raises ValueError if they cannot be.

    packaging parses the versions inside specifiers and markers lazily: a number longer than
    int() converts (4300 digits), or a marker like ``python_version ~= 'x'``, passes
    ``Requirement()`` and raises ValueError at the first comparison - deep in resolution.
    One comparison here turns that into a parse error where the text is known: one per
    specifier, as a set stops at the first that fails (``>=1,<9999...`` never reaches the second).
    """
    _compare(req.specifier)
    if req.marker is not None:
        try:
            req.marker.evaluate(_PROBE_ENVIRONMENT)
        except UndefinedEnvironmentName as exc:
            # A KeyError, not a ValueError: ``"x" == "y"`` (packaging reads the right-hand
            # string as a variable's name) or ``"x" in extras`` (a lock file's variable, not
            # metadata's) passed every caller's ``except ValueError`` and crashed the parse.
            raise ValueError(f"{exc.args[0]!r} is not a marker variable (a marker compares one, such as "
                             "python_version, with a string)") from None
    return req


def newer_metadata_version(fields: dict[str, list[str]]) -> str | None:
    """Why METADATA cannot be read, if its Metadata-Version's major is above 2: the core
    metadata spec says tools MUST fail then."""
    given = first(fields, "metadata-version")
    major = (given or "").strip().split(".")[0]
    if major.isascii() and major.isdigit() and len(major) < 10 and int(major) > 2:
        return f"Metadata-Version {given} is newer than this installer reads (2.x)"
    return None


def newer_metadata_advice(project: str) -> str:
    """What to do about :func:`newer_metadata_version`'s refusal."""
    return f"a newer pyemscripten may read it; or pin a version of {project} whose metadata this one reads"


#: The newest Metadata-Version this installer knows: packaging's newest (a unit test keeps
#: them the same; asking packaging.metadata here would import it, see above).
NEWEST_METADATA_VERSION = (2, 6)


def unknown_metadata_version(fields: dict[str, list[str]]) -> str | None:
    """A warning, if METADATA's Metadata-Version is a 2.x newer than
    :data:`NEWEST_METADATA_VERSION`: the core metadata spec says tools SHOULD warn then (a
    major above 2 is :func:`newer_metadata_version`'s: they MUST fail)."""
    given = (first(fields, "metadata-version") or "").strip()
    major, _, minor = given.partition(".")
    newest_major, newest_minor = NEWEST_METADATA_VERSION
    if (major != str(newest_major) or not (minor.isascii() and minor.isdigit()) or len(minor) > 9
            or int(minor) <= newest_minor):
        return None
    return (f"Metadata-Version {given} is newer than this installer knows ({newest_major}.{newest_minor}): "
            "fields new since then are not read; a newer pyemscripten may know them")


def _compare(specifiers: SpecifierSet) -> None:
    """Compare every specifier of a set once (see :func:`check_requirement`), and ask
    whether it admits pre-releases (which parses an ``===`` specifier's version too)."""
    for specifier in specifiers:
        specifier.contains(_PROBE, prereleases=True)
        specifier.prereleases  # noqa: B018 - raises ValueError for a version int() refuses


def parse_metadata(data: bytes, project: str, filename: str, installed: bool = False) -> DistMetadata:
    """Parse METADATA bytes. Raises :class:`MetadataError`.

    ``installed``: of a distribution already installed, which stays what it is: a
    Requires-Dist that does not parse is left out, not the whole distribution (it is
    installed whatever its metadata says, and must not look absent)."""
    fields = read_headers(data)
    newer = newer_metadata_version(fields)
    if newer is not None:
        raise MetadataError(project, filename, newer, advice=newer_metadata_advice(project))
    name, version = first(fields, "name"), first(fields, "version")
    if not name or not version:
        raise MetadataError(project, filename, "Name or Version is missing")
    try:
        parsed_version = Version(version)
    except ValueError:  # InvalidVersion, or a number int() refuses (> 4300 digits)
        raise MetadataError(project, filename, f"invalid Version {version!r}") from None
    requires = []
    for line in fields.get("requires-dist", ()):
        try:
            requires.append(check_requirement(Requirement(line)))
        except ValueError as exc:  # InvalidRequirement, or what check_requirement finds
            if installed:
                continue
            raise MetadataError(project, filename, f"invalid Requires-Dist {line!r}: {exc}") from None
    requires_python = first(fields, "requires-python")
    try:
        python_spec = SpecifierSet(requires_python) if requires_python else None
        if python_spec is not None:
            _compare(python_spec)
    except ValueError:  # InvalidSpecifier, or a version in it that does not compare
        raise MetadataError(project, filename, f"invalid Requires-Python {requires_python!r}") from None
    extras = tuple(canonicalize_name(e) for e in fields.get("provides-extra", ()))
    return DistMetadata(canonicalize_name(name), parsed_version, tuple(requires), python_spec, extras)


def first(fields: dict[str, list[str]], name: str) -> str | None:
    """The first value of a field of :func:`read_headers`, or None."""
    values = fields.get(name)
    return values[0] if values else None


def metadata_from_wheel(data: bytes, project: str, filename: str) -> DistMetadata:
    """Read METADATA out of a wheel's bytes (used when the index offers no .metadata file)."""
    try:
        with zipfile.ZipFile(BytesIO(data), metadata_encoding="utf-8") as archive:  # the wheel spec's names
            candidates = [n for n in archive.namelist() if n.count("/") == 1 and n.endswith(".dist-info/METADATA")]
            if len(candidates) != 1:
                raise MetadataError(project, filename, f"expected one .dist-info/METADATA, found {len(candidates)}")
            info = archive.getinfo(candidates[0])
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise MetadataError(project, filename, f"{info.filename}: {unusual_method(info)}")
            return parse_metadata(read_bounded(archive, info), project, filename)
    # As in wheels._read_archive: zipfile reports a corrupt archive through all of these.
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError, ValueError,
            NotImplementedError, RuntimeError, KeyError, IndexError, OverflowError, UnicodeDecodeError) as exc:
        # A MetadataError all the same: resolution passes over a version it cannot read, as pip does.
        raise MetadataError(project, filename, f"the wheel is corrupt: not a readable zip archive "
                                               f"({type(exc).__name__}: {exc})") from None


def unusual_method(info: zipfile.ZipInfo) -> str:
    """Why a member compressed otherwise than stored or deflated is refused: zipfile inflates
    bzip2 and LZMA without bound (4 kB of bzip2 can hold gigabytes), and wheels use deflate."""
    method = {zipfile.ZIP_BZIP2: "bzip2", zipfile.ZIP_LZMA: "LZMA"}.get(info.compress_type, f"method {info.compress_type}")
    return f"compressed with {method}, not deflate as wheels are: a wheel made by unusual means; ask for one built by " \
           "a standard tool"


def read_bounded(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """``archive.read(info)``, never inflating past the declared size: zipfile's own ``read``
    inflates up to 1 GiB before it trims (a 1 MB member declared as 1 byte cost 2 GB). Raises
    what zipfile raises (a bad CRC-32, a negative offset), and ``zipfile.BadZipFile`` for a
    member whose data does not give its declared size."""
    if info.header_offset < 0:
        raise zipfile.BadZipFile(f"{info.filename}: its local header would be before the archive's start")
    with archive.open(info) as member:
        content = member.read(info.file_size + 1)
    if len(content) != info.file_size:
        raise zipfile.BadZipFile(f"{info.filename}: {len(content)} bytes where the directory says {info.file_size}")
    return content
