"""The public operations: install, install_lock, freeze, list_installed, uninstall,
wait_for_cache, clear_cache; install_turn, for several installs in one turn.

Each is a short pipeline over the stage modules: resolve, download and verify
(concurrently; each wheel is validated, unpacked and staged as soon as its bytes are in;
the wheels the resolver's crawl is likely to pick start downloading while it still
resolves, see :class:`~.downloads.WheelTasks`), commit into site-packages in one transaction, then load
shared libraries; if loading fails the transaction is rolled back, so a failure anywhere
leaves site-packages as it was. Nothing is installed before the plan is known.

The browser seams are created here, at the edge, only when the caller passed none.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import dataclasses
import difflib
import importlib
import json
import os
import posixpath
import re
import sys
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import InvalidName, canonicalize_name
from packaging.version import Version

from . import installation, libraries
from .candidates import for_target, names_a_file
from .distribution import DistributionEntry
from .downloads import WheelTasks, gather_all, strongest_hash
from .errors import (
    DistributionFileError,
    IndexHTTPError,
    InstallError,
    LockError,
    MissingHashError,
    NoSitePackagesError,
    NotInABrowserError,
    NotInstalledError,
    PyemscriptenError,
    UninstallError,
    listed,
    redact_text,
    redact_url,
)
from .index_client import DEFAULT_INDEX_URL, IndexClient, RetryPolicy, get_ok, load_distribution
from .index_pages import IndexFile
from .installation import ORIGIN_FILE, with_origin
from .locks import LockedWheel, dump_lock, load_lock
from .metadata import parse_metadata
from .progress import Listener, ProgressEvent, TextReporter, emit_all, size_text
from .resolution import (
    InstalledDist,
    KnownData,
    Resolution,
    ResolvedDist,
    ResolveOptions,
    resolve,
    walk_line,
    yanked_notes,
)
from .seams import Hasher, LibraryLoader, LibraryToLoad, Transport, WheelCache, flush_cache, flush_cache_later
from .target import Target, current_target
from .wheels import UnpackedWheel, check_requires_python


@dataclass
class Session:
    """The seams and settings one operation runs with; defaults are the browser's."""

    target: Target | None = None
    transport: Transport | None = None
    loader: LibraryLoader | None = None
    # Wheels fetched once are kept by sha256 (browser: Cache Storage) and re-checked against
    # the hash on every use; ``use_cache=False`` neither reads nor writes the default cache.
    cache: WheelCache | None = None
    use_cache: bool = True
    scheme: installation.Scheme | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    # The runtime's pyodide-lock.json; None: ask the runtime where it is ("" turns it off).
    distribution_url: str | None = None
    # Where the distribution's wheels live; None: beside its pyodide-lock.json.
    distribution_files_url: str | None = None
    listeners: list[Listener] = field(default_factory=list)
    # sha256 of wheel bodies and of their files (browser: WebCrypto for the large ones).
    hasher: Hasher | None = None
    # The file system calls of an install (browser: many new files in one call).
    file_ops: installation.FileOps | None = None
    # Set once an install's packages are committed (and their libraries loaded): what an
    # error after that point says. Not copied by resolved(): each call starts without it.
    committed: bool = field(default=False, init=False, repr=False, compare=False)
    # Set once the operation's "done" or "error" went out (not copied by resolved() either):
    # what its wheel cache tells after that is a "cache-warning" (see install_resolved).
    ended: bool = field(default=False, init=False, repr=False, compare=False)

    def resolved(self, listeners: Sequence[Listener] = (), *, interpreter: bool = True) -> Session:
        """A copy with every unset seam filled in from the running runtime (the edge),
        and ``listeners`` added for this one operation; the caller's session is unchanged.
        ``interpreter=False`` leaves the target and the scheme to :meth:`read_interpreter`:
        :func:`install` reads them once its first requests are out (the interpreter's
        configuration takes 20-30 ms to load the first time)."""
        s = dataclasses.replace(self, listeners=[*self.listeners, *listeners])
        if s.retry.on_retry is None:  # a request tried again is a warning for the listeners
            s.retry = dataclasses.replace(s.retry, on_retry=lambda project, text: s.emit("warning", project, message=text))
        if interpreter:
            s.read_interpreter()
        if s.transport is None:
            if sys.platform != "emscripten":  # the browser's fetch is the only one it can make
                raise NotInABrowserError("transport", sys.platform)
            from .browser import FetchTransport

            s.transport = FetchTransport()
        if s.hasher is None:
            from .browser import WebCryptoHasher

            s.hasher = WebCryptoHasher()
        if s.file_ops is None:
            from .browser import MemfsFileOps
            from .browser_loader import PyodideLibraryLoader

            # Libraries compiled as they are written, only for the loader that takes them.
            loader = s.loader if s.loader is not None else PyodideLibraryLoader()
            s.file_ops = MemfsFileOps(compile_libraries=isinstance(loader, PyodideLibraryLoader)
                                      and loader.takes_compiled_modules())
        if s.cache is None and s.use_cache:
            from .browser import CacheStorageWheelCache

            # Where there is no Cache Storage (Node; a page not in a secure context) there is
            # no default cache: one would only hold each body until its write failed.
            if CacheStorageWheelCache.available():
                s.cache = CacheStorageWheelCache()
        if s.distribution_url is None and sys.platform != "emscripten":
            s.distribution_url = ""  # natively there is no runtime to have one
        elif s.distribution_url is None:
            from .browser import distribution_files_url, distribution_lock_url

            s.distribution_url = distribution_lock_url() or ""
            s.distribution_files_url = s.distribution_files_url or distribution_files_url()
        return s

    def read_interpreter(self) -> None:
        """Fill in the target and the scheme from the running interpreter, where unset."""
        if self.target is None:
            self.target = current_target()
        if self.scheme is None:
            self.scheme = installation.default_scheme()

    async def load_distribution(self) -> dict[str, DistributionEntry]:
        """The runtime distribution's wheels (fetched only when resolution needs them)."""
        assert self.transport is not None
        if not self.distribution_url:
            return {}
        return await load_distribution(self.transport, self.distribution_url, self.retry, self.distribution_files_url)

    def library_loader(self) -> LibraryLoader:
        """The loader, created on first need: pure-Python installs never touch it."""
        if self.loader is None:
            from .browser_loader import PyodideLibraryLoader

            self.loader = PyodideLibraryLoader()
        return self.loader

    def emit(self, stage: str, package: str | None = None, done: int | None = None,
             total: int | None = None, message: str = "") -> None:
        emit_all(self.listeners)(ProgressEvent(stage, package, done, total, message))
        if stage in ("done", "error"):
            self.ended = True


