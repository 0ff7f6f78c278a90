"""Issue 8 in real Chromium: the rules of docs/SECURITY.md, through real fetch and the
Emscripten file system.

* credentials in an index URL travel as Basic auth and never show in a message or event;
* hashes are checked whenever the index or the lock gives them; an index without hashes is
  refused unless ``allow_unhashed=True``;
* with several indexes, a project comes from the first that has it, and a failing or
  incompatible first index never hands the project over to a later one;
* files are written only under the install target.

One page for the module (see test_faults.py for why that is safe).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator

import pytest

from tests.support.auth_proxy import AuthProxy
from tests.support.browser import PyodideSession
from tests.support.index_server import IndexServer
from tests.support.page_state import boot_with_helpers, flipped, large, pure
from tests.support.wheels import make_wheel

ATTEMPT = "await attempt(requirement, index_url, 10.0, 2, 0.05, **options)"
SECRET = "secret"


@pytest.fixture(scope="module")
def page(browser: object, session_index_server: IndexServer) -> Iterator[PyodideSession]:
    session = boot_with_helpers(browser, session_index_server)
    yield session
    session.close()


@pytest.fixture
def proxy(index_server: IndexServer) -> Iterator[AuthProxy]:
    with AuthProxy(index_server.url, "user", SECRET) as running:
        yield running


def _shown(err: dict) -> str:
    """Everything an error shows a person or a log: message, attributes, causes."""
    parts = []
    while err:
        parts += [err["message"], json.dumps(err["attributes"])]
        err = err["cause"]
    return "\n".join(parts)


# --- credentials ---------------------------------------------------------------------------


def test_fetch_itself_refuses_urls_with_credentials(page: PyodideSession, proxy: AuthProxy) -> None:
    # Why the transport strips them: the browser will not even send such a request.
    err = page.run_expect_error("from js import fetch\nawait fetch(url)", url=proxy.url_with_credentials())
    assert "credentials" in err["message"]


def test_credentials_travel_as_basic_auth_and_never_show(page: PyodideSession, index_server: IndexServer,
                                                         proxy: AuthProxy) -> None:
    index_server.default.add_wheel(large("authed"))  # large: its .metadata file is asked for too
    before = page.run("listing()")
    report = page.run(f"str({ATTEMPT})", requirement="authed", index_url=proxy.url_with_credentials(), options={})
    assert report.startswith("Installed authed-1.0")
    # Every request (page, metadata, wheel: the last two relative to the page) carried them.
    # The page comes first; the wheel is fetched speculatively, so it may go before the metadata.
    paths = [path for path, _, _ in proxy.log]
    assert paths[0] == "/simple/authed/"
    assert sorted(paths[1:]) == ["/files/authed-1.0-py3-none-any.whl",
                                 "/files/authed-1.0-py3-none-any.whl.metadata"]
    assert all(auth == proxy.expected and status == 200 for _, auth, status in proxy.log)
    assert SECRET not in json.dumps(page.run("events"))
    written = page.run("""
