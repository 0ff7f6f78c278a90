"""wheels.py: bytes in, an UnpackedWheel or one exception naming the file and every problem."""

from __future__ import annotations

import asyncio
import hashlib
import io
import struct
import zipfile
import zlib
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from packaging.tags import Tag
from packaging.version import Version

from pyemscripten.errors import (
    InvalidWheelFilenameError,
    MetadataError,
    PyemscriptenError,
    RecordError,
    UnsafePathError,
    WheelError,
)
from pyemscripten.wheels import (
    check_wheel,
    open_wheel,
    open_wheel_async,
    parse_wheel_name,
    read_wheel,
)
from tests.support.wheels import (
    CountingHasher,
    make_wheel,
    record_hash,
    with_bytes_set,
    with_crc,
    with_declared_size,
)

PKG = {"demo_pkg/__init__.py": b"X = 1\n"}


def _rewrite_record(wheel: bytes, edit: Callable[[list[list[str]]], list[list[str]]]) -> bytes:
    """The same wheel with its RECORD rows passed through ``edit`` (for row-level breakage)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(wheel)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.endswith(".dist-info/RECORD"):
                rows = [line.split(",") for line in data.decode().splitlines()]
                data = "".join(",".join(row) + "\n" for row in edit(rows)).encode()
            dst.writestr(info, data)
    return out.getvalue()


def _set(path: str, column: int, value: str) -> Callable[[list[list[str]]], list[list[str]]]:
    def edit(rows: list[list[str]]) -> list[list[str]]:
        for row in rows:
            if row[0] == path:
                row[column] = value
        return rows
    return edit


# --- file names -------------------------------------------------------------------------


def test_parse_wheel_name() -> None:
    name = parse_wheel_name("Demo_Pkg-1.0.post1-7-cp312-cp312-pyemscripten_2025_0_wasm32.whl")
    assert name.name == "demo-pkg"
    assert name.version == Version("1.0.post1")
    assert name.build == (7, "")
    assert name.tags == frozenset({Tag("cp312", "cp312", "pyemscripten_2025_0_wasm32")})


@pytest.mark.parametrize("filename", ["x.whl", "demo-1.0-py3-none-any.zip", "demo-nope-py3-none-any.whl",
                                      "demo-1.0-x-py3-none-any.whl", ""])
def test_parse_wheel_name_refuses(filename: str) -> None:
    with pytest.raises(InvalidWheelFilenameError) as info:
        parse_wheel_name(filename)
    assert repr(filename) in str(info.value)


# --- valid wheels -----------------------------------------------------------------------


def test_open_valid_wheel_maps_every_file() -> None:
    whl = make_wheel("demo-pkg", "1.0", {**PKG, "demo_pkg/_ext.so": b"\0asm", "demo_pkg.libs/libz.so.1": b"\0asm"},
                     requires=["attrs>=23"], requires_python=">=3.11",
                     data_files={"scripts/tool": b"#!python\n", "headers/h.h": b"", "data/share/x": b"1",
                                 "purelib/extra.py": b"", "platlib/plat.py": b""})
    wheel = open_wheel(whl.filename, whl, expected_name="Demo_Pkg", expected_version="1.0")
    assert (wheel.name, wheel.version, wheel.dist_info) == ("demo-pkg", Version("1.0"), "demo_pkg-1.0.dist-info")
    assert wheel.requires_dist == ("attrs>=23",)
    assert wheel.requires_python == ">=3.11"
    assert wheel.metadata.name == "demo-pkg"
    assert wheel.root_is_purelib
    placed = {(key, path) for key, path, _ in wheel.files}
    assert placed == {
        ("purelib", "demo_pkg/__init__.py"), ("purelib", "demo_pkg/_ext.so"),
        ("purelib", "demo_pkg.libs/libz.so.1"), ("scripts", "tool"), ("headers", "h.h"),
        ("data", "share/x"), ("purelib", "extra.py"), ("platlib", "plat.py"),
        ("purelib", "demo_pkg-1.0.dist-info/METADATA"), ("purelib", "demo_pkg-1.0.dist-info/WHEEL"),
    }  # RECORD is left for the installer to write afresh
    assert set(wheel.shared_libraries) == {"demo_pkg/_ext.so", "demo_pkg.libs/libz.so.1"}


def test_platform_wheel_root_is_platlib() -> None:
    whl = make_wheel("demo", "2.0", PKG, tag="cp313-cp313-pyemscripten_2025_0_wasm32")
    wheel = open_wheel(whl.filename, whl)
    assert not wheel.root_is_purelib
    assert {key for key, _, _ in wheel.files} == {"platlib"}


def test_stronger_hash_and_no_sizes_are_accepted() -> None:
    whl = make_wheel("demo", "1.0", PKG, record_algorithm="sha512")
    whl = _rewrite_record(whl, _set("demo_pkg/__init__.py", 2, ""))
    assert open_wheel("demo-1.0-py3-none-any.whl", whl).name == "demo"


def test_verified_sha256_is_kept_by_row_for_the_installer() -> None:
    whl = make_wheel("demo", "1.0", PKG, data_files={"scripts/tool": b"#!python\n"})
    wheel = open_wheel(whl.filename, whl)
    assert {row: f"sha256={d}" for row, d in wheel.sha256.items()} == {
        (key, path): record_hash(data) for key, path, data in wheel.files}
    stronger = open_wheel(whl.filename, make_wheel("demo", "1.0", PKG, record_algorithm="sha512"))
    assert stronger.sha256 == {}  # nothing to reuse: the installer hashes these itself


# --- one broken rule each -----------------------------------------------------------------

NOT_ZIP = b"PK\x03\x04 this is not really a zip"
MISSING = "demo_pkg-1.0.dist-info/gone.txt"

BAD_WHEELS = [
    # id, make_wheel kwargs (or raw bytes), post-edit of RECORD, exception, reason fragment
    ("not-a-zip", NOT_ZIP, None, WheelError, "not a readable zip"),
    ("parent-dir", {"files": {"../evil.py": b""}}, None, UnsafePathError, "'..'"),
    ("nested-parent-dir", {"files": {"demo_pkg/../../evil.py": b""}}, None, UnsafePathError, "'..'"),
    ("absolute", {"files": {"/etc/evil": b""}}, None, UnsafePathError, "absolute path"),
    ("drive-letter", {"files": {"C:/evil.py": b""}}, None, UnsafePathError, "drive letter"),
    ("backslash", {"files": {"demo_pkg\\..\\..\\evil.py": b""}}, None, UnsafePathError, "backslash"),
    ("symlink", {"symlinks": {"demo_pkg/link": "../../etc/passwd"}}, None, UnsafePathError, "symbolic link"),
    ("dist-info-mismatch", {"dist_info": "other-1.0"}, None, WheelError, "does not match the file name"),
    ("two-dist-infos", {"raw_members": [("zzz-1.0.dist-info/METADATA", b"Name: zzz\n")]}, None,
     WheelError, "more than one .dist-info"),
    ("wheel-version-2", {"wheel_file": "Wheel-Version: 2.0\nRoot-Is-Purelib: true\n"}, None,
     WheelError, "Wheel-Version 2.0 is not supported"),
    ("wheel-version-missing", {"wheel_file": "Root-Is-Purelib: true\n"}, None, WheelError, "no valid Wheel-Version"),
    ("duplicate-member", {"raw_members": [("demo_pkg/__init__.py", b"evil")]}, None, WheelError, "twice"),
    ("unknown-data-folder", {"data_files": {"lib/x.py": b""}}, None, WheelError, "unknown .data folder 'lib'"),
    ("file-at-data-root", {"data_files": {"loose.txt": b""}}, None, WheelError, "unknown .data folder"),
    ("data-over-root", {"data_files": {"purelib/demo_pkg/__init__.py": b""}}, None, WheelError,
     "'demo_pkg-1.0.data/purelib/demo_pkg/__init__.py'): would be installed where 'demo_pkg/__init__.py' is"),
    ("purelib-over-platlib", {"data_files": {"purelib/x.py": b"", "platlib/x.py": b""}}, None, WheelError,
     "'demo_pkg-1.0.data/platlib/x.py'): would be installed where 'demo_pkg-1.0.data/purelib/x.py' is"),
    ("no-record", {"record": False}, None, RecordError, "no RECORD"),
    ("hash-mismatch", {"bad_record": "demo_pkg/__init__.py"}, None, RecordError, "hash mismatch"),
    ("md5", {"record_algorithm": "md5"}, None, RecordError, "'md5' is not allowed"),
    ("sha1", {"record_algorithm": "sha1"}, None, RecordError, "'sha1' is not allowed"),
    ("unrecorded", {"unrecorded": ["demo_pkg/__init__.py"]}, None, RecordError, "not listed in RECORD"),
    ("size-mismatch", {}, _set("demo_pkg/__init__.py", 2, "999"), RecordError, "size mismatch"),
    ("no-hash", {}, _set("demo_pkg/__init__.py", 1, ""), RecordError, "no hash"),
    ("garbage-hash", {}, _set("demo_pkg/__init__.py", 1, "sha256=!!!"), RecordError, "hash mismatch"),
    ("listed-not-present", {}, lambda rows: rows + [[MISSING, record_hash(b""), "0"]], RecordError,
     "not in the archive"),
    ("short-row", {}, lambda rows: rows + [["demo_pkg/x.py", "sha256=abc"]], RecordError, "2 fields"),
    ("metadata-name", {"metadata_name": "other"}, None, MetadataError, "METADATA says Name 'other'"),
    ("metadata-version", {"metadata_version": "9.9"}, None, MetadataError, "METADATA says Version '9.9'"),
    ("metadata-junk", {"bad_metadata": True}, None, MetadataError, "no Name or no Version"),
]


@pytest.mark.parametrize(("kwargs", "edit", "error", "reason"), [case[1:] for case in BAD_WHEELS],
                         ids=[case[0] for case in BAD_WHEELS])
def test_bad_wheel(kwargs: dict | bytes, edit: Callable | None, error: type[Exception], reason: str) -> None:
    filename = "demo_pkg-1.0-py3-none-any.whl"
    if isinstance(kwargs, bytes):
        data = kwargs
    else:
        kwargs = dict(kwargs)
        data = bytes(make_wheel("demo-pkg", "1.0", kwargs.pop("files", PKG), **kwargs))
        if edit is not None:
            data = _rewrite_record(data, edit)
    with pytest.raises(PyemscriptenError) as info:
        open_wheel(filename, data)
    assert type(info.value) is error
    assert filename in str(info.value)
    assert reason in str(info.value)


def test_expected_name_and_version() -> None:
    whl = make_wheel("demo-pkg", "1.0", PKG)
    with pytest.raises(WheelError, match="expected project 'other'.*expected version 2.0"):
        open_wheel(whl.filename, whl, expected_name="other", expected_version="2.0")


def test_record_signatures_need_not_be_listed() -> None:
    # The spec: RECORD.jws and RECORD.p7s "are not mentioned in RECORD at all". Another
    # unlisted member in the same folder is still refused; the signatures are not installed,
    # nor is RECORD (the installed RECORD is a new one, which they do not sign).
    signed = make_wheel("demo-pkg", "1.0", PKG, raw_members=[("demo_pkg-1.0.dist-info/RECORD.jws", b"{}"),
                                                             ("demo_pkg-1.0.dist-info/RECORD.p7s", b"\x30")])
    wheel = open_wheel(signed.filename, bytes(signed))
    assert sorted(relative for _, relative, _ in wheel.files if relative.startswith("demo_pkg-1.0.dist-info/")) == [
        "demo_pkg-1.0.dist-info/METADATA", "demo_pkg-1.0.dist-info/WHEEL"]
    other = make_wheel("demo-pkg", "1.0", PKG, raw_members=[("demo_pkg-1.0.dist-info/RECORD.sig", b"{}")])
    with pytest.raises(RecordError, match="RECORD.sig.*not listed in RECORD"):
        open_wheel(other.filename, bytes(other))


def test_a_folders_row_in_record_is_passed_over() -> None:
    # The spec lists files only; some builders (wheelfile before 0.0.7, split-wheel scripts)
    # list folders too, with no hash and no size, and pip installs such wheels. The installed
    # RECORD is written fresh, so the row goes nowhere (pip kept a "./" row, and an uninstall
    # then took site-packages for the project's own folder: pypa/pip#10118).
    whl = make_wheel("demo-pkg", "1.0", PKG)
    plain = open_wheel(whl.filename, bytes(whl))
    folders = _rewrite_record(whl, lambda rows: [["demo_pkg/", "", ""], *rows, ["./", "", ""]])
    assert open_wheel(whl.filename, folders).files == plain.files
    for row in (["demo_pkg/", "sha256=abc", ""], ["demo_pkg/", "", "0"], ["demo_pkg", "", ""]):
        with pytest.raises(RecordError, match="listed in RECORD but not in the archive"):
            open_wheel(whl.filename, _rewrite_record(whl, lambda rows, row=row: [*rows, row]))


def test_every_problem_is_reported_at_once() -> None:
    whl = make_wheel("demo-pkg", "1.0", {**PKG, "demo_pkg/b.py": b"", "demo_pkg/c.py": b""},
                     bad_record="demo_pkg/__init__.py", unrecorded=["demo_pkg/b.py"])
    data = _rewrite_record(whl, _set("demo_pkg/c.py", 2, "5"))
    with pytest.raises(RecordError) as info:
        open_wheel(whl.filename, data)
    message = str(info.value)
    assert "3 problems" in message
    for fragment in ("'demo_pkg/__init__.py': hash mismatch", "'demo_pkg/b.py': in the archive but not listed",
                     "'demo_pkg/c.py': size mismatch"):
        assert fragment in message


def test_most_serious_problem_decides_the_type() -> None:
    whl = make_wheel("demo-pkg", "1.0", {**PKG, "../evil.py": b""}, record_algorithm="md5")
    with pytest.raises(UnsafePathError, match=r"\.\./evil\.py"):
        open_wheel(whl.filename, whl)


# --- hostile input never escapes as a foreign exception ---------------------------------


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_parse_wheel_name_fuzz(filename: str) -> None:
    try:
        parse_wheel_name(filename)
    except PyemscriptenError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["demo-1.0-py3-none-any.whl", "x.whl", "demo-1.0-1-cp312-none-any.whl"]), st.binary())
def test_open_wheel_on_arbitrary_bytes(filename: str, data: bytes) -> None:
    with pytest.raises(PyemscriptenError):
        open_wheel(filename, data)


VALID = bytes(make_wheel("demo", "1.0", {**PKG, "demo_pkg/data.bin": bytes(range(256)) * 4}))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, len(VALID) - 1), st.integers(0, 255)), min_size=1, max_size=8))
def test_open_wheel_on_corrupted_wheels(flips: list[tuple[int, int]]) -> None:
    try:
        open_wheel("demo-1.0-py3-none-any.whl", with_bytes_set(VALID, flips))
    except PyemscriptenError:
        pass


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(metadata=st.binary(max_size=200), wheel_file=st.binary(max_size=100),
       names=st.lists(st.text(min_size=1, max_size=20), max_size=4), record=st.binary(max_size=200))
def test_open_wheel_on_hostile_members(metadata: bytes, wheel_file: bytes, names: list[str], record: bytes) -> None:
    # The archive itself is sound, so every parser past the path checks sees the junk.
    whl = make_wheel("demo", "1.0", PKG, metadata=metadata, wheel_file=wheel_file, record=False,
                     raw_members=[("demo-1.0.dist-info/RECORD", record)]
                     + [(f"demo/{n.replace('/', '_')}", b"x") for n in names if n not in (".", "..")])
    try:
        open_wheel(whl.filename, whl)
    except PyemscriptenError:
        pass


def test_data_dir_spelled_differently_and_a_stray_one() -> None:
    whl = make_wheel("demo-pkg", "1.0", {**PKG, "Demo.Pkg-1.0.data/scripts/tool": b""})
    wheel = open_wheel(whl.filename, whl)
    assert ("scripts", "tool") in {(k, p) for k, p, _ in wheel.files}
    whl = make_wheel("demo-pkg", "1.0", {**PKG, "demo_pkg-1.0.data/scripts/a": b"", "other-1.0.data/scripts/b": b""})
    with pytest.raises(WheelError, match="unexpected .data directory"):
        open_wheel(whl.filename, whl)


def test_a_dist_info_folder_inside_data_is_refused() -> None:
    # It would stand in site-packages as another distribution's record (its RECORD naming
    # files an uninstall of it would remove).
    whl = make_wheel("demo-pkg", "1.0", {**PKG, "demo_pkg-1.0.data/purelib/other-1.0.dist-info/RECORD": b""})
    with pytest.raises(WheelError, match="a .dist-info folder inside .data would pose as an installed distribution"):
        open_wheel(whl.filename, whl)


def test_names_are_utf8_without_the_flag_too() -> None:
    # The wheel spec: names in the archive are UTF-8; some builders leave bit 11 unset.
    whl = bytes(make_wheel("demo-pkg", "1.0", {**PKG, "demo_pkg/café.py": b"x = 1\n"}))
    name = "demo_pkg/café.py".encode()
    unflagged = bytearray(whl)
    for signature, flags_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):  # local header, central directory
        at = 0
        while (at := unflagged.find(signature, at)) >= 0:
            name_at = at + (30 if signature == b"PK\x03\x04" else 46)
            if unflagged[name_at:name_at + len(name)] == name:
                flags = struct.unpack_from("<H", unflagged, at + flags_at)[0]
                struct.pack_into("<H", unflagged, at + flags_at, flags & ~0x800)
            at += 4
    assert unflagged != bytearray(whl)
    wheel = open_wheel(make_wheel("demo-pkg", "1.0", PKG).filename, bytes(unflagged))
    assert ("purelib", "demo_pkg/café.py") in {(k, p) for k, p, _ in wheel.files}


# --- digests computed elsewhere (the browser's WebCrypto) -----------------------------------


def test_open_wheel_async_hashes_every_recorded_member_through_the_hasher() -> None:
    wheel = make_wheel("demo-pkg", "1.0", {**PKG, "demo_pkg/data.bin": b"\0" * 5000})
    hasher = CountingHasher()
    got = asyncio.run(open_wheel_async(wheel.filename, bytes(wheel), hasher))
    plain = open_wheel(wheel.filename, bytes(wheel))
    assert (got.files, got.sha256) == (plain.files, plain.sha256)
    # Every file but RECORD itself, once each.
    assert sorted(hasher.seen) == sorted(data for _, _, data in got.files)


def test_check_wheel_trusts_given_digests_and_catches_a_wrong_one() -> None:
    wheel = make_wheel("demo-pkg", "1.0", PKG)
    archive = read_wheel(wheel.filename, bytes(wheel))
    digests = {path: hashlib.sha256(data).digest() for path, data in archive.hashable().items()}
    assert check_wheel(archive, digests).name == "demo-pkg"
    digests["demo_pkg/__init__.py"] = hashlib.sha256(b"something else").digest()
    with pytest.raises(RecordError, match="demo_pkg/__init__.py.*hash mismatch"):
        check_wheel(read_wheel(wheel.filename, bytes(wheel)), digests)


# --- CRC-32: checked where RECORD's hash does not vouch for a member ----------------------


def test_a_member_whose_record_hash_matches_needs_no_crc() -> None:
    # The sha256 RECORD gives is the stronger check of the same bytes; computing both cost
    # the large wheel of the benchmark 50 ms.
    wheel = make_wheel("demo-pkg", "1.0", PKG)
    broken = with_crc(wheel, "demo_pkg/__init__.py", 0x12345678)
    with pytest.raises(zipfile.BadZipFile, match="Bad CRC-32"):  # zipfile itself refuses it
        zipfile.ZipFile(io.BytesIO(broken)).read("demo_pkg/__init__.py")
    assert open_wheel(wheel.filename, broken).files == open_wheel(wheel.filename, wheel).files


def test_record_itself_is_crc_checked() -> None:
    wheel = make_wheel("demo-pkg", "1.0", PKG)
    broken = with_crc(wheel, "demo_pkg-1.0.dist-info/RECORD", 0x12345678)
    with pytest.raises(WheelError, match="RECORD.*bad CRC-32: the archive says 12345678"):
        open_wheel(wheel.filename, broken)


def test_a_member_whose_hash_fails_is_crc_checked_too() -> None:
    wheel = make_wheel("demo-pkg", "1.0", PKG)
    broken = with_crc(wheel, "demo_pkg/__init__.py", 0x12345678)
    archive = read_wheel(wheel.filename, broken)
    digests = {path: hashlib.sha256(data).digest() for path, data in archive.hashable().items()}
    digests["demo_pkg/__init__.py"] = hashlib.sha256(b"something else").digest()
    with pytest.raises(WheelError, match="2 problems: .*hash mismatch.*bad CRC-32"):
        check_wheel(archive, digests)


def _rewrite(wheel: bytes, edit: Callable[[zipfile.ZipInfo, bytes], tuple[zipfile.ZipInfo, bytes]]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(wheel)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            dst.writestr(*edit(info, src.read(info)))
    return out.getvalue()


def test_a_member_is_never_inflated_past_its_declared_size() -> None:
    # The central directory says 1 byte; 8 MB of zeros stand behind it. zipfile's own read()
    # inflates all of it (up to 1 GiB) before it trims; the fallback reads no more than told.
    import tracemalloc

    whl = make_wheel("demo-pkg", "1.0", {**PKG, "demo_pkg/bomb.bin": b"\0"})
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(bytes(whl))) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for entry in src.infolist():
            dst.writestr(entry.filename, bytes(8 << 20) if entry.filename == "demo_pkg/bomb.bin" else src.read(entry))
    body = bytearray(out.getvalue())
    at = body.find(b"demo_pkg/bomb.bin", body.find(b"PK\x01\x02")) - 46  # its central directory entry
    body[at + 16:at + 20] = struct.pack("<L", zlib.crc32(b"\0"))
    body[at + 24:at + 28] = struct.pack("<L", 1)
    tracemalloc.start()
    try:
        wheel = open_wheel(whl.filename, bytes(body))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert dict((rest, bytes(data)) for _, rest, data in wheel.files)["demo_pkg/bomb.bin"] == b"\0"
    assert peak < (2 << 20), peak


def test_member_names_are_checked_whole_and_offsets_inside_the_archive() -> None:
    # zipfile cuts a name at its first NUL; the rule is about the whole name.
    whl = make_wheel("demo-pkg", "1.0", {"demo_pkg/a.py": b"x = 1\n"})

    def nul(info: zipfile.ZipInfo, data: bytes) -> tuple[zipfile.ZipInfo, bytes]:
        if info.filename == "demo_pkg/a.py":
            info.filename = "demo_pkg/a.py\0/../../../etc/x"
        return info, data
    with pytest.raises(UnsafePathError, match="NUL in path"):
        open_wheel(whl.filename, _rewrite(bytes(whl), nul))
    # An end record that overstates the directory's offset puts members before the archive's
    # start, which zipfile refuses: so do we (Python's negative slices would have read them).
    raw = bytes(whl)
    end = raw.rfind(b"PK\x05\x06")
    (_, _, _, _, count, size, offset, _) = struct.unpack("<4s4H2LH", raw[end:end + 22])
    members, directory = raw[:offset], bytearray(raw[offset:offset + size])
    at = 0
    while at < len(directory):
        name_length, extra_length, comment_length = struct.unpack("<3H", directory[at + 28:at + 34])
        (header,) = struct.unpack("<L", directory[at + 42:at + 46])
        directory[at + 42:at + 46] = struct.pack("<L", header + 1000)
        at += 46 + name_length + extra_length + comment_length
    record = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, count, count, size, len(members) + 1008, len(members) + 8)
    with pytest.raises(WheelError, match="before the archive's start"):
        open_wheel(whl.filename, bytes(directory) + record + members + bytes(8))


def test_metadata_is_the_dist_info_one_and_of_a_version_we_read() -> None:
    # A .data folder's file that looks like the dist-info's METADATA is a data file: the
    # wheel's metadata is still its own dist-info's.
    whl = make_wheel("demo-pkg", "1.0", PKG, data_files={
        "data/demo_pkg-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: other\nVersion: 9\nRequires-Dist: evil\n"})
    wheel = open_wheel(whl.filename, bytes(whl))
    assert b"Name: demo-pkg" in wheel.metadata_file and b"evil" not in wheel.metadata_file
    # The core metadata spec: a major version above the ones read must fail.
    newer = make_wheel("demo-pkg", "1.0", PKG, metadata="Metadata-Version: 3.0\nName: demo-pkg\nVersion: 1.0\n")
    with pytest.raises(MetadataError, match="Metadata-Version 3.0 is newer than this installer reads"):
        open_wheel(newer.filename, bytes(newer))


def test_every_specifier_of_a_requirement_is_compared_at_parse_time() -> None:
    # A set stops at the first specifier that fails: the second (a number int() refuses)
    # would raise a plain ValueError deep in resolution. Caught where the text is known.
    from pyemscripten.candidates import Dependency
    from pyemscripten.errors import InvalidRequirementError
    from pyemscripten.metadata import parse_metadata

    huge = "9" * 4400
    for field in (f"Requires-Dist: b>=1,<{huge}", f"Requires-Python: >=3,<{huge}"):
        with pytest.raises(MetadataError):
            parse_metadata(f"Metadata-Version: 2.1\nName: a\nVersion: 1\n{field}\n".encode(), "a", "a.metadata")
    with pytest.raises(InvalidRequirementError):
        Dependency.parse(f"b>=1,<{huge}")



# --- what a wheel may cost, and what an install warns of -----------------------------------


def test_an_archive_declaring_more_than_a_page_holds_is_refused_before_inflating() -> None:
    # Three members whose central directory entries claim 1 GB each (deflate inflates about
    # 1,000 times at most, so a few MB could truly hold that): refused up front, nothing inflated.
    import tracemalloc

    import pyemscripten.wheels as wheels

    whl = make_wheel("demo-pkg", "1.0", {**PKG, "demo_pkg/a.bin": b"\0", "demo_pkg/b.bin": b"\0",
                                         "demo_pkg/c.bin": b"\0"})
    body = bytes(whl)
    for name in ("demo_pkg/a.bin", "demo_pkg/b.bin", "demo_pkg/c.bin"):
        body = with_declared_size(body, name, 1_000_000_000)
    tracemalloc.start()
    try:
        with pytest.raises(WheelError, match=r"would unpack to 3,000,000,\d+ bytes .* more than the 1,073,741,824 "
                                             r"\(1 GiB\) a browser page can hold") as caught:
            open_wheel(whl.filename, body)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert whl.filename in str(caught.value)
    assert peak < (1 << 20), peak
    assert wheels.MAX_UNPACKED == 1 << 30


def test_the_unpack_limit_counts_every_member(monkeypatch: pytest.MonkeyPatch) -> None:
    import pyemscripten.wheels as wheels

    whl = make_wheel("demo-pkg", "1.0", {**PKG, "demo_pkg/data.bin": bytes(5000)})
    with zipfile.ZipFile(io.BytesIO(bytes(whl))) as archive:
        total = sum(info.file_size for info in archive.infolist())
    monkeypatch.setattr(wheels, "MAX_UNPACKED", total)
    assert open_wheel(whl.filename, whl).name == "demo-pkg"  # the limit itself is allowed
    monkeypatch.setattr(wheels, "MAX_UNPACKED", total - 1)
    with pytest.raises(WheelError, match="would unpack to"):
        open_wheel(whl.filename, whl)


def test_a_newer_minor_wheel_version_installs_with_a_note() -> None:
    # The wheel spec: an installer should warn on a newer minor Wheel-Version, and fail on a
    # newer major (BAD_WHEELS' wheel-version-2).
    whl = make_wheel("demo-pkg", "1.0", PKG, wheel_file="Wheel-Version: 1.9\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
    wheel = open_wheel(whl.filename, whl)
    assert wheel.notes == ("Wheel-Version 1.9 is newer than this installer knows (1.0): installed as a 1.0 wheel; "
                           "a newer pyemscripten may know what it adds",)
    assert open_wheel(whl.filename, make_wheel("demo-pkg", "1.0", PKG)).notes == ()
    zeros = make_wheel("demo-pkg", "1.0", PKG, wheel_file="Wheel-Version: 1.00\nRoot-Is-Purelib: true\n")
    assert open_wheel(zeros.filename, zeros).notes == ()


@pytest.mark.parametrize(("version", "noted"), [("2.1", False), ("2.5", False), ("2.6", False), ("2.7", True), ("2.5000", True),
                                                ("1.0", False), ("2.x", False)])
def test_a_newer_minor_metadata_version_installs_with_a_note(version: str, noted: bool) -> None:
    # The core metadata spec: tools should warn when Metadata-Version is newer than they know.
    metadata = f"Metadata-Version: {version}\nName: demo-pkg\nVersion: 1.0\n"
    whl = make_wheel("demo-pkg", "1.0", PKG, metadata=metadata)
    notes = open_wheel(whl.filename, whl).notes
    if noted:
        assert len(notes) == 1
        assert notes == (f"Metadata-Version {version} is newer than this installer knows (2.6): fields new since "
                         "then are not read; a newer pyemscripten may know them",)
    else:
        assert notes == ()


def test_the_newest_metadata_version_known_is_packagings() -> None:
    # Written down, not asked of packaging.metadata at install time: importing it costs an
    # install in a page about 0.2 s (a benchmark of (a), whose wheels say 2.5, showed it).
    import packaging.metadata

    from pyemscripten.metadata import NEWEST_METADATA_VERSION

    newest = max(tuple(int(part) for part in v.split(".")) for v in packaging.metadata._VALID_METADATA_VERSIONS)
    assert newest == NEWEST_METADATA_VERSION
