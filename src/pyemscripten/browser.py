"""The browser side of the seams: JS ``fetch`` and Cache Storage, inside Pyodide.

Only this module, :mod:`pyemscripten.browser_loader` and ``api._page_url`` (the edge)
import ``js``/``pyodide``; the imports happen inside functions so that the package still
imports on plain CPython.
"""

from __future__ import annotations

import errno
import functools
import hashlib
import os
from collections.abc import Callable, Collection, Coroutine, Iterable, Mapping, Sequence
from typing import Any, ClassVar

from .credentials import OriginCredentials, is_file_url
from .errors import ContentSecurityPolicyError, NetworkError
from .installation import FileOps, KeptBytes
from .progress import size_text
from .seams import BodyPieces, ByteProgress, Hasher, Response, Transport, WheelCache, hand_over_whole

# One JS function does the whole request: headers, timeout, streaming with progress, and
# returns the body as a Uint8Array. Crossing into Python once per response (not per chunk)
# keeps large downloads cheap.
_FETCH_JS = r"""
(async (url, headers, timeoutSeconds, onProgress, onData) => {
  // Seconds, as Python holds them, multiplied here: in Python a float times an int costs a
  // page 4-7 ms the first time the interpreter specializes such a product (CPython 3.14 in
  // Pyodide 314: V8 compiles the evaluation loop again, benchmarks/RESULTS.md, change 43),
  // and a page's first install paid it in the set-up of its second request (change 42).
  const timeoutMs = timeoutSeconds * 1000;
  // The request starts from a microtask, once the Python step that asked for it is over.
  // With DevTools watching the network (Playwright, the benchmark), Chromium records the
  // stack as each request's initiator, and a stack through the interpreter costs 3-4 ms the
  // first time in a page and about 1 ms after; from here, 0.6 and 0.1-0.3 ms (without
  // DevTools 0.3-0.5 and 0-0.3 ms either way; benchmarks/RESULTS.md, change 44).
  await null;
  const controller = new AbortController();
  // The timeout bounds each wait - for the answer, then for each chunk of a streamed body -
  // not the whole transfer: a big wheel on a slow but live connection completes. One timer
  // per request, pushed back by activity: a slow link delivers thousands of ~3 kB chunks,
  // and a timer per chunk was garbage the heap had to hold.
  let last = performance.now();
  let timer;
  let callbackError = null;
  // A request that waits for one of the browser's six connections to its host (an install
  // asks for all its wheels at once) is queued, not idle: until it has an answer, time spent
  // while six others to that host are under way does not count (on a slow link the last
  // wheels would otherwise time out before they start).
  let answered = false;
  let target = null;
  try { target = new URL(url); } catch (e) {}
  const origin = target ? target.origin : url;
  const flights = globalThis[Symbol.for("pyemscripten.requestsUnderWay")] ??= new Map();
  const check = () => {
    const now = performance.now();
    if (!answered && flights.get(origin) > 6) last = now;
    const idle = now - last;
    if (idle >= timeoutMs) controller.abort(new Error(`timed out after ${timeoutMs} ms`));
    else timer = setTimeout(check, timeoutMs - idle);
  };
  timer = setTimeout(check, timeoutMs);
  flights.set(origin, (flights.get(origin) || 0) + 1);
  // "Failed to fetch" does not say why. Two causes are told apart here, where the page can
  // see them: a page served over https asking for an http URL of another machine (the
  // browser blocks it: mixed content), and a server on another origin whose answer the
  // browser did not let the page read (CORS): asked again in "no-cors" mode, such a server
  // gives an opaque answer, where one that is down gives none. That answer's body is never
  // read: the abort in `finally` ends it.
  // Node's fetch (undici) says only "fetch failed", and why in the error's cause ("connect
  // ECONNREFUSED 127.0.0.1:9", "getaddrinfo ENOTFOUND"); a browser's error has none.
  const said = (e) => {
    const text = String((e && e.message) || e);
    const cause = e && e.cause;
    return cause ? `${text}: ${String(cause.message || cause.code || cause)}` : text;
  };
  const refusal = async (error) => {
    const page = globalThis.origin;  // the page's (or worker's) own origin; "null" when opaque
    if (!target || !(error instanceof TypeError) || !/^https?:\/\//.test(page ?? "")) return {};
    const ownMachine = /^(localhost|127(\.\d+){3}|\[::1\])$|\.localhost$/.test(target.hostname);
    if (page.startsWith("https:") && target.protocol === "http:" && !ownMachine) {
      return { refusedBy: "mixed content", page };
    }
    if (target.origin === page) return {};
    last = performance.now();  // the ask has the timeout's whole wait, not what the request left of it
    try {
      await fetch(url, { mode: "no-cors", credentials: "omit", cache: "no-store", signal: controller.signal });
    } catch (e) {
      return {};
    }
    const preflight = headers.some(([name]) => name.toLowerCase() === "authorization");
    return { refusedBy: preflight ? "cors preflight" : "cors", page };
  };
  try {
    let response;
    try {
      response = await fetch(url, { headers: Object.fromEntries(headers), signal: controller.signal, cache: "no-store" });
    } catch (e) {
      return { error: said(e), ...await refusal(e) };
    }
    last = performance.now();
    answered = true;
    const total = Number(response.headers.get("content-length")) || null;
    let body;
    try {
      // Only a body that is the file (2xx) is progress or pieces of it; an error page is not.
      if ((onProgress || onData) && response.body && response.ok) {
        const reader = response.body.getReader();
        // Each chunk is copied into one buffer (sized by Content-Length when given) as it
        // arrives, instead of keeping every chunk alive until the end.
        body = new Uint8Array(total || 65536);
        let done = 0;
        let lastReport = 0;
        // Progress and the new pieces go out every 256 kB, not per chunk: each call is a
        // trip into Python.
        const report = () => {
          try {
            if (onData && done > lastReport) onData(body.subarray(lastReport, done), lastReport);
            if (onProgress) onProgress(done, total);
          } catch (e) {
            callbackError = e;
            throw e;
          }
          lastReport = done;
        };
        for (;;) {
          const { done: finished, value } = await reader.read();
          if (finished) break;
          last = performance.now();
          if (done + value.length > body.length) {
            const bigger = new Uint8Array(Math.max(2 * body.length, done + value.length));
            bigger.set(body.subarray(0, done));
            body = bigger;
          }
          body.set(value, done);
          done += value.length;
          if (done - lastReport > 262144 || done === total) {
            report();
            last = performance.now();  // time spent in Python on the pieces is not idle time
          }
        }
        if (lastReport !== done) report();
        if (done !== body.length) body = body.slice(0, done);
      } else {
        body = new Uint8Array(await response.arrayBuffer());
      }
    } catch (e) {
      // An exception the Python callbacks raised (a progress listener's, an interrupt) is
      // theirs, not the network's: it goes back to Python as it is, and is not retried.
      if (callbackError !== null && e === callbackError) throw e;
      return { error: "the connection broke while reading the body: " + said(e) };
    }
    // The headers as one string, name and value each followed by a NUL (neither may hold one):
    // one string crosses into Python far cheaper than an array of pairs.
    let headerText = "";
    for (const [name, value] of response.headers) headerText += name + "\0" + value + "\0";
    return { error: undefined, status: response.status, url: response.url, headers: headerText, body };
  } finally {
    flights.set(origin, flights.get(origin) - 1);
    clearTimeout(timer);
    // Whatever ended the read early (a broken body, a callback that threw because the
    // Python side gave up and destroyed it), the request must not go on using the link.
    controller.abort();
  }
})
"""


