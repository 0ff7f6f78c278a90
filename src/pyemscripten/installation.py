"""Commit validated wheels into site-packages atomically; uninstall; list what is installed.

File system only, and only under the directories of a :class:`Scheme` passed in. What is
installed is whatever ``*.dist-info`` directories say: there is no state in this module.

How an install stays atomic:

* Rule 1: everything that can be checked is checked before the first byte is written outside
  the private staging directory (paths stay inside their scheme directory after resolving
  symlinks, no two wheels claim one path, the RECORDs of distributions being replaced stay
  inside the scheme). Files written into it early (:class:`Prestaged`) are used only if they
  are exactly the checked wheel's.
* Rule 2: every file (including the fresh RECORD, INSTALLER, ...) is first written to a
  staging directory; a failure there touches nothing outside it.
* Rule 3: the commit is only moves, and each is journaled *before* it is attempted: files
  being replaced or removed go to a backup directory, staged files go into place. Undoing the
  journal in reverse restores the tree exactly, after a failure or on
  :meth:`Transaction.rollback`.

File system calls go through :class:`FileOps` so tests can inject a failure at any step.
"""

from __future__ import annotations

import csv
import dataclasses
import errno
import hashlib
import importlib
import io
import json
import os
import posixpath
import shutil
import stat
import re
import sys
import sysconfig
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from packaging.utils import NormalizedName, canonicalize_name

from .credentials import strip_credentials
from .errors import InstallError, NotInstalledError, UninstallError
from .index_pages import IndexFile
from .metadata import first, read_headers
from .wheels import UnpackedWheel, record_digest

__all__ = [
    "FileOps", "InstalledDist", "Scheme", "Transaction", "default_scheme", "install",
    "installed_distributions", "uninstall",
]

# Written by the installer, never taken from the wheel.
_GENERATED = ("INSTALLER", "REQUESTED", "direct_url.json", "RECORD")


@dataclass(frozen=True)
class Scheme:
    """Absolute directories files are installed into (see the wheel spec's ``.data`` keys).

    Headers go into ``headers/<project name>/``, as pip does.
    """

    purelib: str
    platlib: str
    scripts: str
    headers: str
    data: str

    def directory(self, key: str) -> str:
        return {"purelib": self.purelib, "platlib": self.platlib, "scripts": self.scripts,
                "headers": self.headers, "data": self.data}[key]

    def libs(self) -> list[str]:
        """purelib and platlib, once each (one may be a link to the other): where
        ``*.dist-info`` directories live. As given, not resolved: a RECORD's relative rows
        (``../../bin/tool``) are read from the folder they were written from, which a link
        to a folder elsewhere would move."""
        found: dict[str, str] = {}
        for folder in (self.purelib, self.platlib):
            found.setdefault(os.path.realpath(folder), folder)
        return list(found.values())


INSTALLER = "pyemscripten"  # what this installer writes into INSTALLER


def default_scheme() -> Scheme:
    """The running interpreter's scheme (the edge: reads sysconfig)."""
    # Pyodide's sysconfig says "//lib/python3.X/site-packages"; POSIX keeps a leading "//"
    # through normpath/realpath, which would make every path look outside the scheme.
    found = _prefix_paths()
    if found is None:
        from .target import import_build_variables

        import_build_variables()  # sysconfig's expansion reads them: compiled once, not twice
        found = sysconfig.get_paths()
    paths = {k: "/" + v.lstrip("/") for k, v in found.items()}
    version = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    return Scheme(purelib=paths["purelib"], platlib=paths["platlib"], scripts=paths["scripts"],
                  headers=os.path.join(paths["data"], "include", "site", version),
                  data=paths["data"])


def _prefix_paths() -> dict[str, str] | None:
    """``sysconfig.get_paths()`` (the four a :class:`Scheme` takes) for a CPython in a plain
    POSIX prefix, not a virtual environment (Pyodide's, in a page), or None for any other.

    sysconfig expands its templates with every config variable, so its first ``get_paths()``
    imports the build variables: in a page a compile of their 49 kB source, 9-11 ms, at the
    first install of every page (see ``target.build_variables``). The scheme's templates name
    none of them. Here the same templates (``get_paths(expand=False)``) are expanded with the
    values sysconfig itself takes from ``sys`` for them; a template naming anything else
    leaves the paths to sysconfig. Before Python 3.14 sysconfig lets the build variables
    overwrite those values (Pyodide's overwrite two of them when ``PYODIDE=1``), so there the
    build variables' source must name none of them (Pyodide 0.27 and 0.29: it does, so
    sysconfig it is); with ``_PYTHON_PROJECT_BASE`` set (cross builds) sysconfig takes the
    prefixes from the build variables as well.
    """
    if (os.name != "posix" or sys.implementation.name != "cpython" or sys.prefix != sys.base_prefix
            or sys.exec_prefix != sys.base_exec_prefix or "_PYTHON_PROJECT_BASE" in os.environ):
        return None
    templates = sysconfig.get_paths(sysconfig.get_default_scheme(), expand=False)
    abiflags = getattr(sys, "abiflags", "")
    values = {
        "base": os.path.normpath(sys.prefix),
        "platbase": os.path.normpath(sys.exec_prefix),
        "installed_base": os.path.normpath(sys.base_prefix),
        "installed_platbase": os.path.normpath(sys.base_exec_prefix),
        "py_version_short": f"{sys.version_info[0]}.{sys.version_info[1]}",
        "abi_thread": "t" if "t" in abiflags else "",
        "abiflags": abiflags,
        "platlibdir": sys.platlibdir,
        "implementation_lower": "python",
    }
    if sys.version_info < (3, 14):
        from . import target

        source = target.build_variables_source()
        if source is None or any(f"'{name}'" in source or f'"{name}"' in source for name in values):
            return None
    try:
        return {key: os.path.normpath(templates[key].format(**values))
                for key in ("purelib", "platlib", "scripts", "data")}
    except (KeyError, IndexError, ValueError, AttributeError):
        return None


@dataclass(frozen=True)
class InstalledDist:
    name: NormalizedName
    version: str
    path: str  # the .dist-info directory
    installer: str | None


class KeptBytes:
    """A streamed member's bytes, which :meth:`FileOps.keep` may move out of the interpreter's
    memory before they are written: ``len()`` and ``bytes()`` give them wherever they are.
    The object stands for its bytes: :class:`Prestaged` and :func:`~pyemscripten.wheels.read_wheel`
    go by its identity, as they do with a ``bytes`` object's."""

    __slots__ = ("_data", "at", "place", "size")

    def __init__(self, data: bytes) -> None:
        self._data: bytes | None = data
        self.size = len(data)  # len() of it, without a call into Python for the thousands of members
        self.place: Any = None  # what the FileOps moved them into (its ``read(at, size)`` gives them back)
        self.at = 0

    def __len__(self) -> int:
        return self.size

    def __bytes__(self) -> bytes:
        return self._data if self._data is not None else self.place.read(self.at, self.size)

    @property
    def data(self) -> bytes | None:
        """The bytes while they are still in the interpreter's memory, else None."""
        return self._data

    def move(self, place: Any, at: int) -> None:
        self.place, self.at, self._data = place, at, None


