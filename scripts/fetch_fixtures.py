#!/usr/bin/env python3
"""Fetch what the browser tests, the demo and the benchmark serve locally.

* Pyodide runtimes from npm (``npm pack pyodide@V``) into ``.cache/runtimes/``, each
  unpacked to ``.cache/runtimes/pyodide-V/`` (the tarball's ``package/`` folder).
* Real wheels from PyPI into ``.cache/wheels/`` (``pip download`` for the
  ``pyemscripten_2026_0_wasm32`` platform, Python 3.14), with their dependencies; and
  other projects' builds for the other runtimes' platforms into ``.cache/wheels-<platform>/``.
* Vite, esbuild, webpack and TypeScript from npm into ``.cache/bundler/`` (``npm ci`` of
  ``tests/support/bundler``), with which the web-app tests bundle (and type-check) an app
  that imports the npm package.

Idempotent: a runtime already unpacked and a wheel group already fetched (recorded in a
stamp file naming its requirements) are skipped, so a second run needs no network.

    scripts/fetch_fixtures.py                 # everything (~60 MB once)
    scripts/fetch_fixtures.py --set core      # only what the browser bootstrap needs
    scripts/fetch_fixtures.py --set bench --force
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache"
RUNTIMES_DIR = CACHE / "runtimes"
WHEELS_DIR = CACHE / "wheels"

BUNDLER_DIR = CACHE / "bundler"
# Its package.json and package-lock.json pin Vite, esbuild, webpack and TypeScript.
BUNDLER_SOURCE = ROOT / "tests" / "support" / "bundler"

RUNTIME_VERSIONS = ("314.0.7", "0.27.7", "0.27.8", "0.29.5", "314.0.8", "315.0.0-alpha.2")

# "core": what the browser bootstrap installs (pure wheels) and the anchor installer.
# "bench": real packages, pure and binary, for end-to-end tests and the benchmark.
WHEEL_SETS: dict[str, tuple[str, ...]] = {
    "core": ("packaging", "resolvelib", "micropip==0.11.1"),
    "bench": (
        "pydantic", "rich", "requests", "jiter", "luau-wasm", "grill-usd-core", "typer",
        "sympy", "networkx", "python-dateutil", "attrs", "click",
    ),
}
# "real": real browser wheels the tests install for what they are (not timed): mypy's 233
# compiled libraries and librt's define the same symbols (browser_loader, point 11).
WHEEL_SETS["real"] = ("mypy==2.4.1",)
# Other projects' published browser builds (tests/browser/test_published_wheels.py), each
# runtime's from PyPI for its own platform, without dependencies (they have none). The
# 2026_0 ones join .cache/wheels; the other platforms' go to .cache/wheels-<platform>, so
# that the benchmark's index stays as it was.
PUBLISHED = ("msgpack==1.2.4", "bitarray==3.12.3", "xxhash==4.1.0", "simplejson==4.3.0", "cramjam==2.14.0",
             "uuid-utils==1.2.0", "cbor2==6.3.0", "pybase64==1.5.1", "css-inline==0.24.0", "python-flint==0.9.0",
             "apsw==3.54.1.0", "msgspec==0.23.0", "arro3-core==0.9.1", "nanoarrow==0.9.0")
WHEEL_SETS["published"] = PUBLISHED
WHEEL_SETS["all"] = WHEEL_SETS["core"] + WHEEL_SETS["bench"] + WHEEL_SETS["real"] + WHEEL_SETS["published"]
OTHER_PLATFORMS: dict[str, tuple[str, str, tuple[str, ...]]] = {  # platform: (Python, ABI, requirements)
    "pyemscripten_2024_0_wasm32": ("3.12", "cp312", ("xxhash==4.1.0",)),
    "pyemscripten_2025_0_wasm32": ("3.13", "cp313", (
        "msgpack==1.2.4", "bitarray==3.12.3", "xxhash==4.1.0", "simplejson==4.3.0", "cramjam==2.14.0",
        "uuid-utils==1.2.0", "pybase64==1.5.1", "css-inline==0.24.0", "charset-normalizer==3.5.3")),
    "pyemscripten_2026_5_wasm32": ("3.15", "cp315", (
        "msgpack==1.2.4", "bitarray==3.12.3", "xxhash==4.1.0", "simplejson==4.3.0", "pybase64==1.5.1")),
}

PIP_TARGET = (
    "--only-binary=:all:",
    "--platform", "pyemscripten_2026_0_wasm32",
    "--python-version", "3.14",
    "--implementation", "cp",
    "--abi", "cp314",
)


def say(message: str) -> None:
    print(f"[fixtures] {message}", flush=True)


def runtime_dir(version: str) -> Path:
    return RUNTIMES_DIR / f"pyodide-{version}"


def fetch_runtime(version: str, force: bool) -> None:
    """Make sure ``pyodide-V.tgz`` exists and is unpacked into ``pyodide-V/``."""
    target = runtime_dir(version)
    tarball = RUNTIMES_DIR / f"pyodide-{version}.tgz"
    if target.joinpath("pyodide.mjs").is_file() and not force:
        say(f"runtime {version}: present")
        return
    RUNTIMES_DIR.mkdir(parents=True, exist_ok=True)
    if not tarball.is_file() or force:
        say(f"runtime {version}: npm pack pyodide@{version}")
        subprocess.run(
            ["npm", "pack", f"pyodide@{version}", "--pack-destination", str(RUNTIMES_DIR),
             "--silent"],
            check=True, stdout=subprocess.DEVNULL,
        )
    say(f"runtime {version}: unpacking")
    _unpack_package(tarball, target)


def _unpack_package(tarball: Path, target: Path) -> None:
    # Unpack beside the target, then rename: an interrupted run never leaves a half
    # folder that the "present" check above would accept.
    with tempfile.TemporaryDirectory(dir=RUNTIMES_DIR) as tmp:
        with tarfile.open(tarball) as tar:
            members = [m for m in tar.getmembers() if m.name.startswith("package/")]
            tar.extractall(tmp, members=members, filter="data")
        if target.exists():
            shutil.rmtree(target)
        Path(tmp, "package").rename(target)


def vite_bin() -> Path:
    return BUNDLER_DIR / "node_modules" / ".bin" / "vite"


def esbuild_bin() -> Path:
    return BUNDLER_DIR / "node_modules" / ".bin" / "esbuild"


def tsc_bin() -> Path:
    return BUNDLER_DIR / "node_modules" / ".bin" / "tsc"


def webpack_module() -> Path:
    """webpack's Node API (the tests build with it; no webpack-cli)."""
    return BUNDLER_DIR / "node_modules" / "webpack" / "lib" / "index.js"