# Node's fetch (undici) reads no file: URL ("not implemented... yet"), and Pyodide in Node
# names its own files by path: Node's file system reads them instead, as a static server
# answers for a URL (a folder's URL, ending in "/", is its index.html: the layout of
# `python -m pyemscripten index`; a missing file a 404). Reached through
# process.getBuiltinModule (Node 20.16, 22.3 and later), never a literal import("node:..."),
# which a bundler packing the npm module for a page would try to resolve.
_READ_FILE_JS = r"""
(async (url) => {
  const { fileURLToPath } = process.getBuiltinModule("node:url");
  const { readFile } = process.getBuiltinModule("node:fs/promises");
  let path;
  try {
    // The path the URL names and no other: its "." and ".." segments (%2e too) are gone
    // already (the URL parser takes them out), and fileURLToPath refuses an encoded "/" (on
    // Windows "\" too) and, on POSIX, a host other than localhost.
    path = fileURLToPath(url);
  } catch (e) {
    return { error: `not a URL of a file on this machine (${String(e.message || e)})` };
  }
  // A NUL (%00) is in no file's name: no such file, as natively (readFile refuses the path
  // with an error that was told as a network failure, and tried again).
  if (path.includes("\0")) return { status: 404, body: new Uint8Array(0) };
  if (/[\\/]$/.test(path)) path += "index.html";
  try {
    const data = await readFile(path);
    return { status: 200, body: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
  } catch (e) {
    // As a static server answers: no such file (or a folder's URL without its "/") is a 404,
    // a file this process may not read a 403; anything else is a failure to read.
    if (["ENOENT", "ENOTDIR", "EISDIR"].includes(e.code)) return { status: 404, body: new Uint8Array(0) };
    if (["EACCES", "EPERM"].includes(e.code)) return { status: 403, body: new Uint8Array(0) };
    return { error: String(e.message || e) };
  }
})
"""


def node_reads_files() -> bool:
    """Whether this runtime is Node with ``process.getBuiltinModule`` (20.16, 22.3 and
    later): its file system then reads ``file:`` URLs (:data:`_READ_FILE_JS`). A page has no
    ``process`` (or a bundler's stand-in without that function)."""
    try:
        from js import process
    except ImportError:
        return False
    return not _is_undefined(getattr(process, "getBuiltinModule", None))


def _node_version() -> str | None:
    """The version of the Node this runtime is (``process.versions.node``), or None: a page."""
    try:
        from js import process
    except ImportError:
        return None
    version = getattr(getattr(process, "versions", None), "node", None)
    return version if isinstance(version, str) else None


class FetchTransport(Transport):
    """HTTP through the browser's ``fetch``. Connection failures become :class:`NetworkError`.

    ``timeout`` (seconds) bounds the wait for an answer and, while a body streams (downloads
    with progress), the wait for each further chunk; a body read in one piece (index pages)
    must arrive within it too. ``fetch`` refuses URLs with credentials: they are sent as
    Basic auth to their origin instead (see :mod:`pyemscripten.credentials`).

    In Node (:func:`node_reads_files`), ``file:`` URLs are read from the file system as a
    static server answers for them (:data:`_READ_FILE_JS`); in a page they are refused with
    a :class:`NetworkError` that says to serve the file over http(s), as ``fetch`` would
    refuse them without saying why.
    """

    def __init__(self, timeout: float = 60.0) -> None:
        self.timeout = timeout
        self._fetch: Any = None
        self._read_file: Any = None
        self._reads_files: bool | None = None  # asked once, at the first file: URL
        self._credentials = OriginCredentials()

    async def get(
        self,
        url: str,
        headers: Mapping[str, str] | None = None,
        on_progress: ByteProgress | None = None,
        on_data: BodyPieces | None = None,
    ) -> Response:
        from pyodide.ffi import create_proxy, to_js

        url, headers = self._credentials.prepare(url, headers)
        if is_file_url(url):
            if self._reads_files is None:
                self._reads_files = node_reads_files()
            if self._reads_files:
                return await self._file(url, on_progress, on_data)
            # A page's fetch reads no file: URL (the Fetch standard leaves it to the browser,
            # and Chromium and Firefox refuse it, with a TypeError that names nothing): a
            # wheel named by one (name @ file:///...) is said to need a server; an older Node
            # (no process.getBuiltinModule), to need a newer one or a server.
            node = _node_version()
            raise NetworkError(url, f"Node {node} reads no file: URL" if node else "a browser's fetch reads no file: URL",
                               refused_by="file")
        if self._fetch is None:
            self._fetch = js_function(_FETCH_JS)
        raised: list[BaseException] = []  # what a callback raised: it ends the request as it is

        def kept(callback: Callable[..., None]) -> Any:
            def call(*args: Any) -> None:
                try:
                    callback(*args)
                except BaseException as exc:
                    raised.append(exc)
                    raise
            return create_proxy(call)

        callbacks = [
            kept(on_progress) if on_progress else None,
            kept(lambda piece, offset: on_data(int(offset), piece.to_bytes())) if on_data else None,
        ]
        try:
            result = await self._fetch(url, to_js(list((headers or {}).items())), self.timeout, *callbacks)
        except Exception:
            if raised:  # _FETCH_JS gave it back wrapped (a JsException of a PythonError): unwrap it
                raise raised[0] from None
            raise
        finally:
            for callback in callbacks:
                if callback is not None:
                    callback.destroy()
        if raised:  # however the JavaScript side ended, the callback's exception is the outcome
            raise raised[0]
        if result.error is not None:
            refused = getattr(result, "refusedBy", None)
            raise NetworkError(url, str(result.error), refused_by=refused and str(refused),
                               page=refused and str(result.page))
        fields = str(result.headers).split("\0")  # name, value, ..., "" (see _FETCH_JS)
        response_headers = {name.lower(): value for name, value in zip(fields[0::2], fields[1::2])}
        return Response(str(result.url or url), int(result.status), result.body.to_bytes(), response_headers,
                        kept=result.body)

    async def _file(self, url: str, on_progress: ByteProgress | None, on_data: BodyPieces | None) -> Response:
        """A ``file:`` URL read by Node: the answer a static server gives, its body handed to
        ``on_data`` in pieces as a download's would be (:func:`~.seams.hand_over_whole`)."""
        if self._read_file is None:
            self._read_file = js_function(_READ_FILE_JS)
        result = await self._read_file(url)
        if getattr(result, "error", None) is not None:
            raise NetworkError(url, str(result.error))
        status, body = int(result.status), result.body.to_bytes()
        if status != 200:
            return Response(url, status, body, {})
        hand_over_whole(body, on_data, on_progress)
        path = url.split("?", 1)[0].split("#", 1)[0]
        kind = "text/html" if path.endswith(("/", ".html")) else "application/octet-stream"
        return Response(url, 200, body, {"content-type": kind, "content-length": str(len(body))}, kept=result.body)


def _blobs(files: Sequence[tuple[str, bytes | KeptBytes]]) -> Any:
    """The bytes of ``files`` for the writer below: one JavaScript buffer, or an array of
    them where some files were moved out of the interpreter already (:meth:`MemfsFileOps.keep`):
    each run of those in one place is a view of it, the rest is copied and joined."""
    from pyodide.ffi import to_js

    parts: list[Any] = []
    joined: list[bytes] = []
    place: Any = None
    start = end = 0
    for _, data in files:
        if isinstance(data, KeptBytes) and data.data is None:
            if data.place is place and data.at == end:
                end += data.size
                continue
            _part(parts, joined, place, start, end)
            place, start, end = data.place, data.at, data.at + data.size
        else:
            if place is not None:
                _part(parts, joined, place, start, end)
                place = None
            joined.append(bytes(data))
    _part(parts, joined, place, start, end)
    if not parts:
        return to_js(b"")
    # One file: to_js copies it straight from the interpreter's memory (join returns it as it is).
    return parts[0] if len(parts) == 1 else to_js(parts)


