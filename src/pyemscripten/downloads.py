"""Downloading the resolved wheels: concurrently, verified, never trusted without a hash.

Each wheel's bytes are checked against the size and the strongest hash the index (or lock)
gave before anything else looks at them. md5, sha1 and sha224 do not count as hashes. A file with
no usable hash is refused unless the caller allows unhashed files. :class:`WheelTasks`
fetches, verifies and validates (:mod:`.wheels`) each wheel as soon as it can, some while
resolution still runs, so that unpacking overlaps the other downloads.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable, Collection, Coroutine, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

from .errors import HashMismatchError, MissingHashError, SizeMismatchError
from .index_client import RetryPolicy, Sleep, get_ok
from .index_pages import ACCEPTED_HASHES, IndexFile
from .seams import BodyPieces, Hasher, Transport, WheelCache, start_task
from .wheels import MemberSink, MemberStream, UnpackedWheel, open_wheel_async

if TYPE_CHECKING:
    from .candidates import Candidate
    from .resolution import ResolvedDist

T = TypeVar("T")


@dataclass(frozen=True)
class WheelRequest:
    project: str
    file: IndexFile


def strongest_hash(hashes: Mapping[str, str]) -> tuple[str, str] | None:
    for algorithm in ACCEPTED_HASHES:
        if algorithm in hashes:
            return algorithm, hashes[algorithm]
    return None


def verify(request: WheelRequest, data: bytes, allow_unhashed: bool = False, sha256: bytes | None = None) -> None:
    """Check ``data`` against the file's size and hash.

    ``sha256``: the sha256 digest of ``data``, if already computed (used when sha256 is the
    strongest hash given). Raises :class:`SizeMismatchError`, :class:`HashMismatchError`,
    :class:`MissingHashError`.
    """
    file = request.file
    if file.size is not None and len(data) != file.size:
        raise SizeMismatchError(file.filename, file.url, file.size, len(data), request.project)
    chosen = strongest_hash(file.hash_dict)
    if chosen is None:
        if allow_unhashed:
            return
        raise MissingHashError(request.project, file.filename, file.url)
    algorithm, expected = chosen
    if algorithm == "sha256" and sha256 is not None:
        got = sha256.hex()
    else:
        got = hashlib.new(algorithm, data).hexdigest()
    if got != expected.lower():
        raise HashMismatchError(file.filename, file.url, algorithm, expected, got, request.project)


def wrong_sha256_notes(file: IndexFile, got: str | None) -> tuple[str, ...]:
    """What to warn of a body that passed :func:`verify` but whose sha256 (hex), ``got``, is
    not the one ``file`` gives: a stronger hash given matched, and the index's sha256 is wrong.
    ``got`` None: no sha256 given (nothing to say)."""
    given = (file.sha256 or "").lower()
    chosen = strongest_hash(file.hash_dict)
    if got is None or got == given or chosen is None:
        return ()
    return (f"the index gives sha256 {given} for it, but its sha256 is {got}; the wheel was checked against "
            f"its {chosen[0]}, which matches. The index's sha256 is wrong: tell its maintainers",)


class FetchedWheel(NamedTuple):
    """A wheel's verified bytes and where they came from: ``"prefetched"`` (by resolution),
    ``"cache"`` (an entry of the wheel cache: stored only once the wheel had passed every
    check, see :class:`WheelTasks`) or ``"network"``."""

    body: bytes
    source: str
    kept: Any = None  # the transport's own copy of the body (Response.kept)
    #: The body's own sha256 (hex), computed where the index gives one: the wheel cache's
    #: key, which must name the bytes under it, not what an index said of them.
    sha256: str | None = None
    #: What the install should warn of: a sha256 the index gives that the body does not
    #: have, where a stronger hash it also gives matched.
    notes: tuple[str, ...] = ()


async def fetch_wheel(
    transport: Transport,
    request: WheelRequest,
    *,
    retry: RetryPolicy,
    allow_unhashed: bool = False,
    prefetched: Mapping[str, bytes] | None = None,
    cache: WheelCache | None = None,
    on_bytes: Callable[[int, int | None], None] | None = None,
    on_data: BodyPieces | None = None,
    sleep: Sleep = asyncio.sleep,
    hasher: Hasher | None = None,
) -> FetchedWheel:
    """The verified bytes of one wheel: from ``prefetched``, the cache, or the network.

    A cached body is used only when the index gives its sha256 and the body matches it (and
    the strongest hash given). A body that matches its strongest hash but not a sha256 also
    given (an index giving both, one wrong) is installed, with a note saying so.
    A wheel with no usable hash is refused before it is fetched, unless ``allow_unhashed``.
    ``hasher`` computes the sha256 (default: hashlib, here). ``on_data`` sees the pieces of
    a body coming from the network, before it is verified (see :class:`~.seams.Transport`).
    Nothing is stored in ``cache`` here (see :class:`WheelTasks`).
    """
    hasher = hasher or Hasher()
    chosen = strongest_hash(request.file.hash_dict)
    if not allow_unhashed and chosen is None:
        raise MissingHashError(request.project, request.file.filename, request.file.url)

    sha256 = (request.file.sha256 or "").lower() or None  # hex digests are compared in lower case

    async def check(data: bytes) -> str | None:
        """Size and the strongest hash; the body's sha256 (hex), where the file gives one."""
        # Computed whenever a sha256 is given, also beside a stronger hash: it keys the cache.
        digest = (await hasher.sha256([data]))[0] if sha256 else None
        verify(request, data, allow_unhashed, sha256=digest)
        return None if digest is None else digest.hex()

    body = (prefetched or {}).get(request.file.url)
    if body is None and cache is not None and sha256:
        try:
            cached = await cache.get(sha256)
        except Exception:  # noqa: BLE001 - a cache that fails is a cache that misses: never the install's failure
            cached = None
        if cached is not None:
            digest = (await hasher.sha256([cached]))[0]
            if digest.hex() != sha256:
                # Not that body's key: damaged, or kept by an earlier version under the
                # sha256 an index gave, which was wrong. Never of use: the cache drops it, and
                # the wheel is fetched (and put under its own sha256).
                _checked(cache, sha256, False)
            else:
                try:
                    verify(request, cached, allow_unhashed, sha256=digest)
                except (SizeMismatchError, HashMismatchError):
                    pass  # the index says otherwise of the wheel (its size, a stronger hash): fetched and checked again
                else:
                    _checked(cache, sha256, True)  # a use only now that it is the wheel
                    return FetchedWheel(cached, "cache", sha256=sha256)
    source = "prefetched" if body is not None else "network"
    if body is None:
        response = await get_ok(transport, request.file.url, project=request.project, what="wheel",
                                retry=retry, on_progress=on_bytes, on_data=on_data, sleep=sleep)
        assert response is not None
        body, kept = response.body, response.kept
    else:
        kept = None
    got = await check(body)
    return FetchedWheel(body, source, kept, sha256=got, notes=wrong_sha256_notes(request.file, got))


