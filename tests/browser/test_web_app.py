"""A web page that uses only the npm package and a pylock.toml made natively."""

from __future__ import annotations

import json
import re
import importlib.util
import queue
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlencode

import pytest

from tests.support.browser import DEFAULT_RUNTIME, ROOT
from tests.support.sidemodules import fixture_wheels

_spec = importlib.util.spec_from_file_location("fetch_fixtures", ROOT / "scripts" / "fetch_fixtures.py")
assert _spec and _spec.loader
fetch_fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fetch_fixtures)
VITE = fetch_fixtures.vite_bin()
ESBUILD = fetch_fixtures.esbuild_bin()
WEBPACK = fetch_fixtures.webpack_module()
TSC = fetch_fixtures.tsc_bin()

APP_HTML = """<!doctype html>
<html><head><meta charset="utf-8"><title>web app</title></head><body>
<script type="module">
import { loadPyodideWithPackages, installPackages, bootstrap, PyemscriptenError } from "/npm/js/index.mjs";
import { loadPyodide } from "/runtimes/RUNTIME/pyodide.mjs";
window.loadPyodide = loadPyodide;
window.bootstrap = bootstrap;
window.loadPyodideWithPackages = loadPyodideWithPackages;
window.events = [];
try {
  const pyodide = await loadPyodideWithPackages({
    indexURL: "/runtimes/RUNTIME/",
    lockfile: "pylock.toml",
    indexUrls: ["INDEX"],
    onProgress: (event) => window.events.push({ ...event, at: performance.now() }),
  });
  window.pyodide = pyodide;
  window.PyemscriptenError = PyemscriptenError;
  window.installPackages = installPackages;
  window.result = await pyodide.runPythonAsync(`
import importlib.metadata, json, pyemscripten, pyemscripten.api, rich, requests, charset_normalizer
from rich.text import Text
with open(pyemscripten.api.__spec__.cached, "rb") as f:
    flags = int.from_bytes(f.read(8)[4:], "little")
json.dumps({"rich": Text("hi").plain, "requests": requests.__version__, "listed": pyemscripten.list(),
            "pyc_flags": flags, "recorded": sorted(str(f) for f in importlib.metadata.files("pyemscripten")
                                                   if f.suffix == ".pyc")})
`);
} catch (error) {
  window.failure = String(error.stack || error);
}
window.appDone = true;
</script></body></html>
"""


def native_lock(index_url: str, *requirements: str, out: Path, extra: tuple[str, ...] = ()) -> str:
    """Run the lock command as a person would, in a child process (Playwright owns our loop)."""
    subprocess.run([sys.executable, "-m", "pyemscripten", "lock", *requirements, "--index-url", index_url,
                    "--platform", "pyemscripten_2026_0_wasm32", "--python-version", "3.14", "-o", str(out), *extra],
                   check=True, capture_output=True, cwd=ROOT)
    return out.read_text()


@contextmanager
def app_page(browser, index_server, mount: str, files: dict[str, bytes], done: str) -> Iterator[object]:
    """A page of ``mount``'s index.html (with ``files`` beside it) in a fresh context, once
    the JavaScript expression ``done`` holds; request counts start from it."""
    index_server.mount(mount, files)
    index_server.reset_counts()
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(f"{index_server.url}{mount}index.html")
        page.wait_for_function(done, timeout=120_000)
        yield page
    finally:
        context.close()


