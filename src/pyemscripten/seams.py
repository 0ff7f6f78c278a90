"""The narrow seam between the pure core and the world.

The core never imports ``js`` or ``pyodide``: it is handed a :class:`Transport` (bytes over
HTTP) and a :class:`LibraryLoader` (WebAssembly side modules into the runtime). In the
browser these are :mod:`pyemscripten.browser`'s; natively, :mod:`pyemscripten.native`'s;
in tests, subclasses that serve from memory.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import sys
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Response:
    """A complete HTTP answer. ``headers`` keys are lower case."""

    url: str
    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)
    #: The transport's own copy of the body, if it keeps one (the browser's: a JavaScript
    #: buffer), for a :class:`WheelCache` that can store it from there (see its ``put``).
    kept: Any = field(default=None, repr=False, compare=False)

    @property
    def content_type(self) -> str:
        # A repeated header arrives joined with ", "; the first value is the one meant.
        return self.headers.get("content-type", "").split(",")[0].split(";")[0].strip().lower()


# Called with (bytes done, bytes total or None) while a body streams in.
ByteProgress = Callable[[int, "int | None"], None]
# Called with (offset, bytes) for each new piece of a body as it streams in, in order. An
# offset of 0 means the body starts (again): index_client.get_ok sends (0, b"") before each
# try, so pieces of a failed try never mix with the next one's.
BodyPieces = Callable[[int, bytes], None]

#: The most a transport hands ``on_data`` at once (a piece of a download, of a file read whole).
BODY_PIECE = 256 * 1024


def hand_over_whole(body: bytes, on_data: BodyPieces | None, on_progress: ByteProgress | None = None) -> None:
    """Hand ``body``, read whole (a local file), to ``on_data`` in pieces of
    :data:`BODY_PIECE`, as a download's come (a wheel's members then inflate as they do for
    http), with ``on_progress`` after each."""
    for offset in range(0, len(body), BODY_PIECE):
        if on_data is not None:
            on_data(offset, body[offset:offset + BODY_PIECE])
        if on_progress is not None:
            on_progress(min(offset + BODY_PIECE, len(body)), len(body))


class Transport(ABC):
    """Fetches URLs. Implementations raise :class:`~pyemscripten.errors.NetworkError` when no
    HTTP answer came (reset, refused, timeout); HTTP error statuses are returned, not raised.

    ``on_data`` is a hint: a transport that streams may hand over the body's pieces as they
    arrive; one that does not may ignore it. The :class:`Response` always holds the whole body.
    """

    @abstractmethod
    async def get(
        self,
        url: str,
        headers: Mapping[str, str] | None = None,
        on_progress: ByteProgress | None = None,
        on_data: BodyPieces | None = None,
    ) -> Response: ...


class WheelCache(ABC):
    """Wheel bodies kept across visits, keyed by sha256. Callers re-check the hash.

    ``put`` may return before the body is stored, or only queue it; :meth:`flush` stores
    what is queued and waits until it is. An install that is done calls
    :meth:`flush_later` instead: writing to a browser cache takes CPU and I/O the install
    itself should not wait for. Installs
    put a body only once its wheel passed every check; a cache whose every entry came that
    way (none left by anything else) says so with :attr:`holds_checked_wheels`, and a body
    it returns, its hash checked again, then has its RECORD taken as written (see
    :func:`pyemscripten.wheels.open_wheel_async`).

    A cache must implement :meth:`get` and :meth:`put`; the rest (:meth:`prepare`,
    :meth:`checked`, :meth:`flush`, :meth:`flush_later`, :meth:`clear`) is optional, with
    defaults that do nothing. :meth:`flush` and :meth:`flush_later` may also be written without
    ``warn`` (``def flush(self)``, the seam as it was before they took it): such a cache is
    called without it (see :func:`flush_cache`), and has nothing to tell.
    """

    holds_checked_wheels: bool = False

    @abstractmethod
    async def get(self, sha256: str) -> bytes | None: ...

    @abstractmethod
    async def put(self, sha256: str, data: bytes, kept: Any = None) -> None:
        """Store ``data``. ``kept``: the transport's own copy of it, if any
        (:attr:`Response.kept`); a cache that stores from it need not hold on to ``data``."""

    def prepare(self) -> None:
        """An install is starting: begin any slow setup now, in the background, so that the
        first :meth:`get` does not wait for it."""
        return None

    def checked(self, sha256: str, good: bool) -> None:
        """What the caller's check of the body :meth:`get` returned for ``sha256`` found:
        ``good``, its sha256 is its key and it is the wheel (the install uses it: a use, for
        a cache that drops the least recently used); not, its sha256 is not its key (damaged,
        or kept under a wrong one), so it is of no use under that key ever, and should be
        dropped. Not called when the body is its key's but the index says otherwise of the
        wheel (its size, a stronger hash): the entry is sound, just not used. Must not
        raise; by default nothing."""
        return None

    async def flush(self, warn: Callable[[str], None] | None = None) -> None:
        """Store what is queued. A cache that could not keep some of it for want of room
        (the browser's storage quota) may say so to ``warn``, once; it never raises for it."""
        return None

    def flush_later(self, warn: Callable[[str], None] | None = None) -> None:
        """Do what :meth:`flush` does in the background; by default there is nothing to do
        (a cache whose :meth:`put` stores at once). Must not raise. ``warn`` as for
        :meth:`flush`, called when the background work is done (the install has returned)."""
        return None

    async def clear(self) -> None:
        return None


def _takes_warn(method: Callable[..., Any]) -> bool:
    """Whether a cache's ``flush`` or ``flush_later`` takes ``warn`` or, written against the
    seam as it was before, nothing. Read from its signature, not by calling it and catching
    TypeError: that would also hide a TypeError raised inside it (a bug of that cache)."""
    try:
        inspect.signature(method).bind(None)
    except TypeError:
        return False
    except ValueError:  # no signature to read (a builtin, a C extension's): as the seam says
        return True
    return True


async def flush_cache(cache: WheelCache, warn: Callable[[str], None]) -> None:
    """``cache.flush(warn)``, or ``cache.flush()`` for a cache whose flush takes no ``warn``."""
    flush = cache.flush
    await (flush(warn) if _takes_warn(flush) else flush())


def flush_cache_later(cache: WheelCache, warn: Callable[[str], None]) -> None:
    """``cache.flush_later(warn)``, or without ``warn`` for a cache whose method takes none.
    One that raises (the seam says it must not) is told to ``warn``: it runs once the
    install's work is done, committed or not, and a cache never fails an install."""
    flush_later = cache.flush_later
    try:
        if _takes_warn(flush_later):
            flush_later(warn)
        else:
            flush_later()
    except Exception as exc:  # noqa: BLE001 - see the docstring
        warn(f"the wheel cache could not store this install's wheels ({type(exc).__name__}: {exc}): they will be "
             "downloaded again next time")


class Hasher:
    """sha256 digests of many byte strings at once (wheel bodies, RECORD checks).

    This default hashes here, with hashlib. Pyodide's hashlib is WebAssembly (about 0.3 GB/s
    here); the browser's :class:`~pyemscripten.browser.WebCryptoHasher` hands the large ones
    to WebCrypto, native code several times faster.
    """

    async def sha256(self, blobs: Sequence[bytes]) -> list[bytes]:
        return [hashlib.sha256(blob).digest() for blob in blobs]

    def start(self, blobs: Sequence[bytes]) -> Coroutine[Any, Any, list[bytes]]:
        """:meth:`sha256` of ``blobs``, for later: await it, or ``close()`` it. A hasher that
        can begin at once, elsewhere, begins here; this one hashes when it is awaited. No
        task of its own: :class:`~pyemscripten.wheels.MemberStream` starts a batch for each
        piece of a body, and a task was 3 or 4 turns of the page's event loop each."""
        return self.sha256(blobs)


@dataclass(frozen=True)
class LibraryToLoad:
    """One side module to bring into the runtime, with where it sits in the file system."""

    path: str  # absolute path in the runtime's file system
    project: str
    global_: bool  # load RTLD_GLOBAL: other modules resolve symbols against it


class LibraryLoader(ABC):
    """Loads side modules into the running runtime, in the order given."""

    @abstractmethod
    async def load(self, libraries: Sequence[LibraryToLoad], on_loaded: Callable[[int], None] | None = None) -> None:
        """Load ``libraries``; ``on_loaded(n)``, if given, once the first ``n`` are in."""

    def loaded(self) -> Collection[str]:
        """Names (sonames or paths) of libraries the runtime has loaded already."""
        return ()

    def system_dirs(self) -> Sequence[str]:
        """The runtime's own library folders (its LD_LIBRARY_PATH)."""
        return ()

    async def prepare(self) -> None:
        """Do ahead what the next :meth:`load` can do before its files are in (an install
        calls this while its wheels still download). Optional; :meth:`release` undoes what
        no load used."""
        return None

    def release(self) -> None:
        """Let go of what :meth:`prepare` holds that no load used."""
        return None


class NoLibraryLoader(LibraryLoader):
    """For native use (locking, tests of the pure core): loading is a no-op."""

    async def load(self, libraries: Sequence[LibraryToLoad], on_loaded: Callable[[int], None] | None = None) -> None:
        return None


def start_task(coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
    """Run ``coro`` as a task of the running loop whose first step runs now, up to its first
    wait (an eager task, Python 3.12 and later; before, an ordinary one).

    In the page, an ordinary task costs turns of Pyodide's event loop that an eager one does
    not: its first step is a callback of its own, and the loop's own task factory adds one
    more when the task ends (its count of work in progress). (a) of the benchmark makes 131
    tasks. Every task this makes is awaited, or cancelled, by the install, whose own task the
    loop does count (its count matters to a runtime that waits for it, not to a page).
    """
    loop = asyncio.get_running_loop()
    if sys.version_info >= (3, 12):
        return asyncio.Task(coro, loop=loop, eager_start=True)
    return loop.create_task(coro)
