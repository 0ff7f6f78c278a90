"""Security rules of docs/SECURITY.md, on plain CPython: hashes, credentials, retries, indexes.

The browser tier (tests/browser/test_security.py) runs the same rules through real fetch;
these tests pin down the pure parts and the core's use of the Transport seam.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import threading
from collections.abc import Iterator, Mapping
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from pyemscripten import errors
from pyemscripten.api import Session, install
from pyemscripten.credentials import OriginCredentials, split_credentials, strip_credentials
from pyemscripten.downloads import WheelRequest, fetch_wheel, verify
from pyemscripten.errors import (
    HashMismatchError,
    IndexHTTPError,
    LockError,
    MissingHashError,
    NetworkError,
    ProjectNotFoundError,
    PyemscriptenError,
)
from pyemscripten.index_client import IndexClient, RetryPolicy, get_ok
from pyemscripten.index_pages import IndexFile, parse_html_page
from pyemscripten.installation import Scheme, installed_distributions
from pyemscripten.locks import load_lock
from pyemscripten.native import UrllibTransport
from pyemscripten.seams import BodyPieces, ByteProgress, NoLibraryLoader, Response, Transport
from pyemscripten.target import Target
from tests.support.auth_proxy import AuthProxy
from tests.support.index_server import IndexServer
from tests.support.wheels import make_wheel

TARGET = Target.for_platform("pyemscripten_2026_0_wasm32", "3.14.2")
SECRET = "s3cr3t-t0ken"
CRED_INDEX = f"https://alice:{SECRET}@index.test/simple/"


class Sleeps:
    """A fake ``sleep`` that records the backoff delays instead of waiting."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


class Scripted(Transport):
    """Answers each URL from a script: a status, "reset", or (status, body, headers)."""

    def __init__(self, script: Mapping[str, list[object]], default: object = 404) -> None:
        self.script = {k: list(v) for k, v in script.items()}
        self.default = default
        self.requests: list[tuple[str, dict[str, str]]] = []

    async def get(self, url: str, headers: Mapping[str, str] | None = None,
                  on_progress: ByteProgress | None = None, on_data: BodyPieces | None = None) -> Response:
        self.requests.append((url, dict(headers or {})))
        queue = self.script.get(url)
        outcome = queue.pop(0) if queue and len(queue) > 1 else (queue[0] if queue else self.default)
        if outcome == "reset":
            raise NetworkError(url, "connection reset by peer")
        if isinstance(outcome, tuple):
            status, body, headers_ = outcome
            return Response(url, status, body, headers_)
        return Response(url, int(outcome), b"", {})


def _no_secret(exc: BaseException) -> None:
    """Neither the message, the repr, the args nor any attribute holds the secret."""
    seen = [str(exc), repr(exc), repr(exc.args), repr(vars(exc))]
    for text in seen:
        assert SECRET not in text, text


# --- credentials in URLs ---------------------------------------------------------------------


@pytest.mark.parametrize("url,bare,pair", [
    ("https://u:p@h.test/simple/", "https://h.test/simple/", ("u", "p")),
    ("https://u@h.test:8443/s/", "https://h.test:8443/s/", ("u", "")),
    ("http://a%40b:p%3Aw%2F@h.test/", "http://h.test/", ("a@b", "p:w/")),
    ("http://u:p@[::1]:81/x?q=1#f", "http://[::1]:81/x?q=1#f", ("u", "p")),
    ("https://h.test/simple/", "https://h.test/simple/", None),
    ("http://[", "http://[", None),
    ("", "", None),
])
def test_split_credentials(url: str, bare: str, pair: tuple[str, str] | None) -> None:
    assert split_credentials(url) == (bare, pair)
    assert strip_credentials(url) == bare


def test_credentials_go_to_their_origin_only() -> None:
    creds = OriginCredentials()
    url, headers = creds.prepare(CRED_INDEX + "demo/", {"Accept": "x"})
    assert url == "https://index.test/simple/demo/" and SECRET not in url
    assert headers == {"Accept": "x", "Authorization": "Basic " + base64.b64encode(f"alice:{SECRET}".encode()).decode()}
    # Same origin (default port spelled out): the wheel a page links to relatively.
    assert "Authorization" in creds.prepare("https://index.test:443/files/demo-1.0-py3-none-any.whl", None)[1]
    # Other origins never see them: another host, scheme or port.
    for other in ("https://cdn.test/files/x.whl", "http://index.test/files/x.whl", "https://index.test:8443/x"):
        assert "Authorization" not in creds.prepare(other, None)[1]
    # A caller's own Authorization wins.
    assert creds.prepare("https://index.test/x", {"authorization": "Bearer t"})[1] == {"authorization": "Bearer t"}