import os
info = os.path.join(SITE, "authed-1.0.dist-info")
{name: open(os.path.join(info, name), encoding="utf-8", errors="replace").read() for name in os.listdir(info)}
""")
    assert "pyemscripten.json" in written and SECRET not in json.dumps(written)
    assert SECRET not in page.run("pyemscripten.freeze()")
    page.run("pyemscripten.uninstall('authed')")
    assert page.run("listing()") == before


FAILURES = [
    # (id, requirement, how to break it, error type, words in the message)
    ("no-such-project", "nowhere-to-be-found", "missing", "ProjectNotFoundError", "No index has a project"),
    ("wheel-tampered", "authed-tampered", "tamper", "HashMismatchError", "Hash mismatch"),
    ("wheel-503", "authed-unavailable", "503", "IndexHTTPError", "HTTP 503"),
    ("wrong-password", "authed-wrong", "password", "IndexHTTPError", "HTTP 401"),
    ("unreachable", "authed-unreachable", "port", "NetworkError", "Network error"),
]


@pytest.mark.parametrize("case,requirement,breakage,error,words", FAILURES, ids=[f[0] for f in FAILURES])
def test_failures_never_show_credentials(case: str, requirement: str, breakage: str, error: str,
                                         words: str, page: PyodideSession, index_server: IndexServer,
                                         proxy: AuthProxy) -> None:
    wheel = pure(requirement)
    if breakage != "missing":
        index_server.default.add_wheel(wheel)
    url = proxy.url_with_credentials()
    if breakage == "tamper":
        index_server.add_fault(f"/files/{wheel.filename}", body=flipped(bytes(wheel)))
    elif breakage == "503":
        index_server.add_fault(f"/files/{wheel.filename}", status=503)
    elif breakage == "password":
        url = proxy.url_with_credentials(password="not-the-" + "pass")
    elif breakage == "port":
        url = f"http://user:{SECRET}@127.0.0.1:9/simple/"  # discard port: nothing listens
    before = page.run("listing()")
    err = page.run_expect_error(ATTEMPT, requirement=requirement, index_url=url, options={})
    assert err["type"] == error and words in err["message"], err["message"]
    assert "127.0.0.1:" in err["message"]  # the URL is named, just not its userinfo
    assert SECRET not in _shown(err) and "not-the-pass" not in _shown(err)
    assert f"user:{SECRET}" not in err["traceback"]
    assert SECRET not in json.dumps(page.run("events"))
    assert page.run("listing()") == before


# --- hashes --------------------------------------------------------------------------------


def test_index_without_hashes_needs_the_opt_in(page: PyodideSession, index_server: IndexServer) -> None:
    index_server.default.hashes = False
    for html in (False, True):
        index_server.default.html_only = html
        project = f"unhashed-{'html' if html else 'json'}"
        index_server.default.add_wheel(pure(project))
        before = page.run("listing()")
        err = page.run_expect_error(ATTEMPT, requirement=project, index_url=index_server.index_url, options={})
        assert err["type"] == "MissingHashError" and "allow_unhashed=True" in err["message"]
        assert page.run("listing()") == before
        report = page.run(f"str({ATTEMPT})", requirement=project, index_url=index_server.index_url,
                          options={"allow_unhashed": True})
        assert report.startswith(f"Installed {project}-1.0")
        page.run(f"pyemscripten.uninstall({project!r})")


WEBCRYPTO = """
import hashlib, os
from pyemscripten.browser import WebCryptoHasher
hasher = WebCryptoHasher()
assert hasher._webcrypto() is not None, "WebCrypto is available on a localhost page"
blobs = [b"", b"x" * 4095, b"y" * 4096, os.urandom(1 << 20), bytearray(os.urandom(70000)), memoryview(b"z" * 9000)]
got = await hasher.sha256(blobs)
# Blobs are handed over joined in runs: small runs, so that many cross run boundaries.
hasher.RUN = 10000
many = [os.urandom(n) for n in (4096, 5000, 9999, 10000, 10001, 4097, 30000, 4096, 4096)] + blobs
joined = await hasher.sha256(many)
# start(): WebCrypto begins at once, the answers are collected when awaited (or dropped).
started, small_only, dropped = hasher.start(many), hasher.start([b"a", b"bc"]), hasher.start(blobs)
dropped.close()
[g == hashlib.sha256(b).digest() for g, b in zip(got, blobs)] + [
    joined == [hashlib.sha256(b).digest() for b in many],
    await started == joined, await small_only == [hashlib.sha256(b).digest() for b in (b"a", b"bc")]]
"""


def test_webcrypto_digests_agree_with_hashlib(page: PyodideSession) -> None:
    assert page.run(WEBCRYPTO) == [True] * 9


def test_a_large_member_that_disagrees_with_record_is_refused(page: PyodideSession,
                                                              index_server: IndexServer) -> None:
    # Above WebCryptoHasher's threshold: the RECORD check of this member runs in WebCrypto.
    big = "\n".join(f"value_{i} = {i}" for i in range(20000))
    wheel = make_wheel("big-tampered", "1.0", {"big_tampered/__init__.py": big},
                       bad_record="big_tampered/__init__.py")
    index_server.default.add_wheel(wheel)
    before = page.run("listing()")
    err = page.run_expect_error(ATTEMPT, requirement="big-tampered", index_url=index_server.index_url, options={})
    assert err["type"] == "RecordError"
    assert "big_tampered/__init__.py" in err["message"] and "hash mismatch" in err["message"]
    assert page.run("listing()") == before


LOCK = """lock-version = "1.0"
created-by = "test"

[[packages]]
name = "{name}"
version = "1.0"

[[packages.wheels]]
name = "{filename}"
url = "{url}"
size = {size}
hashes = {{ sha256 = "{sha256}" }}
"""


def test_lock_hashes_are_checked(page: PyodideSession, index_server: IndexServer) -> None:
    wheel = pure("locked-pkg")
    index_server.default.add_wheel(wheel)
    fields = dict(name="locked-pkg", filename=wheel.filename, url=index_server.default.file_url(wheel.filename),
                  size=len(wheel))
    install_lock = """
