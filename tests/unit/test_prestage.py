"""installation.Prestaged: a wheel's files written into staging while it downloads, and kept
only where they are exactly the verified wheel's files."""

from __future__ import annotations

import asyncio
import dataclasses
import os
from pathlib import Path

import pytest

from pyemscripten.errors import InstallError
from pyemscripten.installation import FileOps, Scheme, Staging, install
from pyemscripten.seams import Hasher
from pyemscripten.wheels import (
    MemberStream,
    UnpackedWheel,
    open_wheel,
    open_wheel_async,
)
from tests.support.wheels import make_wheel
from tests.unit.test_installation import env, listing, scheme  # noqa: F401 - the fixture

FILES = {
    "pkg/__init__.py": "from .core import answer\n",
    "pkg/core.py": "def answer():\n    return 42\n" * 200,
    "pkg/sub/data.bin": bytes(range(256)) * 40,
    "pkg/sub/__init__.py": "",  # empty members are all the one object b""
    "pkg/py.typed": "",
    ".hidden": "not a plain name: written by add()",
}
URL = "https://files.example/pkg-1.0-py3-none-any.whl"


class CountingOps(FileOps):
    def __init__(self) -> None:
        self.written: list[str] = []

    def write(self, path: str, data: bytes, mode: int) -> None:
        self.written.append(path)
        super().write(path, data, mode)


def feed(stream: MemberStream, data: bytes, piece: int = 700, start: int = 0) -> None:
    for at in range(start, len(data), piece):
        stream.feed(at, data[at:at + piece])


def streamed_wheel(staging: Staging, data: bytes, filename: str, body: bytes | None = None) -> UnpackedWheel:
    """Stream ``body`` (default: ``data``) into a prestage sink, then open ``data`` as the
    verified wheel, as downloads.WheelTasks does (after resolution: writing early)."""
    staging.write_early([URL])
    stream = MemberStream(sink=staging.prestage(URL))
    stream.feed(0, b"")
    feed(stream, body if body is not None else data)
    return asyncio.run(open_wheel_async(filename, data, Hasher(), streamed=stream))


def staged_files(scheme: Scheme) -> list[str]:  # noqa: F811
    found = []
    for work in Path(scheme.purelib).glob(".pyemscripten-*"):
        found += [str(p.relative_to(work)) for p in work.rglob("*") if p.is_file()]
    return sorted(found)


def reference(tmp_path: Path, data: bytes, filename: str, requested: bool = False) -> dict[str, tuple]:
    """site-packages after the usual install of the same wheel into a scheme of its own."""
    root = tmp_path / "reference"
    dirs = {key: root / key for key in ("site-packages", "bin", "include", "data")}
    for path in dirs.values():
        path.mkdir(parents=True)
    other = Scheme(purelib=str(dirs["site-packages"]), platlib=str(dirs["site-packages"]),
                   scripts=str(dirs["bin"]), headers=str(dirs["include"]), data=str(dirs["data"]))
    install([open_wheel(filename, data)], other, requested=["pkg"] if requested else []).finish()
    return listing(root)


def test_files_are_staged_while_streaming_and_not_written_again(scheme: Scheme, tmp_path: Path) -> None:  # noqa: F811
    whl = make_wheel("pkg", files=FILES)
    data = bytes(whl)
    ops = CountingOps()
    staging = Staging(scheme, ops=ops)
    wheel = streamed_wheel(staging, data, whl.filename)
    # Before add(): the package's files are in a tree of the staging folder, nowhere else.
    assert [p.split("/", 1)[1] for p in staged_files(scheme)] == ["pkg/__init__.py", "pkg/core.py", "pkg/py.typed",
                                                                  "pkg/sub/__init__.py", "pkg/sub/data.bin"]
    assert not (Path(scheme.purelib) / "pkg").exists()
    ops.written.clear()
    staging.request(["pkg"])
    staging.add(wheel, key=URL)
    # add() wrote only what the stream could not: the dist-info files, and the unusual name.
    rewritten = sorted(p.rsplit("/", 1)[1] for p in ops.written)
    assert rewritten == [".hidden", "INSTALLER", "METADATA", "RECORD", "REQUESTED", "WHEEL"]
    staging.commit().finish()
    assert listing(env(scheme)) == reference(tmp_path, data, whl.filename, requested=True)


