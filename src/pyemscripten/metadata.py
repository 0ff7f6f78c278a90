"""Core metadata (METADATA / PEP 658 ``.metadata`` files): just what resolution needs.

Pure. Raises :class:`MetadataError` naming the project and file for anything unparseable.
"""

from __future__ import annotations

import re
import zipfile
import zlib
from dataclasses import dataclass
from email.parser import BytesParser
from email.policy import compat32
from io import BytesIO

from packaging.metadata import RawMetadata, parse_email
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from .errors import MetadataError


@dataclass(frozen=True)
class DistMetadata:
    name: str  # canonical
    version: Version
    requires_dist: tuple[Requirement, ...]
    requires_python: SpecifierSet | None
    provides_extra: tuple[str, ...] = ()


_PROBE = Version("0")
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


def parse_headers(data: bytes) -> RawMetadata:
    """packaging's reading of METADATA's header block (see :func:`header_block`)."""
    return parse_email(header_block(data))[0]


def check_requirement(req: Requirement) -> Requirement:
    """``req``, once its specifier and marker have been compared: raises ValueError if they cannot be.

    packaging parses the versions inside specifiers and markers lazily: a number longer than
    int() converts (4300 digits), or a marker like ``python_version ~= 'x'``, passes
    ``Requirement()`` and raises ValueError at the first comparison - deep in resolution.
    One comparison here turns that into a parse error where the text is known.
    """
    req.specifier.contains(_PROBE, prereleases=True)
    if req.marker is not None:
        req.marker.evaluate({"extra": ""})
    return req


def parse_metadata(data: bytes, project: str, filename: str) -> DistMetadata:
    """Parse METADATA bytes. Raises :class:`MetadataError`."""
    try:
        message = BytesParser(policy=compat32).parsebytes(header_block(data))
    except Exception as exc:  # the email parser raises assorted types on hostile input
        raise MetadataError(project, filename, f"unparseable ({exc})") from None
    name, version = message.get("Name"), message.get("Version")
    if not name or not version:
        raise MetadataError(project, filename, "Name or Version is missing")
    try:
        parsed_version = Version(str(version).strip())
    except ValueError:  # InvalidVersion, or a number int() refuses (> 4300 digits)
        raise MetadataError(project, filename, f"invalid Version {version!r}") from None
    requires = []
    for line in message.get_all("Requires-Dist") or []:
        try:
            requires.append(check_requirement(Requirement(str(line).strip())))
        except ValueError as exc:  # InvalidRequirement, or what check_requirement finds
            raise MetadataError(project, filename, f"invalid Requires-Dist {line!r}: {exc}") from None
    requires_python = message.get("Requires-Python")
    try:
        python_spec = SpecifierSet(str(requires_python).strip()) if requires_python else None
        if python_spec is not None:
            python_spec.contains(_PROBE, prereleases=True)
    except ValueError:  # InvalidSpecifier, or a version in it that does not compare
        raise MetadataError(project, filename, f"invalid Requires-Python {requires_python!r}") from None
    extras = tuple(canonicalize_name(str(e).strip()) for e in message.get_all("Provides-Extra") or [])
    return DistMetadata(canonicalize_name(str(name).strip()), parsed_version, tuple(requires), python_spec, extras)


def metadata_from_wheel(data: bytes, project: str, filename: str) -> DistMetadata:
    """Read METADATA out of a wheel's bytes (used when the index offers no .metadata file)."""
    try:
        with zipfile.ZipFile(BytesIO(data)) as archive:
            candidates = [n for n in archive.namelist() if n.count("/") == 1 and n.endswith(".dist-info/METADATA")]
            if len(candidates) != 1:
                raise MetadataError(project, filename, f"expected one .dist-info/METADATA, found {len(candidates)}")
            return parse_metadata(archive.read(candidates[0]), project, filename)
    # As in wheels._read_archive: zipfile reports a corrupt archive through all of these.
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError, ValueError,
            NotImplementedError, RuntimeError, KeyError, IndexError, OverflowError, UnicodeDecodeError) as exc:
        raise MetadataError(project, filename, f"not a readable zip archive ({exc})") from None