def test_page_with_npm_package_and_native_lock(browser, index_server, npm_package, tmp_path) -> None:
    lock = native_lock(index_server.index_url, "rich", "requests", out=tmp_path / "pylock.toml")
    html = APP_HTML.replace("RUNTIME", DEFAULT_RUNTIME).replace("INDEX", index_server.index_url)
    with app_page(browser, index_server, "/webapp/", {"index.html": html.encode(), "pylock.toml": lock.encode()},
                  "window.appDone === true") as page:
        assert page.evaluate("window.failure") is None, page.evaluate("window.failure")
        result = json.loads(page.evaluate("window.result"))
        assert result["rich"] == "hi"
        # The npm package's wheel brings its bytecode for this runtime's Python (checked-hash
        # pycs, PEP 552: flags 3), which the page's import used as it is.
        assert "pyemscripten/__pycache__/api.cpython-314.pyc" in result["recorded"], result["recorded"]
        assert result["pyc_flags"] == 3
        assert {"pyemscripten", "packaging", "resolvelib", "rich", "requests", "charset-normalizer"} <= set(result["listed"])
        # The lock was installed as it is: no index page was asked for, nothing resolved.
        assert index_server.count(regex=r"/simple/") == 0
        assert index_server.count(path="/webapp/pylock.toml") == 1
        events = page.evaluate("window.events")
        stages = [e["stage"] for e in events]
        assert stages[:2] == ["booting", "bootstrapping"] and stages[-1] == "ready"
        # The npm package's wheels were asked for while the runtime booted, not after it
        # ("bootstrapping" is told once loadPyodide is done).
        booted = events[1]["at"]
        started = page.evaluate("performance.getEntriesByType('resource').filter((e) => /\\/npm\\/js\\/wheels\\//"
                                ".test(e.name)).map((e) => e.startTime)")
        assert len(started) == 4 and max(started) < booted, (started, booted)  # manifest.mjs and 3 wheels
        assert {"resolved", "downloading", "installing", "done"} <= set(stages) and "resolving" not in stages
        download = next(e for e in events if e["stage"] == "downloading" and e.get("package") == "rich")
        assert download["total"] > 0 and 0 <= download["done"] <= download["total"]

        # Python code in the page: the builtin, with the page's index and progress callback.
        said = page.evaluate("window.pyodide.runPythonAsync('str(await pyemscripten_install(\"attrs\"))')")
        assert said.startswith("Installed attrs-")
        assert any(e.get("package") == "attrs" for e in page.evaluate("window.events"))

        # A failed install rejects with a typed error, and names the project.
        error = page.evaluate("""async () => {
          try { await window.installPackages(window.pyodide, { requirements: ["no-such-project-anywhere"] }); }
          catch (e) { return { isOurs: e instanceof window.PyemscriptenError, type: e.type, message: e.message,
                               details: e.details }; }
        }""")
        assert error["isOurs"] and error["type"].endswith("Error") and "no-such-project-anywhere" in error["message"]
        assert error["details"]["project"] == "no-such-project-anywhere", error

        # A misspelled option is refused, not ignored; a lock may be given as its text.
        refused = page.evaluate("""async () => {
          try { await window.installPackages(window.pyodide, { lockFile: "pylock.toml" }); return null; }
          catch (e) { return [e.name, e.message]; }
        }""")
        assert refused[0] == "TypeError" and "unknown option lockFile" in refused[1], refused
        from_text = page.evaluate("async (text) => (await window.installPackages(window.pyodide, { lockfile: text }))"
                                  ".already.map((p) => p.name)", lock)
        assert "rich" in from_text
        # The lock's extras and groups are chosen with lockExtras / lockGroups (checked by the lock).
        chosen = page.evaluate("""async (text) => {
          const tries = [{ lockfile: text, lockExtras: "gui" }, { lockGroups: ["dev"] }];
          const out = [];
          for (const options of tries) {
            try { await window.installPackages(window.pyodide, options); out.push(null); }
            catch (e) { out.push([e.type ?? e.name, e.message]); }
          }
          return out;
        }""", lock)
        assert chosen[0][0] == "LockError" and "it declares no extras gui (its extras: none)" in chosen[0][1], chosen
        assert chosen[1] == ["TypeError", "installPackages: lockExtras and lockGroups choose from a lockfile: give one"]

        # An install that fails after the boot hands the instance over, with the lock installed.
        kept = page.evaluate("""async (index) => {
          try {
            await window.loadPyodideWithPackages({ indexURL: "/runtimes/RUNTIME/", lockfile: "pylock.toml",
              indexUrls: [index], requirements: ["no-such-project-anywhere"] });
            return null;
          } catch (e) {
            return [e.type, e.pyodide ? e.pyodide.runPython("import rich; rich.__name__") : null];
          }
        }""".replace("RUNTIME", DEFAULT_RUNTIME), index_server.index_url)
        assert kept == ["ProjectNotFoundError", "rich"], kept

        # Two calls at once on a fresh instance share one bootstrap (they would write the same
        # files), and a third does nothing; bootstrap resolves to nothing.
        shared = page.evaluate("""async () => {
          const pyodide = await window.loadPyodide({ indexURL: "/runtimes/RUNTIME/" });
          const writeFile = pyodide.FS.writeFile;
          let wheels = 0;
          pyodide.FS.writeFile = (path, ...rest) => (wheels += String(path).endsWith(".whl"), writeFile(path, ...rest));
          const [a, b] = await Promise.all([window.bootstrap(pyodide), window.bootstrap(pyodide)]);
          const c = await window.bootstrap(pyodide);
          return [wheels === 3 && a === undefined && b === undefined && c === undefined,
                  ["pyemscripten", "packaging", "resolvelib"].map((name) => pyodide.loadedPackages[name])];
        }""".replace("RUNTIME", DEFAULT_RUNTIME))
        assert shared[0] is True
        # The runtime's loader is told: pyodide.loadPackage("packaging") installs nothing over them.
        assert all(source and "/wheels/" in source and source.endswith(".whl") for source in shared[1]), shared

        # A progress callback that throws does not fail an install that works (the error goes
        # to the console), and one index URL may be given as a string.
        names = page.evaluate("""async (index) => {
          const result = await window.installPackages(window.pyodide, {
            requirements: ["click"], indexUrls: index, onProgress: () => { throw new Error("a display bug"); } });
          return result.installed.map((p) => p.name);
        }""", index_server.index_url)
        assert names == ["click"]


