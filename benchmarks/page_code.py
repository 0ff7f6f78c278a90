"""Python (and a little JavaScript) that runs inside the page, one snippet per measured thing.

Every timed snippet measures with ``time.perf_counter()`` inside the page, around the one
``await`` of the installer, and returns a JSON-able dict. Imports of the installers happen
before the clock starts (``PREPARE_*``) and are reported separately.
"""

from __future__ import annotations

# --- pyemscripten ------------------------------------------------------------------------

# Instrumentation, not a patch of behaviour: a transport that logs each request's start and
# end, and timers around the two synchronous stages (wheel validation, the commit).
PREPARE_OURS = r"""
import time
_t = time.perf_counter()
import pyemscripten, pyemscripten.api as _api, pyemscripten.installation as _inst
from pyemscripten.browser import FetchTransport as _FetchTransport
from pyemscripten.browser_loader import PyodideLibraryLoader as _Loader

class _Timed(_FetchTransport):
    async def get(self, url, headers=None, on_progress=None, on_data=None):
        start = time.perf_counter()
        # on_data only when given: benchmarks/ab.py may run an older transport without it.
        more = {"on_data": on_data} if on_data else {}
        response = await super().get(url, headers, on_progress, **more)
        _requests.append((url, start - _T0, time.perf_counter() - _T0, len(response.body)))
        return response

def _timed(module, name):
    inner = getattr(module, name)
    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            _spans.append((name, start - _T0, time.perf_counter() - _T0))
    setattr(module, name, wrapper)

def _timed_async(module, name):
    inner = getattr(module, name)
    async def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return await inner(*args, **kwargs)
        finally:
            _spans.append(("open_wheel", start - _T0, time.perf_counter() - _T0))
    setattr(module, name, wrapper)

import pyemscripten.downloads as _downloads
if hasattr(_downloads, "open_wheel_async"):  # WheelTasks lives in downloads.py
    _timed_async(_downloads, "open_wheel_async")
elif hasattr(_api, "open_wheel_async"):  # RECORD hashes through Session.hasher (WebCrypto)
    _timed_async(_api, "open_wheel_async")
else:
    _timed(_api, "open_wheel")
_timed(_inst, "install")
if hasattr(_inst, "Staging"):  # files written as each wheel arrives, moved into place at commit
    _timed(_inst.Staging, "add")
    _timed(_inst.Staging, "commit")
_requests, _spans, _events, _T0 = [], [], [], 0.0

def _on_progress(event):
    if event["stage"] != "downloading":
        _events.append((event["stage"], time.perf_counter() - _T0))

def _new_session():
    # The defaults, except two seams we can look into afterwards (the session is copied by
    # the operation, so the loader is passed in to read its timings).
    return _api.Session(transport=_Timed(), loader=_Loader())

def _breakdown(session, total):
    first = {}
    for stage, at in _events:
        first.setdefault(stage, at)
    resolved = first.get("resolved", 0.0)
    wheels = [r for r in _requests if r[0].endswith(".whl")]
    before = [r for r in _requests if r[1] < resolved]
    loader = getattr(session.loader, "timings", None) or {}
    commit = [e - s for n, s, e in _spans if n in ("install", "commit")]
    return {
        "total": total,
        "resolve": resolved,
        "resolve_requests": len(before),
        "resolve_depth": _depth(before),
        "fetch_unpack": first.get("installing", total) - resolved,
        "network_last_byte": max((r[2] for r in wheels), default=resolved) - resolved,
        "unpack_cpu": sum(e - s for n, s, e in _spans if n == "open_wheel"),
        "stage_cpu": sum(e - s for n, s, e in _spans if n == "add"),
        "commit": sum(commit),
        "load": loader.get("total", 0.0),
        "wheel_requests": len(wheels),
        "bytes": sum(r[3] for r in wheels),
    }

def _depth(requests):
    # Longest chain of requests each started after the previous one ended: the round trips
    # resolution had to wait for one after another.
    ends = []
    for url, start, end, _ in sorted(requests, key=lambda r: r[1]):
        ends.append((end, 1 + max((d for e, d in ends if e <= start), default=0)))
    return max((d for _, d in ends), default=0)

time.perf_counter() - _t
"""

