"""pyemscripten in Node's Pyodide (314.0.7): the Python API installs pure and binary wheels
from an http index, with no Cache Storage and a runtime that names its files by path."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import shutil
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pyemscripten.index_writer import write_index
from tests.support.browser import DEFAULT_RUNTIME, ROOT, RUNTIMES_DIR, WHEELS_DIR
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
    # No Cache Storage: no cache, and not a word about it. The runtime's lock, which its
    # config names by path, as the file: URL Node reads.
    assert out["cache"] == "None" and out["warnings"] == []
    assert out["distribution"] == (RUNTIMES_DIR / f"pyodide-{DEFAULT_RUNTIME}" / "pyodide-lock.json").as_uri()
    kind, message = out["error"]
    assert kind == "ProjectNotFoundError" and "/simple/no-such-project/" in message


def test_a_file_index_lock_and_distribution(run_in_node: Callable[..., Any], tmp_path: Path) -> None:
    # Node's fetch reads no file: URL: Node's file system does, as a static server answers.
    # An index as `python -m pyemscripten index` writes it (pages as index.html in folders),
    # one of its wheels gone; a lock beside it naming a wheel by its path.
    wheels = [WHEELS_DIR / f"{name}-py3-none-any.whl" for name in ("attrs-26.1.0", "mdurl-0.1.2", "idna-3.21")]
    index = write_index(wheels, tmp_path / "simple")
    gone = next(index.folder.rglob("idna-*.whl"))
    gone.unlink()
    mdurl = hashlib.sha256(wheels[1].read_bytes()).hexdigest()
    (tmp_path / "pylock.toml").write_text(
        f'lock-version = "1.0"\ncreated-by = "test"\n[[packages]]\nname = "mdurl"\nversion = "0.1.2"\n'
        f'[[packages.wheels]]\npath = "simple/mdurl/{wheels[1].name}"\nhashes = {{sha256 = "{mdurl}"}}\n')
    out = run_in_node(f"""
import json, pyemscripten
FILES = {index.folder.as_uri() + "/"!r}
locked = await pyemscripten.install_lock({(tmp_path / "pylock.toml").as_uri()!r}, quiet=True)
report = await pyemscripten.install("attrs", index_urls=[FILES], quiet=True)
import attrs, mdurl
errors = []
for names in (["idna"], ["no-such-project"], ["numpy"]):
    try:
        await pyemscripten.install(names, index_urls=[FILES], quiet=True)
    except pyemscripten.PyemscriptenError as exc:
        errors.append([type(exc).__name__, str(exc)])
json.dumps({{"installed": [list(p) for p in locked.installed + report.installed], "errors": errors}})
""")
    assert out["installed"] == [["mdurl", "0.1.2"], ["attrs", "26.1.0"]]
    (missing, said), (unknown, said_unknown), (runtime, said_runtime) = out["errors"]
    # A missing file is what a 404 of its URL is, naming it.
    assert missing == "IndexHTTPError" and f"HTTP 404 for 'idna' fetching the wheel {gone.as_uri()}" in said
    assert unknown == "ProjectNotFoundError" and f"{index.folder.as_uri()}/no-such-project/" in said_unknown
    # The runtime's own lock, by path in its config, is read; the npm package holds none of
    # its wheels: numpy is not there, said so.
    lock = (RUNTIMES_DIR / f"pyodide-{DEFAULT_RUNTIME}" / "pyodide-lock.json").as_uri()
    assert runtime == "DistributionFileError" and f"runtime's distribution ({lock})" in said_runtime


def test_a_wheel_named_by_its_file_url(run_in_node: Callable[..., Any], tmp_path: Path) -> None:
    # "name @ file:///..." is the user's own words (no page's link): Node reads that file, and
    # the wheel is installed as one named by its http(s) URL is, with its direct_url.json.
    wheel = tmp_path / "built" / "mdurl-0.1.2-py3-none-any.whl"
    wheel.parent.mkdir()
    shutil.copy(WHEELS_DIR / wheel.name, wheel)
    url = f"{wheel.as_uri()}#sha256={hashlib.sha256(wheel.read_bytes()).hexdigest()}"
    out = run_in_node(f"""
import json, pyemscripten, importlib.metadata
report = await pyemscripten.install([{"mdurl @ " + url!r}], index_urls=[INDEX], quiet=True)
import mdurl
json.dumps({{"installed": [list(p) for p in report.installed],
            "origin": json.loads(importlib.metadata.distribution("mdurl").read_text("direct_url.json"))["url"]}})
""")
    assert out == {"installed": [["mdurl", "0.1.2"]], "origin": wheel.as_uri()}


def test_a_file_url_no_file_can_have_is_a_404(run_in_node: Callable[..., Any], tmp_path: Path) -> None:
    # A NUL in the path (%00) names no file, as natively (UrllibTransport): a 404, not a read
    # failure told as a network error and tried again.
    url = (tmp_path / "a").as_uri() + "%00b-1.0-py3-none-any.whl"
    out = run_in_node(f"""
import json
from pyemscripten.browser import FetchTransport
json.dumps((await FetchTransport().get({url!r})).status)
""")
    assert out == 404


def test_a_refused_connection_says_why(run_in_node: Callable[..., Any]) -> None:
    # Node's fetch rejects with "fetch failed" and puts why in the error's cause. (With the
    # runtime's distribution, a project the index failed for would come from there.)
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    out = run_in_node(f"""
import json, pyemscripten
from pyemscripten.api import Session
from pyemscripten.index_client import RetryPolicy
try:
    await pyemscripten.install("attrs", index_urls=["http://127.0.0.1:{port}/simple/"], quiet=True,
                               session=Session(retry=RetryPolicy(attempts=1), distribution_url=""))
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
// The module's own wheels, beside it: file: URLs, which Node's file system reads.
const own = await loadPyodideWithPackages({ indexURL: runtime, requirements: ["attrs"], indexUrls: [index] });
said.push(own.runPython("import attrs; attrs.__version__"));
const pyodide = await loadPyodideWithPackages({ indexURL: runtime, requirements: ["attrs", "jiter"],
                                                indexUrls: [index], wheelsURL });
said.push(pyodide.runPython("import attrs, jiter; f'{attrs.__version__} {jiter.from_json(b\\"[1]\\")}'"));
console.log(JSON.stringify(said));
"""


def test_the_js_module_boots_from_its_own_files_and_from_wheels_url(node_index_server: IndexServer,
                                                                    node_bootstrap: Path, tmp_path: Path) -> None:
    # The npm package's module in Node: its own wheels are file: URLs, which Node's fetch does
    # not read and its file system does; served over http as wheelsURL, it boots too.
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
    beside, served = json.loads(done.stdout.splitlines()[-1])
    assert beside == "26.1.0" and served == "26.1.0 [1]"
