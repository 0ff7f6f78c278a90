"""The native side of the seams: urllib for HTTP, used by the lock command off-browser; and
files written whole, for the commands that save wheels and pages (lock, index)."""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import itertools
import os
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from urllib.parse import quote, unquote, urlsplit

from .credentials import OriginCredentials, same_origin, strip_credentials
from .errors import NetworkError, redact_url
from .seams import BODY_PIECE, BodyPieces, ByteProgress, Response, Transport, hand_over_whole

# What a URL keeps as it is when its other characters are quoted (RFC 3986's reserved and
# unreserved ones, and "%": what is quoted already stays so).
_URL_SAFE = ":/?#[]@!$&'()*+,;=%~-._"


_SCHEMES = ("http", "https")
_READ = 64 * 1024  # a body read without on_data, in reads of this size (each one counts as activity)
T = TypeVar("T")


async def _call(callback: BodyPieces, offset: int, piece: bytes, given_up: threading.Event,
                caller: asyncio.Task[Any] | None) -> None:
    # Checked here, on the event loop, and not only in the reading thread: a piece read
    # just before the caller was cancelled would reach it afterwards (a download's members
    # inflated and hashed on, for nobody). The caller's pending cancellation too: given_up
    # is set only when the cancelled caller next runs, and this step may come before it.
    if given_up.is_set() or (caller is not None and caller.cancelling()):
        raise _GivenUp
    callback(offset, piece)


class _GivenUp(Exception):
    """Ends a read whose caller was cancelled (UrllibTransport.get)."""


class _Redirects(urllib.request.HTTPRedirectHandler):
    """Follow redirects as browsers do: only to http(s), and Authorization stays behind when
    one leaves the origin (urllib itself would copy it to any host)."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        if urlsplit(newurl).scheme.lower() not in _SCHEMES:
            raise urllib.error.HTTPError(newurl, code, f"redirect to a non-HTTP URL refused ({msg})", headers, fp)
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None and not same_origin(new.full_url, req.full_url):
            new.remove_header("Authorization")
        return new


async def _in_thread(function: Callable[..., T], *args: Any) -> T:
    """``function(*args)`` in a daemon thread of its own, awaited: unlike ``asyncio.to_thread``'s
    pool, a request blocked in its socket does not hold up the process's exit (Ctrl-C ends
    a lock at once, not after the request's timeout)."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(result: Any, error: BaseException | None) -> None:
        if future.cancelled():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)

    def run() -> None:
        try:
            result, error = function(*args), None
        except BaseException as exc:  # noqa: BLE001 - handed to the awaiting task
            result, error = None, exc
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
            loop.call_soon_threadsafe(settle, result, error)

    threading.Thread(target=run, name="pyemscripten-request", daemon=True).start()
    return await future


