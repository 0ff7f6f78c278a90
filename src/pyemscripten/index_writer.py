"""A package index of your own wheels, as static files: ``python -m pyemscripten index``.

The reverse of :mod:`index_pages`: a folder of wheels is not an index (it has no page per
project), so this writes one that any static file server can serve, a page's own server
included::

    OUT/index.html                       the project list (PEP 503)
    OUT/<project>/index.html             the project's page: each wheel with its sha256,
                                         Requires-Python, and its metadata file's hash
    OUT/<project>/<wheel>                the wheel, copied
    OUT/<project>/<wheel>.metadata       its METADATA (PEP 658/714): resolution reads this,
                                         not the wheel

``OUT/`` is then the index URL. Each wheel is checked first as an install checks it (its
file name, paths, RECORD's hashes, METADATA), so the index only serves wheels that install;
a wheel that fails, or a file that is not a wheel, stops the command before anything is
written. Wheels already in ``OUT`` stay listed: running it again adds wheels, and a file
given again with other bytes (a rebuild of the same version) replaces the old one. Pages are
HTML only: a static server cannot choose between PEP 691's JSON and HTML by the request's
Accept header, and installers read both.
"""

from __future__ import annotations

import contextlib
import hashlib
import html
import os
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from packaging.utils import canonicalize_name

from .errors import IndexWriteError, PyemscriptenError
from .metadata import parse_headers
from .wheels import open_wheel, parse_wheel_name

#: Platform tags a browser runtime installs (pyemscripten_*, and the pyodide_* and
#: emscripten_* of older runtimes), besides pure wheels' "any".
BROWSER_PLATFORMS = ("any", "pyemscripten_", "pyodide_", "emscripten_")


@dataclass(frozen=True)
class IndexedWheel:
    """One wheel as its project page lists it."""

    filename: str
    sha256: str
    requires_python: str | None
    metadata_sha256: str


@dataclass(frozen=True)
class WrittenIndex:
    """What :func:`write_index` did."""

    folder: Path
    added: tuple[str, ...]  # file names copied in (new, or replacing other bytes)
    unchanged: tuple[str, ...]  # given, and already there with the same bytes
    projects: dict[str, tuple[IndexedWheel, ...]]  # every project the index lists now


def wheel_paths(sources: Iterable[str | Path]) -> list[Path]:
    """The wheels named: each source a ``.whl`` file, or a folder whose ``*.whl`` are taken.
    Raises :class:`IndexWriteError` for a source that is neither, or a folder without wheels."""
    paths: list[Path] = []
    for source in map(Path, sources):
        if source.is_dir():
            found = sorted(p for p in source.glob("*.whl") if p.is_file())
            if not found:
                raise IndexWriteError(str(source), "the folder holds no .whl file: build your wheels into it first")
            paths += found
        elif source.suffix != ".whl":
            raise IndexWriteError(str(source), "not a wheel (.whl): an index here lists wheels only "
                                  "(a browser installs no source distribution)" if source.is_file()
                                  else "no such file or folder")
        elif not source.is_file():
            raise IndexWriteError(str(source), "no such file")
        else:
            paths.append(source)
    return paths


