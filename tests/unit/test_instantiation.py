"""What instantiating a side module writes, proved before it is trusted (an experiment):
small modules assembled here, the fixtures' side modules, and the benchmark's real wheels."""

from __future__ import annotations

import glob
import zipfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyemscripten.dylink import parse_dylink
from pyemscripten.errors import DylinkError
from pyemscripten.instantiation import InstantiationWrites, instantiation_writes
from tests.support.sidemodules import build_side_modules, toolchain_available
from tests.unit.test_dylink import HEADER, leb, string, sub

ROOT = Path(__file__).resolve().parents[2]


def sleb(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        done = (n == 0 and not byte & 0x40) or (n == -1 and byte & 0x40)
        out.append(byte | (0 if done else 0x80))
        if done:
            return bytes(out)


def section(section_id: int, payload: bytes) -> bytes:
    return bytes([section_id]) + leb(len(payload)) + payload


def vec(items: list[bytes]) -> bytes:
    return leb(len(items)) + b"".join(items)


def global_import(name: str) -> bytes:
    return string("env") + string(name) + b"\x03\x7f\x00"  # kind global, i32, immutable


IMPORTS = [string("env") + string("memory") + b"\x02\x00\x01",
           string("env") + string("__indirect_function_table") + b"\x01\x70\x00\x00",
           global_import("__memory_base"), global_import("__table_base")]
MEMORY_BASE, TABLE_BASE = 0, 1  # the globals' indexes above


def at(base: int, offset: int | None) -> bytes:
    if offset is None:
        return b"\x23" + leb(base) + b"\x0b"
    return b"\x23" + leb(base) + b"\x41" + sleb(offset) + b"\x6a\x0b"


def fill(start: int, length: int, value: int = 0, base: int = MEMORY_BASE) -> bytes:
    return b"\x00\x23" + leb(base) + b"\x41" + sleb(start) + b"\x6a\x41" + sleb(value) + b"\x41" + sleb(length) \
        + b"\xfc\x0b\x00\x0b"


def module(memory_size: int = 64, table_size: int = 4, imports: list[bytes] | None = None,
           start_body: bytes | None = None, data: list[bytes] | None = None, elements: list[bytes] | None = None,
           extra: bytes = b"", memory_align: int = 0, dylink_after: bytes = b"") -> bytes:
    mem_info = sub(1, leb(memory_size) + leb(memory_align) + leb(table_size) + leb(0))
    dylink = section(0, string("dylink.0") + mem_info + dylink_after)
    out = HEADER + dylink + section(1, vec([b"\x60\x00\x00"]))  # one type: () -> ()
    out += section(2, vec(IMPORTS if imports is None else imports))
    out += section(3, vec([leb(0)]))  # one function, of type 0
    out += extra
    if start_body is not None:
        out += section(8, leb(0))
    if elements:
        out += section(9, vec(elements))
    body = start_body if start_body is not None else b"\x00\x0b"
    out += section(10, vec([leb(len(body)) + body]))
    if data:
        out += section(11, vec(data))
    return out


def data_segment(offset: int | None, payload: bytes, base: int = MEMORY_BASE) -> bytes:
    return b"\x00" + at(base, offset) + leb(len(payload)) + payload


def element_segment(offset: int | None, count: int, base: int = TABLE_BASE) -> bytes:
    return b"\x00" + at(base, offset) + vec([leb(0)] * count)


def test_the_forms_wasm_ld_writes_are_placed() -> None:
    writes = instantiation_writes(module(
        start_body=fill(16, 48),
        data=[data_segment(None, b"abcd"), data_segment(8, b"xyz"), b"\x01" + leb(2) + b"hi"],
        elements=[element_segment(None, 2), element_segment(2, 2),
                  b"\x01\x00" + vec([leb(0)] * 9),  # passive, function indexes
                  b"\x05\x70" + vec([b"\xd2\x00\x0b", b"\xd0\x70\x0b"])]))  # passive, expressions
    assert writes == InstantiationWrites(memory=((0, 4), (8, 3)), table=((0, 2), (2, 2)), bss=(16, 48),
                                         sizes=(64, 0, 4, 0))


def test_an_import_info_that_counts_fewer_symbols_than_it_holds() -> None:
    # As wasm-ld wrote libusd_ms.so's: the runtime reads one symbol, then the rest as
    # subsections, and still ends with the sizes MEM_INFO gave.
    symbol = string("env") + string("pthread_mutex_lock") + leb(0x11)
    writes = instantiation_writes(module(dylink_after=sub(4, leb(1) + symbol * 2), data=[data_segment(0, b"x")]))
    assert writes.memory == ((0, 1),)


def test_a_module_with_nothing_to_write() -> None:
    assert instantiation_writes(module()) == InstantiationWrites(memory=(), table=(), bss=None, sizes=(64, 0, 4, 0))


@pytest.mark.parametrize(("kwargs", "says"), [
    ({"start_body": fill(16, 49)}, "past the 64"),
    ({"start_body": fill(-4, 8)}, "below __memory_base"),
    ({"start_body": fill(0, 8, value=1)}, "zeros"),
    ({"start_body": fill(0, 8, base=TABLE_BASE)}, "does not begin at __memory_base"),
    ({"start_body": b"\x00\x10\x00\x0b"}, "does not begin at __memory_base"),  # call 0
    ({"start_body": fill(0, 8)[:-1] + b"\x01\x0b"}, "more than one fill"),  # a nop before the end
    ({"data": [data_segment(60, b"12345")]}, "past the 64"),
    ({"data": [b"\x00\x41" + sleb(1024) + b"\x0b" + leb(1) + b"x"]}, "not relative to the library's base"),
    ({"data": [data_segment(8, b"x", base=TABLE_BASE)]}, "not relative to the library's base"),
    ({"data": [b"\x00\x23\x00\x41\x04\x6b\x0b" + leb(1) + b"x"]}, "base plus a constant"),  # i32.sub
    ({"data": [b"\x02\x01" + at(MEMORY_BASE, None) + leb(1) + b"x"]}, "flags 2"),  # another memory
    ({"elements": [element_segment(3, 2)]}, "past the 4"),
    ({"elements": [element_segment(None, 1, base=MEMORY_BASE)]}, "not relative to the library's base"),
    ({"imports": IMPORTS[:1] + [global_import("__table_base")], "data": [data_segment(0, b"x", base=1)]},
     "does not import"),
    ({"imports": [string("env") + string("other") + b"\x02\x00\x01"] + IMPORTS[1:]}, "imports a memory as env.other"),
    ({"extra": section(5, vec([b"\x00\x01"]))}, "of its own"),
    # the runtime's alignMemory(calloc(size + 2 ** align)) must not wrap around 32 bits
    ({"memory_align": 32, "data": [data_segment(8, b"x")]}, "more than this reader vouches for"),
    ({"memory_size": 0xFFFF0000, "data": [data_segment(8, b"x")]}, "more than this reader vouches for"),
    # an EXPORT_INFO whose contents end early: the runtime reads a MEM_INFO of zeros after them
    ({"memory_size": 65536, "table_size": 16, "dylink_after": sub(3, leb(0) + sub(1, bytes(4)))},
     "other sizes"),
    # a count the runtime reads in doubles (NaN after 147 bytes) and this reader would not
    ({"dylink_after": sub(4, b"\x81" + b"\x80" * 146 + b"\x00")}, "more than 5 bytes"),
    # reference types the reader does not follow (GC proposal: 0x63/0x64 take a heap type)
    ({"elements": [b"\x05\x63\x00" + vec([b"\xd2\x00\x0b"]), b"\x00\x41\x05\x0b" + vec([leb(0)])]},
     "another type than funcref"),
    ({"elements": [b"\x06\x00" + at(TABLE_BASE, None) + b"\x63\x00" + vec([b"\xd2\x00\x0b"] * 2)]},
     "another type than funcref"),
    ({"imports": IMPORTS + [string("env") + string("r") + b"\x03\x6f\x00"]}, "reference type"),
    ({"imports": IMPORTS + [string("env") + string("f") + b"\x00\x00"], "start_body": fill(0, 8)},
     "the start function is an import"),  # function 0 is the import: it would run JavaScript
    ({"elements": [element_segment(0, 1) + b"\x00"]}, "the element section has bytes after"),
    # what the engine evaluates besides: a global made by a GC allocation (141 bytes can ask
    # for a gigabyte), a global of a reference type, a table slot filled with an import
    ({"extra": section(6, vec([b"\x7f\x00\xfb\x07\x00\x0b"]))}, "constant arithmetic"),  # array.new_default
    ({"extra": section(6, vec([b"\x6f\x00\xd0\x6f\x0b"]))}, "constant arithmetic"),  # externref, ref.null
    ({"imports": IMPORTS + [string("env") + string("f") + b"\x00\x00"],
      "elements": [b"\x00" + at(TABLE_BASE, None) + vec([leb(0)])]}, "holds an imported function"),
    ({"imports": IMPORTS + [string("env") + string("f") + b"\x00\x00"],
      "elements": [b"\x04" + at(TABLE_BASE, None) + vec([b"\xd2\x00\x0b"])]}, "holds an imported function"),
    ({"data": [data_segment(0, b"x") + b"\x00"]}, "the data section has bytes after"),
])
def test_anything_else_is_refused(kwargs: dict, says: str) -> None:
    with pytest.raises(DylinkError, match=says):
        instantiation_writes(module(**kwargs), "libx.so")


def test_globals_of_constant_arithmetic_and_function_types_only() -> None:
    # What wasm-ld writes: numbers made of constants, global.get and the extended-constant
    # adds; typed references to function types in signatures. A struct or array type is
    # refused (nothing could allocate one then), as is a name whose length takes two bytes
    # read short (env.__memory_base with a 2-byte length is still the base).
    ok = section(6, vec([b"\x7f\x00\x41\x05\x0b", b"\x7e\x01\x42\x80\x01\x0b",
                         b"\x7f\x00\x23\x00\x41\x08\x6a\x0b", b"\x7c\x00\x44" + bytes(8) + b"\x0b"]))
    assert instantiation_writes(module(extra=ok)).memory == ()
    typed = module().replace(section(1, vec([b"\x60\x00\x00"])),
                             section(1, vec([b"\x60\x00\x00", b"\x60\x01\x64\x00\x01\x7f"])))
    assert instantiation_writes(typed).memory == ()
    for kind in (b"\x5e\x7f\x01", b"\x5f\x01\x7f\x01", b"\x4e\x01\x5e\x7f\x01"):  # array, struct, rec group
        arrays = module().replace(section(1, vec([b"\x60\x00\x00"])), section(1, vec([b"\x60\x00\x00", kind])))
        with pytest.raises(DylinkError, match="not a function type"):
            instantiation_writes(arrays)
    two_byte = [string("env") + b"\x8d\x00" + b"__memory_base" + b"\x03\x7f\x00"]
    assert instantiation_writes(module(imports=IMPORTS[:2] + two_byte + IMPORTS[3:],
                                       data=[data_segment(0, b"x")])).memory == ((0, 1),)


def test_the_fixtures_side_modules() -> None:
    if not toolchain_available():
        pytest.skip("clang-19 and wasm-ld-19 are needed to build the side-module fixtures")
    for name, data in build_side_modules().items():
        instantiation_writes(data, name)


BENCHMARK_WHEELS = ("grill_usd_core-", "charset_normalizer-", "jiter-", "luau_wasm-", "pydantic_core-")


def test_the_benchmarks_real_wheels() -> None:
    wheels = glob.glob(str(ROOT / ".cache" / "wheels" / "*pyemscripten_*_wasm32.whl"))
    if not wheels:
        pytest.skip("no pyemscripten wheels in .cache/wheels (scripts/setup.sh fetches them)")
    with_start = refused = 0
    for wheel in wheels:
        benchmark = Path(wheel).name.startswith(BENCHMARK_WHEELS)
        with zipfile.ZipFile(wheel) as archive:
            for name in archive.namelist():
                if not name.endswith(".so"):
                    continue
                try:
                    with_start += instantiation_writes(archive.read(name), name).bss is not None
                except DylinkError:
                    assert not benchmark, name  # the benchmark's libraries are all proved
                    refused += 1  # left to the load: mypy's compiled modules start with more than a fill,
                    # cramjam's start function does not begin at __memory_base
    assert with_start >= 35  # grill-usd-core's 30, charset-normalizer's 2, jiter, luau-wasm, pydantic-core


VALID = module(start_body=fill(16, 48), data=[data_segment(8, b"xyz")], elements=[element_segment(None, 2)])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, len(VALID) - 1), st.integers(0, 255)), max_size=4),
       st.integers(8, len(VALID)))
def test_any_bytes_give_writes_or_a_dylink_error(changes: list[tuple[int, int]], cut: int) -> None:
    data = bytearray(VALID)
    for at_byte, value in changes:
        data[at_byte] = value
    try:
        writes = instantiation_writes(bytes(data[:cut]), "fuzz.so")
    except DylinkError:
        return
    mem = parse_dylink(bytes(data[:cut])).mem_info
    assert all(0 <= offset <= offset + length <= mem.memory_size
               for offset, length in writes.memory + ((writes.bss,) if writes.bss else ()))
    assert all(0 <= offset <= offset + count <= mem.table_size for offset, count in writes.table)
