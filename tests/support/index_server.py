"""A real package index on 127.0.0.1 for tests, with fault injection.

    with IndexServer(wheel_dirs=[".cache/wheels"]) as server:
        server.index_url                      # http://127.0.0.1:PORT/simple/
        other = server.add_index("second")    # http://127.0.0.1:PORT/index/second/simple/
        other.add_wheel(make_wheel("demo", "1.0"), yanked="broken build")
        server.add_fault(suffix=".whl", status=503, times=2)
        ...
        assert server.count("/files/demo-1.0-py3-none-any.whl") == 3

Layout (every index has the same shape under its own prefix; the default one has none):

    {prefix}/simple/                  project list (PEP 691 JSON or PEP 503 HTML)
    {prefix}/simple/<normalized>/     project page; file URLs are relative: ../../files/<f>
    {prefix}/files/<filename>         the file
    {prefix}/files/<filename>.metadata  its METADATA (PEP 658/714), when advertised
    /runtimes/<version>/...           .cache/runtimes/pyodide-<version>/
    /page.html                        an empty page to boot Pyodide in
    other mounts                      server.mount("/bootstrap/", folder_or_dict)
                                      (a directory URL serves its index.html; a mount's
                                      prefix without its slash redirects to it)

Every response carries ``Access-Control-Allow-Origin: *`` and ``Cache-Control: no-store``.
"""

from __future__ import annotations

import hashlib
import html
import json
import mimetypes
import re
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from email.parser import BytesHeaderParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

from .wheels import read_metadata

__all__ = ["IndexServer", "Index", "FaultRule", "normalize", "PAGE_HTML", "JSON_TYPE"]

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_RUNTIMES = ROOT / ".cache" / "runtimes"

JSON_TYPE = "application/vnd.pypi.simple.v1+json"
HTML_V1_TYPE = "application/vnd.pypi.simple.v1+html"
PAGE_HTML = (b"<!doctype html>\n<html><head><meta charset='utf-8'><title>pyemscripten tests"
             b"</title></head><body></body></html>\n")

_TYPES = {
    ".mjs": "text/javascript", ".js": "text/javascript", ".wasm": "application/wasm",
    ".json": "application/json", ".map": "application/json", ".html": "text/html",
    ".zip": "application/zip", ".whl": "application/octet-stream",
    ".metadata": "application/octet-stream", ".tar": "application/x-tar",
    ".gz": "application/gzip", ".txt": "text/plain", ".so": "application/octet-stream",
}