def _checked(path: Path) -> tuple[str, bytes, bytes, str | None]:
    """``(project, wheel bytes, METADATA, Requires-Python)`` of a wheel that passes an install's checks."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise IndexWriteError(str(path), f"cannot read it ({exc.strerror or exc})") from None
    try:
        wheel = open_wheel(path.name, data)
    except PyemscriptenError as exc:
        reason = getattr(exc, "reason", None) or str(exc)
        member = getattr(exc, "member", None)
        raise IndexWriteError(str(path), f"an install would refuse it: {reason}"
                              + (f" (member {member!r})" if member else "")) from None
    return wheel.name, data, wheel.metadata_file, wheel.requires_python


def _write_whole(path: Path, data: bytes) -> None:
    """Write ``path`` through a file of its own renamed into place: a server reading the
    folder meanwhile serves the old file or the new one, never half of one."""
    handle, partial = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(partial, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(partial)
        raise


def write_index(sources: Sequence[str | Path], folder: str | Path,
                warn: Callable[[str], None] = lambda message: None) -> WrittenIndex:
    """Add the wheels of ``sources`` (see :func:`wheel_paths`) to the static index in
    ``folder`` (made if missing) and write its pages again.

    Every wheel is read and checked before anything is written; :class:`IndexWriteError`
    names the first file that fails. ``warn`` is told of wheels no browser runtime installs
    (they are listed all the same) and of files replaced by other bytes."""
    folder = Path(folder)
    checked = []
    names: dict[str, Path] = {}
    for path in wheel_paths(sources):
        if path.name in names and names[path.name].resolve() != path.resolve():
            raise IndexWriteError(str(path), f"given twice, the other is {names[path.name]}: an index holds one "
                                  "file of each name")
        names[path.name] = path
        checked.append((path, *_checked(path)))
    if folder.exists() and not folder.is_dir():
        raise IndexWriteError(str(folder), "it is a file: give the folder the index should be written to")
    added, unchanged = [], []
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for path, project, data, metadata, _ in checked:
            tags = parse_wheel_name(path.name).tags
            if not any(tag.platform.startswith(BROWSER_PLATFORMS) for tag in tags):
                platforms = ", ".join(sorted({tag.platform for tag in tags}))
                warn(f"{path.name} is for {platforms}: no browser runtime installs it (it needs a pure wheel "
                     "or one built for a pyemscripten platform); listed all the same")
            place = folder / project / path.name
            old = place.read_bytes() if place.is_file() else None
            if old == data:
                unchanged.append(path.name)
                continue
            if old is not None:
                warn(f"{place} had other bytes and is replaced: a lock or page that names the old file's "
                     "hash will refuse the new one until it is locked again")
            place.parent.mkdir(parents=True, exist_ok=True)
            _write_whole(Path(f"{place}.metadata"), metadata)
            _write_whole(place, data)
            added.append(path.name)
        projects = _write_pages(folder, warn)
    except OSError as exc:
        where = exc.filename or folder
        raise IndexWriteError(str(where), f"cannot write the index: {exc.strerror or exc}", writing=True) from None
    return WrittenIndex(folder, tuple(added), tuple(unchanged), projects)


def _listed(project_folder: Path, warn: Callable[[str], None]) -> tuple[IndexedWheel, ...]:
    """The wheels in one project's folder, with what its page says of each. A wheel copied
    in by hand (without its metadata file) is checked and given one, or left off the page."""
    wheels = []
    for place in sorted(project_folder.glob("*.whl")):
        data = place.read_bytes()
        metadata_path = Path(f"{place}.metadata")
        if metadata_path.is_file():
            metadata = metadata_path.read_bytes()
            requires_python = _requires_python(metadata)
        else:
            try:
                project, _, metadata, requires_python = _checked(place)
            except IndexWriteError as exc:
                warn(f"{place} is left off the index: {exc.reason}")
                continue
            if project != project_folder.name:
                warn(f"{place} is left off the index: it is a wheel of {project}, not {project_folder.name}")
                continue
            _write_whole(metadata_path, metadata)
        wheels.append(IndexedWheel(place.name, hashlib.sha256(data).hexdigest(), requires_python,
                                   hashlib.sha256(metadata).hexdigest()))
    return tuple(wheels)


def _requires_python(metadata: bytes) -> str | None:
    return parse_headers(metadata).get("requires_python")


def _write_pages(folder: Path, warn: Callable[[str], None]) -> dict[str, tuple[IndexedWheel, ...]]:
    """Every project folder's page, and the project list; a folder left without wheels
    loses its page (a wheel deleted by hand is no longer offered)."""
    projects: dict[str, tuple[IndexedWheel, ...]] = {}
    for project_folder in sorted(p for p in folder.iterdir() if p.is_dir()):
        wheels = _listed(project_folder, warn)
        page = project_folder / "index.html"
        for metadata_path in project_folder.glob("*.whl.metadata"):
            if not metadata_path.with_suffix("").exists():
                metadata_path.unlink()
        if not wheels or canonicalize_name(project_folder.name) != project_folder.name:
            with contextlib.suppress(FileNotFoundError):
                page.unlink()
            continue
        projects[project_folder.name] = wheels
        _write_whole(page, _page(f"Links for {project_folder.name}", [_anchor(w) for w in wheels]))
    _write_whole(folder / "index.html", _page("Simple index", [
        f'<a href="{quote(name)}/">{html.escape(name)}</a>' for name in projects]))
    return projects


def _anchor(wheel: IndexedWheel) -> str:
    attributes = [f'href="{quote(wheel.filename)}#sha256={wheel.sha256}"']
    if wheel.requires_python:
        attributes.append(f'data-requires-python="{html.escape(wheel.requires_python)}"')
    # PEP 714's name, and PEP 658's first one, which older installers read.
    attributes += [f'data-core-metadata="sha256={wheel.metadata_sha256}"',
                   f'data-dist-info-metadata="sha256={wheel.metadata_sha256}"']
    return f"<a {' '.join(attributes)}>{html.escape(wheel.filename)}</a>"


def _page(title: str, anchors: list[str]) -> bytes:
    lines = ["<!DOCTYPE html>", "<html>", "<head>", '<meta name="pypi:repository-version" content="1.1">',
             f"<title>{html.escape(title)}</title>", "</head>", "<body>", f"<h1>{html.escape(title)}</h1>",
             *(f"{anchor}<br>" for anchor in anchors), "</body>", "</html>", ""]
    return "\n".join(lines).encode("utf-8")
