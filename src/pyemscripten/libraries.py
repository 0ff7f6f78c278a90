"""Which side modules to load after an install, found where the runtime will find them, in order.

After wheels are committed into site-packages, every ``.so`` they brought must be loaded
before Python imports it (Chromium will not compile a large module synchronously, so an
``import`` cannot do it on demand). :func:`plan_loads` reads each module's ``dylink.0``
section, finds every NEEDED library the way the runtime's dynamic linker will, and returns
the libraries dependencies-first. It does no loading and touches the file system only
through a :class:`FileSystemView`.

Rule 1: find a library where the runtime will find it, in the runtime's order; a plan
that disagrees with the linker loads one copy and links against another. The orders below
were read in the runtimes' own sources (Emscripten's ``_emscripten_resolve_path`` and
``findLibraryFS``; Pyodide 0.27's ``createDynlibFS``).

* Platforms with RUNTIME_PATH support (2025_0 on; Pyodide >= 0.28, ``rpath_supported``):
  1. the runtime's library folders (its ``LD_LIBRARY_PATH``: Pyodide sets
     ``[/usr/lib, site-packages]``). Emscripten searches these *before* the RPATH, like
     ELF's ``LD_LIBRARY_PATH`` before ``DT_RUNPATH``;
  2. the RUNTIME_PATH entries of the module that needs the library, a leading ``$ORIGIN``
     replaced by that module's directory, each then split at ``:`` and newlines (the
     runtime joins the entries with ``:`` and walks the folders of the result, split as
     Emscripten's ``path_find`` splits, empty ones skipped);
  3. a library already loaded under exactly that name (the runtime keys loaded libraries
     by the name they were opened with: an absolute path, so a bare soname rarely matches).
     Steps 1-2 come first: each NEEDED name is ``findLibraryFS(needed, rpath) ?? needed``
     before ``loadDynamicLibrary`` looks it up among the loaded (read in the runtimes'
     ``pyodide.asm.js``/``.mjs`` of 0.29.5, 314.0.7 and 315.0.0-alpha.2).
  A NEEDED name with a ``/`` in it (not absolute) is looked for in no folder, only among
  the libraries loaded (step 3), as the runtime's ``_emscripten_find_dylib`` does.
* 2024_0 (Pyodide 0.27; RUNTIME_PATH is ignored):
  1. a library already loaded, by soname: Pyodide registers every library it loads under
     its base name too, so this comes first (this plan counts as loaded, because it loads
     dependencies first);
  2. ``site-packages/<wheel>.libs`` of the project that owns the module;
  3. the runtime's library folders;
  4. the module's own folder;
  5. the ``.libs`` folders of the other projects in this install (found in the runtime by
     base name once step 1 has loaded them, which the dependency order guarantees);
  6. the subfolders of the module's folder (each before its own subfolders, links to
     folders not entered; the runtime walks them after step 4, in the order the file
     system lists them, here sorted; a
     library found in step 5 is loaded first, so the runtime finds it by name, step 1);
  7. a module of this install by its base name, wherever it is (the first in install order):
     the plan loads it first, so the runtime finds it by name (step 1) whatever the order
     the modules come in.

Rule 2: every library is loaded locally (``global_=False``). From Pyodide 0.27 on the
runtime opens every library ``RTLD_LOCAL``; a module sees another's functions only by listing
it as NEEDED. Not so for what it reaches through the runtime's one offset table (the address
of a global, a function pointer): the first library to define a name defines it for every
later one. On Pyodide 314 the loader gives a later, unrelated library its own, or its NEEDED
library's (point 11 of ``browser_loader``, with its limits), as a library opened
``RTLD_LOCAL`` resolves symbols natively; elsewhere the first definition stands.

Rule 3: one load per file. A library needed by several modules or projects is planned
once, before the first module that needs it; a library already loaded is not planned.
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Protocol

from packaging.utils import canonicalize_name

from pyemscripten.dylink import WASM_MAGIC, DylinkInfo, first_section_end, parse_dylink
from pyemscripten.errors import DylinkError, LibraryNotFoundError
from pyemscripten.seams import LibraryToLoad

ORIGIN = "$ORIGIN"


class FileSystemView(Protocol):
    """Read-only access to the runtime's file system (absolute POSIX paths)."""

    def read(self, path: str) -> bytes:
        """The file at ``path``; its start is enough if it holds the whole first section
        (see :func:`pyemscripten.dylink.first_section_end`)."""
        ...

    def exists(self, path: str) -> bool:
        """Whether ``path`` is a regular file (following symbolic links)."""
        ...

    def listdir(self, path: str) -> list[str]:
        """Entry names in the folder ``path``; empty if it is not a folder."""
        ...

    def isdir(self, path: str) -> bool:
        """Whether ``path`` is a folder, not a link to one (Pyodide 0.27's walk of a module's
        subfolders looks a path up without following a last link: ``FS.lookupPath``)."""
        ...