def _part(parts: list[Any], joined: list[bytes], place: Any, start: int, end: int) -> None:
    from pyodide.ffi import to_js

    if joined:
        parts.append(to_js(b"".join(joined)))
        joined.clear()
    if place is not None:
        parts.append(place.buffer.subarray(start, end))


def _lengths(blobs: Iterable[bytes | KeptBytes]) -> str:
    """The sizes of ``blobs`` for the JavaScript below, as one string ("12,345,6"): one string
    crosses into JavaScript cheaper than a list of numbers (``to_js`` of (a)'s 3,903 sizes
    took 6-8 ms). A KeptBytes' size is read, not asked of len(), a call into Python."""
    return ",".join([str(blob.size if type(blob) is KeptBytes else len(blob)) for blob in blobs])


# Many new files written straight into Emscripten's in-memory file system (MEMFS), in one
# call: through os.open/os.write each file is two trips into JavaScript, each resolving the
# whole path again. A file's bytes are a view of one buffer holding the batch (MEMFS's own
# way with a write that may keep its buffer: FS.writeFile's canOwn).
_WRITE_TREE_JS = r"""
((FS, M) => {
  const MEMFS = FS.filesystems && FS.filesystems.MEMFS;
  const FILE = 0o100000;
  // With `compiled` (a Set), shared libraries are compiled as they are written, for the library
  // loader (browser_loader, point 8), which takes each module from `onWrite` by the file's
  // node; the Set keeps the nodes, for `release` to let go of the modules nobody took (a
  // library already loaded from that path, a staging folder dropped).
  const onWrite = globalThis[Symbol.for("pyemscripten.compiledOnWrite")] ??= new WeakMap();
  const LIBRARY = /\.so(\.\d+)*$/;  // wheels._SHARED_LIBRARY
  const compileOnWrite = (node, contents, compiled) => {
    if (typeof node.mtime !== "number" || typeof node.ctime !== "number") return;  // (0.27: node.timestamp)
    try {
      // Both times one tick before now: any later write through the file system sets them to
      // now or later (and a utime sets the mtime only), so the loader sees it, in this tick too.
      node.mtime = node.ctime = Date.now() - 1;
      // compile() copies the bytes now, and compiles off this thread.
      const module = WebAssembly.compile(contents).catch(() => null);
      onWrite.set(node, {contents, size: node.usedBytes, mtime: node.mtime, ctime: node.ctime, module});
      compiled.add(node);
      // browser_loader, point 10: offered for instantiation while the wheels download
      const early = globalThis[Symbol.for("pyemscripten.instantiateEarly")];
      if (early) early(node, contents, module);
    } catch (e) {}  // not compiled ahead: the loader compiles the bytes
  };
  const child = (dir, name) => {
    try {
      return FS.lookupNode(dir, name);
    } catch (e) {
      return null;
    }
  };
  // FS.lookupPath(path, {follow: true}).node, or null where it throws. An absolute path of
  // plain names without links is walked here, part by part as lookupPath walks it (entering
  // mount points), without the strings and arrays it makes for every part; anything else is
  // left to it.
  const lookup = (path) => {
    const parts = path.split("/");
    let node = parts[0] === "" ? FS.root : null;
    for (let i = 1; node && i < parts.length; i++) {
      const part = parts[i];
      if (part === "") continue;
      if (part === "." || part === "..") node = null;
      else if ((node = child(node, part))) {
        if (node.mounted) node = node.mounted.root;
        if (FS.isLink(node.mode)) node = null;
      } else return null;
    }
    if (node) return node;
    try {
      return FS.lookupPath(path, {follow: true}).node;
    } catch (e) {
      return null;
    }
  };
  // blob: one buffer holding the files back to back, or an array of such buffers, each
  // holding whole files (a file of some bytes that does not fit in what is left of one is
  // in the next).
  const write = (root, names, blob, sizeList, mode, compiled) => {
    const sizes = sizeList.split(",").map(Number);  // see _lengths
    const top = MEMFS && lookup(root);
    if (!top || top.mount.type !== MEMFS || !FS.isDir(top.mode) || top.mounted) return "other";
    // Folders get root's permission bits: root was made by os.makedirs, which applies the
    // umask on some runtimes (315) and not on others (314), so they are what it makes here.
    const DIR = 0o40000 | (top.mode & 0o7777);
    const blobs = (Array.isArray(blob) ? blob : [blob]).map(
      // never a view of the interpreter's memory
      b => M && M.HEAPU8 && b.buffer === M.HEAPU8.buffer ? b.slice() : b);
    const dirs = new Map();
    // The folder of a path: made (or entered) once per batch, part by part.
    const folder = (key, i) => {
      const parts = key.split("/");
      for (const part of parts) {
        if (part === "" || part === "." || part === "..") return `EINVAL ${i}`;
      }
      let sub = "", dir = top;
      for (const part of parts) {
        sub = sub ? sub + "/" + part : part;
        let next = dirs.get(sub);
        if (!next) {
          if (Object.hasOwn(dir.contents, part)) {
            next = dir.contents[part];
            // Only plain MEMFS folders are entered: a file, a symlink or a mount point there is
            // refused (os.makedirs would follow the last two; the trees written here are new,
            // so none holds one; "other" is no longer possible once files are written).
            if (!FS.isDir(next.mode) || next.mounted || next.mount !== top.mount) return `ENOTDIR ${i}`;
          } else {
            next = MEMFS.createNode(dir, part, DIR, 0);
          }
          dirs.set(sub, next);
        }
        dir = next;
      }
      return dir;
    };
    const list = names.split("\0");
    let at = 0, k = 0;
    let lastKey = null, lastDir = top;  // the previous file's folder: most files share one with it
    blob = blobs[0];
    for (let i = 0; i < list.length; i++) {
      const path = list[i];
      const cut = path.lastIndexOf("/");
      const name = path.slice(cut + 1);
      if (name === "" || name === "." || name === "..") return `EINVAL ${i}`;
      let dir = top;
      if (cut !== -1) {
        if (lastKey !== null && cut === lastKey.length && path.startsWith(lastKey)) {
          dir = lastDir;  // no string or array made for it
        } else {
          const key = path.slice(0, cut);
          dir = dirs.get(key) || folder(key, i);
          if (typeof dir === "string") return dir;
          lastKey = key;
          lastDir = dir;
        }
      }
      if (Object.hasOwn(dir.contents, name)) return `EEXIST ${i}`;
      while (at + sizes[i] > blob.length && k + 1 < blobs.length) {
        blob = blobs[++k];
        at = 0;
      }
      const node = MEMFS.createNode(dir, name, FILE | (mode & 0o7777), 0);
      const contents = node.contents = blob.subarray(at, at + sizes[i]);
      node.usedBytes = sizes[i];
      if (compiled && LIBRARY.test(name) && contents.length > 8 && contents[0] === 0 && contents[1] === 0x61
          && contents[2] === 0x73 && contents[3] === 0x6d) {  // "\0asm"
        compileOnWrite(node, contents, compiled);
      }
      at += sizes[i];
    }
    return undefined;  // null would be jsnull in Python, undefined is None
  };
  write.release = (compiled) => {
    for (const node of compiled) onWrite.delete(node);
    compiled.clear();
  };

  // The commit's moves and the scratch folder's removal, node by node as FS.rename,
  // FS.rmdir and FS.unlink do them after their path lookups (which make a few kB of garbage
  // each: PATH.normalize for every part of a path). Only in memory (MEMFS, and IDBFS, which
  // keeps MEMFS's nodes): another file system's node operations reach a host, which can
  // fail halfway. Each checks first what those calls would check and answers "other",
  // having changed nothing, where they would refuse or where something is not as read here
  // (a mount point, a tracking delegate); the caller then takes the file system's own
  // calls, which raise as they do.
  const IDBFS = FS.filesystems && FS.filesystems.IDBFS;
  const inMemory = (node) => !!MEMFS && (node.mount.type === MEMFS || (!!IDBFS && node.mount.type === IDBFS));
  const tracked = () => Object.keys(FS.trackingDelegate || {}).length > 0;
  // "flags/names": one 0 or 1 per name (whether target/name exists), then the names of the
  // folder source, NUL-separated (a name holds neither).
  write.entries = (source, target) => {
    const from = lookup(source), to = lookup(target);
    if (!from || !to || !inMemory(from) || !FS.isDir(from.mode) || !from.node_ops.readdir) return "other";
    const names = from.node_ops.readdir(from).filter((name) => name !== "." && name !== "..");
    return names.map((name) => child(to, name) ? "1" : "0").join("") + "/" + names.join("\0");
  };
  write.moveEntries = (source, target, names) => {
    const from = lookup(source), to = lookup(target);
    if (!from || !to || tracked() || from.mount !== to.mount || !inMemory(from) || !FS.isDir(from.mode) || !FS.isDir(to.mode)
        || !from.node_ops.rename || (from !== to && FS.nodePermissions(from, "w"))) return "other";
    const list = names.split("\0");
    const nodes = [];
    for (const name of list) {
      const node = child(from, name);
      // (mayCreate refuses a name already in `to`)
      if (!node || node.mounted || FS.mayDelete(from, name, FS.isDir(node.mode)) || FS.mayCreate(to, name)) return "other";
      for (let up = to; ; up = up.parent) {  // a folder does not move into itself
        if (up === node) return "other";
        if (up === up.parent) break;
      }
      nodes.push(node);
    }
    for (let i = 0; i < nodes.length; i++) {
      FS.hashRemoveNode(nodes[i]);
      try {
        from.node_ops.rename(nodes[i], to, list[i]);
        nodes[i].parent = to;
      } finally {
        FS.hashAddNode(nodes[i]);
      }
    }
    return undefined;
  };
  write.removeTree = (path) => {
    const cut = path.lastIndexOf("/");
    const parent = cut > 0 ? lookup(path.slice(0, cut)) : null;
    const top = parent && child(parent, path.slice(cut + 1));
    if (!top || tracked() || !inMemory(top) || !FS.isDir(top.mode)) return "other";
    // Every node first, children before their folder; nothing removed unless all can be.
    const order = [];
    const visit = (dir, node, name) => {
      if (node.mounted || FS.mayDelete(dir, name, FS.isDir(node.mode))) return false;
      if (FS.isDir(node.mode)) {
        if (!node.node_ops.readdir || !dir.node_ops.rmdir) return false;
        for (const sub of node.node_ops.readdir(node)) {
          if (sub === "." || sub === "..") continue;
          const below = child(node, sub);
          if (!below || !visit(node, below, sub)) return false;
        }
      } else if (!dir.node_ops.unlink) return false;
      order.push([dir, node, name]);
      return true;
    };
    if (!visit(parent, top, path.slice(cut + 1))) return "other";
    for (const [dir, node, name] of order) {
      if (FS.isDir(node.mode)) dir.node_ops.rmdir(dir, name);
      else dir.node_ops.unlink(dir, name);
      FS.destroyNode(node);
    }
    return undefined;
  };
  return write;
})
"""


