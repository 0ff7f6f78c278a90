"""Drive Pyodide in real Chromium from pytest: launch, boot, bootstrap, run code.

The fixtures in ``tests/browser/conftest.py`` wrap these; they are here so that the
benchmark and the demo scripts can reuse them outside pytest.

Bootstrap: every page installs the pure wheels of ``packaging`` and ``resolvelib`` from
``.cache/wheels`` and a wheel built on the fly from the *working tree* ``src/pyemscripten``,
so browser tests always exercise the code as it is on disk.
"""

from __future__ import annotations

import json
import time
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .index_server import IndexServer
from .wheels import WheelBytes, make_wheel

ROOT = Path(__file__).resolve().parents[2]
WHEELS_DIR = ROOT / ".cache" / "wheels"
RUNTIMES_DIR = ROOT / ".cache" / "runtimes"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = (
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
)

# Oldest first; the platform each one has (PEP 783) is asserted in test_platform_tag.py.
RUNTIMES = ("0.27.7", "0.27.8", "0.29.5", "314.0.7", "314.0.8", "315.0.0-alpha.2")
DEFAULT_RUNTIME = "314.0.7"
BOOTSTRAP_PROJECTS = ("packaging", "resolvelib")
HELPER_SOURCE = (Path(__file__).parent / "pyodide_helper.py").read_text()


class PyodideError(AssertionError):
    """Python code run in the page raised. ``str()`` is the Python traceback.

    An AssertionError so pytest shows it as a test failure, not an error in the harness.
    """

    def __init__(self, info: Mapping[str, Any], code: str) -> None:
        self.info = dict(info)
        self.type: str = info["type"]
        self.qualname: str = info["qualname"]
        self.message: str = info["message"]
        self.attributes: dict[str, Any] = info.get("attributes", {})
        self.traceback: str = info["traceback"]
        self.code = code
        super().__init__(f"Python raised {self.type} in Pyodide:\n{self.traceback}")


class HarnessError(RuntimeError):
    """The browser or the runtime failed outside the tested Python code."""


# --- bootstrap ---------------------------------------------------------------------------


def build_source_wheel(src: Path = ROOT / "src" / "pyemscripten") -> WheelBytes:
    """A pure wheel of the working tree's ``pyemscripten`` package (skips ``__pycache__``)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    files = {
        str(path.relative_to(src.parent)): path.read_bytes()
        for path in sorted(src.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }
    return make_wheel(project["name"], project["version"], files,
                      requires=project.get("dependencies", []),
                      requires_python=project.get("requires-python"),
                      summary="pyemscripten (working tree, built by the test harness)")


def bootstrap_files(wheels_dir: Path = WHEELS_DIR) -> dict[str, bytes]:
    """``{file name: bytes}`` to serve under ``/bootstrap/``: the source wheel and its deps."""
    files: dict[str, bytes] = {}
    for project in BOOTSTRAP_PROJECTS:
        found = sorted(wheels_dir.glob(f"{project}-*-py3-none-any.whl"))
        if not found:
            raise HarnessError(f"no pure wheel of {project} in {wheels_dir}: "
                               "run scripts/fetch_fixtures.py --set core")
        files[found[-1].name] = found[-1].read_bytes()
    wheel = build_source_wheel()
    files[wheel.filename] = bytes(wheel)
    return files


# --- browser -----------------------------------------------------------------------------


def launch_browser(playwright: Any, headless: bool = True) -> Any:
    """Debian's Chromium through Playwright (``playwright install`` cannot download here)."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_ARGS),
                                      headless=headless)


_BOOT_JS = """
async ({runtime, bootstrap, helper}) => {
  const t0 = performance.now();
  const { loadPyodide } = await import(runtime + "pyodide.mjs");
  const pyodide = await loadPyodide({ indexURL: runtime });
  const t1 = performance.now();
  const buffers = await Promise.all(bootstrap.map(async (url) => {
    const response = await fetch(url);
    if (!response.ok) throw new Error(`bootstrap: ${url} answered ${response.status}`);
    return new Uint8Array(await response.arrayBuffer());
  }));
  pyodide.FS.mkdirTree("/tmp/pytest_bootstrap");
  buffers.forEach((bytes, i) => pyodide.FS.writeFile(`/tmp/pytest_bootstrap/${i}.whl`, bytes));
  pyodide.FS.writeFile("/tmp/pytest_bootstrap/_pytest_pyodide_helper.py", helper);
  pyodide.runPython(`
import glob, importlib, site, sys, zipfile
for path in sorted(glob.glob("/tmp/pytest_bootstrap/*.whl")):
    with zipfile.ZipFile(path) as zf:
        zf.extractall(site.getsitepackages()[0])
sys.path.append("/tmp/pytest_bootstrap")
importlib.invalidate_caches()
`);
  window.pyodide = pyodide;
  window.__pytest_helper__ = pyodide.pyimport("_pytest_pyodide_helper");
  return { load: (t1 - t0) / 1000, total: (performance.now() - t0) / 1000 };
}
"""

