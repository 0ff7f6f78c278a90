#!/usr/bin/env python3
"""Put the wheels the JS module bootstraps from into ``js/wheels/``, with a manifest.

The npm package (``package.json``, run as its ``prepack`` script) carries pyemscripten and
its dependencies as wheels so that a page can install the installer without any index:

* ``pyemscripten-*.whl``: built from this checkout (``pip wheel . --no-deps``), with its
  modules' bytecode for the runtime the project tests first (Pyodide 314: Python 3.14)
  compiled in by ``scripts/compile_pyc.mjs`` (Node and that runtime, from ``setup.sh``): a
  page imports it without compiling its sources (what an install imports: 0.40 -> 0.28 s in
  Node); other Pythons ignore it. Without Node or the runtime the build stops, unless
  ``PYEMSCRIPTEN_BUILD_WITHOUT_BYTECODE=1`` asks for a wheel without bytecode;
* ``packaging-*.whl``, ``resolvelib-*.whl``: the newest pure wheels in ``.cache/wheels``
  (``scripts/fetch_fixtures.py --set core`` puts them there);
* ``manifest.json``: name, version, file, size and sha256 of each (for people, and for
  micropip in a page the npm package did not start);
* ``manifest.mjs``: the same as a module, which ``js/index.mjs`` imports: each wheel's URL
  as ``new URL("./<file>", import.meta.url)``, the form bundlers (Vite, webpack 5, Parcel)
  recognise and copy the file for, ``js/bootstrap.py``'s text, so that nothing else has to
  be served beside the bundle, and the JavaScript pyemscripten runs as module code (a page
  whose Content Security Policy forbids ``'unsafe-eval'`` cannot evaluate it). ``js/index.mjs`` checks every wheel against its
  sha256 before installing.

Built outputs are not committed (``.gitignore``). Usage: ``scripts/build_js.py [--out DIR]``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WHEELS_CACHE = ROOT / ".cache" / "wheels"
DEPENDENCIES = ("packaging", "resolvelib")  # pyproject's dependencies, all pure Python
MANIFEST_VERSION = 1
SOURCE_DATE_EPOCH = "1704067200"  # 2024-01-01
VENV = ROOT / ".venv"


class BuildError(Exception):
    pass


def build_own_wheel(directory: Path) -> Path:
    # From a copy of the project: setuptools builds in the source tree (build/, egg-info),
    # and two builds at once in the same checkout would trip over each other.
    project = directory / "project"
    project.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, project / name)
    shutil.copytree(ROOT / "src", project / "src",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"))
    # Fixed timestamps: the same sources give the same bytes, so a rebuild while a page is
    # bootstrapping from js/wheels/ (the demo, a test) never changes a wheel under it.
    env = {**os.environ, "SOURCE_DATE_EPOCH": SOURCE_DATE_EPOCH}
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(project), "--no-deps", "--quiet",
                    "--wheel-dir", str(directory)], check=True, env=env)
    found = sorted(directory.glob("pyemscripten-*.whl"))
    if len(found) != 1:
        raise BuildError(f"pip wheel left {[p.name for p in found]} in {directory}")
    return found[0]


RUNTIME_VERSION = "314.0.7"  # tests/support/browser.py's DEFAULT_RUNTIME
RUNTIME = ROOT / ".cache" / "runtimes" / f"pyodide-{RUNTIME_VERSION}"
FETCH = f"python3 scripts/fetch_fixtures.py --set core --runtime {RUNTIME_VERSION}"  # what the build needs


def add_bytecode(wheel: Path, runtime: Path = RUNTIME) -> int:
    """Add ``__pycache__/*.pyc`` for ``wheel``'s modules, compiled by ``runtime``'s Python,
    with RECORD rows for them; returns how many (0, with a note, without Node or runtime)."""
    node = shutil.which("node")
    if node is None or not (runtime / "pyodide.mjs").is_file():
        print(f"[build_js] no bytecode in {wheel.name}: needs node and {runtime} ({FETCH})", file=sys.stderr)
        return 0
    if str(ROOT / "src") not in sys.path:  # RECORD's digest as the installer writes and checks it
        sys.path.insert(0, str(ROOT / "src"))
    from pyemscripten.wheels import record_digest

    with tempfile.TemporaryDirectory() as tmp:
        compiled = Path(tmp) / "pyc.zip"
        done = subprocess.run([node, str(ROOT / "scripts" / "compile_pyc.mjs"), str(runtime), str(wheel), str(compiled)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise BuildError(f"compiling {wheel.name}'s modules failed:\n{done.stderr.strip()[-2000:]}")
        with zipfile.ZipFile(compiled) as pyc:
            added = [(info, pyc.read(info)) for info in pyc.infolist()]
        rebuilt = Path(tmp) / wheel.name
        with zipfile.ZipFile(wheel) as old, zipfile.ZipFile(rebuilt, "w", zipfile.ZIP_DEFLATED) as new:
            record_name = next(n for n in old.namelist() if n.endswith(".dist-info/RECORD"))
            pending = list(added)  # before the .dist-info folder, which comes last (the wheel spec's advice)
            for info in old.infolist():
                if pending and ".dist-info/" in info.filename:
                    for pyc, data in pending:
                        new.writestr(pyc, data, compress_type=zipfile.ZIP_DEFLATED)
                    pending = []
                if info.filename != record_name:
                    new.writestr(info, old.read(info))
            rows = old.read(record_name).decode().rstrip("\n").split("\n")
            rows[-1:-1] = [f"{info.filename},sha256={record_digest(hashlib.sha256(data).digest())},{len(data)}"
                           for info, data in added]
            new.writestr(old.getinfo(record_name), "\n".join(rows) + "\n")
        shutil.move(rebuilt, wheel)
    return len(added)


def _version_key(path: Path) -> tuple:
    from packaging.version import InvalidVersion, Version

    try:
        return (Version(path.name.split("-")[1]),)
    except InvalidVersion:
        return ()


def dependency_wheel(project: str, wheels: Path = WHEELS_CACHE) -> Path:
    found = sorted(wheels.glob(f"{project}-*-py3-none-any.whl"), key=_version_key)
    if not found:
        raise BuildError(f"no pure wheel of {project} in {wheels}: run {FETCH}")
    return found[-1]


def check_requirements(wheel: Path) -> None:
    """Each dependency wheel must satisfy what pyproject.toml asks for."""
    from packaging.requirements import Requirement

    wanted = {Requirement(r).name: Requirement(r)
              for r in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]}
    name, version = wheel.name.split("-")[:2]
    requirement = wanted.get(name)
    if requirement is not None and not requirement.specifier.contains(version, prereleases=True):
        raise BuildError(f"{wheel.name} does not satisfy {requirement}")


def entry(path: Path) -> dict[str, object]:
    data = path.read_bytes()
    name, version = path.name.split("-")[:2]
    return {"name": name, "version": version, "file": path.name, "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest()}


def manifest_module(manifest: dict[str, object], bootstrap: str, javascript: dict[str, str]) -> str:
    """``manifest.mjs``: the manifest, each wheel's URL beside the module in the static
    ``new URL(literal, import.meta.url)`` form, the bootstrap's Python source, and
    ``javascript`` (``{digest: expression}``: what pyemscripten evaluates, as module code)."""
    lines = ["// Written by scripts/build_js.py: the wheels js/index.mjs bootstraps pyemscripten from.",
             "// Each URL is in the form bundlers copy the file for (new URL(literal, import.meta.url)).",
             f"export const manifestVersion = {json.dumps(manifest['manifest-version'])};",
             "export const wheels = ["]
    for wheel in manifest["wheels"]:  # type: ignore[attr-defined]
        fields = "".join(f"{key}: {json.dumps(value)}, " for key, value in wheel.items())
        # A getter: made only when no wheelsURL stands in for it (esbuild's iife output makes
        # import.meta an empty object, where this URL cannot be made).
        lines.append(f"  {{ {fields}get url() {{ return new URL({json.dumps('./' + wheel['file'])}, import.meta.url).href; }} }},")
    lines += ["];", f"export const bootstrapSource = {json.dumps(bootstrap)};",
              "// The JavaScript pyemscripten's Python runs, as module code (pyemscripten.browser.js_function),",
              "// by the digest of its text.",
              "export const javascript = {"]
    for key, code in javascript.items():
        lines.append(f"  {json.dumps(key)}: ({code.strip()}),")
    lines += ["};", ""]
    return "\n".join(lines)


def javascript_of(src: Path) -> dict[str, str]:
    """``pyemscripten.browser.javascript()`` of the sources in ``src`` (a child process: the
    venv's pyemscripten may be another copy)."""
    code = ("import json, sys; sys.path.insert(0, sys.argv[1]); from pyemscripten.browser import javascript; "
            "print(json.dumps(javascript()))")
    done = subprocess.run([sys.executable, "-c", code, str(src)], capture_output=True, text=True)
    if done.returncode:
        raise BuildError(f"could not read pyemscripten's JavaScript from src/: {done.stderr.strip()}")
    return json.loads(done.stdout)


#: Set to 1 to build (and npm pack) without the bytecode, where node or the runtime is missing.
WITHOUT_BYTECODE = "PYEMSCRIPTEN_BUILD_WITHOUT_BYTECODE"


def build(out: Path, bytecode: bool = True) -> dict[str, object]:
    """Build into a fresh folder beside ``out``, then swap it in (readers see one or the other).
    ``bytecode``: the pyemscripten wheel must carry its modules' bytecode (a page imports it
    without compiling it); False builds without where it cannot be made."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.name}-") as tmp:
        fresh = Path(tmp) / out.name
        fresh.mkdir()
        own = build_own_wheel(Path(tmp))
        if not add_bytecode(own) and bytecode:
            raise BuildError(f"no bytecode could be compiled for {own.name} (see above): fetch what it needs "
                             f"({FETCH}), or build without it: {WITHOUT_BYTECODE}=1 (a page then compiles "
                             "pyemscripten's modules as it imports them)")
        wheels = [shutil.copy2(own, fresh)]
        for project in DEPENDENCIES:
            source = dependency_wheel(project)
            check_requirements(source)
            wheels.append(shutil.copy2(source, fresh))
        manifest = {"manifest-version": MANIFEST_VERSION,
                    "wheels": [entry(Path(p)) for p in wheels]}
        (fresh / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        (fresh / "manifest.mjs").write_text(manifest_module(manifest, (ROOT / "js" / "bootstrap.py").read_text("utf-8"),
                                                            javascript_of(Path(tmp) / "project" / "src")))
        if out.exists():
            out.rename(Path(tmp) / "old")  # removed with tmp
        fresh.rename(out)
    return manifest


def main(argv: list[str] | None = None) -> int:
    # npm runs prepack with whatever python3 is on PATH: prefer the project's venv, which
    # has pip and packaging.
    if Path(sys.prefix).resolve() != VENV.resolve() and (VENV / "bin" / "python").is_file():
        os.execv(VENV / "bin" / "python", [str(VENV / "bin" / "python"), __file__,
                                           *(sys.argv[1:] if argv is None else argv)])
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "js" / "wheels",
                        help="where to write the wheels and their manifests (default: %(default)s)")
    args = parser.parse_args(argv)
    try:
        manifest = build(args.out, bytecode=os.environ.get(WITHOUT_BYTECODE) != "1")
    except (BuildError, subprocess.CalledProcessError) as exc:
        print(f"build_js: {exc}", file=sys.stderr)
        return 1
    for wheel in manifest["wheels"]:  # type: ignore[union-attr]
        print(f"[build_js] {wheel['file']} ({wheel['size']} bytes)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