class _JsPlace:
    """Where :meth:`MemfsFileOps.keep` moved members: one JavaScript buffer."""

    __slots__ = ("buffer",)

    def __init__(self, buffer: Any) -> None:
        self.buffer = buffer

    def read(self, at: int, size: int) -> bytes:
        return self.buffer.subarray(at, at + size).to_bytes()


class MemfsFileOps(FileOps):
    """:class:`~pyemscripten.installation.FileOps` whose ``write_tree`` makes the files in
    Emscripten's MEMFS directly, one call into JavaScript for many files (up to
    :attr:`BATCH` bytes joined; a file of :attr:`ALONE` bytes or more alone); measured in
    the page, 3,900 small files in 0.03 to 0.05 s instead of 0.14 to 0.25 s. Where the
    folder is not on MEMFS, or outside Pyodide, it writes as :class:`FileOps` does.

    ``compile_libraries``: compile each shared library (``*.so`` starting with the
    WebAssembly magic) as its file is written, off the main thread, for
    :class:`~pyemscripten.browser_loader.PyodideLibraryLoader`'s fast path to instantiate
    (point 8 there); only where that loader will load them, else the compiling is wasted.
    :meth:`release` lets go of the modules the loader did not take.

    The commit's moves (:meth:`entries`, :meth:`move_entries`) and the removal of the
    transaction's scratch folder (:meth:`remove_tree`) are node operations in one call each
    as well, where the file system's own calls would look up each path again: Emscripten's
    ``lookupPath`` makes strings and arrays for every part of a path (``PATH.normalize``),
    about 1 MB of garbage in the commit of (a), at the very end of the install, where the
    peak heap is taken (benchmarks/RESULTS.md, change 54)."""

    ALONE = 1 << 20  # a file this large goes in a call of its own: not copied into a joined buffer first
    BATCH = 8 << 20  # at most this many bytes joined for one call (the join and its copy are transient)

    def __init__(self, compile_libraries: bool = False) -> None:
        self.compile_libraries = compile_libraries
        self._writer: Any = None  # the JS function; False: not in Pyodide
        self._compiled: Any = None  # a JS Set: the nodes of the files compiled as written

    @property
    def moves_bytes(self) -> bool:  # type: ignore[override]
        return self._js_writer() is not False  # asked for every member: no JavaScript call once known

    def keep(self, kept: Sequence[KeptBytes]) -> None:
        """Copy ``kept`` into one JavaScript buffer, which their files will be views of once
        written (the copy the write would make anyway), and let go of their bytes in the
        interpreter. Without it, every member streamed while resolution runs stays in the
        interpreter's memory until the plan is known, and that memory, which a page never
        gets back, grows by as much: to 113 MB after (a), 45-80 MB with it
        (benchmarks/RESULTS.md, change 45)."""
        from pyodide.ffi import to_js

        if self._js_writer() is False or any(k.data is None for k in kept):
            return
        alone = self.ALONE
        small = [k for k in kept if k.size < alone]
        # A large member goes alone: to_js copies it straight from the interpreter's memory,
        # where joining it with the rest would copy it there once more first.
        for run in [[k] for k in kept if k.size >= alone] + ([small] if small else []):
            place = _JsPlace(to_js(b"".join([k.data for k in run])))  # type: ignore[misc]
            at = 0
            for k in run:
                k.move(place, at)
                at += k.size

    def release(self) -> None:
        if self._writer and self._compiled is not None:
            self._writer.release(self._compiled)

    def write_tree(self, root: str, files: Sequence[tuple[str, bytes | KeptBytes]], mode: int) -> None:
        batch: list[tuple[str, bytes | KeptBytes]] = []
        size = 0
        for file in files:
            if isinstance(file[1], KeptBytes) and file[1].data is None:
                batch.append(file)  # already out of the interpreter: written from there, not joined
                continue
            if len(file[1]) >= self.ALONE:
                self._write_batch(root, [file], mode)
                continue
            if batch and size + len(file[1]) > self.BATCH:
                self._write_batch(root, batch, mode)
                batch, size = [], 0
            batch.append(file)
            size += len(file[1])
        if batch:
            self._write_batch(root, batch, mode)

    def entries(self, source: str, target: str) -> list[tuple[str, bool]]:
        answer = self._ask("entries", source, target)
        if answer == "other":
            return super().entries(source, target)
        flags, _, names = str(answer).partition("/")
        return sorted(zip(names.split("\0"), [flag == "1" for flag in flags])) if flags else []

    def move_entries(self, source: str, target: str, names: Sequence[str]) -> bool:
        from pyodide.ffi import JsException

        writer = self._js_writer()
        if not writer:
            return False
        try:
            return writer.moveEntries(source, target, "\0".join(names)) is None
        except JsException as exc:  # some may have moved: the caller journaled them all
            raise OSError(errno.EIO, f"moving into {target} failed: {exc}", source) from None

    def remove_tree(self, path: str) -> None:
        if self._ask("removeTree", path) is not None:
            super().remove_tree(path)

    def _ask(self, name: str, *args: Any) -> Any:
        """The writer's ``name`` called with ``args``; "other" outside Pyodide or where it
        throws (the file system's own calls then say what is wrong)."""
        from pyodide.ffi import JsException

        writer = self._js_writer()
        if not writer:
            return "other"
        try:
            return getattr(writer, name)(*args)
        except JsException:
            return "other"

    def _write_batch(self, root: str, files: list[tuple[str, bytes | KeptBytes]], mode: int) -> None:
        writer = self._js_writer()
        names = "\0".join(relative for relative, _ in files)
        if not writer or names.count("\0") != len(files) - 1:  # a NUL in a name: let the OS refuse it
            super().write_tree(root, files, mode)
            return
        outcome = writer(root, names, _blobs(files), _lengths(data for _, data in files), mode, self._compiled)
        if outcome is None:
            return
        if outcome == "other":
            super().write_tree(root, files, mode)
            return
        code, _, index = str(outcome).partition(" ")
        number = getattr(errno, code, errno.EIO)
        raise OSError(number, os.strerror(number), f"{root}/{files[int(index)][0]}")

    def _js_writer(self) -> Any:
        if self._writer is None:
            try:
                import js
                import pyodide_js
            except ImportError:
                self._writer = False
            else:
                try:
                    self._writer = js_function(_WRITE_TREE_JS)(pyodide_js.FS, pyodide_js._module)
                except ContentSecurityPolicyError:
                    self._writer = False  # the plain writes, through os
                else:
                    if self.compile_libraries:
                        self._compiled = js.Set.new()
        return self._writer