def _checked(cache: WheelCache, sha256: str, good: bool) -> None:
    """``cache.checked(sha256, good)``; a cache that raises there (the seam says it must not)
    is ignored, as one whose ``get`` fails: never the install's failure."""
    try:
        cache.checked(sha256, good)
    except Exception:  # noqa: BLE001, S110 - see the docstring
        pass


async def gather_all(jobs: Sequence[Coroutine[Any, Any, T]]) -> list[T]:
    """Run ``jobs`` concurrently; on the first failure cancel the rest and raise it."""
    tasks: list[asyncio.Task[T]] = []
    try:
        # Inside the try: a task's first step runs as it is made (start_task), and an
        # interrupt raised there leaves the constructor; the tasks made before it are
        # cancelled and the jobs after it closed.
        for job in jobs:
            tasks.append(start_task(job))
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        for job in jobs[len(tasks):]:
            job.close()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


#: The message of the one "downloading" event of a wheel read from the wheel cache (no request).
FROM_CACHE = "from the cache"


class WheelTasks:
    """Fetch, verify and unpack each wheel once, by URL; some start before resolution ends.

    While resolving, :meth:`guess` starts the wheel of each candidate the crawl follows:
    the newest version that fits, which the resolver nearly always keeps. Its download and
    unpacking then overlap resolution's round trips instead of following them. A guess is
    only bytes fetched early: the resolver sees nothing of it but the METADATA of a small one
    (below), every body is verified against its hash as usual, and guesses the plan does not
    use are cancelled. Their progress events
    are held back until the plan adopts them, so listeners only hear of planned wheels.
    A body from the network goes into the wheel cache once the wheel has passed every check
    (:mod:`.wheels`), so that in a cache that holds nothing else
    (:attr:`~.seams.WheelCache.holds_checked_wheels`) an entry is a wheel that did: a later
    install takes the RECORD's sha256s of such a body as written instead of hashing every
    member again (see :func:`~.wheels.open_wheel_async`); the body itself is hashed and
    checked as always.
    At most :attr:`GUESSES_AT_ONCE` guesses larger than :attr:`SMALL` download at a time, so
    that page and metadata requests still find a free connection (a browser opens 6 per host
    over HTTP/1.1); small ones are over about as soon as such a request would be.
    ``prestage(url)``: a sink for the members each download inflates as it goes (see
    :meth:`pyemscripten.installation.Staging.prestage`), or None.

    A guessed wheel of at most :attr:`SMALL` bytes also stands in for its PEP 658 file: the
    crawl takes its METADATA from it (:meth:`metadata_of_guess`) instead of asking for the
    ``.metadata`` file, so such a project costs one request less, and such a guess neither
    waits for a turn nor takes one. Fetching a wheel that small takes about what its
    metadata file does (256 kB is about one round trip's worth of a 50 Mbit/s link with 40
    ms of latency; the metadata files of small wheels are often a good part of their size),
    while every request costs the page's one thread a few milliseconds whatever its size
    (the browser's request handling, the crossing into Python, the answer's parsing). (a)
    of the benchmark asks for 16 fewer files. A small guess that fails or is cancelled gives
    no METADATA: the crawl then asks for the ``.metadata`` file as before (a broken newest
    version that resolution would pass over does not stop it), and the wheel's own error
    is raised only where the plan uses it (:meth:`get`).
    """

    GUESSES_AT_ONCE = 4
    SMALL = 256 << 10

    def __init__(self, transport: Transport, *, retry: RetryPolicy, hasher: Hasher,
                 cache: WheelCache | None = None, emit: Callable[..., None] = lambda *event: None,
                 prefetched: Mapping[str, bytes] | None = None, allow_unhashed: bool = False,
                 guessing: bool = False, prestage: Callable[[str], MemberSink | None] | None = None) -> None:
        self.transport = transport
        self.retry = retry
        self.hasher = hasher
        self.cache = cache
        self.emit = emit  # (stage, package, done, total): progress, for planned wheels only
        self.prefetched = prefetched
        self.allow_unhashed = allow_unhashed
        self._guessing = guessing
        self.prestage = prestage  # by URL: where a download's members are written as they arrive
        self._tasks: dict[str, asyncio.Future[UnpackedWheel]] = {}
        self._adopted: set[str] = set()
        self._held: dict[str, list[Callable[[], None]]] = {}  # what a guess would tell, until adopted
        self._running = 0
        self._turns = asyncio.Condition()

    def guess(self, candidate: Candidate) -> None:
        file = candidate.file
        # Without a PEP 658 file the crawl fetches the wheel itself (kept in ``prefetched``).
        if not self._guessing or file is None or file.core_metadata is None or file.url in self._tasks:
            return
        self._held[file.url] = []  # before the task: its first step runs now (start_task), and may tell
        try:
            self._tasks[file.url] = start_task(self._fetch_and_open(candidate.name, str(candidate.version), file,
                                                                    guess=True))
        except BaseException:  # an interrupt in that step: no guess, as if never made
            del self._held[file.url]
            raise

    def metadata_of_guess(self, candidate: Candidate) -> Awaitable[bytes | None] | None:
        """The METADATA of ``candidate``'s wheel, from its guess, where the wheel is guessed
        and its size (as the index gives it) at most :attr:`SMALL`; else None. The bytes
        come from the wheel once it is verified and has passed every check (:mod:`.wheels`);
        the awaitable gives None if the guess fails or is cancelled."""
        file = candidate.file
        if file is None or not _small(file, self.SMALL) or file.url not in self._held:
            return None  # not a guess (or adopted: resolution is over)
        return _metadata_file(self._tasks[file.url])  # guess() made both

    async def get(self, dist: ResolvedDist) -> UnpackedWheel:
        """The planned wheel of ``dist`` (verified and validated), from its guess or fetched now."""
        assert dist.file is not None
        url = dist.file.url
        self._adopted.add(url)  # before the task starts: its first step runs now (start_task)
        if url not in self._tasks:
            self._tasks[url] = start_task(self._fetch_and_open(dist.name, str(dist.version), dist.file))
        for tell in self._held.pop(url, []):
            tell()
        return await self._tasks[url]

    async def resolved(self) -> None:
        """Resolution is over: guesses no longer wait for a turn."""
        self._guessing = False
        async with self._turns:
            self._turns.notify_all()

    def keep_only(self, urls: Collection[str]) -> None:
        """The plan is known: stop the guesses it does not use now, not at the end of the
        install, so they use the link no longer (:meth:`cancel_unused` waits for them)."""
        for url, task in self._tasks.items():
            if url not in urls:
                task.cancel()

    async def cancel_unused(self) -> None:
        """The install is over: no guess starts any more, and every download still under way
        ends (guesses the plan did not use; after a failure, planned ones too), with the
        errors of the unused ones taken (none is left for the event loop to report)."""
        self._guessing = False
        unused = [t for url, t in self._tasks.items() if url not in self._adopted or not t.done()]
        for task in unused:
            task.cancel()
        await asyncio.gather(*unused, return_exceptions=True)

    def _emit(self, url: str, *event: Any) -> None:
        self._tell(url, lambda: self.emit(*event))

    def _tell(self, url: str, tell: Callable[[], None]) -> None:
        """Call ``tell`` now, or, for a guess the plan has not adopted, once it is (never if
        it is not)."""
        if url in self._held and url not in self._adopted:
            self._held[url].append(tell)
        else:
            tell()

    def _retry(self, url: str, restart: Callable[[], None]) -> RetryPolicy:
        """The retry policy for the download of ``url``: a guess's retries are told as its
        other events are, and ``restart`` is called for each try made again."""
        on_retry = self.retry.on_retry

        def retried(project: str | None, text: str) -> None:
            if on_retry is not None:
                self._tell(url, lambda: on_retry(project, text))
            restart()

        return replace(self.retry, on_retry=retried)

    async def _fetch_and_open(self, name: str, version: str, file: IndexFile, guess: bool = False) -> UnpackedWheel:
        counted = not _small(file, self.SMALL)  # a turn is for a larger wheel (see GUESSES_AT_ONCE)
        if guess and counted:
            async with self._turns:
                await self._turns.wait_for(lambda: not self._guessing or self._running < self.GUESSES_AT_ONCE)
        self._running += counted
        sink = self.prestage(file.url) if self.prestage is not None else None
        # Members inflate, hash (and are written, into staging) while the rest downloads.
        streamed = MemberStream(self.hasher, sink=sink)
        told = [-1]  # the last byte count told
        tried, attempts = [1], max(1, self.retry.attempts)

        def restart() -> None:
            # A try made again counts its own bytes, from 0: said so by an event of its own
            # ("try 2 of 4"), since a count that just went back (450 of 901, then 225) reads
            # as a broken progress bar; and the whole file is told again at its end.
            tried[0] += 1
            told[0] = -1
            self._emit(file.url, "downloading", name, 0, file.size, f"try {tried[0]} of {attempts}")

        def on_bytes(done: int, total: int | None) -> None:
            # The transport's total is the Content-Length, which counts the bytes on the wire:
            # a body sent compressed (Content-Encoding: gzip) arrives longer than it. The
            # index's size is the one the body is checked against; past either, none is known
            # (a listener is never told of more done than its total).
            if file.size is not None:
                total = file.size
            if total is not None and done > total:
                total = None
            told[0] = done if done == total else -1
            self._emit(file.url, "downloading", name, done, total)

        try:
            try:
                fetched = await fetch_wheel(self.transport, WheelRequest(name, file), retry=self._retry(file.url, restart),
                                            allow_unhashed=self.allow_unhashed, prefetched=self.prefetched,
                                            cache=self.cache, hasher=self.hasher, on_data=streamed.feed,
                                            on_bytes=on_bytes)
            finally:
                self._running -= counted
                async with self._turns:
                    self._turns.notify_all()
            body = fetched.body
            if told[0] != len(body):  # the whole file, once (a cache or a transport without progress told nothing)
                self._emit(file.url, "downloading", name, len(body), len(body),
                           FROM_CACHE if fetched.source == "cache" else "")
            self._emit(file.url, "unpacking", name)
            wheel = await open_wheel_async(file.filename, body, self.hasher, expected_name=name,
                                           expected_version=version, streamed=streamed,
                                           record_checked=fetched.source == "cache"
                                           and bool(getattr(self.cache, "holds_checked_wheels", False)))
            if fetched.notes:
                wheel = replace(wheel, notes=fetched.notes + wheel.notes)
            if fetched.source == "network" and self.cache is not None and fetched.sha256:
                try:
                    # Keyed by the body's own sha256, not the index's (which may be wrong).
                    await self.cache.put(fetched.sha256, body, fetched.kept)
                except Exception:  # noqa: BLE001 - full, or gone: the wheel is not kept, and the install goes on
                    pass
            return wheel
        except BaseException:
            if sink is not None:
                sink.close()  # what it wrote goes now, not with the staging folder
            raise
        finally:
            streamed.close()  # a failed or cancelled download leaves no hashing behind


def _small(file: IndexFile, limit: int) -> bool:
    return file.size is not None and 0 <= file.size <= limit


async def _metadata_file(task: asyncio.Future[UnpackedWheel]) -> bytes | None:
    # Shielded: whoever waits here (the crawl) and is cancelled leaves the download alone.
    try:
        wheel = await asyncio.shield(task)
    except asyncio.CancelledError:
        if not task.cancelled():
            raise  # the waiter was cancelled, not the guess
        return None
    except Exception:  # noqa: BLE001 - get() raises it where the plan uses this wheel
        return None
    return wheel.metadata_file
