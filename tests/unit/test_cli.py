"""``python -m pyemscripten lock``, natively, against the local index of real wheels."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from pyemscripten.__main__ import main
from pyemscripten.errors import NetworkError
from pyemscripten.locks import load_lock
from pyemscripten.native import UrllibTransport
from pyemscripten.target import Target
from tests.support.browser import WHEELS_DIR
from tests.support.index_server import IndexServer
from tests.support.wheels import make_wheel

TARGET = Target.for_platform("pyemscripten_2026_0_wasm32", "3.14.2")


@pytest.fixture(scope="module")
def server() -> Iterator[IndexServer]:
    if not (WHEELS_DIR / "rich-15.0.0-py3-none-any.whl").is_file():
        pytest.skip("no local wheels: run scripts/fetch_fixtures.py")
    with IndexServer(wheel_dirs=[WHEELS_DIR]) as running:
        yield running


@pytest.fixture
def index(server: IndexServer) -> Iterator[IndexServer]:
    yield server
    server.reset()


def lock(index: IndexServer, *args: str, out: Path) -> dict:
    assert main(["lock", *args, "--index-url", index.index_url, "-o", str(out)]) == 0
    return tomllib.loads(out.read_text())


def test_lock_names_every_wheel_with_its_url_size_and_sha256(index: IndexServer, tmp_path: Path) -> None:
    data = lock(index, "rich", "charset-normalizer", out=tmp_path / "pylock.toml")
    assert data["lock-version"] == "1.0"
    assert data["tool"]["pyemscripten"]["platform"] == "pyemscripten_2026_0_wasm32"
    assert data["tool"]["pyemscripten"]["python-version"] == "3.14"  # the default, as given
    packages = {p["name"]: p for p in data["packages"]}
    assert set(packages) == {"rich", "markdown-it-py", "mdurl", "pygments", "charset-normalizer"}
    for package in packages.values():
        (wheel,) = package["wheels"]
        body = (WHEELS_DIR / wheel["name"]).read_bytes()
        assert wheel["url"] == f"{index.url}/files/{wheel['name']}"
        assert wheel["hashes"] == {"sha256": hashlib.sha256(body).hexdigest()}
        assert wheel["size"] == len(body)
    assert packages["charset-normalizer"]["wheels"][0]["name"].endswith("-cp314-cp314-pyemscripten_2026_0_wasm32.whl")
    # What the browser reads back: one wheel per package, for its platform.
    chosen = load_lock((tmp_path / "pylock.toml").read_text(), TARGET)
    assert sorted(w.name for w in chosen) == sorted(packages)


def test_a_lock_relative_to_its_folder_moves_with_its_wheels(index: IndexServer, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    data = lock(index, "rich", "--relative-to", index.url, out=tmp_path / "pylock.toml")
    assert {w["path"] for p in data["packages"] for w in p["wheels"]} == {
        f"files/{w['name']}" for p in data["packages"] for w in p["wheels"]}
    chosen = load_lock((tmp_path / "pylock.toml").read_text(), TARGET, lock_url="http://elsewhere.test/v/pylock.toml")
    assert all(w.file.url.startswith("http://elsewhere.test/v/files/") for w in chosen) and len(chosen) == 4
    # A folder no wheel is under: said, and the URLs stay.
    data = lock(index, "rich", "--relative-to", "http://other.test/", out=tmp_path / "pylock.other.toml")
    assert all("url" in w for p in data["packages"] for w in p["wheels"])
    assert "no wheel's URL is under --relative-to http://other.test/" in capsys.readouterr().err


def test_urls_with_their_scheme_in_capitals_are_the_same_urls(index: IndexServer, tmp_path: Path) -> None:
    """RFC 3986 3.1: schemes are case-insensitive. HTTP://... was refused ("not an http or
    https URL") as an index URL and --relative-to, which then matched no wheel's URL."""
    shout = "HTTP" + index.url.removeprefix("http")
    assert main(["lock", "rich", "--index-url", "HTTP" + index.index_url.removeprefix("http"), "--relative-to", shout,
                 "-o", str(tmp_path / "pylock.toml")]) == 0
    data = tomllib.loads((tmp_path / "pylock.toml").read_text())
    assert {w["path"] for p in data["packages"] for w in p["wheels"]} == {
        f"files/{w['name']}" for p in data["packages"] for w in p["wheels"]}