BARE_HTML = """<!doctype html>
<html><head><meta charset="utf-8"><title>bare</title></head><body>
<script type="module">
import { bootstrap } from "/npm/js/index.mjs";
import { loadPyodide } from "/runtimes/RUNTIME/pyodide.mjs";
window.pyodide = await loadPyodide({ indexURL: "/runtimes/RUNTIME/" });
window.attempt = async () => {
  try { await bootstrap(window.pyodide); return window.pyodide.loadedPackages.pyemscripten ? "ok" : "not told"; }
  catch (e) { return e.type === "BootstrapError" ? e.cause.message : `not a BootstrapError: ${e}`; }
};
window.ready = true;
</script></body></html>
"""


def test_a_failed_fetch_of_the_packages_own_files_names_the_file_and_is_tried_again(
        browser, index_server, npm_package) -> None:
    import urllib.request

    with urllib.request.urlopen(index_server.url + "/npm/js/wheels/manifest.json") as answer:
        file = json.load(answer)["wheels"][0]["file"]
    wheel = "/npm/js/wheels/" + file
    html = BARE_HTML.replace("RUNTIME", DEFAULT_RUNTIME).encode()
    with app_page(browser, index_server, "/bare/", {"index.html": html}, "window.ready === true") as page:
        beside = (f"the package's wheel {file} must be served at that URL: the package's js/ folder served whole, "
                  "or the files a bundler copied; a bundler that does not copy the files new URL(..., "
                  "import.meta.url) names (esbuild) leaves it out: copy node_modules/pyemscripten/js/wheels/ to your "
                  "site and give that folder's URL as wheelsURL (with Vite 7 or older, its dev server needs "
                  'optimizeDeps: { exclude: ["pyemscripten"] })')
        index_server.add_fault(wheel, status=404, times=1)
        said = page.evaluate("window.attempt()")
        assert said == f"pyemscripten: {index_server.url}{wheel} answered HTTP 404: {beside}", said
        index_server.add_fault(wheel, status=503, times=1)
        said = page.evaluate("window.attempt()")
        assert said.endswith("answered HTTP 503: the server is failing for now: try again later"), said
        # A server that answers every path with its own page (a single-page app's fallback).
        index_server.add_fault(wheel, body=b"<!doctype html><title>app</title>", times=1)
        said = page.evaluate("window.attempt()")
        assert said.startswith(f"pyemscripten: {index_server.url}{wheel} is not the file the package has "
                               "(33 bytes, beginning with <; the wheel is a zip archive of ") \
            and said.endswith(f"): {beside}"), said
        index_server.add_fault(wheel, reset_after=100, times=1)  # the connection breaks in the body
        said = page.evaluate("window.attempt()")
        assert said.startswith(f"pyemscripten: could not fetch {index_server.url}{wheel} (") \
            and said.endswith("): check the connection"), said
        # Neither failure is kept: the next call fetches again, and installs.
        assert page.evaluate("window.attempt()") == "ok"
        assert index_server.count(path=wheel) == 5


ERRORS_HTML = """<!doctype html>
<html><head><meta charset="utf-8"><title>errors</title></head><body>
<script type="module">
import { installPackages, loadPyodideWithPackages, bootstrap, PyemscriptenError } from "/npm/js/index.mjs";
import { loadPyodide } from "/runtimes/RUNTIME/pyodide.mjs";
window.pyodide = await loadPyodide({ indexURL: "/runtimes/RUNTIME/" });
window.outcome = async (call) => {
  const events = [];
  try {
    return { value: await call((event) => events.push(event)), events };
  } catch (e) {
    return { isOurs: e instanceof PyemscriptenError, name: e.name, type: e.type, message: e.message,
             details: e.details, cause: e.cause ? String(e.cause.message) : null, events };
  }
};
window.installPackages = installPackages;
window.loadPyodideWithPackages = loadPyodideWithPackages;
window.bootstrap = bootstrap;
window.unhandled = [];
addEventListener("unhandledrejection", (event) => window.unhandled.push(String(event.reason)));
window.ready = true;
</script></body></html>
"""


