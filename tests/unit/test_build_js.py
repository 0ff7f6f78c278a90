"""scripts/build_js.py's bytecode step: a wheel gains checked-hash pycs, listed in RECORD."""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import shutil
import zipfile
from pathlib import Path

import pytest

from tests.support.wheels import make_wheel

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("build_js", ROOT / "scripts" / "build_js.py")
assert spec and spec.loader
build_js = importlib.util.module_from_spec(spec)
spec.loader.exec_module(build_js)

needs_runtime = pytest.mark.skipif(shutil.which("node") is None or not (build_js.RUNTIME / "pyodide.mjs").is_file(),
                                   reason="needs node and the Pyodide runtime (scripts/setup.sh)")


@needs_runtime
def test_a_wheel_gains_its_bytecode_before_its_dist_info(tmp_path: Path) -> None:
    path = tmp_path / "demo-1.0-py3-none-any.whl"
    path.write_bytes(make_wheel("demo", "1.0", {"demo/__init__.py": b"X = 1\n", "demo/sub/m.py": b"Y = 2\n"}))
    assert build_js.add_bytecode(path) == 2
    with zipfile.ZipFile(path) as wheel:
        names = wheel.namelist()
        record = wheel.read("demo-1.0.dist-info/RECORD").decode().splitlines()
        pyc = wheel.read("demo/__pycache__/__init__.cpython-314.pyc")
    assert names.index("demo/sub/__pycache__/m.cpython-314.pyc") < min(i for i, n in enumerate(names) if ".dist-info/" in n)
    assert names[-1] == "demo-1.0.dist-info/RECORD" and record[-1] == "demo-1.0.dist-info/RECORD,,"
    digest = base64.urlsafe_b64encode(hashlib.sha256(pyc).digest()).rstrip(b"=").decode()
    assert f"demo/__pycache__/__init__.cpython-314.pyc,sha256={digest},{len(pyc)}" in record
    assert int.from_bytes(pyc[4:8], "little") == 3  # PEP 552: checked against the source's hash


@needs_runtime
def test_a_source_that_does_not_compile_fails_the_build_saying_why(tmp_path: Path) -> None:
    path = tmp_path / "demo-1.0-py3-none-any.whl"
    path.write_bytes(make_wheel("demo", "1.0", {"demo/__init__.py": b"def f(:\n"}))
    with pytest.raises(build_js.BuildError, match="SyntaxError"):
        build_js.add_bytecode(path)


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node")
def test_the_manifest_module_names_each_wheel_in_the_form_bundlers_copy(tmp_path: Path) -> None:
    import json
    import subprocess

    manifest = {"manifest-version": 1, "wheels": [
        {"name": "demo", "version": "1.0", "file": "demo-1.0-py3-none-any.whl", "size": 3, "sha256": "ab" * 32}]}
    source = 'print("\\u2028 \'quoted\' \\\\ </script>")\n'
    text = build_js.manifest_module(manifest, source, {"k1": "(a, b) => a + b", "k2": "\n  new Set()\n"})
    # The static form (a literal beside import.meta.url) is what Vite and webpack look for.
    assert 'new URL("./demo-1.0-py3-none-any.whl", import.meta.url)' in text
    (tmp_path / "manifest.mjs").write_text(text)
    read = subprocess.run(["node", "--input-type=module", "-e",
                           f"const m = await import({json.dumps((tmp_path / 'manifest.mjs').as_uri())});"
                           "console.log(JSON.stringify({...m, wheels: m.wheels.map((w) => ({...w, url: w.url})),"
                           " javascript: [m.javascript.k1(2, 3), m.javascript.k2 instanceof Set]}))"],
                          capture_output=True, text=True, check=True)
    module = json.loads(read.stdout)
    assert module["manifestVersion"] == 1 and module["bootstrapSource"] == source
    assert module["javascript"] == [5, True]  # module code, evaluated where the module loads
    (wheel,) = module["wheels"]
    assert wheel["url"] == (tmp_path / "demo-1.0-py3-none-any.whl").as_uri()
    assert {k: v for k, v in wheel.items() if k != "url"} == manifest["wheels"][0]


def test_every_piece_of_javascript_pyemscripten_evaluates_goes_through_js_function() -> None:
    """A page whose Content Security Policy forbids 'unsafe-eval' runs only the JavaScript the
    npm package brings as module code (browser.javascript()); text evaluated anywhere else
    would fail there."""
    import re

    from pyemscripten import browser

    import importlib

    sources = {path.stem: path.read_text() for path in (ROOT / "src" / "pyemscripten").glob("*.py")}
    calls = {name: re.findall(r"\brun_js\(", text) for name, text in sources.items()}
    assert {name: len(found) for name, found in calls.items() if found} == {"browser": 1}  # js_function's
    # ... and js_function is handed only the pieces javascript() lists (what build_js writes).
    pieces = set(browser.javascript().values())
    handed = [(name, argument) for name, text in sources.items()
              for argument in re.findall(r"\b(?:js_function|_run_js)\(([^)]*)\)", text)]
    assert len(handed) >= 5, handed
    for name, argument in handed:
        if argument == "code" or argument.startswith("code:"):  # the wrappers: their own parameter
            continue
        module = importlib.import_module(f"pyemscripten.{name}")
        assert getattr(module, argument, None) in pieces, (name, argument)


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node")
def test_the_javascript_parses_as_module_code(tmp_path: Path) -> None:
    import subprocess

    from pyemscripten import browser

    text = build_js.manifest_module({"manifest-version": 1, "wheels": []}, "", browser.javascript())
    (tmp_path / "manifest.mjs").write_text(text)
    subprocess.run(["node", "--check", str(tmp_path / "manifest.mjs")], check=True, capture_output=True)


def test_a_build_without_bytecode_is_refused_unless_asked_for(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # npm pack on a machine without node or the runtime would ship a wheel that every page
    # compiles as it imports it: refused, saying how to get either.
    monkeypatch.setattr(build_js, "add_bytecode", lambda wheel: 0)
    with pytest.raises(build_js.BuildError, match="PYEMSCRIPTEN_BUILD_WITHOUT_BYTECODE=1"):
        build_js.build(tmp_path / "wheels")
    assert not (tmp_path / "wheels").exists()
    manifest = build_js.build(tmp_path / "wheels", bytecode=False)
    assert [w["file"].split("-")[0] for w in manifest["wheels"]] == ["pyemscripten", "packaging", "resolvelib"]
