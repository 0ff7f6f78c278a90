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
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from packaging.utils import canonicalize_name

from .errors import IndexFormatError, IndexWriteError, InvalidWheelFilenameError, PyemscriptenError
from .index_pages import parse_html_page
from .metadata import first, read_headers
from .native import write_file_whole
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
    added: tuple[str, ...]  # file names copied in
    replaced: tuple[str, ...]  # file names copied in over another file of the same wheel
    unchanged: tuple[str, ...]  # given, and already there with the same bytes
    projects: dict[str, tuple[IndexedWheel, ...]]  # every project the index lists now


#: In the project list this command writes: an existing folder without it is not one of
#: its indexes, and is not written into (its files would be overwritten or deleted).
GENERATOR = '<meta name="generator" content="pyemscripten index">'


def wheel_paths(sources: Iterable[str | Path]) -> list[Path]:
    """The wheels named, each once: each source a ``.whl`` file, or a folder whose ``*.whl``
    are taken. Raises :class:`IndexWriteError` for a source that is neither, or a folder
    without wheels."""
    paths: dict[Path, Path] = {}
    for source in map(Path, sources):
        if source.is_dir():
            found = _wheel_files(source)
            if not found:
                raise IndexWriteError(str(source), "the folder holds no .whl file: build your wheels into it first")
        elif source.suffix != ".whl":
            raise IndexWriteError(str(source), "not a wheel (.whl): an index here lists wheels only "
                                  "(a browser installs no source distribution)" if source.is_file()
                                  else "no such file or folder")
        elif not source.is_file():
            raise IndexWriteError(str(source), "no such file")
        else:
            found = [source]
        for path in found:
            paths.setdefault(path.resolve(), path)
    return list(paths.values())


def _same_wheel(filename: str) -> tuple[object, ...] | None:
    """What tells wheels apart, whatever the spelling of their file name (``My_Pkg-1.0-...``
    and ``my_pkg-1.0-...`` are one wheel); None for a name that is no wheel's."""
    try:
        name = parse_wheel_name(filename)
    except PyemscriptenError:
        return None
    return name.name, name.version, name.build, name.tags