def normalize(name: str) -> str:
    """PEP 503 project name normalization."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _project_of(filename: str) -> str:
    # Wheels: name is the first dash-separated part; sdists: everything before the last dash.
    stem = filename[:-4] if filename.endswith(".whl") else re.sub(r"\.(tar\.gz|zip|tar)$", "",
                                                                    filename)
    name = stem.split("-")[0] if filename.endswith(".whl") else stem.rsplit("-", 1)[0]
    return normalize(name)


@dataclass
class _File:
    """One file an index lists, with what its page says about it."""

    filename: str
    data: bytes | None = None  # synthetic files keep their bytes; folder files are read lazily
    path: Path | None = None
    yanked: bool | str = False
    requires_python: str | None = None
    metadata: bytes | None = None
    sha256: str = ""
    size: int = 0
    upload_time: str | None = None
    hashes: bool | None = None  # per-file override of the index option
    core_metadata: bool | None = None

    def body(self) -> bytes:
        if self.data is not None:
            return self.data
        assert self.path is not None
        return self.path.read_bytes()


def _describe(filename: str, data: bytes) -> tuple[str, int, bytes | None, str | None]:
    metadata = read_metadata(data, filename) if filename.endswith(".whl") else None
    requires_python = None
    if metadata is not None:
        try:
            requires_python = BytesHeaderParser().parsebytes(metadata).get("Requires-Python")
        except Exception:  # unparseable METADATA is a test input, not a server error
            requires_python = None
    return hashlib.sha256(data).hexdigest(), len(data), metadata, requires_python


class Index:
    """One simple index served under ``prefix``: folders of files plus synthetic files.

    Options (attributes, change them any time):
        hashes: list ``sha256`` for each file (False: ``hashes: {}`` and no URL fragment).
        core_metadata: advertise PEP 714 ``core-metadata`` and serve ``.metadata``.
        legacy_metadata_key: also write the old ``dist-info-metadata`` key (PEP 714 transition).
        html_only: ignore the JSON Accept header and answer PEP 503 HTML.
        json_only: answer 406 unless the client accepts PEP 691 JSON.
        api_version: ``meta.api-version`` (e.g. "2.0" to test refusal of a newer major).
        absolute_urls: write absolute file URLs (micropip 0.11 does not resolve relative
            ones in a PEP 691 page; the benchmark serves both installers the same page).
    """

    def __init__(self, name: str, prefix: str, wheel_dirs: Iterable[str | Path] = (), *,
                 hashes: bool = True, core_metadata: bool = True,
                 legacy_metadata_key: bool = False, html_only: bool = False,
                 json_only: bool = False, api_version: str = "1.1",
                 absolute_urls: bool = False) -> None:
        self.name = name
        self.prefix = prefix
        self.base_url = ""  # set by the server
        self.wheel_dirs = [Path(d) for d in wheel_dirs]
        self.hashes = hashes
        self.core_metadata = core_metadata
        self.legacy_metadata_key = legacy_metadata_key
        self.html_only = html_only
        self.json_only = json_only
        self.api_version = api_version
        self.absolute_urls = absolute_urls
        self._synthetic: dict[str, _File] = {}
        self._overrides: dict[str, dict] = {}
        self._scan_cache: dict[Path, tuple[tuple[int, int], _File]] = {}
        self._lock = threading.Lock()

    # --- what tests call ---------------------------------------------------------------

    @property
    def url(self) -> str:
        """The simple index URL, e.g. ``http://127.0.0.1:PORT/index/name/simple/``."""
        return f"{self.base_url}{self.prefix}/simple/"

    def file_url(self, filename: str) -> str:
        return f"{self.base_url}{self.prefix}/files/{filename}"

    def add_wheel(self, data: bytes, filename: str | None = None, *,
                  yanked: bool | str = False, requires_python: str | None = None,
                  upload_time: str | None = None, metadata: bytes | None = None,
                  hashes: bool | None = None, core_metadata: bool | None = None) -> str:
        """Serve ``data`` as ``filename`` (default: ``data.filename`` of a WheelBytes).

        ``requires_python``/``metadata`` default to what the wheel's METADATA says;
        ``metadata`` set here is what ``.metadata`` serves (and is hashed), so a test can make
        it disagree with the wheel. ``hashes``/``core_metadata`` override the index option
        for this file only. Returns the file name.
        """
        filename = filename or getattr(data, "filename", None)
        if not filename:
            raise TypeError("add_wheel: pass filename= for plain bytes (WheelBytes carry one)")
        sha, size, wheel_metadata, rp = _describe(filename, bytes(data))
        entry = _File(filename, data=bytes(data), yanked=yanked,
                      requires_python=requires_python if requires_python is not None else rp,
                      metadata=metadata if metadata is not None else wheel_metadata,
                      sha256=sha, size=size, upload_time=upload_time, hashes=hashes,
                      core_metadata=core_metadata)
        with self._lock:
            self._synthetic[filename] = entry
        return filename

    add_file = add_wheel

    def add_dir(self, directory: str | Path) -> None:
        """List every wheel of ``directory`` too (read on each request, so it may grow)."""
        self.wheel_dirs.append(Path(directory))

    def remove(self, filename: str) -> None:
        with self._lock:
            self._synthetic.pop(filename, None)
            self._overrides.setdefault(filename, {})["hidden"] = True

    def yank(self, filename: str, reason: bool | str = True) -> None:
        """Mark ``filename`` yanked (``reason`` a string, or True for no reason)."""
        with self._lock:
            if filename in self._synthetic:
                self._synthetic[filename].yanked = reason
            else:
                self._overrides.setdefault(filename, {})["yanked"] = reason

    def reset(self) -> None:
        """Drop synthetic files and per-file overrides; restore default options."""
        with self._lock:
            self._synthetic.clear()
            self._overrides.clear()
        self.hashes = self.core_metadata = True
        self.legacy_metadata_key = self.html_only = self.json_only = self.absolute_urls = False
        self.api_version = "1.1"

    def files(self) -> dict[str, _File]:
        """Every file this index lists, by file name (synthetic ones win over folders)."""
        found: dict[str, _File] = {}
        for directory in self.wheel_dirs:
            if not directory.is_dir():
                continue
            for path in sorted(directory.iterdir()):
                if path.is_file() and (path.suffix == ".whl" or path.name.endswith(".tar.gz")):
                    found[path.name] = self._scanned(path)
        with self._lock:
            found.update(self._synthetic)
            for filename, override in self._overrides.items():
                if override.get("hidden") and filename not in self._synthetic:
                    found.pop(filename, None)
                elif "yanked" in override and filename in found:
                    entry = found[filename]
                    found[filename] = _File(**{**entry.__dict__, "yanked": override["yanked"]})
        return found

    def projects(self) -> dict[str, list[_File]]:
        by_project: dict[str, list[_File]] = {}
        for entry in self.files().values():
            by_project.setdefault(_project_of(entry.filename), []).append(entry)
        return by_project

    # --- internals -----------------------------------------------------------------------

    def _scanned(self, path: Path) -> _File:
        st = path.stat()
        key = (st.st_mtime_ns, st.st_size)
        cached = self._scan_cache.get(path)
        if cached and cached[0] == key:
            return cached[1]
        sha, size, metadata, rp = _describe(path.name, path.read_bytes())
        entry = _File(path.name, path=path, metadata=metadata, sha256=sha, size=size,
                      requires_python=rp)
        self._scan_cache[path] = (key, entry)
        return entry

    def _advertise_hash(self, entry: _File) -> bool:
        return self.hashes if entry.hashes is None else entry.hashes

    def _advertise_metadata(self, entry: _File) -> bool:
        wanted = self.core_metadata if entry.core_metadata is None else entry.core_metadata
        return bool(wanted and entry.metadata is not None)

    def _href(self, filename: str) -> str:
        return self.file_url(filename) if self.absolute_urls else f"../../files/{filename}"

    def project_json(self, project: str, entries: list[_File]) -> bytes:
        files = []
        for entry in sorted(entries, key=lambda e: e.filename):
            item: dict = {
                "filename": entry.filename,
                "url": self._href(entry.filename),
                "hashes": {"sha256": entry.sha256} if self._advertise_hash(entry) else {},
                "size": entry.size,
                "yanked": entry.yanked,
            }
            if entry.requires_python:
                item["requires-python"] = entry.requires_python
            if entry.upload_time:
                item["upload-time"] = entry.upload_time
            if self._advertise_metadata(entry):
                meta = {"sha256": hashlib.sha256(entry.metadata).hexdigest()}
                item["core-metadata"] = meta
                if self.legacy_metadata_key:
                    item["dist-info-metadata"] = meta
            files.append(item)
        versions = sorted({e.filename.split("-")[1] for e in entries if "-" in e.filename})
        body = {"meta": {"api-version": self.api_version}, "name": project,
                "files": files, "versions": versions}
        return json.dumps(body, indent=1).encode()

    def project_html(self, project: str, entries: list[_File]) -> bytes:
        links = []
        for entry in sorted(entries, key=lambda e: e.filename):
            href = self._href(entry.filename)
            if self._advertise_hash(entry):
                href += f"#sha256={entry.sha256}"
            attrs = [f'href="{html.escape(href)}"']
            if entry.requires_python:
                attrs.append(f'data-requires-python="{html.escape(entry.requires_python)}"')
            if entry.yanked is not False:
                reason = "" if entry.yanked is True else str(entry.yanked)
                attrs.append(f'data-yanked="{html.escape(reason)}"')
            if self._advertise_metadata(entry):
                value = "sha256=" + hashlib.sha256(entry.metadata).hexdigest()
                attrs.append(f'data-core-metadata="{value}"')
                if self.legacy_metadata_key:
                    attrs.append(f'data-dist-info-metadata="{value}"')
            links.append(f"<a {' '.join(attrs)}>{html.escape(entry.filename)}</a><br/>")
        return _html_page(f"Links for {project}", links)

    def root_json(self) -> bytes:
        names = sorted(self.projects())
        return json.dumps({"meta": {"api-version": self.api_version},
                           "projects": [{"name": n} for n in names]}).encode()

    def root_html(self) -> bytes:
        names = sorted(self.projects())
        return _html_page("Simple index", [f'<a href="{n}/">{n}</a><br/>' for n in names])