class OSFileSystem:
    """The :class:`FileSystemView` of the running interpreter (in Pyodide: the Emscripten FS)."""

    HEAD = 64 * 1024  # a dylink.0 section is a few hundred bytes; the module behind it, megabytes

    def __init__(self) -> None:
        self._read: dict[str, bytes] = {}  # one view, one plan: a file is read once

    def read(self, path: str) -> bytes:
        """The start of the file, if it holds the whole first section; else the whole file."""
        data = self._read.get(path)
        if data is None:
            with open(path, "rb") as f:
                head = f.read(self.HEAD)
                end = first_section_end(head)
                # A section larger than the head (or a size that is a lie): read on to the end;
                # a file that is no WebAssembly module at all needs no more than its start.
                whole = end is not None and end > len(head)
                data = self._read[path] = head + f.read() if whole or (end is None and head[:4] == WASM_MAGIC) else head
        return data

    def exists(self, path: str) -> bool:
        return os.path.isfile(path)

    def listdir(self, path: str) -> list[str]:
        try:
            return sorted(os.listdir(path))
        except OSError:
            return []

    def isdir(self, path: str) -> bool:
        return os.path.isdir(path) and not os.path.islink(path)  # a link to "." would be walked without end


def search_path_folders(text: str) -> list[str]:
    """The folders of a search path (an RPATH entry, ``LD_LIBRARY_PATH``) as Emscripten's
    ``path_find`` splits one: at ``:`` and newlines, empty parts skipped."""
    return [part for part in re.split(r"[:\n]", text) if part]


@dataclass(frozen=True)
class _Module:
    path: str
    project: str
    info: DylinkInfo


def _libs_dirs_by_project(site_packages: str | None, fs: FileSystemView) -> dict[str, str]:
    """``{canonical project name: site-packages/<Name>.libs}`` for every ``.libs`` folder."""
    if site_packages is None:
        return {}
    found: dict[str, str] = {}
    for entry in fs.listdir(site_packages):
        if entry.endswith(".libs"):
            found[canonicalize_name(entry[: -len(".libs")])] = posixpath.join(site_packages, entry)
    return found


def _site_packages_of(path: str) -> str | None:
    parent = posixpath.dirname(path)
    while parent not in ("/", ""):
        if posixpath.basename(parent) == "site-packages":
            return parent
        parent = posixpath.dirname(parent)
    return None