def test_the_js_module_says_every_failure_as_one_error(browser, index_server, npm_package) -> None:
    html = ERRORS_HTML.replace("RUNTIME", DEFAULT_RUNTIME).encode()
    wheel = r"/npm/js/wheels/resolvelib-[^/]*\.whl"
    with app_page(browser, index_server, "/errors/", {"index.html": html}, "window.ready === true") as page:
        console: list[str] = []
        page.on("console", lambda message: console.append(message.text))
        # pyemscripten's own files cannot be fetched: one "error" event, a BootstrapError.
        index_server.add_fault(regex=wheel, status=404, times=1)
        failed = page.evaluate("""(index) => window.outcome((onProgress) => window.installPackages(window.pyodide,
          { requirements: "attrs", indexUrls: index, onProgress }))""", index_server.index_url)
        assert failed["isOurs"] and failed["type"] == "BootstrapError", failed
        assert failed["message"].startswith("pyemscripten could not be installed into this Pyodide: pyemscripten: ")
        assert re.search(wheel + " answered HTTP 404", failed["message"]), failed
        assert "answered HTTP 404" in failed["cause"]
        assert [e["stage"] for e in failed["events"]] == ["bootstrapping", "error"], failed["events"]

        # Tried again, it bootstraps and installs; a later call without onProgress sends
        # nothing to the first call's callback, and takes the bootstrap's indexes.
        done = page.evaluate("""(index) => window.outcome(() => window.installPackages(window.pyodide,
          { requirements: ["attrs"], indexUrls: [index], onProgress: (e) => (window.bootEvents ??= []).push(e) }))""",
                             index_server.index_url)
        assert [p["name"] for p in done["value"]["installed"]] == ["attrs"], done
        later = page.evaluate("""() => window.outcome(async () => {
          const before = window.bootEvents.length;
          const result = await window.installPackages(window.pyodide, { requirements: ["mdurl"] });
          return [result.installed.map((p) => p.name), window.bootEvents.length === before];
        })""")
        assert later["value"] == [["mdurl"], True], later

        # A bug of ours in Python (here made one): a PyemscriptenError with its traceback.
        page.evaluate("""() => window.pyodide.runPython(`
import pyemscripten
async def _broken(*args, **kwargs):
    raise RuntimeError("made to fail")
pyemscripten.install = _broken
`)""")
        bug = page.evaluate("() => window.outcome(() => window.installPackages(window.pyodide, "
                            "{ requirements: ['rich'] }))")
        assert bug["isOurs"] and bug["type"] == "RuntimeError", bug
        assert "made to fail" in bug["message"] and "RuntimeError: made to fail" in bug["details"]["traceback"]
        # It failed before an install could say so: the call's one "error" event says it.
        told = page.evaluate("() => window.outcome((onProgress) => window.installPackages(window.pyodide, "
                             "{ requirements: ['rich'], onProgress }))")
        assert [e["stage"] for e in told["events"]] == ["error"] and "made to fail" in told["events"][0]["message"]

        # Options of the wrong type, or misspelled, are refused before anything starts.
        for call, says in (
                ("window.installPackages(window.pyodide, { requirements: 5 })",
                 "installPackages: requirements must be a string or an array of strings"),
                ("window.installPackages(window.pyodide, { onProgress: 'log' })",
                 "installPackages: onProgress must be a function"),
                ("window.loadPyodideWithPackages({ indexURL: '/runtimes/RUNTIME/', requirement: ['rich'] })",
                 "loadPyodideWithPackages: unknown option requirement; did you mean requirements?"),
                ("window.loadPyodideWithPackages({ indexURL: '/runtimes/RUNTIME/', onprogress: () => {} })",
                 "loadPyodideWithPackages: unknown option onprogress; did you mean onProgress?"),
                ("window.loadPyodideWithPackages({ indexurl: '/runtimes/RUNTIME/' })",  # not indexUrls
                 "loadPyodideWithPackages: unknown option indexurl; did you mean indexURL?"),
                ("window.loadPyodideWithPackages(null)", "loadPyodideWithPackages: options must be an object"),
                ("window.loadPyodideWithPackages({ indexURL: 5 })", "loadPyodideWithPackages: indexURL must be the URL"),
                ("window.loadPyodideWithPackages({ loadPyodide: 'yes' })",
                 "loadPyodideWithPackages: loadPyodide must be a function"),
                ("window.installPackages(undefined, { requirements: 'attrs' })",
                 "installPackages: the first argument must be a Pyodide instance"),
                ("window.bootstrap(window.pyodide, { requirements: ['attrs'] })",
                 "bootstrap: unknown option requirements; the options are indexUrls, onProgress, wheelsURL"),
                ("window.bootstrap(window.pyodide, { indexUrl: ['x'] })",
                 "bootstrap: unknown option indexUrl; did you mean indexUrls?"),
                ("window.bootstrap(undefined)", "bootstrap: the first argument must be a Pyodide instance"),
                ("window.loadPyodideWithPackages({ loadPyodide: async () => undefined })",
                 "loadPyodideWithPackages: what loadPyodide resolved to must be a Pyodide instance")):
            refused = page.evaluate(f"() => window.outcome(() => {call.replace('RUNTIME', DEFAULT_RUNTIME)})")
            assert refused["name"] == "TypeError" and refused["message"].startswith(says), refused
        # Nothing was started by a refused call: no rejection was left unhandled, no message
        # printed for a callback that is not one.
        assert page.evaluate("window.unhandled") == [] and not [m for m in console if "onProgress" in m], console
        refused = page.evaluate("() => window.outcome(() => window.loadPyodideWithPackages("
                                "{ indexURL: '/runtimes/RUNTIME/', onProgress: 1 }))".replace("RUNTIME", DEFAULT_RUNTIME))
        assert refused["message"] == "loadPyodideWithPackages: onProgress must be a function", refused
        assert not [m for m in console if "onProgress" in m], console