def distribution_lock_url() -> str | None:
    """Where the running Pyodide's ``pyodide-lock.json`` is (its own config says), if the
    transport can ask for it; None (no distribution as a source) otherwise."""
    config = _pyodide_config()
    url = getattr(config, "lockFileURL", None)
    if not (isinstance(url, str) and url):
        index_url = getattr(config, "indexURL", None)
        url = f"{index_url}pyodide-lock.json" if isinstance(index_url, str) and index_url else None
    return _fetchable(url) if url is not None else None


def _fetchable(url: str) -> str | None:
    """``url`` (from the runtime's config) as the transport can ask for it, or None. Pyodide
    outside a page (Node) reads its lock and its wheels from the file system, and its config
    names them by path (or ``file:`` URL): Node reads those as ``file:`` URLs
    (:func:`node_reads_files`), made from the path as Node makes them (``pathToFileURL``:
    relative to the working directory, as Pyodide reads it). Elsewhere ``fetch`` reads no
    ``file:`` URL, and a path is a URL only relative to a page's ``location``: asked for
    anyway, the lock failed every try of a resolution that needed it, with a warning each
    ("Failed to parse URL from /.../pyodide-lock.json"), 1.75 s of waits between them."""
    from urllib.parse import urlsplit

    scheme = urlsplit(url).scheme.lower()
    if len(scheme) > 1 and scheme != "file":  # http(s), blob: (one letter: a Windows drive, "C:\\pyodide\\...")
        return url
    if node_reads_files():
        if scheme == "file":
            return url
        from js import process

        return str(process.getBuiltinModule("node:url").pathToFileURL(url).href)
    if scheme == "file":
        return None
    try:
        from js import location  # noqa: F401 - a page (or a worker): the path is relative to it
    except ImportError:
        return None
    return url


def distribution_files_url() -> str | None:
    """Where the distribution's wheels are: Pyodide's ``packageBaseUrl`` when it is set
    (it defaults to the lock file's folder, which is what ``None`` means here), as
    :func:`_fetchable` makes it."""
    base = getattr(_pyodide_config(), "packageBaseUrl", None)
    return _fetchable(base) if isinstance(base, str) and base else None


def _pyodide_config() -> Any:
    try:
        import pyodide_js
    except ImportError:
        return None
    return pyodide_js._api.config


def tell_package_loader(installed: Mapping[str, tuple[str, str]], removed: Iterable[str] = ()) -> None:
    """Keep the runtime's own package loader told (``pyodide.loadedPackages``, as Pyodide
    fills it at start-up from site-packages): ``installed`` maps each project's normalized
    name to ``(its name as METADATA spells it, where it came from)``; ``removed`` names
    (normalized) those uninstalled. So ``pyodide.loadPackage`` (and ``loadPackagesFromImports``)
    says "already loaded from ..." for what pyemscripten installed, instead of installing its
    own copy over it. ``loadPackage`` goes by the name the runtime's ``pyodide-lock.json``
    gives (``pyyaml``, where METADATA says ``PyYAML``): both are set, and every spelling of a
    project is dropped before. Outside a page, nothing."""
    try:
        import pyodide_js
        from js import Object
    except ImportError:
        return
    from packaging.utils import canonicalize_name

    packages = pyodide_js.loadedPackages
    gone = set(removed) | set(installed)
    for key in list(Object.keys(packages)):
        if canonicalize_name(key) in gone:
            delattr(packages, key)
    lock = getattr(pyodide_js._api, "lockfile_packages", None)  # None until the runtime has read its lock
    for name, (display, source) in installed.items():
        entry = getattr(lock, name, None) if lock is not None else None
        for key in {display, str(getattr(entry, "name", display) or display)}:
            setattr(packages, key, source)


def _is_undefined(value: Any) -> bool:
    from pyodide.ffi import JsProxy

    return value is None or (isinstance(value, JsProxy) and str(value) == "undefined")