@dataclass(frozen=True)
class InstallReport:
    installed: tuple[tuple[str, str], ...]  # (name, version) newly installed
    already: tuple[tuple[str, str], ...]  # satisfied by what was there
    plan: tuple[dict[str, Any], ...] = ()
    dry_run: bool = False
    # what the warning events said: resolution's, yanked files installed, installed
    # distributions a new version breaks, replaced projects the page had imported
    warnings: tuple[str, ...] = ()

    def __str__(self) -> str:
        if self.dry_run:
            new = [p for p in self.plan if not p["already_installed"]]
            have = len(self.plan) - len(new)
            lines = [f"Would install {len(new)} package{'' if len(new) == 1 else 's'}"
                     + (f" ({have} already satisfied)" if have else "") + (":" if new else "")]
            lines += [f"  {p['name']}=={p['version']}  {p['filename']}" for p in new]
            return "\n".join(lines)
        done = ", ".join(f"{n}-{v}" for n, v in self.installed) or "nothing new"
        return f"Installed {done}" + (f" ({len(self.already)} already satisfied)" if self.already else "")

    def __repr__(self) -> str:
        # Short on purpose: a notebook shows this after the reporter already printed str().
        if self.dry_run:
            return f"<InstallReport dry run: {len(self.plan)} packages>"
        return f"<InstallReport installed={len(self.installed)} already={len(self.already)}>"


def _listeners(on_progress: Callable[[Any], None] | None, quiet: bool, function: str) -> list[Listener]:
    """A call's listeners; a TypeError that names ``function`` for an ``on_progress`` that is
    no callable (called, it would fail the install at its first event, as another error)."""
    if on_progress is not None and not callable(on_progress):
        raise TypeError(f"{function}(): on_progress must be a function that takes an event dict, "
                        f"not {type(on_progress).__name__}")
    listeners: list[Listener] = [] if quiet else [TextReporter()]
    if on_progress is not None:
        listeners.append(lambda event: on_progress(event.as_dict()))
    return listeners


@contextlib.contextmanager
def _told_if_refused(session: Session | None, listeners: Sequence[Listener]) -> Iterator[None]:
    """A call's steps before its first (its arguments' checks, its session's seams): a failure
    of them (an argument of the wrong type, a seam this interpreter lacks) is told as one
    "error" event, as a later failure is. Its arguments' TypeError says what was wrong, as our
    errors do."""
    try:
        yield
    except BaseException as exc:
        message = str(exc) if isinstance(exc, (PyemscriptenError, TypeError)) else _error_line(exc)
        emit_all([*(session.listeners if session else ()), *listeners])(ProgressEvent("error", message=message))
        raise


def installed_map(scheme: installation.Scheme) -> Mapping[str, InstalledDist]:
    """What site-packages holds, with dependencies, read from ``*.dist-info``."""
    return _InstalledMap(scheme)


class _InstalledMap(Mapping[str, InstalledDist]):
    """The distributions in site-packages by name; each one's METADATA is parsed, with its
    dependencies, when its name is first looked up. Resolution looks up the projects it
    meets, and a runtime can hold dozens of others: parsing every Requires-Dist of all of
    them cost each install ~0.1 ms a requirement in Pyodide, for nothing."""

    def __init__(self, scheme: installation.Scheme, found: Sequence[installation.InstalledDist] | None = None) -> None:
        """``found``: what ``installation.installed_distributions(scheme)`` gave, where the
        caller has read it already."""
        self._paths: dict[str, list[str]] = {}  # name -> its dist-info folders, in installed_distributions' order
        for dist in installation.installed_distributions(scheme) if found is None else found:
            self._paths.setdefault(dist.name, []).append(dist.path)
        self._read: dict[str, tuple[InstalledDist, str] | None] = {}  # with the folder it was read from

    def __getitem__(self, name: str) -> InstalledDist:
        found = self._found(name)
        if found is None:
            raise KeyError(name)
        return found[0]

    def _found(self, name: str) -> tuple[InstalledDist, str] | None:
        if name not in self._read:
            self._read[name] = self._parse(name)
        return self._read[name]

    def _parse(self, name: str) -> tuple[InstalledDist, str] | None:
        found = None
        for path in self._paths.get(name, ()):  # of two folders for one name, the last readable one
            metadata_path = Path(path) / "METADATA"
            try:
                meta = parse_metadata(metadata_path.read_bytes(), name, str(metadata_path), installed=True)
            except (OSError, PyemscriptenError):
                continue  # a broken dist-info does not satisfy anything; it can be reinstalled
            if meta.name == name:  # the name installed_distributions read from the same file
                found = InstalledDist(meta.name, meta.version, meta.requires_dist, meta.provides_extra), path
        return found

    def folder(self, name: str) -> str | None:
        """The ``*.dist-info`` folder that stands for ``name``: the one whose METADATA gives
        ``self[name]``; where none reads, the last (None: no folder)."""
        found = self._found(name)
        if found is not None:
            return found[1]
        folders = self._paths.get(name)
        return folders[-1] if folders else None

    def __iter__(self) -> Iterator[str]:
        return (name for name in self._paths if name in self)

    def folders(self, name: str) -> list[str]:
        """The ``*.dist-info`` folders of ``name`` (no METADATA is parsed)."""
        return list(self._paths.get(name, ()))

    def __len__(self) -> int:
        return sum(1 for _ in self)