def test_wheels_saved_beside_the_lock(index: IndexServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--wheels-dir: every wheel saved (checked), the lock names them by path; run again,
    the files already there are kept and a damaged one is fetched again."""
    folder = tmp_path / "tests"
    folder.mkdir()
    data = lock(index, "rich", "--wheels-dir", str(folder / "wheels"), out=folder / "pylock.toml")
    saved = {w["name"]: w for p in data["packages"] for w in p["wheels"]}
    assert len(saved) == 4 and all(w["path"] == f"wheels/{name}" and "url" not in w for name, w in saved.items())
    for name, wheel in saved.items():
        assert hashlib.sha256((folder / "wheels" / name).read_bytes()).hexdigest() == wheel["hashes"]["sha256"]
        # Readable by a web server that runs as another user (0666 less the umask, not 0600).
        umask = os.umask(0)
        os.umask(umask)
        assert (folder / "wheels" / name).stat().st_mode & 0o777 == 0o666 & ~umask
    assert "Fetching 4 wheels" in capsys.readouterr().err
    chosen = load_lock((folder / "pylock.toml").read_text(), TARGET, lock_url="http://127.0.0.1:9/t/pylock.toml")
    assert {w.file.url for w in chosen} == {f"http://127.0.0.1:9/t/wheels/{name}" for name in saved}
    # Again, with one file damaged: only that one is fetched.
    damaged = folder / "wheels" / sorted(saved)[0]
    damaged.write_bytes(b"not a wheel")
    (folder / "wheels" / "old-1.0-py3-none-any.whl").write_bytes(b"")
    index.reset_counts()
    lock(index, "rich", "--wheels-dir", str(folder / "wheels"), out=folder / "pylock.toml")
    assert index.count(regex=r"\.whl$") == 1
    assert hashlib.sha256(damaged.read_bytes()).hexdigest() == saved[damaged.name]["hashes"]["sha256"]
    said = capsys.readouterr().err
    assert "Fetching 1 wheel " in said and "; 3 already there" in said
    assert "Not in this lock (delete them if no other lock names them): old-1.0-py3-none-any.whl" in said
    lock(index, "rich", "--wheels-dir", str(folder / "wheels"), out=folder / "pylock.toml")
    assert "All 4 wheels are in" in capsys.readouterr().err
    # A folder that cannot be made: the command's error, no traceback.
    (tmp_path / "file").write_text("")
    assert main(["lock", "rich", "--index-url", index.index_url, "--wheels-dir", str(tmp_path / "file" / "w"),
                 "-o", str(folder / "x.toml")]) == 1
    assert "cannot save the wheels into" in capsys.readouterr().err
    # To stdout: no folder for the paths to start from; said before resolving.
    with pytest.raises(SystemExit):
        main(["lock", "rich", "--index-url", index.index_url, "--wheels-dir", str(folder / "wheels"), "-o", "-"])
    assert "give -o FILE" in capsys.readouterr().err
    # A folder beside the lock's, not in it: ../ paths, and a warning to serve both.
    data = lock(index, "attrs", "--wheels-dir", str(tmp_path / "vendored"), out=folder / "beside.toml")
    assert data["packages"][0]["wheels"][0]["path"].startswith("../vendored/attrs-")
    assert "is not inside the lock's folder" in capsys.readouterr().err


def test_a_wheel_named_by_its_file_url_is_locked_from_a_copy_beside_the_lock(
        index: IndexServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # "name @ file:///..." was refused ("only http and https URLs"): a direct reference is the
    # user's own words. The transport reads that one file; --wheels-dir copies it beside the lock.
    body = bytes(make_wheel("mine", "0.3", {"mine/__init__.py": ""}, requires=["mdurl"]))
    (tmp_path / "built").mkdir()
    (tmp_path / "built" / "mine-0.3-py3-none-any.whl").write_bytes(body)
    url = f"{(tmp_path / 'built' / 'mine-0.3-py3-none-any.whl').as_uri()}#sha256={hashlib.sha256(body).hexdigest()}"
    data = lock(index, f"mine @ {url}", "--wheels-dir", str(tmp_path / "wheels"), out=tmp_path / "pylock.toml")
    paths = {p["name"]: p["wheels"][0]["path"] for p in data["packages"]}
    assert paths["mine"] == "wheels/mine-0.3-py3-none-any.whl" and "mdurl" in paths  # its dependency: the index's
    assert (tmp_path / "wheels" / "mine-0.3-py3-none-any.whl").read_bytes() == body
    # Without --wheels-dir the lock would name a file a browser cannot fetch: said before resolving.
    with pytest.raises(SystemExit) as exit_:
        main(["lock", f"mine @ {url}", "--index-url", index.index_url, "-o", str(tmp_path / "pylock.toml")])
    assert exit_.value.code == 2 and "a wheel of this machine needs --wheels-dir" in capsys.readouterr().err
    # Only the file named is read: another file: URL (as a page might link one) is not.
    transport = UrllibTransport(files=[url.partition("#")[0]])
    assert asyncio.run(transport.get(url.partition("#")[0])).body == body
    with pytest.raises(NetworkError, match="only http and https URLs are fetched"):
        asyncio.run(transport.get((tmp_path / "pylock.toml").as_uri()))


def test_a_python_the_platforms_runtimes_do_not_run_is_a_warning(index: IndexServer, tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    lock(index, "attrs", "--python-version", "3.13", out=tmp_path / "pylock.toml")
    assert ("warning: the runtimes of pyemscripten_2026_0_wasm32 run Python 3.14, and refuse a lock for Python 3.13: "
            "did you mean --python-version 3.14?") in capsys.readouterr().err
    lock(index, "attrs", "--python-version", "3.14.2", out=tmp_path / "pylock.toml")
    lock(index, "attrs", "--platform", "pyemscripten_2026_5_wasm32", "--python-version", "3.15", out=tmp_path / "pylock.l.toml")
    assert "warning" not in capsys.readouterr().err


def test_lock_resolves_for_the_target_not_the_host(index: IndexServer, tmp_path: Path) -> None:
    # Markers are evaluated for the browser: the emscripten-only dependency is locked, the
    # Windows-only one is not; a wheel for this machine's platform is never chosen.
    index.index().add_wheel(make_wheel("webapp", "1.0", requires=[
        "attrs; sys_platform == 'emscripten'", "click; sys_platform == 'win32'"]))
    index.index().add_wheel(make_wheel("attrs", "99.0", tag="cp311-cp311-manylinux_2_17_x86_64"))
    data = lock(index, "webapp", out=tmp_path / "pylock.toml")
    versions = {p["name"]: p["version"] for p in data["packages"]}
    assert set(versions) == {"webapp", "attrs"} and versions["attrs"] != "99.0"


def test_lock_to_stdout(index: IndexServer, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lock", "mdurl", "--index-url", index.index_url, "-o", "-"]) == 0
    out = capsys.readouterr().out
    assert tomllib.loads(out)["packages"][0]["name"] == "mdurl"


def test_a_lock_named_as_no_other_tool_reads_it_is_warned_of(index: IndexServer, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    for name, warned in (("web-lock.toml", True), ("pylock.web.toml", False), ("pylock.toml", False)):
        assert main(["lock", "mdurl", "--index-url", index.index_url, "-o", str(tmp_path / name)]) == 0
        err = capsys.readouterr().err
        assert (f"warning: -o {tmp_path / name}: PEP 751 names a lock pylock.toml or pylock.<name>.toml; pip and uv "
                "read no other name as a lock (pyemscripten reads any)" in err) == warned, err


def test_no_wheel_for_the_platform_is_an_error(index: IndexServer, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["lock", "charset-normalizer", "--index-url", index.index_url, "--platform",
                   "pyemscripten_2025_0_wasm32", "--python-version", "3.13", "-o", str(tmp_path / "pylock.x.toml")])
    err = capsys.readouterr().err
    assert status == 1 and err.startswith("error: ")
    assert "charset-normalizer" in err and "pyemscripten_2025_0_wasm32" in err
    assert "--distribution https://cdn.jsdelivr.net/pyodide/v0.29.5/full/pyodide-lock.json" in err  # its runtime's
    assert not (tmp_path / "pylock.x.toml").exists()


def test_unknown_project_is_an_error(index: IndexServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["lock", "no-such-project-anywhere", "--index-url", index.index_url, "-o", str(tmp_path / "pylock.x.toml")])
    err = capsys.readouterr().err
    assert status == 1 and "no-such-project-anywhere" in err
    error, hint = err.rstrip().splitlines()[-2:]
    assert error.endswith("name the index that hosts it (index_urls=[...] in Python, indexUrls in "
                          "JavaScript, --index-url for lock).")
    # In the browser, the runtime's distribution is asked for what no index has (numpy, ...).
    assert hint.startswith("hint: in the browser, what no index has a wheel of is also looked for")


def test_a_url_that_cannot_be_fetched_is_not_tried_again() -> None:
    from pyemscripten.index_client import RetryPolicy, get_ok

    class Refusing:
        def __init__(self, reason: str, refused_by: str | None = None) -> None:
            self.reason, self.refused_by, self.calls = reason, refused_by, 0

        async def get(self, url, headers=None, on_progress=None, on_data=None):
            self.calls += 1
            raise NetworkError(url, self.reason, refused_by=self.refused_by,
                               page=self.refused_by and "https://app.example")

    async def no_sleep(_):
        return None

    for reason, refused_by, calls in (("only http and https URLs are fetched", None, 1),
                                      ("connection reset", None, 3), ("Failed to fetch", "mixed content", 1),
                                      ("Failed to fetch", "cors", 2)):  # refused twice in a row: final
        transport = Refusing(reason, refused_by)
        with pytest.raises(NetworkError) as caught:
            asyncio.run(get_ok(transport, "https://u:secret@x/simple/a/", project="a", what="page",
                               retry=RetryPolicy(attempts=3, backoff=0), sleep=no_sleep))
        assert transport.calls == calls
        assert caught.value.url == "https://x/simple/a/" and caught.value.project == "a"
        assert caught.value.refused_by == refused_by


@pytest.mark.parametrize(("url", "problem"), [
    ("http://127.0.0.1:8765/idx/ ", "it has a space or a control character in it (copied with one?)"),
    ("http://127.0.0.1:abc/", "Port could not be cast to integer value as 'abc'"),
    ("http:///simple/", "it names no host (such as https://pypi.org/simple/)"),
    ("http://a..b/simple/", "'a..b' is not a host name"),
])
def test_a_url_that_is_none_is_refused_before_resolving(url: str, problem: str,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    for option in ("--index-url", "--distribution"):
        with pytest.raises(SystemExit) as exit_:
            main(["lock", "lib", option, url, "-o", "-"])
        err = capsys.readouterr().err
        assert exit_.value.code == 2 and f"error: argument {option}: {url!r} is not a URL: {problem}" in err, err
        assert "Traceback" not in err


def test_credentials_in_a_bad_argument_are_not_shown(capsys: pytest.CaptureFixture[str]) -> None:
    for option, url in (("--index-url", "htps://u:s3cret@pypi.example.com/simple/"),
                        ("--index-url", "u:s3cret@pypi.example.com/simple/"),
                        ("--index-url", "1https://u:s3cret@pypi.example.com/simple/"),  # a scheme mistyped
                        ("--distribution", "https://u:s3cret@h:x/pyodide-lock.json"),
                        ("--relative-to", "ftp://u:s3cret@h/")):
        with pytest.raises(SystemExit):
            main(["lock", "lib", option, url, "-o", "-"])
        err = capsys.readouterr().err
        assert "s3cret" not in err and "***@" in err, err


def test_the_native_transport_says_a_bad_url_is_none(tmp_path: Path) -> None:
    # A requirement's own URL ("lib @ URL") reaches the transport unchecked: one line, not a
    # traceback, and not tried again. A URL with other than ASCII in it is sent quoted; one
    # with a lone surrogate (JSON's "\\udc80", from a --distribution's lock) has no UTF-8 to
    # quote, and the error naming it must still print.
    import asyncio

    from pyemscripten.errors import NetworkError
    from pyemscripten.native import UrllibTransport

    for url in ("http://h:abc/lib-1.0-py3-none-any.whl", "http://a..b/x.whl", "http:///x.whl", "http://h/a b.whl",
                "http://h/lib-1.0-py3-none-any.whl?\udc80", "http://h\ud800/x.whl"):
        with pytest.raises(NetworkError) as caught:
            asyncio.run(UrllibTransport().get(url))
        assert caught.value.reason.startswith("not a URL (") and not caught.value.transient, url
        assert "Check the URL" in str(caught.value)
        str(caught.value).encode("utf-8")


def test_the_native_transport_says_a_failed_connection_without_a_browsers_words() -> None:
    import asyncio
    import socket

    from pyemscripten.errors import NetworkError
    from pyemscripten.native import UrllibTransport

    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    with pytest.raises(NetworkError) as caught:
        asyncio.run(UrllibTransport(timeout=5).get(f"http://127.0.0.1:{port}/simple/a/"))
    said = str(caught.value)
    assert caught.value.transient and said.endswith(". Check the connection and the URL's host; then try again.")
    assert "CORS" not in said and "browser" not in said, said


def test_the_native_transport_quotes_what_is_not_ascii(index: IndexServer) -> None:
    import asyncio

    from pyemscripten.native import UrllibTransport

    response = asyncio.run(UrllibTransport().get(index.index_url + "mdürl/"))
    assert response.status == 404 and response.body == "no project 'mdürl'\n".encode()  # sent, and read back


def test_a_refusal_by_the_browser_says_what_to_do() -> None:
    from pyemscripten.errors import NetworkError

    def refused(why: str, page: str | None = "https://app.example") -> NetworkError:
        return NetworkError("https://u:secret@index.example/simple/a/?token=t", "Failed to fetch", "a",
                            refused_by=why, page=page)

    cors = str(refused("cors"))
    assert cors == ("Network error for 'a' fetching https://***@index.example/simple/a/?token=***: Failed to "
                    "fetch. The server answered, but the browser did not let this page (https://app.example) "
                    "read the answer (CORS). Have the server, and any server it redirects to, send "
                    "Access-Control-Allow-Origin: * (or https://app.example) with every answer, error pages "
                    "included (a proxy on the way may drop it); or serve the page and what it installs from one "
                    "origin.")
    assert refused("cors").transient  # an error page without the header looks the same: tried again
    assert refused("cors").why == "Failed to fetch: the browser did not let this page read the answer, CORS"
    preflight = str(refused("cors preflight"))
    assert "so the browser first asks with OPTIONS" in preflight and "secret" not in preflight
    assert "Access-Control-Allow-Headers: Authorization (* does not cover it)" in preflight
    assert "this page read" in str(refused("cors", page=None)) and "(or " not in str(refused("cors", page=None))
    mixed = refused("mixed content")
    assert not mixed.transient
    assert str(mixed).endswith(": Failed to fetch. This page (https://app.example) is served over https, and the "
                               "browser blocks its requests to http URLs of other machines (mixed content). Use "
                               "the index's https URL (an index whose pages name http files needs https ones).")


def test_module_runs_as_a_command(index: IndexServer, tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "pyemscripten", "lock", "mdurl", "--index-url", index.index_url,
                           "-o", str(tmp_path / "pylock.toml")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "wrote" in done.stderr and (tmp_path / "pylock.toml").is_file()


def test_ctrl_c_ends_a_lock_at_once_even_while_a_request_hangs(tmp_path: Path) -> None:
    import signal
    import socket
    import time

    silent = socket.create_server(("127.0.0.1", 0))  # takes the connection, answers nothing
    try:
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/simple/"
        running = subprocess.Popen(
            [sys.executable, "-m", "pyemscripten", "lock", "rich", "--index-url", url, "-o", str(tmp_path / "pylock.l.toml")],
            stderr=subprocess.PIPE, text=True,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # as a terminal's foreground job
        time.sleep(1.5)  # well inside the request (its timeout is 60 s)
        running.send_signal(signal.SIGINT)
        err = running.communicate(timeout=20)[1]
    finally:
        silent.close()
    assert running.returncode == 130 and "interrupted: the lock was not written" in err
    assert "Traceback" not in err and not (tmp_path / "pylock.l.toml").exists()


def test_a_walk_back_around_a_project_without_wheels_is_told_and_bounded(
        index: IndexServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Every version of app from 11 on needs native, which has no wheel for a browser: the
    lock says that it looks at older versions, then stops and names native."""
    walk = index.add_index("walk")
    try:
        walk.add_wheel(make_wheel("native", "1.0", tag="cp314-cp314-manylinux_2_28_x86_64"))
        for version in range(1, 301):
            walk.add_wheel(make_wheel("app", str(version), requires=["native"] if version > 10 else []))
        status = main(["lock", "app", "--index-url", walk.url, "-o", str(tmp_path / "pylock.x.toml")])
    finally:
        index.remove_index("walk")
    err = capsys.readouterr().err
    assert status == 1 and not (tmp_path / "pylock.x.toml").exists()
    assert err.startswith("Looking at older versions of app for one that fits the other requirements and this runtime; "
                          "this can take a while\nerror: No wheel of 'native' fits this runtime")
    assert "Resolution stopped after 41 passes through older versions of app (back to " in err


def test_an_extra_the_version_does_not_provide_is_a_warning(index: IndexServer, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    data = lock(index, "mdurl[nosuch]", out=tmp_path / "pylock.toml")
    assert [p["name"] for p in data["packages"]] == ["mdurl"]
    assert capsys.readouterr().err.startswith(
        "warning: mdurl 0.1.2 does not provide the extra 'nosuch'; it is installed without it\nwrote ")


def test_the_runtimes_distribution_serves_what_no_index_has(index: IndexServer, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    """--distribution: a pyodide-lock.json whose wheels serve projects without a browser wheel
    on the index, as the runtime's distribution does in the browser."""
    import json

    native = make_wheel("native", "2.0", tag="cp314-cp314-pyemscripten_2026_0_wasm32")
    lock_json = {"info": {"abi_version": "2026_0", "arch": "wasm32", "python": "3.14.2"}, "packages": {
        "native": {"name": "native", "version": "2.0", "file_name": native.filename, "depends": [],
                   "sha256": hashlib.sha256(native).hexdigest(), "install_dir": "site", "package_type": "package"}}}
    walk = index.add_index("dist")
    try:
        walk.add_wheel(make_wheel("native", "1.0", tag="cp314-cp314-manylinux_2_28_x86_64"))
        walk.add_wheel(make_wheel("app", "1.0", requires=["native>=2"]))
        index.mount("/runtime/", {"pyodide-lock.json": json.dumps(lock_json).encode(), native.filename: bytes(native)})
        assert main(["lock", "app", "--index-url", walk.url, "-o", str(tmp_path / "pylock.no.toml")]) == 1
        err = capsys.readouterr().err
        assert "No wheel of 'native' fits this runtime" in err
        # The browser would have looked in the runtime's distribution: the command says how to here.
        assert err.splitlines()[-1] == (
            "hint: in the browser, what no index has a wheel of is also looked for in the runtime's own "
            "distribution (Pyodide ships numpy, pandas, pillow, polars and more beside the runtime, not on PyPI). "
            "To lock with it here, add --distribution https://cdn.jsdelivr.net/pyodide/v314.0.7/full/pyodide-lock.json.")
        assert main(["lock", "app", "--index-url", walk.url, "--distribution", f"{index.url}/runtime/pyodide-lock.json",
                     "-o", str(tmp_path / "pylock.toml")]) == 0
        assert "hint:" not in capsys.readouterr().err
        # A conflict over a version no index has at all: no hint (the runtime would not have it either).
        assert main(["lock", "app==9", "--index-url", walk.url, "-o", "-"]) == 1
        assert "hint:" not in capsys.readouterr().err
        # Over a version the index has for other platforms only: the hint.
        walk.add_wheel(make_wheel("native", "0.5"))
        walk.add_wheel(make_wheel("native", "2.0", tag="cp314-cp314-manylinux_2_28_x86_64"))
        assert main(["lock", "app", "--index-url", walk.url, "-o", "-"]) == 1
        err = capsys.readouterr().err
        assert "native 2.0 has wheels only for other platforms" in err and "hint: in the browser" in err
        data = tomllib.loads((tmp_path / "pylock.toml").read_text())
    finally:
        index.remove_index("dist")
    wheels = {p["name"]: p["wheels"][0] for p in data["packages"]}
    assert wheels["native"]["url"] == f"{index.url}/runtime/{native.filename}"
    assert wheels["native"]["hashes"] == {"sha256": hashlib.sha256(native).hexdigest()}
    assert set(wheels) == {"app", "native"}


def test_a_distribution_that_fails_or_is_for_another_runtime_is_said(index: IndexServer, tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    import json

    status = main(["lock", "mdurl", "--index-url", index.index_url, "--distribution", f"{index.url}/nowhere/pyodide-lock.json",
                   "-o", str(tmp_path / "pylock.x.toml")])
    err = capsys.readouterr().err
    assert status == 1 and err.startswith("error: ") and "/nowhere/pyodide-lock.json" in err and "404" in err
    # A pure-Python wheel fits any runtime: the warning must not depend on it.
    old = {"packages": {"numpy": {"name": "numpy", "version": "1.26.4", "sha256": "0" * 64, "depends": [],
                                  "file_name": "numpy-1.26.4-cp312-cp312-pyodide_2024_0_wasm32.whl"},
                        "six": {"name": "six", "version": "1.17.0", "sha256": "0" * 64, "depends": [],
                                "file_name": "six-1.17.0-py2.py3-none-any.whl"}}}
    index.mount("/old-runtime/", {"pyodide-lock.json": json.dumps(old).encode()})
    assert main(["lock", "mdurl", "--index-url", index.index_url, "--distribution", f"{index.url}/old-runtime/pyodide-lock.json",
                 "-o", str(tmp_path / "pylock.y.toml")]) == 0
    assert capsys.readouterr().err.startswith(
        f"warning: no wheel of the distribution {index.url}/old-runtime/pyodide-lock.json is for "
        "pyemscripten_2026_0_wasm32 (Python 3.14): is it the runtime you lock for?\n")


def test_bad_arguments_are_said_before_resolving(index: IndexServer, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["lock", "mdurl", "--index-url", index.index_url, "--python-version", "3", "-o", "-"])
    assert exit_.value.code == 2 and "lock: error: --python-version 3: '3' is not a Python version (expected " \
        "MAJOR.MINOR or MAJOR.MINOR.PATCH, such as 3.14)" in capsys.readouterr().err
    for output, problem in ((str(tmp_path), f"{tmp_path} is a folder: give a file name, such as "
                                            f"{tmp_path / 'pylock.toml'}"),
                            ("", "the name is empty: give a file name, such as pylock.toml (or - for stdout)"),
                            (str(tmp_path / "no" / "x.toml"), f"the folder {tmp_path / 'no'} does not exist: create "
                                                              f"it first (mkdir -p {tmp_path / 'no'})")):
        with pytest.raises(SystemExit) as exit_:
            main(["lock", "mdurl", "--index-url", index.index_url, "-o", output])
        assert exit_.value.code == 2 and f"cannot write the lock to -o {output}: {problem}" in capsys.readouterr().err
    for option, says in (("--distribution", "'./pyodide-lock.json' is not an http or https URL"),
                         ("--index-url", "'./pyodide-lock.json' is neither an http or https URL nor a folder here")):
        with pytest.raises(SystemExit):
            main(["lock", "mdurl", option, "./pyodide-lock.json", "-o", "-"])
        assert says in capsys.readouterr().err
    # A file where a folder belongs, an option lock does not have (said with lock's usage),
    # and a platform whose Python is not known without --python-version.
    (tmp_path / "file").write_text("")
    for args, says in (
            (["-o", str(tmp_path / "file" / "x.toml")], f"-o {tmp_path / 'file' / 'x.toml'}: {tmp_path / 'file'} is a "
                                                       "file, not a folder"),
            (["--wheels-dir", str(tmp_path / "file"), "-o", str(tmp_path / "pylock.l.toml")],
             f"--wheels-dir {tmp_path / 'file'}: it is a file: give a folder"),
            (["--platform", "pyemscripten_2027_0_wasm32"], "no runtime this version of pyemscripten knows runs it, so "
                                                           "it cannot tell its Python: give --python-version too"),
            (["--platform", "wasm", "--python-version", "3.14"], "--platform wasm: Cannot compute"),
            (["--frozen"], "unrecognized arguments: --frozen\n"),
            (["--index-urls", "x", "--distribution-url=y"],
             "unrecognized arguments: --index-urls x --distribution-url=y (--index-urls: did you mean --index-url?; "
             "--distribution-url: did you mean --distribution?)")):
        with pytest.raises(SystemExit) as exit_:
            main(["lock", "mdurl", "--index-url", index.index_url, *args])
        err = capsys.readouterr().err
        assert exit_.value.code == 2 and says in err and err.startswith("usage: python -m pyemscripten lock"), err
    assert index.log == []  # nothing was asked of the index


def test_a_path_with_a_nul_or_a_newline_is_said_on_one_line_before_resolving(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # A NUL in a path argument was a traceback (ValueError: embedded null byte), for -o only
    # after the whole resolution; a newline split the error over two lines.
    index = ["--index-url", "http://127.0.0.1:9/simple/"]  # never asked: each is refused first
    for args, says in (
            (["lock", "mdurl", *index, "-o", "a\0b"], "argument -o/--output: 'a\\x00b': a file name cannot hold a NUL"),
            (["lock", "mdurl", *index, "--wheels-dir", "w\0", "-o", str(tmp_path / "pylock.toml")],
             "argument --wheels-dir: 'w\\x00': a file name cannot hold a NUL"),
            (["lock", "-r", "r\0.txt"], "argument -r/--requirement: 'r\\x00.txt': a file name cannot hold a NUL"),
            (["index", "x\0.whl", "-o", str(tmp_path / "i")], "argument WHEEL: 'x\\x00.whl': a file name cannot"),
            (["index", "-o", "i\0"], "argument -o/--output: 'i\\x00': a file name cannot hold a NUL"),
            (["lock", "mdurl", *index, "-o", "x\ny/pylock.toml"],
             "cannot write the lock to -o 'x\\ny/pylock.toml': the folder 'x\\ny' does not exist: create it first\n"),
            (["lock", "-r", "a\nb"], "error: -r 'a\\nb': No such file or directory\n"),
            (["lock", "mdurl", "--platform", "x\ny"], "error: --platform 'x\\ny': Cannot compute")):
        with pytest.raises(SystemExit) as exit_:
            main(args)
        err = capsys.readouterr().err
        said = err[err.index("error:"):]  # after argparse's usage lines
        assert exit_.value.code == 2 and says in said and said.count("\n") == 1, err
    # A requirement that does not parse: quoted, without packaging's caret lines under it.
    assert main(["lock", "six>=1\n;x", *index, "-o", "-"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: Invalid requirement 'six>=1\\n;x': Expected comma") and err.count("\n") == 1, err
    # The index command's own errors quote the path too.
    assert main(["index", "a\nb.whl", "-o", str(tmp_path / "i")]) == 1
    assert capsys.readouterr().err == "error: Cannot index 'a\\nb.whl': no such file. Nothing was written.\n"


@pytest.mark.parametrize("args, python", [((), "3.0"), ((), "2.7"), ((), "4.0"), ((), "3.11.4"), ((), "3.16"),
                                          (("--platform", "pyemscripten_2027_0_wasm32"), "3.0"),
                                          (("--platform", "pyemscripten_2027_0_wasm32"), "4.0")])
def test_a_python_no_known_platform_runs_is_refused(index: IndexServer, args: tuple[str, ...], python: str,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    # It was a warning, then resolution for a Python no runtime has ("no wheel of mdurl fits",
    # exit 1; or a lock with requires-python ==3.0.*). Now said before resolving. A newer 3.x
    # stays allowed on a platform this version does not know (a later Pyodide's).
    with pytest.raises(SystemExit) as exit_:
        main(["lock", "mdurl", "--index-url", index.index_url, *args, "--python-version", python, "-o", "-"])
    minor = ".".join(python.split(".")[:2])
    assert exit_.value.code == 2 and (f"--python-version {python}: no Pyodide platform this version of pyemscripten "
                                      f"knows runs Python {minor} (they run 3.12, 3.13, 3.14, 3.15)"
                                      ) in capsys.readouterr().err
    assert index.log == []


def test_a_newer_python_is_taken_for_a_platform_this_version_does_not_know(index: IndexServer, tmp_path: Path) -> None:
    data = lock(index, "mdurl", "--platform", "pyemscripten_2027_0_wasm32", "--python-version", "3.16",
                out=tmp_path / "pylock.toml")
    assert data["requires-python"] == "==3.16.*"


def test_the_python_version_is_the_one_the_platforms_runtimes_run(index: IndexServer, tmp_path: Path) -> None:
    data = lock(index, "attrs", "--platform", "pyemscripten_2025_0_wasm32", out=tmp_path / "pylock.toml")
    assert data["requires-python"] == "==3.13.*"


def test_a_lock_that_names_nothing_says_why(index: IndexServer, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lock", "rich; python_version < '3'", "--index-url", index.index_url, "-o", "-"]) == 0
    assert ("warning: the lock names no package: no requirement applies to pyemscripten_2026_0_wasm32 with Python "
            "3.14 (their markers are false there)") in capsys.readouterr().err


def test_requirements_are_read_from_files_as_pip_reads_them(index: IndexServer, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "more").mkdir()
    (tmp_path / "requirements.txt").write_text(
        "# what the app needs\nrich  # the console\nattrs ; python_version >= '3.10' \\\n  \n"
        "-r more/dev.txt\n--constraint=more/pins.txt\n")
    (tmp_path / "more" / "dev.txt").write_text("mdurl\n")
    (tmp_path / "more" / "pins.txt").write_text("attrs<99\n")
    data = lock(index, "-r", str(tmp_path / "requirements.txt"), out=tmp_path / "pylock.toml")
    names = {p["name"] for p in data["packages"]}
    assert {"rich", "attrs", "mdurl"} <= names

    (tmp_path / "hashed.txt").write_text("rich==15.0.0 \\\n    --hash=sha256:0123\n")
    (tmp_path / "loop.txt").write_text("-r loop.txt\n")
    (tmp_path / "index.txt").write_text("-i https://example.org/simple/\nrich\n")
    for name, says in (("hashed.txt", "hashed.txt, line 1: --hash is not taken here: a lock takes each wheel's hash "
                                      "from the index"),
                       ("loop.txt", "loop.txt names itself through -r or -c lines"),
                       ("index.txt", "index.txt, line 1: -i is not taken here (give --index-url to lock instead)"),
                       ("missing.txt", "-r " + str(tmp_path / "missing.txt") + ": No such file or directory")):
        with pytest.raises(SystemExit) as exit_:
            main(["lock", "-r", str(tmp_path / name), "--index-url", index.index_url, "-o", "-"])
        assert exit_.value.code == 2 and says in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["lock", "--index-url", index.index_url, "-o", "-"])
    assert "give at least one REQUIREMENT, or -r FILE with some" in capsys.readouterr().err
    (tmp_path / "nested.txt").write_text("-r more/gone.txt\n")
    with pytest.raises(SystemExit):
        main(["lock", "-r", str(tmp_path / "nested.txt"), "--index-url", index.index_url, "-o", "-"])
    assert f"-r {tmp_path / 'nested.txt'}: {tmp_path / 'more' / 'gone.txt'}, named in it: No such file or directory" \
        in capsys.readouterr().err


def test_a_requirements_file_in_utf16_or_with_a_bad_line(tmp_path: Path) -> None:
    from pyemscripten.__main__ import read_requirements

    # What `pip freeze > requirements.txt` writes in Windows PowerShell 5: UTF-16 with a BOM.
    (tmp_path / "ps.txt").write_text("lib\r\napp>=1\r\n", encoding="utf-16")
    assert read_requirements(str(tmp_path / "ps.txt")) == (["lib", "app>=1"], [])
    (tmp_path / "bad.txt").write_text("lib\napp>=\n")
    (tmp_path / "latin.txt").write_bytes("caf\xe9\n".encode("latin-1"))
    (tmp_path / "bare.txt").write_text("lib\n-r\n")
    (tmp_path / "cons.txt").write_text("-c pins.txt\n")
    (tmp_path / "pins.txt").write_text("lib<<2\n")
    for name, says in (("bad.txt", "bad.txt, line 2: Invalid requirement 'app>='"),
                       ("latin.txt", "latin.txt is not UTF-8 text: save it as UTF-8"),
                       ("bare.txt", "bare.txt, line 2: -r needs a file name"),
                       ("cons.txt", "pins.txt, line 1: Invalid requirement 'lib<<2'")):
        with pytest.raises(ValueError) as info:
            read_requirements(str(tmp_path / name))
        assert says in str(info.value), str(info.value)


def test_a_requirements_file_is_read_as_pip_reads_it(tmp_path: Path) -> None:
    from pyemscripten.__main__ import read_requirements

    (tmp_path / "app.txt").write_text("\ufeffrich\n-rdev.txt\n-c pins.txt\n", encoding="utf-8")  # a BOM first
    (tmp_path / "dev.txt").write_text("click  # the CLI\nhttps://x.test/a-1.0-py3-none-any.whl#sha256=00\n")
    (tmp_path / "pins.txt").write_text("attrs<30\n-r dev.txt\n")  # a -r line is requirements, in any file
    assert read_requirements(str(tmp_path / "app.txt")) == (
        ["rich", "click", "https://x.test/a-1.0-py3-none-any.whl#sha256=00", "click",
         "https://x.test/a-1.0-py3-none-any.whl#sha256=00"], ["attrs<30"])


def test_a_yanked_file_locked_by_a_pin_is_a_warning(index: IndexServer, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    yanked = index.add_index("yanked")
    try:
        yanked.add_wheel(make_wheel("app", "1.0"))
        yanked.add_wheel(make_wheel("app", "2.0"), yanked="broken build")
        assert main(["lock", "app==2.0", "--index-url", yanked.url, "-o", str(tmp_path / "pylock.x.toml")]) == 0
    finally:
        index.remove_index("yanked")
    assert capsys.readouterr().err.startswith(
        "warning: Locking yanked app 2.0 (app-2.0-py3-none-any.whl): broken build\nwrote ")


def test_a_long_lock_says_how_far_it_got_every_few_seconds() -> None:
    import io

    from pyemscripten.__main__ import _Progress

    now = [0.0]
    out = io.StringIO()
    progress = _Progress(out, every=5.0, clock=lambda: now[0])
    for name, at in (("a", 1.0), ("b", 4.9), ("c", 5.0), ("d", 6.0), ("e", 10.5)):
        now[0] = at
        progress.page(name)
    assert out.getvalue().splitlines() == ["Resolving: 3 project pages read so far (the last: c)",
                                           "Resolving: 5 project pages read so far (the last: e)"]


def test_a_stalled_request_is_said_every_few_seconds_and_retries_are_told(capsys: pytest.CaptureFixture[str]) -> None:
    import io
    import socket

    from pyemscripten.__main__ import _Progress

    now = [0.0]
    out = io.StringIO()
    progress = _Progress(out, every=5.0, clock=lambda: now[0])
    for at, waiting in ((1.0, [("https://x.test/simple/a/", 1.0)]), (5.0, []), (6.0, [("https://x.test/simple/a/", 6.0),
                                                                                    ("https://x.test/simple/b/", 2.0)]),
                        (8.0, [("https://x.test/simple/a/", 8.0)]), (12.0, [("https://x.test/simple/a/", 12.0)]),
                        (21.0, [("https://x.test/simple/a/", 21.0)]), (24.0, [("https://x.test/simple/a/", 24.0)])):
        now[0] = at
        progress.stalled(waiting, 60.0)
    assert out.getvalue().splitlines() == [
        "Waiting for https://x.test/simple/a/ (and 1 more request): nothing for 6 s (a request is given up after "
        "60 s without a byte, then tried again)",
        "Waiting for https://x.test/simple/a/: nothing for 12 s (a request is given up after 60 s without a byte, "
        "then tried again)",
        "Waiting for https://x.test/simple/a/: nothing for 24 s (a request is given up after 60 s without a byte, "
        "then tried again)"]
    # Pages read meanwhile keep their own every-5-seconds line.
    now[0] = 25.0
    progress.page("b")
    assert out.getvalue().splitlines()[-1] == "Resolving: 1 project pages read so far (the last: b)"

    # A server that takes connections and answers nothing: each try that times out is told.
    silent = socket.create_server(("127.0.0.1", 0))
    try:
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/simple/"
        from pyemscripten import __main__ as cli

        transport = cli.UrllibTransport(timeout=0.2)
        original = cli.UrllibTransport
        cli.UrllibTransport = lambda **kwargs: transport  # type: ignore[assignment,misc]
        try:
            assert main(["lock", "rich", "--index-url", url, "-o", "-"]) == 1
        finally:
            cli.UrllibTransport = original  # type: ignore[misc]
    finally:
        silent.close()
    err = capsys.readouterr().err
    assert f"warning: rich: project page {url}rich/ failed (" in err and "trying again in 0.25 s (try 2 of 4)" in err
    assert "(after 4 tries)" in err


def test_files_written_whole_keep_a_replaced_files_mode_and_links(tmp_path: Path) -> None:
    from pyemscripten.native import write_file_whole

    target = tmp_path / "pylock.real.toml"
    target.write_text("old")
    target.chmod(0o600)
    link = tmp_path / "pylock.toml"
    link.symlink_to(target)
    write_file_whole(link, b"new")
    assert link.is_symlink() and target.read_text() == "new" and (target.stat().st_mode & 0o777) == 0o600


def test_the_native_transport_serves_one_event_loop_after_another(index: IndexServer) -> None:
    import asyncio

    from pyemscripten.native import UrllibTransport

    transport = UrllibTransport(concurrency=1)  # the second request of each run waits its turn
    for _ in range(2):
        async def two() -> list[int]:
            answers = await asyncio.gather(*(transport.get(index.index_url + name + "/") for name in ("rich", "attrs")))
            return [a.status for a in answers]

        assert asyncio.run(two()) == [200, 200]
    assert transport.waiting() == []


def test_the_lock_command_says_an_index_url_is_a_folder_of_wheels(index: IndexServer, tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    # As python -m http.server lists a folder of wheels.
    names = ["rich-15.0.0-py3-none-any.whl", "mdurl-0.1.2-py3-none-any.whl"]
    listing = "".join(f'<li><a href="{n}">{n}</a></li>' for n in names)
    index.mount("/folder/", {"index.html": f"<html><body><ul>{listing}</ul></body></html>".encode()})
    folder = f"{index.url}/folder/"
    status = main(["lock", "rich", "--index-url", folder, "--index-url", index.index_url, "-o", str(tmp_path / "x")])
    capsys.readouterr()
    # rich is on the second index: nothing to say. A project on neither: the folder is named.
    assert status == 0 and index.count(path="/folder/") == 0
    assert main(["lock", "no-such-project-x", "--index-url", folder, "--index-url", index.index_url,
                 "-o", str(tmp_path / "y")]) == 1
    err = capsys.readouterr().err
    assert f"{folder} lists wheel files: a folder of wheels, or one project's page, not a package index" in err, err
    assert f"give the index's own URL (the folder above: {index.url}/)" in err
    assert f"{index.index_url} lists" not in err and index.count(path="/folder/") == 1


def test_the_native_transport_hands_the_body_over_in_pieces_and_stops_when_told(index: IndexServer) -> None:
    import asyncio

    from pyemscripten.native import UrllibTransport

    body = bytes(range(256)) * 4096  # 1 MiB
    index.mount("/big/", {"blob": body})
    pieces: list[tuple[int, int]] = []

    def take(offset: int, piece: bytes) -> None:
        pieces.append((offset, len(piece)))

    response = asyncio.run(UrllibTransport(timeout=10).get(f"{index.url}/big/blob", None, None, take))
    assert response.body == body
    assert pieces[0][0] == 0 and sum(n for _, n in pieces) == len(body) and len(pieces) > 1
    assert all(o + n == nxt for (o, n), (nxt, _) in zip(pieces, pieces[1:]))

    class Enough(Exception):
        pass

    def stop(offset: int, piece: bytes) -> None:
        raise Enough

    with pytest.raises(Enough):
        asyncio.run(UrllibTransport(timeout=10).get(f"{index.url}/big/blob", None, None, stop))


def test_a_native_read_given_up_hands_over_nothing_more(index: IndexServer) -> None:
    import asyncio
    import time

    from pyemscripten.native import UrllibTransport

    index.mount("/slow/", {"blob": b"x" * (4 << 20)})
    index.add_fault("/slow/blob", delay=0.3)
    pieces: list[int] = []

    async def main_() -> None:
        task = asyncio.create_task(UrllibTransport(timeout=10).get(f"{index.url}/slow/blob", None, None,
                                                                   lambda offset, piece: pieces.append(offset)))
        await asyncio.sleep(0.1)  # the request is under way, its answer not yet in
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.sleep(0.6)  # the thread reads on, but hands nothing over

    asyncio.run(main_())
    time.sleep(0.2)
    assert pieces == []


def test_the_version_is_one_across_the_package_and_said(capsys: pytest.CaptureFixture[str]) -> None:
    import pyemscripten

    root = Path(__file__).resolve().parents[2]
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    npm = json.loads((root / "package.json").read_text())
    assert project["version"] == pyemscripten.__version__ == npm["version"]
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out == f"pyemscripten {pyemscripten.__version__}\n"


def test_the_npm_packages_node_floor_is_the_one_the_readme_states_and_pyodides() -> None:
    # package.json declared no engines: npm could not tell a Node too old for Pyodide.
    root = Path(__file__).resolve().parents[2]
    floor = json.loads((root / "package.json").read_text())["engines"]["node"]
    assert f'`"engines": {{"node": "{floor}"}}`' in (root / "README.md").read_text()
    # No lower than the runtime's own (the pyodide npm package's package.json, where unpacked).
    runtime = root / ".cache" / "runtimes" / "pyodide-314.0.7" / "package.json"
    if runtime.is_file():
        assert json.loads(runtime.read_text())["engines"]["node"] == floor == ">=18.0.0"


def test_a_constraint_that_names_a_file_reads_the_file(index: IndexServer, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    # pip's usage: -c FILE (a requirement is never the name of a file here).
    (tmp_path / "constraints.txt").write_text("# what the local index has\nmdurl<0.2\n")
    data = lock(index, "rich", "-c", str(tmp_path / "constraints.txt"), out=tmp_path / "pylock.toml")
    assert {p["name"]: p["version"] for p in data["packages"]}["mdurl"] == "0.1.2"
    (tmp_path / "older.txt").write_text("markdown-it-py<4\n")  # the index has 4.3.0 only
    assert main(["lock", "rich", "-c", str(tmp_path / "older.txt"), "-c", "mdurl<0.2", "--index-url", index.index_url,
                 "-o", "-"]) == 1
    assert "\n  constraint markdown-it-py<4\n" in capsys.readouterr().err
    (tmp_path / "bad.txt").write_text("rich >>> 1\n")
    with pytest.raises(SystemExit):
        main(["lock", "rich", "-c", str(tmp_path / "bad.txt"), "--index-url", index.index_url, "-o", "-"])
    assert f"-c {tmp_path / 'bad.txt'}: {tmp_path / 'bad.txt'}, line 1" in capsys.readouterr().err


def test_a_lock_that_cannot_be_written_to_stdout_is_said_without_a_traceback(
        index: IndexServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    class Full:
        def write(self, text: str) -> int:
            raise OSError(28, "No space left on device")

        def flush(self) -> None:
            pass

    monkeypatch.setattr(sys, "stdout", Full())
    assert main(["lock", "mdurl", "--index-url", index.index_url, "-o", "-"]) == 1
    assert capsys.readouterr().err.splitlines()[-1] == "error: cannot write the lock to stdout: No space left on device"


def test_the_distribution_hint_only_where_the_distribution_may_help(index: IndexServer, tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    walk = index.add_index("hint")
    try:
        walk.add_wheel(make_wheel("app", "1.0", requires=["numpy"]))  # numpy: on no index here
        walk.add_wheel(make_wheel("newpy", "1.0", requires_python=">=3.99"))
        assert main(["lock", "app", "--index-url", walk.url, "-o", "-"]) == 1
        err = capsys.readouterr().err
        assert "No index has a project named 'numpy', which app 1.0 needs" in err and "hint: in the browser" in err
        assert main(["lock", "newpy", "--index-url", walk.url, "-o", "-"]) == 1  # Requires-Python: no hint
        err = capsys.readouterr().err
        assert "Requires-Python" in err and "hint:" not in err
    finally:
        index.remove_index("hint")


def test_a_constraint_meant_as_a_file_that_is_not_there_is_refused(index: IndexServer,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    # "constraints.txt" is also a valid project name: taken as one, every constraint is lost.
    for value in ("nosuch-constraints.txt", "deps/constraints.in"):
        with pytest.raises(SystemExit):
            main(["lock", "attrs", "-c", value, "--index-url", index.index_url, "-o", "-"])
        assert f"-c {value}: no such file" in capsys.readouterr().err


def test_wheels_dir_says_an_index_sha256_that_is_wrong_beside_a_stronger_hash(index: IndexServer, tmp_path: Path,
                                                                              capsys: pytest.CaptureFixture[str]) -> None:
    # The wheel matches the page's sha512 but not its sha256: saved, and said, as an install
    # warns of it (downloads.fetch_wheel's note), not dropped.
    body = make_wheel("wrongsha", "1.0", {"wrongsha/__init__.py": b""})
    name, wrong = "wrongsha-1.0-py3-none-any.whl", hashlib.sha256(b"not the wheel").hexdigest()
    link = f'<a href="../../files/{name}#sha256={wrong}&sha512={hashlib.sha512(body).hexdigest()}">{name}</a>'
    index.mount("/wrongsha/", {"simple/wrongsha/index.html": link.encode(), f"files/{name}": body})
    assert main(["lock", "wrongsha", "--index-url", f"{index.url}/wrongsha/simple/", "--wheels-dir",
                 str(tmp_path / "wheels"), "-o", str(tmp_path / "pylock.toml")]) == 0
    err = capsys.readouterr().err
    assert (f"warning: {name}: the index gives sha256 {wrong} for it, but its sha256 is "
            f"{hashlib.sha256(body).hexdigest()}") in err, err
    assert (tmp_path / "wheels" / name).read_bytes() == body
    # Run again, the wheel already there: said again (the lock gives the index's hashes again).
    assert main(["lock", "wrongsha", "--index-url", f"{index.url}/wrongsha/simple/", "--wheels-dir",
                 str(tmp_path / "wheels"), "-o", str(tmp_path / "pylock.toml")]) == 0
    err = capsys.readouterr().err
    assert "All 1 wheels are in" in err and f"warning: {name}: the index gives sha256 {wrong}" in err, err