def test_names_beyond_ascii_are_staged_under_the_names_zipfile_reads(scheme: Scheme, tmp_path: Path) -> None:  # noqa: F811
    # zipfile flags a name that is not ASCII as UTF-8; the stream must read it the same way,
    # or its files would be written under other names and taken for none of the wheel's.
    files = {**FILES, "pkg/café.py": "x = 1\n" * 100, "pkg/данные/ü.txt": "ü" * 300}
    whl = make_wheel("pkg", files=files)
    ops = CountingOps()
    staging = Staging(scheme, ops=ops)
    wheel = streamed_wheel(staging, bytes(whl), whl.filename)
    assert {"pkg/café.py", "pkg/данные/ü.txt"} <= {p.split("/", 1)[1] for p in staged_files(scheme)}
    ops.written.clear()
    staging.add(wheel, key=URL)
    # Taken as staged, not written again (under any spelling of the names). Only the part below
    # the staging folder is looked at: its random hex name may hold "caf".
    below = [p.split("/.pyemscripten-", 1)[-1].split("/", 1)[-1] for p in ops.written]
    assert not [p for p in below if "caf" in p or "ü" in p]
    staging.commit().finish()
    assert listing(env(scheme)) == reference(tmp_path, bytes(whl), whl.filename)


@pytest.mark.parametrize("raw, flags", [
    (b"pkg/core.py", 0), (b"pkg/core.py", 0x800),
    ("pkg/café.py".encode(), 0x800),  # as zipfile writes a name beyond ASCII
    ("pkg/café.py".encode(), 0),  # UTF-8 without the flag: the wheel spec's names are UTF-8 all the same
    (b"pkg/caf\x82.py", 0),  # not UTF-8 (code page 437): no name; the archive's read then fails
    (b"pkg/\xff\xfe.py", 0x800),  # flagged, not UTF-8: no name, never an exception
])
def test_a_local_header_name_reads_as_the_archive_is_read(raw: bytes, flags: int) -> None:
    from pyemscripten.wheels import _member_name

    try:
        expected: str | None = raw.decode("utf-8")  # the flag (bit 11) is not read
    except UnicodeDecodeError:
        expected = None  # not "replace": "\ufffd" is a name a central directory may hold
    assert _member_name(raw) == expected


def test_prestaged_files_that_are_not_the_verified_wheel_are_dropped(scheme: Scheme, tmp_path: Path) -> None:  # noqa: F811
    # The stream saw another body than the one verified (a tampered mirror, say): one member
    # differs and one is extra. Neither may reach site-packages.
    whl = make_wheel("pkg", files=FILES)
    tampered = make_wheel("pkg", files={**FILES, "pkg/core.py": "import os\n" * 300, "pkg/evil.py": "x"})
    staging = Staging(scheme)
    wheel = streamed_wheel(staging, bytes(whl), whl.filename, body=bytes(tampered))
    assert any(p.endswith("pkg/evil.py") for p in staged_files(scheme))
    staging.add(wheel, key=URL)
    staging.commit().finish()
    assert listing(env(scheme)) == reference(tmp_path, bytes(whl), whl.filename)


def test_a_prestaged_file_must_be_the_very_object_the_wheel_holds(scheme: Scheme, tmp_path: Path) -> None:  # noqa: F811
    whl = make_wheel("pkg", files=FILES)
    staging = Staging(scheme)
    wheel = streamed_wheel(staging, bytes(whl), whl.filename)
    # Equal bytes are not enough: only what read_wheel took from this stream counts.
    copied = tuple((key, path, bytes(bytearray(content))) for key, path, content in wheel.files)
    staging.add(dataclasses.replace(wheel, files=copied), key=URL)
    staging.commit().finish()
    assert listing(env(scheme)) == reference(tmp_path, bytes(whl), whl.filename)