def _html_page(title: str, lines: list[str]) -> bytes:
    body = "\n".join(lines)
    return (f'<!DOCTYPE html>\n<html><head><meta name="pypi:repository-version" content="1.1">'
            f"<title>{html.escape(title)}</title></head>\n<body><h1>{html.escape(title)}</h1>\n"
            f"{body}\n</body></html>\n").encode()


@dataclass
class FaultRule:
    """What to do to requests whose path matches. Matching: ``path`` (exact, no query),
    ``suffix`` (path ends with it) or ``regex`` (``re.search`` on the path); all set ones
    must match, none set matches everything.

    Effects (combine freely; applied in this order):
        delay: sleep this many seconds before answering.
        status: answer this HTTP status with a short text body instead of the real one.
        body: replace the body with these bytes (Content-Length follows).
        truncate: send only this many body bytes. ``truncate_mode="close"`` (default) keeps
            the original Content-Length and closes the connection early (a broken transfer);
            ``"length"`` sends a short but well-formed response (Content-Length = truncate),
            to exercise size and hash checks.
        reset_after: send this many body bytes, then reset the connection (TCP RST).
        headers: extra or replaced response headers.
    times: apply to the first ``times`` matching requests only (None: always); the rule
    stays in the table, later requests pass through. ``hits`` counts how often it applied.
    """

    path: str | None = None
    suffix: str | None = None
    regex: str | None = None
    status: int | None = None
    times: int | None = None
    truncate: int | None = None
    truncate_mode: str = "close"
    reset_after: int | None = None
    delay: float = 0.0
    body: bytes | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    hits: int = 0

    def matches(self, path: str) -> bool:
        if self.path is not None and path != self.path:
            return False
        if self.suffix is not None and not path.endswith(self.suffix):
            return False
        if self.regex is not None and not re.search(self.regex, path):
            return False
        return True

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.hits >= self.times


