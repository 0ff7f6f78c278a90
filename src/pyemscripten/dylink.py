"""The ``dylink.0`` custom section of a WebAssembly side module: read it, and rewrite it.

A side module (a ``.so`` built with ``-shared`` for Emscripten) starts with a custom section
that tells the dynamic linker how much memory and table space to reserve and which other
libraries it needs (the ELF ``DT_NEEDED``/``DT_RUNPATH`` of the web). Layout
(WebAssembly tool-conventions, DynamicLinking.md)::

    "\\0asm" version:u32
    section id=0 size:varuint32
        name:string = "dylink.0"
        subsection* : id:u8 size:varuint32 payload
            1 MEM_INFO      memory_size memory_align table_size table_align (varuint32 each)
            2 NEEDED        count string*
            3 EXPORT_INFO   count (name flags)*
            4 IMPORT_INFO   count (module field flags)*
            5 RUNTIME_PATH  count string*

Strings are a varuint32 length then UTF-8 bytes. Unknown subsections are skipped, as
Emscripten's own ``getDylinkMetadata`` does. Rule 1: the section must be the very first one;
the runtime refuses a module where it is not, so we do too.

The legacy ``dylink`` section (Emscripten < 2.0.24) is one flat record: memory size/align,
table size/align, then NEEDED; it has no RUNTIME_PATH.

Everything here is pure and total: any input either parses or raises
:class:`~pyemscripten.errors.DylinkError`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from pyemscripten.errors import DylinkError

WASM_MAGIC = b"\0asm"
WASM_VERSION = b"\x01\0\0\0"

SUBSECTION_MEM_INFO = 1
SUBSECTION_NEEDED = 2
SUBSECTION_EXPORT_INFO = 3
SUBSECTION_IMPORT_INFO = 4
SUBSECTION_RUNTIME_PATH = 5


@dataclass(frozen=True)
class MemInfo:
    """Space the module asks the loader to reserve. Alignments are powers of two (log2)."""

    memory_size: int = 0
    memory_align: int = 0
    table_size: int = 0
    table_align: int = 0


@dataclass(frozen=True)
class DylinkInfo:
    """What the dynamic linker reads from one side module."""

    mem_info: MemInfo
    needed: tuple[str, ...] = ()
    runtime_paths: tuple[str, ...] = ()
    legacy: bool = False  # read from the pre-2.0.24 ``dylink`` section


class _Reader:
    """Bounds-checked cursor over ``data[pos:end]``; every overrun becomes a DylinkError."""

    def __init__(self, data: bytes, filename: str, pos: int = 0, end: int | None = None) -> None:
        self.data = data
        self.filename = filename
        self.pos = pos
        self.end = len(data) if end is None else end

    def fail(self, reason: str) -> DylinkError:
        return DylinkError(self.filename, reason)

    def at_end(self) -> bool:
        return self.pos >= self.end

    def u8(self, what: str) -> int:
        if self.pos >= self.end:
            raise self.fail(f"truncated: expected {what} at byte {self.pos}")
        value = self.data[self.pos]
        self.pos += 1
        return value

    def varuint32(self, what: str) -> int:
        result = 0
        for shift in range(0, 35, 7):
            byte = self.u8(what)
            result |= (byte & 0x7F) << shift
            if not byte & 0x80:
                if result > 0xFFFFFFFF:
                    raise self.fail(f"{what} does not fit in 32 bits")
                return result
        raise self.fail(f"{what} is a LEB128 number longer than 5 bytes")

    def take(self, n: int, what: str) -> bytes:
        if n > self.end - self.pos:
            raise self.fail(f"truncated: {what} needs {n} bytes, {self.end - self.pos} left")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def skip(self, n: int, what: str) -> None:
        """Move past ``n`` bytes, as :meth:`take` does, without copying them."""
        if n > self.end - self.pos:
            raise self.fail(f"truncated: {what} needs {n} bytes, {self.end - self.pos} left")
        self.pos += n

    def string(self, what: str) -> str:
        raw = self.take(self.varuint32(f"length of {what}"), what)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise self.fail(f"{what} is not valid UTF-8: {raw[:40]!r}") from None

    def string_list(self, what: str) -> tuple[str, ...]:
        count = self.varuint32(f"number of {what} entries")
        # Each string takes at least one byte: a bigger count is a lie, not a reason to loop.
        if count > self.end - self.pos:
            raise self.fail(f"{what} claims {count} entries in {self.end - self.pos} bytes")
        return tuple(self.string(f"{what} entry") for _ in range(count))


@dataclass(frozen=True)
class _Section:
    name: str
    body_start: int  # first byte after the name
    end: int  # one past the section's last byte
    start: int  # the section id byte


def _first_section(data: bytes, filename: str) -> _Section:
    if len(data) < 8 or data[:4] != WASM_MAGIC:
        raise DylinkError(filename, "not a WebAssembly module (no \\0asm magic number)")
    if data[4:8] != WASM_VERSION:
        raise DylinkError(filename, f"unsupported WebAssembly version {data[4:8].hex()}")
    reader = _Reader(data, filename, pos=8)
    if reader.at_end():
        raise DylinkError(filename, "no dylink.0 section: the module has no sections at all")
    section_id = reader.u8("section id")
    if section_id != 0:
        raise DylinkError(filename, f"no dylink.0 section: the first section has id {section_id}, not a custom section")
    size = reader.varuint32("section size")
    if size > len(data) - reader.pos:
        raise DylinkError(filename, f"truncated: the first section claims {size} bytes, {len(data) - reader.pos} left")
    end = reader.pos + size
    reader.end = end
    name = reader.string("section name")
    return _Section(name=name, body_start=reader.pos, end=end, start=8)


def first_section_end(head: bytes) -> int | None:
    """How many bytes from the start of a module hold its whole first section, read from
    the module's first bytes (14 are enough), or None if ``head`` does not say (not a
    module, or too short): then read the whole file."""
    if len(head) < 10 or head[:4] != WASM_MAGIC:
        return None
    reader = _Reader(head, "<head>", pos=9)  # section id at 8, then its size: varuint32
    try:
        size = reader.varuint32("section size")
    except DylinkError:
        return None
    return reader.pos + size


def parse_dylink(data: bytes, filename: str = "<side module>", *, newer_loader: bool = False) -> DylinkInfo:
    """Read the dynamic-linking metadata of the side module ``data``.

    ``filename`` is only used in error messages. Reading the first few kilobytes of a file is
    enough only if the section fits in them; pass the whole file when unsure.

    ``newer_loader``: read it as the loader of Pyodide 0.28 and later (platforms 2025_0 on,
    Emscripten 4's ``getDylinkMetadata``) does: a second NEEDED or RUNTIME_PATH subsection
    replaces the first (Pyodide 0.27's adds to it), and the legacy ``dylink`` section is
    refused (0.27's reads it).

    Raises :class:`~pyemscripten.errors.DylinkError` when ``data`` is not a WebAssembly
    module, its first section is not ``dylink.0`` (or legacy ``dylink``), or the section is
    truncated or inconsistent.
    """
    section = _first_section(data, filename)
    reader = _Reader(data, filename, pos=section.body_start, end=section.end)
    if section.name == "dylink":
        if newer_loader:
            raise DylinkError(filename, "its first section is the legacy 'dylink' (Emscripten before 2.0.24), which "
                                        "this runtime's loader does not read")
        return _parse_legacy(reader)
    if section.name != "dylink.0":
        raise DylinkError(filename, f"no dylink.0 section: the first custom section is {section.name!r}")
    mem_info = MemInfo()
    needed: tuple[str, ...] = ()
    runtime_paths: tuple[str, ...] = ()
    while not reader.at_end():
        kind = reader.u8("subsection id")
        size = reader.varuint32("subsection size")
        payload_start = reader.pos
        payload = _Reader(data, filename, pos=payload_start, end=payload_start + size)
        if size > reader.end - payload_start:
            raise DylinkError(filename, f"truncated: subsection {kind} claims {size} bytes, {reader.end - payload_start} left")
        if kind == SUBSECTION_MEM_INFO:
            mem_info = MemInfo(*(payload.varuint32(f"MEM_INFO field {i}") for i in range(4)))
        elif kind == SUBSECTION_NEEDED:  # a second one replaces or adds to the first, as the loader reads them
            needed = payload.string_list("NEEDED") if newer_loader else needed + payload.string_list("NEEDED")
        elif kind == SUBSECTION_RUNTIME_PATH:
            paths = payload.string_list("RUNTIME_PATH")
            runtime_paths = paths if newer_loader else runtime_paths + paths
        # EXPORT_INFO, IMPORT_INFO and unknown kinds: the loader needs nothing from them here.
        if kind in (SUBSECTION_MEM_INFO, SUBSECTION_NEEDED, SUBSECTION_RUNTIME_PATH) and not payload.at_end():
            raise DylinkError(filename, f"subsection {kind} has {payload.end - payload.pos} unread bytes")
        reader.pos = payload_start + size
    return DylinkInfo(mem_info=mem_info, needed=needed, runtime_paths=runtime_paths)


def _parse_legacy(reader: _Reader) -> DylinkInfo:
    mem_info = MemInfo(*(reader.varuint32(f"legacy dylink field {i}") for i in range(4)))
    needed = reader.string_list("NEEDED")
    return DylinkInfo(mem_info=mem_info, needed=needed, legacy=True)


# --- writing -------------------------------------------------------------------------


def _leb(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _string(text: str) -> bytes:
    raw = text.encode("utf-8")
    return _leb(len(raw)) + raw


def _subsection(kind: int, payload: bytes) -> bytes:
    return bytes([kind]) + _leb(len(payload)) + payload


def with_runtime_paths(data: bytes, paths: Iterable[str], filename: str = "<side module>") -> bytes:
    """Return ``data`` with the RUNTIME_PATH subsection of ``dylink.0`` set to ``paths``.

    wasm-ld has no ``-rpath``, so this is how a build sets ``$ORIGIN/../pkg.libs``. Other
    subsections are kept byte for byte; the new one goes after those with a lower id.
    An empty ``paths`` removes the subsection.

    Raises :class:`~pyemscripten.errors.DylinkError` if ``data`` has no valid ``dylink.0``
    section (the legacy ``dylink`` section cannot hold a RUNTIME_PATH).
    """
    section = _first_section(data, filename)
    if section.name != "dylink.0":
        raise DylinkError(filename, f"cannot set RUNTIME_PATH: the first section is {section.name!r}, not 'dylink.0'")
    parse_dylink(data, filename)  # validates every subsection before we copy them
    paths = list(paths)
    reader = _Reader(data, filename, pos=section.body_start, end=section.end)
    kept: list[tuple[int, bytes]] = []
    while not reader.at_end():
        kind = reader.u8("subsection id")
        size = reader.varuint32("subsection size")
        payload = reader.take(size, f"subsection {kind}")
        if kind != SUBSECTION_RUNTIME_PATH:
            kept.append((kind, _subsection(kind, payload)))
    if paths:
        payload = _leb(len(paths)) + b"".join(_string(p) for p in paths)
        position = sum(1 for kind, _ in kept if kind < SUBSECTION_RUNTIME_PATH)
        kept.insert(position, (SUBSECTION_RUNTIME_PATH, _subsection(SUBSECTION_RUNTIME_PATH, payload)))
    body = _string("dylink.0") + b"".join(raw for _, raw in kept)
    new_section = b"\0" + _leb(len(body)) + body
    return data[: section.start] + new_section + data[section.end :]


def imports_symbol(data: bytes, name: str) -> bool:
    """Whether the module ``data`` imports ``name`` (its import section names it): which
    library of a batch asked for a symbol nothing defined. False for what does not parse."""
    encoded = _string(name)
    reader = _Reader(data, "<module>", pos=8)
    try:
        while not reader.at_end():
            kind = reader.u8("section id")
            size = reader.varuint32("section size")
            if kind == 2:  # the import section: module and field names, then each import's kind
                return encoded in data[reader.pos:reader.pos + size]
            reader.skip(size, "section")
    except DylinkError:
        pass
    return False