class FileOps:
    """The file system calls an install makes; subclass to fake failures in tests."""

    _umask: int | None = None
    #: :meth:`keep` moves bytes out of the interpreter (members then come as :class:`KeptBytes`).
    moves_bytes = False

    def keep(self, kept: Sequence[KeptBytes]) -> None:
        """Take ``kept`` (still in the interpreter's memory) somewhere else until they are
        written, so that the interpreter's memory need not grow to hold every wheel of an
        install at once; here nothing moves (see :class:`pyemscripten.browser.MemfsFileOps`)."""

    def write(self, path: str, data: bytes | KeptBytes, mode: int) -> None:
        # Raw calls: open() adds an fstat and two Python objects per file, and chmod() a path
        # lookup; in Pyodide each call is a trip into JavaScript, for thousands of files.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), mode)
        try:
            view = memoryview(bytes(data))  # bytes(): a KeptBytes' bytes (a bytes object is itself)
            while view:
                view = view[os.write(fd, view):]
            if mode & ~self._current_umask() != mode:  # the umask took bits away: set them
                os.fchmod(fd, mode)
        finally:
            os.close(fd)

    def write_tree(self, root: str, files: Sequence[tuple[str, bytes | KeptBytes]], mode: int) -> None:
        """Write new files at plain relative paths (``a/b.py``) under the existing directory
        ``root``, making the folders they need; each file must not exist yet. On failure
        some files may be written (callers write into staging folders they remove).
        One call for many files, so that a file system reached through JavaScript can write
        them in one trip (see :class:`pyemscripten.browser.MemfsFileOps`). A file's data is
        ``bytes`` or a :class:`KeptBytes` (``bytes()`` of it gives its bytes)."""
        made: set[str] = set()
        for relative, data in files:
            path = f"{root}/{relative}"
            parent = path.rpartition("/")[0]
            if parent not in made:
                os.makedirs(parent, exist_ok=True)
                made.add(parent)
            self.write(path, data, mode)

    def release(self) -> None:
        """The install these calls served is over: let go of anything kept for it (here,
        nothing; :class:`pyemscripten.browser.MemfsFileOps` keeps compiled libraries)."""

    def _current_umask(self) -> int:
        # Read once per FileOps (one install); reading means setting it, so set it back.
        if self._umask is None:
            self._umask = os.umask(0o022)
            os.umask(self._umask)
        return self._umask

    def move(self, source: str, target: str) -> None:
        try:
            os.replace(source, target)
        except OSError as exc:
            if exc.errno != errno.EXDEV or (os.path.isdir(source) and not os.path.islink(source)):
                raise  # a directory across file systems: the caller moves its files one by one
            # Across file systems: copy under a temporary name first, so that `target`
            # only ever exists complete (the journal relies on that).
            partial = f"{target}.pyemscripten-partial"
            try:
                shutil.copy2(source, partial, follow_symlinks=False)
                os.replace(partial, target)
            finally:
                if os.path.lexists(partial):
                    os.unlink(partial)
            os.unlink(source)

    def entries(self, source: str, target: str) -> list[tuple[str, bool]]:
        """The names in the directory ``source``, sorted, each with whether ``target/name``
        exists (as :func:`os.path.lexists` says)."""
        return [(name, os.path.lexists(os.path.join(target, name))) for name in sorted(os.listdir(source))]

    def move_entries(self, source: str, target: str, names: Sequence[str]) -> bool:
        """Move ``source/name`` to ``target/name`` for each of ``names`` (none of which exists
        in ``target``) in one go, and say True; or do nothing and say False, and the caller
        moves them one by one with :meth:`move`. This class says False, so that a subclass
        that fails :meth:`move` still sees every step;
        :class:`pyemscripten.browser.MemfsFileOps` moves them in one call into JavaScript."""
        return False

    def remove_tree(self, path: str) -> None:
        """Remove the directory ``path`` and everything in it, ignoring errors (the
        transaction's own scratch folder)."""
        shutil.rmtree(path, ignore_errors=True)

    def unlink(self, path: str) -> None:
        os.unlink(path)

    def mkdir(self, path: str) -> None:
        os.mkdir(path)

    def rmdir(self, path: str) -> None:
        os.rmdir(path)


# --- what is installed --------------------------------------------------------------------


def installed_distributions(scheme: Scheme) -> list[InstalledDist]:
    """Every ``*.dist-info`` in purelib/platlib, sorted by name. Unreadable ones are listed
    with what their directory name says."""
    found = []
    for lib in scheme.libs():
        if not os.path.isdir(lib):
            continue
        for entry in sorted(os.listdir(lib)):
            path = os.path.join(lib, entry)
            if entry.endswith(".dist-info") and os.path.isdir(path):
                found.append(_read_dist(path))
    return sorted(found, key=lambda d: (d.name, d.version))


ORIGIN_FILE = "pyemscripten.json"  # in *.dist-info: where a wheel came from, for freeze()


def with_origin(wheel: UnpackedWheel, file: IndexFile) -> UnpackedWheel:
    """The wheel plus a dist-info file recording its URL and hashes (listed in RECORD)."""
    # Without a user:password@ (never kept), but a URL freeze() can write into a lock.
    # The size too where the index gave none (a wheel named by its URL): a lock states it.
    origin = {"filename": file.filename, "url": strip_credentials(file.url), "hashes": dict(file.hashes),
              "size": file.size if file.size is not None else wheel.size}
    row = (wheel.root_key, f"{wheel.dist_info}/{ORIGIN_FILE}", json.dumps(origin, sort_keys=True).encode())
    return dataclasses.replace(wheel, files=wheel.files + (row,))


def recorded_paths(dist_info: str) -> set[str]:
    """The absolute, normalised paths the RECORD of the ``*.dist-info`` folder ``dist_info``
    lists (parsed as CSV, as the wheel spec writes it). Empty when it cannot be read."""
    root = os.path.dirname(dist_info)
    text = (_read(os.path.join(dist_info, "RECORD")) or b"").decode("utf-8", "replace")
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error:
        return set()
    return {os.path.normpath(os.path.join(root, row[0])) for row in rows if row and row[0]}


def _read_dist(path: str) -> InstalledDist:
    stem = os.path.basename(path)[: -len(".dist-info")]
    name, _, version = stem.rpartition("-")
    fields = read_headers(_read(os.path.join(path, "METADATA")) or b"")
    installer = _read(os.path.join(path, "INSTALLER"))
    return InstalledDist(
        name=canonicalize_name(first(fields, "name") or name or stem),
        version=first(fields, "version") or version,
        path=path,
        installer=installer.decode("utf-8", "replace").strip() if installer is not None else None,
    )


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return None


