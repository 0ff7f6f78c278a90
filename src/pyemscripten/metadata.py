"""Core metadata (METADATA / PEP 658 ``.metadata`` files): just what resolution needs.

Pure. Raises :class:`MetadataError` naming the project and file for anything unparseable.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from email.parser import BytesParser
from email.policy import compat32
from io import BytesIO

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from .errors import MetadataError


@dataclass(frozen=True)
class DistMetadata:
    name: str  # canonical
    version: Version
    requires_dist: tuple[Requirement, ...]
    requires_python: SpecifierSet | None
    provides_extra: tuple[str, ...] = ()


def parse_metadata(data: bytes, project: str, filename: str) -> DistMetadata:
    """Parse METADATA bytes. Raises :class:`MetadataError`."""
    try:
        message = BytesParser(policy=compat32).parsebytes(data)
    except Exception as exc:  # the email parser raises assorted types on hostile input
        raise MetadataError(project, filename, f"unparseable ({exc})") from None
    name, version = message.get("Name"), message.get("Version")
    if not name or not version:
        raise MetadataError(project, filename, "Name or Version is missing")
    try:
        parsed_version = Version(str(version).strip())
    except InvalidVersion:
        raise MetadataError(project, filename, f"invalid Version {version!r}") from None
    requires = []
    for line in message.get_all("Requires-Dist") or []:
        try:
            requires.append(Requirement(str(line).strip()))
        except InvalidRequirement as exc:
            raise MetadataError(project, filename, f"invalid Requires-Dist {line!r}: {exc}") from None
    requires_python = message.get("Requires-Python")
    try:
        python_spec = SpecifierSet(str(requires_python).strip()) if requires_python else None
    except InvalidSpecifier:
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
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise MetadataError(project, filename, f"not a readable zip archive ({exc})") from None
