"""The runtime's own distribution: packages listed in Pyodide's ``pyodide-lock.json``.

Pyodide ships packages such as numpy and scipy beside the runtime, not on PyPI. When an
index has no wheel of a project for this runtime but the distribution has one, resolution
takes it from here. Pure: the lock's bytes and its URL in, index-like entries out.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import unquote, urldefrag, urljoin, urlsplit

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name, parse_wheel_filename
from packaging.version import Version

from .errors import IndexFormatError
from .index_pages import IndexFile
from .metadata import DistMetadata, check_requirement


@dataclass(frozen=True)
class DistributionEntry:
    file: IndexFile
    metadata: DistMetadata


def parse_distribution_lock(body: bytes, url: str) -> dict[str, DistributionEntry]:
    """Wheel packages of a ``pyodide-lock.json``, by canonical name; file URLs beside it.

    Shared-library zips and other non-wheel entries are left out. Raises
    :class:`IndexFormatError` naming the URL for a lock that does not parse, or whose entry
    names a wheel of another project than its own name.

    Two entries under one key: the last, as ``JSON.parse`` in Pyodide's loader takes it too.
    """
    try:
        data = json.loads(body)
        packages = data["packages"]
        if not isinstance(packages, Mapping):
            raise TypeError("packages is not an object")
    except (ValueError, KeyError, TypeError, UnicodeDecodeError, RecursionError) as exc:  # Recursion: nested too deep
        raise IndexFormatError(url, f"not a pyodide-lock.json ({exc})", "runtime distribution") from None
    entries = {}
    others = set()  # the names of what is left out (shared-library zips: openssl, libmagic, ...)
    for key, raw in packages.items():
        entry = _entry(raw, url)
        if entry is not None:
            entries[entry.metadata.name] = entry
        elif isinstance(raw, Mapping) and isinstance(raw.get("file_name"), str) and not raw["file_name"].endswith(".whl"):
            others.add(canonicalize_name(str(raw.get("name") or key)))  # not a malformed wheel entry: those stay needed
    # A wheel's "depends" may name such a library; it is not a project on any index (looking
    # it up there would fail, or find an unrelated one): the need is left to the loader,
    # which says which library is missing.
    others -= set(entries)
    return {name: _without(entry, others) for name, entry in entries.items()}


def _without(entry: DistributionEntry, names: Collection[str]) -> DistributionEntry:
    depends = tuple(r for r in entry.metadata.requires_dist if canonicalize_name(r.name) not in names)
    if len(depends) == len(entry.metadata.requires_dist):
        return entry
    return replace(entry, metadata=replace(entry.metadata, requires_dist=depends))


def _entry(raw: Any, url: str) -> DistributionEntry | None:
    if not isinstance(raw, Mapping):
        return None
    filename, sha256, listed = raw.get("file_name"), raw.get("sha256"), raw.get("depends")
    if not isinstance(filename, str) or not filename.endswith(".whl") or not isinstance(sha256, str):
        return None
    # "depends" is a list of names: a string or an object iterated as one gave its letters or
    # keys as projects to install, and str() made a null "None", a project of that name.
    if listed is not None and not (isinstance(listed, list) and all(isinstance(d, str) for d in listed)):
        return None
    # An entry that does not make sense is left out, like a non-wheel one: ValueError covers
    # a bad file name, version or requirement (and URLs urljoin refuses).
    try:
        # Pyodide fetches new URL(file_name, base): a path below the lock's folder or an
        # absolute URL (pyodide-lock's add_wheels writes those) is the wheel's too, whose
        # name is the URL's last part.
        file_url = urldefrag(urljoin(url, filename)).url
        wheel = unquote(urlsplit(file_url).path.rpartition("/")[2])
        project = parse_wheel_filename(wheel)[0]
        version = Version(str(raw.get("version")))
        depends = tuple(check_requirement(Requirement(d)) for d in listed or ())
    except ValueError:
        return None
    name = canonicalize_name(str(raw.get("name") or project))
    if name != project:
        # Pyodide's loadPackage would install that file for the name; resolution would take
        # it for the name, and its lock (lock --distribution) name it so, which load_lock then
        # refuses. Said here, naming both, rather than left out: a missing entry would only
        # read as "no wheel fits".
        raise IndexFormatError(url, f"its entry {raw.get('name')!r} names the wheel {wheel}, which is a wheel of "
                                    f"{project}, not of {name}; fix the entry's name or file_name",
                               "runtime distribution")
    file = IndexFile(filename=wheel, url=file_url, hashes=(("sha256", sha256.lower()),))
    return DistributionEntry(file, DistMetadata(name, version, depends, None))