class IndexServer:
    """A threaded HTTP server on 127.0.0.1 with several indexes, static mounts and faults.

    Use as a context manager or call :meth:`start` / :meth:`stop`.
    """

    def __init__(self, wheel_dirs: Iterable[str | Path] = (), *,
                 runtimes_dir: str | Path = DEFAULT_RUNTIMES, port: int = 0) -> None:
        self.runtimes_dir = Path(runtimes_dir)
        self._port = port
        self._indexes: dict[str, Index] = {}
        self._mounts: dict[str, Path | dict[str, bytes]] = {}
        self._faults: list[FaultRule] = []
        self._counts: Counter[str] = Counter()
        self._log: list[tuple[str, str, int]] = []
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.default = self._new_index("default", "", wheel_dirs)

    # --- lifecycle -----------------------------------------------------------------------

    def start(self) -> IndexServer:
        handler = type("Handler", (_Handler,), {"app": self})
        self._httpd = _Server(("127.0.0.1", self._port), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        kwargs={"poll_interval": 0.1},
                                        name="index-server", daemon=True)
        self._thread.start()
        for index in self._indexes.values():
            index.base_url = self.url
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> IndexServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._httpd is not None, "server not started"
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (no trailing slash)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def index_url(self) -> str:
        """The default index: ``http://127.0.0.1:PORT/simple/``."""
        return self.default.url

    # --- indexes and static content ------------------------------------------------------

    def _new_index(self, name: str, prefix: str, wheel_dirs: Iterable[str | Path],
                   **options: object) -> Index:
        index = Index(name, prefix, wheel_dirs, **options)  # type: ignore[arg-type]
        if self._httpd is not None:
            index.base_url = self.url
        self._indexes[name] = index
        return index

    def add_index(self, name: str, wheel_dirs: Iterable[str | Path] = (),
                  **options: object) -> Index:
        """A further index at ``/index/<name>/simple/`` (options: see :class:`Index`)."""
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", name) or name == "default":
            raise ValueError(f"bad index name {name!r}")
        return self._new_index(name, f"/index/{name}", wheel_dirs, **options)

    def index(self, name: str = "default") -> Index:
        return self._indexes[name]

    def remove_index(self, name: str) -> None:
        if name != "default":
            self._indexes.pop(name, None)

    def mount(self, prefix: str, source: str | Path | Mapping[str, bytes]) -> None:
        """Serve ``source`` (a folder, or ``{relative path: bytes}``) under ``prefix``."""
        prefix = "/" + prefix.strip("/") + "/"
        self._mounts[prefix] = dict(source) if isinstance(source, Mapping) else Path(source)

    # --- faults and request accounting ---------------------------------------------------

    def add_fault(self, path: str | None = None, *, suffix: str | None = None,
                  regex: str | None = None, **effects: object) -> FaultRule:
        """Add a :class:`FaultRule`; the first matching, non-exhausted rule applies."""
        rule = FaultRule(path=path, suffix=suffix, regex=regex, **effects)  # type: ignore[arg-type]
        with self._lock:
            self._faults.append(rule)
        return rule

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def count(self, path: str | None = None, *, suffix: str | None = None,
              regex: str | None = None) -> int:
        """How many requests matched (exact path, suffix or regex; no args: all requests)."""
        probe = FaultRule(path=path, suffix=suffix, regex=regex)
        with self._lock:
            return sum(n for p, n in self._counts.items() if probe.matches(p))

    @property
    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    @property
    def log(self) -> list[tuple[str, str, int]]:
        """``(method, path, status)`` of every request so far, in order."""
        with self._lock:
            return list(self._log)

    def reset_counts(self) -> None:
        with self._lock:
            self._counts.clear()
            self._log.clear()

    def reset(self) -> None:
        """Between tests: clear faults and counts, drop extra indexes, reset the default."""
        self.clear_faults()
        self.reset_counts()
        for name in list(self._indexes):
            self.remove_index(name)
        self.default.reset()

    # --- used by the handler -------------------------------------------------------------

    def _take_fault(self, path: str) -> FaultRule | None:
        with self._lock:
            self._counts[path] += 1
            for rule in self._faults:
                if rule.matches(path) and not rule.exhausted:
                    rule.hits += 1
                    return rule
        return None

    def _record(self, method: str, path: str, status: int) -> None:
        with self._lock:
            self._log.append((method, path, status))

    def _route(self, path: str, accept: str) -> tuple[int, bytes, str]:
        if path in ("/", "/page.html"):
            return 200, PAGE_HTML, "text/html; charset=utf-8"
        if path.startswith("/runtimes/"):
            version, _, rest = path[len("/runtimes/"):].partition("/")
            return _static(self.runtimes_dir / f"pyodide-{version}", rest)
        for prefix, source in self._mounts.items():
            if path.startswith(prefix):
                rest = path[len(prefix):]
                if isinstance(source, dict):
                    if rest == "" or rest.endswith("/"):
                        rest += "index.html"
                    if rest in source:
                        return 200, source[rest], _content_type(rest)
                    return _not_found()
                return _static(source, rest)
        index, rest = self._index_for(path)
        if index is None:
            return _not_found()
        return _index_route(index, rest, accept)

    def _moved(self, path: str) -> str | None:
        """Where a mount's prefix asked for without its slash lives: ``/demo`` -> ``/demo/``.

        Served at ``/demo``, a page would resolve its relative links (``demo.mjs``) against
        ``/``; a redirect to the slash form, as static web servers do, keeps them working.
        """
        return path + "/" if path + "/" in self._mounts else None

    def _index_for(self, path: str) -> tuple[Index | None, str]:
        if path.startswith("/index/"):
            name, _, rest = path[len("/index/"):].partition("/")
            return self._indexes.get(name), "/" + rest
        return self.default, path