def node_too_old() -> str | None:
    """Why this machine's Node cannot run Vite 8 (it needs 20.19 or newer), or None."""
    try:
        said = subprocess.run(["node", "--version"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "no node on PATH"
    major, minor = (int(part) for part in said.lstrip("v").split(".")[:2])
    vite = json.loads((BUNDLER_SOURCE / "package.json").read_text())["devDependencies"]["vite"]
    return None if (major, minor) >= (20, 19) else f"Vite {vite} needs Node 20.19 or newer; this is {said}"


def fetch_bundler(force: bool) -> None:
    """Install Vite, esbuild, webpack and TypeScript as ``tests/support/bundler``'s
    package-lock.json says, in
    ``.cache/bundler`` (``npm ci``); a stamp of that lock marks an install that finished."""
    lock = (BUNDLER_SOURCE / "package-lock.json").read_bytes()
    stamp = BUNDLER_DIR / ".installed"
    if stamp.is_file() and stamp.read_bytes() == lock and vite_bin().exists() and not force:
        say("bundlers: present")
        return
    why = node_too_old()
    if why:
        say(f"bundlers: not installed ({why}); the tests that bundle an app will say so")
        return
    BUNDLER_DIR.mkdir(parents=True, exist_ok=True)
    stamp.unlink(missing_ok=True)
    for name in ("package.json", "package-lock.json"):
        shutil.copyfile(BUNDLER_SOURCE / name, BUNDLER_DIR / name)
    say("bundlers: npm ci (Vite, esbuild, webpack, TypeScript)")
    done = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=BUNDLER_DIR, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"[fixtures] npm ci in {BUNDLER_DIR} failed:\n{done.stdout}{done.stderr}")
    stamp.write_bytes(lock)


def _pip_download(label: str, folder: Path, stamp: Path, names: tuple[str, ...], options: tuple[str, ...],
                  force: bool) -> bool:
    """``pip download`` ``names`` into ``folder`` unless ``stamp`` says they are there already;
    True when it fetched."""
    wanted = "\n".join(sorted(names)) + "\n"
    if stamp.is_file() and stamp.read_text() == wanted and not force:
        say(f"wheels [{label}]: present")
        return False
    folder.mkdir(parents=True, exist_ok=True)
    say(f"wheels [{label}]: pip download {' '.join(names)}")
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check", *options, "-d", str(folder),
         *names],
        check=True,
    )
    stamp.write_text(wanted)
    return True


