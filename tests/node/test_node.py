"""pyemscripten in Node's Pyodide (314.0.7): the Python API installs pure and binary wheels
from an http index, with no Cache Storage and a runtime that names its files by path."""

from __future__ import annotations

import importlib.util
import json
import shutil
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.support.browser import DEFAULT_RUNTIME, ROOT, RUNTIMES_DIR
from tests.support.index_server import IndexServer

_spec = importlib.util.spec_from_file_location("build_js", ROOT / "scripts" / "build_js.py")
assert _spec is not None and _spec.loader is not None
build_js = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(build_js)


def test_install_pure_and_binary_wheels_then_a_missing_project(run_in_node: Callable[..., Any]) -> None:
    out = run_in_node("""
import json, pyemscripten
from pyemscripten import api
events = []
report = await pyemscripten.install(["attrs", "jiter"], index_urls=[INDEX], on_progress=events.append, quiet=True)
import attrs, jiter
try:
    await pyemscripten.install(["no-such-project"], index_urls=[INDEX], on_progress=events.append, quiet=True)
except pyemscripten.PyemscriptenError as exc:
    error = [type(exc).__name__, str(exc)]
session = api.Session().resolved(interpreter=False)
json.dumps({
    "installed": [list(p) for p in report.installed],
    "attrs": attrs.__version__,
    "jiter": jiter.from_json(b'{"a": [1, 2.5]}'),
    "loaded": [e["package"] for e in events if e["stage"] == "loading" and e.get("package")],
    "warnings": [e["message"] for e in events if e["stage"] == "warning"],
    "error": error,
    "cache": repr(session.cache),
    "distribution": session.distribution_url,
})
""")
    assert out["installed"] == [["attrs", "26.1.0"], ["jiter", "0.19.0"]]
    assert out["attrs"] == "26.1.0" and out["jiter"] == {"a": [1, 2.5]}
    assert out["loaded"] == ["jiter"]  # its shared library, through pyemscripten's loader
    # No Cache Storage: no cache, and not a word about it. The runtime's lock is a path
    # fetch cannot read: not asked for (each try was a warning).
    assert out["cache"] == "None" and out["distribution"] == "" and out["warnings"] == []
    kind, message = out["error"]
    assert kind == "ProjectNotFoundError" and "/simple/no-such-project/" in message


def test_a_refused_connection_says_why(run_in_node: Callable[..., Any]) -> None:
    # Node's fetch rejects with "fetch failed" and puts why in the error's cause.
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    out = run_in_node(f"""
import json, pyemscripten
from pyemscripten.api import Session
from pyemscripten.index_client import RetryPolicy
try:
    await pyemscripten.install("attrs", index_urls=["http://127.0.0.1:{port}/simple/"], quiet=True,
                               session=Session(retry=RetryPolicy(attempts=1)))
except pyemscripten.PyemscriptenError as exc:
    error = [type(exc).__name__, str(exc)]
json.dumps(error)
""")
    assert out[0] == "NetworkError"
    assert f"fetch failed: connect ECONNREFUSED 127.0.0.1:{port} (after 1 tries)" in out[1]


JS_MODULE = """
const [module, runtime, index, wheelsURL] = process.argv.slice(1);
const { loadPyodideWithPackages } = await import(module);
const said = [];
try {  // the module's own wheels, beside it: file: URLs
  await loadPyodideWithPackages({ indexURL: runtime, requirements: ["attrs"], indexUrls: [index] });
} catch (error) {
  said.push(error.message);
}
const pyodide = await loadPyodideWithPackages({ indexURL: runtime, requirements: ["attrs", "jiter"],
                                                indexUrls: [index], wheelsURL });
said.push(pyodide.runPython("import attrs, jiter; f'{attrs.__version__} {jiter.from_json(b\\"[1]\\")}'"));
console.log(JSON.stringify(said));
"""


def test_the_js_module_boots_from_wheels_url_over_http(node_index_server: IndexServer, node_bootstrap: Path,
                                                      tmp_path: Path) -> None:
    # The npm package's module in Node: its own wheels are file: URLs, which fetch does not
    # read (said, naming what to do); served over http as wheelsURL, it boots and installs.
    # The package's js/ as scripts/build_js.py makes it, from the bootstrap's wheels (no
    # bytecode, no JavaScript as module code: Node evaluates it).
    shutil.copy(ROOT / "js" / "index.mjs", tmp_path / "index.mjs")
    wheels = shutil.copytree(node_bootstrap, tmp_path / "wheels")
    manifest = {"manifest-version": build_js.MANIFEST_VERSION, "wheels": [build_js.entry(p) for p in wheels.iterdir()]}
    (wheels / "manifest.mjs").write_text(build_js.manifest_module(manifest, (ROOT / "js" / "bootstrap.py").read_text(), {}))
    node_index_server.mount("/npm-wheels/", wheels)
    done = subprocess.run(["node", "--input-type=module", "-e", JS_MODULE, str(tmp_path / "index.mjs"),
                           f"{RUNTIMES_DIR / f'pyodide-{DEFAULT_RUNTIME}'}/", node_index_server.index_url,
                           f"{node_index_server.url}/npm-wheels/"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    refused, works = json.loads(done.stdout.splitlines()[-1])
    assert "fetch reads no file: URL" in refused and "give that folder's URL as wheelsURL" in refused
    assert works == "26.1.0 [1]"