class _Planner:
    def __init__(
        self,
        fs: FileSystemView,
        loaded: Collection[str],
        system_dirs: Sequence[str],
        rpath_supported: bool,
        projects: Sequence[str],
        site_packages: str | None,
    ) -> None:
        self.fs = fs
        self.loaded = {posixpath.normpath(p) for p in loaded}
        # Pyodide 0.27 registers a library opened by its path under its base name too; a name
        # that is no path (one the runtime opened for a NEEDED entry) is known by itself only:
        # "sub/libz.so" loaded does not make "libz.so" loaded.
        self.loaded_by_soname = {posixpath.basename(p) if posixpath.isabs(p) else p: p for p in sorted(self.loaded)}
        self.system_dirs = list(system_dirs)
        self.rpath_supported = rpath_supported
        self.libs_dirs = _libs_dirs_by_project(site_packages, fs)
        self.batch_projects = [canonicalize_name(p) for p in projects]
        self.batch_by_soname: dict[str, str] = {}  # base name: first module of this install with it
        self.modules: dict[str, _Module] = {}
        self.order: list[LibraryToLoad] = []
        self.planned: set[str] = set()
        self.visiting: set[str] = set()

    def module(self, path: str, project: str) -> _Module:
        if path not in self.modules:
            try:
                info = parse_dylink(self.fs.read(path), path, newer_loader=self.rpath_supported)
            except DylinkError as exc:
                raise DylinkError(exc.filename, exc.reason, project=project) from None
            self.modules[path] = _Module(path, project, info)
        return self.modules[path]

    def visit(self, path: str, project: str) -> None:
        # Depth-first, post-order: a library is appended after everything it needs.
        # A path met again while still being visited closes a cycle: the runtime breaks it
        # the same way (the second open finds the library "loading" and moves on).
        if path in self.planned or path in self.visiting or path in self.loaded:
            return
        self.visiting.add(path)
        module = self.module(path, project)
        for needed in module.info.needed:
            found = self.find(needed, module)
            if found is not None:
                self.visit(found, self.modules[found].project if found in self.modules else project)
        self.visiting.discard(path)
        self.planned.add(path)
        self.loaded_by_soname.setdefault(posixpath.basename(path), path)
        self.order.append(LibraryToLoad(path=path, project=module.project, global_=False))

    def find(self, needed: str, module: _Module) -> str | None:
        """The path that satisfies ``needed`` for ``module``; None if it is loaded already."""
        searched: list[str] = []
        if posixpath.isabs(needed):
            path = posixpath.normpath(needed)
            if path in self.loaded or self.fs.exists(path):
                return path
            raise LibraryNotFoundError(module.path, needed, [path], project=module.project)
        if self.rpath_supported and "/" in needed:
            if needed in self.loaded:
                return None
            raise LibraryNotFoundError(module.path, needed, [], project=module.project,
                                       note="This runtime's loader looks for a NEEDED name with a folder in it "
                                            "(not absolute) in no folder: only among the libraries already loaded.")
        tried: set[str] = set()
        for kind, candidate in self.candidates(needed, module):
            if kind == "file" and candidate in tried:  # the same folder by two steps (site-packages)
                continue
            tried.add(candidate)
            searched.append(candidate if kind == "file" else f"{candidate} (already loaded)")
            if kind == "loaded":
                return None if candidate in self.loaded else candidate
            if candidate in self.loaded or candidate in self.planned or self.fs.exists(candidate):
                return candidate
        raise LibraryNotFoundError(module.path, needed, searched, project=module.project)

    def subfolders(self, folder: str) -> Iterator[str]:
        """Every folder below ``folder``, each before its own (Pyodide 0.27's ``getSubDirs``)."""
        for name in self.fs.listdir(folder):
            path = posixpath.join(folder, name)
            if self.fs.isdir(path):
                yield path
                yield from self.subfolders(path)

    def candidates(self, needed: str, module: _Module) -> Iterator[tuple[str, str]]:
        origin = posixpath.dirname(module.path)

        def files_in(dirs: Iterable[str]) -> Iterator[tuple[str, str]]:
            for d in dirs:
                yield "file", posixpath.normpath(posixpath.join(d, needed))

        if self.rpath_supported:
            yield from files_in(self.system_dirs)
            # Emscripten's replaceORIGIN: only a leading $ORIGIN of each entry is substituted;
            # then the entries are one list to the runtime, split at ":" and newlines (path_find).
            replaced = [origin + p[len(ORIGIN) :] if p.startswith(ORIGIN) else p for p in module.info.runtime_paths]
            yield from files_in([part for entry in replaced for part in search_path_folders(entry)])
            if needed in self.loaded:
                yield "loaded", needed
            return
        if needed in self.loaded_by_soname:
            yield "loaded", self.loaded_by_soname[needed]
        own = self.libs_dirs.get(canonicalize_name(module.project))
        yield from files_in([own] if own else [])
        yield from files_in(self.system_dirs)
        yield from files_in([origin])
        others = [self.libs_dirs[p] for p in self.batch_projects if p in self.libs_dirs and self.libs_dirs[p] != own]
        yield from files_in(others)
        yield from files_in(self.subfolders(origin))
        # Step 1 counts this plan as loaded, but a module is only registered once visited: a
        # library of this install that no other step reaches (pkg.libs/liba.so needing
        # pkg/libb.so) was found or refused by the order the modules came in. The plan loads it
        # before the module that needs it, so the runtime finds it by name (step 1).
        if needed in self.batch_by_soname:
            yield "file", self.batch_by_soname[needed]