def test_credentials_stay_one_entry_per_token() -> None:
    # Every project page's URL carries the credentials: what is kept does not grow with them.
    creds = OriginCredentials()
    for n in range(200):
        creds.prepare(CRED_INDEX + f"project-{n}/", None)
    (known,) = creds._by_origin.values()
    assert known == [(("simple",), "Basic " + base64.b64encode(f"alice:{SECRET}".encode()).decode())]


def test_two_indexes_on_one_host_keep_their_own_credentials() -> None:
    # Two GitLab projects' indexes, two tokens, in either order: a file goes with the token
    # of the index whose path it shares most, as pip picks the index the URL belongs to.
    def basic(pair: str) -> str:
        return "Basic " + base64.b64encode(pair.encode()).decode()
    one = "https://A:tokA@gitlab.test/api/v4/projects/1/packages/pypi/simple/"
    two = "https://B:tokB@gitlab.test/api/v4/projects/2/packages/pypi/simple/"
    for first, second in ((one, two), (two, one)):
        creds = OriginCredentials()
        creds.prepare(first + "demo/", None)
        creds.prepare(second + "demo/", None)
        for project, pair in (("1", "A:tokA"), ("2", "B:tokB")):
            file = f"https://gitlab.test/api/v4/projects/{project}/packages/pypi/files/ab/demo-1.0-py3-none-any.whl"
            assert creds.prepare(file, None)[1] == {"Authorization": basic(pair)}


@pytest.mark.parametrize("outcome,error", [(404, IndexHTTPError), (503, IndexHTTPError), ("reset", NetworkError)])
def test_errors_never_carry_the_secret(outcome: object, error: type[PyemscriptenError]) -> None:
    url = CRED_INDEX + "demo/"
    transport = Scripted({url: [outcome]})
    with pytest.raises(error) as info:
        asyncio.run(get_ok(transport, url, project="demo", what="project page",
                           retry=RetryPolicy(attempts=2, backoff=0), sleep=Sleeps()))
    _no_secret(info.value)
    assert "index.test" in str(info.value)


def test_project_not_found_names_indexes_without_the_secret() -> None:
    client = IndexClient(Scripted({}), [CRED_INDEX, "https://other.test/simple/"], sleep=Sleeps())
    with pytest.raises(ProjectNotFoundError) as info:
        asyncio.run(client.project_page("demo"))
    _no_secret(info.value)
    assert "index.test/simple/" in str(info.value) and "other.test" in str(info.value)


def test_every_error_message_redacts_credentials() -> None:
    # Whatever a caller passes in, the message shows the URL without its password.
    url = CRED_INDEX + "files/x.whl"
    made = [
        errors.IndexHTTPError(url, 500, "x"),
        errors.NetworkError(url, "reset", "x"),
        errors.IndexFormatError(url, "bad", "x"),
        errors.ProjectNotFoundError("x", [CRED_INDEX]),
        errors.MissingHashError("x", "x.whl", url),
        errors.HashMismatchError("x.whl", url, "sha256", "a", "b", "x"),
        errors.SizeMismatchError("x.whl", url, 1, 2, "x"),
        errors.DistributionFileError("x", "1.0", "no index has it", CRED_INDEX, f"HTTP 404 for {url}"),
    ]
    for exc in made:
        assert SECRET not in str(exc), type(exc)


def test_messages_mask_query_values() -> None:
    """A presigned URL's signature is shown as ``***`` in messages; the path, the parameters'
    names and the fragment stay, to tell which file it was."""
    url = f"https://bucket.test/w/x-1.0-py3-none-any.whl?X-Amz-Signature={SECRET}&X-Amz-Expires=60&{SECRET}"
    assert errors.redact_url(url) == "https://bucket.test/w/x-1.0-py3-none-any.whl?X-Amz-Signature=***&X-Amz-Expires=***&***"
    assert errors.redact_url("https://u:p@h.test/a?t=1#sha256=ab") == "https://***@h.test/a?t=***#sha256=ab"
    assert errors.redact_url("https://h.test/a?") == "https://h.test/a?"
    assert SECRET not in str(errors.HashMismatchError("x.whl", url, "sha256", "a", "b", "x"))
    line = errors.redact_text(f"x @ {url}#sha256=00")
    assert SECRET not in line and line.endswith("&***#sha256=00")


