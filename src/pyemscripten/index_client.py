"""Fetching from simple indexes: project pages and PEP 658 metadata files.

Rule for several indexes (no dependency confusion): a project is taken whole from the
*first* index, in the order given, that has a page for it; later indexes are not asked
once one answered, and files are never mixed across indexes. An index that answers 404 (or
410) for a project is skipped; any other failure is an error, never silently skipped.

Transient failures (connection reset, timeout, HTTP 408/425/429/500/502/503/504) are retried a bounded
number of times with exponential backoff, each wait at most ``RetryPolicy.max_backoff``;
permanent ones (404, bad hash) are not.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from packaging.utils import canonicalize_name

from .credentials import lower_scheme, strip_credentials
from .distribution import DistributionEntry, parse_distribution_lock
from .errors import HashMismatchError, IndexFormatError, IndexHTTPError, NetworkError, ProjectNotFoundError, redact_url
from .index_pages import ACCEPT_HEADER, IndexFile, ProjectPage, parse_html_page, parse_project_page
from .seams import BodyPieces, ByteProgress, Response, Transport, start_task

DEFAULT_INDEX_URL = "https://pypi.org/simple/"


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4  # total tries, the first included
    backoff: float = 0.25  # seconds before the 2nd try; doubles each time
    # Told of each failed try that will be made again, before the wait: (project or None,
    # a line saying what failed, why, and when it is tried again). A stalled request is
    # otherwise silent until its timeout has passed on every try.
    on_retry: Callable[[str | None, str], None] | None = field(default=None, compare=False, repr=False)
    # The longest wait (seconds): doubling without end, a policy of many tries waited hours
    # (attempts=20: 0.25 * 2**18 s, three days, before the last), and past 2**1024 forever.
    max_backoff: float = 30.0


Sleep = Callable[[float], Awaitable[None]]


async def load_distribution(transport: Transport, url: str, retry: RetryPolicy,
                            files_url: str | None = None) -> dict[str, DistributionEntry]:
    """A runtime distribution's wheels, from its ``pyodide-lock.json`` at ``url`` (the wheels
    beside it, or in the folder ``files_url``, with or without its trailing slash)."""
    response = await get_ok(transport, url, project=None, what="runtime distribution lock", retry=retry)
    assert response is not None
    if files_url and not files_url.endswith("/"):
        # A folder, as Pyodide reads its packageBaseUrl (it adds the slash): joined as it
        # is, its last part was taken for a file's name and the wheels looked for in its parent.
        files_url += "/"
    return parse_distribution_lock(response.body, files_url or response.url or url)


async def get_ok(
    transport: Transport,
    url: str,
    *,
    project: str | None,
    what: str,
    retry: RetryPolicy,
    headers: Mapping[str, str] | None = None,
    allow_missing: bool = False,
    on_progress: ByteProgress | None = None,
    on_data: BodyPieces | None = None,
    sleep: Sleep = asyncio.sleep,
) -> Response | None:
    """GET ``url``, retrying transient failures. Returns None for 404/410 if ``allow_missing``.

    Raises :class:`IndexHTTPError` or :class:`NetworkError` once retries are spent; they name
    ``url`` without its credentials (the transport sends those as a header).
    """
    shown = strip_credentials(url)
    delay = min(retry.backoff, retry.max_backoff)
    refused: str | None = None  # the browser's refusal of the try before, if it said one
    # One try at least: a policy of 0 (or fewer) tries, meant as "no retries", made no
    # request at all and ended in the AssertionError below.
    attempts = max(1, retry.attempts)
    for attempt in range(1, attempts + 1):
        if on_data is not None:
            on_data(0, b"")  # a (new) start: whatever an earlier try streamed is void
        try:
            response = await transport.get(url, headers, on_progress, on_data)
        except NetworkError as exc:
            if not exc.transient:  # trying again cannot help
                raise replace(exc, url=shown, project=project) from None
            # A refusal by the browser (CORS) is tried once more, since an error page without
            # the header looks the same; twice in a row, it is the server's answer.
            if attempt == attempts or (refused is not None and exc.refused_by == refused):
                raise replace(exc, url=shown, reason=f"{exc.reason} (after {attempt} tries)", project=project) from None
            refused = exc.refused_by
            reason = exc.why
        else:
            if 200 <= response.status < 300:
                return response
            if allow_missing and response.status in (404, 410):
                return None
            error = IndexHTTPError(shown, response.status, project, what)
            if not error.transient or attempt == attempts:
                raise error
            reason = f"HTTP {response.status}"
            refused = None  # the page could read this answer: a refusal after it is not "twice in a row"
        if retry.on_retry is not None:
            retry.on_retry(project, f"{project + ': ' if project else ''}{what} {redact_url(shown)} failed ({reason}); "
                                    f"trying again in {delay:g} s (try {attempt + 1} of {attempts})")
        await sleep(delay)
        delay = min(delay * 2, retry.max_backoff)
    raise AssertionError("unreachable")  # pragma: no cover


_PEEK = 64 * 1024


def _links_wheels(start: bytes, url: str) -> bool:
    """Whether ``start``, the first bytes of the page at ``url``, links a wheel file, read as
    a project page is read (:func:`~.index_pages.parse_html_page`). A pattern of its own
    disagreed with that reading: it missed links the URL parser cleans (spaces around the
    URL, a newline in it), and took for wheels links the page reads as none (``x.whl notes``,
    one in a comment or a ``<link>``)."""
    if len(start) >= _PEEK:
        # Cut before the last tag, which the first 64 kB may end inside (with a character:
        # "<" is never a byte of a longer UTF-8 sequence).
        start = start[:max(start.rfind(b"<"), 0)]
    try:
        return bool(parse_html_page(start, url, "").files)
    except IndexFormatError:  # not UTF-8, or a newer API: no page this installer reads
        return False


class _Peeked(Exception):
    """Ends the read of a page once its first bytes are in (IndexClient._lists_wheels)."""


def project_url(index_url: str, project: str) -> str:
    return index_url.rstrip("/") + "/" + canonicalize_name(project) + "/"


class IndexClient:
    """Answers "which files does project X have" and "what does file Y depend on"."""

    def __init__(
        self,
        transport: Transport,
        index_urls: Sequence[str] = (DEFAULT_INDEX_URL,),
        retry: RetryPolicy = RetryPolicy(),
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.transport = transport
        # Schemes in lower case (RFC 3986 3.1: HTTPS:// is https://), as the URLs of the pages'
        # files are: the transports' checks and _lists_wheels compare the text.
        self.index_urls = [lower_scheme(url) for url in index_urls] or [DEFAULT_INDEX_URL]
        self.retry = retry
        self.sleep = sleep
        self.page_fetches = 0
        self.metadata_fetches = 0
        self._early: dict[str, asyncio.Future[ProjectPage]] = {}
        self._served: set[str] = set()  # index URLs that served a project page: indexes

    def prefetch_pages(self, projects: Iterable[str]) -> None:
        """Start fetching these projects' pages now; :meth:`project_page` takes them up.

        For the first requests of an install, which can leave before the caller's own
        set-up (reading the interpreter's configuration) instead of after it. Each task's
        first step runs here and makes its request (:func:`~.seams.start_task`); in a page
        the request leaves once the current browser task is over. :meth:`drop_prefetched`
        ends those never asked for.
        """
        for project in projects:
            name = canonicalize_name(project)
            if name not in self._early:
                self._early[name] = start_task(self._project_page(name))

    def drop_prefetched(self) -> None:
        """Cancel the prefetched pages no one asked for (their errors are dropped with them)."""
        for task in self._early.values():
            if task.done():
                if not task.cancelled():
                    task.exception()  # retrieved: no "exception was never retrieved" warning
            else:
                task.cancel()
        self._early.clear()

    async def project_page(self, project: str) -> ProjectPage:
        """The project's page from the first index that has it.

        Raises :class:`ProjectNotFoundError`, :class:`IndexHTTPError`, :class:`NetworkError`,
        :class:`~pyemscripten.errors.IndexFormatError`.
        """
        name = canonicalize_name(project)
        early = self._early.pop(name, None)
        if early is not None:
            return await early
        return await self._project_page(name)

    async def _project_page(self, name: str) -> ProjectPage:
        for index_url in self.index_urls:
            url = project_url(index_url, name)
            self.page_fetches += 1
            response = await get_ok(
                self.transport, url, project=name, what="project page", retry=self.retry,
                headers={"Accept": ACCEPT_HEADER}, allow_missing=True, sleep=self.sleep,
            )
            if response is None:
                continue
            self._served.add(index_url)
            return parse_project_page(response.body, response.url or url, response.content_type, name)
        raise ProjectNotFoundError(name, [strip_credentials(u) for u in self.index_urls])

    async def wheel_folders(self) -> list[str]:
        """The index URLs whose own page links wheel files in its first 64 kB: folders of
        wheels, as ``python -m http.server`` lists one, given where an index belongs. Asked
        only once a project was found nowhere, to say why; an index that served a project
        page in this session is one, and is not asked."""
        asked = [url for url in self.index_urls if url not in self._served]
        found = await asyncio.gather(*(self._lists_wheels(url) for url in asked))
        return [strip_credentials(url) for url, listed in zip(asked, found) if listed]

    async def _lists_wheels(self, url: str) -> bool:
        if url.rstrip("/") == DEFAULT_INDEX_URL.rstrip("/"):
            return False  # an index, whose own page is tens of MB
        seen = bytearray()

        def take(offset: int, piece: bytes) -> None:
            del seen[offset:]
            seen.extend(piece)
            if len(seen) >= _PEEK:
                raise _Peeked  # enough: the transport stops the transfer

        try:
            response = await self.transport.get(url, {"Accept": "text/html", "Range": f"bytes=0-{_PEEK - 1}"}, None,
                                                take)
            body = response.body if 200 <= response.status < 300 else b""
        except _Peeked:  # the transport stopped reading once on_data had the first 64 kB (or more)
            body = bytes(seen)
        except Exception:  # noqa: BLE001 - this only adds to an error already there
            return False
        return _links_wheels(body[:_PEEK], url)

    async def core_metadata(self, project: str, file: IndexFile) -> bytes:
        """The PEP 658 metadata file of ``file``, checked against its hash when one is given."""
        self.metadata_fetches += 1
        response = await get_ok(
            self.transport, file.metadata_url, project=project, what="metadata file",
            retry=self.retry, sleep=self.sleep,
        )
        assert response is not None
        # Every hash given that hashlib knows is checked (PEP 658: any hashlib algorithm).
        for algorithm, expected in file.core_metadata or ():
            try:
                got = hashlib.new(algorithm, response.body).hexdigest()
            except (ValueError, TypeError):  # an algorithm this interpreter lacks (or shake_*, of no fixed length)
                continue
            if got != expected:
                raise HashMismatchError(file.filename + ".metadata", file.metadata_url, algorithm, expected, got,
                                        project)
        return response.body