class CacheStorageWheelCache(WheelCache):
    """Wheel bodies in the browser's Cache Storage, keyed by sha256 (never trusted without it).

    Cache Storage answers in milliseconds to tens of milliseconds per call, more under load,
    so the hot paths avoid it: the list of entries is read once per instance (one
    ``keys()``; a cold install then never calls ``match``), and each key carries its entry's
    size and the time it was stored, so trimming needs no ``match`` either. Bounded: once the
    entries exceed ``max_bytes`` the least recently used are dropped, at :meth:`flush` (which
    lists the keys again: other instances, other tabs, may have stored entries since).

    A hit is a use once the caller's check finds the body good (:meth:`checked`); an entry
    whose body's sha256 is not its key is dropped at the flush instead. A key cannot change,
    so a hit cannot refresh the time in it: the last use of each entry is kept apart, in one
    small entry of its own (``_USED_KEY``, {sha256: time}), read and written once per flush of an instance that had hits, never per hit: merged into what is
    stored (the later time of each), and written straight after that read, before the
    flush's deletes. An entry's last use is the later of that and the time in its key. Two
    tabs whose flushes both read it before either writes (a few milliseconds apart) still
    lose one of their updates: an entry then looks older than it is, nothing worse.

    The site's storage quota can fill before the bound does (other data of the site, a
    browser that grants little): a put the browser refuses for it is tried once more after
    the least recently used entries, as many as its size, are deleted to make room (never
    the ones the same flush stored). What still does not fit is not kept, and the flush
    says so in one warning; the install it follows has already succeeded.

    Writes wait until the install is done: :meth:`put` only queues a body, and the install
    calls :meth:`flush_later` once its files are in place and its libraries loaded. Storing
    14 MB while a cold install ran cost it about a tenth of its time on loopback (the
    browser's cache writes compete with the install for the page's thread and the
    machine's other core; benchmarks/RESULTS.md, change 29). The flushes left running are
    kept per page; :meth:`settled` (``pyemscripten.wait_for_cache()``) waits for them.

    It holds only wheels that passed every check (:attr:`holds_checked_wheels`, see
    :class:`~pyemscripten.downloads.WheelTasks`): its keys carry ``/checked/``, and entries
    under the keys of earlier versions (which also kept wheels that were then refused) are
    neither read nor kept, in a cache of any name. The earlier default cache,
    ``pyemscripten-wheels-v2``, is deleted once per page, at the first use of a cache.
    """

    _PREFIX = "https://pyemscripten.invalid/checked/sha256/"
    _EARLIER_PREFIX = "https://pyemscripten.invalid/sha256/"
    # Outside _PREFIX: never taken for a wheel, by this version or the earlier ones of v3.
    _USED_KEY = "https://pyemscripten.invalid/checked/used"
    RETIRED = ("pyemscripten-wheels-v2",)
    _retiring: Any = None  # once per page
    _background: ClassVar[set[Any]] = set()  # per page: the flushes installs left running
    holds_checked_wheels = True

    def __init__(self, name: str = "pyemscripten-wheels-v3", max_bytes: int = 512 * 1024 * 1024) -> None:
        self.name = name
        self.max_bytes = max_bytes
        self._entries: Any = None  # a Future of {sha256: (key URL, stored, size)}
        self._queued: list[tuple[str, Any]] = []  # put, not yet written: bytes, or a JavaScript buffer
        self._used: dict[str, float] = {}  # this instance's hits, not yet written: sha256 -> when
        self._dropped: list[str] = []  # keys of entries found bad (see checked), not yet deleted

    @staticmethod
    def available() -> bool:
        """Whether this runtime has Cache Storage (``caches``): a page or a worker in a
        secure context has it; Node's Pyodide, and a page served over plain http from
        another machine, have none."""
        try:
            from js import caches  # noqa: F401
        except ImportError:
            return False
        return True

    async def _cache(self) -> Any:
        from js import caches

        return await caches.open(self.name)

    def prepare(self) -> None:
        # The entry list: one keys() of 5-10 ms, read while the first index pages download,
        # instead of when the first wheel is due.
        self._index()

    async def _retire(self, names: Sequence[str], earlier: Sequence[str]) -> None:
        """Delete the caches ``names`` and this cache's entries under ``earlier`` keys."""
        from js import caches

        try:
            for name in names:
                await caches.delete(name)
            if earlier:
                cache = await self._cache()
                for key in earlier:
                    await cache.delete(key)
        except Exception:  # noqa: BLE001, S110 - Cache Storage is optional
            pass

    def _index(self) -> Any:
        import asyncio

        if self._entries is None:
            self._entries = asyncio.ensure_future(self._read_index())
        return self._entries

    async def _read_index(self) -> dict[str, tuple[str, float, int]]:
        import asyncio

        try:
            requests = (await (await self._cache()).keys()).to_py()
        except Exception:  # Cache Storage is optional (opaque origins, private mode)
            return {}
        entries, earlier = self._listed(requests)
        retired = [name for name in self.RETIRED if name != self.name]
        if CacheStorageWheelCache._retiring is not None:
            retired = []  # once per page
        if retired or earlier:
            CacheStorageWheelCache._retiring = asyncio.ensure_future(self._retire(retired, earlier))
        return entries

    @classmethod
    def _listed(cls, requests: Iterable[Any]) -> tuple[dict[str, tuple[str, float, int]], list[str]]:
        """The entries the cache's keys ``requests`` name, {sha256: (key URL, stored, size)},
        and the keys to delete: those of earlier versions, and of a wheel stored twice."""
        entries: dict[str, tuple[str, float, int]] = {}
        earlier = []
        for request in requests:
            url = str(request.url)
            parsed = cls._parse_key(url)
            if parsed is not None:
                # Two installs that stored one wheel at once (two tabs) leave two keys: the
                # newer one is kept, the other deleted, so that the bound counts every byte.
                other = entries.get(parsed[0])
                if other is not None and other[1] > parsed[1]:
                    earlier.append(url)
                    continue
                if other is not None:
                    earlier.append(other[0])
                entries[parsed[0]] = (url, parsed[1], parsed[2])
            elif url.startswith(cls._EARLIER_PREFIX):
                earlier.append(url)
        return entries, earlier

    @classmethod
    def _parse_key(cls, url: str) -> tuple[str, float, int] | None:
        from urllib.parse import parse_qs, urlsplit

        if not url.startswith(cls._PREFIX):
            return None
        parts = urlsplit(url)
        query = parse_qs(parts.query)
        sha256 = parts.path.rsplit("/", 1)[1].lower()  # as get() and put() spell it (a key stored upper case before)
        try:
            return sha256, float(query["stored"][0]), int(query["size"][0])
        except (KeyError, IndexError, ValueError):
            return sha256, 0.0, 0

    async def get(self, sha256: str) -> bytes | None:
        sha256 = sha256.lower()  # hex: one key however it was spelled (see _parse_key)
        entry = (await self._index()).get(sha256)
        if entry is None:
            return None
        try:
            found = await (await self._cache()).match(entry[0])
            if found is None or _is_undefined(found):
                return None
            body: bytes = (await found.arrayBuffer()).to_bytes()
        except Exception:
            return None
        return body  # a use once the caller's check finds it good (checked())

    def checked(self, sha256: str, good: bool) -> None:
        """Note a use of a good entry (its time written at the flush); drop a bad one (its
        sha256 is not its key) at the flush, and from this instance's list now."""
        sha256 = sha256.lower()
        if good:
            self._used[sha256] = _now()
            return
        entries = self._entries.result() if self._entries is not None and self._entries.done() else {}
        entry = entries.pop(sha256, None)
        if entry is not None:
            self._dropped.append(entry[0])

    async def put(self, sha256: str, data: bytes, kept: Any = None) -> None:
        """Queue ``data``; it is in the cache once :meth:`flush` returns. With ``kept``, the
        transport's JavaScript copy of the same bytes (:class:`FetchTransport`), that is
        queued instead, so the interpreter's copy can go before the install ends (its memory
        never shrinks: see :meth:`MemfsFileOps.keep`), and nothing is copied to store it."""
        self._queued.append((sha256.lower(), data if kept is None else kept))

    async def _store(self, sha256: str, data: Any) -> str:
        """Put one body: "stored", "full" (the browser refused it for the site's quota) or
        "failed" (anything else: a full or unavailable cache must never fail an install)."""
        from js import Response as JsResponse, Uint8Array

        try:
            entries = await self._index()
            cache = await self._cache()
            stored = _now()
            if isinstance(data, bytes):
                body = Uint8Array.new(len(data))
                body.assign(data)
            else:
                body = data
            size = int(body.length)
            key = f"{self._PREFIX}{sha256}?size={size}&stored={stored}"
            await cache.put(key, JsResponse.new(body))
        except Exception as exc:  # noqa: BLE001 - see the docstring
            return "full" if _quota_exceeded(exc) else "failed"
        old = entries.get(sha256)
        entries[sha256] = (key, stored, size)
        if old is not None and old[0] != key:
            try:
                await cache.delete(old[0])
            except Exception:  # noqa: BLE001, S110 - listed again at the next trim, deleted then
                pass
        return "stored"

    async def flush(self, warn: Callable[[str], None] | None = None) -> None:
        """Write what is queued and the times of this instance's hits, and wait for every
        write, then drop the least recently used entries over the bound. ``warn`` is told of
        wheels the site's storage quota left out (once, for all of them)."""
        import asyncio

        queued, self._queued = self._queued, []
        used, self._used = self._used, {}
        dropped, self._dropped = self._dropped, []
        if dropped:  # first: what they held is room for what is stored now
            await self._delete(dropped)
        outcomes = await asyncio.gather(*(self._store(sha256, data) for sha256, data in queued), return_exceptions=True)
        # Refused for the quota: tried again in _trim, once room is made, one after another
        # (together they were refused together).
        full = [item for item, outcome in zip(queued, outcomes) if outcome == "full"]
        stored = {sha256 for (sha256, _), outcome in zip(queued, outcomes) if outcome == "stored"}
        if not (queued or used or dropped):
            return
        lost = await self._trim(used, full, stored)
        if lost and warn is not None:
            size = sum(_length(data) for _, data in lost)
            warn(f"The wheel cache could not keep {len(lost)} wheel{'s' if len(lost) > 1 else ''} ({size_text(size)}, "
                 f"sha256 {', '.join(sha256[:12] for sha256, _ in lost)}): the browser refused them for this site's "
                 "storage quota even after the least recently used wheels were dropped. The install is not affected; "
                 "they will be downloaded again next time. To keep them, free this site's storage "
                 "(pyemscripten.clear_cache(), or the browser's site settings).")

    async def _delete(self, keys: Sequence[str]) -> None:
        try:
            cache = await self._cache()
            for key in keys:
                await cache.delete(key)
        except Exception:  # noqa: BLE001, S110 - unavailable: found bad again at its next use
            pass

    async def _last_used(self, cache: Any) -> dict[str, float]:
        """The ``_USED_KEY`` entry: {sha256: time of its last use}; {} if none or unreadable
        (it only orders evictions: nothing is trusted from it)."""
        import json

        try:
            found = await cache.match(self._USED_KEY)
            if found is None or _is_undefined(found):
                return {}
            times = json.loads((await found.arrayBuffer()).to_bytes())
        except Exception:  # noqa: BLE001 - unreadable: every entry counts from when it was stored
            return {}
        if not isinstance(times, dict):
            return {}
        return {k: float(v) for k, v in times.items() if isinstance(k, str) and isinstance(v, (int, float))}

    async def _trim(self, used: Mapping[str, float], full: Sequence[tuple[str, Any]] = (),
                    stored: Collection[str] = ()) -> list[tuple[str, Any]]:
        """Record ``used``, store ``full`` after making room (see :meth:`_make_room`), and
        drop the least recently used entries over the bound; returns what of ``full`` is
        not kept."""
        entries = await self._index()
        try:
            cache = await self._cache()
            # The bound counts what the cache holds now, listed again (one keys()), not the
            # list this instance read as its install began: each install has an instance of
            # its own, and the writes of the one before, still under way then (flush_later),
            # or of another tab, were not in it. Counting only that list left the cache over
            # its bound, for good once later visits stored nothing new (a warm start).
            held, superseded = self._listed((await cache.keys()).to_py())
            for key in superseded:
                await cache.delete(key)
            for sha256, entry in held.items():  # this instance's get() finds those too
                if sha256 not in entries or entries[sha256][1] < entry[1]:
                    entries[sha256] = entry
            times = await self._last_used(cache)
            for sha256, when in used.items():
                times[sha256] = max(when, times.get(sha256, 0.0))
            # One write for all of this instance's hits, right after the read it merges
            # into: another tab's write between the two is lost, and the deletes below are
            # a round trip each (written after them, a tab whose flush landed meanwhile
            # lost its uses). The entries they delete stay listed in it until the next write.
            written = not used or await self._write_last_used(cache, times, held)
            lost = await self._make_room(cache, held, times, full, stored) if full else []
            total = sum(size for _, _, size in held.values())
            for sha256 in _least_recently_used(held, times):
                if total <= self.max_bytes:
                    break
                total -= await self._evict(cache, held, sha256)
            if not written:  # refused for the quota: maybe there is room now
                await self._write_last_used(cache, times, held)
        except Exception:  # noqa: BLE001 - unavailable: what was not stored is lost, no more
            return list(full)
        return lost

    async def _make_room(self, cache: Any, held: dict[str, tuple[str, float, int]], times: Mapping[str, float],
                         full: Sequence[tuple[str, Any]], stored: Collection[str]) -> list[tuple[str, Any]]:
        """Put each of ``full`` again once the least recently used entries of ``held`` (not
        those in ``stored``, this flush's), as many as its size, are deleted; returns those
        still refused. The first one refused again ends it: the quota is not this cache's
        to fill (other data of the site holds it), and deleting more would only empty it."""
        entries = await self._index()
        victims = [sha for sha in _least_recently_used(held, times) if sha not in stored]
        for done, (sha256, data) in enumerate(full):
            room = 0
            while room < _length(data) and victims:
                room += await self._evict(cache, held, victims.pop(0))
            if await self._store(sha256, data) != "stored":
                return list(full[done:])
            held[sha256] = entries[sha256]
        return []

    async def _evict(self, cache: Any, held: dict[str, tuple[str, float, int]], sha256: str) -> int:
        """Delete ``held``'s entry for ``sha256`` (from Cache Storage, ``held`` and this
        instance's list, unless a newer body was stored under it meanwhile); its size."""
        key, _, size = held.pop(sha256)
        await cache.delete(key)
        entries = await self._index()
        if entries.get(sha256, ("",))[0] == key:  # not a newer body stored meanwhile
            del entries[sha256]
        return size

    async def _write_last_used(self, cache: Any, times: Mapping[str, float], held: Collection[str]) -> bool:
        """Store ``times`` of the entries in ``held`` (those gone are left out); whether it
        was stored (refused: the quota; the times only order evictions)."""
        import json

        from js import Response as JsResponse

        kept = {sha: when for sha, when in times.items() if sha in held}
        try:
            await cache.put(self._USED_KEY, JsResponse.new(json.dumps(kept, separators=(",", ":"))))
        except Exception:  # noqa: BLE001 - see the docstring
            return False
        return True

    def flush_later(self, warn: Callable[[str], None] | None = None) -> None:
        import asyncio

        if not self._queued and not self._used and not self._dropped:
            return
        task = asyncio.ensure_future(self.flush(warn))
        background = CacheStorageWheelCache._background
        background.add(task)
        task.add_done_callback(background.discard)

    @classmethod
    async def settled(cls) -> None:
        """Wait until the writes that installs of this page left running are done."""
        import asyncio

        # One wait on what is running now, not a loop until the set is empty: a finished
        # flush leaves the set in a done callback that Pyodide's loop runs from a timer,
        # while awaiting finished tasks resumes in microtasks, so such a loop never let the
        # timer run and kept the page busy for good (seen in benchmarks/ab.py runs).
        await asyncio.gather(*list(cls._background), return_exceptions=True)

    async def clear(self) -> None:
        await self.settled()  # a write still under way would land after the clear
        await self.flush()
        self._entries = None
        try:
            from js import caches
        except ImportError:  # no Cache Storage here (not a secure context, an opaque origin)
            return
        for name in (self.name, *(n for n in self.RETIRED if n != self.name)):
            try:
                await caches.delete(name)
            except Exception:  # noqa: BLE001 - storage refused (private mode): then nothing was kept there either
                return


