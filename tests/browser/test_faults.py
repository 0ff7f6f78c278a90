"""Issue 8 in real Chromium: every fault tried, nothing lost, nothing let in.

One booted page serves the whole module (a boot costs seconds; the rows cost less). That is
safe because every row uses its own project names, the server's files and faults are reset
after each row (the ``index_server`` fixture), and every row checks that the page's
site-packages is exactly what it was: a row that left something behind fails itself.

Rows are data (:class:`Fault`): what to put on the index and which fault to inject, then
what must come out: the error type (a ``PyemscriptenError`` subclass), words the message
must hold (the package, file or URL, and the reason), and how often the server was asked
(transient faults are retried a bounded number of times, permanent ones never).
"""

from __future__ import annotations

import gzip
import hashlib
import random
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.support.browser import PyodideSession, boot
from tests.support.index_server import IndexServer
from tests.support.page_state import (
    MALFORMED_SO,
    PAGE_HELPERS,
    UNCOMPILABLE_SO,
    blob,
    boot_with_helpers,
    flipped,
    large,
    padded,
    pure,
)
from tests.support.wheels import WheelBytes, make_wheel

ATTEMPTS = 3  # tries per request in these tests (the first included)
BACKOFF = 0.05  # seconds before the 2nd try; doubles each time
PLATFORM_TAG = "cp314-cp314-pyemscripten_2026_0_wasm32"

ATTEMPT = "await attempt(requirement, index_url, fetch_timeout, attempts, backoff, **options)"


@pytest.fixture(scope="module")
def page(browser: object, session_index_server: IndexServer) -> Iterator[PyodideSession]:
    session = boot_with_helpers(browser, session_index_server)
    yield session
    session.close()


# --- the rows --------------------------------------------------------------------------------


@dataclass
class Ctx:
    """What a row's setup made: names to look for in the message and paths to count."""

    server: IndexServer
    project: str
    wheel: WheelBytes | None = None

    @property
    def filename(self) -> str:
        assert self.wheel is not None
        return self.wheel.filename

    @property
    def page_path(self) -> str:
        return f"/simple/{self.project}/"

    @property
    def wheel_path(self) -> str:
        return f"/files/{self.filename}"

    @property
    def metadata_path(self) -> str:
        return f"/files/{self.filename}.metadata"

    def serve(self, wheel: WheelBytes, **kwargs: object) -> None:
        self.wheel = wheel
        self.server.default.add_wheel(wheel, **kwargs)

    def path(self, where: str) -> str:
        """The request path of "page", "metadata", "wheel", or "attacker" (a project that
        a tampered file asks for: it must never be looked up)."""
        return {"page": self.page_path, "metadata": self.metadata_path, "wheel": self.wheel_path,
                "attacker": "/simple/fault-attacker-choice/"}[where]

    def fault(self, where: str, **effects: object) -> None:
        self.server.add_fault(self.path(where), **effects)


Setup = Callable[[Ctx], None]


@dataclass(frozen=True)
class Fault:
    id: str
    setup: Setup
    error: str
    says: tuple[str, ...]  # besides the project/file/URL: the reason, in the message's words
    # (where, expected requests): see Ctx.path
    requests: tuple[tuple[str, int], ...] = ()
    timeout: float = 10.0
    # What the message must name: "project", "file" (the wheel), "url", "path" (the file in
    # site-packages) or "any" of the first three.
    names: str = "any"
    options: dict = field(default_factory=dict)


def served(**kwargs: object) -> Setup:
    """Serve a valid pure wheel (``make_wheel`` knobs in ``kwargs`` break it)."""
    def setup(c: Ctx) -> None:
        c.serve(pure(c.project, **kwargs))
    return setup


def faulted(where: str, **effects: object) -> Setup:
    """Serve a valid pure wheel, and inject a fault into one of its requests (a large one for
    a fault of its ``.metadata`` file: a small wheel gives its METADATA itself)."""
    def setup(c: Ctx) -> None:
        c.serve(large(c.project) if where == "metadata" else pure(c.project))
        c.fault(where, **effects)
    return setup


def status_rows() -> list[Fault]:
    rows = []
    for where, what in (("page", "project page"), ("metadata", "metadata file"), ("wheel", "wheel")):
        for status in (404, 500, 503):
            transient = status != 404
            if where == "page" and status == 404:
                row = Fault(f"{where}-{status}", faulted(where, status=status), "ProjectNotFoundError",
                            ("No index has a project named",), ((where, 1),), names="project")
            else:
                row = Fault(f"{where}-{status}", faulted(where, status=status), "IndexHTTPError",
                            (f"HTTP {status}", f"the {what} http://"),
                            ((where, ATTEMPTS if transient else 1),), names="url")
            rows.append(row)
    return rows