_RUN_JS = """
async ([code, args, timeoutMs]) => {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs / 1000} s`)),
                       timeoutMs);
  });
  try {
    return await Promise.race([window.__pytest_helper__.run(code, args), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
"""


@dataclass
class PyodideSession:
    """One booted Pyodide runtime in one Chromium page."""

    version: str
    page: Any
    context: Any
    server: IndexServer
    boot_seconds: float = 0.0
    load_seconds: float = 0.0
    console: list[str] = field(default_factory=list)
    owns_context: bool = True
    crashed: bool = False  # the page's renderer process died (Chromium's "Target crashed")

    @property
    def index_url(self) -> str:
        return self.server.index_url

    def run(self, code: str, timeout: float = 120.0, **globals_: Any) -> Any:
        """Run Python ``code`` (top-level ``await`` allowed) and return its last expression.

        Keyword arguments become globals first (JSON-able values). State persists between
        calls on the same page. Raises :class:`PyodideError` when the code raises.
        """
        outcome = self._call(code, timeout, globals_)
        if not outcome["ok"]:
            raise PyodideError(outcome["error"], code)
        return outcome["value"]

    def run_expect_error(self, code: str, timeout: float = 120.0, **globals_: Any
                         ) -> dict[str, Any]:
        """Run ``code`` that must raise; return ``{type, qualname, mro, message, attributes,
        traceback, cause}``. Fails the test when it does not raise."""
        outcome = self._call(code, timeout, globals_)
        if outcome["ok"]:
            raise AssertionError(f"expected the code to raise, it returned {outcome['value']!r}")
        return outcome["error"]

    def js(self, expression: str, arg: Any = None) -> Any:
        """``page.evaluate``: a JS expression or function; ``window.pyodide`` is the runtime."""
        return self.page.evaluate(expression, arg)

    def close(self) -> None:
        """Close the page, and the context too when the session made it."""
        try:
            if self.owns_context:
                self.context.close()
            else:
                self.page.close()
        except Exception:  # noqa: BLE001 - already closed with the browser
            pass

    def _call(self, code: str, timeout: float, globals_: Mapping[str, Any]) -> dict:
        try:
            raw = self.page.evaluate(_RUN_JS, [code, json.dumps(globals_), timeout * 1000])
        except Exception as exc:  # Playwright's Error: page crashed, JS timeout, ...
            tail = "\n".join(self.console[-20:])
            raise HarnessError(f"running code in Pyodide {self.version} failed: {exc}\n"
                               f"last console lines:\n{tail}") from exc
        return json.loads(raw)


def boot(browser: Any, server: IndexServer, version: str = DEFAULT_RUNTIME, *,
         context: Any = None, bootstrap: bool = True, origin: str | None = None) -> PyodideSession:
    """Open a fresh page (in a fresh context unless given) and boot ``version`` in it.

    ``origin`` (such as ``https://app.example``): the page and everything it boots from are
    asked for there, and Playwright answers each request with the server's answer for the
    same path (an ``https://`` page without a certificate, or a page on another origin)."""
    if not (RUNTIMES_DIR / f"pyodide-{version}" / "pyodide.mjs").is_file():
        raise HarnessError(f"Pyodide {version} is not unpacked in {RUNTIMES_DIR}: "
                           "run scripts/fetch_fixtures.py")
    own_context = context is None
    context = context or browser.new_context()
    page = context.new_page()
    session = PyodideSession(version, page, context, server, owns_context=own_context)
    page.on("console", lambda msg: session.console.append(f"[{msg.type}] {msg.text}"))
    page.on("pageerror", lambda err: session.console.append(f"[pageerror] {err}"))
    page.on("crash", lambda _: setattr(session, "crashed", True))
    base = server.url
    if origin is not None:
        page.route(f"{origin}/**", lambda route: route.fulfill(
            response=route.fetch(url=server.url + route.request.url[len(origin):])))
        base = origin
    page.goto(f"{base}/page.html")
    urls = [f"{base}/bootstrap/{name}" for name in _bootstrap_names(server)]
    started = time.perf_counter()
    try:
        times = page.evaluate(_BOOT_JS, {
            "runtime": f"{base}/runtimes/{version}/",
            "bootstrap": urls if bootstrap else [],
            "helper": HELPER_SOURCE,
        })
    except Exception as exc:
        tail = "\n".join(session.console[-20:])
        session.close()
        raise HarnessError(f"Pyodide {version} did not boot: {exc}\n{tail}") from exc
    session.boot_seconds = time.perf_counter() - started
    session.load_seconds = times["load"]
    return session


def _bootstrap_names(server: IndexServer) -> Iterator[str]:
    files = server._mounts.get("/bootstrap/")
    if not isinstance(files, dict):
        raise HarnessError("the server has no /bootstrap/ mount: call server.mount(...)")
    # Dependencies first, our package last (extraction order does not matter, but stay tidy).
    return iter(sorted(files, key=lambda n: n.startswith("pyemscripten-")))
