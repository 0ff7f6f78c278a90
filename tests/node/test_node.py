"""pyemscripten in Node's Pyodide (314.0.7): the Python API installs pure and binary wheels
from an http index, with no Cache Storage and a runtime that names its files by path."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any


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