def _recorded_files(dist: InstalledDist, scheme: Scheme, error: type[InstallError]) -> list[str]:
    """Every file that belongs to ``dist``: RECORD rows, stale bytecode, the dist-info.

    Raises ``error`` if RECORD is missing or cannot be read (the spec forbids uninstalling
    or upgrading such a project: its files are not known) or names a path outside the scheme
    (rule 1).
    """
    root = os.path.dirname(dist.path)
    try:
        record = _read(os.path.join(dist.path, "RECORD"))
    except OSError as exc:  # there, but refused (a missing one is None): its files are not known either
        raise error(dist.name, f"its RECORD {exc.filename} cannot be read ({exc.strerror}), so which files are "
                               "its own is not known; repair or remove it, or leave this version in place") from None
    if record is None:
        raise error(dist.name, f"{dist.path} has no RECORD, so which files are its own is not known; "
                               "remove them by hand, or leave this version in place")
    text = record.decode("utf-8", "replace")
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise error(dist.name, f"its RECORD is unreadable ({exc})") from None
    # A row's path is relative to the dist-info's parent, or absolute (the RECORD spec).
    paths = [os.path.normpath(row[0] if row[0].startswith("/") else os.path.join(root, *row[0].split("/")))
             for row in rows if row and row[0]]
    for directory, _dirs, names in os.walk(dist.path):
        paths += [os.path.join(directory, n) for n in names]
    paths += [p for path in paths if path.endswith(".py") for p in _bytecode_of(path)]
    keys = ["purelib", "platlib", "scripts", "headers"]
    # The data folder is the prefix: in Pyodide "/", which holds everything. A RECORD this
    # installer wrote lists only what it placed there; another tool's may not be taken at
    # its word for the whole file system.
    if os.path.realpath(scheme.data) != "/" or dist.installer == INSTALLER:
        keys.append("data")
    roots = [os.path.realpath(scheme.directory(k)) for k in keys]
    result = []
    for path in dict.fromkeys(paths):
        # The link itself is what gets removed, so resolve only its directory.
        resolved = os.path.join(os.path.realpath(os.path.dirname(path)), os.path.basename(path))
        if not any(_within(resolved, r) for r in roots):
            raise error(dist.name, f"its RECORD lists {path!r}, which is outside the install scheme")
        if os.path.lexists(path) and (os.path.islink(path) or not os.path.isdir(path)):
            result.append(path)
    return result


def _owned_by_others(removing: Sequence[InstalledDist], present: Sequence[InstalledDist]) -> set[str]:
    """The files the RECORDs of installed distributions other than ``removing`` list: they
    stay when ``removing`` goes (PEP 376 removes a distribution's unique files only)."""
    gone = {d.path for d in removing}
    owned: set[str] = set()
    for dist in present:
        if dist.path not in gone:
            owned |= recorded_paths(dist.path)
    return owned


def _not_theirs(path: str, owned: set[str]) -> bool:
    """Whether ``path`` may go: not a file of ``owned`` (:func:`_owned_by_others`), nor the
    bytecode of one."""
    if path in owned:
        return False
    folder, name = os.path.split(path)
    if os.path.basename(folder) == "__pycache__" and name.endswith(".pyc"):
        stem = _source_stem(name)
        return stem is None or os.path.join(os.path.dirname(folder), stem + ".py") not in owned
    if name.endswith((".pyc", ".pyo")):  # beside its source (compileall -b, Python 2's place)
        return path[:-1] not in owned
    return True


def _bytecode_of(source: str) -> list[str]:
    """The bytecode of the ``.py`` file ``source`` that exists: in ``__pycache__`` (every
    interpreter and optimization level), and beside it (``compileall -b``), as pip removes."""
    cache = os.path.join(os.path.dirname(source), "__pycache__")
    stem = os.path.basename(source)[:-3]
    beside = [source[:-3] + suffix for suffix in (".pyc", ".pyo") if os.path.isfile(source[:-3] + suffix)]
    try:
        return [os.path.join(cache, n) for n in os.listdir(cache) if _source_stem(n) == stem] + beside
    except OSError:
        return beside


def _source_stem(name: str) -> str | None:
    """The name, without ``.py``, of the source whose bytecode the ``__pycache__`` file
    ``name`` is (``{stem}.{cache tag}[.opt-N].pyc``, PEP 3147/488), or None for another file.
    A module may have dots in its name (``m.x.py``): the stem is everything before the cache
    tag, not before the first dot (which took ``m.x``'s bytecode for ``m.py``'s)."""
    if not name.endswith(".pyc"):
        return None
    parts = name[:-4].split(".")
    if len(parts) > 2 and parts[-1].startswith("opt-"):
        parts.pop()
    return ".".join(parts[:-1]) if len(parts) > 1 and parts[0] else None


def _within(path: str, root: str) -> bool:
    # Both absolute and normalized (realpath/abspath/normpath output), so a prefix test is
    # what commonpath() would say, at a fraction of its cost (it runs for every file).
    return path != root and path.startswith(root if root.endswith("/") else root + "/")


class _RealPaths:
    """``os.path.realpath`` that resolves each directory once per install.

    A wheel puts thousands of files into a few hundred directories; resolving every file's
    whole path walked each component again (3 resolutions per file, ~60% of the commit's
    time in Pyodide). Sound because nothing is written before the last lookup.
    """

    def __init__(self) -> None:
        self._known: dict[str, str] = {}
        self._missing: set[str] = set()  # paths that do not exist: nor does anything below them

    def __call__(self, path: str) -> str:
        real = self._known.get(path)
        if real is None:
            parent, _, name = path.rpartition("/")
            if not parent or parent.endswith("/") or os.sep != "/":
                parent, name = os.path.split(path)  # what the split below is short for
            if name in ("", ".", "..") or parent == path:
                real = os.path.realpath(path)
            else:
                real_parent = self._known.get(parent) or self(parent)
                if parent in self._missing:
                    self._missing.add(path)  # a new package's thousand files: no lstat each
                    # os.path.join's answer: a resolved path ends with a slash only at the root
                    real = real_parent + name if real_parent.endswith("/") else real_parent + "/" + name
                else:
                    try:
                        link = stat.S_ISLNK(os.lstat(path).st_mode)
                    except OSError:
                        link = False
                        self._missing.add(path)
                    real = os.path.realpath(path) if link else os.path.join(real_parent, name)
            self._known[path] = real
        return real


# --- the journal ----------------------------------------------------------------------------