@pytest.mark.parametrize("text,location,in_text", [
    # A scheme is a letter, then letters, digits, "+", "-" or "." (RFC 3986 3.1), any case.
    ("git+HTTPS://u:p@h.test/s/", "git+HTTPS://***@h.test/s/", "git+HTTPS://***@h.test/s/"),
    ("a1.b-c://u:p@h.test/?t=1", "a1.b-c://***@h.test/?t=***", "a1.b-c://***@h.test/?t=***"),
    ("u:p@h.test/simple/", "***@h.test/simple/", "u:p@h.test/simple/"),  # a location without its scheme
    # No scheme: one that starts with a digit, or holds "_" (redact_text masks the URL after it).
    # A location so mistyped kept its password in the lock command's error ("... is not an http
    # or https URL"); so did one with a single slash.
    ("1x://u:p@h.test/", "1x://***@h.test/", "1x://***@h.test/"),
    ("x_y://u:p@h.test/", "x_y://***@h.test/", "x_y://***@h.test/"),
    ("https:/u:p@h.test/", "https:/***@h.test/", "https:/u:p@h.test/"),
])
def test_credentials_are_masked_after_any_scheme(text: str, location: str, in_text: str) -> None:
    # The scheme's pattern, one for errors.py's three uses and candidates' (credentials.SCHEME).
    from pyemscripten.candidates import names_a_file

    assert errors.redact_location(text) == location and errors.redact_text(text) == in_text
    assert names_a_file(f" {text} ") == (text[0].isalpha() and "_" not in text and "://" in text)


def test_urllib_transport_sends_basic_auth_to_a_real_server(tmp_path: Path) -> None:
    whl = make_wheel("authed", "1.0", {"authed/__init__.py": b""})
    with IndexServer() as server, AuthProxy(server.url, "alice", SECRET) as proxy:
        server.default.add_wheel(whl)
        transport = UrllibTransport(timeout=10)
        client = IndexClient(transport, [proxy.url_with_credentials()], RetryPolicy(attempts=1))
        page = asyncio.run(client.project_page("authed"))
        (file,) = page.files
        assert SECRET not in file.url and file.url.startswith(proxy.url)
        fetched = asyncio.run(fetch_wheel(transport, WheelRequest("authed", file), retry=RetryPolicy(attempts=1)))
        assert (fetched.body, fetched.source) == (bytes(whl), "network")
        assert [status for _, _, status in proxy.log] == [200, 200]
        assert all(auth == proxy.expected for _, auth, _ in proxy.log)
        # A wrong password: the server's 401, and still no secret in the message.
        wrong = IndexClient(UrllibTransport(timeout=10), [proxy.url_with_credentials(password="wrong-" + SECRET)],
                            RetryPolicy(attempts=1))
        with pytest.raises(IndexHTTPError) as info:
            asyncio.run(wrong.project_page("authed"))
        assert info.value.status == 401
        _no_secret(info.value)


# --- retries: transient ones, bounded, with backoff; permanent ones never --------------------


@pytest.mark.parametrize("outcome,transient", [
    (503, True), (500, True), (502, True), (504, True), (429, True), (408, True), ("reset", True),
    (404, False), (403, False), (401, False), (410, False), (400, False),
])
def test_retry_policy(outcome: object, transient: bool) -> None:
    url = "https://index.test/files/x.whl"
    transport, sleeps = Scripted({url: [outcome]}), Sleeps()
    with pytest.raises(PyemscriptenError):
        asyncio.run(get_ok(transport, url, project="x", what="wheel",
                           retry=RetryPolicy(attempts=4, backoff=0.25), sleep=sleeps))
    if transient:
        assert len(transport.requests) == 4
        assert sleeps.delays == [0.25, 0.5, 1.0]
    else:
        assert len(transport.requests) == 1 and sleeps.delays == []


def test_backoff_doubles_up_to_its_cap() -> None:
    # It doubled without end: attempts=20 waited 0.25 * 2**18 s (three days) before the last try.
    url = "https://index.test/files/x.whl"
    for policy, delays in ((RetryPolicy(attempts=12, backoff=0.25), [0.25 * 2 ** k for k in range(7)] + [30.0] * 4),
                           (RetryPolicy(attempts=3, backoff=100.0), [30.0, 30.0]),
                           (RetryPolicy(attempts=4, backoff=1.0, max_backoff=3.0), [1.0, 2.0, 3.0])):
        sleeps = Sleeps()
        with pytest.raises(PyemscriptenError):
            asyncio.run(get_ok(Scripted({url: [503]}), url, project="x", what="wheel", retry=policy, sleep=sleeps))
        assert sleeps.delays == delays


def test_transient_failure_then_success() -> None:
    url = "https://index.test/files/x.whl"
    transport = Scripted({url: [503, "reset", (200, b"ok", {})]})
    response = asyncio.run(get_ok(transport, url, project="x", what="wheel", retry=RetryPolicy(4, 0), sleep=Sleeps()))
    assert response is not None and response.body == b"ok" and len(transport.requests) == 3