def fetch_wheels(group: str, force: bool) -> None:
    """``pip download`` one group of requirements (with dependencies) into ``.cache/wheels``."""
    if _pip_download(group, WHEELS_DIR, WHEELS_DIR / f".fetched-{group}", WHEEL_SETS[group], PIP_TARGET, force):
        count = len(list(WHEELS_DIR.glob("*.whl")))
        say(f"wheels [{group}]: done ({count} wheels in {WHEELS_DIR.relative_to(ROOT)})")


def other_platform_dir(platform: str) -> Path:
    return CACHE / f"wheels-{platform}"


def fetch_other_platform(platform: str, force: bool) -> None:
    """``pip download`` the published wheels of another runtime's platform (no dependencies,
    browser builds only) into :func:`other_platform_dir`."""
    python, abi, names = OTHER_PLATFORMS[platform]
    folder = other_platform_dir(platform)
    _pip_download(platform, folder, folder / ".fetched", names,
                  ("--no-deps", "--only-binary=:all:", "--platform", platform, "--python-version", python,
                   "--implementation", "cp", "--abi", abi, "--abi", "abi3"), force)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", dest="group", choices=sorted(WHEEL_SETS), default="all",
                        help="which wheels to download (default: all)")
    parser.add_argument("--no-runtimes", action="store_true", help="skip the Pyodide runtimes")
    parser.add_argument("--runtime", action="append", choices=RUNTIME_VERSIONS, metavar="VERSION",
                        help=f"fetch only this runtime (repeatable; default: all of {', '.join(RUNTIME_VERSIONS)})")
    parser.add_argument("--no-wheels", action="store_true", help="skip the PyPI wheels")
    parser.add_argument("--no-bundler", action="store_true",
                        help="skip Vite, esbuild, webpack and TypeScript (for the web-app tests)")
    parser.add_argument("--force", action="store_true", help="fetch again even if present")
    args = parser.parse_args(argv)

    if not args.no_runtimes:
        for version in args.runtime or RUNTIME_VERSIONS:
            fetch_runtime(version, args.force)
    if not args.no_bundler and args.group == "all":
        fetch_bundler(args.force)
    if not args.no_wheels:
        groups = ("core", "bench", "real", "published") if args.group == "all" else (args.group,)
        for group in groups:
            fetch_wheels(group, args.force)
        if args.group in ("all", "published"):
            for platform in OTHER_PLATFORMS:
                fetch_other_platform(platform, args.force)
    return 0


if __name__ == "__main__":
    sys.exit(main())