def test_an_interrupt_during_an_install_is_one_error_event(browser, index_server, npm_package) -> None:
    # A KeyboardInterrupt (the page's interrupt buffer) is no Exception: it goes up through
    # the Python side, whose install has said it as an "error" event; the JS module must not
    # say it again.
    html = ERRORS_HTML.replace("RUNTIME", DEFAULT_RUNTIME).encode()
    with app_page(browser, index_server, "/interrupted/", {"index.html": html}, "window.ready === true") as page:
        page.evaluate("() => window.installPackages(window.pyodide, {})")  # bootstrapped
        page.evaluate("""() => window.pyodide.runPython(`
import pyemscripten
from pyemscripten import api

async def _interrupted(*args, on_progress, **kwargs):
    def listener(event):
        on_progress(event)
        if event["stage"] == "resolving":
            raise KeyboardInterrupt
    return await api.install(*args, on_progress=listener, **kwargs)

pyemscripten.install = _interrupted
`)""")
        for call in ("window.installPackages(window.pyodide, { requirements: ['attrs'], indexUrls: index, onProgress })",
                     "window.loadPyodideWithPackages({ loadPyodide: async () => window.pyodide, requirements: "
                     "['attrs'], indexUrls: index, onProgress })"):
            out = page.evaluate(f"(index) => window.outcome((onProgress) => {call})", index_server.index_url)
            assert not out["isOurs"] and out["type"] == "KeyboardInterrupt", out
            assert [e["stage"] for e in out["events"]].count("error") == 1, out["events"]
            assert "Install stopped (KeyboardInterrupt)" in out["events"][-1]["message"], out["events"]
        assert page.evaluate("window.pyodide.runPython(\"import pyemscripten; 'attrs' in pyemscripten.list()\")") \
            is False


# --- the npm package in an app a bundler built ---------------------------------------------

VITE_INDEX = b"""<!doctype html>
<html><head><meta charset="utf-8"><title>vite app</title></head><body>
<script type="module" src="./main.js"></script></body></html>
"""

# The app imports the package by its name, as a web app does; the page's query names the
# runtime, the index and (for esbuild's bundle) wheelsURL. No top-level await: esbuild's
# default output (iife) has none.
APP_MAIN = b"""import { loadPyodideWithPackages } from "pyemscripten";
const query = new URLSearchParams(location.search);
window.stages = [];
async function main() {
  try {
    const pyodide = await loadPyodideWithPackages({
      indexURL: query.get("runtime"),
      requirements: ["attrs"],
      indexUrls: [query.get("index")],
      wheelsURL: query.get("wheels"),
      onProgress: (event) => window.stages.push(event.stage),
    });
    window.result = pyodide.runPython("import attrs, pyemscripten; f'{attrs.__name__} {pyemscripten.__name__}'");
  } catch (error) {
    window.failure = String(error.stack || error);
  }
  window.appDone = true;
}
main();
"""