def test_a_restarted_download_starts_a_new_tree(scheme: Scheme, tmp_path: Path) -> None:  # noqa: F811
    whl = make_wheel("pkg", files=FILES)
    data = bytes(whl)
    staging = Staging(scheme)
    staging.write_early([URL])
    stream = MemberStream(sink=staging.prestage(URL))
    feed(stream, bytes(make_wheel("pkg", files={"pkg/old.py": "old" * 500})))  # the first try
    stream.feed(0, b"")  # get_ok: a new try
    feed(stream, data)
    assert not any(p.endswith("pkg/old.py") for p in staged_files(scheme))
    wheel = asyncio.run(open_wheel_async(whl.filename, data, Hasher(), streamed=stream))
    staging.add(wheel, key=URL)
    staging.commit().finish()
    assert listing(env(scheme)) == reference(tmp_path, data, whl.filename)


def test_what_no_wheel_claims_goes_with_the_staging_folder(scheme: Scheme, tmp_path: Path) -> None:  # noqa: F811
    whl = make_wheel("pkg", files=FILES)
    before = listing(env(scheme))
    # A cancelled guess: streamed, never added; the install that follows installs nothing else.
    staging = Staging(scheme)
    streamed_wheel(staging, bytes(whl), whl.filename)
    assert staged_files(scheme)
    staging.commit().finish()
    assert listing(env(scheme)) == before
    # Abandoned: abort() drops it, and a download still running writes nothing afterwards.
    staging = Staging(scheme)
    staging.write_early([URL])
    stream = MemberStream(sink=staging.prestage(URL))
    feed(stream, bytes(whl)[:300])
    staging.abort()
    feed(stream, bytes(whl), start=300)
    assert listing(env(scheme)) == before


def test_nothing_is_prestaged_where_purelib_is_not_platlib(tmp_path: Path) -> None:
    dirs = {key: str(tmp_path / key) for key in ("purelib", "platlib", "scripts", "headers", "data")}
    assert Staging(Scheme(**dirs)).prestage(URL) is None


def test_a_write_that_fails_while_streaming_falls_back_to_add(scheme: Scheme, tmp_path: Path) -> None:  # noqa: F811
    class FailOnce(FileOps):
        failed = False

        def write(self, path: str, data: bytes, mode: int) -> None:
            if not self.failed and path.endswith("core.py"):
                self.failed = True
                raise OSError(28, "No space left on device")
            super().write(path, data, mode)

    whl = make_wheel("pkg", files=FILES)
    staging = Staging(scheme, ops=FailOnce())
    wheel = streamed_wheel(staging, bytes(whl), whl.filename)
    staging.add(wheel, key=URL)
    staging.commit().finish()
    assert listing(env(scheme)) == reference(tmp_path, bytes(whl), whl.filename)
    assert not [p for p in os.listdir(scheme.purelib) if p.startswith(".pyemscripten")]


