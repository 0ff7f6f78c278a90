"""Native commands for browser targets: lock requirements, and index your own wheels.

``python -m pyemscripten lock REQUIREMENT... -o pylock.toml``, and
``python -m pyemscripten index WHEEL... -o FOLDER``.

``lock`` resolves on an ordinary machine for a browser target (the same resolver the browser
runs) and writes a PEP 751 lock with wheel URLs and hashes. ``index`` makes a folder of your
own wheels a package index that any static file server can serve (:mod:`.index_writer`).
"""

from __future__ import annotations

import argparse
import asyncio
import codecs
import dataclasses
import hashlib
import os
import re
import shlex
import sys
import time
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO
from urllib.parse import quote, urlsplit

from packaging.tags import Tag
from packaging.utils import parse_wheel_filename

from . import __version__
from .candidates import USER, Dependency
from .credentials import is_file_url, lower_scheme, strip_credentials
from .distribution import DistributionEntry
from .downloads import WheelRequest, fetch_wheel, verify, wrong_sha256_notes
from .errors import (
    LockError,
    MultipleNoCompatibleWheelsError,
    NoCompatibleWheelError,
    ProjectNotFoundError,
    PyemscriptenError,
    ResolutionImpossibleError,
    InvalidRequirementError,
    UnsupportedRuntimeError,
    redact_location,
    shown,
)
from .index_client import DEFAULT_INDEX_URL, IndexClient, RetryPolicy, load_distribution
from .index_writer import write_index
from .locks import LockedWheel, check_pinned, dump_lock, path_in_lock
from .native import UrllibTransport, url_problem, write_file_whole
from .progress import size_text
from .resolution import ResolveOptions, resolve, walk_line, yanked_notes
from .target import PlatformTag, Target, runtime_python, unknown_python