def foreign_modules(modules: Sequence[tuple[str, str]], fs: FileSystemView) -> list[tuple[str, str]]:
    """Of ``modules`` (as for :func:`plan_loads`), the files that are no WebAssembly module
    at all: a ``.so`` built for another platform (an ELF helper a pure wheel carries) that
    no runtime can load. An installer leaves them out of the plan, as the runtime's own
    loader does, and says so; a library another module NEEDS is still refused."""
    return [(path, project) for path, project in modules if not fs.read(path).startswith(WASM_MAGIC)]


# A CPython (or PyPy, Jython) extension module's tag in its file name (PEP 3149), as
# Pyodide's package loader matches it (``PLATFORM_TAG_REGEX`` of ``_package_loader``).
_INTERPRETER_TAG = re.compile(r"\.(cpython|pypy|jython)-[0-9]{2,}[a-z]*(-[a-z0-9_-]*)?")


def other_interpreters_modules(modules: Sequence[tuple[str, str]],
                               extension_suffixes: Collection[str]) -> list[tuple[str, str]]:
    """Of ``modules`` (as for :func:`plan_loads`), the extension modules built for another
    interpreter (``_x.cpython-313-wasm32-emscripten.so`` where this one imports
    ``.cpython-314-...``): Python never imports them, and Pyodide's own loader does not load
    them (``should_load_dynlib``), so neither does an install: one that needs a symbol this
    runtime lacks would fail the whole install. ``extension_suffixes``: this interpreter's
    ``importlib.machinery.EXTENSION_SUFFIXES``."""
    tags = {suffix.removesuffix(".so") for suffix in extension_suffixes}
    found = []
    for path, project in modules:
        suffixes = PurePosixPath(path).suffixes
        at = suffixes.index(".so") if ".so" in suffixes else 0
        if at > 0 and suffixes[at - 1] not in tags and _INTERPRETER_TAG.match(suffixes[at - 1]):
            found.append((path, project))
    return found


def loaded_before(modules: Sequence[tuple[str, str]], loaded: Collection[str]) -> list[tuple[str, str]]:
    """Of ``modules`` (as for :func:`plan_loads`), those the runtime has loaded under the same
    path already: an upgrade (or a retry after a failed load) of a library the page holds.
    The plan skips them, and the page goes on with the copy it has."""
    held = {posixpath.normpath(p) for p in loaded}
    return [(path, project) for path, project in modules if posixpath.normpath(path) in held]


def plan_loads(
    modules: Sequence[tuple[str, str]],
    fs: FileSystemView,
    loaded: Collection[str],
    system_dirs: Sequence[str],
    rpath_supported: bool,
    site_packages: str | None = None,
) -> list[LibraryToLoad]:
    """Order the side modules a set of wheels just installed, with every library they need.

    ``modules``: ``(absolute path, owning project)`` of each ``.so`` the wheels installed,
    in install order (dependencies' wheels first keeps the plan closest to that order).
    ``fs``: the runtime's file system after the install. ``loaded``: names the runtime has
    loaded already (Pyodide: the keys of ``LDSO.loadedLibsByName``; see
    :func:`pyemscripten.browser_loader.loaded_libraries`). ``system_dirs``: the runtime's
    ``LD_LIBRARY_PATH`` entries. ``rpath_supported``: False for platform 2024_0 only.
    ``site_packages``: where ``<wheel>.libs`` folders live (2024_0 only); found from the
    module paths when not given.

    Returns every module and every library they need that is not loaded yet, each once,
    dependencies first (see the module docstring for the search order).

    Raises :class:`~pyemscripten.errors.LibraryNotFoundError` when a NEEDED library is in
    none of the places the runtime looks (``searched`` lists them in order), and
    :class:`~pyemscripten.errors.DylinkError` when a module (or a library it needs) has no
    valid ``dylink.0`` section.
    """
    modules = [(posixpath.normpath(path), project) for path, project in modules]
    if site_packages is None and not rpath_supported:
        site_packages = next((sp for sp in map(_site_packages_of, (p for p, _ in modules)) if sp), None)
    planner = _Planner(
        fs,
        loaded,
        system_dirs,
        rpath_supported,
        projects=list(dict.fromkeys(project for _, project in modules)),
        site_packages=site_packages,
    )
    for path, project in modules:
        planner.module(path, project)  # register owners before any NEEDED edge points here
        planner.batch_by_soname.setdefault(posixpath.basename(path), path)
    for path, project in modules:
        planner.visit(path, project)
    return planner.order