async def install(
    requirements: str | Sequence[str],
    index_urls: Sequence[str] | str | None = None,
    *,
    constraints: Sequence[str] = (),
    pre: bool = False,
    deps: bool = True,
    reinstall: bool = False,
    dry_run: bool = False,
    keep_going: bool = False,
    allow_unhashed: bool = False,
    quiet: bool = False,
    on_progress: Callable[[Any], None] | None = None,
    session: Session | None = None,
) -> InstallReport:
    """Resolve ``requirements`` for this runtime, then download, verify and install them.

    ``index_urls`` are simple-index base URLs (default ``https://pypi.org/simple/``); a
    project is taken from the first index that has it. Raises a
    :class:`~pyemscripten.errors.PyemscriptenError` subclass (a ``TypeError`` for an argument
    of the wrong type); on any failure site-packages is left as it was, and ``on_progress``
    gets one ``error`` event (``done`` only on success).
    """
    listeners = _listeners(on_progress, quiet, "install")
    with _told_if_refused(session, listeners):
        requirements = _strings(requirements, "install", "requirements")
        index_urls = _strings(index_urls, "install", "index_urls") if index_urls is not None else None
        constraints = _strings(constraints, "install", "constraints")
        s = (session or Session()).resolved(listeners, interpreter=False)
    assert s.transport
    client = IndexClient(s.transport, list(index_urls or [DEFAULT_INDEX_URL]), s.retry)
    turn = _Turn()
    try:
        # The root projects' pages need neither target nor scheme: their requests leave
        # now, while those are read from the interpreter.
        client.prefetch_pages(_root_names(requirements))
        if s.cache is not None and not dry_run:
            try:
                s.cache.prepare()  # the cache's entry list: Cache Storage opens in that time too
            except Exception as exc:  # noqa: BLE001 - a cache never fails an install (its get() is tried all the same)
                s.emit("warning", message=f"the wheel cache could not get ready ({type(exc).__name__}: {exc})")
        # After another install of this page, if one is under way (no wait if none is). Its
        # place in line is taken here, in this call's first step: taken after the yield
        # below, an install_lock() started just after this install (its first step takes
        # its place) went first, and this install then ran over what the lock installed.
        await turn.take(s)
        # The pages' requests were made by the tasks' first steps (seams.start_task), and
        # in a page a request leaves once the browser task that made it is over
        # (browser._FETCH_JS starts it from a microtask): this yield ends that task before
        # the interpreter is read.
        await asyncio.sleep(0)
        s.read_interpreter()
        assert s.target and s.scheme
        options = ResolveOptions(pre=pre, constraints=tuple(constraints), deps=deps, reinstall=reinstall,
                                 keep_going=keep_going, kept=_kept(s.scheme))
        data = KnownData()
        # guessed wheels are written into it as they arrive; a wheel named by its URL gets a
        # direct_url.json (PEP 610)
        staging = installation.Staging(s.scheme, ops=s.file_ops,
                                       direct_urls=_direct_urls(requirements, s.target, allow_unhashed))
        wheels = _wheel_tasks(s, data.wheel_bodies, allow_unhashed, guessing=not dry_run, staging=staging)
        s.emit("resolving", message=f"Resolving {redact_text(', '.join(requirements))}")
        installed = _InstalledMap(s.scheme)  # (its folders: for REQUESTED below)
        try:
            resolution = await resolve(list(requirements), s.target, client, installed, options,
                                       data, on_page=lambda name: s.emit("resolving", name),
                                       distribution=s.load_distribution if s.distribution_url else None,
                                       on_candidate=wheels.guess, metadata_from_download=wheels.metadata_of_guess,
                                       on_walk=lambda name: s.emit("resolving", message=walk_line(name)))
            for note in resolution.warnings:
                s.emit("warning", message=note)
            s.emit("resolved", done=len(resolution.to_install), total=len(resolution.dists),
                   message=_plan_line(resolution))
            if dry_run:
                todo = resolution.to_install
                current = _InstalledMap(s.scheme)
                broken = _broken_dependents(s, todo, current, _replaced(todo, current))  # as the install would say
                report = InstallReport((), _already(resolution), tuple(resolution.plan()), True,
                                       resolution.warnings + tuple(broken))
            else:
                report = await install_resolved(s, resolution, allow_unhashed=allow_unhashed, wheels=wheels,
                                                staging=staging)
                # a dependency installed before, asked for by name now
                installation.mark_requested(folder for d in resolution.dists if d.installed and d.requested
                                            for folder in installed.folders(d.name))
        finally:
            await wheels.cancel_unused()
            staging.abort()  # what unused guesses wrote (a no-op once committed)
            if s.file_ops is not None:
                s.file_ops.release()  # libraries compiled as written that nothing loaded
    except BaseException as exc:
        s.emit("error", message=_error_line(exc, s.committed))
        raise
    finally:
        client.drop_prefetched()
        turn.give_back()
    s.emit("done", message=str(report))
    return report


def _direct_urls(requirements: Sequence[str], target: Target, allow_unhashed: bool) -> dict[str, dict[str, Any]]:
    """PEP 610's record of each wheel named by its URL (``name @ URL`` or the URL alone).
    Raises :class:`MissingHashError` for one without a hash, unless allowed: before anything
    is fetched."""
    direct = [(d.name, d.file) for d in for_target(requirements, target) if d.file is not None]
    for name, file in direct:
        if not allow_unhashed and strongest_hash(dict(file.hashes)) is None:
            raise MissingHashError(name, file.filename, file.url)
    return {name: {"url": file.url, "archive_info": {"hashes": dict(file.hashes)} if file.hashes else {}}
            for name, file in direct}


def _root_names(requirements: Sequence[str]) -> list[str]:
    """The projects whose pages resolution will fetch first, whatever the target: the
    requirements without markers or URLs (the others, and unparseable ones, are left to
    resolution)."""
    names = []
    for text in requirements:
        if names_a_file(text):
            continue  # a file's name or URL, not a project's (candidates.Dependency.parse says so)
        try:
            requirement = Requirement(text)
        except InvalidRequirement:
            continue
        if requirement.marker is None and not requirement.url:
            names.append(requirement.name)
    return names


def _already(resolution: Resolution) -> tuple[tuple[str, str], ...]:
    return tuple((d.name, str(d.version)) for d in resolution.dists if d.installed)


def _plan_line(resolution: Resolution) -> str:
    todo = resolution.to_install
    size = sum(d.file.size or 0 for d in todo if d.file)
    names = ", ".join(f"{d.name}=={d.version}" for d in todo) or "nothing"
    # The wheels' size, not what the network gives: the cache may hold some.
    return f"Resolved: {names}" + (f" ({size_text(size)} of wheels)" if size else "")


def _wheel_tasks(s: Session, prefetched: Mapping[str, bytes] | None, allow_unhashed: bool,
                 guessing: bool = False, staging: installation.Staging | None = None) -> WheelTasks:
    assert s.transport is not None and s.hasher is not None  # a resolved session
    return WheelTasks(s.transport, retry=s.retry, hasher=s.hasher, cache=s.cache, emit=s.emit,
                      prefetched=prefetched, allow_unhashed=allow_unhashed, guessing=guessing,
                      prestage=staging.prestage if staging is not None else None)


