"""An in-memory simple index behind the Transport seam, for native tests of the core.

Projects are given as data: ``{"name": {"1.0": {"requires": [...], "tag": "py3-none-any",
"requires_python": ">=3.8", "yanked": "reason", "metadata_file": true}}}``; with ``"tags"``,
``"yanked_tags": {"tag": "reason"}`` yanks one file of a version; ``"requires_python_in_index":
false`` leaves Requires-Python to METADATA only.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
import json
from collections.abc import Mapping
from typing import Any

from packaging.utils import canonicalize_name

from pyemscripten.errors import NetworkError
from pyemscripten.seams import BodyPieces, ByteProgress, Response, Transport

BASE = "https://index.test/simple/"


def metadata_text(name: str, version: str, spec: Mapping[str, Any]) -> bytes:
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    if spec.get("requires_python"):
        lines.append(f"Requires-Python: {spec['requires_python']}")
    for extra in spec.get("extras", []):
        lines.append(f"Provides-Extra: {extra}")
    lines += [f"Requires-Dist: {r}" for r in spec.get("requires", [])]
    return ("\n".join(lines) + "\n\n").encode()


def _tiny_wheel(name: str, version: str, meta: bytes) -> bytes:
    """A zip holding only METADATA: enough for metadata reading, not for installing."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(f"{name.replace('-', '_')}-{version}.dist-info/METADATA", meta)
    return buffer.getvalue()


class FakeIndex(Transport):
    """Serves project pages, .metadata files and (fake) wheel bodies from memory."""

    def __init__(self, projects: Mapping[str, Mapping[str, Mapping[str, Any]]], base: str = BASE) -> None:
        self.base = base
        self.routes: dict[str, Response] = {}
        self.requests: list[str] = []
        self.failures: dict[str, list[Any]] = {}
        for name, versions in projects.items():
            self.add_project(name, versions)

    def add_project(self, name: str, versions: Mapping[str, Mapping[str, Any]]) -> None:
        norm = canonicalize_name(name)
        files = []
        for version, spec in versions.items():
            tags = spec.get("tags", [spec.get("tag", "py3-none-any")])
            for tag in tags:
                filename = f"{norm.replace('-', '_')}-{version}-{tag}.whl"
                meta = metadata_text(name, version, spec)
                body = spec.get("body") or _tiny_wheel(norm, version, meta)
                url = f"{self.base}../files/{filename}"
                entry: dict[str, Any] = {
                    "filename": filename,
                    "url": f"../../files/{filename}",
                    "hashes": {"sha256": hashlib.sha256(body).hexdigest()} if spec.get("hashed", True) else {},
                    "size": len(body),
                }
                if spec.get("requires_python") and spec.get("requires_python_in_index", True):
                    entry["requires-python"] = spec["requires_python"]
                if "yanked" in spec:
                    entry["yanked"] = spec["yanked"]
                elif tag in spec.get("yanked_tags", ()):  # this file only
                    entry["yanked"] = spec["yanked_tags"][tag]
                if spec.get("metadata_file", True):
                    entry["core-metadata"] = {"sha256": hashlib.sha256(meta).hexdigest()}
                files.append(entry)
                file_url = self.base.rstrip("/").rsplit("/", 1)[0] + f"/files/{filename}"
                self.routes[file_url] = Response(file_url, 200, body, {"content-type": "application/octet-stream"})
                self.routes[file_url + ".metadata"] = Response(file_url + ".metadata", 200, meta, {})
        page = {"meta": {"api-version": "1.1"}, "name": norm, "files": files}
        url = f"{self.base}{norm}/"
        self.routes[url] = Response(url, 200, json.dumps(page).encode(), {"content-type": "application/vnd.pypi.simple.v1+json"})

    def fail(self, url: str, *outcomes: Any) -> None:
        """Answer ``url`` with these outcomes first (an int status, or "reset")."""
        self.failures[url] = list(outcomes)

    # Bodies are handed to ``on_data`` in pieces of this size, as a streaming transport does.
    piece_size = 1000

    async def get(self, url: str, headers: Mapping[str, str] | None = None, on_progress: ByteProgress | None = None,
                  on_data: BodyPieces | None = None) -> Response:
        self.requests.append(url)
        queued = self.failures.get(url)
        if queued:
            outcome = queued.pop(0)
            if outcome == "reset":
                raise NetworkError(url, "connection reset")
            return Response(url, int(outcome), b"error", {})
        if url in self.routes:
            response = self.routes[url]
            for start in range(0, len(response.body), self.piece_size) if on_data else ():
                on_data(start, response.body[start:start + self.piece_size])
            return response
        return Response(url, 404, b"not found", {})


async def no_sleep(_: float) -> None:
    """A ``sleep`` for retry loops that does not wait (``backoff`` is irrelevant here)."""
