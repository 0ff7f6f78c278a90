"""Pyodide pages for a pytest suite, their packages installed by pyemscripten.

Copy this file beside your tests (see docs/TESTING.md). It needs Playwright for Python
(``pip install playwright``) and the standard library; the page boots Pyodide through the
npm package's ``js/index.mjs``, so pyemscripten's Python package is not needed natively.

    with serve({"pyodide": runtime_dir, "pyemscripten": npm_js_dir, "locks": lock_dir}) as site:
        page = PyodidePage.open(browser_context, site, lockfile="locks/pylock.toml")
        assert page.run("import attrs; attrs.__name__") == "attrs"
        page.close()
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

# (No icon: the browser would ask for /favicon.ico, and log its 404 in every page.)
BLANK_PAGE = (b"<!doctype html><html><head><meta charset='utf-8'><link rel='icon' href='data:,'>"
              b"<title>tests</title></head></html>")


@contextmanager
def serve(folders: Mapping[str, str | Path]) -> Iterator[str]:
    """Serve each folder under its prefix (``{"pyodide": ".../node_modules/pyodide"}`` is
    ``/pyodide/...``) and a blank page at ``/``, on 127.0.0.1 (a secure context, so the
    wheel cache works); yields the base URL, ``http://127.0.0.1:PORT/``."""
    roots = {prefix.strip("/"): str(Path(folder).resolve()) for prefix, folder in folders.items()}

    class Handler(SimpleHTTPRequestHandler):
        extensions_map = {**SimpleHTTPRequestHandler.extensions_map,
                          ".mjs": "text/javascript", ".wasm": "application/wasm"}

        def do_GET(self) -> None:
            if self.path.split("?")[0] == "/":
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(BLANK_PAGE)))
                self.end_headers()
                self.wfile.write(BLANK_PAGE)
            else:
                super().do_GET()

        def translate_path(self, path: str) -> str:
            prefix, _, rest = path.lstrip("/").partition("/")
            if prefix not in roots:
                return "/nonexistent"  # 404
            self.directory = roots[prefix]
            return super().translate_path("/" + rest)  # refuses ".." as usual

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


class PyodideError(AssertionError):
    """Python raised in the page, or pyemscripten could not install.

    ``type``: the Python class name ("ModuleNotFoundError", "HashMismatchError", ...);
    ``message``: the traceback (Python code) or pyemscripten's message (an install);
    ``details``: for an install, the error's facts (``project``, ``url``, ...), else ``{}``;
    ``console``: what the page had logged, for a page that could not boot (it is closed).
    """

    def __init__(self, type: str, message: str, details: Mapping[str, Any] | None = None,
                 console: list[str] | None = None) -> None:
        self.type, self.message, self.details = type, message, dict(details or {})
        self.console = list(console or [])
        super().__init__(f"{type}: {message}")


# Playwright's evaluate() waits for its promise with no time limit: each snippet races its
# work against a timer of its own, so that a stalled boot, install or await fails the test.
_WITHIN = """const within = (work, seconds, what) => Promise.race([work, new Promise((_, reject) => setTimeout(
    () => reject(Object.assign(new Error(`${what} took more than ${seconds} s`), { name: "TimeoutError" })),
    seconds * 1000))]);"""

_BOOT = """async ({ package, options, seconds }) => {
  """ + _WITHIN + """
  try {
    const { loadPyodideWithPackages } = await within(import(package + "index.mjs"), seconds, "importing the npm package");
    window.pyodide = await within(loadPyodideWithPackages(options), seconds, "booting Pyodide and installing");
    return null;
  } catch (e) {  // a PyemscriptenError has .type and .details; anything else is a plain Error
    return { type: e.type ?? e.name, message: String(e.message ?? e), details: e.details ?? {} };
  }
}"""

_RUN = """async ({ code, seconds }) => {
  """ + _WITHIN + """
  try {
    let value = await within(window.pyodide.runPythonAsync(code), seconds, "the Python code");
    if (value && typeof value.toJs === "function") {  // a dict, list, ...: as JSON-like values
      const proxy = value;
      value = proxy.toJs({ dict_converter: Object.fromEntries });
      proxy.destroy();
    }
    return { ok: true, value };
  } catch (e) {  // Pyodide's PythonError: .type is the class, .message the traceback
    return { ok: false, type: e.type ?? e.name, message: String(e.message ?? e) };
  }
}"""


class PyodidePage:
    """One Playwright page with Pyodide booted and a lock installed."""

    def __init__(self, page: Any, timeout: float = 120) -> None:
        self.page = page
        self.timeout = timeout
        self.console: list[str] = []
        page.on("console", lambda message: self.console.append(message.text))

    @classmethod
    def open(cls, context: Any, site: str, *, runtime: str = "pyodide/", package: str = "pyemscripten/",
             lockfile: str | None = None, index_urls: list[str] | None = None, timeout: float = 120) -> PyodidePage:
        """A new page of ``context`` at ``site``, Pyodide from ``site + runtime``, the npm
        package's ``js/`` at ``site + package``. ``lockfile``: the lock's URL (relative to
        ``site``) or text (a lock made with ``--wheels-dir`` only by URL: its wheels are
        found beside it). Raises :class:`PyodideError` when the boot or install fails or
        takes more than ``timeout`` seconds (each :meth:`run` has as long)."""
        self = cls(context.new_page(), timeout)
        self.page.set_default_timeout(timeout * 1000)
        options: dict[str, Any] = {"indexURL": site + runtime}
        if lockfile:
            options["lockfile"] = lockfile
        if index_urls:
            options["indexUrls"] = index_urls  # also the default of pyemscripten_install in the page
        try:
            self.page.goto(site)
            failure = self.page.evaluate(_BOOT, {"package": site + package, "options": options, "seconds": timeout})
        except Exception as exc:  # Playwright's own: the site not served, the page crashed
            self.page.close()
            raise PyodideError(type(exc).__name__, str(exc), console=self.console) from exc
        if failure is not None:
            self.page.close()
            raise PyodideError(failure["type"], failure["message"], failure["details"], self.console)
        return self

    def run(self, code: str) -> Any:
        """Run Python (top-level ``await`` allowed); return its last expression, as JSON-like
        values (dicts, lists, str, numbers). Raises :class:`PyodideError` if it raises."""
        try:
            outcome = self.page.evaluate(_RUN, {"code": code, "seconds": self.timeout})
        except Exception as exc:  # Playwright's own: the page crashed or was closed
            raise PyodideError(type(exc).__name__, str(exc), console=self.console) from exc
        if not outcome["ok"]:
            raise PyodideError(outcome["type"], outcome["message"])
        return outcome["value"]

    def close(self) -> None:
        """Let the wheel cache finish its writes (the next page of this context reads them), then close."""
        try:
            self.run("import pyemscripten\nawait pyemscripten.wait_for_cache()")
        finally:
            self.page.close()