def test_each_try_made_again_is_told_what_failed_and_when() -> None:
    url = "https://index.test/files/x.whl"
    told: list[tuple[str | None, str]] = []
    retry = RetryPolicy(4, 0.25, on_retry=lambda project, text: told.append((project, text)))
    transport = Scripted({url: [503, "reset", (200, b"ok", {})]})
    asyncio.run(get_ok(transport, url, project="x", what="wheel", retry=retry, sleep=Sleeps()))
    assert told == [("x", f"x: wheel {url} failed (HTTP 503); trying again in 0.25 s (try 2 of 4)"),
                    ("x", f"x: wheel {url} failed (connection reset by peer); trying again in 0.5 s (try 3 of 4)")]
    told.clear()  # the last try is not made again: its failure is the error, not a line
    with pytest.raises(NetworkError):
        asyncio.run(get_ok(Scripted({url: ["reset"]}), url, project=None, what="lock file",
                           retry=replace(retry, attempts=2), sleep=Sleeps()))
    assert told == [(None, f"lock file {url} failed (connection reset by peer); trying again in 0.25 s (try 2 of 2)")]


def test_bad_hash_is_not_retried() -> None:
    body = b"tampered"
    file = IndexFile("x-1.0-py3-none-any.whl", "https://index.test/files/x-1.0-py3-none-any.whl",
                     (("sha256", hashlib.sha256(b"original").hexdigest()),))
    transport = Scripted({file.url: [(200, body, {})]})
    with pytest.raises(HashMismatchError):
        asyncio.run(fetch_wheel(transport, WheelRequest("x", file), retry=RetryPolicy(4, 0), sleep=Sleeps()))
    assert len(transport.requests) == 1


# --- hashes: always checked when given; none given is refused unless allowed -----------------


def _file(**hashes: str) -> IndexFile:
    return IndexFile("x-1.0-py3-none-any.whl", "https://index.test/files/x-1.0-py3-none-any.whl",
                     tuple(sorted(hashes.items())))


@pytest.mark.parametrize("hashes", [{}, {"md5": hashlib.md5(b"data").hexdigest()},
                                    {"sha1": hashlib.sha1(b"data").hexdigest()},
                                    {"sha224": hashlib.sha224(b"data").hexdigest()}])
def test_no_usable_hash_is_refused_unless_allowed(hashes: dict[str, str]) -> None:
    request = WheelRequest("x", _file(**hashes))
    with pytest.raises(MissingHashError, match="allow_unhashed=True"):
        verify(request, b"data")
    verify(request, b"data", allow_unhashed=True)


def test_a_given_hash_is_checked_even_when_unhashed_files_are_allowed() -> None:
    request = WheelRequest("x", _file(sha256=hashlib.sha256(b"data").hexdigest()))
    with pytest.raises(HashMismatchError):
        verify(request, b"other", allow_unhashed=True)
    # The strongest hash decides: a right sha256 does not excuse a wrong sha512.
    request = WheelRequest("x", _file(sha256=hashlib.sha256(b"data").hexdigest(), sha512="00" * 64))
    with pytest.raises(HashMismatchError, match="sha512"):
        verify(request, b"data")


def test_md5_fragment_on_an_html_page_does_not_count_as_a_hash() -> None:
    page = parse_html_page(b'<a href="x-1.0-py3-none-any.whl#md5=0123">x</a>', "https://index.test/simple/x/", "x")
    with pytest.raises(MissingHashError):
        verify(WheelRequest("x", page.files[0]), b"data")


def test_lock_wheels_keep_their_hashes_and_need_one() -> None:
    lock = ('lock-version = "1.0"\n[[packages]]\nname = "x"\nversion = "1.0"\n'
            '[[packages.wheels]]\nurl = "https://index.test/files/x-1.0-py3-none-any.whl"\n')
    with pytest.raises(LockError, match="hashes"):
        load_lock(lock, TARGET)
    (wheel,) = load_lock(lock + f'hashes = {{ sha256 = "{"AB" * 32}" }}\n', TARGET)
    assert wheel.file.sha256 == "ab" * 32  # normalised, then compared
    with pytest.raises(HashMismatchError):
        verify(WheelRequest("x", wheel.file), b"data")


# --- the whole install, natively: several indexes, unhashed opt-in, scheme confinement -------