async def install_resolved(
    s: Session,
    resolution: Resolution,
    prefetched: Mapping[str, bytes] | None = None,
    allow_unhashed: bool = False,
    wheels: WheelTasks | None = None,
    staging: installation.Staging | None = None,
) -> InstallReport:
    """Download, verify, unpack and commit a resolution; then load its libraries.

    ``wheels``: tasks already under way (see :class:`WheelTasks`), writing into ``staging``;
    default: none.
    """
    assert s.transport and s.scheme and s.target
    todo = resolution.to_install
    installed = _InstalledMap(s.scheme)
    replaced = _replaced(todo, installed)
    warnings = list(yanked_notes(todo, "Installing"))
    for warning in warnings:
        s.emit("warning", message=warning)
    warnings += _broken_dependents(s, todo, installed, replaced)
    imported = _imported(installed, replaced)

    def cache_warning(note: str) -> None:
        # Known before the install ends (a cache that stores at once): one of its warnings.
        # Known only after it (the browser's writes run once it is done): listeners take
        # "done" as the end (a progress bar closes, the next install's events begin), so
        # it is a "cache-warning", the one event documented to come after "done".
        if s.ended:
            s.emit("cache-warning", message=note)
        else:
            s.emit("warning", message=note)
            warnings.append(note)

    assert wheels is None or staging is not None, "tasks under way write into their own staging"
    staging = staging or installation.Staging(s.scheme, ops=s.file_ops)
    wheels = wheels or _wheel_tasks(s, prefetched, allow_unhashed, staging=staging)
    await wheels.resolved()
    planned = {d.file.url for d in todo if d.file is not None}
    wheels.keep_only(planned)
    requested = {d.name for d in todo if d.requested}
    staging.request(requested)

    async def staged(dist: ResolvedDist) -> UnpackedWheel:
        assert dist.file is not None
        try:
            fetched = await wheels.get(dist)
        except IndexHTTPError as exc:
            # Not there (a transient failure, or a hash or size mismatch, stays as it is).
            why = resolution.from_distribution.get(dist.file.url)
            if why is None or exc.status not in (404, 410):
                raise
            raise DistributionFileError(dist.name, str(dist.version), why, s.distribution_url,
                                        f"HTTP {exc.status} for {dist.file.url}",
                                        list(resolution.needed_by.get(dist.name, ()))) from exc
        wheel = with_origin(fetched, dist.file)
        assert s.target is not None
        check_requires_python(wheel, s.target)  # resolution passed over such versions; a lock did not
        for note in wheel.notes:
            note = f"{wheel.filename}: {note}"
            s.emit("warning", dist.name, message=note)
            warnings.append(note)
        staging.add(wheel, key=dist.file.url)  # its files are written while other wheels still download
        return wheel

    try:
        if any(d.file is not None and not d.file.filename.endswith("-any.whl") for d in todo):
            # Platform wheels usually bring libraries: what their load can do before the
            # files are in is done while they download (and before the members held so far
            # are written: their libraries are instantiated early too).
            await s.library_loader().prepare()
        staging.write_early(planned)  # resolution is over: downloads write their members as they arrive
        unpacked = await gather_all([staged(d) for d in todo])
        warnings += await commit_and_load(s, unpacked, requested, staging=staging)
        # The runtime's loader is told what is installed now, and from where (the runtime's
        # distribution is its "default channel").
        told = _tell_runtime(s.scheme, {
            w.name: (w.display_name, "default channel" if d.file.url in resolution.from_distribution
                     else redact_url(d.file.url)) for d, w in zip(todo, unpacked) if d.file is not None})
        if told:
            s.emit("warning", message=told)
    finally:
        staging.abort()  # a no-op once committed
        if s.file_ops is not None:
            s.file_ops.release()
        if s.cache is not None:
            # The checked wheels are written to the cache now that the install has done
            # its work (also after a failure: they passed every check); it returns without
            # waiting for the writes. wait_for_cache() does. What the storage quota left out
            # is told to this install's listeners then (see cache_warning).
            flush_cache_later(s.cache, cache_warning)
        if s.loader is not None:
            s.loader.release()  # what prepare() took that no load used
    for name, modules in imported.items():
        old_version, new_version = replaced[name]
        note = (f"{name} {old_version} was replaced by {new_version}, but this page had imported "
                f"{listed(sorted(modules), 3)}: what it imported stays in use until the page is reloaded")
        s.emit("warning", message=note)
        warnings.append(note)
    return InstallReport(tuple((d.name, str(d.version)) for d in todo), _already(resolution),
                         warnings=resolution.warnings + tuple(warnings))


# What this installer runs on in the page: a new version's files under its imported modules
# would break its next import (packaging.licenses of 26 is not in 22).
_RUNS_ON = ("pyemscripten", "packaging", "resolvelib")


def _tell_runtime(scheme: installation.Scheme, installed: Mapping[str, tuple[str, str]],
                  removed: Sequence[str] = ()) -> str | None:
    """Tell the runtime's package loader what changed in its site-packages (see
    :func:`~pyemscripten.browser.tell_package_loader`; another scheme is none of its
    business). What is installed stays installed if that fails: the failure is returned, for
    a warning."""
    if os.path.normpath(scheme.purelib) != os.path.normpath(installation.default_scheme().purelib):
        return None
    from .browser import tell_package_loader

    try:
        tell_package_loader(installed, removed)
    except Exception as exc:  # noqa: BLE001 - the install is done; only pyodide.loadPackage is uninformed
        return (f"pyodide.loadedPackages could not be updated ({type(exc).__name__}: {exc}): "
                "pyodide.loadPackage may install its own copy of these packages over them")
    return None


def _replaced(todo: Sequence[ResolvedDist], installed: Mapping[str, InstalledDist]) -> dict[str, tuple[Version, Version]]:
    """The installed projects ``todo`` gives another version, with (old, new) each."""
    return {d.name: (installed[d.name].version, d.version) for d in todo
            if d.name in installed and installed[d.name].version != d.version}


def _kept(scheme: installation.Scheme) -> frozenset[str]:
    """Those of :data:`_RUNS_ON` whose imported modules come from ``scheme``'s site-packages:
    installing into it must not replace them."""
    libs = [os.path.realpath(lib) + os.sep for lib in (scheme.purelib, scheme.platlib)]
    kept = set()
    for name in _RUNS_ON:
        path = getattr(sys.modules.get(name), "__file__", None)
        if path and any(os.path.realpath(path).startswith(lib) for lib in libs):
            kept.add(name)
    return frozenset(kept)