class UrllibTransport(Transport):
    """Blocking urllib in worker threads (``concurrency`` at once). HTTP error statuses are
    returned, not raised.

    Only http(s) URLs: urllib would also open ``file:`` and ``ftp:`` URLs an index names.
    The one exception is ``local``, the local indexes the user named (folders the ``index``
    command wrote), each as ``(its file: URL, ending in "/", its folder)``: a URL under one
    of those URLs is read from inside its folder as a static server would serve it (a URL
    ending in ``/`` is its folder's ``index.html``; a missing file is a 404, an unreadable
    one a 403), and nothing outside the folder is read, through ``..`` or a link. ``files``:
    the ``file:`` URLs of wheels the user named themselves (``name @ file:///...``), each
    read as it is, and no other file beside it.
    """

    def __init__(self, timeout: float = 60.0, local: Sequence[tuple[str, str | os.PathLike[str]]] = (),
                 concurrency: int = 8, files: Sequence[str] = ()) -> None:
        self.timeout = timeout
        self.concurrency = concurrency
        self._turns: tuple[asyncio.AbstractEventLoop, asyncio.Semaphore] | None = None  # per loop
        self._waiting: dict[int, list[Any]] = {}  # requests under way: [URL, when a byte last came (or it was made)]
        self._keys = itertools.count()
        self._credentials = OriginCredentials()  # URLs with user:password@, as in FetchTransport
        self._opener = urllib.request.build_opener(_Redirects)
        self._local = [(url, os.path.realpath(folder)) for url, folder in local]
        self._files = frozenset(files)

    async def get(
        self,
        url: str,
        headers: Mapping[str, str] | None = None,
        on_progress: ByteProgress | None = None,
        on_data: BodyPieces | None = None,
    ) -> Response:
        loop = asyncio.get_running_loop()
        if self._turns is None or self._turns[0] is not loop:  # a semaphore serves one loop
            self._turns = (loop, asyncio.Semaphore(self.concurrency))
        async with self._turns[1]:
            key = next(self._keys)
            entry = self._waiting[key] = [redact_url(strip_credentials(url)), time.monotonic()]  # said in progress lines
            try:
                return await self._get_now(url, headers, on_progress, on_data, entry)
            finally:
                del self._waiting[key]

    def waiting(self) -> list[tuple[str, float]]:
        """The requests under way, each as (its URL without credentials, for how many seconds
        no byte of it has come), the longest first: what a stalled lock is waiting for (a
        request is given up after ``timeout`` seconds without a byte)."""
        now = time.monotonic()
        return sorted(((url, now - since) for url, since in self._waiting.values()), key=lambda w: -w[1])

    async def _get_now(
        self,
        url: str,
        headers: Mapping[str, str] | None,
        on_progress: ByteProgress | None,
        on_data: BodyPieces | None,
        entry: list[Any],
    ) -> Response:
        url, prepared = self._credentials.prepare(url, headers)
        try:
            scheme = urlsplit(url).scheme.lower()
        except ValueError as exc:  # e.g. "http://[": not a URL
            raise NetworkError(url, f"not a URL ({exc})") from None
        if scheme == "file" and (self._local or url in self._files):
            response = await _in_thread(self._read_local, url)
            if response.status == 200:
                hand_over_whole(response.body, on_data)
            return response
        if scheme not in _SCHEMES:
            raise NetworkError(url, "only http and https URLs are fetched")
        deliver = None
        given_up = threading.Event()  # the caller no longer waits: on_data hears nothing more
        if on_data is not None:
            loop, caller = asyncio.get_running_loop(), asyncio.current_task()

            def deliver(offset: int, piece: bytes) -> None:
                # From the reading thread: on_data runs on the event loop, piece after piece,
                # and what it raises ends the read (as in the browser's transport).
                if given_up.is_set():
                    raise _GivenUp
                handed = _call(on_data, offset, piece, given_up, caller)
                asyncio.run_coroutine_threadsafe(handed, loop).result(self.timeout)
        try:
            return await _in_thread(self._get, url, prepared, deliver, entry)
        except asyncio.CancelledError:
            given_up.set()
            raise

    def _get(self, url: str, headers: dict[str, str], deliver: BodyPieces | None = None,
             entry: list[Any] | None = None) -> Response:
        """``entry[1]`` (:meth:`waiting`'s clock) is set as each piece comes."""
        # What a browser sends for a URL with other than ASCII in it (an IRI): its UTF-8, quoted.
        try:
            wire = url if url.isascii() else quote(url, safe=_URL_SAFE)
        except UnicodeEncodeError:  # a lone surrogate (JSON's "\udc80") has no UTF-8: shown escaped
            raise NetworkError(url.encode("utf-8", "backslashreplace").decode("utf-8"),
                               "not a URL (it holds a lone surrogate, which is no Unicode text)") from None
        problem = url_problem(wire)
        if problem is not None:
            raise NetworkError(url, f"not a URL ({problem})")
        try:
            request = urllib.request.Request(wire, headers={"User-Agent": "pyemscripten", **headers})
        except ValueError as exc:
            raise NetworkError(url, f"not a URL ({exc})") from None
        try:
            with self._opener.open(request, timeout=self.timeout) as answer:
                parts: list[bytes] = []
                done = 0
                while piece := answer.read(BODY_PIECE if deliver is not None else _READ):
                    if entry is not None:
                        entry[1] = time.monotonic()
                    if deliver is not None:
                        deliver(done, piece)
                    parts.append(piece)
                    done += len(piece)
                body = b"".join(parts)
                # http.client's read(n) ends quietly when the server closes before the
                # Content-Length is reached (what is left stays in ``length``): a page cut
                # short would parse as a page with fewer files. A broken answer, tried again.
                missing = getattr(answer, "length", None)
                if missing:
                    raise http.client.IncompleteRead(body, missing)
                return Response(answer.geturl(), answer.status, body, {k.lower(): v for k, v in answer.headers.items()})
        except urllib.error.HTTPError as exc:
            try:
                page = exc.read() or b""
            except (http.client.HTTPException, OSError):  # an error page cut short: its status is the answer
                page = b""
            return Response(url, exc.code, page, {k.lower(): v for k, v in exc.headers.items()})
        except (http.client.InvalidURL, ValueError, UnicodeError) as exc:  # a space, a port "abc"; IDNA
            raise NetworkError(url, f"not a URL ({exc})") from None
        except (urllib.error.URLError, OSError) as exc:
            raise NetworkError(url, str(getattr(exc, "reason", exc)), native=True) from None
        except http.client.HTTPException as exc:  # a broken answer (IncompleteRead, BadStatusLine): tried again
            raise NetworkError(url, f"the answer broke off ({type(exc).__name__}: {exc})", native=True) from None

    def _read_local(self, url: str) -> Response:
        """A ``file:`` URL under one of the local indexes' URLs, as a static server answers it."""
        def outside(how: str) -> NetworkError:  # "only http" first: NetworkError.transient says no
            return NetworkError(url, "only http and https URLs are fetched, and file: URLs inside the local indexes "
                                     f"given (--index-url FOLDER): this one {how} outside them")

        if url in self._files:  # the user's own wheel, named by its URL: that one file
            split = urlsplit(url)  # a Windows share keeps its host: file://server/share/x.whl
            path = urllib.request.url2pathname(f"//{split.netloc}{split.path}" if split.netloc not in ("", "localhost")
                                               else split.path)
            if "\0" in path:  # no such file (open would raise ValueError)
                return Response(url, 404, b"", {})
        else:
            under = next(((prefix, folder) for prefix, folder in self._local if url.startswith(prefix)), None)
            if under is None or "?" in url:
                raise outside("is")
            prefix, folder = under
            parts = unquote(url[len(prefix):]).split("/")
            if url.endswith("/"):
                parts[-1] = "index.html"
            try:
                path = os.path.realpath(os.path.join(folder, *parts))
            except ValueError:  # a NUL in the name: no such file
                return Response(url, 404, b"", {})
            if not path.startswith(folder.rstrip(os.sep) + os.sep):
                raise outside("leads")
        try:
            with open(path, "rb") as file:
                body = file.read()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return Response(url, 404, b"", {})
        except OSError:  # unreadable: as a static server answers
            return Response(url, 403, b"", {})
        kind = "text/html" if path.endswith(".html") else "application/octet-stream"
        return Response(url, 200, body, {"content-type": kind, "content-length": str(len(body))})


