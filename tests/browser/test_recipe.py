"""docs/TESTING.md's recipe, run as it is written: a downstream test suite that locks once
natively, then boots Pyodide in each page through the npm package and installs the lock.

The page code is docs/examples/pyodide_pages.py itself (the doc shows it), so the doc and
this test cannot drift. The project's local index plays PyPI: the lock names its wheels.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from docs.examples.pyodide_pages import PyodideError, PyodidePage, serve
from tests.browser.test_web_app import native_lock
from tests.support.browser import DEFAULT_RUNTIME, ROOT, RUNTIMES_DIR
from tests.support.index_server import IndexServer
from tests.support.wheels import make_wheel

WHEEL_REQUESTS = r"^/files/[^/]+\.whl$"


@pytest.fixture(scope="module")
def lock_dir(session_index_server: IndexServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The committed lock: `python -m pyemscripten lock rich attrs ... -o pylock.toml`."""
    folder = tmp_path_factory.mktemp("locks")
    native_lock(session_index_server.index_url, "rich", "attrs", out=folder / "pylock.toml")
    return folder


@pytest.fixture(scope="module")
def site(npm_package: str, session_index_server: IndexServer, lock_dir: Path) -> Iterator[str]:
    """The doc's one server: the runtime, the npm package's js/ folder and the lock."""
    package = session_index_server._mounts["/npm/"]  # the unpacked `npm pack` (npm_package fixture)
    assert isinstance(package, Path), package
    with serve({"pyodide": RUNTIMES_DIR / f"pyodide-{DEFAULT_RUNTIME}",
                "pyemscripten": package / "js",
                "locks": lock_dir}) as url:
        yield url


@pytest.fixture
def context(browser: object) -> Iterator[object]:
    """One browser context: its pages share the wheel cache (the doc's session-wide context)."""
    ctx = browser.new_context()  # type: ignore[attr-defined]
    yield ctx
    ctx.close()


def test_recipe_lock_then_pages(context: object, site: str, index_server: IndexServer, lock_dir: Path) -> None:
    # First page: the lock installed as it is (no project page asked for), every wheel fetched.
    page = PyodidePage.open(context, site, lockfile="locks/pylock.toml")
    try:
        assert page.run("from rich.text import Text\nText('hi').plain") == "hi"
        assert page.run("import attrs\n@attrs.define\nclass P:\n    x: int\nattrs.asdict(P(1))") == {"x": 1}
        assert {"rich", "attrs", "pygments"} <= set(page.run("import pyemscripten\npyemscripten.list()"))
        # The code under test, written into the page (the doc's way).
        page.page.evaluate("([path, text]) => pyodide.FS.writeFile(path, text)",
                           ["/home/pyodide/mycode.py", "import attrs\ndef answer():\n    return 42\n"])
        assert page.run("import mycode\nmycode.answer()") == 42
        with pytest.raises(PyodideError) as raised:
            page.run("import no_such_module")
        assert raised.value.type == "ModuleNotFoundError" and "no_such_module" in raised.value.message
        # Python that waits longer than the page's timeout fails the test, not the suite.
        page.timeout = 0.5
        with pytest.raises(PyodideError) as raised:
            page.run("import asyncio\nawait asyncio.sleep(30)")
        assert raised.value.type == "TimeoutError" and "the Python code took more than 0.5 s" in raised.value.message
        page.timeout = 120
        assert not [line for line in page.console if "404" in line], page.console  # no /favicon.ico asked for
    finally:
        page.close()  # waits for the wheel cache's writes
    assert index_server.count(regex=r"^/simple/") == 0
    assert index_server.count(regex=WHEEL_REQUESTS) == 5  # attrs, rich, markdown-it-py, mdurl, pygments
    index_server.reset_counts()

    # Second page of the same context: the same lock from the cache, no wheel fetched; with
    # index_urls, Python in the page can install more.
    page = PyodidePage.open(context, site, lockfile="locks/pylock.toml", index_urls=[index_server.index_url])
    try:
        assert page.run("import rich, attrs\nrich.__name__") == "rich"
        assert index_server.count(regex=WHEEL_REQUESTS) == 0
        said = page.run("str(await pyemscripten_install('click'))")
        assert said.startswith("Installed click-"), said
    finally:
        page.close()

    # A lock whose hash does not match: the boot fails with the install's error, typed.
    lock = (lock_dir / "pylock.toml").read_text()
    good = lock.split('hashes = { sha256 = "', 1)[1][:64]
    with pytest.raises(PyodideError) as raised:
        PyodidePage.open(context, site, lockfile=lock.replace(good, "0" * 64))
    error = raised.value
    assert error.type == "HashMismatchError", error
    assert error.details["expected"] == "0" * 64 and error.details["got"] == good, error.details
    assert error.details["url"].endswith(".whl")

    # A runtime not served: a plain error, no details; the page is closed.
    with pytest.raises(PyodideError) as raised:
        PyodidePage.open(context, site, runtime="no-such-runtime/")
    assert raised.value.type == "TypeError" and "no-such-runtime/pyodide.mjs" in raised.value.message, raised.value
    assert raised.value.details == {}
    assert context.pages == []  # type: ignore[attr-defined]
    assert any("404" in line for line in raised.value.console), raised.value.console  # what the page logged

    # A site that is not served: Playwright's error, as a PyodideError too.
    import socket

    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{unused.getsockname()[1]}/"
    with pytest.raises(PyodideError) as raised:
        PyodidePage.open(context, closed)
    assert raised.value.type == "Error" and "ERR_CONNECTION_REFUSED" in raised.value.message, raised.value