@dataclass
class Transaction:
    """A committed install that can still be undone.

    ``rollback()`` restores exactly what was there before (for example when loading the new
    shared libraries fails); ``finish()`` drops the backups. Usable as a context manager:
    rollback on an exception, finish otherwise.
    ``files`` maps each installed project to the absolute paths written for it; ``notes``
    says what the install should warn of (files it overwrote that other installed
    distributions list).
    """

    projects: tuple[str, ...]
    files: dict[NormalizedName, tuple[str, ...]] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    _ops: FileOps = field(default_factory=FileOps, repr=False)
    _work: str | None = field(default=None, repr=False)
    _journal: list[tuple[str, ...]] = field(default_factory=list, repr=False)
    _count: int = field(default=0, repr=False)
    _state: str = "open"
    _dirs: set[str] = field(default_factory=set, repr=False)  # known to exist: not asked again
    _overwritten: list[str] = field(default_factory=list, repr=False)  # files in the way, placed over

    def rollback(self) -> None:
        """Undo the install. Raises :class:`InstallError` if something could not be restored
        or the transaction was already finished."""
        if self._state == "finished":
            raise InstallError(", ".join(self.projects), "cannot roll back: backups were already dropped")
        if self._state == "rolled back":
            return
        failures = self._undo()
        self._state = "rolled back"
        importlib.invalidate_caches()
        if failures:
            raise InstallError(", ".join(self.projects), "could not restore everything: " + "; ".join(failures))

    def finish(self) -> None:
        """Make the install permanent: delete the backups."""
        if self._state == "open":
            self._remove_work()
            self._state = "finished"

    def __enter__(self) -> Transaction:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.finish()
        else:
            self.rollback()

    # Each step is journaled before it is attempted (rule 3); undo copes with either outcome.

    def _start(self, near: str) -> None:
        self._makedirs(near)
        self._work = os.path.join(near, f".pyemscripten-{os.urandom(6).hex()}")  # secrets would import hmac
        # Undone after every backup in it is restored, before `near` itself is removed.
        self._journal.append(("work", self._work))
        self._ops.mkdir(self._work)

    def _scratch(self) -> str:
        assert self._work is not None
        self._count += 1
        return os.path.join(self._work, str(self._count))

    def _stage_tree(self, tree: str, files: Sequence[tuple[str, bytes | KeptBytes]], mode: int) -> None:
        """Write staged files (plain relative paths) into ``tree``, a folder of the staging
        directory that mirrors where they go (so that a new directory moves into place
        whole); it and the folders below are made as needed. Private to this transaction:
        not journaled."""
        assert self._work is not None
        root = f"{self._work}/{tree}"
        os.makedirs(root, exist_ok=True)
        self._ops.write_tree(root, files, mode)

    def _place_tree(self, source: str, target: str) -> None:
        """Move the staged tree ``source`` into the directory ``target``.

        An entry that does not exist in ``target`` moves whole, in one step (a new package
        of a thousand files is one move, not a thousand); an existing directory is entered;
        a file in the way is backed up first (another distribution's file: pip overwrites).
        """
        self._makedirs(target)
        entries = self._ops.entries(source, target)
        new = [name for name, exists in entries if not exists]
        for name in new:
            self._journal.append(("place", os.path.join(target, name)))
        if new and not self._ops.move_entries(source, target, new):
            for name in new:
                staged, final = os.path.join(source, name), os.path.join(target, name)
                try:
                    self._ops.move(staged, final)
                except OSError as exc:
                    if exc.errno != errno.EXDEV or not os.path.isdir(staged):
                        raise
                    # Across file systems a directory goes file by file. Its "place" stays
                    # journaled: `final` did not exist, so all of it is this install's.
                    self._place_tree(staged, final)
        for name, exists in entries:
            if not exists:
                continue
            staged, final = os.path.join(source, name), os.path.join(target, name)
            if os.path.isdir(staged):
                if not os.path.isdir(final):
                    raise NotADirectoryError(errno.ENOTDIR, "a file is in the way of a directory", final)
                self._place_tree(staged, final)
            else:
                if os.path.isdir(final) and not os.path.islink(final):
                    raise IsADirectoryError(errno.EISDIR, "a directory is in the way", final)
                self._backup(final)
                self._overwritten.append(final)
                self._place(staged, final)

    def _backup(self, path: str) -> None:
        backup = self._scratch()
        self._journal.append(("backup", path, backup))
        self._ops.move(path, backup)

    def _place(self, staged: str, target: str) -> None:
        self._makedirs(os.path.dirname(target))
        self._journal.append(("place", target))
        self._ops.move(staged, target)

    def _makedirs(self, directory: str) -> None:
        missing = []
        while directory not in self._dirs and not os.path.isdir(directory):
            missing.append(directory)
            directory = os.path.dirname(directory)
        self._dirs.add(directory)
        for path in reversed(missing):
            self._journal.append(("mkdir", path))
            self._ops.mkdir(path)
            self._dirs.add(path)

    def _prune(self, removed: Sequence[str], stop: Collection[str]) -> None:
        """Remove directories that ``removed`` left empty, up to (not including) ``stop``."""
        candidates = set()
        for path in removed:
            directory = os.path.dirname(path)
            while directory not in stop and os.path.dirname(directory) != directory:
                candidates.add(directory)
                directory = os.path.dirname(directory)
        for directory in sorted(candidates, key=len, reverse=True):
            if os.path.isdir(directory) and not os.path.islink(directory) and not os.listdir(directory):
                self._journal.append(("rmdir", directory, str(stat.S_IMODE(os.stat(directory).st_mode))))
                self._ops.rmdir(directory)
                self._dirs.discard(directory)

    def _undo(self) -> list[str]:
        failures = []
        unrestored = False  # a backup not moved back: the work folder holds its only copy
        for step in reversed(self._journal):
            if unrestored and step[0] == "work":
                continue
            try:
                self._undo_step(step)
            except OSError as exc:
                failures.append(f"{step[1]}: {exc}")
                unrestored = unrestored or step[0] == "backup"
        self._journal.clear()
        if unrestored and self._work is not None:
            # Removing it would delete the user's files for good; said, and never removed later.
            failures.append(f"the files not put back are kept in {self._work} (the name each had is in the "
                            "messages before)")
            self._work = None
        else:
            self._remove_work()
        return failures

    def _undo_step(self, step: tuple[str, ...]) -> None:
        kind, path = step[0], step[1]
        if kind == "place" and os.path.lexists(path):
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)  # a tree moved in whole: everything in it is this install's
            else:
                self._ops.unlink(path)
        elif kind == "backup" and os.path.lexists(step[2]):
            if os.path.lexists(path):  # the move copied but did not get to delete the source
                self._ops.unlink(step[2])
            else:
                self._ops.move(step[2], path)
        elif kind == "mkdir" and os.path.isdir(path) and not os.listdir(path):
            self._ops.rmdir(path)
        elif kind == "rmdir" and not os.path.isdir(path):
            self._ops.mkdir(path)
            os.chmod(path, int(step[2]))  # as it was (mkdir's mode is the umask's)
        elif kind == "work":
            self._remove_work()

    def _remove_work(self) -> None:
        if self._work is not None:
            self._ops.remove_tree(self._work)
            self._work = None


# --- install ------------------------------------------------------------------------------


@dataclass
class _Plan:
    wheel: UnpackedWheel
    # (target, data, mode); the fresh RECORD comes last.
    writes: list[tuple[str, bytes, int]]
    replaced: list[str]  # files of the installed distributions this one replaces
    roots: list[str] = field(default_factory=list)  # the scheme directory of each write
    relatives: list[str] = field(default_factory=list)  # each write's path relative to its root
    staged: list[tuple[str, str]] = field(default_factory=list)  # (staged tree, directory it goes into)


def install(
    wheels: Sequence[UnpackedWheel],
    scheme: Scheme,
    *,
    installer: str = INSTALLER,
    requested: Collection[str] = (),
    direct_urls: Mapping[str, dict] | None = None,
    ops: FileOps | None = None,
) -> Transaction:
    """Install ``wheels`` together: all of them, or (on any failure) none.

    Installed distributions of the same names (any version) are replaced. ``requested``
    names get a ``REQUESTED`` file; names in ``direct_urls`` get a ``direct_url.json``
    (PEP 610, credentials stripped). Returns the committed :class:`Transaction`; call
    ``finish()`` once the install is known good, or ``rollback()`` to undo it.

    Raises :class:`InstallError` naming the project; the scheme directories are then exactly
    as they were.
    """
    staging = Staging(scheme, installer=installer, requested=requested, direct_urls=direct_urls, ops=ops)
    try:
        for wheel in wheels:
            staging.add(wheel)
        return staging.commit()
    finally:
        staging.abort()  # after a failure: drop what was staged (a no-op once committed)