def _now() -> float:
    import time

    return time.time()


def _least_recently_used(held: Mapping[str, tuple[str, float, int]], times: Mapping[str, float]) -> list[str]:
    """The sha256 keys of ``held`` ({sha256: (key URL, stored, size)}), least recently used
    first: an entry's last use is the later of when it was stored and ``times``' record."""
    return sorted(held, key=lambda sha: max(held[sha][1], times.get(sha, 0.0)))


def _length(data: Any) -> int:
    """The size of a queued body: bytes, or a JavaScript buffer (``Uint8Array``)."""
    return len(data) if isinstance(data, (bytes, bytearray, memoryview)) else int(data.length)


def _quota_exceeded(exc: BaseException) -> bool:
    """Whether a Cache Storage call was refused for the site's storage quota: the browser
    rejects it with a ``DOMException`` named ``QuotaExceededError`` (WHATWG Storage), which
    Pyodide raises as a ``JsException`` of that name."""
    name = getattr(exc, "name", None) or type(exc).__name__
    return name == "QuotaExceededError" or str(exc).startswith("QuotaExceededError")


# Digests a list of Python bytes-like objects with WebCrypto, straight from the interpreter's
# memory (``getBuffer``: no copy into JS first; ``digest`` copies its input when called), and
# answers with all digests in one buffer, so the answer crosses into Python once.
_DIGEST_JS = r"""
(async (buffer, lengthList) => {
  // One buffer holds the blobs back to back (lengthList: their sizes, see _lengths). digest() copies
  // its input before it returns a promise, so the view is released before any await. The
  // proxy of the argument belongs to the caller: Pyodide destroys it after the call.
  const view = buffer.getBuffer("u8");
  const pending = [];
  try {
    let start = 0;
    for (const length of lengthList.split(",").map(Number)) {
      pending.push(crypto.subtle.digest("SHA-256", view.data.subarray(start, start + length)));
      start += length;
    }
  } finally { view.release(); }
  const digests = await Promise.all(pending);
  const out = new Uint8Array(32 * digests.length);
  digests.forEach((d, i) => out.set(new Uint8Array(d), 32 * i));
  return out;
})
"""