def _parser() -> argparse.ArgumentParser:
    # The console script (pip's `pyemscripten`), or `python -m pyemscripten`, as it was run.
    prog = "pyemscripten" if os.path.basename(sys.argv[0]) == "pyemscripten" else "python -m pyemscripten"
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n")[0])
    parser.add_argument("--version", action="version", version=f"pyemscripten {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    lock = commands.add_parser("lock", help="resolve for a browser target and write pylock.toml")
    lock.add_argument("requirements", nargs="*", metavar="REQUIREMENT", help="PEP 508 requirement")
    lock.add_argument("-r", "--requirement", action="append", default=[], dest="requirement_files", metavar="FILE",
                      type=_path,
                      help="take the requirements of FILE, one per line (repeatable; # comments, and -r and -c "
                           "lines naming other files, as pip reads them)")
    lock.add_argument("--index-url", action="append", dest="index_urls", metavar="URL", type=_index_url,
                      help=f"simple index base URL (repeatable; first index that has a project wins; default "
                           f"{DEFAULT_INDEX_URL}); with --wheels-dir, also a local folder the index command wrote")
    lock.add_argument("--platform", default="pyemscripten_2026_0_wasm32",
                      help="PEP 783 platform of the target runtime (default: %(default)s, Pyodide 314)")
    lock.add_argument("--python-version",
                      help="Python version of the target runtime (default: the one the platform's runtimes run, "
                           "3.14 for 2026_0, 3.13 for 2025_0, 3.12 for 2024_0)")
    lock.add_argument("--constraint", "-c", action="append", default=[], metavar="REQ|FILE",
                      help="constraint (repeatable): a PEP 508 requirement that limits versions without adding a "
                           "project, or a file of them, one per line, as pip's -c reads one")
    lock.add_argument("--distribution", metavar="URL", type=_http_url,
                      help="the target runtime's pyodide-lock.json: its wheels serve projects no index has "
                           "a wheel of, as in the browser (e.g. https://cdn.jsdelivr.net/pyodide/v314.0.7/full/"
                           "pyodide-lock.json)")
    lock.add_argument("--pre", action="store_true", help="allow pre-releases")
    lock.add_argument("--no-deps", action="store_true", help="lock only the named requirements")
    where = lock.add_mutually_exclusive_group()
    where.add_argument("--wheels-dir", metavar="DIR", type=_path,
                       help="download every locked wheel into DIR (hashes checked; a file already there with the "
                            "right hash is kept) and name it in the lock by its path relative to the lock: serve the "
                            "lock and DIR together and pages install with no other server (tests run offline)")
    where.add_argument("--relative-to", metavar="URL", type=_folder_url,
                      help="the URL of the folder the lock will be served from: wheels under it are written as "
                           "paths relative to the lock, so the lock and its wheels can be served from anywhere "
                           "together (e.g. an index of your own served under the lock's folder)")
    lock.add_argument("-o", "--output", default="pylock.toml", type=_path,
                      help="where to write the lock (default: pylock.toml, replaced if it exists; '-' for stdout)")
    lock.set_defaults(command_parser=lock)
    index = commands.add_parser("index", help="make your own wheels a package index of static files",
                                description="Check each wheel as an install would, copy it into FOLDER with "
                                            "its metadata file, and write FOLDER's pages (PEP 503, with hashes "
                                            "and PEP 658 metadata). Serve FOLDER, or a folder above it, with "
                                            "any static file server: FOLDER's URL is the index URL. Run it again "
                                            "to add wheels: those already in FOLDER stay listed.")
    index.add_argument("wheels", nargs="*", metavar="WHEEL", type=_path,
                       help="a .whl file, or a folder whose .whl files are taken (none: write the pages again, "
                            "for wheels deleted from FOLDER by hand)")
    index.add_argument("-o", "--output", required=True, metavar="FOLDER", type=_path,
                       help="the index's folder: new, empty, or one this command wrote (e.g. site/simple)")
    index.set_defaults(command_parser=index)
    return parser


def _path(text: str) -> str:
    """A file or folder argument, refused here if no file name can be it: a NUL in it was a
    traceback (ValueError: embedded null byte) from the first call that used it, for -o
    after the whole resolution."""
    if "\0" in text:
        raise argparse.ArgumentTypeError(f"{shown(text)}: a file name cannot hold a NUL character")
    return text


def _index_url(text: str) -> str:
    """An index URL, or a local folder the ``index`` command wrote (as a ``file:`` URL; with
    ``--wheels-dir`` only, so that the lock names the wheels by their copies' paths)."""
    if text.lower().startswith(("http://", "https://")):  # schemes are case-insensitive (RFC 3986 3.1)
        return _http_url(text)
    if is_file_url(text):
        try:
            parts = urlsplit(text)
        except ValueError as exc:  # "file://[": an unclosed IPv6 host
            raise argparse.ArgumentTypeError(f"{redact_location(text)!r} is not a URL: {exc}") from None
        if parts.netloc not in ("", "localhost") or parts.query:
            raise argparse.ArgumentTypeError(f"{redact_location(text)!r}: give a local index as a folder of this "
                                             "machine")
        text = urllib.request.url2pathname(parts.path)
        if not Path(text).is_dir():
            raise argparse.ArgumentTypeError(f"the folder {text!r} does not exist")
    folder = Path(text)
    if folder.is_dir():
        if not (folder / "index.html").is_file():
            if any(folder.glob("*.whl")):
                raise argparse.ArgumentTypeError(
                    f"the folder {text!r} has no index.html, so it is no index: make an index of its wheels in a "
                    f"new folder with `index {shown(text)} -o FOLDER` and give that FOLDER")
            raise argparse.ArgumentTypeError(f"the folder {text!r} has no index.html, so it is no index: make it one "
                                             f"with `index WHEEL... -o {shown(text)}`")
        return folder.resolve().as_uri() + "/"
    if "://" not in text and not text.lower().startswith(("http:", "https:")):
        raise argparse.ArgumentTypeError(f"{redact_location(text)!r} is neither an http or https URL nor a folder "
                                         "here (a local index is a folder the index command wrote: see the README's "
                                         "\"Your own wheels\")")
    return _http_url(text)


def _local_indexes(urls: Sequence[str] | None) -> list[tuple[str, str]]:
    """The ``file:`` index URLs among ``urls`` (as :func:`_index_url` made them), each with its folder."""
    local = []
    for url in urls or ():
        if url.startswith("file:"):
            parts = urlsplit(url)  # a Windows share keeps its host: file://server/share/ is \\server\share
            local.append((url, urllib.request.url2pathname(f"//{parts.netloc}{parts.path}" if parts.netloc
                                                           else parts.path)))
    return local


def _local_wheels(requirements: Sequence[str]) -> list[str]:
    """The ``file:`` URLs of the wheels ``requirements`` name (``name @ file:///...``): the
    user's own words, which the transport may read (a page's ``file:`` link it may not)."""
    urls = []
    for text in requirements:
        try:
            file = Dependency.parse(text).file
        except InvalidRequirementError:  # said by resolution, with the others
            continue
        if file is not None and is_file_url(file.url):
            urls.append(file.url)
    return urls


def _http_url(text: str) -> str:
    """An index or distribution URL: the lock names files by URL for the browser to fetch.
    Its scheme in lower case (``HTTPS://`` is ``https://``, RFC 3986 3.1), as the URLs of
    the pages' files are: ``--relative-to`` is compared with those."""
    text = lower_scheme(text)
    if not text.startswith(("http://", "https://")):
        raise argparse.ArgumentTypeError(f"{redact_location(text)!r} is not an http or https URL (a browser fetches "
                                         "what the lock names from there; for wheels of your own, see the README's "
                                         "\"Your own wheels\")")
    problem = url_problem(text)
    if problem is not None:
        raise argparse.ArgumentTypeError(f"{redact_location(text)!r} is not a URL: {problem}")
    return text


def _folder_url(text: str) -> str:
    """``--relative-to``: the URL the lock is served from, without its ``user:password@``.
    It is only compared with the wheels' URLs, which are compared without theirs (a lock
    never holds credentials); with them, no wheel was under it, and the warning saying so
    showed them."""
    return strip_credentials(_http_url(text))


# What PEP 751 names a lock file: "pylock.toml or ... r"^pylock\.([^.]+)\.toml$"".
_LOCK_NAME = re.compile(r"pylock\.toml|pylock\.[^.]+\.toml")


def _output_problem(path: str) -> str | None:
    """Why ``path`` cannot be written, checked before resolving (which can take a while)."""
    if path == "-":
        return None
    if not path:
        return "the name is empty: give a file name, such as pylock.toml (or - for stdout)"
    if os.path.isdir(path):
        return f"{shown(path)} is a folder: give a file name, such as {shown(os.path.join(path, 'pylock.toml'))}"
    folder = os.path.dirname(path) or "."
    if os.path.exists(folder) and not os.path.isdir(folder):
        return f"{shown(folder)} is a file, not a folder"
    if not os.path.isdir(folder):
        # The command only where it is one line: shlex.quote keeps a newline, inside quotes.
        make = f" (mkdir -p {shlex.quote(folder)})" if folder.isprintable() else ""
        return f"the folder {shown(folder)} does not exist: create it first{make}"
    return None


def _wheels_dir_problem(args: argparse.Namespace) -> str | None:
    """Why ``--wheels-dir`` cannot be used with this ``-o``, checked before resolving."""
    if not args.wheels_dir:
        return None
    if args.output == "-":
        return "a lock names its wheels by their path from the lock's own folder, which stdout has not: give -o FILE"
    if os.path.exists(args.wheels_dir) and not os.path.isdir(args.wheels_dir):
        return "it is a file: give a folder (made if missing) for the wheels"
    try:
        path = os.path.relpath(os.path.abspath(args.wheels_dir), os.path.dirname(os.path.abspath(args.output)))
    except ValueError:  # another drive (Windows)
        return (f"{shown(args.wheels_dir)} and {shown(args.output)} are on different drives: no path leads from the "
                "lock to the wheels")
    if os.sep != "\\" and "\\" in path:
        # A lock's path reads "\" as a separator, as Windows tools write paths (PEP 751), and has
        # no way to say it is part of a name: a folder "a\b" would read back as "a/b".
        return (f"the path from the lock's folder to it, {shown(path)}, holds a backslash, which a lock reads as a "
                "separator between folders: give a folder whose path has none")
    return None


def _binary(tags: frozenset[Tag]) -> bool:
    """A wheel's tags for one platform or one CPython (not a pure-Python one, which any runtime takes)."""
    return any(tag.platform != "any" or tag.abi != "none" for tag in tags)


class _Progress:
    """A line on stderr every ``every`` seconds once a lock has taken that long (a large
    request can take a minute against PyPI): how many project pages so far, and the last;
    or, while nothing arrives, what the lock is waiting for (:meth:`watch`)."""

    def __init__(self, out: TextIO = sys.stderr, every: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.out, self.every, self.clock = out, every, clock
        self.pages = 0
        self.next = clock() + every  # the next line on pages
        self.next_wait = self.next  # the next line on a stalled request

    def page(self, name: str) -> None:
        self.pages += 1
        now = self.clock()
        if now >= self.next:
            self.next = now + self.every
            print(f"Resolving: {self.pages} project pages read so far (the last: {name})", file=self.out, flush=True)

    def stalled(self, waiting: Sequence[tuple[str, float]], timeout: float) -> None:
        """Told now and then of the requests under way (URL, seconds since a byte of it came):
        once one has had nothing for ``every`` seconds, says which has waited longest; the
        longer it waits, the less often (after 5, 10, 20 and 40 s, then every 30 s)."""
        now = self.clock()
        if now < self.next_wait or not waiting or waiting[0][1] < self.every:
            return
        url, seconds = waiting[0]
        self.next_wait = now + max(self.every, min(seconds, 30.0))
        more = f" (and {len(waiting) - 1} more request{'s' if len(waiting) > 2 else ''})" if len(waiting) > 1 else ""
        print(f"Waiting for {url}{more}: nothing for {seconds:.0f} s (a request is given up after {timeout:g} s "
              "without a byte, then tried again)", file=self.out, flush=True)

    async def watch(self, transport: UrllibTransport) -> None:
        """:meth:`stalled` every second, until cancelled."""
        while True:
            await asyncio.sleep(1.0)
            self.stalled(transport.waiting(), transport.timeout)


def _retry_line(project: str | None, line: str) -> None:
    print(f"warning: {line}", file=sys.stderr, flush=True)


async def _lock(args: argparse.Namespace) -> str:
    transport = UrllibTransport(local=_local_indexes(args.index_urls), files=_local_wheels(args.requirements))
    progress = _Progress()
    watching = asyncio.create_task(progress.watch(transport))
    try:
        return await _lock_with(args, transport, progress)
    finally:
        watching.cancel()


async def _lock_with(args: argparse.Namespace, transport: UrllibTransport, progress: _Progress) -> str:
    target: Target = args.target
    runs = runtime_python(target.platform)
    if runs is not None and "{}.{}".format(*target.python_major_minor) != runs:
        print(f"warning: the runtimes of {target.platform} run Python {runs}, and refuse a lock for Python "
              f"{shown(args.python_version)}: did you mean --python-version {runs}? (the lock is made for "
              f"{shown(args.python_version)}, as asked)", file=sys.stderr)
    client = IndexClient(transport, args.index_urls or [DEFAULT_INDEX_URL], RetryPolicy(on_retry=_retry_line))
    distribution = None
    if args.distribution:  # asked for by name: loaded now, and a failure is the command's error
        entries = await load_distribution(transport, args.distribution, client.retry)
        binary = [tags for tags in (parse_wheel_filename(e.file.filename)[3] for e in entries.values()) if _binary(tags)]
        if binary and not any(target.tag_rank(tags) is not None for tags in binary):
            print(f"warning: no wheel of the distribution {redact_location(args.distribution)} is for "
                  f"{target.platform} (Python {target.python_version}): is it the runtime you lock for?",
                  file=sys.stderr)

        async def distribution() -> dict[str, DistributionEntry]:
            return entries
    options = ResolveOptions(pre=args.pre, constraints=tuple(args.constraint), deps=not args.no_deps)
    resolution = await resolve(args.requirements, target, client, {}, options, distribution=distribution,
                               on_walk=lambda name: print(walk_line(name), file=sys.stderr, flush=True),
                               on_page=progress.page)
    for note in resolution.warnings + yanked_notes(resolution.dists, "Locking"):
        print(f"warning: {note}", file=sys.stderr)
    wheels = [LockedWheel(d.name, d.version, d.file) for d in resolution.dists if d.file is not None]
    if not resolution.dists:
        print(f"warning: the lock names no package: no requirement applies to {target.platform} with Python "
              f"{target.python_version} (their markers are false there)", file=sys.stderr)
    if args.wheels_dir:
        check_pinned(wheels)  # what the lock would refuse, before anything is fetched
        try:
            wheels = await _download(transport, client.retry, wheels, args.wheels_dir,
                                     os.path.dirname(os.path.abspath(args.output)))
        except OSError as exc:  # a folder or file that cannot be written
            where = f" ({exc.filename})" if exc.filename else ""
            raise LockError(f"cannot save the wheels into {shown(args.wheels_dir)}: {exc.strerror or exc}{where}",
                            writing=True) from None
    if args.relative_to and not any(path_in_lock(w, args.relative_to) for w in wheels):
        print(f"warning: no wheel's URL is under --relative-to {redact_location(args.relative_to)}: every wheel keeps "
              "its URL",
              file=sys.stderr)
    return dump_lock(wheels, target, relative_to=args.relative_to)


async def _download(transport: UrllibTransport, retry: RetryPolicy, wheels: list[LockedWheel], folder: str,
                    lock_folder: str) -> list[LockedWheel]:
    """Each wheel saved into ``folder`` (hash and size checked), named by its path from
    ``lock_folder``; a file already there that matches is kept."""
    os.makedirs(folder, exist_ok=True)
    places = {w.name: os.path.join(folder, os.path.basename(w.file.filename)) for w in wheels}
    outside = os.path.relpath(os.path.abspath(folder), lock_folder).split(os.sep)[0] == os.pardir
    if outside:
        print(f"warning: {shown(folder)} is not inside the lock's folder: the lock names its wheels by ../ paths, "
              "so serve a folder that holds both", file=sys.stderr)
    held = {w.name: _held(places[w.name], w) for w in wheels}
    missing = [w for w in wheels if held[w.name] is None]
    size = sum(w.file.size or 0 for w in missing)
    kept = len(wheels) - len(missing)
    print(f"Fetching {len(missing)} wheel{'' if len(missing) == 1 else 's'}" + (f" ({size_text(size)})" if size else "")
          + f" into {shown(folder)}" + (f"; {kept} already there" if kept else "") if missing
          else f"All {len(wheels)} wheels are in {shown(folder)} already", file=sys.stderr, flush=True)
    turns = asyncio.Semaphore(4)

    def warn(wheel: LockedWheel, notes: Sequence[str]) -> None:
        # As an install warns (the index's sha256 wrong, a stronger hash right), for the wheel
        # fetched now and the one already there alike: the lock keeps the index's hashes.
        for note in notes:
            print(f"warning: {wheel.file.filename}: {note}", file=sys.stderr, flush=True)

    async def save(wheel: LockedWheel) -> None:
        async with turns:
            fetched = await fetch_wheel(transport, WheelRequest(wheel.name, wheel.file), retry=retry)
        # Another lock run saving into the same folder, or a server reading it, never sees half a wheel.
        write_file_whole(places[wheel.name], fetched.body)
        warn(wheel, fetched.notes)

    for wheel in wheels:
        warn(wheel, held[wheel.name] or ())
    await asyncio.gather(*(save(w) for w in missing))
    named = {os.path.basename(p) for p in places.values()}
    stale = sorted(f for f in os.listdir(folder) if f.endswith(".whl") and f not in named)
    if stale:
        print(f"Not in this lock (delete them if no other lock names them): {', '.join(stale)}",
              file=sys.stderr, flush=True)
    # The size too, where the index gave none (a wheel named by its URL): the file is here.
    return [dataclasses.replace(w, path=os.path.relpath(places[w.name], lock_folder).replace(os.sep, "/"),
                                file=w.file if w.file.size is not None
                                else dataclasses.replace(w.file, size=os.path.getsize(places[w.name])))
            for w in wheels]


def _held(path: str, wheel: LockedWheel) -> tuple[str, ...] | None:
    """None unless ``path`` is this very wheel (its size and strongest hash); else what to
    warn of it (:func:`~.downloads.wrong_sha256_notes`)."""
    try:
        with open(path, "rb") as kept:
            body = kept.read()
        verify(WheelRequest(wheel.name, wheel.file), body)
    except (OSError, PyemscriptenError):
        return None
    return wrong_sha256_notes(wheel.file, hashlib.sha256(body).hexdigest() if wheel.file.sha256 else None)


def _index(args: argparse.Namespace) -> int:
    def warn(message: str) -> None:
        print(f"warning: {message}", file=sys.stderr)

    try:
        written = write_index(args.wheels, args.output, warn=warn)
    except PyemscriptenError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    listed = sum(map(len, written.projects.values()))
    news = [f"{len(names)} {what}" for names, what in ((written.added, "added"), (written.replaced, "replaced"),
                                                       (written.unchanged, "already there")) if names]
    print(f"Indexed {listed} wheel{'' if listed == 1 else 's'} of {len(written.projects)} "
          f"project{'' if len(written.projects) == 1 else 's'} in {shown(str(written.folder))}"
          + (f" ({', '.join(news)})" if news else ""), file=sys.stderr)
    folder = written.folder.resolve()
    name = quote(folder.name)
    print(f"Serve it with a static file server, e.g. python -m http.server 8000 --bind 127.0.0.1 -d "
          f"{shlex.quote(str(folder.parent))}\n"
          f"and install with index_urls=[\"http://localhost:8000/{name}/\"] (from a page of the same "
          f"server, \"/{name}/\"), before \"https://pypi.org/simple/\" for the rest.", file=sys.stderr)
    return 0


# The pyodide-lock.json of the runtimes each platform is known from (README: the four tested).
_DISTRIBUTIONS: dict[str, str] = {
    "2024_0": "https://cdn.jsdelivr.net/pyodide/v0.27.7/full/pyodide-lock.json",
    "2025_0": "https://cdn.jsdelivr.net/pyodide/v0.29.5/full/pyodide-lock.json",
    "2026_0": "https://cdn.jsdelivr.net/pyodide/v314.0.7/full/pyodide-lock.json",
}


def _distribution_hint(exc: PyemscriptenError, args: argparse.Namespace) -> str | None:
    """Where a lock without ``--distribution`` failed for want of a project or its wheels (see
    :func:`_distribution_may_help`): the browser would have looked in the runtime's own
    distribution too (numpy, pandas, ...), and this can."""
    if args.distribution or not _distribution_may_help(exc):
        return None
    url = _DISTRIBUTIONS.get(args.target.platform.version)
    where = (f"--distribution {url}" if url else
             "--distribution and the URL of the pyodide-lock.json of the runtime you lock for")
    return ("in the browser, what no index has a wheel of is also looked for in the runtime's own distribution "
            "(Pyodide ships numpy, pandas, pillow, polars and more beside the runtime, not on PyPI). To lock "
            f"with it here, add {where}.")


def _distribution_may_help(exc: PyemscriptenError) -> bool:
    """Whether the error is for want of a project or a wheel the runtime's distribution may
    have: not where Requires-Python excludes the wheels, nor for a wheel named by its URL
    (its project's only candidate)."""
    if isinstance(exc, MultipleNoCompatibleWheelsError):
        return any(_distribution_may_help(e) for e in exc.errors)
    if isinstance(exc, NoCompatibleWheelError):
        return exc.url is None and not exc.python_excluded
    if isinstance(exc, ProjectNotFoundError):
        return not exc.wheel_folders  # there the index URL is what to mend
    return isinstance(exc, ResolutionImpossibleError) and bool(exc.elsewhere)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args, unknown = parser.parse_known_args(argv)
    command: argparse.ArgumentParser = args.command_parser
    if unknown:
        command.error(f"unrecognized arguments: {' '.join(unknown)}{_suggestions(command, unknown)}")
    try:
        return _index(args) if args.command == "index" else _lock_command(args, command)
    except KeyboardInterrupt:
        what = ("the index's pages may not list what was copied in: run the command again" if args.command == "index"
                else "the lock was not written")
        print(f"\ninterrupted: {what}", file=sys.stderr)
        return 130


def _suggestions(command: argparse.ArgumentParser, unknown: Sequence[str]) -> str:
    """" (did you mean --index-url?)" for each unknown option close to one of ``command``'s."""
    import difflib

    options = [option for action in command._actions for option in action.option_strings if option.startswith("--")]
    said = []
    for word in unknown:
        name = word.partition("=")[0]
        close = difflib.get_close_matches(name, options, 1, cutoff=0.8) if name.startswith("--") else []
        if close:
            said.append(f"{name}: did you mean {close[0]}?")
    return f" ({'; '.join(said)})" if said else ""


def _lock_command(args: argparse.Namespace, command: argparse.ArgumentParser) -> int:
    given, args.constraint = args.constraint, []
    for value in given:
        if os.path.isfile(value):  # a file of constraints, as pip's -c (a requirement is never the name of a file here)
            requirements, constraints = _read_listed(command, "-c", value, constraint=True)
            args.requirements += requirements
            args.constraint += constraints
        elif value.endswith((".txt", ".in")) or os.sep in value:  # meant as a file: not silently a project's name
            command.error(f"-c {shown(value)}: no such file (a constraint that names a file is read from it)")
        else:
            args.constraint.append(value)
    for path in args.requirement_files:
        requirements, constraints = _read_listed(command, "-r", path)
        args.requirements += requirements
        args.constraint += constraints
    if not args.requirements:
        command.error("give at least one REQUIREMENT, or -r FILE with some")
    try:
        platform = PlatformTag.parse(args.platform)
    except PyemscriptenError as exc:
        command.error(f"--platform {shown(args.platform)}: {exc}")
    if args.python_version is None:
        args.python_version = _python_of(platform, command)
    try:
        args.target = Target.for_platform(args.platform, args.python_version)
    except UnsupportedRuntimeError as exc:
        command.error(f"--python-version {shown(args.python_version)}: {exc.reason}")
    # Refused, not only warned of as another platform's Python is: resolving for 2.7, 3.0 or
    # 4.0 ended in "no wheel fits" (py2/py4 tags, Requires-Python) or, from pure wheels that
    # name no Requires-Python, in a lock with requires-python ==3.0.* that no runtime installs.
    unknown = unknown_python(platform, args.python_version)
    if unknown is not None:
        command.error(f"--python-version {shown(args.python_version)}: {unknown}")
    problem = _output_problem(args.output)
    if problem is not None:
        command.error(f"cannot write the lock to -o {shown(args.output)}: {problem}")
    if args.output != "-" and not _LOCK_NAME.fullmatch(os.path.basename(args.output)):
        print(f"warning: -o {shown(args.output)}: PEP 751 names a lock pylock.toml or pylock.<name>.toml; pip and uv "
              "read no other name as a lock (pyemscripten reads any)", file=sys.stderr)
    problem = _wheels_dir_problem(args)
    if problem is not None:
        command.error(f"--wheels-dir {shown(args.wheels_dir)}: {problem}")
    local = _local_indexes(args.index_urls)
    if local and not args.wheels_dir:
        command.error(f"--index-url {shown(local[0][1])}: a local index needs --wheels-dir, which copies the locked "
                      "wheels beside the lock (a browser cannot fetch them from your disk); or serve the folder and give "
                      "its http URL")
    files = _local_wheels(args.requirements)
    if files and not args.wheels_dir:
        command.error(f"{shown(files[0])}: a wheel of this machine needs --wheels-dir, which copies it beside the "
                      "lock (a browser cannot fetch it from your disk); or serve it and give its http URL")
    try:
        text = asyncio.run(_lock(args))
    except PyemscriptenError as exc:
        print(f"error: {exc}", file=sys.stderr)
        hint = _distribution_hint(exc, args)
        if hint:
            print(f"hint: {hint}", file=sys.stderr)
        return 1
    if args.output == "-":
        try:
            sys.stdout.write(text)
            sys.stdout.flush()
        except (OSError, AttributeError) as exc:  # a full disk, a closed pipe; no stdout at all (None)
            print(f"error: cannot write the lock to stdout: {getattr(exc, 'strerror', None) or exc}", file=sys.stderr)
            return 1
        return 0
    try:
        write_file_whole(args.output, text.encode("utf-8"))  # an old lock stays whole until the new one is in
    except OSError as exc:
        print(f"error: cannot write the lock to {shown(args.output)}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    print(f"wrote {shown(args.output)}", file=sys.stderr)
    return 0


def _read_listed(command: argparse.ArgumentParser, option: str, path: str, constraint: bool = False
                 ) -> tuple[list[str], list[str]]:
    """:func:`read_requirements` of the file given to ``option`` (-r, -c); what it cannot read
    is the command's usage error, naming the option and the file."""
    try:
        return read_requirements(path, constraint)
    except OSError as exc:
        where = "" if exc.filename in (None, path) else f"{shown(str(exc.filename))}, named in it: "
        command.error(f"{option} {shown(path)}: {where}{exc.strerror or exc}")
    except (UnicodeDecodeError, ValueError) as exc:
        command.error(f"{option} {shown(path)}: {exc}")


def read_requirements(path: str, constraint: bool = False, _seen: frozenset[str] = frozenset()
                      ) -> tuple[list[str], list[str]]:
    """The requirements and constraints of a requirements file, read as pip reads one: a
    requirement per line, ``#`` comments, ``\\`` continuing a line, and ``-r FILE`` and
    ``-c FILE`` lines naming other files (from this file's folder). Raises ValueError, naming
    the file and line, for what a lock cannot take from it (pip's other options)."""
    real = os.path.realpath(path)
    if real in _seen:
        raise ValueError(f"{shown(path)} names itself through -r or -c lines")
    with open(path, "rb") as file:
        text = _decoded(file.read(), path)
    requirements: list[str] = []
    constraints: list[str] = []
    lines = _logical_lines(text)
    for number, line in lines:
        if re.match(r"-[rc][^\s=]", line):  # -rfile.txt: the short options' value attached
            line = f"{line[:2]} {line[2:]}"
        option, _, rest = line.partition(" ") if line.startswith("-") else ("", "", line)
        option, equals, value = option.partition("=")
        value = (value if equals else rest).strip()
        if not option:
            if " --hash" in f" {line}":
                raise ValueError(f"{shown(path)}, line {number}: --hash is not taken here: a lock takes each wheel's "
                                 "hash from the index (and checks it)")
            try:
                Dependency.parse(line, "constraint" if constraint else USER)  # as resolution parses it, later
            except InvalidRequirementError as exc:
                raise ValueError(f"{shown(path)}, line {number}: {exc}") from None
            (constraints if constraint else requirements).append(line)
        elif option in ("-r", "--requirement", "-c", "--constraint") and not value:
            raise ValueError(f"{shown(path)}, line {number}: {option} needs a file name")
        elif option in ("-r", "--requirement", "-c", "--constraint"):
            nested = os.path.join(os.path.dirname(path), value)
            # As pip: what a -r line names is requirements, what a -c line names constraints,
            # whichever file names it.
            more, more_constraints = read_requirements(nested, option in ("-c", "--constraint"), _seen | {real})
            requirements += more
            constraints += more_constraints
        else:
            hint = (" (give --index-url to lock instead)" if option in ("-i", "--index-url", "--extra-index-url")
                    else " (a lock takes wheels only, from an index)" if option in ("-e", "--editable") else "")
            raise ValueError(f"{shown(path)}, line {number}: {option} is not taken here{hint}")
    return requirements, constraints


# A byte-order mark and the text it begins, as pip decodes requirements files (PowerShell's
# `pip freeze > file` writes UTF-16).
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


def _decoded(data: bytes, path: str) -> str:
    """A requirements file's text: UTF-8, or what its byte-order mark says (the mark dropped)."""
    encoding = next((name for bom, name in _BOMS if data.startswith(bom)), "utf-8")
    try:
        return data.decode(encoding)
    except UnicodeDecodeError:
        raise ValueError(f"{shown(path)} is not {encoding.removesuffix('-sig').upper()} text: save it as UTF-8"
                         ) from None


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """(line number, line) for each line of a requirements file with something on it:
    comments dropped, lines ending in a backslash joined to the next."""
    found: list[tuple[int, str]] = []
    pending, start = "", 0
    for number, raw in enumerate(text.splitlines(), 1):
        if not pending:
            start = number
        if raw.startswith("#"):
            raw = ""
        raw = re.sub(r"\s+#.*$", "", raw)
        if raw.endswith("\\"):
            pending += raw[:-1]
            continue
        line = (pending + raw).strip()
        pending = ""
        if line:
            found.append((start, line))
    if pending.strip():
        found.append((start, pending.strip()))
    return found


def _python_of(platform: PlatformTag, command: argparse.ArgumentParser) -> str:
    """The Python version the runtimes of ``platform`` run (``--python-version``'s default)."""
    runs = runtime_python(platform)
    if runs is None:
        command.error(f"--platform {platform}: no runtime this version of pyemscripten knows runs it, so it cannot "
                      "tell its Python: give --python-version too")
    return runs


if __name__ == "__main__":
    raise SystemExit(main())