@pytest.fixture(scope="module")
def bundler_app(npm_package_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An app that imports the npm package as ``pyemscripten`` (installed in its
    node_modules as ``npm install`` puts it); Vite, esbuild, webpack and TypeScript from
    ``scripts/fetch_fixtures.py``."""
    if not VITE.exists():
        too_old = fetch_fixtures.node_too_old()
        if too_old:
            pytest.skip(f"Vite cannot run here: {too_old}")
        pytest.fail(f"Vite, esbuild, webpack and TypeScript are not installed in {VITE.parents[2]}: "
                    "run scripts/setup.sh")
    app = tmp_path_factory.mktemp("vite-app")
    (app / "index.html").write_bytes(VITE_INDEX)
    (app / "main.js").write_bytes(APP_MAIN)
    (app / "package.json").write_text(json.dumps({"name": "app", "private": True, "type": "module"}))
    shutil.copytree(npm_package_dir, app / "node_modules" / "pyemscripten")
    return app


def test_an_app_vite_built_bootstraps_from_the_wheels_vite_copied(browser, index_server, bundler_app) -> None:
    built = subprocess.run([str(VITE), "build", "--base", "/vite/", "--logLevel", "warn"], cwd=bundler_app,
                           capture_output=True, text=True, timeout=120)
    assert built.returncode == 0, built.stdout + built.stderr
    assets = sorted(path.name for path in (bundler_app / "dist" / "assets").iterdir())
    # Vite copied the three wheels (under names of its own), and no other file of the package.
    assert [name.split("-")[0] for name in assets if name.endswith(".whl")] == ["packaging", "pyemscripten",
                                                                                 "resolvelib"], assets
    assert not [name for name in assets if name.endswith((".mjs", ".py", ".json"))], assets
    index_server.mount("/vite/", bundler_app / "dist")
    index_server.reset_counts()
    with _app_ran(browser, f"{index_server.url}/vite/index.html?{_query(index_server)}") as page:
        assert page.evaluate("window.stages")[-1] == "ready"
    assert index_server.count(regex=r"^/vite/assets/[^/]*\.whl$") == 3
    assert index_server.count(regex=r"^/npm/") == 0


def test_an_app_on_vites_dev_server_bootstraps_from_the_packages_own_folder(browser, index_server, bundler_app) -> None:
    # Vite takes the next free port if this one is taken, and says which.
    server = subprocess.Popen([str(VITE), "--host", "127.0.0.1", "--port", "5273", "--clearScreen", "false"],
                              cwd=bundler_app, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    said: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [said.put(line) for line in server.stdout], daemon=True).start()  # type: ignore[union-attr]
    try:
        lines, origin = [], None
        while origin is None:
            try:
                lines.append(said.get(timeout=60))
            except queue.Empty:
                pytest.fail("Vite's dev server did not say where it listens within 60 s: " + "".join(lines))
            found = re.search(r"http://127\.0\.0\.1:\d+", re.sub(r"\x1b\[[0-9;]*m", "", lines[-1]))
            origin = found and found.group(0)
        wheels = []

        def listen(page) -> None:
            page.on("response", lambda response: wheels.append((response.status, response.url))
                    if response.url.endswith(".whl") and "/node_modules/" in response.url else None)

        with _app_ran(browser, f"{origin}/?{_query(index_server)}", before=listen):
            pass
        # The dev server serves the wheels from the installed package, where they are.
        assert sorted(status for status, _ in wheels) == [200, 200, 200], wheels
        assert all("/node_modules/pyemscripten/js/wheels/" in url for _, url in wheels), wheels
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_an_app_esbuild_bundled_bootstraps_from_the_wheels_copied_by_hand(browser, index_server, bundler_app,
                                                                          npm_package_dir) -> None:
    """esbuild copies no file new URL(..., import.meta.url) names, and its default output
    (iife) has no import.meta: the wheels are copied by hand and wheelsURL says where."""
    out = bundler_app / "esbuild-out"
    built = subprocess.run([str(ESBUILD), "main.js", "--bundle", f"--outfile={out / 'app.js'}", "--log-level=error"],
                           cwd=bundler_app, capture_output=True, text=True, timeout=120)
    assert built.returncode == 0, built.stdout + built.stderr
    (out / "index.html").write_bytes(b'<!doctype html><meta charset="utf-8"><script src="app.js"></script>')
    shutil.copytree(npm_package_dir / "js" / "wheels", out / "py-wheels")
    index_server.mount("/esbuild/", out)
    index_server.reset_counts()
    with _app_ran(browser, f"{index_server.url}/esbuild/index.html?{_query(index_server, wheels='py-wheels/')}"):
        pass
    assert index_server.count(regex=r"^/esbuild/py-wheels/[^/]*\.whl$") == 3


# webpack's Node API, as a webpack.config.js of an app would set it: production mode, and
# output.publicPath left to webpack ("auto": beside the script that loads the chunk).
WEBPACK_BUILD = """import webpack from WEBPACK;
webpack({ mode: "production", context: process.cwd(), entry: "./main.js",
          output: { path: process.cwd() + "/webpack-out", filename: "app.js" } }, (error, stats) => {
  if (error || stats.hasErrors()) {
    console.error(error ? error.stack : stats.toString("errors-only"));
    process.exit(1);
  }
});
"""


def test_an_app_webpack_bundled_bootstraps_from_the_wheels_webpack_copied(browser, index_server,
                                                                          bundler_app) -> None:
    """webpack 5 turns each new URL("./file", import.meta.url) into an asset of its own, and
    index.mjs's import of the manifest into a chunk: no option needed."""
    script = bundler_app / "build-webpack.mjs"
    script.write_text(WEBPACK_BUILD.replace("WEBPACK", json.dumps(WEBPACK.as_uri())))
    built = subprocess.run(["node", script.name], cwd=bundler_app, capture_output=True, text=True, timeout=180)
    assert built.returncode == 0, built.stdout + built.stderr
    out = bundler_app / "webpack-out"
    wheels = sorted(path.name for path in out.iterdir() if path.suffix == ".whl")
    assert len(wheels) == 3, sorted(path.name for path in out.iterdir())  # named by their hashes
    (out / "index.html").write_bytes(b'<!doctype html><meta charset="utf-8"><script src="app.js"></script>')
    index_server.mount("/webpack/", out)
    index_server.reset_counts()
    with _app_ran(browser, f"{index_server.url}/webpack/index.html?{_query(index_server)}"):
        pass
    assert index_server.count(regex=r"^/webpack/[^/]*\.whl$") == 3
    assert index_server.count(regex=r"^/npm/") == 0


# An app's TypeScript using every documented option, and mistakes the types must refuse.
TS_CONSUMER = """import { bootstrap, installPackages, loadPyodideWithPackages, PyemscriptenError,
         type InstallProgressEvent, type InstallResult } from "pyemscripten";

const seen: InstallProgressEvent[] = [];
const onProgress = (event: InstallProgressEvent) => {
  const words: string = event.message;
  seen.push(event);
};
try {
  const pyodide = await loadPyodideWithPackages({
    indexURL: new URL("https://example.org/pyodide/"), lockfile: "pylock.toml", lockExtras: ["fast"],
    lockGroups: "dev", requirements: ["rich"], indexUrls: "https://pypi.org/simple/", onProgress,
    wheelsURL: "/static/pyemscripten-wheels/", stdout: (line: string) => console.log(line),
  });
  await pyodide.runPythonAsync("import rich");
  const done: InstallResult = await installPackages(pyodide, { requirements: "attrs" });
  const names: string[] = done.installed.map((p) => `${p.name}==${p.version}`);
  const nothing: void = await bootstrap(pyodide, { indexUrls: ["/simple/"], wheelsURL: new URL("https://x/w/") });
  const again = await loadPyodideWithPackages({ loadPyodide: async () => pyodide, requirements: "attrs" });
  await again.runPythonAsync("import attrs");
  // @ts-expect-error a lockfile is its URL or its text
  await installPackages(pyodide, { lockfile: new URL("https://x/pylock.toml") });
  // @ts-expect-error requirements are strings
  await installPackages(pyodide, { requirements: [1] });
  // @ts-expect-error installPackages takes no runtime options
  await installPackages(pyodide, { stdout: () => {} });
  // @ts-expect-error indexUrl is a likely mix-up, refused
  await loadPyodideWithPackages({ indexURL: "/p/", indexUrl: "/simple/" });
} catch (error) {
  if (error instanceof PyemscriptenError) console.log(error.type, error.details, error.pyodide);
}
"""


def test_an_apps_typescript_checks_against_the_packages_types(bundler_app) -> None:
    (bundler_app / "app.mts").write_text(TS_CONSUMER)
    checked = subprocess.run([str(TSC), "--noEmit", "--strict", "--module", "nodenext", "--moduleResolution",
                              "nodenext", "--target", "es2022", "--lib", "es2022,dom", "app.mts"],
                             cwd=bundler_app, capture_output=True, text=True, timeout=120)
    assert checked.returncode == 0, checked.stdout + checked.stderr


@contextmanager
def _app_ran(browser, url: str, before=lambda page: None) -> Iterator[object]:
    """A fresh page of the bundled app at ``url`` (``before(page)`` first), once it has
    installed attrs and imported it."""
    context = browser.new_context()
    try:
        page = context.new_page()
        before(page)
        page.goto(url)
        page.wait_for_function("window.appDone === true", timeout=120_000)
        assert page.evaluate("window.failure") is None, page.evaluate("window.failure")
        assert page.evaluate("window.result") == "attrs pyemscripten"
        yield page
    finally:
        context.close()


def _query(index_server, **more: str) -> str:
    return urlencode({"runtime": f"{index_server.url}/runtimes/{DEFAULT_RUNTIME}/", "index": index_server.index_url,
                      **more})


WHEELS_URL_HTML = """<!doctype html>
<html><head><meta charset="utf-8"><title>wheelsURL</title></head><body>
<script type="module">
import { installPackages, bootstrap } from "/npm/js/index.mjs";
import { loadPyodide } from "/runtimes/RUNTIME/pyodide.mjs";
window.attempt = async (options) => {
  const pyodide = await loadPyodide({ indexURL: "/runtimes/RUNTIME/" });
  try { return (await installPackages(pyodide, options)).message; }
  catch (e) { return [e.name, e.message]; }
};
window.refused = async (options) => {
  try { await bootstrap({}, options); return null; } catch (e) { return [e.name, e.message]; }
};
window.ready = true;
</script></body></html>
"""


def test_wheels_url_names_where_the_wheels_are_served(browser, index_server, npm_package, npm_package_dir) -> None:
    """For a bundler that does not copy the wheels (esbuild): they are copied by hand, and
    wheelsURL says where."""
    index_server.mount("/static/py-wheels/", npm_package_dir / "js" / "wheels")
    html = WHEELS_URL_HTML.replace("RUNTIME", DEFAULT_RUNTIME).encode()
    with app_page(browser, index_server, "/elsewhere/", {"index.html": html}, "window.ready === true") as page:
        said = page.evaluate("(index) => window.attempt({ requirements: 'attrs', indexUrls: index, "
                             "wheelsURL: '/static/py-wheels' })", index_server.index_url)
        assert said.startswith("Installed attrs-"), said
        assert index_server.count(regex=r"^/static/py-wheels/[^/]*\.whl$") == 3
        assert index_server.count(regex=r"^/npm/js/wheels/[^/]*\.whl$") == 0
        # A folder that does not serve them is named, with what it must serve.
        said = page.evaluate("(index) => window.attempt({ requirements: 'attrs', indexUrls: index, "
                             "wheelsURL: new URL('/nothing-here/', location.href) })", index_server.index_url)
        assert said[0] == "PyemscriptenError" and (
            f"wheelsURL ({index_server.url}/nothing-here/) must serve the npm package's js/wheels/ folder") in said[1], said
        refusal = ("bootstrap: wheelsURL must be the URL (a string or a URL) of the folder where the package's "
                   "js/wheels/ files are served, without a query or fragment, absolute or relative to the page")
        for wrong in ("5", "'http://['", "'/wheels/?v=2'"):
            assert page.evaluate(f"window.refused({{ wheelsURL: {wrong} }})") == ["TypeError", refusal], wrong


# --- a page whose Content Security Policy forbids evaluating JavaScript -------------------

CSP_HTML = b"""<!doctype html>
<html><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="script-src 'self' 'wasm-unsafe-eval'">
<title>strict CSP</title></head><body>
<script type="module" src="app.mjs"></script></body></html>
"""

CSP_APP = """import { loadPyodideWithPackages, installPackages } from "/npm/js/index.mjs";
window.events = [];
try {
  eval("1");
  window.evalAllowed = true;
} catch (error) {
  window.evalAllowed = String(error);
}
try {
  const pyodide = await loadPyodideWithPackages({
    indexURL: "/runtimes/RUNTIME/", requirements: ["jiter"], indexUrls: ["INDEX"],
    onProgress: (event) => window.events.push(event.stage),
  });
  window.result = pyodide.runPython("import jiter; str(jiter.from_json(b'[1, 2]'))");
  window.installPackages = installPackages;
  window.pyodide = pyodide;
} catch (error) {
  window.failure = String(error.stack || error);
}
window.appDone = true;
"""


def test_a_page_that_forbids_eval_installs_through_the_npm_package(browser, index_server, npm_package) -> None:
    """Pyodide runs under script-src 'self' 'wasm-unsafe-eval' (no 'unsafe-eval'), and so
    does pyemscripten started through its npm package: its JavaScript comes as module code."""
    app = CSP_APP.replace("RUNTIME", DEFAULT_RUNTIME).replace("INDEX", index_server.index_url)
    files = {"index.html": CSP_HTML, "app.mjs": app.encode()}
    # A function, which Playwright calls without evaluating text (the page forbids that).
    with app_page(browser, index_server, "/csp/", files, "() => window.appDone === true") as page:
        assert page.evaluate("window.evalAllowed").startswith("EvalError"), "the policy did not apply"
        assert page.evaluate("window.failure") is None, page.evaluate("window.failure")
        assert page.evaluate("window.result") == "[1, 2]"  # a binary wheel: fetched, hashed, written, linked
        assert "loading" in page.evaluate("window.events")
        # JavaScript the npm package did not bring as module code (another version's) would
        # have to be evaluated: refused by the page, and said so.
        failed = page.evaluate("""async () => {
          try {
            await window.pyodide.runPythonAsync("from pyemscripten.browser import js_function; js_function('1 + 1')");
          } catch (e) { return e.message; }
        }""")
        assert "ContentSecurityPolicyError: " in failed and "'unsafe-eval'" in failed, failed
        assert "brought another version's copy of that JavaScript" in failed, failed
        # The sequential loader (Pyodide 0.27 and 0.29's way) comes as module code too.
        index_server.default.add_wheel(fixture_wheels()["chain"])
        chained = page.evaluate("""async (index) => await window.pyodide.runPythonAsync(`
import pyemscripten
from pyemscripten.browser_loader import PyodideLibraryLoader
await pyemscripten.install(["shlib-chain"], index_urls=["${index}"], quiet=True,
                           session=pyemscripten.Session(loader=PyodideLibraryLoader(fast=False)))
import shlib_chain._ext
shlib_chain._ext.value()`)""", index_server.index_url)
        assert chained == 42
        # A library with JavaScript built in (EM_JS) is evaluated by the runtime's own loader,
        # which the policy forbids whoever started pyemscripten: said as such, and rolled back.
        index_server.default.add_wheel(fixture_wheels()["emjs"])
        refused = page.evaluate("""async (index) => {
          try {
            await window.installPackages(window.pyodide, { requirements: ["shlib-emjs"], indexUrls: [index] });
          } catch (e) { return [e.type, e.message]; }
        }""", index_server.index_url)
        assert refused[0] == "LibraryNeedsEvalError", refused
        assert refused[1].startswith("Loading /lib/python3.14/site-packages/shlib_emjs/_ext.so (from shlib-emjs) "
                                     "failed: the library has JavaScript built in"), refused
        assert "allows no 'unsafe-eval' (" in refused[1] and "use a build of shlib-emjs without EM_JS" in refused[1]
        assert page.evaluate("() => window.pyodide.runPython("
                             "\"import importlib.util; importlib.util.find_spec('shlib_emjs') is None\")")