def _broken_dependents(s: Session, todo: Sequence[ResolvedDist], installed: _InstalledMap,
                       replaced: Mapping[str, tuple[Version, Version]]) -> list[str]:
    """For an install that changes the version of installed projects: refuses to change what
    this installer runs on; returns a warning for each installed distribution whose
    requirements the new versions do not meet (as pip warns after the fact; resolution only
    sees the installed projects it meets). Told as ``warning`` events too."""
    if not replaced:
        return []
    assert s.scheme is not None
    kept = _kept(s.scheme)  # resolution keeps them (ResolveOptions.kept); a lock may name others
    for name, (old, new) in replaced.items():
        if name in kept:
            raise InstallError(name, f"{name} {old} is what pyemscripten itself runs on in this page (its modules "
                                     f"are imported from there), so it cannot be replaced by {new} here: make the "
                                     f"lock with {name}=={old} (lock -c '{name}=={old}'), or install {name} {new} in "
                                     "a page of its own")
    assert s.target is not None
    new_versions = {d.name: d.version for d in todo}
    environment = {**s.target.marker_environment, "extra": ""}
    notes = []
    for name in installed:
        if name in new_versions:
            continue
        dist = installed[name]
        for req in dist.requires:
            other = canonicalize_name(req.name)
            if other not in replaced or (req.marker is not None and not req.marker.evaluate(environment)):
                continue
            if not req.specifier.contains(new_versions[other], prereleases=True):
                notes.append(f"{dist.name} {dist.version} (installed) requires {req}, but {other} "
                             f"{new_versions[other]} is being installed: {dist.name} may not work. To get versions "
                             f"that fit together, install both at once ({dist.name!r} and "
                             f"'{other}=={new_versions[other]}')")
    for note in notes:
        s.emit("warning", message=note)
    return notes


def _imported(installed: _InstalledMap, replaced: Mapping[str, tuple[Version, Version]]) -> dict[str, set[str]]:
    """The replaced projects whose modules this interpreter has imported, with those modules:
    the page keeps running the old code."""
    found = {}
    for name in replaced:
        paths = set().union(*(installation.recorded_paths(folder) for folder in installed.folders(name)))
        files = ((m, getattr(module, "__file__", None)) for m, module in list(sys.modules.items()))
        modules = {m for m, file in files if isinstance(file, str) and os.path.normpath(file) in paths}
        if modules:
            found[name] = modules
    return found


async def commit_and_load(s: Session, wheels: Sequence[UnpackedWheel], requested: set[str],
                          direct_urls: Mapping[str, dict[str, Any]] | None = None,
                          staging: installation.Staging | None = None) -> tuple[str, ...]:
    """Commit ``wheels`` in one transaction, then load their shared libraries (or roll back).
    Returns the warnings the commit told (files of other distributions it overwrote).

    ``staging``: where ``wheels`` were already staged (default: stage them now).
    """
    assert s.scheme and s.target
    if not wheels:
        return ()
    s.emit("installing", message=f"Installing {len(wheels)} package{'' if len(wheels) == 1 else 's'}")
    if staging is None:
        transaction = installation.install(wheels, s.scheme, requested=requested, direct_urls=direct_urls or {},
                                           ops=s.file_ops)
    else:
        transaction = staging.commit()
    try:
        plan = library_plan(s, wheels)
        if plan:
            s.emit("loading", done=0, total=len(plan), message=f"Loading {len(plan)} shared librar{'y' if len(plan) == 1 else 'ies'}")
            loader = s.library_loader()
            try:
                loading = loader.load(plan, on_loaded=lambda n: s.emit(
                    "loading", plan[n - 1].project, done=n, total=len(plan),
                    message=f"Loaded {posixpath.basename(plan[n - 1].path)}"))
            except TypeError as exc:
                # A loader of the caller's, written before the progress existed: the call itself
                # refused the keyword (no frame of load() in the traceback). A TypeError from
                # inside load() goes on up.
                if "on_loaded" not in str(exc) or exc.__traceback__ is None or exc.__traceback__.tb_next is not None:
                    raise
                loading = loader.load(plan)
            await loading
    except BaseException:
        transaction.rollback()
        raise
    transaction.finish()
    s.committed = True
    importlib.invalidate_caches()
    for note in transaction.notes:  # once it stands (a load that fails rolls the files back)
        s.emit("warning", message=note)
    return transaction.notes


def library_plan(s: Session, wheels: Sequence[UnpackedWheel]) -> list[LibraryToLoad]:
    """Every side module the wheels brought, and what they need, in load order."""
    assert s.scheme and s.target
    modules = []
    for w in wheels:
        root, folders = s.scheme.purelib if w.root_is_purelib else s.scheme.platlib, _library_folders(s.scheme, w)
        modules += [(posixpath.join(folders.get(rel, root), rel), w.name) for rel in w.shared_libraries]
    major, minor = s.target.python_major_minor  # the target's suffixes (the page's own EXTENSION_SUFFIXES)
    suffixes = (f".cpython-{major}{minor}-wasm32-emscripten.so", ".abi3.so", ".so")
    skipped = set(libraries.other_interpreters_modules(modules, suffixes))
    modules = [m for m in modules if m not in skipped]  # never imported: not loaded, as Pyodide's loader does
    if not modules:
        return []
    fs = libraries.OSFileSystem()
    foreign = libraries.foreign_modules(modules, fs)
    for path, project in foreign:
        s.emit("warning", message=f"Not loading {path} ({project}): it is not a WebAssembly module "
                                  "(a library built for another platform); importing it will fail")
    modules = [m for m in modules if m not in foreign]
    loader = s.library_loader()
    loaded = loader.loaded()
    for path, project in libraries.loaded_before(modules, loaded):
        s.emit("warning", message=f"{path} ({project}) was loaded in this page before, and the page keeps "
                                  "that copy (a library cannot be unloaded): reload the page to use the one "
                                  "just installed")
    return libraries.plan_loads(
        modules, fs, loaded, loader.system_dirs(),
        rpath_supported=s.target.platform.version != "2024_0", site_packages=s.scheme.purelib,
    ) if modules else []


def _library_folders(scheme: installation.Scheme, wheel: UnpackedWheel) -> Mapping[str, str]:
    """The folder each of ``wheel``'s shared libraries is installed in, by its path, where
    purelib and platlib differ (a ``.data/platlib`` file of a purelib wheel is not in the
    root's folder); empty where they are one folder (Pyodide's): the root's, for all."""
    if scheme.purelib == scheme.platlib:
        return {}
    libraries_ = set(wheel.shared_libraries)
    return {rel: scheme.directory(key) for key, rel, _ in wheel.files if rel in libraries_}


# --- lock files ----------------------------------------------------------------------


