"""What instantiating a side module would write, proved from its sections before it is trusted.

Instantiating a wheel's libraries while the wheel still downloads, before its hash is known,
takes 42-58 % of (b)'s load out of the time after the last byte (RESULTS.md, stop 41 and
change 56). Instantiation is not inert. The engine:

* writes every active data segment into the memory, and every active element segment into
  the table (WebAssembly core spec, 4.5.4, "instantiation");
* runs the start function. wasm-ld's ``-shared`` output has one wherever the library has a
  ``.bss``, and it zeroes it: ``memory.fill(__memory_base + K, 0, N)``.

Nothing else of the module runs until the runtime calls its exports (the relocations and
constructors come after, in the runtime's ``postInstantiation``). So instantiating bytes not
yet verified is harmless when this reader proves all of the following from the sections:

* every write lands inside the space the library's own ``dylink.0`` asks the runtime to
  reserve for it (``__memory_base`` + [0, memory_size), ``__table_base`` + [0, table_size));
* the start function, if any, is exactly that fill, in that space;
* the module defines no memory or table of its own, and imports its memory and table only
  under the names the runtime's proxy answers (``env.memory``,
  ``env.__indirect_function_table``);
* what the engine also evaluates at instantiation costs no more than the bytes do: every
  global is a number initialised by constant arithmetic (no garbage-collected ``array.new``,
  which allocates up to a gigabyte from a few bytes), every type is a function type (so no
  struct or array can be made anywhere), and the table slots it fills hold its own
  functions, never imported ones;
* the runtime reads the same sizes from ``dylink.0`` as this package (it reads several
  subsections by their contents, not their declared sizes: ``_sizes_the_runtime_reads``
  takes its steps), and they are small enough that the runtime's
  ``alignMemory(calloc(size + 2 ** align))`` cannot wrap around 32 bits (memory at most
  1 GiB, alignment at most 2 ** 16).

The caller must still check one thing the sections cannot say: that the runtime's
``__memory_base`` is not 0 when the module asks for memory (the runtime does not check that
its ``calloc`` succeeded, and writes relative to 0 would land in the interpreter's own data).
And it must read the very bytes the runtime is handed: the library loader's point 1 changes
a type byte of ``dylink.0`` while the runtime reads it.

Anything the reader does not follow raises :class:`~pyemscripten.errors.DylinkError`. The
caller then does not instantiate early.

The library loader uses it (``browser_loader``, point 10, through ``_prove_instantiation``):
it instantiates a library while its wheel still downloads only when this reader vouches for
it, and checks that the runtime reads the sizes proved. The runtime's side is the loader's:
the offset-table entries the runtime's import object would make are kept out of its table
until the link, the memory base is checked, and what a failed install instantiated is let go.
All 35 side modules of the benchmark's wheels pass this reader (its tests read them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pyemscripten.dylink import _Reader, parse_dylink
from pyemscripten.errors import DylinkError

SECTION_TYPE, SECTION_IMPORT, SECTION_TABLE, SECTION_MEMORY, SECTION_GLOBAL, SECTION_START = 1, 2, 4, 5, 6, 8
SECTION_ELEMENT, SECTION_CODE, SECTION_DATA = 9, 10, 11
KIND_FUNCTION, KIND_TABLE, KIND_MEMORY, KIND_GLOBAL, KIND_TAG = 0, 1, 2, 3, 4
OP_END, OP_GLOBAL_GET, OP_I32_CONST, OP_I32_ADD, OP_REF_NULL, OP_REF_FUNC = 0x0B, 0x23, 0x41, 0x6A, 0xD0, 0xD2
MEMORY_FILL = b"\xfc\x0b\x00"
FUNCREF, ELEMENT_KIND_FUNCREF = 0x70, 0x00
NUMBER_TYPES = frozenset({0x7F, 0x7E, 0x7D, 0x7C})  # i32 i64 f32 f64: no reference types
MAX_MEMORY_SIZE, MAX_MEMORY_ALIGN, MAX_TABLE_SIZE = 1 << 30, 16, 1 << 24
FUNCTION_TYPE = 0x60
REF_NULL_TYPE, REF_TYPE = 0x63, 0x64  # (ref null ht) and (ref ht): a heap type follows
_LEB = rb"[\x80-\xff]{0,9}[\x00-\x7f]"
# The globals, after their count: each a number type, a mutability, then a constant
# expression of i32/i64/f32/f64.const, global.get and the extended-constant adds, subs and
# muls, ended by `end`. Possessive: what matches is read once, left to right. A library
# has tens of thousands of globals; one match reads them in C.
_GLOBALS = re.compile(
    rb"(?:[\x7c-\x7f][\x00\x01](?:\x41" + _LEB + rb"|\x42" + _LEB + rb"|\x43.{4}|\x44.{8}|\x23" + _LEB
    + rb"|[\x6a\x6b\x6c\x7c\x7d\x7e])*+\x0b)*+", re.DOTALL)


@dataclass(frozen=True)
class InstantiationWrites:
    """Where instantiating the module writes, relative to the bases the runtime gives it:
    ``(offset, length)`` in bytes from ``__memory_base`` and in slots from
    ``__table_base``; ``bss`` is the start function's fill, if the module has one; ``sizes``
    what ``dylink.0`` asks the runtime for, as both it and this reader read it:
    ``(memory_size, memory_align, table_size, table_align)``."""

    memory: tuple[tuple[int, int], ...]
    table: tuple[tuple[int, int], ...]
    bss: tuple[int, int] | None
    sizes: tuple[int, int, int, int]


def _sleb32(reader: _Reader, what: str) -> int:
    result = shift = 0
    for _ in range(5):
        byte = reader.u8(what)
        result |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            if byte & 0x40:
                result -= 1 << shift
            return result
    raise reader.fail(f"{what} is a LEB128 number longer than 5 bytes")


def _limits(reader: _Reader) -> None:
    flags = reader.u8("limits flags")
    if flags & ~0x03:  # 64-bit or custom page sizes: not what the runtime loads
        raise reader.fail(f"limits with flags {flags:#x}")
    reader.varuint32("limits minimum")
    if flags & 1:
        reader.varuint32("limits maximum")


def _sizes_the_runtime_reads(data: bytes, filename: str) -> tuple[int, int, int, int] | None:
    """The MEM_INFO the runtime's ``getDylinkMetadata`` ends with, by its own steps: it reads
    the NEEDED, EXPORT_INFO, IMPORT_INFO and RUNTIME_PATH subsections by their contents, not
    their declared sizes, and a byte past the end of the module as 0. (wasm-ld's own output
    does not always agree with itself: ``libusd_ms.so``'s IMPORT_INFO counts 1 symbol and
    holds 7, so the runtime reads the rest as further subsections.) None: no MEM_INFO.
    A number longer than 5 bytes is refused: the runtime's arithmetic on one (in doubles,
    where a long enough one becomes NaN) is not followed here."""
    size, pos = len(data), 9

    def byte() -> int:
        nonlocal pos
        pos += 1
        return data[pos - 1] if pos <= size else 0

    def leb() -> int:
        value = 0
        for shift in range(0, 35, 7):
            b = byte()
            value += (b & 0x7F) << shift
            if not b & 0x80:
                return value
        raise DylinkError(filename, "the runtime would read a number of more than 5 bytes in its dylink.0 section")

    end = leb()
    end += pos
    skip = leb()  # the section's name (read before pos moves on: not ``pos += leb()``)
    pos += skip
    found = None
    fields = {2: (1, 0), 3: (1, 1), 4: (2, 1), 5: (1, 0)}  # strings, then numbers, per entry
    while pos < end:
        kind, declared = byte(), leb()
        if kind == 1:
            found = (leb(), leb(), leb(), leb())
        elif kind in fields:
            strings, numbers = fields[kind]
            for _ in range(leb()):
                for _ in range(strings):
                    skip = leb()
                    pos += skip
                for _ in range(numbers):
                    leb()
                if pos >= size:  # from here on every byte reads 0: nothing more changes
                    return found
        else:
            pos += declared
    return found


def _imports(reader: _Reader) -> tuple[int, dict[str, int]]:
    """The number of imported functions, and the indexes of the globals imported from ``env``
    by name (the first import of a name; the bases are looked up there)."""
    functions, imported_globals = 0, 0
    globals_: dict[str, int] = {}
    data, end = reader.data, reader.end
    for _ in range(reader.varuint32("number of imports")):
        # A function import (a one-byte type index, names of up to 16,383 bytes), read in
        # place: a library imports tens of thousands of functions, and their names need no
        # decoding here (the engine checks them as it compiles; natively, all 35 modules of
        # the benchmark's wheels were read in 0.32 s by the long way, now 0.08 s).
        at = reader.pos
        field = _after_name(data, at, end)
        kind_at = _after_name(data, field, end) if field >= 0 else -1
        if 0 <= kind_at and kind_at + 2 < end:
            kind = data[kind_at]
            if kind == KIND_FUNCTION and data[kind_at + 1] < 0x80:
                reader.pos = kind_at + 2
                functions += 1
                continue
            # ... and a global (the offset table's entries: tens of thousands), named only
            # when the runtime's env answers it (its bases)
            if kind == KIND_GLOBAL and data[kind_at + 1] in NUMBER_TYPES:
                reader.pos = kind_at + 3
                if field - at == 4 and data[at:field] == b"\x03env":
                    begin = field + 1 if data[field] < 0x80 else field + 2  # after the name's length
                    name = "env." + _utf8(reader, data[begin:kind_at], "import name")
                    globals_.setdefault(name, imported_globals)
                imported_globals += 1
                continue
        name = f"{reader.string('import module')}.{reader.string('import field')}"
        kind = reader.u8("import kind")
        if kind == KIND_FUNCTION:
            reader.varuint32("import type index")
            functions += 1
        elif kind == KIND_TABLE:
            if name != "env.__indirect_function_table":
                raise reader.fail(f"imports a table as {name}")
            if reader.u8("table element type") != FUNCREF:
                raise reader.fail("imports a table of another element type")
            _limits(reader)
        elif kind == KIND_MEMORY:
            if name != "env.memory":
                raise reader.fail(f"imports a memory as {name}")
            _limits(reader)
        elif kind == KIND_GLOBAL:
            if reader.u8("global type") not in NUMBER_TYPES:
                raise reader.fail(f"imports {name} as a global of a reference type")
            reader.u8("global mutability")
            globals_.setdefault(name, imported_globals)
            imported_globals += 1
        elif kind == KIND_TAG:
            reader.u8("tag attribute")
            reader.varuint32("tag type index")
        else:
            raise reader.fail(f"an import of kind {kind}")
    if not reader.at_end():
        raise reader.fail("the import section has bytes after its last import")
    return functions, globals_


def _after_name(data: bytes, at: int, end: int) -> int:
    """Where a name whose length takes one or two LEB128 bytes at ``at`` ends, or -1 (for
    any other, or one running past ``end``: the caller reads it the long way)."""
    if at >= end:
        return -1
    first = data[at]
    if first < 0x80:
        after = at + 1 + first
    elif at + 1 < end and data[at + 1] < 0x80:
        after = at + 2 + ((first & 0x7F) | data[at + 1] << 7)
    else:
        return -1
    return after if after <= end else -1


def _utf8(reader: _Reader, raw: bytes, what: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise reader.fail(f"{what} is not valid UTF-8: {raw[:40]!r}") from None


def _place(reader: _Reader, base: int, what: str) -> int:
    """An active segment's offset expression: ``global.get base`` and, with the
    extended-constant proposal, ``i32.const k; i32.add``. Returns k."""
    if reader.u8(what) != OP_GLOBAL_GET or reader.varuint32(what) != base:
        raise reader.fail(f"{what} is not relative to the library's base")
    op = reader.u8(what)
    if op == OP_END:
        return 0
    if op != OP_I32_CONST:
        raise reader.fail(f"{what} is not the base plus a constant")
    offset = _sleb32(reader, what)
    if reader.u8(what) != OP_I32_ADD or reader.u8(what) != OP_END or offset < 0:
        raise reader.fail(f"{what} is not the base plus a constant")
    return offset


def _element_count(reader: _Reader, flags: int, imported: int) -> int:
    """Skip one element segment's entries (after its offset), returning how many there are.
    Each must be one of the module's own functions (index ``imported`` or more): wasm-ld
    reaches imported ones through the offset table, never through an element segment."""
    if flags & 2:  # an element kind (funcref: 0) or, with expressions, a reference type
        if reader.u8("element type") != (FUNCREF if flags & 4 else ELEMENT_KIND_FUNCREF):
            raise reader.fail("an element segment of another type than funcref")
    count = reader.varuint32("number of elements")
    for _ in range(count):
        if flags & 4:  # expressions: ref.func f or ref.null t, then end
            op = reader.u8("element expression")
            if op == OP_REF_FUNC:
                if reader.varuint32("function index") < imported:
                    raise reader.fail("an element segment holds an imported function")
            elif op == OP_REF_NULL:
                if reader.u8("reference type") != FUNCREF:
                    raise reader.fail("an element expression of another type than funcref")
            else:
                raise reader.fail(f"an element expression with opcode {op:#x}")
            if reader.u8("element expression end") != OP_END:
                raise reader.fail("an element expression longer than one instruction")
        elif reader.varuint32("function index") < imported:
            raise reader.fail("an element segment holds an imported function")
    return count


def _types(body: _Reader) -> None:
    """Every type a function type (no struct or array, and no recursion group that could
    hold one). Its parameters and results may be typed references (libusd_ms.so takes a
    ``(ref $f)``): with only function types, those can only name functions."""
    for _ in range(body.varuint32("number of types")):
        if body.u8("type form") != FUNCTION_TYPE:
            raise body.fail("defines a type that is not a function type (a struct or an array)")
        for what in ("parameters", "results"):
            for _ in range(body.varuint32(f"number of {what}")):
                if body.u8(f"a type of the {what}") in (REF_NULL_TYPE, REF_TYPE):
                    _sleb33(body)
    if not body.at_end():
        raise body.fail("the type section has bytes after its last type")


def _sleb33(reader: _Reader) -> None:
    """Skip a heap type (a signed LEB128 of at most 33 bits: 5 bytes)."""
    for _ in range(5):
        if reader.u8("heap type") < 0x80:
            return
    raise reader.fail("a heap type longer than 5 bytes")


def _globals(body: _Reader) -> None:
    """Every global a number, initialised by constant arithmetic (see :data:`_GLOBALS`)."""
    body.varuint32("number of globals")
    if _GLOBALS.fullmatch(body.data, body.pos, body.end) is None:
        raise body.fail("a global that is not a number made by constant arithmetic")


def _bss_fill(body: _Reader, memory_base: int) -> tuple[int, int]:
    """The start function's body, which must be exactly
    ``memory.fill(__memory_base + K, 0, N)``: (K, N)."""
    if body.varuint32("number of local declarations") != 0:
        raise body.fail("the start function has locals")
    if body.u8("start function") != OP_GLOBAL_GET or body.varuint32("start function") != memory_base:
        raise body.fail("the start function does not begin at __memory_base")
    if body.u8("start function") != OP_I32_CONST:
        raise body.fail("the start function is not a fill of the library's own memory")
    start = _sleb32(body, "start function")
    if body.u8("start function") != OP_I32_ADD or body.u8("start function") != OP_I32_CONST:
        raise body.fail("the start function is not a fill of the library's own memory")
    if _sleb32(body, "start function") != 0 or body.u8("start function") != OP_I32_CONST:
        raise body.fail("the start function does not fill with zeros")
    length = _sleb32(body, "start function")
    if body.take(3, "start function") != MEMORY_FILL or body.u8("start function") != OP_END or not body.at_end():
        raise body.fail("the start function does more than one fill")
    if start < 0 or length < 0:
        raise body.fail("the start function fills below __memory_base")
    return start, length


def instantiation_writes(data: bytes, filename: str = "<side module>") -> InstantiationWrites:
    """Prove where instantiating the side module ``data`` writes (see the module's docstring),
    or raise :class:`~pyemscripten.errors.DylinkError` saying what could not be proved."""
    mem = parse_dylink(data, filename).mem_info
    ours = (mem.memory_size, mem.memory_align, mem.table_size, mem.table_align)
    if (_sizes_the_runtime_reads(data, filename) or (0, 0, 0, 0)) != ours:
        raise DylinkError(filename, "the runtime would read other sizes from its dylink.0 section than this reader")
    if mem.memory_size > MAX_MEMORY_SIZE or mem.memory_align > MAX_MEMORY_ALIGN or mem.table_size > MAX_TABLE_SIZE:
        raise DylinkError(filename, f"asks for {mem.memory_size} bytes aligned to 2 ** {mem.memory_align} and"
                                    f" {mem.table_size} table slots: more than this reader vouches for")
    reader = _Reader(data, filename, pos=8)
    functions = 0
    start: int | None = None
    memory: list[tuple[int, int]] = []
    table: list[tuple[int, int]] = []
    bss: tuple[int, int] | None = None

    bases: dict[str, int] = {}  # imported globals' indexes by name

    def base(name: str) -> int:
        if name not in bases:
            raise reader.fail(f"writes relative to {name}, which it does not import")
        return bases[name]

    while not reader.at_end():
        section_id = reader.u8("section id")
        size = reader.varuint32("section size")
        if size > reader.end - reader.pos:
            raise reader.fail(f"truncated: section {section_id} claims {size} bytes")
        body = _Reader(data, filename, pos=reader.pos, end=reader.pos + size)
        reader.pos += size
        if section_id == SECTION_TYPE:
            _types(body)
        elif section_id == SECTION_GLOBAL:
            _globals(body)
        elif section_id == SECTION_IMPORT:
            functions, bases = _imports(body)
        elif section_id in (SECTION_TABLE, SECTION_MEMORY):
            if body.varuint32("number of definitions") or not body.at_end():
                raise body.fail("defines a table or a memory of its own")
        elif section_id == SECTION_START:
            start = body.varuint32("start function index")
        elif section_id == SECTION_ELEMENT:
            for _ in range(body.varuint32("number of element segments")):
                flags = body.varuint32("element segment flags")
                if flags > 7:
                    raise body.fail(f"an element segment with flags {flags}")
                if flags & 1:  # passive or declarative: nothing written at instantiation
                    _element_count(body, flags | 2, 0)  # each has an element kind or a type
                    continue
                if flags & 2 and body.varuint32("table index") != 0:
                    raise body.fail("an element segment for another table")
                offset = _place(body, base("env.__table_base"), "an element segment's offset")
                count = _element_count(body, flags, functions)
                if offset + count > mem.table_size:
                    raise body.fail(f"an element segment at __table_base + {offset}, {count} slots,"
                                    f" past the {mem.table_size} it reserves")
                table.append((offset, count))
            if not body.at_end():
                raise body.fail("the element section has bytes after its last segment")
        elif section_id == SECTION_CODE and start is not None:
            if start < functions:
                raise body.fail("the start function is an import")
            for index in range(body.varuint32("number of function bodies")):
                size = body.varuint32("function body size")
                if index == start - functions:
                    code = body.take(size, "function body")
                    bss = _bss_fill(_Reader(code, filename), base("env.__memory_base"))
                    break
                body.skip(size, "function body")
            else:
                raise body.fail("the start function has no body")
        elif section_id == SECTION_DATA:
            for _ in range(body.varuint32("number of data segments")):
                flags = body.varuint32("data segment flags")
                if flags == 1:  # passive
                    body.skip(body.varuint32("data segment size"), "data segment")
                    continue
                if flags not in (0, 2) or (flags == 2 and body.varuint32("memory index") != 0):
                    raise body.fail(f"a data segment with flags {flags}")
                offset = _place(body, base("env.__memory_base"), "a data segment's offset")
                length = body.varuint32("data segment size")
                body.skip(length, "data segment")
                memory.append((offset, length))
            if not body.at_end():
                raise body.fail("the data section has bytes after its last segment")
    if start is not None and bss is None:
        raise reader.fail("the module has a start function but no code section")
    for offset, length in memory + ([bss] if bss else []):
        if offset + length > mem.memory_size:
            raise reader.fail(f"writes __memory_base + {offset}, {length} bytes, past the {mem.memory_size}"
                              " it reserves")
    return InstantiationWrites(memory=tuple(memory), table=tuple(table), bss=bss, sizes=ours)