def test_recipe_offline_with_the_wheels_saved_beside_the_lock(context: object, npm_package: str,
                                                               index_server: IndexServer, tmp_path: Path) -> None:
    """docs/TESTING.md's offline variant: ``lock --wheels-dir`` saves the wheels beside the
    lock, which names them by path; served together, a page installs with no index at all."""
    folder = tmp_path / "offline"
    folder.mkdir()
    native_lock(index_server.index_url, "attrs", out=folder / "pylock.toml", extra=("--wheels-dir", str(folder / "wheels")))
    assert 'path = "wheels/attrs-' in (folder / "pylock.toml").read_text()
    assert run_beside_its_wheels(context, index_server, folder, "import attrs\nattrs.__name__") == "attrs"
    assert index_server.count(regex=r"^/(simple|files)/") == 0  # every wheel came from beside the lock


def run_beside_its_wheels(context: object, index_server: IndexServer, folder: Path, code: str) -> object:
    """Serve ``folder`` (a lock and its wheels) beside the runtime and the npm package, boot a
    page from the lock, and run ``code`` in it; request counts start here."""
    package = index_server._mounts["/npm/"]
    assert isinstance(package, Path), package
    index_server.reset_counts()
    with serve({"pyodide": RUNTIMES_DIR / f"pyodide-{DEFAULT_RUNTIME}", "pyemscripten": package / "js",
                "tests": folder}) as url:
        page = PyodidePage.open(context, url, lockfile="tests/pylock.toml")
        try:
            return page.run(code)
        finally:
            page.close()


def test_recipe_your_own_package_from_a_local_index(context: object, npm_package: str, index_server: IndexServer,
                                                    tmp_path: Path) -> None:
    """docs/TESTING.md's "Your own package": its wheel made an index with the index command,
    locked from that folder (no server) with its dependency from another index, the wheels
    saved beside the lock; a page installs the lock and imports the package."""
    own = make_wheel("mypkg", "0.1", {"mypkg/__init__.py": "import attrs\n\n@attrs.define\nclass P:\n    x: int\n"},
                     requires=["attrs"])
    (tmp_path / "dist").mkdir()
    (tmp_path / "dist" / own.filename).write_bytes(own)
    subprocess.run([sys.executable, "-m", "pyemscripten", "index", str(tmp_path / "dist"), "-o",
                    str(tmp_path / "build" / "simple")], check=True, capture_output=True, cwd=ROOT)
    folder = tmp_path / "tests"
    folder.mkdir()
    native_lock(str(tmp_path / "build" / "simple"), "mypkg", out=folder / "pylock.toml",
                extra=("--index-url", index_server.index_url, "--wheels-dir", str(folder / "wheels")))
    text = (folder / "pylock.toml").read_text()
    assert f'path = "wheels/{own.filename}"' in text and 'path = "wheels/attrs-' in text and "file:" not in text
    code = "import mypkg, attrs\nattrs.asdict(mypkg.P(3))"
    assert run_beside_its_wheels(context, index_server, folder, code) == {"x": 3}
    assert index_server.count(regex=r"^/(simple|files)/") == 0