def _wrong_hash(c: Ctx) -> None:
    c.serve(pure(c.project))
    c.fault("wheel", body=flipped(bytes(c.wheel)))


def _tampered_read_for_metadata(c: Ctx) -> None:
    # No .metadata file: the resolver opens the wheel itself, and must check its hash first.
    honest, swapped = pure(c.project), pure(c.project, requires=["fault-attacker-choice"])
    size = max(len(honest), len(swapped))  # the same size: only the hash can tell
    c.serve(WheelBytes(padded(honest, size), honest.filename, honest.metadata), core_metadata=False)
    c.fault("wheel", body=padded(swapped, size))


def _tampered_guess_read_for_metadata(c: Ctx) -> None:
    # A .metadata file is offered, but the wheel is small: the crawl would take METADATA from
    # the wheel it guessed, which must pass its hash (and every check) before it is read; it
    # fails, so the .metadata file is asked for, and the wheel is refused when it is needed.
    honest, swapped = pure(c.project), pure(c.project, requires=["fault-attacker-choice"])
    size = max(len(honest), len(swapped))  # the same size: only the hash can tell
    c.serve(WheelBytes(padded(honest, size), honest.filename, honest.metadata))
    c.fault("wheel", body=padded(swapped, size))


def _metadata_tampered(c: Ctx) -> None:
    c.serve(large(c.project))
    c.fault("metadata", body=f"Metadata-Version: 2.1\nName: {c.project}\nVersion: 1.0\n"
                             "Requires-Dist: something-evil\n".encode())


