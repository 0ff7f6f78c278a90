"""What browser tests of failures need: a page-side snapshot of site-packages, and wheels.

    session.run(PAGE_HELPERS)             # once per page
    before = session.run("listing()")     # {path in site-packages: sha256 or "dir"}
    session.run("elsewhere()")            # every file outside site-packages (names)
    session.run("await attempt(requirement, index_url, fetch_timeout, attempts, backoff)")
    session.run("events"), session.run("elapsed")   # of the last attempt

``attempt`` installs with a fresh :class:`pyemscripten.api.Session` (its own FetchTransport
with the timeout given, the retry policy given, no runtime distribution).
"""

from __future__ import annotations

import random
from typing import Any

from .browser import DEFAULT_RUNTIME, PyodideSession, boot
from .index_server import IndexServer
from .wheels import WheelBytes, make_wheel

PAGE_HELPERS = r"""
import hashlib, importlib, os, site, sys, time
import pyemscripten
from pyemscripten.api import Session, install
from pyemscripten.browser import FetchTransport
from pyemscripten.index_client import RetryPolicy

SITE = site.getsitepackages()[0]

def listing():
    '''Every file (sha256) and folder of site-packages, bytecode caches aside.'''
    out = {}
    for dirpath, dirnames, filenames in os.walk(SITE):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for d in dirnames:
            out[os.path.relpath(os.path.join(dirpath, d), SITE) + "/"] = "dir"
        for f in filenames:
            path = os.path.join(dirpath, f)
            with open(path, "rb") as handle:
                out[os.path.relpath(path, SITE)] = hashlib.sha256(handle.read()).hexdigest()
    return out

def elsewhere():
    '''Every file outside site-packages (names only): nothing may be written there.'''
    found = []
    for dirpath, dirnames, filenames in os.walk("/"):
        if dirpath == "/":
            dirnames[:] = [d for d in dirnames if d not in ("proc", "dev", "sys")]
        if dirpath == SITE or dirpath.startswith(SITE + "/"):
            dirnames[:] = []
            continue
        found += [os.path.join(dirpath, f) for f in filenames]
    return sorted(found)

async def attempt(requirement, index_url, timeout=10.0, attempts=3, backoff=0.05, scheme=None, **options):
    '''Install with a fresh session; keep the events and the time it took in globals.
    ``index_url``: one URL or a list; ``scheme``: a Scheme, or None for site-packages.'''
    global events, elapsed
    events = []
    session = Session(transport=FetchTransport(timeout=timeout), retry=RetryPolicy(attempts, backoff),
                      distribution_url="", scheme=scheme)
    index_urls = [index_url] if isinstance(index_url, str) else list(index_url)
    started = time.monotonic()
    try:
        return await install(requirement, index_urls, quiet=True, on_progress=events.append,
                             session=session, **options)
    finally:
        elapsed = time.monotonic() - started
"""


def boot_with_helpers(browser: Any, server: IndexServer, version: str = DEFAULT_RUNTIME) -> PyodideSession:
    """A fresh page with :data:`PAGE_HELPERS` defined (for a module-scoped fixture)."""
    session = boot(browser, server, version)
    session.run(PAGE_HELPERS)
    return session


def pure(project: str, version: str = "1.0", files: dict | None = None, **kwargs: object) -> WheelBytes:
    module = project.replace("-", "_")
    return make_wheel(project, version, {f"{module}/__init__.py": f"V = {version!r}\n", **(files or {})},
                      **kwargs)


def large(project: str, version: str = "1.0", **kwargs: object) -> WheelBytes:
    """A pure wheel above :attr:`~pyemscripten.downloads.WheelTasks.SMALL`: resolution asks
    for its ``.metadata`` file (a smaller guessed wheel gives its METADATA itself)."""
    return pure(project, version, filler(project), **kwargs)


def filler(project: str) -> dict[str, bytes]:
    """A member that makes a wheel larger than
    :attr:`~pyemscripten.downloads.WheelTasks.SMALL` (random bytes: they do not deflate)."""
    from pyemscripten.downloads import WheelTasks

    return {f"{project.replace('-', '_')}/filler.bin": random.Random(project).randbytes(WheelTasks.SMALL + 16384)}


def blob(project: str) -> dict[str, bytes]:
    """A member that makes the wheel a few kB, so a body can be cut off in the middle."""
    return {f"{project.replace('-', '_')}/blob.bin": bytes((i * 7919) % 251 for i in range(16384))}


def wasm_module(*, dylink_size: int | None = None, tail: bytes = b"") -> bytes:
    """A tiny side module: a ``dylink.0`` section (MEM_INFO all zero), then ``tail``.

    ``dylink_size`` overrides the section's declared size (a lie makes it malformed).
    """
    name = b"\x08dylink.0"
    body = name + b"\x01\x04\x00\x00\x00\x00"
    size = len(body) if dylink_size is None else dylink_size
    leb = bytearray()
    while True:
        byte, size = size & 0x7F, size >> 7
        leb.append(byte | (0x80 if size else 0))
        if not size:
            break
    return b"\0asm\x01\0\0\0" + b"\x00" + bytes(leb) + body + tail


# A dylink section that claims far more bytes than the file has.
MALFORMED_SO = wasm_module(dylink_size=0xFFFFFFF)
# dylink.0 parses, the rest does not compile: the runtime's loader refuses it.
UNCOMPILABLE_SO = wasm_module(tail=b"\x01\x05\xff\xff\xff\xff\xff")


def padded(wheel: bytes, size: int) -> bytes:
    """``wheel`` grown to ``size`` bytes with a zip comment (still the same valid archive)."""
    missing = size - len(wheel)
    if missing < 0 or missing > 0xFFFF:
        raise ValueError(f"cannot pad {len(wheel)} bytes to {size}")
    # The comment length sits in the last two bytes of the end-of-central-directory record.
    if wheel[-22:-18] != b"PK\x05\x06":
        raise ValueError("the archive already has a comment")
    return wheel[:-2] + missing.to_bytes(2, "little") + b" " * missing


def flipped(data: bytes) -> bytes:
    """The same length, one byte different: only the hash can tell."""
    middle = len(data) // 2
    return data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1:]
