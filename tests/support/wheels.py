"""Build wheels in memory for tests: valid ones, and ones broken in one chosen way.

    from tests.support.wheels import make_wheel

    whl = make_wheel("demo-pkg", "1.0", {"demo_pkg/__init__.py": b"X = 1\\n"},
                     requires=["attrs>=23"], requires_python=">=3.11")
    whl.filename     # 'demo_pkg-1.0-py3-none-any.whl'
    whl.sha256       # hex digest of the archive
    whl.metadata     # the METADATA bytes (what an index serves at {url}.metadata)
    zipfile.ZipFile(io.BytesIO(whl))   # it *is* bytes
    whl.write(tmp_path)               # -> tmp_path / whl.filename

A valid wheel has ``{dist}-{ver}.dist-info/`` with METADATA, WHEEL and a RECORD that lists
every member with its sha256 and size (RECORD itself without hash). The knobs below each
break one rule, so a validator test can check that exactly that problem is reported.
"""

from __future__ import annotations

import base64
import hashlib
import io
import re
import stat
import warnings
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path

from pyemscripten.seams import Hasher

__all__ = ["WheelBytes", "make_wheel", "wheel_filename", "dist_name", "read_metadata", "with_bytes_set",
           "record_hash", "with_crc"]

# Fixed timestamp: the same arguments give byte-identical wheels (stable hashes in tests).
_DATE_TIME = (2024, 1, 1, 0, 0, 0)


class WheelBytes(bytes):
    """The bytes of a wheel archive, plus what tests usually want to know about it.

    A ``bytes`` subclass (not a dataclass) so it goes anywhere bytes go:
    ``io.BytesIO(whl)``, ``Path.write_bytes(whl)``, an HTTP body.
    """

    filename: str
    metadata: bytes

    def __new__(cls, data: bytes, filename: str, metadata: bytes) -> WheelBytes:
        obj = super().__new__(cls, data)
        obj.filename = filename
        obj.metadata = metadata
        return obj

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self).hexdigest()

    @property
    def size(self) -> int:
        return len(self)

    def write(self, directory: str | Path) -> Path:
        """Write the wheel into ``directory`` under its file name; return the path."""
        path = Path(directory) / self.filename
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(self)
        return path


def dist_name(name: str) -> str:
    """The escaped distribution name used in wheel file names and ``.dist-info`` folders."""
    return re.sub(r"[-_.]+", "_", name).lower()


def _normalize_version(version: str) -> str:
    try:
        from packaging.version import Version

        return str(Version(version))
    except Exception:  # an invalid version is a legitimate test input: keep it verbatim
        return version


def wheel_filename(name: str, version: str, tag: str = "py3-none-any",
                   build: str | None = None) -> str:
    """``{dist}-{version}[-{build}]-{tag}.whl`` with the name escaped as the spec says."""
    parts = [dist_name(name), _normalize_version(version).replace("-", "_")]
    if build:
        parts.append(build)
    parts.append(tag)
    return "-".join(parts) + ".whl"


def with_bytes_set(data: bytes, changes: Iterable[tuple[int, int]]) -> bytes:
    """``data`` with each ``(offset, value)`` of ``changes`` written over it (fuzzing)."""
    out = bytearray(data)
    for offset, value in changes:
        out[offset] = value
    return bytes(out)