class Staging:
    """:func:`install` in two steps, so that writing overlaps downloading.

    :meth:`add` writes one wheel's files into the private staging directory as soon as the
    wheel is ready (others may still be downloading); :meth:`commit` moves everything into
    place in one transaction. The rules hold as in one step: a wheel's paths are checked
    before :meth:`add` writes its first byte, and conflicts between the wheels and what they
    replace are checked before the first byte lands outside the staging directory. The
    scheme's directories are assumed not to change shape (symlinks) while staged.
    :meth:`abort` drops what was staged if the install is abandoned.

    Earlier still, :meth:`prestage` gives a download a sink for the members its
    :class:`~pyemscripten.wheels.MemberStream` inflates: their files are written into a
    tree of their own in the staging directory while the rest of the wheel downloads (each
    path checked before it is written). Those bytes are not verified yet, and nothing
    trusts them: :meth:`add` keeps the tree only if every file in it is exactly a member of
    the verified wheel (the very object, which :func:`~pyemscripten.wheels.read_wheel` takes
    only where the central directory agrees) going to exactly that place; otherwise it is
    removed and the wheel is written as usual. Trees no wheel claims (cancelled guesses,
    failed downloads) go with the staging directory.
    """

    def __init__(self, scheme: Scheme, *, installer: str = INSTALLER, requested: Collection[str] = (),
                 direct_urls: Mapping[str, dict] | None = None, ops: FileOps | None = None) -> None:
        self.scheme = scheme
        self.installer = installer
        self._wanted = {canonicalize_name(n) for n in requested}
        self._urls = {canonicalize_name(k): v for k, v in (direct_urls or {}).items()}
        self._realpath = _RealPaths()
        self._plans: list[_Plan] = []
        self._transaction = Transaction(projects=(), _ops=ops or FileOps())
        self._committed = False
        self._open = True  # prestaged writes are taken until commit, abort or a failure
        self._writing = False  # prestaged members are held until write_early()
        self._prestaged: dict[str, Prestaged] = {}
        self._trees = 0
        self._tree_roots: dict[str, str] = {}  # staged tree -> the directory it goes into

    def request(self, names: Collection[str]) -> None:
        """The projects the user asked for (they get a ``REQUESTED`` file); before :meth:`add`."""
        self._wanted = {canonicalize_name(n) for n in names}

    def prestage(self, key: str) -> Prestaged | None:
        """A sink for the members of the download ``key`` (its URL), or None where a wheel's
        files do not all go to one folder whatever its WHEEL file says (purelib is not
        platlib). :meth:`add` with the same ``key`` takes what it wrote."""
        if self.scheme.purelib != self.scheme.platlib:
            return None
        sink = self._prestaged[key] = Prestaged(self)
        return sink

    def write_early(self, keys: Collection[str]) -> None:
        """Write the prestaged members of the downloads ``keys`` (the plan's wheels) from now
        on as they arrive, and those held so far now; other downloads write nothing more.

        Until this call members are only held: while resolution runs, its round trips come
        first (on a fast network the writes would delay each next request; measured: (a) on
        loopback, resolution 1.3 -> 1.6 s)."""
        self._writing = True
        wanted = set(keys)
        for key, sink in list(self._prestaged.items()):
            if key in wanted:
                sink._release_held()
            else:
                sink.close()

    def add(self, wheel: UnpackedWheel, key: str | None = None) -> None:
        """Check ``wheel``'s paths and stage its files. Raises :class:`InstallError`.

        ``key``: the key it was prestaged under (see :meth:`prestage`)."""
        plan = _plan(wheel, self.scheme, self.installer, wheel.name in self._wanted, self._urls.get(wheel.name),
                     self._realpath)
        transaction = self._transaction
        early = self._prestaged.pop(key, None) if key is not None else None
        if early is not None:
            early.flush()
        if early is not None and early.work != transaction._work:  # the staging folder went (a failure)
            early = None
        try:
            if early is not None and not early.holds_only(wheel):
                early.discard()
                early = None
            if transaction._work is None:
                transaction._start(self.scheme.purelib)
            trees: dict[str, str] = {}
            written: dict[str, bytes | KeptBytes] = {}
            if early is not None and early.written:
                trees[self.scheme.purelib] = early.tree
                written = early.written
            batches: dict[tuple[str, int], list[tuple[str, bytes | KeptBytes]]] = {}
            for (_, data, mode), root, relative in zip(plan.writes, plan.roots, plan.relatives, strict=True):
                if written.get(relative) is data and root == self.scheme.purelib and mode == Prestaged.MODE:
                    del written[relative]  # in place already (each at most once)
                    continue
                tree = trees.get(root) or trees.setdefault(root, self._tree(root))
                batches.setdefault((tree, mode), []).append((relative, data))
            if written:
                raise AssertionError(f"prestaged files not in the plan: {sorted(written)[:3]}")
            for (tree, mode), files in batches.items():
                transaction._stage_tree(tree, files, mode)
            work = transaction._work
            assert work is not None  # started above
            plan.staged = [(os.path.join(work, tree), root) for root, tree in trees.items()]
        except BaseException as exc:
            self._failed(exc, wheel.name, _file_over_folder(exc, plan))
        self._plans.append(plan)

    def _tree(self, root: str) -> str:
        """A fresh name for a staged tree of files going into the directory ``root`` (never
        reused: removing a discarded tree ignores errors, so some of it may remain; backups
        are numbered, see ``Transaction._scratch``)."""
        self._trees += 1
        self._tree_roots[f"t{self._trees}"] = root
        return f"t{self._trees}"

    def commit(self) -> Transaction:
        """Move every staged file into place; returns the :class:`Transaction` (see
        :func:`install`). Raises :class:`InstallError`; nothing is changed then."""
        transaction = self._transaction
        self._open = False
        transaction.projects = tuple(p.wheel.name for p in self._plans)
        if not self._plans:
            self._committed = True
            return transaction
        try:
            present = installed_distributions(self.scheme)
            names = {plan.wheel.name for plan in self._plans}
            replacing = [d for d in present if d.name in names]
            owned = _owned_by_others(replacing, present) if replacing else set()
            for plan in self._plans:
                plan.replaced = [p for d in replacing if d.name == plan.wheel.name
                                 for p in _recorded_files(d, self.scheme, InstallError) if _not_theirs(p, owned)]
            _check_conflicts(self._plans, self._realpath)
        except InstallError:
            self.abort()
            raise
        project = ", ".join(transaction.projects)
        try:
            # Every old file goes aside before any new one is placed: a file that moves from
            # one project to another upgraded with it (a 1.0 had it, b 2.0 has it) would
            # otherwise be backed up by a's plan after b's had placed it, and be lost.
            removed: dict[str, None] = {}  # a file two old versions both list goes aside once
            for plan in self._plans:
                project = plan.wheel.name
                for path in plan.replaced:
                    if path not in removed:
                        removed[path] = None
                        transaction._backup(path)
            # The folders they leave empty go too, before anything is placed: a new version
            # may have a file where the old one had a folder (demo/templates/ -> demo/templates).
            # (Folders of all the old versions: named by the path, not by the last plan's project.)
            project = ", ".join(transaction.projects)
            transaction._prune(list(removed), stop=_stops(self.scheme))
            for plan in self._plans:
                project = plan.wheel.name
                for tree, directory in plan.staged:
                    transaction._place_tree(tree, directory)
        except BaseException as exc:
            self._failed(exc, project)
        transaction.files = {p.wheel.name: tuple(t for t, _, _ in p.writes) for p in self._plans}
        if transaction._overwritten:
            transaction.notes = _overwrite_notes(self._plans, transaction._overwritten,
                                                 [d for d in present if d.name not in names])
        self._committed = True
        importlib.invalidate_caches()
        return transaction

    def abort(self) -> None:
        """Drop the staged files of an install that will not be committed (no-op after
        :meth:`commit`: use the transaction's ``rollback`` then)."""
        self._open = False
        if not self._committed:
            self._plans = []
            self._transaction._undo()

    def _failed(self, exc: BaseException, project: str, reason: str | None = None) -> None:
        """Called while handling ``exc``: undo everything, then raise it as InstallError
        (saying ``reason``, where given, instead of ``exc``)."""
        self._open = False
        hint = None
        if reason is None and isinstance(exc, OSError):
            reason, hint = self._file_failure(exc)  # before the undo: it names staged paths
        failures = self._transaction._undo()
        self._plans = []
        importlib.invalidate_caches()
        if not isinstance(exc, Exception):
            raise  # noqa: PLE0704 - re-raise the exception being handled (cancellation, exit)
        restored = "nothing was changed" + (f"; {hint}" if hint else "")
        if failures:
            restored = "RESTORE FAILED: " + "; ".join(failures)
        raise InstallError(project, f"{reason or exc} ({restored})") from exc

    def _file_failure(self, exc: OSError) -> tuple[str, str]:
        """What a file operation that failed with ``exc`` tells, and what to do about it.
        The path is the one the failed call was about, as the user knows it: where the file
        goes, not where it was staged (the private staging folder is removed by the time
        the error is read, and ``.pyemscripten-1a2b/t3/...`` says neither which folder of
        the scheme nor which file)."""
        work = self._transaction._work
        paths = [p for p in (exc.filename, exc.filename2) if isinstance(p, str)]
        shown = next((p for p in paths if work is None or (p != work and not p.startswith(work + "/"))), None)
        if shown is None and paths and work is not None:
            tree, _, rest = paths[0][len(work) + 1:].partition("/")
            root = self._tree_roots.get(tree, os.path.dirname(work))  # the staging folder itself: where it is
            shown = os.path.join(root, rest) if rest else root
        what = f"{exc.strerror or exc}: {shown}" if shown is not None else str(exc)
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return what, "free some space, then install again"
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            return what, "the install must be able to write there: install into folders that can be written to"
        if exc.errno in (errno.ENOTDIR, errno.EISDIR):  # _place_tree: not a distribution's, or it would be replaced
            return what, ("it is no file of the distributions being replaced: remove it (or uninstall what "
                          "installed it), then install again")
        return what, "install again, and if it fails the same way, check that path"