def _checked(path: Path) -> tuple[str, bytes, bytes, str | None]:
    """``(project, wheel bytes, METADATA, Requires-Python)`` of a wheel that passes an install's checks."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise IndexWriteError(str(path), f"cannot read it ({exc.strerror or exc})") from None
    try:
        wheel = open_wheel(path.name, data)
    except InvalidWheelFilenameError as exc:
        raise IndexWriteError(str(path), f"its name is not a wheel's ({exc.reason}): a wheel is named "
                              "{name}-{version}[-{build}]-{python}-{abi}-{platform}.whl, as build tools write it "
                              "(rename it back if it was renamed)") from None
    except PyemscriptenError as exc:
        reason = getattr(exc, "reason", None) or str(exc)
        member = getattr(exc, "member", None)
        raise IndexWriteError(str(path), f"an install would refuse it: {reason}"
                              + (f" (member {member!r})" if member else "")) from None
    return wheel.name, data, wheel.metadata_file, wheel.requires_python


def _owned(folder: Path) -> None:
    """Raise unless the folder ``folder`` is empty, or an index this command wrote."""
    if not any(not entry.name.startswith(".") for entry in folder.iterdir()):
        return
    try:
        ours = GENERATOR in (folder / "index.html").read_text("utf-8")
    except (OSError, UnicodeDecodeError):
        ours = False
    if not ours:
        raise IndexWriteError(str(folder), "it holds files this command did not write (its index.html is not "
                              "one of its pages), which writing the index would overwrite or delete: give a new "
                              f"or empty folder, such as {folder / 'simple'}")


class _Writer:
    """Writes into the index folder, each file whole, and remembers whether it wrote yet."""

    def __init__(self, warn: Callable[[str], None]) -> None:
        self.warn = warn
        self.wrote = False

    def write(self, path: Path, data: bytes) -> None:
        """Whole (:func:`~pyemscripten.native.write_file_whole`): a server reading the
        folder meanwhile serves the old file or the new one, never half of one."""
        path.parent.mkdir(parents=True, exist_ok=True)
        self.wrote = True
        write_file_whole(path, data)

    def remove(self, path: Path) -> None:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            self.wrote = True


@contextlib.contextmanager
def _only_run(folder: Path, warn: Callable[[str], None]) -> Iterator[None]:
    """Hold ``folder`` for this run: another run writing the same index waits (its pages
    would otherwise be written from a listing taken before this run's files were in).
    Where the system has no ``flock`` (Windows), runs must not overlap."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    handle = os.open(folder, os.O_RDONLY)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            warn(f"another run is writing {folder}: waiting for it to end")
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield
    finally:
        os.close(handle)  # lets the lock go


def write_index(sources: Sequence[str | Path], folder: str | Path,
                warn: Callable[[str], None] = lambda message: None) -> WrittenIndex:
    """Add the wheels of ``sources`` (see :func:`wheel_paths`) to the static index in
    ``folder`` (made if missing) and write its pages again.

    Every wheel is read and checked before anything is written, and ``folder`` must be
    new, empty or an index this wrote; :class:`IndexWriteError` names the first file that
    fails. ``warn`` is told of wheels no browser runtime installs (they are listed all the
    same), of files replaced, and of files the index leaves out."""
    folder = Path(os.path.abspath(folder))  # a relative one too: the pages read back are parsed by file: URL
    checked = []  # (path, project, sha256, METADATA): not the bytes, read again to be copied
    given: dict[tuple[object, ...], Path] = {}
    for path in wheel_paths(sources):
        project, data, metadata, _ = _checked(path)  # the name first: a bad one is said as such
        checked.append((path, project, hashlib.sha256(data).digest(), metadata))
        key = _same_wheel(path.name)
        assert key is not None  # _checked read its name
        if key in given:
            raise IndexWriteError(str(path), f"given with {given[key]}, the same wheel (project, version and "
                                  "tags): an index holds one file of each")
        given[key] = path
    if folder.exists() and not folder.is_dir():
        raise IndexWriteError(str(folder), "it is a file: give the folder the index should be written to")
    writer = _Writer(warn)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with _only_run(folder, warn):
            _owned(folder)
            return _write(folder, checked, writer)
    except OSError as exc:
        where = exc.filename or folder
        raise IndexWriteError(str(where), f"cannot write the index: {exc.strerror or exc}",
                              writing=writer.wrote) from None


def _write(folder: Path, checked: list[tuple[Path, str, bytes, bytes]], writer: _Writer) -> WrittenIndex:
    """Copy the checked wheels in (each read again, and refused if it changed since it was
    checked), then write the pages."""
    warn = writer.warn
    root = folder / "index.html"
    if not root.is_file():  # first: a run that fails after this leaves a folder the next run takes as its own
        writer.write(root, _page("Simple index", [], GENERATOR))
    added: list[str] = []
    replaced: list[str] = []
    unchanged: list[str] = []
    fresh: dict[Path, str] = {}  # each file copied in, with its sha256 (hex)
    for path, project, digest, metadata in checked:
        data = path.read_bytes()
        if hashlib.sha256(data).digest() != digest:
            raise IndexWriteError(str(path), "it changed while the index was being written (a build still under "
                                  "way?): run the command again", writing=writer.wrote)
        tags = parse_wheel_name(path.name).tags
        if not any(tag.platform.startswith(BROWSER_PLATFORMS) for tag in tags):
            platforms = ", ".join(sorted({tag.platform for tag in tags}))
            warn(f"{path.name} is for {platforms}: no browser runtime installs it (it needs a pure wheel "
                 "or one built for a pyemscripten platform); listed all the same")
        place = folder / project / path.name
        if place.is_file() and place.read_bytes() == data:
            unchanged.append(path.name)
            continue
        same = _same_wheel(path.name)
        others = [old for old in _wheel_files(place.parent) if old.name == path.name or _same_wheel(old.name) == same]
        for old in others:
            if old.name == path.name:
                warn(f"{old} is replaced by {path}: a lock or page that names the old file's hash will "
                     "refuse the new one until it is locked again")
                continue
            if old.read_bytes() == data:
                warn(f"{old.name} is now {path.name}, the same wheel: a lock that names the old file's URL "
                     "must be made again")
            else:
                warn(f"{old} is replaced by {path} (the same wheel, its name spelled otherwise): a lock that "
                     "names the old file must be made again")
            writer.remove(old)
            writer.remove(Path(f"{old}.metadata"))
        writer.write(Path(f"{place}.metadata"), metadata)
        writer.write(place, data)
        (replaced if others else added).append(path.name)
        fresh[place] = digest.hex()
    projects = _write_pages(folder, writer, fresh)
    return WrittenIndex(folder, tuple(added), tuple(replaced), tuple(unchanged), projects)


def _wheel_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.whl") if p.is_file())


def _listed(project_folder: Path, writer: _Writer, fresh: dict[Path, str]) -> tuple[IndexedWheel, ...]:
    """The wheels in one project's folder, with what its page says of each. A wheel its
    page does not list with these very bytes and this very metadata file (copied in by
    hand, over a listed one, or its metadata file edited) is checked and given its
    metadata file anew, or left off the page. ``fresh``: the files this run copied in,
    checked already, with their sha256."""
    try:
        page = parse_html_page((project_folder / "index.html").read_bytes(), project_folder.as_uri() + "/",
                               project_folder.name)
        listed = {f.filename: (f.sha256, f.core_metadata) for f in page.files}
    except (OSError, IndexFormatError):
        listed = {}
    wheels = []
    for place in _wheel_files(project_folder):
        sha256 = fresh.get(place) or hashlib.sha256(place.read_bytes()).hexdigest()
        metadata_path = Path(f"{place}.metadata")
        try:
            metadata: bytes | None = metadata_path.read_bytes()
        except OSError:
            metadata = None
        vouched = metadata is not None and (place in fresh or listed.get(place.name) == (
            sha256, (("sha256", hashlib.sha256(metadata).hexdigest()),)))
        if metadata is not None and vouched:
            requires_python = _requires_python(metadata)
        else:
            try:
                project, _, metadata, requires_python = _checked(place)
            except IndexWriteError as exc:
                writer.warn(f"{place} is left off the index: {exc.reason}; delete it")
                continue
            if project != project_folder.name:
                writer.warn(f"{place} is left off the index: it is a wheel of {project}, not "
                            f"{project_folder.name}; move it to its project's folder")
                continue
            writer.write(metadata_path, metadata)
        wheels.append(IndexedWheel(place.name, sha256, requires_python, hashlib.sha256(metadata).hexdigest()))
    return tuple(wheels)


def _requires_python(metadata: bytes) -> str | None:
    # As an install reads it (wheels.read_wheel): the first of the fields. packaging's reader
    # gives none where the field is there twice or is not UTF-8, and the page then said
    # nothing of a Requires-Python the install enforces.
    return first(read_headers(metadata), "requires-python")


def _write_pages(folder: Path, writer: _Writer, fresh: dict[Path, str]) -> dict[str, tuple[IndexedWheel, ...]]:
    """Every project folder's page, and the project list. A folder left without wheels (a
    wheel deleted by hand) loses its page and, once empty, goes: a static server answers
    404 for it, and an installer asks the next index."""
    projects: dict[str, tuple[IndexedWheel, ...]] = {}
    for stray in _wheel_files(folder):
        writer.warn(f"{stray} is not in a project's folder, and is not listed: give it to the command instead")
    for project_folder in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if canonicalize_name(project_folder.name) != project_folder.name:
            continue  # not a project's folder (a project's is named by its normalized name)
        wheels = _listed(project_folder, writer, fresh)
        for metadata_path in project_folder.glob("*.whl.metadata"):
            if not metadata_path.with_suffix("").exists():
                writer.remove(metadata_path)
        page = project_folder / "index.html"
        if wheels:
            projects[project_folder.name] = wheels
            writer.write(page, _page(f"Links for {project_folder.name}", [_anchor(w) for w in wheels]))
            continue
        writer.remove(page)
        if any(project_folder.iterdir()):
            writer.warn(f"{project_folder} holds no wheel the index lists, but other files: a static server "
                        "may list them as the project's page; delete them")
        else:
            project_folder.rmdir()
    writer.write(folder / "index.html", _page("Simple index", [
        f'<a href="{quote(name)}/">{html.escape(name)}</a>' for name in projects], GENERATOR))
    return projects


def _anchor(wheel: IndexedWheel) -> str:
    attributes = [f'href="{quote(wheel.filename)}#sha256={wheel.sha256}"']
    if wheel.requires_python:
        attributes.append(f'data-requires-python="{html.escape(wheel.requires_python)}"')
    # PEP 714's name, and PEP 658's first one, which older installers read.
    attributes += [f'data-core-metadata="sha256={wheel.metadata_sha256}"',
                   f'data-dist-info-metadata="sha256={wheel.metadata_sha256}"']
    return f"<a {' '.join(attributes)}>{html.escape(wheel.filename)}</a>"


def _page(title: str, anchors: list[str], *head: str) -> bytes:
    lines = ["<!DOCTYPE html>", "<html>", "<head>", '<meta name="pypi:repository-version" content="1.1">', *head,
             f"<title>{html.escape(title)}</title>", "</head>", "<body>", f"<h1>{html.escape(title)}</h1>",
             *(f"{anchor}<br>" for anchor in anchors), "</body>", "</html>", ""]
    return "\n".join(lines).encode("utf-8")