class Indexes(Transport):
    """Two in-memory indexes (https://one.test, https://two.test) serving real wheels."""

    def __init__(self) -> None:
        self.pages: dict[str, dict[str, list[bytes]]] = {"one": {}, "two": {}}
        self.routes: dict[str, bytes] = {}
        self.requests: list[str] = []
        self.hashed = True

    def add(self, index: str, wheel: bytes) -> None:
        project = wheel.filename.split("-")[0].replace("_", "-")  # type: ignore[attr-defined]
        self.pages[index].setdefault(project, []).append(wheel)
        self.routes[f"https://{index}.test/files/{wheel.filename}"] = bytes(wheel)  # type: ignore[attr-defined]

    async def get(self, url: str, headers: Mapping[str, str] | None = None,
                  on_progress: ByteProgress | None = None, on_data: BodyPieces | None = None) -> Response:
        self.requests.append(url)
        for index, projects in self.pages.items():
            prefix = f"https://{index}.test/simple/"
            if url.startswith(prefix):
                wheels = projects.get(url[len(prefix):].strip("/"))
                if wheels is None:
                    return Response(url, 404, b"", {})
                files = [{"filename": w.filename, "url": f"../../files/{w.filename}",  # type: ignore[attr-defined]
                          "hashes": {"sha256": hashlib.sha256(w).hexdigest()} if self.hashed else {}}
                         for w in wheels]
                body = json.dumps({"meta": {"api-version": "1.1"}, "files": files}).encode()
                return Response(url, 200, body, {"content-type": "application/vnd.pypi.simple.v1+json"})
        if url in self.routes:
            return Response(url, 200, self.routes[url], {})
        return Response(url, 404, b"", {})


@pytest.fixture
def scheme(tmp_path: Path) -> Scheme:
    root = tmp_path / "target"
    dirs = {k: root / k for k in ("site", "bin", "include", "data")}
    for d in dirs.values():
        d.mkdir(parents=True)
    return Scheme(str(dirs["site"]), str(dirs["site"]), str(dirs["bin"]), str(dirs["include"]), str(dirs["data"]))


def _install(transport: Transport, scheme: Scheme, requirement: str, **kwargs: object):
    session = Session(target=TARGET, transport=transport, loader=NoLibraryLoader(), scheme=scheme,
                      retry=RetryPolicy(attempts=2, backoff=0), distribution_url="")
    return asyncio.run(install(requirement, ["https://one.test/simple/", "https://two.test/simple/"],
                               quiet=True, session=session, **kwargs))


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_first_index_that_has_a_project_wins(scheme: Scheme) -> None:
    indexes = Indexes()
    indexes.add("one", make_wheel("shadowed", "1.0", {"shadowed/__init__.py": b"WHERE = 'one'\n"}))
    indexes.add("two", make_wheel("shadowed", "9.0", {"shadowed/__init__.py": b"WHERE = 'two'\n"}))
    indexes.add("two", make_wheel("only-two", "1.0", {"only_two/__init__.py": b""}))
    report = _install(indexes, scheme, "shadowed")
    assert report.installed == (("shadowed", "1.0"),)  # not the newer 9.0 from the second index
    assert not any(u.startswith("https://two.test/") for u in indexes.requests)
    report = _install(indexes, scheme, "only-two")
    assert report.installed == (("only-two", "1.0"),)
    assert "https://one.test/simple/only-two/" in indexes.requests  # asked first, said 404


def test_unhashed_index_is_refused_unless_allowed(scheme: Scheme) -> None:
    indexes = Indexes()
    indexes.hashed = False
    indexes.add("one", make_wheel("loose", "1.0", {"loose/__init__.py": b""}))
    site = Path(scheme.purelib)
    before = _tree(site)
    with pytest.raises(MissingHashError, match="loose"):
        _install(indexes, scheme, "loose")
    assert _tree(site) == before
    assert _install(indexes, scheme, "loose", allow_unhashed=True).installed == (("loose", "1.0"),)