def _file_over_folder(exc: BaseException, plan: _Plan) -> str | None:
    """Why staging failed, where the wheel has a file that others need as a folder
    (``demo/sub`` and ``demo/sub/x.py``): writing its staged tree failed on "File exists"
    and a path in the staging folder. Looked for only then (a wheel's files are not walked
    folder by folder on every install); None where that is not it."""
    if not isinstance(exc, OSError) or exc.errno not in (errno.EEXIST, errno.ENOTDIR, errno.EISDIR):
        return None
    places = set(zip(plan.roots, plan.relatives, strict=True))
    for root, relative in sorted(places):
        folder = posixpath.dirname(relative)
        while folder:
            if (root, folder) in places:
                return (f"its wheel has a file {folder} and {relative} inside it, as if {folder} were a folder: "
                        "no install can write both; pin another version, or report the broken wheel to its "
                        "maintainers")
            folder = posixpath.dirname(folder)
    return None


class Prestaged:
    """The files one download's :class:`~pyemscripten.wheels.MemberStream` handed over, written
    into a tree of the staging directory while the rest of the wheel downloads (see
    :class:`Staging`). Never raises: whatever goes wrong, the tree is not used."""

    MODE = 0o644  # every file outside .data/scripts is written with it
    KEEP = 1 << 20  # held members are moved out of the interpreter (FileOps.keep) in lots of this many bytes

    def __init__(self, staging: Staging) -> None:
        self._staging = staging
        self.tree = staging._tree(staging.scheme.purelib)
        self.written: dict[str, bytes | KeptBytes] = {}  # member name -> the object written, or taken for flush()
        self.work: str | None = None  # the staging folder written into
        self.broken = False
        self._closed = False  # not planned, or failed: nothing more is taken
        self._held: list[tuple[str, bytes | KeptBytes]] = []  # until the staging writes early
        self._batch: list[tuple[str, bytes | KeptBytes]] = []  # taken, to be written by flush()
        self._unmoved: list[KeptBytes] = []  # still in the interpreter's memory
        self._unmoved_size = 0
        self._moves = staging._transaction._ops.moves_bytes

    def member(self, name: str, content: bytes) -> KeptBytes | None:
        """Take a member the stream inflated. Returns what stands for ``content`` from now on
        (its :class:`KeptBytes`, where the file operations move bytes out of the interpreter
        until they are written; see :meth:`FileOps.keep`), or None: ``content`` itself."""
        staging = self._staging
        if self.broken or self._closed or not staging._open:
            return None
        if name.partition("/")[0].endswith((".dist-info", ".data")) or not _plain(name) or "\x00" in name:
            return None  # written by add(): generated files, other scheme folders, unusual paths
        if not self._moves:
            self._take(name, content)
            return None
        kept = KeptBytes(content)
        self._unmoved.append(kept)
        self._unmoved_size += kept.size
        self._take(name, kept)
        return kept

    def _take(self, name: str, data: bytes | KeptBytes) -> None:
        if not self._staging._writing:
            self._held.append((name, data))
            return
        if name in self.written:  # twice in one archive: the wheel will be refused
            self.broken = True
            return
        self.written[name] = data  # once flush() has written it; broken if that fails
        self._batch.append((name, data))

    def _move(self) -> None:
        unmoved, self._unmoved, self._unmoved_size = self._unmoved, [], 0
        try:
            self._staging._transaction._ops.keep(unmoved)
        except Exception:  # noqa: BLE001, S110 - whatever did not move stays where it is
            pass

    def flush(self) -> None:
        """Write the members handed over since the last call, in one batch (the stream calls
        it after each piece of the body). Members held (before :meth:`Staging.write_early`)
        move out of the interpreter's memory a lot at a time (:attr:`KEEP`)."""
        batch, self._batch = self._batch, []
        if self._unmoved and (batch or self._unmoved_size >= self.KEEP):
            self._move()  # before the write, which then writes the moved bytes as they are
        staging = self._staging
        if not batch or self.broken:
            return
        if self._closed or not staging._open:  # taken, never to be written: written says otherwise
            self.broken = True
            return
        transaction = staging._transaction
        try:
            if transaction._work is None:
                if not os.path.isdir(staging.scheme.purelib):  # made (journaled) by add(), not here
                    self.broken = True
                    return
                transaction._start(staging.scheme.purelib)
            if self.work is None:
                self.work = transaction._work
            elif self.work != transaction._work:  # the staging folder went and came back
                self.broken = True
                return
            transaction._stage_tree(self.tree, batch, self.MODE)
        except Exception:  # noqa: BLE001 - add() writes the wheel as usual
            self.broken = True

    def _release_held(self) -> None:
        """Take the members held while resolution ran, and write them (see write_early)."""
        held, self._held = self._held, []
        if self.broken or self._closed or not self._staging._open:
            return
        for name, data in held:
            self._take(name, data)
        self.flush()

    def reset(self) -> None:
        """What was handed over is void (the download restarted): start a new tree."""
        self.discard()
        self.broken = False
        self.tree = self._staging._tree(self._staging.scheme.purelib)

    def close(self) -> None:
        """Nothing more is taken, and what was written goes (the download failed, or the plan
        does not use it)."""
        self.discard()
        self._closed = True

    def holds_only(self, wheel: UnpackedWheel) -> bool:
        """Every file written is a file of ``wheel``, the very bytes, in the folder they go to."""
        if self.broken:
            return False
        written = self.written
        same = {relative for scheme_key, relative, data in wheel.files
                if scheme_key == wheel.root_key and written.get(relative) is data}
        return len(same) == len(written)

    def discard(self) -> None:
        self.broken = True
        self.written = {}
        self._held = []
        self._batch = []
        self._unmoved, self._unmoved_size = [], 0
        if self.work is not None and self.work == self._staging._transaction._work:
            shutil.rmtree(f"{self.work}/{self.tree}", ignore_errors=True)


