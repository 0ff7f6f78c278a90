"""dylink.0 parsing and RUNTIME_PATH writing: bytes in, values (or DylinkError) out."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyemscripten.dylink import (
    WASM_MAGIC,
    WASM_VERSION,
    DylinkInfo,
    MemInfo,
    first_section_end,
    imports_symbol,
    parse_dylink,
    with_runtime_paths,
)
from pyemscripten.errors import DylinkError

HEADER = b"\0asm\x01\0\0\0"


def leb(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def string(s: str) -> bytes:
    raw = s.encode()
    return leb(len(raw)) + raw


def sub(kind: int, payload: bytes) -> bytes:
    return bytes([kind]) + leb(len(payload)) + payload


def strings(*items: str) -> bytes:
    return leb(len(items)) + b"".join(string(s) for s in items)


def module(*subsections: bytes, name: str = "dylink.0", tail: bytes = b"") -> bytes:
    body = string(name) + b"".join(subsections)
    return HEADER + b"\0" + leb(len(body)) + body + tail


MEM = sub(1, leb(1024) + leb(4) + leb(7) + leb(0))
# A type section after the custom one, like a real module: the parser must stop at the section end.
TYPE_SECTION = b"\x01\x04\x01\x60\x00\x00"

CASES = [
    ("empty dylink.0", module(), DylinkInfo(MemInfo())),
    ("mem info", module(MEM), DylinkInfo(MemInfo(1024, 4, 7, 0))),
    ("needed", module(MEM, sub(2, strings("libz.so", "libm.so"))),
     DylinkInfo(MemInfo(1024, 4, 7, 0), needed=("libz.so", "libm.so"))),
    ("runtime path", module(sub(5, strings("$ORIGIN/../x.libs"))),
     DylinkInfo(MemInfo(), runtime_paths=("$ORIGIN/../x.libs",))),
    ("export/import info and unknown kinds are skipped",
     module(sub(3, leb(1) + string("f") + leb(0)), sub(4, leb(1) + string("env") + string("g") + leb(1)),
            sub(99, b"whatever"), sub(2, strings("liba.so"))),
     DylinkInfo(MemInfo(), needed=("liba.so",))),
    ("a later section is not read", module(sub(2, strings("liba.so")), tail=TYPE_SECTION),
     DylinkInfo(MemInfo(), needed=("liba.so",))),
    ("utf-8 names", module(sub(2, strings("libé.so"))), DylinkInfo(MemInfo(), needed=("libé.so",))),
    ("two NEEDED and two RUNTIME_PATH subsections add up, as Pyodide 0.27 reads them",
     module(sub(2, strings("liba.so")), sub(5, strings("$ORIGIN")), sub(2, strings("libb.so")), sub(5, strings("/lib"))),
     DylinkInfo(MemInfo(), needed=("liba.so", "libb.so"), runtime_paths=("$ORIGIN", "/lib"))),
    ("legacy dylink", module(leb(64) + leb(2) + leb(3) + leb(0) + strings("libold.so"), name="dylink"),
     DylinkInfo(MemInfo(64, 2, 3, 0), needed=("libold.so",), legacy=True)),
]


@pytest.mark.parametrize("data,expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_parse(data: bytes, expected: DylinkInfo) -> None:
    assert parse_dylink(data, "x.so") == expected


def test_the_newer_loader_takes_the_last_subsection_and_refuses_the_legacy_section() -> None:
    # Pyodide 0.28 on (Emscripten 4's getDylinkMetadata): a second NEEDED or RUNTIME_PATH
    # subsection replaces the first; the legacy "dylink" section is not read at all.
    twice = module(sub(2, strings("liba.so")), sub(5, strings("$ORIGIN")), sub(2, strings("libb.so")),
                   sub(5, strings("/lib")))
    assert parse_dylink(twice, "x.so", newer_loader=True) == DylinkInfo(MemInfo(), needed=("libb.so",),
                                                                         runtime_paths=("/lib",))
    legacy = module(leb(64) + leb(2) + leb(3) + leb(0) + strings("libold.so"), name="dylink")
    with pytest.raises(DylinkError, match="legacy 'dylink' \\(Emscripten before 2.0.24\\), which this runtime's loader "
                                          "does not read"):
        parse_dylink(legacy, "x.so", newer_loader=True)


ERRORS = [
    ("empty file", b"", "no \\0asm magic"),
    ("ELF", b"\x7fELF\x01\x01\x01\0" + b"\0" * 20, "not a WebAssembly module"),
    ("version 2", b"\0asm\x02\0\0\0", "unsupported WebAssembly version"),
    ("no sections", HEADER, "no sections at all"),
    ("first section not custom", HEADER + TYPE_SECTION, "first section has id 1"),
    ("other custom section first", module(name="name"), "first custom section is 'name'"),
    ("section longer than file", HEADER + b"\0\x7f" + string("dylink.0"), "claims 127 bytes"),
    ("subsection longer than section", module(b"\x02\x10\x01"), "subsection 2 claims 16 bytes"),
    ("count lies", module(sub(2, leb(1000) + string("a"))), "claims 1000 entries"),
    ("string past the subsection", module(sub(2, leb(1) + leb(9) + b"ab")), "truncated"),
    ("trailing junk in NEEDED", module(sub(2, strings("a") + b"\0")), "unread bytes"),
    ("overlong LEB", module(sub(1, b"\x80\x80\x80\x80\x80\x00")), "longer than 5 bytes"),
    ("LEB over 32 bits", module(sub(1, b"\xff\xff\xff\xff\x7f" + leb(0) * 3)), "32 bits"),
    ("bad utf-8", module(sub(2, leb(1) + leb(2) + b"\xff\xfe")), "not valid UTF-8"),
    ("truncated MEM_INFO", module(sub(1, leb(5))), "truncated"),
]


@pytest.mark.parametrize("data,reason", [c[1:] for c in ERRORS], ids=[c[0] for c in ERRORS])
def test_malformed(data: bytes, reason: str) -> None:
    with pytest.raises(DylinkError) as info:
        parse_dylink(data, "bad.so")
    assert info.value.filename == "bad.so"
    assert reason in info.value.reason
    assert "bad.so" in str(info.value)


def test_set_runtime_path_keeps_other_subsections_and_later_sections() -> None:
    original = module(MEM, sub(2, strings("libmid.so")), sub(3, leb(0)), tail=TYPE_SECTION)
    rewritten = with_runtime_paths(original, ["$ORIGIN/../pkg.libs", "/usr/lib"])
    info = parse_dylink(rewritten)
    assert info.needed == ("libmid.so",)
    assert info.mem_info == MemInfo(1024, 4, 7, 0)
    assert info.runtime_paths == ("$ORIGIN/../pkg.libs", "/usr/lib")
    assert rewritten.endswith(TYPE_SECTION)
    # Replacing, then removing, gives back the original bytes.
    assert parse_dylink(with_runtime_paths(rewritten, ["$ORIGIN"])).runtime_paths == ("$ORIGIN",)
    assert with_runtime_paths(rewritten, []) == original


def test_set_runtime_path_refuses_what_it_cannot_rewrite() -> None:
    with pytest.raises(DylinkError, match="legacy|'dylink'"):
        with_runtime_paths(module(leb(0) * 4 + strings(), name="dylink"), ["$ORIGIN"])
    with pytest.raises(DylinkError):
        with_runtime_paths(b"junk", ["$ORIGIN"])


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=200))
def test_fuzz_arbitrary_bytes_never_escape_as_another_error(tail: bytes) -> None:
    for data in (tail, HEADER + tail, HEADER + b"\0" + tail, module(tail), module(MEM, tail)):
        try:
            parse_dylink(data)
        except DylinkError:
            pass


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=20), max_size=5), st.lists(st.text(max_size=30), max_size=4),
       st.integers(0, 2**32 - 1))
def test_round_trip_through_the_writer(needed: list[str], paths: list[str], size: int) -> None:
    base = module(sub(1, leb(size) + leb(0) * 3), sub(2, strings(*needed)), tail=TYPE_SECTION)
    info = parse_dylink(with_runtime_paths(base, paths))
    assert info == DylinkInfo(MemInfo(size), needed=tuple(needed), runtime_paths=tuple(paths))


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_fuzz_corrupting_a_valid_module(data: st.DataObject) -> None:
    valid = module(MEM, sub(2, strings("libmid.so", "libz.so")), sub(5, strings("$ORIGIN")), tail=TYPE_SECTION)
    position = data.draw(st.integers(0, len(valid) - 1))
    value = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(valid)))
    corrupted = (valid[:position] + bytes([value]) + valid[position + 1 :])[:cut]
    try:
        parse_dylink(corrupted)
    except DylinkError:
        pass


@pytest.mark.parametrize("size", [0, 1, 127, 128, 300, 70_000, 2**21])
def test_first_section_end_from_the_first_bytes(size: int) -> None:
    data = module(sub(1, b"\x00" * 4), sub(0x40, b"\x00" * size), tail=b"\x01\x02\x03")
    end = first_section_end(data[:14])
    assert end is not None and data[end:] == b"\x01\x02\x03"
    assert parse_dylink(data[:end]) == parse_dylink(data)


def test_first_section_end_does_not_guess() -> None:
    assert first_section_end(b"") is None
    assert first_section_end(b"\x7fELF" + b"\x00" * 20) is None  # not a module
    assert first_section_end(WASM_MAGIC + WASM_VERSION + b"\x00\xff\xff") is None  # size cut short


def test_the_planner_reads_only_the_first_section(tmp_path) -> None:
    from pyemscripten.libraries import OSFileSystem

    body = module(sub(2, strings("libx.so")), tail=b"\x00" * 300_000)
    path = tmp_path / "lib.so"
    path.write_bytes(body)
    read = OSFileSystem().read(str(path))
    assert len(read) < 100_000 and parse_dylink(read).needed == ("libx.so",)
    path.write_bytes(b"not a module")  # no size to go by: the whole file
    assert OSFileSystem().read(str(path)) == b"not a module"
    lie = body[:9] + b"\xff\xff\xff\xff\x0f" + body[10:]  # a section "larger" than the file
    path.write_bytes(lie)
    assert OSFileSystem().read(str(path)) == lie
    with pytest.raises(DylinkError, match="truncated"):
        parse_dylink(lie)


def test_imports_symbol_reads_the_import_section() -> None:
    # A type section, then imports: env.nowhere_data (a global) and GOT.mem.other.
    imports = sub(2, leb(2) + string("env") + string("nowhere_data") + b"\x03\x7f\x00"
                  + string("GOT.mem") + string("other") + b"\x03\x7f\x01")
    data = module(sub(2, strings("liba.so")), tail=TYPE_SECTION + imports)
    assert imports_symbol(data, "nowhere_data") and imports_symbol(data, "other")
    assert not imports_symbol(data, "nowhere") and not imports_symbol(data, "liba.so")  # NEEDED is not an import
    assert not imports_symbol(data[:-3], "zzz") and not imports_symbol(b"\x7fELF", "x")



# --- generated sections against a writer of their own ----------------------------------------------

# One subsection of each kind, as a value: the writer below turns a list of them into bytes, and
# the model says what each loader reads from it (tool-conventions DynamicLinking.md).
mem_infos = st.tuples(*[st.integers(0, 2**32 - 1)] * 4).map(lambda t: ("mem", t))
names = st.text(max_size=12).filter(lambda s: not any(0xD800 <= ord(c) < 0xE000 for c in s))
needed_lists = st.lists(names, max_size=4).map(lambda items: ("needed", tuple(items)))
path_lists = st.lists(names, max_size=3).map(lambda items: ("rpath", tuple(items)))
export_infos = st.lists(st.tuples(names, st.integers(0, 2**32 - 1)), max_size=3).map(lambda e: ("export", tuple(e)))
import_infos = st.lists(st.tuples(names, names, st.integers(0, 2**32 - 1)), max_size=3).map(lambda i: ("import", tuple(i)))
unknowns = st.tuples(st.integers(6, 255), st.binary(max_size=10)).map(lambda u: ("unknown", u))
subsection_values = st.lists(st.one_of(mem_infos, needed_lists, path_lists, export_infos, import_infos, unknowns),
                             max_size=6)


def write_subsection(value: tuple) -> bytes:
    kind, content = value
    if kind == "mem":
        return sub(1, b"".join(leb(n) for n in content))
    if kind == "needed":
        return sub(2, strings(*content))
    if kind == "rpath":
        return sub(5, strings(*content))
    if kind == "export":
        return sub(3, leb(len(content)) + b"".join(string(name) + leb(flags) for name, flags in content))
    if kind == "import":
        return sub(4, leb(len(content)) + b"".join(string(m) + string(f) + leb(flags) for m, f, flags in content))
    return sub(content[0], content[1])


def expected_info(values: list[tuple], newer_loader: bool) -> DylinkInfo:
    # MEM_INFO: the last one counts. NEEDED and RUNTIME_PATH: Pyodide 0.27 adds a later
    # subsection to the earlier ones, 0.28 on replaces them.
    mem = MemInfo()
    found: dict[str, tuple[str, ...]] = {"needed": (), "rpath": ()}
    for kind, content in values:
        if kind == "mem":
            mem = MemInfo(*content)
        elif kind in found:
            found[kind] = content if newer_loader else found[kind] + content
    return DylinkInfo(mem, needed=found["needed"], runtime_paths=found["rpath"])


@settings(max_examples=150, deadline=None)
@given(subsection_values, st.booleans(), st.binary(max_size=6))
def test_generated_sections_read_back_as_written(values: list[tuple], newer_loader: bool, tail: bytes) -> None:
    data = module(*map(write_subsection, values), tail=TYPE_SECTION + tail)
    assert parse_dylink(data, "x.so", newer_loader=newer_loader) == expected_info(values, newer_loader)
    end = first_section_end(data[:14])
    assert end is not None and data[end:] == TYPE_SECTION + tail
    # Every cut inside the section is refused with the package's own error, naming the file.
    for cut in range(end):
        with pytest.raises(DylinkError) as info:
            parse_dylink(data[:cut], "x.so", newer_loader=newer_loader)
        assert info.value.filename == "x.so"