def url_problem(url: str) -> str | None:
    """Why the http(s) URL ``url`` cannot be fetched as it is written, or None: the lock
    command says it of an argument before resolving, and the transport of a requirement's
    URL instead of urllib's exception (not tried again)."""
    if any(c.isspace() or not c.isprintable() for c in url):
        return "it has a space or a control character in it (copied with one?)"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is no number (or out of range)
    except ValueError as exc:
        return str(exc)
    if not parts.hostname:
        return "it names no host (such as https://pypi.org/simple/)"
    try:
        parts.hostname.encode("idna")
    except UnicodeError:
        return f"{parts.hostname!r} is not a host name"
    return None


def write_file_whole(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``path`` through a file of its own in the same folder, renamed into place: a
    server reading the folder meanwhile (or another run writing it) sees the old file or
    the new one, never half of one. A new file gets the mode a plain ``open`` would give
    (0666 less the umask), not ``mkstemp``'s 0600: a web server running as another user
    must be able to read it; a file replaced keeps its own mode."""
    path = os.path.realpath(path)  # a link (a lock linked from elsewhere) stays one: its target is written
    folder = os.path.dirname(path) or "."
    handle, partial = tempfile.mkstemp(dir=folder, prefix=".", suffix=".part")
    try:
        if hasattr(os, "fchmod"):
            try:
                mode = os.stat(path).st_mode & 0o7777  # a file replaced keeps its mode
            except FileNotFoundError:
                umask = os.umask(0)
                os.umask(umask)
                mode = 0o666 & ~umask
            os.fchmod(handle, mode)
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(partial, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(partial)
        raise