async def install_lock(
    lock: str | os.PathLike[str],
    *,
    extras: str | Sequence[str] = (),
    groups: str | Sequence[str] | None = None,
    quiet: bool = False,
    on_progress: Callable[[Any], None] | None = None,
    session: Session | None = None,
) -> InstallReport:
    """Install exactly the wheels a PEP 751 ``pylock.toml`` names: no resolution.

    ``lock`` is the lock's text or its URL (relative URLs are taken relative to the page;
    outside a browser, where there is none, only http(s) URLs), or the path of a file
    (``pathlib.Path``) in the runtime's file system. ``extras`` and
    ``groups``: which of the lock's extras and dependency groups to install (default: no
    extras, the lock's ``default-groups``). Every wheel's hash (and size, when given) is
    checked. Each package it installs gets a ``REQUESTED`` file: a lock does not record which
    packages were asked for (PEP 751 has no such field), and each is named in it, as each line
    of ``pip install -r`` with a fully pinned list is requested. Raises
    :class:`~pyemscripten.errors.LockError` for a lock made for another platform, and the
    download/install errors of :func:`install`.
    """
    listeners = _listeners(on_progress, quiet, "install_lock")
    with _told_if_refused(session, listeners):
        if not isinstance(lock, (str, os.PathLike)):
            raise TypeError(f"install_lock(): lock must be the lock's URL, its text or a path, not {type(lock).__name__}")
        extras = _strings(extras, "install_lock", "extras")
        groups = _strings(groups, "install_lock", "groups") if groups is not None else None
        s = (session or Session()).resolved(listeners)
    assert s.target and s.transport and s.scheme
    turn = _Turn()
    try:
        await turn.take(s)  # after another install of this page, if one is under way
        text, lock_url, source = await _lock_text(s, lock)
        told: list[str] = []
        locked = load_lock(text, s.target, lock_url=lock_url, source=source, warn=told.append,
                           extras=extras, groups=groups)
        # What stands at the locked version is not installed again, and keeps its REQUESTED or
        # its lack of one (as pip leaves an already satisfied line of a requirements file).
        installed = _InstalledMap(s.scheme)
        # What the installer runs on stays as it is (a lock frozen with another npm package's
        # pyemscripten or packaging): said, not installed over it.
        kept = _kept(s.scheme)
        held = [w for w in locked if w.name in kept and w.name in installed and installed[w.name].version != w.version]
        notes = tuple(told) + tuple(f"The lock names {w.name} {w.version}; this page keeps {w.name} "
                                    f"{installed[w.name].version}, which pyemscripten itself runs on" for w in held)
        for note in notes:
            s.emit("warning", message=note)
        # Those installed at the locked version already stand with no file (as in a resolution).
        dists = tuple(ResolvedDist(w.name, w.version, w.file if installed.get(w.name) is None
                                   or installed[w.name].version != w.version else None, True)
                      for w in locked if w not in held)
        todo = [d for d in dists if d.file is not None]
        s.emit("resolved", done=len(todo), total=len(locked),
               message=f"Lock file: {len(todo)} of {len(locked)} packages to install")
        report = await install_resolved(s, Resolution(dists, 0, left_out=notes))
    except BaseException as exc:
        s.emit("error", message=_error_line(exc, s.committed))
        raise
    finally:
        turn.give_back()
    s.emit("done", message=str(report))
    return report


def _bare_name(text: str) -> str:
    """The project name a requirement's text begins with (``requests==2.31`` -> ``requests``)."""
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", text)
    return match.group(1).rstrip("._-") if match else text


def _error_line(exc: BaseException, committed: bool = False) -> str:
    """The "error" event's message for what ended an install: our error's own message, or,
    for a cancellation or a bug, which it was (a progress display still sees the end), and
    whether the packages were installed before it."""
    if isinstance(exc, PyemscriptenError):
        return str(exc)
    if committed:
        return f"Install stopped ({type(exc).__name__}) after its packages were installed: they stay installed"
    return f"Install stopped ({type(exc).__name__}); site-packages is as it was"


class _Turn:
    """One install of an event loop at a time: two at once would commit over each other's
    files, and a rollback of one (a library that fails to load) would take away what the
    other had installed. An install that has to wait says so (a ``resolving`` event), and
    :func:`uninstall` refuses while one is under way."""

    _locks: dict[asyncio.AbstractEventLoop, asyncio.Lock] = {}  # each loop's
    # Each loop's installs that hold its turn or wait for it: the lock alone shows none
    # between a release and the next waiter's waking, when a newcomer still waits.
    _queued: dict[asyncio.AbstractEventLoop, int] = {}

    def __init__(self) -> None:
        self.lock: asyncio.Lock | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.held: _HeldTurn | None = None  # the install_turn() block this install took its place in

    @classmethod
    def under_way(cls) -> bool:
        """Whether an install holds its turn, or waits for it, in a loop that still runs."""
        return any(count and not loop.is_closed() for loop, count in list(cls._queued.items()))

    async def take(self, s: Session) -> None:
        loop = asyncio.get_running_loop()
        held = _HeldTurn.current(loop)
        if held is not None:  # started in an install_turn() block: in its turn, after its other installs
            await held.take(s)
            self.held = held  # (once taken: give_back() then gives it back)
            return
        lock = self._locks.get(loop)
        if lock is None:
            for other in [other for other in self._locks if other.is_closed()]:  # natively, asyncio.run's
                del self._locks[other]
                self._queued.pop(other, None)
            lock = self._locks[loop] = asyncio.Lock()
        queued = self._queued.get(loop, 0)
        if queued:
            s.emit("resolving", message=_WAITING)
        self._queued[loop] = queued + 1
        try:
            await lock.acquire()
        except BaseException:
            self._queued[loop] -= 1
            raise
        self.lock, self.loop = lock, loop

    def give_back(self) -> None:
        if self.held is not None:
            self.held.give_back()
            self.held = None
        elif self.lock is not None and self.loop is not None:
            self._queued[self.loop] -= 1
            self.lock.release()
            self.lock = self.loop = None


_WAITING = "Waiting for the install under way in this page to end"


class _HeldTurn:
    """The page's turn as an ``install_turn()`` block holds it, for the installs started in its
    context: the block's task and the tasks started in it (a task copies its context; so
    ``asyncio.gather(install(a), install(b))`` in the block runs in its turn). They take it
    one after the other (they would commit over each other's files as separate installs
    would); the page's turn is handed on once the block and every one of them have ended:
    an install of a task started in the block and not awaited there runs in the turn if it
    has begun (reached :func:`install`) before the block ends, and waits in line as one from
    elsewhere if not. (A task that an install's progress callback starts is in the
    turn too, and so waits for that install, which holds the block's lock.)"""

    def __init__(self, turn: _Turn) -> None:
        assert turn.loop is not None  # taken
        self.turn, self.loop = turn, turn.loop
        self.lock = asyncio.Lock()  # its installs, one at a time
        self.users = 1  # the block, its nested blocks, and its installs that hold or wait for its lock
        self.queued = 0  # those installs (as _Turn._queued, for the lock's hand-over)

    @staticmethod
    def current(loop: asyncio.AbstractEventLoop) -> _HeldTurn | None:
        """The block whose turn the running code is in: none where its context has none, or
        the one it has is over (a task started in a block may run on after it), or of
        another event loop."""
        held = _HELD_TURN.get()
        return held if held is not None and held.users and held.loop is loop else None

    def join(self) -> None:
        self.users += 1

    async def take(self, s: Session) -> None:
        if self.queued:
            s.emit("resolving", message=_WAITING)
        self.join()
        self.queued += 1
        try:
            await self.lock.acquire()
        except BaseException:
            self.queued -= 1
            self.leave()
            raise

    def give_back(self) -> None:
        self.queued -= 1
        self.lock.release()
        self.leave()

    def leave(self) -> None:
        self.users -= 1
        if not self.users:
            self.turn.give_back()