def _truncated(mode: str) -> Setup:
    def setup(c: Ctx) -> None:
        c.serve(pure(c.project, files=blob(c.project)))
        c.fault("wheel", truncate=len(c.wheel) // 2, truncate_mode=mode)
    return setup


def _reset(c: Ctx) -> None:
    c.serve(pure(c.project, files=blob(c.project)))
    c.fault("wheel", reset_after=100)


def _not_a_zip(with_metadata: bool) -> Setup:
    def setup(c: Ctx) -> None:
        good = pure(c.project)
        junk = WheelBytes(b"this is not a zip archive\n" * 20, good.filename, good.metadata)
        c.serve(junk, metadata=good.metadata if with_metadata else None)
    return setup


def _garbage_metadata_inside(c: Ctx) -> None:
    good = pure(c.project)
    c.serve(pure(c.project, bad_metadata=True), metadata=good.metadata)


def _shared_library(so: bytes) -> Setup:
    def setup(c: Ctx) -> None:
        module = c.project.replace("-", "_")
        c.serve(make_wheel(c.project, "1.0", {f"{module}/__init__.py": b"", f"{module}/_ext.so": so},
                           tag=PLATFORM_TAG))
    return setup


def _index_option(name: str, value: object, body: bytes | None = None) -> Setup:
    def setup(c: Ctx) -> None:
        c.serve(pure(c.project))
        setattr(c.server.default, name, value)
        if body is not None:
            c.fault("page", body=body)
    return setup


ROWS: list[Fault] = [
    # downloads: hash, size, connection
    Fault("wheel-wrong-hash", _wrong_hash, "HashMismatchError", ("Hash mismatch", "expected sha256="),
          (("wheel", 1),), names="file"),
    Fault("wheel-read-for-metadata-wrong-hash", _tampered_read_for_metadata, "HashMismatchError",
          ("Hash mismatch",), (("wheel", 1), ("attacker", 0)), names="file"),
    Fault("small-wheel-read-for-metadata-wrong-hash", _tampered_guess_read_for_metadata, "HashMismatchError",
          ("Hash mismatch",), (("wheel", 1), ("metadata", 1), ("attacker", 0)), names="file"),
    Fault("metadata-wrong-hash", _metadata_tampered, "HashMismatchError", ("Hash mismatch", ".whl.metadata"),
          (("metadata", 1),), names="file"),
    Fault("wheel-no-hash", lambda c: c.serve(pure(c.project), hashes=False), "MissingHashError",
          ("No sha256 (or stronger) hash is given", "allow_unhashed=True"), (("wheel", 0),), names="file"),  # refused unfetched
    Fault("body-truncated", _truncated("length"), "SizeMismatchError", ("Incomplete download", "bytes, got"),
          (("wheel", 1),), names="file"),
    Fault("body-cut-off", _truncated("close"), "NetworkError", ("Network error", f"after {ATTEMPTS} tries"),
          (("wheel", ATTEMPTS),), names="url"),
    Fault("connection-reset", _reset, "NetworkError", ("Network error", f"after {ATTEMPTS} tries"),
          (("wheel", ATTEMPTS),), names="url"),
    Fault("slow-server", faulted("wheel", delay=3.0), "NetworkError", ("timed out after 400 ms",),
          (("wheel", ATTEMPTS),), timeout=0.4, names="url"),
    # HTTP status on each kind of request
    *status_rows(),
    # index pages
    Fault("json-unparseable", faulted("page", body=b'{"meta": {"api-version": "1.1"}, "files": ['),
          "IndexFormatError", ("Cannot parse the index page", "not valid JSON"), (("page", 1),), names="url"),
    Fault("json-wrong-shape", faulted("page", body=b'{"meta": {"api-version": "1.1"}, "files": {}}'),
          "IndexFormatError", ("'files' is missing or not a list",), (("page", 1),), names="url"),
    Fault("json-newer-api", _index_option("api_version", "2.0"), "IndexFormatError",
          ("API version 2.0 is newer",), (("page", 1),), names="url"),
    Fault("html-not-utf8", _index_option("html_only", True, b"<html><a href='x'>\xff\xfe</a></html>"),
          "IndexFormatError", ("not UTF-8",), (("page", 1),), names="url"),
    # wheel archives
    Fault("not-a-zip", _not_a_zip(with_metadata=True), "WheelError", ("not a readable zip archive",),
          (("wheel", 1),), names="file"),
    Fault("not-a-zip-read-for-metadata", _not_a_zip(with_metadata=False), "MetadataError",
          ("not a readable zip archive",), (("wheel", 1),), names="file"),
    Fault("member-dotdot", served(files={"../../../../tmp/escaped.py": b"x"}), "UnsafePathError",
          ("'..' in path",), names="file"),
    Fault("member-absolute", served(files={"/tmp/absolute.py": b"x"}), "UnsafePathError",
          ("absolute path",), names="file"),
    Fault("member-symlink", served(symlinks={"fault_member_symlink/link": "/etc/passwd"}), "UnsafePathError",
          ("symbolic links are not allowed",), names="file"),
    Fault("record-mismatch", served(bad_record=True), "RecordError", ("hash mismatch: RECORD says",),
          names="file"),
    Fault("record-missing", served(record=False), "RecordError", ("no RECORD",), names="file"),
    Fault("record-unlisted-member", served(unrecorded=["fault_record_unlisted_member/__init__.py"]),
          "RecordError", ("not listed in RECORD",), names="file"),
    # metadata
    Fault("metadata-file-garbage", lambda c: c.serve(large(c.project, bad_metadata=True)), "MetadataError",
          ("Bad metadata", "Name or Version is missing"), names="file"),
    Fault("metadata-in-wheel-garbage", _garbage_metadata_inside, "MetadataError",
          ("METADATA has no Name or no Version",), names="file"),
    Fault("name-disagrees", served(metadata_name="someone-else"), "MetadataError",
          ("METADATA says Name 'someone-else'",), names="file"),
    Fault("version-disagrees", served(metadata_version="2.0"), "MetadataError",
          ("METADATA says Version '2.0'",), names="file"),
    Fault("dist-info-disagrees", served(dist_info="other-1.0"), "WheelError",
          ("does not match the file name",), names="file"),
    # shared libraries
    Fault("dylink-malformed", _shared_library(MALFORMED_SO), "DylinkError",
          ("Malformed WebAssembly side module", "_ext.so", "truncated"), names="path"),
    Fault("library-does-not-compile", _shared_library(UNCOMPILABLE_SO), "LibraryLoadError",
          ("_ext.so", "failed"), names="project"),
]


def _project(row_id: str) -> str:
    return "fault-" + row_id


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_fault(row: Fault, page: PyodideSession, index_server: IndexServer) -> None:
    ctx = Ctx(index_server, _project(row.id))
    row.setup(ctx)
    before, outside = page.run("listing()"), page.run("elsewhere()")
    index_server.reset_counts()

    err = page.run_expect_error(ATTEMPT, requirement=ctx.project, index_url=index_server.index_url,
                                fetch_timeout=row.timeout, attempts=ATTEMPTS, backoff=BACKOFF, options=row.options)

    assert err["type"] == row.error, err["traceback"]
    assert "PyemscriptenError" in err["mro"]
    message = err["message"]
    for words in row.says:
        assert words in message, message
    url = f"{index_server.url}{ctx.wheel_path}" if ctx.wheel else ""
    named = {"project": [ctx.project], "file": [ctx.filename] if ctx.wheel else [],
             "url": [index_server.url + "/"], "any": [ctx.project, ctx.filename, url],
             "path": [f"site-packages/{ctx.project.replace('-', '_')}/"]}[row.names]
    assert any(n and n in message for n in named), (row.names, message)
    for where, expected in row.requests:
        assert index_server.count(ctx.path(where)) == expected, (where, index_server.log)

    events = page.run("events")
    assert events[-1]["stage"] == "error" and events[-1]["message"] == message
    if row.error == "IndexHTTPError" and row.id.startswith("wheel-"):
        # An error page is not the wheel: no byte of it is told as downloaded (each try
        # made again is told as starting over at 0: "try 2 of 3").
        assert not [e for e in events if e["stage"] == "downloading" and e.get("done")], events
        tries = [e["message"] for e in events if e["stage"] == "downloading"]
        assert tries == (["try 2 of 3", "try 3 of 3"] if row.id in ("wheel-500", "wheel-503") else []), events
    assert page.run("listing()") == before
    assert page.run("elsewhere()") == outside
    assert page.run(f"import importlib.util; importlib.util.find_spec({ctx.project.replace('-', '_')!r})") is None


# --- transient faults heal; retries are bounded and back off ---------------------------------


@dataclass(frozen=True)
class Heal:
    id: str
    where: str
    effects: dict
    failures: int  # requests that fail before one succeeds


HEALS = [
    Heal("wheel-503-twice", "wheel", {"status": 503, "times": 2}, 2),
    Heal("wheel-reset-once", "wheel", {"reset_after": 10, "times": 1}, 1),
    Heal("wheel-cut-off-once", "wheel", {"truncate": 100, "times": 1}, 1),
    Heal("page-500-twice", "page", {"status": 500, "times": 2}, 2),
    Heal("metadata-502-once", "metadata", {"status": 502, "times": 1}, 1),
    Heal("page-slow-once", "page", {"delay": 2.0, "times": 1}, 1),
]


@pytest.mark.parametrize("heal", HEALS, ids=[h.id for h in HEALS])
def test_transient_fault_is_retried_with_backoff(heal: Heal, page: PyodideSession,
                                                 index_server: IndexServer) -> None:
    ctx = Ctx(index_server, "heal-" + heal.id)
    ctx.serve(large(ctx.project) if heal.where == "metadata" else pure(ctx.project, files=blob(ctx.project)))
    ctx.fault(heal.where, **heal.effects)
    before = page.run("listing()")
    index_server.reset_counts()
    backoff = 0.2
    report = page.run(f"str({ATTEMPT})", requirement=ctx.project,
                      index_url=index_server.index_url, fetch_timeout=1.0, attempts=ATTEMPTS, backoff=backoff,
                      options={})
    assert report.startswith(f"Installed {ctx.project}-1.0")
    assert index_server.count(ctx.path(heal.where)) == heal.failures + 1
    # Each try made again was told as it happened: a warning naming the package and the URL.
    warnings = [e for e in page.run("events") if e["stage"] == "warning"]
    assert [(e["package"], f"try {i + 2} of {ATTEMPTS}" in e["message"]) for i, e in enumerate(warnings)] \
        == [(ctx.project, True)] * heal.failures, warnings
    assert all(ctx.path(heal.where) in e["message"] and "trying again" in e["message"] for e in warnings), warnings
    # Backoff: 0.2 s before the 2nd try, 0.4 s before the 3rd.
    assert page.run("elapsed") >= sum(backoff * 2 ** i for i in range(heal.failures)) - 0.01
    after = page.run("listing()")
    added = {p for p in after if p not in before}
    assert {p for p in before if after.get(p) != before[p]} == set()
    module = ctx.project.replace("-", "_")
    assert added and all(p.startswith((module + "/", f"{module}-1.0.dist-info/")) for p in added), added
    assert page.run(f"import {module}; {module}.V") == "1.0"
    page.run(f"import pyemscripten, sys; pyemscripten.uninstall({ctx.project!r}); sys.modules.pop({module!r})")
    assert page.run("listing()") == before


def test_a_folder_of_wheels_given_as_an_index_is_said_to_be_one(page: PyodideSession,
                                                                 index_server: IndexServer) -> None:
    # As python -m http.server lists a folder: links to the files, no page per project.
    listing = ("<html><body><ul>" + "".join(f'<li><a href="{n}">{n}</a></li>' for n in
               ("greet_app-1.0.0-py3-none-any.whl", "notes.txt")) + "</ul></body></html>").encode()
    index_server.mount("/wheelfolder/", {"index.html": listing})
    folder = f"{index_server.url}/wheelfolder/"
    err = page.run_expect_error(ATTEMPT, requirement="greet-app", index_url=folder, fetch_timeout=10.0,
                                attempts=ATTEMPTS, backoff=BACKOFF, options={})
    assert err["type"] == "ProjectNotFoundError", err["traceback"]
    assert err["message"].startswith(f"No index has a project named 'greet-app' (asked for: {folder}greet-app/). "
                                     f"{folder} lists wheel files: a folder of wheels, or one project's page, "
                                     "not a package index"), \
        err["message"]
    assert index_server.count(path="/wheelfolder/") == 1


# --- a server on another origin that does not allow the page (CORS) --------------------------


class _NoCors(BaseHTTPRequestHandler):
    """Answers every GET with a project page, and no Access-Control-Allow-Origin."""

    protocol_version = "HTTP/1.0"
    paths: list[str] = []

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass

    def do_GET(self) -> None:
        self.paths.append(self.path)
        body = b'{"meta": {"api-version": "1.1"}, "name": "fault-no-cors", "files": []}'
        self.send_response(200)
        self.send_header("Content-Type", "application/vnd.pypi.simple.v1+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def test_a_server_that_does_not_let_the_page_read_its_answers_is_named(page: PyodideSession,
                                                                       session_index_server: IndexServer) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _NoCors)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    index_url = f"http://127.0.0.1:{server.server_address[1]}/simple/"
    page_origin = session_index_server.index_url.split("/simple/")[0]
    try:
        _NoCors.paths.clear()
        err = page.run_expect_error(ATTEMPT, requirement="fault-no-cors", index_url=index_url, fetch_timeout=10.0,
                                    attempts=ATTEMPTS, backoff=BACKOFF, options={})
        warnings = [e["message"] for e in page.run("events") if e["stage"] == "warning"]
        # With credentials the browser asks with OPTIONS first, which this server does not answer.
        secret_url = index_url.replace("http://", "http://user:secret@")
        with_credentials = page.run_expect_error(ATTEMPT, requirement="fault-no-cors", index_url=secret_url,
                                                 fetch_timeout=10.0, attempts=1, backoff=BACKOFF, options={})
    finally:
        server.shutdown()
        server.server_close()
    assert err["type"] == "NetworkError", err["traceback"]
    message = err["message"]
    assert message.startswith(f"Network error for 'fault-no-cors' fetching {index_url}fault-no-cors/: Failed to "
                              "fetch (after 2 tries). The server answered, but the browser did not let "
                              f"this page ({page_origin}) read the answer (CORS)."), message
    assert f"Access-Control-Allow-Origin: * (or {page_origin}) with every answer" in message
    # Tried once more (an error page without the header looks the same), told with its
    # reason; refused twice in a row, it is final. Each try is the request and the one in
    # no-cors mode.
    assert len(warnings) == 1 and "CORS" in warnings[0], warnings
    assert _NoCors.paths == ["/simple/fault-no-cors/"] * (2 * 2 + 1)  # + the credentialed one's ask
    assert with_credentials["type"] == "NetworkError"
    assert "Access-Control-Allow-Headers: Authorization" in with_credentials["message"]
    assert "secret" not in with_credentials["message"]

    # A server that is not there at all is not taken for one that refuses.
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    err = page.run_expect_error(ATTEMPT, requirement="fault-no-cors", index_url=f"http://127.0.0.1:{port}/simple/",
                                fetch_timeout=10.0, attempts=ATTEMPTS, backoff=BACKOFF, options={})
    assert err["type"] == "NetworkError" and f"(after {ATTEMPTS} tries)" in err["message"], err["message"]
    assert "The server answered" not in err["message"]