def _not_found(message: str = "not found") -> tuple[int, bytes, str]:
    return 404, message.encode() + b"\n", "text/plain; charset=utf-8"


def _content_type(name: str) -> str:
    suffix = Path(name).suffix
    return _TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"


def _static(root: Path, rest: str) -> tuple[int, bytes, str]:
    base = root.resolve()
    try:
        target = (base / rest).resolve()
        if base != target and base not in target.parents:
            return _not_found()
        if target.is_dir():  # a directory URL (/demo/) is its index page, as on a web server
            target = target / "index.html"
        if not target.is_file():
            return _not_found()
        return 200, target.read_bytes(), _content_type(target.name)
    except OSError:  # a path no file system takes (a name too long): nothing there
        return _not_found()


def _wants_json(accept: str) -> bool | None:
    """True for PEP 691 JSON, False for HTML, None when neither is acceptable."""
    best: tuple[float, int] | None = None
    choice: bool | None = None
    for position, part in enumerate(accept.split(",") if accept else ["*/*"]):
        media, *params = [p.strip() for p in part.split(";")]
        q = 1.0
        for param in params:
            if param.startswith("q="):
                try:
                    q = float(param[2:])
                except ValueError:
                    q = 0.0
        if q <= 0:
            continue
        if media == JSON_TYPE:
            candidate = True
        elif media in (HTML_V1_TYPE, "text/html", "*/*", "text/*"):
            candidate = False
        else:
            continue
        # Higher q wins; on a tie the one listed first wins, and JSON wins a tie with */*.
        rank = (q, -position if media != "*/*" else -10_000)
        if best is None or rank > best:
            best, choice = rank, candidate
    return choice


