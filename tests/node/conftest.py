"""Fixtures for the Node tier: a real Pyodide runtime (``.cache/runtimes``) in Node.js, as
test suites run it (pytest-pyodide's "node" runtime, scripts that ``loadPyodide`` from the
``pyodide`` npm package), installing from the local index (tests/support/index_server.py).

Every test in this folder gets the ``node`` marker (deselect with ``-m "not node"``).

Fixtures:
    node_index_server   (module) the local index: ``.cache/wheels`` as ``/simple/``
    run_in_node         ``run_in_node(code, version="314.0.7") -> object``: boots the
                        runtime in a new Node process with the working tree's pyemscripten
                        on its path, runs ``code`` (top-level ``await`` allowed; ``INDEX``
                        is the local index's URL) and returns its last expression, which
                        must be JSON text, parsed. Python raising fails the test with its
                        traceback.

Example:
    def test_tag(run_in_node):
        assert run_in_node("import json, pyemscripten\\njson.dumps(str(pyemscripten.platform_tag()))") \\
            == "pyemscripten_2026_0_wasm32"
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.browser import DEFAULT_RUNTIME, RUNTIMES_DIR, WHEELS_DIR, HarnessError, bootstrap_files
from tests.support.index_server import IndexServer

HERE = Path(__file__).resolve().parent
RESULT_MARK = "\0pyemscripten-node-result "


def pytest_itemcollected(item: pytest.Item) -> None:
    if HERE in Path(item.path).resolve().parents:
        item.add_marker(pytest.mark.node)


@pytest.fixture(scope="module")
def node_index_server() -> Iterator[IndexServer]:
    with IndexServer(wheel_dirs=[WHEELS_DIR]) as server:
        yield server


@pytest.fixture(scope="module")
def node_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("node-bootstrap")
    for name, data in bootstrap_files().items():
        (folder / name).write_bytes(data)
    return folder


@pytest.fixture
def run_in_node(node_index_server: IndexServer, node_bootstrap: Path, tmp_path: Path) -> Callable[..., Any]:
    node = shutil.which("node")
    if node is None:
        raise HarnessError("no node on PATH: the Node tier needs Node.js 20 or later")

    def run(code: str, version: str = DEFAULT_RUNTIME, timeout: float = 60.0) -> Any:
        runtime = RUNTIMES_DIR / f"pyodide-{version}"
        if not (runtime / "pyodide.mjs").is_file():
            raise HarnessError(f"Pyodide {version} is not unpacked in {RUNTIMES_DIR}: run scripts/fetch_fixtures.py")
        source = tmp_path / "test_code.py"
        source.write_text(f"INDEX = {node_index_server.index_url!r}\n{code}")
        done = subprocess.run([node, str(HERE / "run_pyodide.mjs"), str(runtime), str(node_bootstrap), str(source)],
                              capture_output=True, text=True, timeout=timeout)
        head, mark, result = done.stdout.rpartition(RESULT_MARK)
        if done.returncode != 0 or not mark:
            raise AssertionError(f"Python in Node (Pyodide {version}) failed, exit {done.returncode}:\n"
                                 f"{done.stderr[-4000:]}\n--- stdout ---\n{head[-2000:]}")
        return json.loads(result)

    return run
