"""Fixtures for the browser tier: real Pyodide runtimes in Debian's Chromium.

Every test in this folder gets the ``browser`` marker (deselect with ``-m "not browser"``)
and runs after all other tests (see pytest_collection_modifyitems). A test during which a
page's renderer process dies (Playwright's "Target crashed": Chromium's own, seen about
once in four to six full runs, in tests that share nothing but the browser) runs once more
in fresh pages (pytest-rerunfailures; the summary line counts it as "rerun"); any other
failure is final. Don't call ``asyncio.run()`` in a browser test: Playwright's sync API
holds the main thread's loop.

Fixtures:
    browser                 (session) one Playwright Chromium for the whole run
    session_index_server    (session) the local index (tests/support/index_server.py):
                            ``.cache/wheels`` as ``/simple/``, runtimes, ``/bootstrap/``
    index_server            the same server; faults, counts, extra indexes and synthetic
                            files are reset after each test
    npm_package_dir         (session) the packed npm package, unpacked (its folder)
    npm_package             (session) URL of js/index.mjs of the packed npm package
    pyodide_factory         ``pyodide_factory(version="314.0.7", *, bootstrap=True,
                            context=None) -> PyodideSession``: a fresh page, booted;
                            closed after the test
    pyodide                 a fresh 314.0.7 session; other runtime with
                            ``@pytest.mark.parametrize("pyodide", ["0.27.7"], indirect=True)``
    shared_pyodide          (session) ``shared_pyodide(version) -> PyodideSession`` booted
                            once per run and reused: only for tests that change no state
    runtime_versions        the six runtimes, oldest first (tests.support.browser.RUNTIMES)

Example:
    def test_tag(pyodide):
        assert pyodide.run("import pyemscripten.target as t; str(t.platform_tag())") \\
            == "pyemscripten_2026_0_wasm32"
        err = pyodide.run_expect_error("from pyemscripten.target import PlatformTag\\n"
                                       "PlatformTag.parse('x')")
        assert err["type"] == "UnsupportedRuntimeError"
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.browser import (
    DEFAULT_RUNTIME,
    RUNTIMES,
    WHEELS_DIR,
    PyodideSession,
    boot,
    bootstrap_files,
    launch_browser,
)
from tests.support.index_server import IndexServer

HERE = Path(__file__).resolve().parent
ARTIFACTS = HERE / "artifacts"
_boot_times: dict[str, list[float]] = defaultdict(list)


def pytest_itemcollected(item: pytest.Item) -> None:
    # Marked as each item is collected: pytest's own -m deselection runs in its
    # pytest_collection_modifyitems, before a conftest's.
    if HERE in Path(item.path).resolve().parents:
        item.add_marker(pytest.mark.browser)
        item.add_marker(pytest.mark.flaky(reruns=1, only_rerun=["Target crashed"]))


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Run this folder's tests after every other test: while the session's
    # Playwright (sync API) is alive it marks its event loop as running in the main thread,
    # so a later test calling asyncio.run() would fail with "cannot be called from a
    # running event loop".
    browser_items = [item for item in items if HERE in Path(item.path).resolve().parents]
    chosen = set(map(id, browser_items))
    items[:] = [item for item in items if id(item) not in chosen] + browser_items


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.stash[_FAILED] = report.failed


_FAILED = pytest.StashKey[bool]()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _boot_times:
        return
    parts = []
    for version, times in sorted(_boot_times.items()):
        parts.append(f"{version}: {len(times)} x {sum(times) / len(times):.2f} s")
    total = sum(sum(t) for t in _boot_times.values())
    terminalreporter.write_line(f"pyodide boots: {'; '.join(parts)}; total {total:.1f} s")


@pytest.fixture(scope="session")
def runtime_versions() -> tuple[str, ...]:
    return RUNTIMES


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch_browser(playwright)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def session_index_server() -> Iterator[IndexServer]:
    with IndexServer(wheel_dirs=[WHEELS_DIR]) as server:
        server.mount("/bootstrap/", bootstrap_files())
        yield server


@pytest.fixture(scope="session")
def npm_package_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The npm package as ``npm pack`` makes it (its prepack builds the wheels), unpacked:
    the folder ``npm install`` would put in ``node_modules/pyemscripten``."""
    import subprocess
    import tarfile

    out = tmp_path_factory.mktemp("npm")
    subprocess.run(["npm", "pack", "--silent", "--pack-destination", str(out)], cwd=HERE.parents[1],
                   check=True, capture_output=True)
    (tarball,) = out.glob("pyemscripten-*.tgz")
    with tarfile.open(tarball) as archive:
        archive.extractall(out, filter="data")
    return out / "package"


@pytest.fixture(scope="session")
def npm_package(session_index_server: IndexServer, npm_package_dir: Path) -> str:
    """The npm package served under ``/npm/``; returns the URL of its ``js/index.mjs``."""
    session_index_server.mount("/npm/", npm_package_dir)
    return f"{session_index_server.url}/npm/js/index.mjs"


@pytest.fixture
def index_server(session_index_server: IndexServer) -> Iterator[IndexServer]:
    session_index_server.reset_counts()
    yield session_index_server
    session_index_server.reset()


def _record(session: PyodideSession) -> PyodideSession:
    _boot_times[session.version].append(session.boot_seconds)
    return session


@pytest.fixture
def pyodide_factory(request: pytest.FixtureRequest, browser: object,
                    index_server: IndexServer) -> Iterator[Callable[..., PyodideSession]]:
    sessions: list[PyodideSession] = []

    def factory(version: str = DEFAULT_RUNTIME, *, bootstrap: bool = True,
                context: object = None) -> PyodideSession:
        session = _record(boot(browser, index_server, version, bootstrap=bootstrap,
                               context=context))
        sessions.append(session)
        return session

    yield factory
    if request.node.stash.get(_FAILED, False):
        _save_console(request.node.name, sessions)
    for session in sessions:
        session.close()


@pytest.fixture
def pyodide(request: pytest.FixtureRequest,
            pyodide_factory: Callable[..., PyodideSession]) -> PyodideSession:
    return pyodide_factory(getattr(request, "param", DEFAULT_RUNTIME))


@pytest.fixture(scope="session")
def shared_pyodide(browser: object, session_index_server: IndexServer
                   ) -> Iterator[Callable[[str], PyodideSession]]:
    booted: dict[str, PyodideSession] = {}

    def get(version: str = DEFAULT_RUNTIME) -> PyodideSession:
        if version not in booted or booted[version].crashed:  # a test run again after a crash boots anew
            booted[version] = _record(boot(browser, session_index_server, version))
        return booted[version]

    yield get
    for session in booted.values():
        session.close()


def _save_console(test_name: str, sessions: list[PyodideSession]) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in test_name)
    for i, session in enumerate(sessions):
        path = ARTIFACTS / f"{safe}-{i}-{session.version}.console.txt"
        path.write_text("\n".join(session.console) + "\n")