def record_hash(data: bytes, algorithm: str = "sha256") -> str:
    """A RECORD hash field: ``sha256=<urlsafe base64, no padding>``."""
    digest = hashlib.new(algorithm, data).digest()
    return f"{algorithm}=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def read_metadata(wheel: bytes, filename: str | None = None) -> bytes | None:
    """The METADATA of a wheel's top-level ``.dist-info`` folder, or None if it has none.

    With ``filename``, the folder named like the file (``{dist}-{version}``) wins over others.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(wheel)) as zf:
            found = [m for m in zf.namelist()
                     if m.count("/") == 1 and m.endswith(".dist-info/METADATA")]
            if filename and found:
                prefix = "-".join(filename.split("-")[:2]).lower()
                found.sort(key=lambda m: m.split(".dist-info/")[0].lower() != prefix)
            return zf.read(found[0]) if found else None
    except zipfile.BadZipFile:
        return None


def _metadata_text(name: str, version: str, requires: Iterable[str],
                   requires_python: str | None, extras: Mapping[str, Iterable[str]],
                   extra_metadata: Iterable[tuple[str, str]] | Mapping[str, str],
                   summary: str) -> str:
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}",
             f"Summary: {summary}"]
    if requires_python:
        lines.append(f"Requires-Python: {requires_python}")
    lines += [f"Requires-Dist: {req}" for req in requires]
    for extra, reqs in extras.items():
        lines.append(f"Provides-Extra: {extra}")
        for req in reqs:
            base, _, marker = req.partition(";")
            guard = f"({marker.strip()}) and extra == '{extra}'" if marker else f"extra == '{extra}'"
            lines.append(f"Requires-Dist: {base.strip()}; {guard}")
    items = extra_metadata.items() if isinstance(extra_metadata, Mapping) else extra_metadata
    lines += [f"{key}: {value}" for key, value in items]
    return "\n".join(lines) + "\n\n"


def make_wheel(
    name: str,
    version: str = "1.0",
    files: Mapping[str, bytes | str] | None = None,
    *,
    requires: Iterable[str] = (),
    tag: str = "py3-none-any",
    build: str | None = None,
    requires_python: str | None = None,
    extras: Mapping[str, Iterable[str]] | None = None,
    extra_metadata: Iterable[tuple[str, str]] | Mapping[str, str] = (),
    summary: str = "A test package",
    data_files: Mapping[str, bytes | str] | None = None,
    entry_points: str | None = None,
    filename: str | None = None,
    dist_info: str | None = None,
    metadata: bytes | str | None = None,
    metadata_name: str | None = None,
    metadata_version: str | None = None,
    bad_metadata: bool = False,
    wheel_file: bytes | str | None = None,
    bad_record: bool | str = False,
    record: bool = True,
    record_algorithm: str = "sha256",
    unrecorded: Iterable[str] = (),
    symlinks: Mapping[str, str] | None = None,
    raw_members: Iterable[tuple[str, bytes]] = (),
) -> WheelBytes:
    """Build a wheel archive in memory.

    A valid wheel by default; ``files`` maps archive paths to contents (``str`` is encoded as
    UTF-8) and may hold any path, including unsafe ones (``"../evil.py"``, ``"/etc/x"``):
    they are written verbatim and recorded in RECORD, so only the path rule is broken.

    Content:
        requires: ``Requires-Dist`` lines (PEP 508 strings, markers allowed).
        tag: the compatibility tag, e.g. ``"cp314-cp314-pyemscripten_2026_0_wasm32"``;
            ``Root-Is-Purelib`` is true only for ``*-none-any`` tags.
        build: optional build tag in the file name and WHEEL.
        requires_python: the ``Requires-Python`` field.
        extras: ``{"extra": ["req", ...]}`` adds Provides-Extra and marker-guarded Requires-Dist.
        extra_metadata: more ``(key, value)`` header lines for METADATA.
        data_files: ``{"scripts/tool": b"...", "purelib/x.py": b"..."}`` placed under
            ``{dist}-{ver}.data/`` (any first folder name is accepted here, to test refusal).
        entry_points: text of ``entry_points.txt``.

    Breakage (each breaks one thing):
        filename: the file name to report (e.g. a name that does not match dist-info).
        dist_info: the ``.dist-info`` folder name (without the suffix), e.g. ``"other-1.0"``.
        metadata: the whole METADATA, verbatim (overrides every content knob above).
        metadata_name / metadata_version: what METADATA says, against the file name.
        bad_metadata: METADATA that no parser accepts (binary junk, no ``Name``).
        wheel_file: the whole WHEEL file, verbatim (e.g. ``Wheel-Version: 9.0``).
        bad_record: True corrupts the hash of the first file in RECORD; a path corrupts that one.
        record: False leaves RECORD out entirely.
        record_algorithm: hash used in RECORD (``"md5"`` to test refusing weak hashes).
        unrecorded: paths present in the archive but left out of RECORD.
        symlinks: ``{"pkg/link": "../../target"}`` members stored as Unix symlinks.
        raw_members: ``(path, bytes)`` appended after RECORD, never recorded (duplicates too).
    """
    files = dict(files or {})
    version_text = _normalize_version(version)
    escaped = f"{dist_name(name)}-{version_text.replace('-', '_')}"
    info_dir = f"{dist_info or escaped}.dist-info"
    data_dir = f"{escaped}.data"

    if metadata is None:
        if bad_metadata:
            metadata = b"\xff\xfe\x00garbage without any header\n\x00"
        else:
            metadata = _metadata_text(metadata_name or name, metadata_version or version,
                                      requires, requires_python, extras or {},
                                      extra_metadata, summary)
    metadata_bytes = metadata.encode() if isinstance(metadata, str) else metadata

    purelib = tag.endswith("-none-any")
    if wheel_file is None:
        wheel_file = ("Wheel-Version: 1.0\nGenerator: pyemscripten-tests\n"
                      f"Root-Is-Purelib: {'true' if purelib else 'false'}\nTag: {tag}\n"
                      + (f"Build: {build}\n" if build else ""))

    members: list[tuple[str, bytes]] = [(path, _b(data)) for path, data in files.items()]
    members += [(f"{data_dir}/{path}", _b(data)) for path, data in (data_files or {}).items()]
    members.append((f"{info_dir}/METADATA", metadata_bytes))
    members.append((f"{info_dir}/WHEEL", _b(wheel_file)))
    if entry_points is not None:
        members.append((f"{info_dir}/entry_points.txt", _b(entry_points)))

    record_path = f"{info_dir}/RECORD"
    skip = set(unrecorded)
    rows = []
    for path, data in members:
        if path in skip:
            continue
        rows.append([path, record_hash(data, record_algorithm), str(len(data))])
    for path, target in (symlinks or {}).items():
        rows.append([path, record_hash(target.encode(), record_algorithm), str(len(target))])
    if bad_record:
        victim = bad_record if isinstance(bad_record, str) else rows[0][0] if rows else None
        for row in rows:
            if row[0] == victim:
                row[1] = record_hash(b"not the content", record_algorithm)
                break
        else:
            raise ValueError(f"bad_record: {victim!r} is not a recorded member")
    rows.append([record_path, "", ""])
    record_text = "".join(",".join(_csv_field(f) for f in row) + "\n" for row in rows)

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for path, data in members:
            zf.writestr(_info(path), data)
        for path, target in (symlinks or {}).items():
            info = _info(path)
            info.create_system = 3  # Unix, so external_attr's high bits mean st_mode
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, target.encode())
        if record:
            zf.writestr(_info(record_path), record_text.encode())
        with warnings.catch_warnings():  # duplicates are what raw_members is for
            warnings.simplefilter("ignore", UserWarning)
            for path, data in raw_members:
                zf.writestr(_info(path), data)

    name_of_file = filename or wheel_filename(name, version, tag, build)
    return WheelBytes(buffer.getvalue(), name_of_file, metadata_bytes)


def _b(data: bytes | str) -> bytes:
    return data.encode("utf-8") if isinstance(data, str) else bytes(data)


def _info(path: str) -> zipfile.ZipInfo:
    # ZipInfo keeps the name verbatim ("../x", "/abs"): ZipFile.write() would sanitise it.
    info = zipfile.ZipInfo(path, date_time=_DATE_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    return info


def _csv_field(value: str) -> str:
    if any(c in value for c in ',"\n'):
        return '"' + value.replace('"', '""') + '"'
    return value


class CountingHasher(Hasher):
    """hashlib's sha256, keeping every blob it was asked to hash (``seen``)."""

    def __init__(self) -> None:
        self.seen: list[bytes] = []

    async def sha256(self, blobs):  # type: ignore[no-untyped-def]
        self.seen.extend(blobs)
        return await super().sha256(blobs)