INSTALL_OURS = r"""
_requests.clear(); _spans.clear(); _events.clear()
_session = _new_session()
_T0 = time.perf_counter()
await pyemscripten.install(reqs, index_urls=[index_url], session=_session, on_progress=_on_progress)
_breakdown(_session, time.perf_counter() - _T0)
"""

# Outside the clock: our install returns before its wheels are written to Cache Storage;
# wait for those writes before the page closes, so that they neither get lost (the warm
# start's first page) nor run into the next measurement. (Older code, which benchmarks/ab.py
# may run, waited for them inside the install.)
WAIT_FOR_CACHE_OURS = r"""
if hasattr(pyemscripten, "wait_for_cache"):
    await pyemscripten.wait_for_cache()
"""

INSTALL_LOCK_OURS = r"""
_requests.clear(); _spans.clear(); _events.clear()
_session = _new_session()
_T0 = time.perf_counter()
await pyemscripten.install_lock(lock, session=_session, on_progress=_on_progress)
_breakdown(_session, time.perf_counter() - _T0)
"""

# --- micropip 0.11.1 ---------------------------------------------------------------------

PREPARE_MICROPIP = r"""
import time
_t = time.perf_counter()
import micropip
time.perf_counter() - _t
"""

INSTALL_MICROPIP = r"""
_T0 = time.perf_counter()
await micropip.install(reqs, index_urls=[index_url])
{"total": time.perf_counter() - _T0}
"""

# --- after either: the packages work -----------------------------------------------------

VERIFY = r"""
import importlib, importlib.util, time
_t = time.perf_counter()
for _name in imports:
    importlib.import_module(_name)
_missing = [n for n in present if importlib.util.find_spec(n) is None]
assert not _missing, f"not importable: {_missing}"
time.perf_counter() - _t
"""

# --- the floor: no resolution, everything at once ----------------------------------------

FLOOR_JS = r"""
({
  fetchAll: async (urls) => Promise.all(urls.map(async (u) => {
    const r = await fetch(u, {cache: "no-store"});
    return new Uint8Array(await r.arrayBuffer());
  })),
  compileAll: async (paths) => {
    const FS = window.pyodide.FS;
    await Promise.all(paths.map((p) => WebAssembly.compile(FS.readFile(p))));
  },
})
"""

FLOOR = r"""
import io, time, zipfile
from pyodide.code import run_js
from pyodide.ffi import to_js
_floor = run_js(floor_js)
_T0 = time.perf_counter()
_bodies = await _floor.fetchAll(to_js(urls))
_t1 = time.perf_counter()
_libs = []
for _i, _body in enumerate(_bodies):
    _dir = f"/tmp/floor/{_i}"
    with zipfile.ZipFile(io.BytesIO(_body.to_bytes())) as _zf:
        _zf.extractall(_dir)
        _libs += [f"{_dir}/{n}" for n in _zf.namelist() if n.endswith(".so")]
_t2 = time.perf_counter()
await _floor.compileAll(to_js(_libs))
_t3 = time.perf_counter()
{"total": _t3 - _T0, "fetch": _t1 - _T0, "unpack": _t2 - _t1, "compile": _t3 - _t2, "libraries": len(_libs)}
"""

# --- parsing a large project page --------------------------------------------------------

PARSE_PAGE = r"""
import time
from pyodide.http import pyfetch
from pyemscripten.candidates import Finder, KnownData, ResolveOptions
from pyemscripten.target import current_target
from pyemscripten.index_pages import parse_project_page
_fetch = time.perf_counter()
_body = await (await pyfetch(page_url)).bytes()
_fetch = time.perf_counter() - _fetch
_times = []
for _ in range(reps):
    _t = time.perf_counter()
    _page = parse_project_page(_body, page_url, "application/vnd.pypi.simple.v1+json", "big")
    _parsed = time.perf_counter() - _t
    _finder = Finder(current_target(), KnownData(pages={"big": _page}), {}, ResolveOptions())
    _versions = _finder.versions("big")
    _times.append((_parsed, time.perf_counter() - _t))
{"fetch": _fetch, "parse": min(t[0] for t in _times), "parse_and_versions": min(t[1] for t in _times),
 "files": len(_page.files), "versions": len(_versions), "bytes": len(_body)}
"""