def test_an_http_url_of_another_machine_from_an_https_page_is_named_at_once(
        browser: object, session_index_server: IndexServer) -> None:
    # The page, the runtime and the installer come from https://app.pyemscripten.test
    # (Playwright answers with the test server's files).
    session = boot(browser, session_index_server, origin="https://app.pyemscripten.test")
    try:
        session.run(PAGE_HELPERS)
        assert session.run("import js; js.location.origin") == "https://app.pyemscripten.test"
        index_url = "http://index.pyemscripten.test/simple/"
        err = session.run_expect_error(ATTEMPT, requirement="fault-mixed", index_url=index_url, fetch_timeout=10.0,
                                       attempts=ATTEMPTS, backoff=BACKOFF, options={})
        assert err["type"] == "NetworkError", err["traceback"]
        assert err["message"].startswith(f"Network error for 'fault-mixed' fetching {index_url}fault-mixed/: Failed "
                                         "to fetch. This page (https://app.pyemscripten.test) is served over "
                                         "https"), err["message"]
        assert "(mixed content). Use the index's https URL" in err["message"]
        assert [e for e in session.run("events") if e["stage"] == "warning"] == []  # not tried again
    finally:
        session.close()


# --- the timeout is per wait, not per transfer ------------------------------------------------


class _Trickle(BaseHTTPRequestHandler):
    """/steady: 6 chunks 0.25 s apart (slow but alive); /stall: one chunk, then 1.5 s of
    nothing; /wheel: :attr:`wheel` in 4 parts 0.1 s apart."""

    protocol_version = "HTTP/1.0"
    wheel = b""
    cut_off: list[str] = []  # paths whose client went away before the body was sent

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass

    def do_GET(self) -> None:
        if self.path in ("/gzip", "/unsized"):
            self._send_whole(self.path == "/gzip")
            return
        if self.path in ("/wheel", "/slow"):
            # /wheel: in 4 parts; /slow: 100 kB every 20 ms, as a slow link gives it
            step = -(-len(self.wheel) // 4) if self.path == "/wheel" else 100_000
            chunks = [self.wheel[i:i + step] for i in range(0, len(self.wheel), step)]
            pauses = [0.1 if self.path == "/wheel" else 0.02] * (len(chunks) - 1)
        else:
            pauses = {"/steady": [0.25] * 5, "/stall": [1.5]}[self.path.split("?")[0]]  # a query tells requests apart
            chunks = [b"x" * 1000] * (len(pauses) + 1)
        self.send_response(200)
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Content-Length", str(sum(map(len, chunks))))
        self.end_headers()
        try:
            for pause, chunk in zip([0.0, *pauses], chunks):
                time.sleep(pause)
                self.wfile.write(chunk)
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            _Trickle.cut_off.append(self.path)


    def _send_whole(self, gzipped: bool) -> None:
        """/gzip: :attr:`wheel` gzipped, its Content-Length the compressed size (the body the
        page reads is longer); /unsized: without a Content-Length (ends as the connection does)."""
        self.send_response(200)
        self.send_header("Access-Control-Allow-Origin", "*")
        body = gzip.compress(self.wheel) if gzipped else self.wheel
        if gzipped:
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def assert_pieces_cover(pieces: list[list[int]], size: int) -> None:
    """The (offset, length) pieces on_data saw start at 0, follow each other, and add up to ``size``."""
    offsets = [offset for offset, _ in pieces]
    assert offsets[0] == 0
    assert all(o + n == nxt for (o, n), nxt in zip(pieces, offsets[1:]))
    assert sum(n for _, n in pieces) == size


@pytest.fixture
def trickle() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Trickle)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_timeout_bounds_each_wait_not_the_whole_download(page: PyodideSession, trickle: str) -> None:
    fetch = "r = await FetchTransport(timeout=0.6).get(url, None, lambda done, total: None)\nlen(r.body)"
    assert page.run(fetch, url=trickle + "/steady") == 6000  # 1.25 s in all, never 0.6 s idle
    err = page.run_expect_error(fetch, url=trickle + "/stall")
    assert err["type"] == "NetworkError" and "timed out after 600 ms" in err["message"]


def test_requests_queued_behind_six_others_to_their_host_do_not_time_out(page: PyodideSession, trickle: str) -> None:
    # Nine slow but live downloads at once from one HTTP/1 host: the browser opens six
    # connections, the other three wait longer than the timeout before they even start.
    result = page.run("""
import asyncio
transport = FetchTransport(timeout=0.6)
bodies = await asyncio.gather(*(transport.get(f"{url}/steady?{n}", None, lambda done, total: None) for n in range(9)))
[len(r.body) for r in bodies]
""", url=trickle)
    assert result == [6000] * 9


def test_a_large_wheel_streams_into_member_stream_in_order(page: PyodideSession, trickle: str) -> None:
    # The real JS -> Python path of on_data: pieces in order, contiguous, the whole body in
    # the end, and every member of a 2 MB wheel (arriving in 4 parts) inflated before the
    # request returned, and taken by read_wheel as it is.
    files = {f"streamed/part{i}.bin": random.Random(i).randbytes(200_000) for i in range(10)}
    wheel = make_wheel("streamed", "1.0", files)
    _Trickle.wheel = bytes(wheel)
    result = page.run("""
from pyemscripten.wheels import MemberStream, read_wheel
stream, pieces = MemberStream(), []
def on_data(offset, piece):
    pieces.append((offset, len(piece)))
    stream.feed(offset, piece)
r = await FetchTransport(timeout=10).get(url, None, None, on_data)
inflated = len(stream.members)
archive = read_wheel(filename, r.body, streamed=stream)
{"pieces": pieces, "size": len(r.body), "inflated": inflated, "members": len(archive.members),
 "taken": sum(any(c is m.content for m in stream.members.values()) for c in archive.members.values())}
""", url=f"{trickle}/wheel", filename=wheel.filename)
    assert len(result["pieces"]) > 1
    assert_pieces_cover(result["pieces"], result["size"])
    assert result["size"] == len(bytes(wheel))
    assert result["inflated"] == result["members"] == result["taken"] == len(files) + 3  # + METADATA, WHEEL, RECORD


def test_a_slow_download_is_inflated_while_it_comes_in(page: PyodideSession, trickle: str) -> None:
    # A large member (MemberStream.PARTIAL) is inflated piece by piece as the pieces reach
    # Python (every 256 kB), not all at once when its last byte is in; it is taken whole.
    big = random.Random(3).randbytes(1_200_000)
    wheel = make_wheel("streamed", "1.0", {"streamed/big.bin": big})
    _Trickle.wheel = bytes(wheel)
    result = page.run("""
from pyemscripten.wheels import MemberStream, read_wheel
stream, pieces, inflated = MemberStream(), [], []
def on_data(offset, piece):
    pieces.append((offset, len(piece)))
    stream.feed(offset, piece)
    part = stream._partial
    inflated.append(part.produced if part is not None else -1)
r = await FetchTransport(timeout=10).get(url, None, None, on_data)
archive = read_wheel(filename, r.body, streamed=stream)
{"pieces": pieces, "size": len(r.body), "inflated": inflated,
 "taken": any(m.content is archive.members["streamed/big.bin"] for m in stream.members.values())}
""", url=f"{trickle}/slow", filename=wheel.filename)
    assert_pieces_cover(result["pieces"], result["size"])
    during = [n for n in result["inflated"] if n >= 0]
    assert len(during) >= 3 and during == sorted(during) and during[-1] >= 700_000  # inflated as it came in
    assert result["taken"]


@pytest.mark.parametrize("path", ["gzip", "unsized"])
def test_a_body_longer_than_announced_or_unannounced_streams_whole(page: PyodideSession, trickle: str,
                                                                     path: str) -> None:
    # With a Content-Length the transport reads into one buffer of that size; a body the
    # browser decodes (gzip) is longer than that, and one without a length has none: both
    # arrive whole, in contiguous pieces.
    _Trickle.wheel = random.Random(1).randbytes(300_000) + bytes(3_000_000)  # gzip: 3.3 MB from ~0.3 MB
    result = page.run("""
import hashlib
pieces = []
r = await FetchTransport(timeout=10).get(url, None, None, lambda offset, piece: pieces.append((offset, len(piece))))
{"pieces": pieces, "size": len(r.body), "sha256": hashlib.sha256(r.body).hexdigest()}
""", url=f"{trickle}/{path}")
    assert result["size"] == len(_Trickle.wheel)
    assert result["sha256"] == hashlib.sha256(_Trickle.wheel).hexdigest()
    assert_pieces_cover(result["pieces"], result["size"])


def test_an_exception_of_the_callbacks_is_theirs_not_the_networks(page: PyodideSession, trickle: str) -> None:
    # A progress listener that raises (or an interrupt) ends the request with its own
    # exception, which is not taken for a broken connection (and so not retried).
    _Trickle.wheel = random.Random(2).randbytes(1_000_000)
    result = page.run("""
class Stop(Exception):
    pass
def on_progress(done, total):
    if done:
        raise Stop(f"listener stopped at {done}")
try:
    await FetchTransport(timeout=10).get(url, None, on_progress)
    outcome = "returned"
except Stop as exc:
    outcome = "Stop: " + str(exc)
except Exception as exc:
    outcome = type(exc).__name__ + ": " + str(exc)
outcome
""", url=f"{trickle}/gzip")
    assert result.startswith("Stop: listener stopped at "), result


def test_a_download_given_up_in_python_stops_on_the_wire(page: PyodideSession, trickle: str) -> None:
    # A cancelled download (a guess the plan did not use) must not go on using the link:
    # its callbacks are destroyed, the next piece fails to reach Python, and the JS side
    # aborts the request, so the server sees the client leave before the body's end.
    _Trickle.wheel = random.Random(0).randbytes(4 << 20)
    _Trickle.cut_off.clear()
    page.run("""
import asyncio
task = asyncio.ensure_future(FetchTransport(timeout=10).get(url, None, None, lambda offset, piece: None))
await asyncio.sleep(0.05)
task.cancel()
await asyncio.sleep(0.6)
""", url=f"{trickle}/wheel")
    assert _Trickle.cut_off == ["/wheel"]


# --- upgrades are atomic -------------------------------------------------------------------


def _bad_record(project: str) -> WheelBytes:
    return pure(project, "2.0", bad_record=True)


def _unloadable(project: str) -> WheelBytes:
    module = project.replace("-", "_")
    return make_wheel(project, "2.0", {f"{module}/__init__.py": b"V = '2.0'\n", f"{module}/_ext.so": UNCOMPILABLE_SO},
                      tag=PLATFORM_TAG)


UPGRADES = [("bad-record", _bad_record, "RecordError"), ("library-load-fails", _unloadable, "LibraryLoadError"),
            ("hash-mismatch", lambda p: pure(p, "2.0"), "HashMismatchError")]


@pytest.mark.parametrize("case,broken,error", UPGRADES, ids=[u[0] for u in UPGRADES])
def test_failed_upgrade_keeps_the_old_version(case: str, broken: Callable[[str], WheelBytes], error: str,
                                              page: PyodideSession, index_server: IndexServer) -> None:
    project = "upgrade-" + case
    module = project.replace("-", "_")
    index_server.default.add_wheel(pure(project, "1.0"))
    page.run(ATTEMPT, requirement=project, index_url=index_server.index_url, fetch_timeout=10.0,
             attempts=ATTEMPTS, backoff=BACKOFF, options={})
    assert page.run(f"import {module}; {module}.V") == "1.0"
    with_v1 = page.run("listing()")

    v2 = broken(project)
    index_server.default.add_wheel(v2)
    if case == "hash-mismatch":
        index_server.add_fault(f"/files/{v2.filename}", body=flipped(bytes(v2)))
    err = page.run_expect_error(ATTEMPT, requirement=f"{project}>=2", index_url=index_server.index_url,
                                fetch_timeout=10.0, attempts=ATTEMPTS, backoff=BACKOFF, options={})
    assert err["type"] == error, err["traceback"]
    assert page.run("listing()") == with_v1
    # Imported afresh from disk, v1 is what is there.
    assert page.run(f"import sys, importlib; sys.modules.pop({module!r}, None); importlib.invalidate_caches()\n"
                    f"import {module}; {module}.V") == "1.0"
    assert page.run(f"pyemscripten.list_installed()[{project!r}]") == "1.0"
    page.run(f"pyemscripten.uninstall({project!r}); sys.modules.pop({module!r}, None)")


def test_rows_cover_the_issue() -> None:
    """The matrix named in issue 8, each kind at least once (guards against rows dropped)."""
    ids = {r.id for r in ROWS}
    for required in ("wheel-wrong-hash", "body-truncated", "connection-reset", "slow-server", "json-unparseable",
                     "html-not-utf8", "not-a-zip", "member-dotdot", "member-absolute", "member-symlink",
                     "record-mismatch", "metadata-file-garbage", "name-disagrees", "dylink-malformed"):
        assert required in ids
    for where in ("page", "metadata", "wheel"):
        for status in (404, 500, 503):
            assert f"{where}-{status}" in ids
    assert len(ids) == len(ROWS)