# The install_turn() block the running code is in (a context variable: tasks started in the
# block copy it).
_HELD_TURN: contextvars.ContextVar[_HeldTurn | None] = contextvars.ContextVar("pyemscripten_install_turn",
                                                                               default=None)


@contextlib.asynccontextmanager
async def install_turn(*, quiet: bool = False, on_progress: Callable[[Any], None] | None = None
                       ) -> AsyncIterator[None]:
    """Hold this page's install turn for several installs: the :func:`install` and
    :func:`install_lock` calls made inside ``async with install_turn():``, by this task or by
    tasks started in the block (``asyncio.gather(install(a), install(b))``), run in it, one
    after the other, and an install started elsewhere in the page waits until the block and
    those installs have ended, as it waits for one install. Each install in the block is
    still its own transaction: when a later one fails, what an earlier one installed stays.
    A block nested in another (or in a task started in one) is in that one's turn.

    Waiting for an install under way is told as for an install (a ``resolving`` event, to
    ``on_progress``; a line unless ``quiet``). :func:`uninstall` refuses while the block runs.
    """
    listeners = _listeners(on_progress, quiet, "install_turn")
    held = _HeldTurn.current(asyncio.get_running_loop())
    if held is not None:  # nested: the outer block's turn, held until this block ends too
        held.join()
        try:
            yield
        finally:
            held.leave()
        return
    turn = _Turn()
    await turn.take(Session(listeners=listeners))
    held = _HeldTurn(turn)
    token = _HELD_TURN.set(held)
    try:
        yield
    finally:
        _HELD_TURN.reset(token)  # this task's later installs are no longer in the turn
        held.leave()


async def _lock_text(s: Session, lock: str | os.PathLike[str]) -> tuple[str, str | None, str]:
    """The lock's text, its URL where it was fetched (its wheels' paths are followed from
    there), and the name its errors give it: the URL, the file's path, or "(text)"."""
    if isinstance(lock, os.PathLike):  # a file of this interpreter's file system (Pyodide's MEMFS)
        path = os.fspath(lock)
        try:
            with open(path, "rb") as file:
                data = file.read()
        except OSError as exc:
            raise LockError(f"cannot read it ({exc.strerror or exc})", path) from None
        return _lock_decoded(data, path), None, path
    if not lock.strip():
        raise LockError("it is empty: give the lock's URL (relative to the page), its text or its path", "(text)")
    # Text has lines or spaces (a URL has neither) or begins as TOML does; a URL may well hold
    # the words "lock-version" in a folder's or a file's name.
    if "\n" in lock or " " in lock.strip() or lock.lstrip().startswith(("lock-version", "#", "[")):
        return lock, None, "(text)"
    page = _page_url()
    url = urljoin(page, lock)
    # Natively and in Node: no page to be relative to. A file: URL is whole without one (Node
    # reads it; a transport that does not says so).
    if not page and not url.lower().startswith(("http://", "https://", "file:")):
        raise LockError(f"it is no http(s) or file: URL, and outside a browser no page URL makes it one: a file is "
                        f"read when given as a path in the interpreter's file system (pathlib.Path({lock!r})), or, "
                        "in Node, as a file: URL", lock)
    response = await get_ok(s.transport, url, project=None, what="lock file", retry=s.retry)  # type: ignore[arg-type]
    assert response is not None
    # Its wheels' relative paths are followed from where it was found: after a redirect, the
    # final URL (PEP 751: relative to the location of the file), as index pages are read.
    return _lock_decoded(response.body, url), response.url or url, url


def _lock_decoded(data: bytes, source: str) -> str:
    """A lock's bytes as text (TOML is UTF-8; a byte-order mark is read past, as tomllib
    would not)."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise LockError("it is UTF-16 text (what `> file` writes in Windows PowerShell), and TOML is UTF-8: save it "
                        "as UTF-8, or write it with the lock command's -o FILE", source)
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError:
        raise LockError("it is not UTF-8 text, as TOML is: save it as UTF-8", source) from None


def _page_url() -> str:
    try:
        from js import location  # the edge: where relative lock URLs are rooted
    except ImportError:
        return ""
    return str(location.href)


async def wait_for_cache(session: Session | None = None) -> None:
    """Wait until the wheels installs handed to the cache are stored (they are written in
    the background once each install is done), e.g. before a test opens a second page that
    should find them. A session's own cache is flushed too (what it still holds queued)."""
    if session is not None and session.cache is not None:
        await flush_cache(session.cache, lambda note: session.emit("warning", message=note))
    # The browser cache's background flushes (an install's flush_later() already took
    # what it had queued, so its flush() alone would not wait for them).
    from .browser import CacheStorageWheelCache

    await CacheStorageWheelCache.settled()


async def clear_cache(session: Session | None = None) -> None:
    """Forget every wheel kept across visits (the session's cache, or the browser's default)."""
    s = session or Session()
    if s.cache is not None:
        await s.cache.clear()
        return
    from .browser import CacheStorageWheelCache

    await CacheStorageWheelCache().clear()