@pytest.mark.parametrize("piece", [1, 64, 5000])
def test_any_piece_size_installs_the_same(scheme: Scheme, tmp_path: Path, piece: int) -> None:  # noqa: F811
    whl = make_wheel("pkg", files=FILES, data_files={"data/share/pkg.txt": "data"})
    data = bytes(whl)
    staging = Staging(scheme)
    stream = MemberStream(sink=staging.prestage(URL))
    feed(stream, data[:len(data) // 2], piece)  # while resolving: held
    staging.write_early([URL])
    feed(stream, data, piece, start=len(data) // 2)
    assert len(staged_files(scheme)) == 5  # no gap: the whole package was written early
    staging.add(asyncio.run(open_wheel_async(whl.filename, data, Hasher(), streamed=stream)), key=URL)
    staging.commit().finish()
    assert listing(env(scheme)) == reference(tmp_path, data, whl.filename)


def test_members_are_held_until_the_staging_writes_early(scheme: Scheme) -> None:  # noqa: F811
    # While resolution runs its round trips come first: nothing is written yet.
    whl = make_wheel("pkg", files=FILES)
    staging = Staging(scheme)
    stream = MemberStream(sink=staging.prestage(URL))
    feed(stream, bytes(whl))
    assert staged_files(scheme) == []
    staging.write_early([URL])
    assert len(staged_files(scheme)) == 5


def test_a_duplicate_name_in_the_stream_stops_prestaging(scheme: Scheme) -> None:  # noqa: F811
    import io
    import warnings
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate
        archive.writestr("pkg/a.py", "one")
        archive.writestr("pkg/a.py", "two")
    staging = Staging(scheme)
    staging.write_early([URL])
    sink = staging.prestage(URL)
    stream = MemberStream(sink=sink)
    stream.feed(0, out.getvalue())
    assert sink is not None and sink.broken
    before = listing(env(scheme))
    staging.abort()
    assert not [p for p in os.listdir(scheme.purelib) if p.startswith(".pyemscripten")]
    assert listing(env(scheme)) == {k: v for k, v in before.items() if ".pyemscripten" not in k}


def test_a_gap_voids_what_was_written(scheme: Scheme) -> None:  # noqa: F811
    data = bytes(make_wheel("pkg", files=FILES))
    staging = Staging(scheme)
    staging.write_early([URL])
    stream = MemberStream(sink=staging.prestage(URL))
    feed(stream, data[:len(data) // 2])
    assert staged_files(scheme)
    stream.feed(len(data) // 2 + 10, data[len(data) // 2 + 10:])
    assert staged_files(scheme) == []


def test_downloads_the_plan_does_not_use_write_nothing(scheme: Scheme) -> None:  # noqa: F811
    data = bytes(make_wheel("pkg", files=FILES))
    staging = Staging(scheme)
    unplanned = MemberStream(sink=staging.prestage("https://files.example/unused.whl"))
    feed(unplanned, data[:len(data) // 2])  # held while resolving
    staging.write_early([URL])
    feed(unplanned, data, start=len(data) // 2)
    assert staged_files(scheme) == []


def test_a_wheel_refused_at_add_leaves_nothing_after_abort(scheme: Scheme, tmp_path: Path) -> None:  # noqa: F811
    # add() refuses pkg (its folder links outside site-packages) after pkg was prestaged.
    outside = tmp_path / "outside"
    outside.mkdir()
    (Path(scheme.purelib) / "pkg").symlink_to(outside)
    before = listing(env(scheme))
    whl = make_wheel("pkg", files=FILES)
    staging = Staging(scheme)
    wheel = streamed_wheel(staging, bytes(whl), whl.filename)
    with pytest.raises(InstallError, match="outside"):
        staging.add(wheel, key=URL)
    assert list(outside.iterdir()) == []
    staging.abort()
    assert listing(env(scheme)) == before


def test_an_add_after_a_failed_one_writes_its_wheel_again(scheme: Scheme) -> None:  # noqa: F811
    # A write fails in add() for pkg: the staging folder goes, with other's prestaged files.
    # other, added afterwards (another task of the same install), must not count on them.
    class FailRecord(FileOps):
        def write(self, path: str, data: bytes, mode: int) -> None:
            if path.endswith("pkg-1.0.dist-info/RECORD"):
                raise OSError(28, "No space left on device")
            super().write(path, data, mode)

    whl = make_wheel("pkg", files=FILES)
    other = make_wheel("other", files={"other/__init__.py": "x = 1\n" * 100})
    staging = Staging(scheme, ops=FailRecord())
    staging.write_early([URL, "other"])
    stream = MemberStream(sink=staging.prestage("other"))
    feed(stream, bytes(other))
    late = asyncio.run(open_wheel_async(other.filename, bytes(other), Hasher(), streamed=stream))
    stream = MemberStream(sink=staging.prestage(URL))
    feed(stream, bytes(whl))
    wheel = asyncio.run(open_wheel_async(whl.filename, bytes(whl), Hasher(), streamed=stream))
    assert "other/__init__.py" in {p.split("/", 1)[1] for p in staged_files(scheme)}  # prestaged
    with pytest.raises(InstallError, match="No space left"):
        staging.add(wheel, key=URL)
    assert staged_files(scheme) == []
    staging.add(late, key="other")
    assert "other/__init__.py" in {p.split("/", 1)[1] for p in staged_files(scheme)}  # written again
    staging.abort()
    assert staged_files(scheme) == []


def test_prestaging_never_makes_the_scheme_folder(tmp_path: Path) -> None:
    dirs = {key: str(tmp_path / "missing" / key) for key in ("scripts", "headers", "data")}
    nowhere = Scheme(purelib=str(tmp_path / "missing" / "site"), platlib=str(tmp_path / "missing" / "site"), **dirs)
    staging = Staging(nowhere)
    staging.write_early([URL])
    stream = MemberStream(sink=staging.prestage(URL))
    feed(stream, bytes(make_wheel("pkg", files=FILES)))
    assert not (tmp_path / "missing").exists()


def _with_hidden_member(wheel: bytes, name: str, content: bytes) -> bytes:
    """``wheel`` with one more stored member in front that only a local header lists: the
    central directory (offsets shifted to match) does not know it."""
    import struct
    import zipfile
    import zlib

    encoded = name.encode()
    hidden = struct.pack(zipfile.structFileHeader, zipfile.stringFileHeader, 20, 0, 0, 0, 0, 0,
                         zlib.crc32(content), len(content), len(content), len(encoded), 0) + encoded + content
    out = bytearray(hidden + wheel)
    end = out.rindex(zipfile.stringEndArchive)
    entries, _, cd_offset = struct.unpack_from("<HII", out, end + 10)  # count, size, start
    struct.pack_into("<I", out, end + 16, cd_offset + len(hidden))
    at = cd_offset + len(hidden)
    for _ in range(entries):
        name_length, extra_length, comment_length = struct.unpack_from("<HHH", out, at + 28)
        (local,) = struct.unpack_from("<I", out, at + 42)
        struct.pack_into("<I", out, at + 42, local + len(hidden))
        at += 46 + name_length + extra_length + comment_length
    return bytes(out)


def test_a_member_only_a_local_header_lists_is_written_early_and_then_dropped(
        scheme: Scheme, tmp_path: Path) -> None:  # noqa: F811
    # The verified body itself smuggles a file past the central directory: the stream sees
    # it and writes it early, read_wheel does not; it must not reach site-packages.
    whl = make_wheel("pkg", files=FILES)
    data = _with_hidden_member(bytes(whl), "pkg/hidden.py", b"import os\n" * 100)
    from pyemscripten.wheels import read_wheel

    assert "pkg/hidden.py" not in read_wheel(whl.filename, data).members
    staging = Staging(scheme)
    wheel = streamed_wheel(staging, data, whl.filename)
    assert any(p.endswith("pkg/hidden.py") for p in staged_files(scheme))
    staging.add(wheel, key=URL)
    staging.commit().finish()
    assert listing(env(scheme)) == reference(tmp_path, bytes(whl), whl.filename)


class BatchOps(FileOps):
    """Records each write_tree call: the tree and the names written together."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[str]]] = []

    def write_tree(self, root: str, files, mode: int) -> None:  # type: ignore[no-untyped-def]
        self.calls.append((root.rsplit("/", 1)[1], [name for name, _ in files]))
        super().write_tree(root, files, mode)


def test_the_members_of_one_piece_are_written_in_one_call(scheme: Scheme, tmp_path: Path) -> None:  # noqa: F811
    whl = make_wheel("pkg", files=FILES)
    data = bytes(whl)
    ops = BatchOps()
    staging = Staging(scheme, ops=ops)
    staging.write_early([URL])
    stream = MemberStream(sink=staging.prestage(URL))
    stream.feed(0, data)  # the whole body in one piece
    assert len(ops.calls) == 1
    assert sorted(ops.calls[0][1]) == ["pkg/__init__.py", "pkg/core.py", "pkg/py.typed", "pkg/sub/__init__.py",
                                       "pkg/sub/data.bin"]
    wheel = asyncio.run(open_wheel_async(whl.filename, data, Hasher(), streamed=stream))
    ops.calls.clear()
    staging.add(wheel, key=URL)
    # add() writes what is left in one call per tree and mode: the dist-info files and .hidden.
    assert len(ops.calls) == 1 and sorted(ops.calls[0][1]) == [
        ".hidden", "pkg-1.0.dist-info/INSTALLER", "pkg-1.0.dist-info/METADATA", "pkg-1.0.dist-info/RECORD",
        "pkg-1.0.dist-info/WHEEL"]
    staging.commit().finish()
    assert listing(env(scheme)) == reference(tmp_path, data, whl.filename)


def test_members_handed_over_but_not_flushed_are_written_before_add_uses_them(
        scheme: Scheme, tmp_path: Path) -> None:  # noqa: F811
    # A sink driven by hand (no flush after the members): add() writes them first, and
    # finds them in place.
    whl = make_wheel("pkg", files=FILES)
    data = bytes(whl)
    ops = CountingOps()
    staging = Staging(scheme, ops=ops)
    staging.write_early([URL])
    sink = staging.prestage(URL)
    assert sink is not None
    wheel = open_wheel(whl.filename, data)
    for _, relative, content in wheel.files:
        if relative.startswith("pkg/"):
            sink.member(relative, content)
    assert ops.written == []
    staging.add(wheel, key=URL)
    assert sorted(p.rsplit("/", 1)[1] for p in ops.written if "/pkg/" in p) == [
        "__init__.py", "__init__.py", "core.py", "data.bin", "py.typed"]
    assert not [p for p in ops.written if "dist-info" not in p and "/pkg/" not in p and ".hidden" not in p]
    staging.commit().finish()
    assert listing(env(scheme)) == reference(tmp_path, data, whl.filename)


def test_write_tree_makes_folders_and_refuses_a_file_that_exists(tmp_path: Path) -> None:
    ops = FileOps()
    ops.write_tree(str(tmp_path), [("a/b/c.py", b"c"), ("a/d.py", b"d"), ("e", b"")], 0o644)
    assert (tmp_path / "a/b/c.py").read_bytes() == b"c" and (tmp_path / "a/d.py").read_bytes() == b"d"
    assert (tmp_path / "e").read_bytes() == b""
    with pytest.raises(FileExistsError):
        ops.write_tree(str(tmp_path), [("a/new.py", b"n"), ("a/d.py", b"again")], 0o644)
    assert (tmp_path / "a/d.py").read_bytes() == b"d"


class _Place:
    """Where MovingOps keeps moved bytes (in the browser: one JavaScript buffer)."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.reads = 0

    def read(self, at: int, size: int) -> bytes:
        self.reads += 1
        return self.data[at:at + size]


class MovingOps(CountingOps):
    """File operations that move members out of the interpreter until they are written, as
    browser.MemfsFileOps does (into JavaScript)."""

    moves_bytes = True

    def __init__(self) -> None:
        super().__init__()
        self.places: list[_Place] = []

    def write(self, path: str, data: bytes, mode: int) -> None:
        from pyemscripten.installation import KeptBytes

        if isinstance(data, KeptBytes) and data.data is None:  # written from where it is, not read back
            data = data.place.data[data.at:data.at + len(data)]
        super().write(path, data, mode)

    def keep(self, kept) -> None:  # type: ignore[no-untyped-def]
        place = _Place(b"".join(k.data for k in kept))
        self.places.append(place)
        at = 0
        for k in kept:
            k.move(place, at)
            at += len(k)


def test_members_moved_out_of_the_interpreter_install_the_same(
        scheme: Scheme, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    from pyemscripten.installation import KeptBytes, Prestaged

    monkeypatch.setattr(Prestaged, "KEEP", 1000)  # held members move a few at a time
    whl = make_wheel("pkg", files=FILES)
    data = bytes(whl)
    ops = MovingOps()
    staging = Staging(scheme, ops=ops)
    stream = MemberStream(Hasher(), sink=staging.prestage(URL))

    async def stream_then_open() -> UnpackedWheel:  # the stream hashes on the running loop
        feed(stream, data[:len(data) // 2])  # while resolving: held, and moved out once 1000 bytes wait
        assert ops.places and staged_files(scheme) == []
        staging.write_early([URL])
        feed(stream, data, start=len(data) // 2)
        assert len(staged_files(scheme)) == 5
        return await open_wheel_async(whl.filename, data, Hasher(), streamed=stream)

    wheel = asyncio.run(stream_then_open())
    kept = [content for _, _, content in wheel.files if isinstance(content, KeptBytes)]
    # The package's files stand in the wheel as the objects moved out, none of them still in
    # the interpreter; the dist-info files (not prestaged) are bytes.
    assert len(kept) == 5 and all(k.data is None for k in kept)
    assert sum(place.reads for place in ops.places) == 0  # hashed while streaming: never read back
    ops.written.clear()
    staging.add(wheel, key=URL)
    assert sorted(p.rsplit("/", 1)[1] for p in ops.written) == [".hidden", "INSTALLER", "METADATA", "RECORD", "WHEEL"]
    staging.commit().finish()
    assert listing(env(scheme)) == reference(tmp_path, data, whl.filename)


def test_a_moved_member_is_hashed_from_where_it_went_when_streaming_could_not(
        scheme: Scheme, tmp_path: Path) -> None:  # noqa: F811
    class Failing(Hasher):
        async def sha256(self, blobs):  # type: ignore[no-untyped-def]
            raise RuntimeError("no digests while streaming")

    whl = make_wheel("pkg", files=FILES)
    data = bytes(whl)
    ops = MovingOps()
    staging = Staging(scheme, ops=ops)
    staging.write_early([URL])
    stream = MemberStream(Failing(), sink=staging.prestage(URL))

    async def stream_then_open() -> UnpackedWheel:  # the failed hashing runs on a loop
        feed(stream, data)
        return await open_wheel_async(whl.filename, data, Hasher(), streamed=stream)

    wheel = asyncio.run(stream_then_open())
    assert sum(place.reads for place in ops.places) >= 4  # the non-empty moved members, read back to hash
    staging.add(wheel, key=URL)
    staging.commit().finish()
    assert listing(env(scheme)) == reference(tmp_path, data, whl.filename)


def test_moved_members_of_another_body_are_dropped(scheme: Scheme, tmp_path: Path) -> None:  # noqa: F811
    whl = make_wheel("pkg", files=FILES)
    tampered = make_wheel("pkg", files={**FILES, "pkg/core.py": "import os\n" * 300, "pkg/evil.py": "x"})
    staging = Staging(scheme, ops=MovingOps())
    wheel = streamed_wheel(staging, bytes(whl), whl.filename, body=bytes(tampered))
    assert any(p.endswith("pkg/evil.py") for p in staged_files(scheme))
    staging.add(wheel, key=URL)
    staging.commit().finish()
    assert listing(env(scheme)) == reference(tmp_path, bytes(whl), whl.filename)