def _overwrite_notes(plans: Sequence[_Plan], overwritten: Sequence[str], others: Sequence[InstalledDist]) -> tuple[str, ...]:
    """A warning for each installed distribution (not replaced) some of whose files the
    install wrote over: pip overwrites such files too, but says nothing. Files no RECORD
    lists (left there by hand) are overwritten silently."""
    writer = {target: plan.wheel for plan in plans for target, _, _ in plan.writes}
    hit = set(overwritten)
    notes = []
    for dist in others:
        theirs = sorted(hit & recorded_paths(dist.path))
        by: dict[str, list[str]] = {}
        for path in theirs:
            wheel = writer.get(path)
            if wheel is not None:
                by.setdefault(f"{wheel.display_name} {wheel.version}", []).append(path)
        for new, paths in by.items():
            shown = ", ".join(paths[:3]) + (f" and {len(paths) - 3} more" if len(paths) > 3 else "")
            one = len(paths) == 1
            notes.append(f"{new} overwrote {len(paths)} file{'' if one else 's'} of {dist.name} {dist.version} "
                         f"({shown}): both list {'it' if one else 'them'} now, with {new}'s content, and {dist.name} "
                         "may not work as before; keep only one of the two")
    return tuple(notes)


def _stops(scheme: Scheme) -> set[str]:
    stops = set()
    for key in ("purelib", "platlib", "scripts", "headers", "data"):
        stops |= {scheme.directory(key), os.path.realpath(scheme.directory(key))}
    return stops


def _plan(wheel: UnpackedWheel, scheme: Scheme, installer: str, requested: bool,
          direct_url: dict | None, realpath: _RealPaths) -> _Plan:
    root = scheme.purelib if wheel.root_is_purelib else scheme.platlib
    writes = []
    write_roots = []
    relatives = []
    digests: dict[str, str] = {}
    # By scheme key: the directory, resolved, made absolute, and the prefix of what is inside.
    places: dict[str, tuple[str, str, str, str]] = {}
    generated = {f"{wheel.dist_info}/{name}" for name in _GENERATED}
    sha256 = wheel.sha256
    # Where each file lands, resolved: two of the wheel's files at one place (a .data/data
    # file over a package's own, where the data folder holds site-packages, as Pyodide's
    # "/" does) would leave one of them, or a file written fresh below, overwritten.
    landed: dict[str, int] = {}  # resolved target -> the file's number in wheel.files
    sites = {realpath(scheme.purelib), realpath(scheme.platlib)}
    for number, (key, relative, data) in enumerate(wheel.files):
        if relative in generated and key == wheel.root_key:  # the dist-info's own: written fresh below
            continue
        place = places.get(key)
        if place is None:
            directory = scheme.directory(key)
            if key == "headers":
                if not _plain(wheel.display_name) or "/" in wheel.display_name:  # wheels.py refuses such a Name
                    raise InstallError(wheel.name, f"its Name {wheel.display_name!r} cannot name a folder of headers")
                directory = os.path.join(directory, wheel.display_name)
            real = realpath(directory)
            place = places[key] = (directory, real, os.path.abspath(directory), real.rstrip("/") + "/")
        target, inside = _target(wheel, relative, realpath, *place)
        real_target = realpath(target)  # known already: _target resolved it
        if key not in ("purelib", "platlib") and _in_a_dist_info(real_target, sites):
            raise InstallError(wheel.name, f"its {key} file {relative!r} would be written into a .dist-info folder "
                                           f"of site-packages ({target}): only an installer writes those")
        if landed.setdefault(real_target, number) != number:
            first_key, first, _ = wheel.files[landed[real_target]]
            raise InstallError(wheel.name, f"two of its files, {first!r} ({first_key}) and {relative!r} ({key}), "
                                           f"would be installed at {target}")
        digest = sha256.get((key, relative))
        if key == "scripts":
            script = _with_interpreter(bytes(data))
            if script is not None:  # the wheel spec: "#!python" names this runtime's interpreter
                data, digest = script, None
        writes.append((target, data, 0o755 if key == "scripts" else 0o644))
        write_roots.append(place[0])
        relatives.append(inside)
        if digest is not None:
            digests[target] = digest
    info = os.path.join(root, wheel.dist_info)
    generated_writes = [(os.path.join(info, "INSTALLER"), f"{installer}\n".encode(), 0o644)]
    if requested:
        generated_writes.append((os.path.join(info, "REQUESTED"), b"", 0o644))
    if direct_url is not None:
        body = json.dumps(_strip_credentials(direct_url), sort_keys=True).encode()
        generated_writes.append((os.path.join(info, "direct_url.json"), body, 0o644))
    for write in generated_writes:
        writes.append(write)
        write_roots.append(root)
        relatives.append(_record_path(write[0], root))
    record = _record(writes, write_roots, relatives, root, wheel.dist_info, digests)
    writes.append((os.path.join(info, "RECORD"), record, 0o644))
    write_roots.append(root)
    relatives.append(_record_path(writes[-1][0], root))
    return _Plan(wheel, writes, [], write_roots, relatives)  # what it replaces is read at commit


def _in_a_dist_info(real: str, sites: Collection[str]) -> bool:
    """Whether the resolved path ``real`` is inside a ``*.dist-info`` folder of one of the
    resolved site-packages folders ``sites``."""
    for site in sites:
        if real.startswith(site.rstrip("/") + "/"):
            top = real[len(site.rstrip("/")) + 1:].split("/", 1)[0]
            if top.endswith(".dist-info"):
                return True
    return False