class WebCryptoHasher(Hasher):
    """sha256 through the browser's WebCrypto for blobs of ``threshold`` bytes or more.

    Measured in Chromium on Pyodide 314 (this machine): the 160 files of grill-usd-core
    (109 MB) hash in 0.35 s with hashlib, 0.125 s this way; sympy's 1,570 files (27 MB) in
    0.09 s and 0.04 s. Below a few kB the crossing into JS costs more than the hash, so
    small blobs stay with hashlib. Where WebCrypto is missing (not a secure context, or not
    in a browser at all) everything is hashed with hashlib.
    """

    RUN = 4 << 20  # blobs are handed over joined in runs of up to this many bytes

    def __init__(self, threshold: int = 4096) -> None:
        self.threshold = threshold
        self._digest: Any = None

    async def sha256(self, blobs: Sequence[bytes]) -> list[bytes]:
        return await self.start(blobs)

    def start(self, blobs: Sequence[bytes]) -> Coroutine[Any, Any, list[bytes]]:
        """Hand the large blobs to WebCrypto and hash the small ones, now; the coroutine
        returned collects WebCrypto's answers (see :meth:`Hasher.start`)."""
        big = [i for i, blob in enumerate(blobs) if len(blob) >= self.threshold]
        digest: Any = self._webcrypto() if big else None
        if digest is None:
            big = []  # all of them here
        # Small blobs are joined into runs: one crossing into JavaScript (one proxy, one
        # buffer view) per run instead of per blob. Per blob, those were most of the JS
        # garbage an install made beyond the file system's own (allocation sampling), and
        # joining is cheaper than the crossings (sympy's 953 blobs: 45 -> 30 ms).
        pending = [digest(run[0] if len(run) == 1 else b"".join(run), _lengths(run))
                   for run in self._runs([blobs[i] for i in big])]
        handed = set(big)
        found = {i: hashlib.sha256(blob).digest() for i, blob in enumerate(blobs) if i not in handed}
        return self._collect(pending, big, found)

    @staticmethod
    async def _collect(pending: list[Any], big: list[int], found: dict[int, bytes]) -> list[bytes]:
        out = b"".join([(await result).to_bytes() for result in pending])
        found.update((i, out[32 * n:32 * n + 32]) for n, i in enumerate(big))
        return [found[i] for i in range(len(found))]

    def _runs(self, blobs: list[bytes]) -> list[list[bytes]]:
        runs: list[list[bytes]] = []
        size = self.RUN
        for blob in blobs:
            if size + len(blob) > self.RUN:
                runs.append([])
                size = 0
            runs[-1].append(blob)
            size += len(blob)
        return runs

    def _webcrypto(self) -> Any:
        if self._digest is None:
            self._digest = False
            try:
                import js  # type: ignore[import-not-found]
            except ImportError:
                return None
            crypto = getattr(js, "crypto", None)
            if crypto is not None and getattr(crypto, "subtle", None) is not None:
                try:
                    self._digest = js_function(_DIGEST_JS)
                except ContentSecurityPolicyError:
                    pass  # hashlib, for good
        return self._digest or None


# --- the JavaScript pyemscripten runs ----------------------------------------------------

# Where js/index.mjs puts the npm package's copy of that JavaScript, made when its module
# loaded: {js_key(text): value}.
_JAVASCRIPT = "pyemscripten.javascript"


@functools.cache
def js_key(code: str) -> str:
    """The name of the JavaScript ``code`` in the npm package's copy: its text's digest, so
    that another version's never stands in for it."""
    return hashlib.sha256(code.encode()).hexdigest()[:24]


def javascript() -> dict[str, str]:
    """Every JavaScript expression pyemscripten evaluates in a page, by :func:`js_key`: what
    ``scripts/build_js.py`` writes into the npm package as module code."""
    from . import browser_loader

    pieces = (_FETCH_JS, _READ_FILE_JS, _WRITE_TREE_JS, _DIGEST_JS, browser_loader._FAST_LOAD_JS, browser_loader._SEQUENTIAL_LOAD_JS)
    return {js_key(code): code for code in pieces}


def eval_forbidden(message: str) -> bool:
    """Whether a JavaScript error's ``message`` (alone, or inside the runtime's own words) is
    the page's Content Security Policy refusing to evaluate text: Chromium and Safari name
    ``'unsafe-eval'``, Firefox says "blocked by CSP"."""
    return "'unsafe-eval'" in message or "EvalError" in message or "blocked by CSP" in message


def js_function(code: str) -> Any:
    """The value of the JavaScript expression ``code`` (one of :func:`javascript`'s).

    Started through the npm package, the page has it as module code already (its
    ``wheels/manifest.mjs``), and nothing is evaluated: a page whose Content Security Policy
    has no ``'unsafe-eval'`` (Pyodide needs only ``'wasm-unsafe-eval'``) runs pyemscripten
    too. Otherwise the text is evaluated, in strict mode as a module's code is, so that both
    ways run it alike. Raises :class:`ContentSecurityPolicyError` where the page forbids that.
    """
    import js  # type: ignore[import-not-found]
    from pyodide.code import run_js  # type: ignore[import-not-found]

    copies = js.Reflect.get(js.globalThis, getattr(js.Symbol, "for")(_JAVASCRIPT))
    if copies is not None:
        found = js.Reflect.get(copies, js_key(code))
        if found is not None:
            return found
    try:
        return run_js('"use strict";\n' + code)
    except Exception as exc:
        if getattr(exc, "name", None) == "EvalError" or eval_forbidden(str(exc)):
            raise ContentSecurityPolicyError(str(exc), npm_copy=copies is not None) from exc
        raise