def test_files_land_only_under_the_scheme(scheme: Scheme, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("untouched")
    indexes = Indexes()
    indexes.add("one", make_wheel("spread", "1.0", {"spread/__init__.py": b""},
                                  data_files={"scripts/tool": b"#!python\n", "headers/h.h": b"",
                                              "data/share/x": b"1"}))
    hostile = {"up": {"../../outside/evil.py": b"x"}, "abs": {str(outside / "evil.py"): b"x"}}
    for name, files in hostile.items():
        indexes.add("one", make_wheel(f"hostile-{name}", "1.0", {f"hostile_{name}/__init__.py": b"", **files}))
    before = _tree(tmp_path)
    for name in hostile:
        with pytest.raises(errors.UnsafePathError):
            _install(indexes, scheme, f"hostile-{name}")
        assert _tree(tmp_path) == before
    _install(indexes, scheme, "spread")
    after = _tree(tmp_path)
    changed = {p for p in after.keys() | before.keys() if after.get(p) != before.get(p)}
    assert changed and all(p.startswith("target/") for p in changed)
    assert {d.name for d in installed_distributions(scheme)} == {"spread"}


# --- the native transport: redirects and schemes ---------------------------------------------


class _Redirector(BaseHTTPRequestHandler):
    """/same -> /final on this origin; /cross -> the same path on another origin (localhost);
    /file -> a file: URL. Records the Authorization header each request carried."""

    seen: list[tuple[str, str | None]] = []

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass

    def do_GET(self) -> None:
        self.seen.append((self.path, self.headers.get("Authorization")))
        port = self.server.server_address[1]
        target = {"/same": "/final", "/cross": f"http://localhost:{port}/final", "/file": "file:///etc/hostname"}
        if self.path in target:
            self.send_response(302)
            self.send_header("Location", target[self.path])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")


@pytest.fixture
def redirector() -> Iterator[str]:
    _Redirector.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Redirector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://alice:{SECRET}@127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_credentials_do_not_follow_a_redirect_to_another_origin(redirector: str) -> None:
    transport = UrllibTransport(timeout=10)
    assert asyncio.run(transport.get(redirector + "/same")).body == b"ok"
    assert asyncio.run(transport.get(redirector + "/cross")).body == b"ok"
    auth = dict(_Redirector.seen[:2]), _Redirector.seen[2:]
    assert auth[0]["/same"] and auth[0]["/final"]  # same origin: kept
    assert auth[1] == [("/cross", auth[0]["/same"]), ("/final", None)]  # localhost is another origin


@pytest.mark.parametrize("url", ["file:///etc/hostname", "ftp://127.0.0.1/x", "data:,hello", "http://["])
def test_native_transport_fetches_only_http(url: str) -> None:
    with pytest.raises(NetworkError):
        asyncio.run(UrllibTransport(timeout=5).get(url))


def test_native_transport_refuses_a_redirect_to_a_file(redirector: str) -> None:
    response = asyncio.run(UrllibTransport(timeout=10).get(redirector + "/file"))
    assert response.status == 302 and b"root" not in response.body


def test_a_tampered_wheel_read_for_metadata_cannot_steer_resolution(scheme: Scheme) -> None:
    # No PEP 658 file: the resolver reads METADATA out of the wheel. The hash comes first, so
    # a swapped wheel that asks for another project fails before that project is looked up.
    indexes = Indexes()
    honest = make_wheel("steered", "1.0", {"steered/__init__.py": b""})
    indexes.add("one", honest)
    indexes.routes[f"https://one.test/files/{honest.filename}"] = bytes(
        make_wheel("steered", "1.0", {"steered/__init__.py": b""}, requires=["attacker-choice"]))
    with pytest.raises(HashMismatchError, match="steered"):
        _install(indexes, scheme, "steered")
    assert not any("attacker-choice" in u for u in indexes.requests)


class _OneFile(Transport):
    def __init__(self, body: bytes) -> None:
        self.body = body

    async def get(self, url, headers=None, on_progress=None, on_data=None):  # type: ignore[no-untyped-def]
        return Response(url, 200, self.body, {})


@pytest.mark.parametrize("algorithm", ["sha256", "sha512", "sha384"])
def test_a_metadata_file_is_checked_by_any_hash_the_index_gives(algorithm: str) -> None:
    # PEP 658 allows any hashlib algorithm; a .metadata file that matches none is refused,
    # whichever one the index gave (it was taken unchecked unless the hash was sha256).
    metadata = b"Metadata-Version: 2.1\nName: m\nVersion: 1.0\n\n"
    file = IndexFile("m-1.0-py3-none-any.whl", "https://one.test/files/m-1.0-py3-none-any.whl", (),
                     core_metadata=((algorithm, hashlib.new(algorithm, metadata).hexdigest()), ("unknown-algo", "00"),
                                    ("shake_128", "00")))  # shake_*: no fixed length, so not checkable
    client = IndexClient(_OneFile(metadata), ["https://one.test/simple/"])
    assert asyncio.run(client.core_metadata("m", file)) == metadata
    client = IndexClient(_OneFile(metadata + b"Requires-Dist: attacker-choice\n"), ["https://one.test/simple/"])
    with pytest.raises(HashMismatchError, match=rf"m-1\.0-py3-none-any\.whl\.metadata.*{algorithm}"):
        asyncio.run(client.core_metadata("m", file))


def test_a_size_mismatch_says_which_way_and_what_to_do() -> None:
    url = "https://one.test/files/a-1.0-py3-none-any.whl"
    short = str(errors.SizeMismatchError("a-1.0-py3-none-any.whl", url, 100, 60, "a"))
    long = str(errors.SizeMismatchError("a-1.0-py3-none-any.whl", url, 100, 160, "a"))
    assert short.startswith("Incomplete download of a-1.0-py3-none-any.whl (a)") and "Try again" in short
    assert "longer than announced" in long and "report it" in long and "nothing was installed" in long


def test_a_token_in_a_direct_url_requirement_reaches_no_message(scheme: Scheme) -> None:
    # A wheel's URL with credentials: the error (no such file here), like the "Resolving" line
    # before it, shows the URL with its credentials taken out.
    events: list[dict] = []
    session = Session(target=TARGET, transport=Indexes(), loader=NoLibraryLoader(), scheme=scheme,
                      distribution_url="", use_cache=False)
    with pytest.raises(errors.PyemscriptenError) as info:
        asyncio.run(install(f"pkg @ https://alice:{SECRET}@files.test/pkg-1.0-py3-none-any.whl", ["https://one.test/simple/"],
                            session=session, quiet=True, on_progress=events.append))
    said = [str(info.value)] + [str(e.get("message")) for e in events]
    assert all(SECRET not in text for text in said), said
    assert "files.test/pkg-1.0-py3-none-any.whl" in str(info.value)


def test_messages_say_what_to_do_and_keep_secrets_out() -> None:
    lock = str(errors.LockError("not UTF-8 text", f"https://alice:{SECRET}@site.test/pylock.toml"))
    assert SECRET not in lock and lock.startswith("Cannot use the lock file https://***@site.test/pylock.toml")
    assert str(errors.LockError("x", "(text)")).startswith("Cannot use the lock file given as text: x")
    url = "https://index.test/simple/a/"
    assert str(errors.IndexHTTPError(url, 403, "a")).endswith("check the credentials (https://user:token@host/...) the URL needs.")
    assert str(errors.IndexHTTPError(url, 503, "a")).endswith("the server is failing for now: try again later.")
    assert str(errors.IndexHTTPError("file:///idx/a/a-1.0-py3-none-any.whl", 404, "a", "wheel")).endswith(
        "no such file: check the path (a wheel named as name @ file:///...), or, in a local index's folder, put the "
        "file back or write the index's pages again with `python -m pyemscripten index -o FOLDER` (no wheels named: "
        "it lists those left).")
    # A file this process may not read is no matter of credentials.
    assert str(errors.IndexHTTPError("file:///idx/a/a-1.0-py3-none-any.whl", 403, "a", "wheel")).endswith(
        "this process may not read that file: check its permissions.")
    assert "Check the URL" in str(errors.NetworkError("pypi.org/simple/a/", "only http and https URLs are fetched", "a"))
    assert "try again" in str(errors.NetworkError(url, "Failed to fetch", "a"))
    wheel = errors.NoCompatibleWheelError("numpy", ["pyemscripten_2026_0_wasm32", "py3-none-any"],
                                          ["cp312-cp312-pyemscripten_2026_0_wasm32"], "3.14.2")
    assert "one for CPython cp314 (or abi3) tagged pyemscripten_2026_0_wasm32" in str(wheel)
    text = str(errors.NoCompatibleWheelError("x", ["p"], [], "3.14.2"))
    assert "Only source distributions are on offer" in text
    assert "If x is pure Python, build its wheel from the source distribution (pip wheel x --no-deps -w dist/)" in text



# --- found by the audit of stop 55 ------------------------------------------------------------


def _pyodide_like(tmp_path: Path) -> Scheme:
    """Pyodide's shape: the data folder is the prefix, which holds site-packages."""
    site = tmp_path / "lib" / "python3.14" / "site-packages"
    site.mkdir(parents=True)
    return Scheme(str(site), str(site), str(tmp_path / "bin"), str(tmp_path / "include"), str(tmp_path))


def test_data_files_cannot_write_into_a_dist_info_or_over_the_wheels_own_files(tmp_path: Path) -> None:
    from pyemscripten.installation import install as install_wheels
    from pyemscripten.wheels import open_wheel

    scheme = _pyodide_like(tmp_path)
    before = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*"))
    site = "lib/python3.14/site-packages"
    for files, says in (
            ({f"data/{site}/evil-1.0.dist-info/INSTALLER": b"pyemscripten\n"}, "would be written into a .dist-info"),
            ({f"data/{site}/victim-9.0.dist-info/RECORD": b"../../../../keep.txt,,\n"}, "would be written into a .dist-info"),
            ({f"data/{site}/evil/__init__.py": b"x = 2\n"}, "two of its files, 'evil/__init__.py' (purelib) and "
                                                             f"'{site}/evil/__init__.py' (data), would be installed at")):
        whl = make_wheel("evil", "1.0", {"evil/__init__.py": b"x = 1\n"}, data_files=files)
        with pytest.raises(errors.InstallError, match=says.replace("(", r"\(").replace(")", r"\)")):
            install_wheels([open_wheel(whl.filename, whl)], scheme)
        assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == before
    # A data file beside the packages, not in a .dist-info, is the wheel's to write (a .pth file).
    whl = make_wheel("fine", "1.0", {"fine/__init__.py": b""}, data_files={f"data/{site}/fine.pth": b"import fine\n"})
    install_wheels([open_wheel(whl.filename, whl)], scheme).finish()
    assert (Path(scheme.purelib) / "fine.pth").read_bytes() == b"import fine\n"


def test_a_name_that_is_no_project_name_cannot_lead_headers_out(tmp_path: Path) -> None:
    from pyemscripten.wheels import open_wheel

    whl = make_wheel("_", "1.0", {"x/__init__.py": b""}, metadata="Metadata-Version: 2.1\nName: ..\nVersion: 1.0\n",
                     data_files={"headers/escaped.h": b""})
    with pytest.raises(errors.MetadataError, match=r"METADATA's Name '\.\.' is not a valid project name"):
        open_wheel(whl.filename, whl)


def test_query_tokens_and_odd_passwords_never_show(tmp_path: Path) -> None:
    from pyemscripten.errors import redact_text

    url = "https://index.test/files/pkg-1.0-py3-none-any.whl?X-Amz-Signature=SIG&token=TOK"
    told: list[str] = []
    calls = iter([Response(url, 503, b"", {}), Response(url, 200, b"ok", {})])

    class Once(Transport):
        async def get(self, url, headers=None, on_progress=None, on_data=None):  # type: ignore[no-untyped-def]
            return next(calls)

    async def no_sleep(_: float) -> None:
        return None

    asyncio.run(get_ok(Once(), url, project="pkg", what="wheel", sleep=no_sleep,
                       retry=RetryPolicy(attempts=2, backoff=0, on_retry=lambda project, text: told.append(text))))
    assert told and "SIG" not in told[0] and "TOK" not in told[0] and "X-Amz-Signature=***" in told[0]
    said = redact_text("Resolving pkg @ https://user:ab'SECRET@index.test/files/pkg-1.0-py3-none-any.whl#sha256=00")
    assert "SECRET" not in said and "https://***@index.test/files/" in said
    with pytest.raises(errors.LockError) as info:
        load_lock('lock-version = "1.0"\n[[packages]]\nname = "pkg"\n[packages.archive]\n'
                  'url = "https://f.test/pkg-1.0.tar.gz?X-Amz-Signature=SIG"\nhashes = { sha256 = "00" }\n', TARGET)
    assert "SIG" not in str(info.value)
    from pyemscripten.index_pages import parse_json_page
    page = json.dumps({"meta": {"api-version": "1.0"}, "name": "pkg", "files": [
        {"filename": "pkg-1.0-py3-none-any.whl", "url": "https://[cdn/pkg-1.0-py3-none-any.whl?token=TOK",
         "hashes": {"sha256": "00"}}]}).encode()
    with pytest.raises(errors.IndexFormatError) as page_error:
        parse_json_page(page, "https://index.test/simple/pkg/", "pkg")
    assert "TOK" not in str(page_error.value)


def test_the_native_progress_names_a_stalled_url_without_its_query() -> None:
    # What the lock command's "Waiting for URL: nothing for N s" line shows.
    transport = UrllibTransport()
    seen: list[list[tuple[str, float]]] = []

    async def stalled(url, headers, on_progress, on_data, entry):  # type: ignore[no-untyped-def]
        seen.append(transport.waiting())
        return Response(url, 200, b"", {})

    transport._get_now = stalled  # type: ignore[method-assign]
    asyncio.run(transport.get(f"https://u:{SECRET}@h/x.whl?token={SECRET}"))
    ((shown, _),) = seen[0]
    assert shown == "https://h/x.whl?token=***"


@pytest.mark.parametrize("requirement", ["lib===1." + "9" * 5000, 'lib; platform_release >= "1.' + "9" * 5000 + '"'])
def test_numbers_int_refuses_in_a_specifier_or_marker_are_refused_where_read(requirement: str) -> None:
    from pyemscripten.metadata import parse_metadata

    with pytest.raises(errors.MetadataError, match="invalid Requires-Dist"):
        parse_metadata(f"Metadata-Version: 2.1\nName: app\nVersion: 1.0\nRequires-Dist: {requirement}\n".encode(),
                       "app", "app-1.0-py3-none-any.whl")


@pytest.mark.parametrize("method", [12, 14])  # bzip2, LZMA
def test_members_compressed_otherwise_than_deflate_are_refused(method: int) -> None:
    import io
    import zipfile

    from pyemscripten.metadata import metadata_from_wheel
    from pyemscripten.wheels import open_wheel

    whl = make_wheel("pkg", "1.0", {"pkg/__init__.py": b""})
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(bytes(whl))) as src, zipfile.ZipFile(out, "w") as dst:
        for entry in src.infolist():
            dst.writestr(entry.filename, src.read(entry), compress_type=method)
    with pytest.raises(errors.WheelError, match="compressed with (bzip2|LZMA), not deflate as wheels are"):
        open_wheel(whl.filename, out.getvalue())
    with pytest.raises(errors.MetadataError, match="compressed with (bzip2|LZMA)"):
        metadata_from_wheel(out.getvalue(), "pkg", whl.filename)