def with_crc(wheel: bytes, member: str, crc: int) -> bytes:
    """``wheel`` with ``member``'s CRC-32 set to ``crc``, in its local header and in the
    central directory alike (so zipfile itself would refuse it as a bad CRC-32)."""
    return _with_field(wheel, member, crc, local_at=14, central_at=16)


def with_declared_size(wheel: bytes, member: str, size: int) -> bytes:
    """``wheel`` whose central directory says ``member`` inflates to ``size`` bytes (the
    local header, which readers of the directory do not consult for it, is left)."""
    return _with_field(wheel, member, size, local_at=None, central_at=24)


def _with_field(wheel: bytes, member: str, value: int, local_at: int | None, central_at: int) -> bytes:
    """``wheel`` with a 4-byte field of ``member``'s headers set to ``value``: at ``local_at``
    in its local header, ``central_at`` in its central directory entry (None: left)."""
    data = bytearray(wheel)
    name = member.encode()
    # signature, then where the field, the name's length and the name are in such a header
    for signature, field_at, length_at, name_at in ((b"PK\x03\x04", local_at, 26, 30), (b"PK\x01\x02", central_at, 28, 46)):
        if field_at is None:
            continue
        at = 0
        while (at := data.find(signature, at)) >= 0:
            if (data[at + name_at:at + name_at + len(name)] == name
                    and int.from_bytes(data[at + length_at:at + length_at + 2], "little") == len(name)):
                data[at + field_at:at + field_at + 4] = value.to_bytes(4, "little")
            at += 4
    return bytes(data)