session = Session(transport=FetchTransport(timeout=10), retry=RetryPolicy(2, 0.05), distribution_url="")
str(await pyemscripten.install_lock(lock, quiet=True, session=session))
"""
    before = page.run("listing()")
    bad = LOCK.format(sha256=hashlib.sha256(b"something else").hexdigest(), **fields)
    err = page.run_expect_error(install_lock, lock=bad)
    assert err["type"] == "HashMismatchError" and wheel.filename in err["message"]
    assert page.run("listing()") == before
    # The index's own hash is right; the lock's is what counts, and a wrong size too.
    err = page.run_expect_error(install_lock, lock=LOCK.format(sha256=wheel.sha256, **{**fields, "size": 7}))
    assert err["type"] == "SizeMismatchError"
    good = LOCK.format(sha256=wheel.sha256, **fields)
    assert page.run(install_lock, lock=good).startswith("Installed locked-pkg-1.0")
    page.run("pyemscripten.uninstall('locked-pkg')")
    assert page.run("listing()") == before


# --- several indexes -----------------------------------------------------------------------


def test_first_index_never_hands_a_project_to_a_later_one(page: PyodideSession, index_server: IndexServer) -> None:
    first, second = index_server.add_index("first"), index_server.add_index("second")
    # The first index has the project, but no wheel for this runtime: no fallback.
    first.add_wheel(pure("confusable", tag="cp312-cp312-pyemscripten_2024_0_wasm32"))
    # The first index fails: an error, not a silent switch to the second.
    first.add_wheel(pure("flaky"))
    index_server.add_fault("/index/first/simple/flaky/", status=503)
    first.add_wheel(pure("guarded"))
    index_server.add_fault("/index/first/simple/guarded/", status=403)
    for project in ("confusable", "flaky", "guarded"):
        second.add_wheel(pure(project, "9.0"))
    before = page.run("listing()")
    expected = {"confusable": "NoCompatibleWheelError", "flaky": "IndexHTTPError", "guarded": "IndexHTTPError"}
    for project, error in expected.items():
        err = page.run_expect_error(ATTEMPT, requirement=project, index_url=[first.url, second.url], options={})
        assert err["type"] == error and project in err["message"], err["message"]
        assert index_server.count(regex=f"^/index/second/.*{project}") == 0
        assert page.run("listing()") == before
    assert index_server.count("/index/first/simple/flaky/") == 2  # retried, then given up


# --- files only under the install target ---------------------------------------------------

TARGET = """
import os
from pyemscripten.installation import Scheme
root = "/tmp/sec-target"
for sub in ("site", "bin", "include", "data"):
    os.makedirs(f"{root}/{sub}", exist_ok=True)
os.makedirs("/tmp/sec-outside", exist_ok=True)
if not os.path.lexists(f"{root}/site/escape"):
    os.symlink("/tmp/sec-outside", f"{root}/site/escape")
target = Scheme(f"{root}/site", f"{root}/site", f"{root}/bin", f"{root}/include", f"{root}/data")

def whole_fs():
    '''Every file and link of the file system but /proc, /dev, /sys: (size, mtime).'''
    out = {}
    for dirpath, dirnames, filenames in os.walk("/"):
        if dirpath == "/":
            dirnames[:] = [d for d in dirnames if d not in ("proc", "dev", "sys")]
        for name in filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            st = os.lstat(os.path.join(dirpath, name))
            out[os.path.join(dirpath, name)] = [st.st_size, st.st_mtime]
    return out
"""

HOSTILE = [
    ("through-a-symlinked-folder", {"escape/evil.py": b"x"}, {}, "InstallError", "outside"),
    ("dotdot-in-data", {}, {"data/../../../../tmp/evil": b"x"}, "UnsafePathError", "'..' in path"),
    ("unknown-data-folder", {}, {"etc/passwd": b"x"}, "WheelError", "unknown .data folder"),
    ("dotdot-in-scripts", {}, {"scripts/../../evil": b"x"}, "UnsafePathError", "'..' in path"),
    # Not an escape, but staged through the page's own writer (its errno) like every file:
    ("file-and-folder", {"target_file_and_folder/sub": b"x", "target_file_and_folder/sub/x.py": b""}, {},
     "InstallError", "a file target_file_and_folder/sub and target_file_and_folder/sub/x.py inside it"),
]


def test_files_are_written_only_under_the_install_target(page: PyodideSession, index_server: IndexServer) -> None:
    page.run(TARGET)
    for case, files, data_files, error, words in HOSTILE:
        project = f"target-{case}"
        index_server.default.add_wheel(pure(project, files=files, data_files=data_files))
        before = page.run("whole_fs()")
        err = page.run_expect_error("await attempt(requirement, index_url, 10.0, 2, 0.05, scheme=target)",
                                    requirement=project, index_url=index_server.index_url)
        assert err["type"] == error and words in err["message"], (case, err["message"])
        assert page.run("whole_fs()") == before, case
    index_server.default.add_wheel(make_wheel("spread", "1.0", {"spread/__init__.py": b""},
                                              data_files={"scripts/tool": b"#!python\n", "headers/h.h": b"",
                                                          "data/share/spread.txt": b"1"}))
    before = page.run("whole_fs()")
    page.run("await attempt('spread', index_url, 10.0, 2, 0.05, scheme=target)", index_url=index_server.index_url)
    after = page.run("whole_fs()")
    changed = {p for p in before.keys() | after.keys() if before.get(p) != after.get(p)}
    assert changed and all(p.startswith("/tmp/sec-target/") for p in changed), sorted(changed)
    assert {"/tmp/sec-target/bin/tool", "/tmp/sec-target/include/spread/h.h",
            "/tmp/sec-target/data/share/spread.txt", "/tmp/sec-target/site/spread/__init__.py"} <= changed
    assert not any(p.startswith("/tmp/sec-outside/") for p in after)