def _with_interpreter(script: bytes) -> bytes | None:
    """A ``.data/scripts`` file whose first line starts with ``#!python`` (``#!python``,
    ``#!pythonw``, ``#!python3``: the wheel spec's "starts with exactly b'#!python'", then
    arguments after a space, kept) with that line naming this interpreter, as the spec's
    install step says; None for any other file (copied as it is)."""
    first, newline, rest = script.partition(b"\n")
    match = re.fullmatch(rb"#!python\S*(\s.*)?\r?", first)
    if match is None:
        return None
    interpreter = (sys.executable or "/usr/bin/env python3").encode()
    return b"#!" + interpreter + (match.group(1) or b"").rstrip(b"\r") + newline + rest


def _target(wheel: UnpackedWheel, relative: str, realpath: _RealPaths, directory: str,
            real_root: str, abs_root: str, inside: str) -> tuple[str, str]:
    """The absolute target, and its path relative to ``directory``; refuses one that
    resolves outside ``directory`` (rule 1). ``real_root``/``abs_root``: ``directory``
    resolved and made absolute; ``inside``: ``real_root`` and a slash."""
    if abs_root == directory and _plain(relative):
        # The common case, without join/abspath per file: a normalized absolute directory
        # and a relative path of plain names (wheels.py's rule 1 lets no other kind through)
        # join to an absolute path that is already normal, and relative to the directory
        # it is the path it was given.
        target = directory + "/" + relative
        if realpath(target).startswith(inside):  # what _within says: never the root itself here
            return target, relative
    else:
        target = os.path.join(directory, *relative.split("/"))
        if _within(realpath(target), real_root) and _within(os.path.abspath(target), abs_root):
            return target, _record_path(target, directory)
    raise InstallError(wheel.name, f"{relative!r} would be written outside {directory}")


def _plain(relative: str) -> bool:
    """A relative POSIX path of plain names: no empty, ``.`` or ``..`` part."""
    return (os.sep == "/" and bool(relative) and not relative.startswith(("/", "."))
            and "/." not in relative and "//" not in relative and not relative.endswith("/"))


def _record(writes: list[tuple[str, bytes, int]], write_roots: list[str], relatives: list[str], root: str,
            dist_info: str, digests: Mapping[str, str]) -> bytes:
    """The fresh RECORD; ``digests`` are sha256s (urlsafe base64) open_wheel already checked,
    so a large wheel is not hashed a second time. ``relatives``: each write's path relative
    to its ``write_roots`` entry; RECORD's are relative to ``root``."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for (target, data, _), write_root, relative in zip(writes, write_roots, relatives, strict=True):
        digest = digests.get(target) or record_digest(hashlib.sha256(bytes(data)).digest())
        size = data.size if type(data) is KeptBytes else len(data)  # len(): a call into Python for a KeptBytes
        writer.writerow([relative if write_root == root else _record_path(target, root), f"sha256={digest}", size])
    writer.writerow([f"{dist_info}/RECORD", "", ""])
    return out.getvalue().encode("utf-8")


def _record_path(target: str, root: str) -> str:
    # Most targets are root + "/" + a plain relative path, which is relpath's answer too.
    if target.startswith(root + "/"):
        rest = target[len(root) + 1:]
        if _plain(rest):
            return rest
    return os.path.relpath(target, root).replace(os.sep, "/")


def _check_conflicts(plans: Sequence[_Plan], realpath: _RealPaths) -> None:
    owners: dict[str, str] = {}
    for plan in plans:
        if plan.wheel.name in {p.wheel.name for p in plans if p is not plan}:
            raise InstallError(plan.wheel.name, "given more than once")
        for target, _, _ in plan.writes:
            key = realpath(target) if os.sep == "/" else os.path.normcase(realpath(target))  # normcase: a no-op on POSIX
            other = owners.setdefault(key, plan.wheel.name)
            if other != plan.wheel.name:
                raise InstallError(plan.wheel.name, f"{target} is also installed by {other}")


def _strip_credentials(info: Mapping[str, object]) -> dict:
    """PEP 610: no secrets in direct_url.json, except ``git@`` and ``${ENV}`` user names."""
    result = dict(info)
    url = result.get("url")
    if isinstance(url, str):
        try:
            parts = urlsplit(url)
        except ValueError:
            return result
        user, _, host = parts.netloc.rpartition("@")
        if user and not (user == "git" or (user.startswith("${") and user.endswith("}") and ":" not in user)):
            result["url"] = urlunsplit(parts._replace(netloc=host))
    return result


def mark_requested(dist_infos: Iterable[str]) -> None:
    """Give the installed distributions whose ``*.dist-info`` folders are ``dist_infos`` a
    ``REQUESTED`` file where they have none, listed in their RECORD: "If a distribution that
    was already installed on the system as a dependency is later installed by name, tools
    should create the REQUESTED file" (Recording installed projects). One without a RECORD,
    or that cannot be written to, is left as it is (the install stands without it)."""
    for dist_info in dist_infos:
        marker, record = os.path.join(dist_info, "REQUESTED"), os.path.join(dist_info, "RECORD")
        if os.path.lexists(marker) or not os.path.isfile(record):
            continue
        row = f"{os.path.basename(dist_info)}/REQUESTED,sha256={record_digest(hashlib.sha256(b'').digest())},0\n"
        try:
            with open(record, "rb") as file:
                text = file.read()
            with open(marker, "wb"):
                pass
            with open(record, "ab") as file:
                file.write(((b"\n" if text and not text.endswith(b"\n") else b"") + row.encode()))
        except OSError:
            continue


# --- uninstall ----------------------------------------------------------------------------


def uninstall(name: str, scheme: Scheme, *, ops: FileOps | None = None,
              found: Sequence[InstalledDist] | None = None) -> list[str]:
    """Remove every installed distribution called ``name``; return the removed paths.
    ``found``: ``installed_distributions(scheme)`` already read by the caller (a scan reads
    every METADATA in the scheme).

    Raises :class:`NotInstalledError`, or :class:`UninstallError` (nothing removed) when a
    RECORD lists a path outside the scheme or a removal fails.
    """
    wanted = canonicalize_name(name)
    present = found if found is not None else installed_distributions(scheme)  # one scan, for both below
    dists = [d for d in present if d.name == wanted]
    if not dists:
        raise NotInstalledError(name)
    owned = _owned_by_others(dists, present)
    paths = list(dict.fromkeys(p for d in dists for p in _recorded_files(d, scheme, UninstallError)
                               if _not_theirs(p, owned)))
    transaction = Transaction(projects=(dists[0].name,), _ops=ops or FileOps())
    try:
        transaction._start(scheme.purelib)
        for path in paths:
            transaction._backup(path)
        transaction._prune(paths, stop=_stops(scheme))
    except Exception as exc:
        failures = transaction._undo()
        restored = "nothing of it was removed" if not failures else "RESTORE FAILED: " + "; ".join(failures)
        raise UninstallError(dists[0].name, f"{exc} ({restored})") from exc
    transaction.finish()
    importlib.invalidate_caches()
    return paths
