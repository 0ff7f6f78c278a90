"""A synthetic PEP 691 project page shaped like pydantic-core's: 15,000 files, ~7 MB.

Many versions, each with wheels for many platforms (most of them not for the browser),
every entry with the fields PyPI writes: absolute URL, sha256, requires-python, size,
upload time, core-metadata. Used to check that parsing a big page stays well under the time
it takes to fetch it.
"""

from __future__ import annotations

import hashlib
import json
import time

PLATFORMS = (
    "manylinux_2_17_x86_64.manylinux2014_x86_64", "manylinux_2_17_aarch64.manylinux2014_aarch64",
    "manylinux_2_17_armv7l.manylinux2014_armv7l", "manylinux_2_17_ppc64le.manylinux2014_ppc64le",
    "manylinux_2_17_s390x.manylinux2014_s390x", "manylinux_2_5_i686.manylinux1_i686",
    "musllinux_1_1_x86_64", "musllinux_1_1_aarch64", "musllinux_1_1_armv7l", "musllinux_1_1_i686",
    "macosx_10_12_x86_64", "macosx_11_0_arm64", "win_amd64", "win32", "win_arm64",
)
PYTHONS = ("cp39", "cp310", "cp311", "cp312", "cp313", "cp313t", "cp314", "cp314t", "pp310")


def synthetic_page(files: int = 15_000, project: str = "big") -> bytes:
    """The JSON body of a project page with ``files`` wheels (some for pyemscripten_2026_0)."""
    entries = []
    version = 0
    while len(entries) < files:
        version += 1
        tag_version = f"2.{version // 40}.{version % 40}"
        wheels = [f"{py}-{py}-{plat}" for py in PYTHONS for plat in PLATFORMS]
        if version % 3 == 0:
            wheels.append("cp314-cp314-pyemscripten_2026_0_wasm32")
        for tags in wheels:
            if len(entries) == files:
                break
            name = f"{project}-{tag_version}-{tags}.whl"
            digest = hashlib.sha256(name.encode()).hexdigest()
            entries.append({
                "filename": name,
                "url": f"https://files.example.org/packages/{digest[:2]}/{digest[2:4]}/{digest[4:]}/{name}",
                "hashes": {"sha256": digest},
                "requires-python": ">=3.9",
                "yanked": False,
                "size": 1_800_000 + len(entries),
                "upload-time": "2026-10-01T12:00:00.000000Z",
                "core-metadata": {"sha256": digest[::-1]},
                "data-dist-info-metadata": {"sha256": digest[::-1]},
            })
    versions = sorted({e["filename"].split("-")[1] for e in entries})
    body = {"meta": {"api-version": "1.1"}, "name": project, "files": entries, "versions": versions}
    return json.dumps(body).encode()


def native_parse_times(body: bytes, reps: int = 5) -> dict[str, float]:
    """Best-of-``reps`` seconds to parse the page and to list its versions for the browser."""
    from pyemscripten.index_pages import parse_project_page
    from pyemscripten.target import Target

    target = Target.for_platform("pyemscripten_2026_0_wasm32", "3.14")
    parse: list[float] = []
    both: list[float] = []
    for _ in range(reps):
        started = time.perf_counter()
        page = parse_project_page(body, "https://example.org/simple/big/", "application/vnd.pypi.simple.v1+json", "big")
        parse.append(time.perf_counter() - started)
        versions = _versions(target, page)
        both.append(time.perf_counter() - started)
    return {"parse": min(parse), "parse_and_versions": min(both), "files": len(page.files),
            "versions": len(versions), "bytes": len(body)}


def _versions(target: object, page: object) -> list:
    from pyemscripten.candidates import Finder, KnownData, ResolveOptions

    finder = Finder(target, KnownData(pages={"big": page}), {}, ResolveOptions())  # type: ignore[arg-type]
    return finder.versions("big")