def freeze(session: Session | None = None) -> str:
    """A ``pylock.toml`` of what is installed, for wheels whose origin is known.

    Distributions installed by other means (preloaded by the runtime) have no recorded URL
    and hash; they are listed in a comment at the top instead. What pyemscripten itself runs
    on in the page (pyemscripten, packaging, resolvelib) is left out, as pip freeze leaves out
    pip: whatever boots the installer brings it, and a lock must not pin the installer.
    Each project is locked once, at the version :func:`list_installed` shows; a second
    ``*.dist-info`` of it is named in a comment.

    Outside Pyodide it reads only the site-packages given as ``Session(scheme=...)``, for
    the runtime given as ``Session(target=...)``, and raises
    :class:`~pyemscripten.errors.NoSitePackagesError` without them.
    """
    s = session or Session()
    if s.target is None and sys.platform != "emscripten":  # no runtime here to say what the lock is for
        raise NoSitePackagesError("freeze", sys.platform, "target")  # (its message names scheme= too)
    scheme = _site_packages(s, "freeze")
    target = s.target or current_target()
    wheels, unknown, runs_on, shadowed = [], [], [], []
    own = _kept(scheme)
    found = installation.installed_distributions(scheme)
    # One folder per project, the one list_installed() reads (the last readable one; where
    # none reads, the last): a stale *.dist-info beside it (another installer's, or one an
    # interrupted install left) is no second version, and a lock listing a project twice
    # does not read back.
    installed = _InstalledMap(scheme, found)
    for dist in found:
        if dist.path != installed.folder(dist.name):
            shadowed.append(f"{dist.name}=={dist.version}")
            continue
        if dist.name in own:  # what the installer runs on: the page that boots it brings it (as pip freeze leaves out pip)
            runs_on.append(f"{dist.name}=={dist.version}")
            continue
        origin_path = Path(dist.path) / ORIGIN_FILE
        try:
            origin = json.loads(origin_path.read_text())
            file = IndexFile(origin["filename"], origin["url"], tuple(sorted(origin["hashes"].items())),
                             size=origin.get("size"))
            # A folder without a METADATA that reads has its name's version, which may be
            # none (InvalidVersion, a ValueError): nothing to pin it by either.
            version = Version(dist.version)
        except (OSError, ValueError, KeyError, AttributeError):
            unknown.append(f"{dist.name}=={dist.version}")
            continue
        if strongest_hash(dict(file.hashes)) is None:  # installed with allow_unhashed: nothing to pin it by
            unknown.append(f"{dist.name}=={dist.version}")
            continue
        wheels.append(LockedWheel(dist.name, version, file))
    header = (f"# Not locked (origin or hash unknown, e.g. preloaded): {', '.join(sorted(unknown))}\n"
              if unknown else "")
    if runs_on:
        header += f"# Not locked (what pyemscripten itself runs on, brought by what boots it): {', '.join(runs_on)}\n"
    if shadowed:
        header += ("# Not locked (a second *.dist-info of a project, beside the one installed; remove it by hand): "
                   f"{', '.join(shadowed)}\n")
    return header + dump_lock(wheels, target)


# --- what is installed ---------------------------------------------------------------


def list_installed(session: Session | None = None) -> dict[str, str]:
    """Installed distributions as ``{name: version}`` (from the file system's dist-info).

    Outside Pyodide it reads only the site-packages given as ``Session(scheme=...)``, and
    raises :class:`~pyemscripten.errors.NoSitePackagesError` without one."""
    scheme = _site_packages(session or Session(), "list_installed")
    return {d.name: str(d.version) for d in sorted(installed_map(scheme).values(), key=lambda d: d.name)}


def _site_packages(session: Session, function: str) -> installation.Scheme:
    """The session's scheme, or the runtime's own in Pyodide. Natively the default would be
    this interpreter's site-packages, the host's (pip's packages, pytest's, mypy's): listing
    or freezing those as what pyemscripten installed misleads, as uninstall refuses to
    remove them (it keeps its own UninstallError, which its callers catch)."""
    if session.scheme is not None:
        return session.scheme
    if sys.platform != "emscripten":
        raise NoSitePackagesError(function, sys.platform)
    return installation.default_scheme()


def _strings(value: object, function: str, parameter: str) -> list[str]:
    """``value`` as a list of strings (one string is one item), or a TypeError that names
    the parameter, before anything starts (as the JavaScript module checks its options)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, Iterable) and not isinstance(value, (bytes, bytearray, Mapping)):
        items = list(value)  # a list, a tuple, a set, a generator, a JavaScript array's proxy
        if all(isinstance(item, str) for item in items):
            return items
        odd = ", ".join(sorted({type(item).__name__ for item in items if not isinstance(item, str)}))
        raise TypeError(f"{function}(): {parameter} must be a string or a list of strings, not a "
                        f"{type(value).__name__} holding {odd}")
    raise TypeError(f"{function}(): {parameter} must be a string or a list of strings, not {type(value).__name__}")


def uninstall(names: str | Sequence[str], session: Session | None = None) -> list[str]:
    """Remove distributions by name; returns the names removed.

    Raises :class:`~pyemscripten.errors.NotInstalledError` for a name that is not installed,
    and :class:`~pyemscripten.errors.UninstallError` for what pyemscripten runs on in the page,
    for a requirement or file given instead of a name, and while an install is under way,
    before anything is removed; :class:`~pyemscripten.errors.UninstallError` when a removal is
    refused or fails (that distribution is left whole; those before it stay removed).
    """
    names = _strings(names, "uninstall", "names")
    scheme = session.scheme if session and session.scheme else None
    if scheme is None:
        if sys.platform != "emscripten":  # the default scheme would be this interpreter's own site-packages
            raise UninstallError(", ".join(names), f"this interpreter runs on {sys.platform!r}, not emscripten: "
                                                   "uninstall removes packages from Pyodide's site-packages in a "
                                                   "browser, and here it would remove this interpreter's own; give "
                                                   "Session(scheme=...) to say where to uninstall from; nothing was "
                                                   "removed")
        scheme = installation.default_scheme()
    wanted: list[str] = []
    for text in names:
        if not text.strip():
            raise UninstallError("(none)", "uninstall takes project names, and an empty one was given; "
                                           "nothing was removed")
        try:
            wanted.append(canonicalize_name(text, validate=True))  # PEP 508's names
        except InvalidName:
            raise UninstallError(text, "uninstall takes project names, not requirements or files: "
                                       f"uninstall({_bare_name(text)!r}); nothing was removed") from None
    if _Turn.under_way():
        raise UninstallError(", ".join(names), "an install is under way in this page: uninstall once it has "
                                               "ended (await it first); nothing was removed")
    wanted = list(dict.fromkeys(wanted))
    found = installation.installed_distributions(scheme)  # one scan for all the names
    present = {d.name for d in found}
    kept = _kept(scheme)
    for name in wanted:
        if name not in present:
            raise NotInstalledError(name, tuple(difflib.get_close_matches(name, sorted(present), n=2)))
        if name in kept:
            raise UninstallError(name, "pyemscripten itself runs on it in this page (its modules are imported from "
                                       "there), and would fail at its next import without it; nothing was removed")
    done: list[str] = []
    try:
        for name in wanted:
            installation.uninstall(name, scheme, found=found)
            done.append(name)
    except UninstallError as exc:
        if done:  # say what this call did remove
            raise UninstallError(exc.project, f"{exc.reason}; uninstalled before it, and still removed: "
                                              f"{', '.join(done)}") from exc
        raise
    finally:
        importlib.invalidate_caches()
        if done:
            _tell_runtime(scheme, {}, removed=done)  # pyodide.loadPackage may install them again
    return wanted