def _index_route(index: Index, rest: str, accept: str) -> tuple[int, bytes, str]:
    if rest.startswith("/files/"):
        name = rest[len("/files/"):]
        files = index.files()
        if name in files:
            return 200, files[name].body(), _content_type(name)
        if name.endswith(".metadata") and name[: -len(".metadata")] in files:
            entry = files[name[: -len(".metadata")]]
            if index._advertise_metadata(entry):
                return 200, entry.metadata or b"", "application/octet-stream"
        return _not_found()
    if not rest.startswith("/simple/"):
        return _not_found()
    project = rest[len("/simple/"):].strip("/")
    wants_json = _wants_json(accept)
    if index.html_only:
        wants_json = False
    if index.json_only and wants_json is not True:
        return 406, b"this index answers application/vnd.pypi.simple.v1+json only\n", "text/plain"
    if wants_json is None:
        return 406, b"not acceptable\n", "text/plain"
    if not project:
        if wants_json:
            return 200, index.root_json(), JSON_TYPE
        return 200, index.root_html(), "text/html; charset=utf-8"
    projects = index.projects()
    canonical = normalize(project)
    if canonical not in projects:
        return _not_found(f"no project {project!r}")
    # PEP 503: a non-normalized project URL may redirect; we simply answer it.
    if wants_json:
        return 200, index.project_json(canonical, projects[canonical]), JSON_TYPE
    return 200, index.project_html(canonical, projects[canonical]), "text/html; charset=utf-8"


class _Server(ThreadingHTTPServer):
    # socketserver's default listen backlog is 5: a browser opening 6 connections at once
    # (or a test client more) overflows it, and the kernel drops a SYN: 1 s until the retry.
    request_queue_size = 128


class _Handler(BaseHTTPRequestHandler):
    app: IndexServer
    protocol_version = "HTTP/1.1"  # keep-alive: a Pyodide boot makes dozens of requests
    # Headers and body go out in two writes; with Nagle on, the body waits for the client's
    # delayed ACK of the headers: ~40 ms per request on a kept-alive loopback connection.
    disable_nagle_algorithm = True
    server_version = "pyemscripten-test-index"
    timeout = 60  # idle keep-alive connections end on their own

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass  # the request log lives in IndexServer.log

    def do_GET(self) -> None:
        self._serve(head=False)

    def do_HEAD(self) -> None:
        self._serve(head=True)

    def do_OPTIONS(self) -> None:
        self.send_response(204)
        self._common_headers()
        self.send_header("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
        self.send_header("Access-Control-Allow-Headers", "*")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _common_headers(self) -> None:
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Cache-Control", "no-store")

    def _serve(self, head: bool) -> None:
        url = urlsplit(self.path)
        path = unquote(url.path)
        rule = self.app._take_fault(path)
        if rule and rule.delay:
            time.sleep(rule.delay)
        headers = dict(rule.headers) if rule else {}
        moved = self.app._moved(path)
        if rule and rule.status is not None:
            status, body, ctype = rule.status, f"injected {rule.status}\n".encode(), "text/plain"
        elif moved is not None:
            status, body, ctype = 301, f"moved to {moved}\n".encode(), "text/plain; charset=utf-8"
            headers.setdefault("Location", moved + (f"?{url.query}" if url.query else ""))
        else:
            status, body, ctype = self.app._route(path, self.headers.get("Accept", ""))
        if rule and rule.body is not None:
            body = rule.body
        self.app._record(self.command, path, status)

        length = len(body)
        to_send = body
        close_after = False
        if rule and rule.truncate is not None:
            to_send = body[: rule.truncate]
            if rule.truncate_mode == "length":
                length = len(to_send)
            else:
                close_after = True
        reset_at = rule.reset_after if rule else None

        self.send_response(status)
        self._common_headers()
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(length))
        self.send_header("Vary", "Accept")
        for key, value in headers.items():
            self.send_header(key, value)
        if close_after or reset_at is not None:
            self.send_header("Connection", "close")
        self.end_headers()
        if head:
            return
        try:
            if reset_at is not None:
                self.wfile.write(to_send[:reset_at])
                self.wfile.flush()
                self._reset_connection()
                return
            self.wfile.write(to_send)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
            return
        if close_after:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _reset_connection(self) -> None:
        # SO_LINGER with a zero timeout makes close() send RST instead of FIN.
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass
