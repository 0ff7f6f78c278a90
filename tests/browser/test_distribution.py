"""The runtime's own distribution (pyodide-lock.json): numpy when the index has none.

A served distribution folder stands in for the Pyodide CDN (not reachable here): a stub
``numpy`` wheel for this runtime's platform, its dependency, and a ``pyodide-lock.json``
that is the runtime's own with those two entries replaced.
"""

from __future__ import annotations

import json

import pytest

from tests.support.browser import DEFAULT_RUNTIME, RUNTIMES_DIR
from tests.support.wheels import WheelBytes, make_wheel

NUMPY = make_wheel("numpy", "2.4.6", {"numpy/__init__.py": "from fakeblas import dot\n__version__ = '2.4.6'\n"},
                   requires=["fakeblas"], tag="cp314-cp314-pyemscripten_2026_0_wasm32")
# Its METADATA spells the name as the lock does not (as PyYAML's does against the lock's "pyyaml").
FAKEBLAS = make_wheel("fakeblas", "0.3.30", {"fakeblas/__init__.py": "def dot(a, b):\n    return sum(x * y for x, y in zip(a, b))\n"},
                      metadata_name="FakeBLAS")


def distribution_lock(*entries: tuple[WheelBytes, list[str]], sha256: dict[str, str] | None = None) -> bytes:
    """The runtime's pyodide-lock.json with ``entries`` (wheel, depends) put in."""
    data = json.loads((RUNTIMES_DIR / f"pyodide-{DEFAULT_RUNTIME}" / "pyodide-lock.json").read_text())
    for wheel, depends in entries:
        name, version = wheel.filename.split("-")[:2]
        data["packages"][name] = {
            "name": name, "version": version, "file_name": wheel.filename, "install_dir": "site",
            "sha256": (sha256 or {}).get(name, wheel.sha256), "package_type": "package", "imports": [name],
            "depends": depends, "unvendored_tests": False, "shared_library": False,
        }
    return json.dumps(data).encode()


def distribution_files(**kwargs) -> dict[str, bytes]:
    return {
        "pyodide-lock.json": distribution_lock((NUMPY, ["fakeblas"]), (FAKEBLAS, []), **kwargs),
        NUMPY.filename: bytes(NUMPY), FAKEBLAS.filename: bytes(FAKEBLAS),
    }


def serve_distribution(server, prefix: str, **kwargs) -> str:
    server.mount(prefix, distribution_files(**kwargs))
    return f"{server.url}{prefix}pyodide-lock.json"


APP_HTML = """<!doctype html>
<html><head><meta charset="utf-8"><title>numpy from the distribution</title></head><body>
<script type="module">
import { loadPyodideWithPackages } from "/npm/js/index.mjs";
try {
  const pyodide = await loadPyodideWithPackages({
    indexURL: "RUNTIME_URL",
    OPTIONS
    indexUrls: ["INDEX"],
  });
  window.result = await pyodide.runPythonAsync(`
await pyemscripten_install("numpy")
import json, numpy, pyemscripten
json.dumps([numpy.__version__, numpy.dot([1, 2], [3, 4]), pyemscripten.list()])
`);
  // The runtime's own loader knows what pyemscripten installed: it loads nothing over it.
  const said = [];
  await pyodide.loadPackage("numpy", { messageCallback: (m) => said.push(m), errorCallback: (m) => said.push(m) });
  const said2 = [];
  await pyodide.loadPackage("fakeblas", { messageCallback: (m) => said2.push(m), errorCallback: (m) => said2.push(m) });
  window.loader = { said, said2, numpy: pyodide.loadedPackages.numpy, fakeblas: pyodide.loadedPackages.fakeblas,
                    FakeBLAS: pyodide.loadedPackages.FakeBLAS };
  await pyodide.runPythonAsync("import pyemscripten; pyemscripten.uninstall('fakeblas')");
  window.loader.after = Object.keys(pyodide.loadedPackages).filter((k) => k.toLowerCase() === "fakeblas");
} catch (error) {
  window.failure = String(error.stack || error);
}
window.appDone = true;
</script></body></html>
"""


@pytest.mark.parametrize("where", ["lockFileURL", "indexURL"])
def test_numpy_from_the_runtime_lock_file_by_default(where, browser, index_server, npm_package) -> None:
    # Pyodide reads its lock from lockFileURL when given, else from beside the runtime
    # (indexURL): pyemscripten asks the runtime for the same URL.
    if where == "lockFileURL":
        serve_distribution(index_server, "/dist/")
        runtime, options, dist = f"/runtimes/{DEFAULT_RUNTIME}/", 'lockFileURL: "/dist/pyodide-lock.json",', "/dist/"
    else:
        runtime_dir = RUNTIMES_DIR / f"pyodide-{DEFAULT_RUNTIME}"
        files = {p.name: p.read_bytes() for p in runtime_dir.iterdir() if p.is_file()}
        index_server.mount("/runtime-with-dist/", {**files, **distribution_files()})
        runtime, options, dist = "/runtime-with-dist/", "", "/runtime-with-dist/"
    html = (APP_HTML.replace("RUNTIME_URL", runtime).replace("OPTIONS", options)
            .replace("INDEX", index_server.index_url))
    index_server.mount("/numpy-app/", {"index.html": html.encode()})
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(f"{index_server.url}/numpy-app/index.html")
        page.wait_for_function("window.appDone === true", timeout=120_000)
        assert page.evaluate("window.failure") is None, page.evaluate("window.failure")
        version, dot, listed = json.loads(page.evaluate("window.result"))
        loader = page.evaluate("window.loader")
    finally:
        context.close()
    assert version == "2.4.6" and dot == 11 and listed["numpy"] == "2.4.6" and listed["fakeblas"] == "0.3.30"
    # pyodide.loadedPackages was told, as micropip tells it: loadPackage fetched nothing (the
    # counts below); an uninstall is told too.
    # Under the lock's spelling (what loadPackage goes by) and METADATA's (what Pyodide sets at start-up).
    assert loader["numpy"] == loader["fakeblas"] == loader["FakeBLAS"] == "default channel", loader
    assert loader["said"] == ["numpy already loaded from default channel", "No new packages to load"], loader
    assert loader["said2"] == ["fakeblas already loaded from default channel", "No new packages to load"], loader
    assert loader["after"] == [], loader
    # The index was asked first; the wheels came from beside the runtime's lock.
    assert index_server.count(path="/simple/numpy/") >= 1
    assert index_server.count(path=f"{dist}{NUMPY.filename}") == 1
    assert index_server.count(path=f"{dist}{FAKEBLAS.filename}") == 1


def test_distribution_is_the_fallback_and_its_hashes_are_checked(pyodide, index_server) -> None:
    index = index_server.index()
    # The index has numpy, but only for an older runtime; an app on the index needs it.
    index.add_wheel(make_wheel("numpy", "1.26.4", {"numpy/__init__.py": b""},
                               tag="cp312-cp312-pyemscripten_2024_0_wasm32"))
    index.add_wheel(make_wheel("numapp", "1.0", {"numapp/__init__.py": b"import numpy\n"}, requires=["numpy"]))
    good = serve_distribution(index_server, "/dist-good/")
    bad = serve_distribution(index_server, "/dist-bad/", sha256={"fakeblas": "0" * 64})
    setup = "import pyemscripten\nfrom pyemscripten import Session\n"

    err = pyodide.run_expect_error(setup + "await pyemscripten.install('numapp', index_urls=[url], "
                                   "session=Session(distribution_url=''))", url=index_server.index_url)
    assert err["type"] == "NoCompatibleWheelError" and "numpy" in err["message"]

    err = pyodide.run_expect_error(setup + "await pyemscripten.install('numapp', index_urls=[url], "
                                   "session=Session(distribution_url=dist))", url=index_server.index_url, dist=bad)
    assert err["type"] == "HashMismatchError" and FAKEBLAS.filename in err["message"]
    assert pyodide.run("import pyemscripten\npyemscripten.list()").keys().isdisjoint({"numapp", "numpy", "fakeblas"})

    out = pyodide.run(setup + """
report = await pyemscripten.install('numapp', index_urls=[url], session=Session(distribution_url=dist))
import numapp, numpy
[dict(report.installed), numpy.dot([1, 2], [3, 4]), pyemscripten.freeze()]
""", url=index_server.index_url, dist=good)
    installed, dot, frozen = out
    assert installed == {"numapp": "1.0", "numpy": "2.4.6", "fakeblas": "0.3.30"} and dot == 11
    # freeze() locks the distribution's wheel where it came from, with its hash.
    assert f"{index_server.url}/dist-good/{NUMPY.filename}" in frozen and NUMPY.sha256 in frozen


def test_a_distribution_served_without_its_wheels_says_where_and_why(pyodide, index_server) -> None:
    # As npm's pyodide (the core only): the lock is there, its wheels are not. The error says
    # which project came from the distribution, why, and what to serve.
    index = index_server.index()
    index.add_wheel(make_wheel("numapp", "1.0", {"numapp/__init__.py": b"import numpy\n"}, requires=["numpy"]))
    index_server.mount("/dist-core/", {"pyodide-lock.json": distribution_lock((NUMPY, ["fakeblas"]), (FAKEBLAS, []))})
    dist = f"{index_server.url}/dist-core/pyodide-lock.json"
    before = pyodide.run("import pyemscripten\npyemscripten.list()")
    err = pyodide.run_expect_error("import pyemscripten\nfrom pyemscripten import Session\n"
                                   "await pyemscripten.install('numapp', index_urls=[url], session=Session(distribution_url=dist))",
                                   url=index_server.index_url, dist=dist)
    assert err["type"] == "DistributionFileError", err
    message = err["message"]
    assert f"the runtime's distribution ({dist}), because no index has it; but its wheel is not there: HTTP 404" \
        in message, message
    assert message.split(" was to come")[0] in ("numpy 2.4.6 (needed by numapp 1.0)",
                                                "fakeblas 0.3.30 (needed by numpy 2.4.6)"), message
    assert "Serve the full Pyodide distribution where the runtime looks for its packages" in message
    assert pyodide.run("import pyemscripten\npyemscripten.list()") == before  # nothing half-installed


def test_the_runtimes_version_joins_the_indexes_for_a_pin_only_it_meets(pyodide, index_server) -> None:
    """fakeblas 9.0 is on the index for this runtime; the app pins the runtime's 0.3.30, which
    the index lacks (as pydantic 2.12.5 pins a pydantic-core only Pyodide 314 ships). Only
    then is the distribution asked for."""
    index = index_server.index()
    index.add_wheel(make_wheel("fakeblas", "9.0", {"fakeblas/__init__.py": b"VERSION = 9\n"}))
    index.add_wheel(make_wheel("pinapp", "1.0", {"pinapp/__init__.py": b""}, requires=["fakeblas==0.3.30"]))
    index.add_wheel(make_wheel("freeapp", "1.0", {"freeapp/__init__.py": b""}, requires=["fakeblas"]))
    dist = serve_distribution(index_server, "/dist-pin/")
    setup = "import pyemscripten\nfrom pyemscripten import Session\n"
    out = pyodide.run(setup + """
free = await pyemscripten.install('freeapp', index_urls=[url], session=Session(distribution_url=dist), dry_run=True, quiet=True)
pinned = await pyemscripten.install('pinapp', index_urls=[url], session=Session(distribution_url=dist), quiet=True)
import fakeblas
[{p['name']: p['version'] for p in free.plan}, dict(pinned.installed), fakeblas.dot([1, 2], [3, 4])]
""", url=index_server.index_url, dist=dist)
    assert out == [{"freeapp": "1.0", "fakeblas": "9.0"}, {"pinapp": "1.0", "fakeblas": "0.3.30"}, 11]
    assert index_server.count(path="/dist-pin/pyodide-lock.json") == 1  # the pin's install only
    assert index_server.count(path=f"/dist-pin/{FAKEBLAS.filename}") == 1
