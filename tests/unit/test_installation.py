"""installation.py: atomic commit, rollback, upgrade, uninstall, listing, path refusal."""

from __future__ import annotations

import base64
import csv
import hashlib
import json
import os
import stat
import sys
from pathlib import Path

import pytest
from packaging.version import Version

from pyemscripten.errors import InstallError, NotInstalledError, UninstallError
from pyemscripten.installation import (
    FileOps,
    InstalledDist,
    Scheme,
    install,
    installed_distributions,
    uninstall,
)
from pyemscripten.wheels import UnpackedWheel, open_wheel, record_digest
from tests.support.wheels import make_wheel


def _wheel(name: str = "demo-pkg", version: str = "1.0", files: dict | None = None, **kwargs) -> UnpackedWheel:
    whl = make_wheel(name, version, files if files is not None else {"demo_pkg/__init__.py": f"V = {version!r}\n"},
                     **kwargs)
    return open_wheel(whl.filename, whl)


@pytest.fixture
def scheme(tmp_path: Path) -> Scheme:
    dirs = {key: tmp_path / "env" / key for key in ("site-packages", "bin", "include", "data")}
    for path in dirs.values():
        path.mkdir(parents=True)
    return Scheme(purelib=str(dirs["site-packages"]), platlib=str(dirs["site-packages"]),
                  scripts=str(dirs["bin"]), headers=str(dirs["include"]), data=str(dirs["data"]))


def listing(root: str | Path) -> dict[str, tuple]:
    """Every directory, file (content hash + mode) and link under ``root``."""
    found: dict[str, tuple] = {}
    for directory, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(directory, name)
            rel = os.path.relpath(path, root)
            if os.path.islink(path):
                found[rel] = ("link", os.readlink(path))
            elif os.path.isdir(path):
                found[rel] = ("dir",)
            else:
                data = Path(path).read_bytes()
                found[rel] = ("file", hashlib.sha256(data).hexdigest(), stat.S_IMODE(os.stat(path).st_mode))
    return found


def env(scheme: Scheme) -> Path:
    return Path(scheme.purelib).parent


def _check_record(dist_info: Path) -> list[str]:
    """Verify every RECORD row against the disk; return the paths listed."""
    paths = []
    for path, digest, size in csv.reader(dist_info.joinpath("RECORD").read_text().splitlines()):
        paths.append(path)
        if path.endswith("/RECORD"):
            assert (digest, size) == ("", "")
            continue
        data = (dist_info.parent / path).read_bytes()
        expected = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        assert (digest, size) == (f"sha256={expected}", str(len(data)))
    return paths


# --- a plain install --------------------------------------------------------------------


def test_install_writes_files_record_and_markers(scheme: Scheme) -> None:
    wheel = _wheel(data_files={"scripts/tool": b"#!python\n", "headers/demo.h": b"", "data/share/demo.txt": b"d"})
    transaction = install([wheel], scheme, requested=["Demo_Pkg"],
                          direct_urls={"demo-pkg": {"url": "https://user:secret@host/demo.whl", "archive_info": {}}})
    transaction.finish()
    site = Path(scheme.purelib)
    info = site / "demo_pkg-1.0.dist-info"
    assert (site / "demo_pkg/__init__.py").read_text() == "V = '1.0'\n"
    assert (info / "INSTALLER").read_text() == "pyemscripten\n"
    assert (info / "REQUESTED").exists()
    assert json.loads((info / "direct_url.json").read_text()) == {"url": "https://host/demo.whl", "archive_info": {}}
    tool = Path(scheme.scripts) / "tool"
    # The wheel spec's install step: "#!python" names this interpreter, and RECORD says so.
    assert tool.read_bytes() == b"#!" + sys.executable.encode() + b"\n" and os.stat(tool).st_mode & stat.S_IXUSR
    record = (info / "RECORD").read_text()
    assert f"sha256={record_digest(hashlib.sha256(tool.read_bytes()).digest())}" in record
    assert (Path(scheme.headers) / "demo-pkg" / "demo.h").exists()
    assert (Path(scheme.data) / "share" / "demo.txt").read_bytes() == b"d"
    recorded = _check_record(info)
    assert "../bin/tool" in recorded and "demo_pkg-1.0.dist-info/RECORD" in recorded
    assert "demo_pkg-1.0.dist-info/INSTALLER" in recorded
    assert not [p for p in os.listdir(site) if p.startswith(".pyemscripten")]
    assert installed_distributions(scheme) == [InstalledDist("demo-pkg", "1.0", str(info), "pyemscripten")]
    assert transaction.files["demo-pkg"][0] == str(site / "demo_pkg" / "__init__.py")


@pytest.mark.parametrize("first,args", [(b"#!python", b""), (b"#!pythonw", b""), (b"#!python3", b""),
                                        (b"#!python3.14 -u", b" -u"), (b"#!python -X dev\r", b" -X dev")])
def test_a_script_starting_with_python_names_this_interpreter(scheme: Scheme, first: bytes, args: bytes) -> None:
    # The wheel spec: "If the first line of a file in scripts/ starts with exactly
    # b'#!python', rewrite to point to the correct interpreter" (arguments kept).
    install([_wheel(data_files={"scripts/tool": first + b"\nrest\n", "scripts/other": b"#!/bin/sh\n"})],
            scheme).finish()
    assert (Path(scheme.scripts) / "tool").read_bytes() == b"#!" + sys.executable.encode() + args + b"\nrest\n"
    assert (Path(scheme.scripts) / "other").read_bytes() == b"#!/bin/sh\n"


def test_record_is_sha256_whatever_the_wheel_used(scheme: Scheme) -> None:
    # sha256 rows checked by open_wheel are reused; sha512 rows are hashed afresh.
    for algorithm in ("sha256", "sha512"):
        install([_wheel(version="1.0", record_algorithm=algorithm)], scheme).finish()
        _check_record(Path(scheme.purelib) / "demo_pkg-1.0.dist-info")
        uninstall("demo-pkg", scheme)


def test_not_requested_and_not_direct_get_no_markers(scheme: Scheme) -> None:
    install([_wheel()], scheme, installer="other-tool").finish()
    info = Path(scheme.purelib) / "demo_pkg-1.0.dist-info"
    assert not (info / "REQUESTED").exists() and not (info / "direct_url.json").exists()
    assert (info / "INSTALLER").read_text() == "other-tool\n"


def test_markers_inside_the_wheel_are_replaced(scheme: Scheme) -> None:
    wheel = _wheel(files={"demo_pkg/__init__.py": b"", "demo_pkg-1.0.dist-info/INSTALLER": b"evil\n",
                          "demo_pkg-1.0.dist-info/REQUESTED": b""})
    install([wheel], scheme).finish()
    info = Path(scheme.purelib) / "demo_pkg-1.0.dist-info"
    assert (info / "INSTALLER").read_text() == "pyemscripten\n" and not (info / "REQUESTED").exists()


# --- upgrade, rollback, finish ------------------------------------------------------------


def _install_old(scheme: Scheme) -> None:
    install([_wheel("demo-pkg", "1.0", {"demo_pkg/__init__.py": b"V = 1\n", "demo_pkg/old.py": b"",
                                        "demo_pkg/sub/deep.py": b""},
                    data_files={"scripts/old-tool": b"x"})], scheme).finish()
    cache = Path(scheme.purelib) / "demo_pkg" / "__pycache__"
    cache.mkdir()
    (cache / "old.cpython-312.pyc").write_bytes(b"stale")
    install([_wheel("other", "3.0", {"other.py": b"O = 1\n"})], scheme).finish()


def test_upgrade_replaces_the_old_version(scheme: Scheme) -> None:
    _install_old(scheme)
    install([_wheel("demo-pkg", "2.0", {"demo_pkg/__init__.py": b"V = 2\n"})], scheme).finish()
    site = Path(scheme.purelib)
    assert (site / "demo_pkg/__init__.py").read_bytes() == b"V = 2\n"
    assert not (site / "demo_pkg/old.py").exists()
    assert not (site / "demo_pkg/sub").exists()  # left empty, so removed
    assert not (site / "demo_pkg/__pycache__").exists()  # bytecode of removed sources goes too
    assert not (site / "demo_pkg-1.0.dist-info").exists()
    assert not (Path(scheme.scripts) / "old-tool").exists()
    assert [(d.name, d.version) for d in installed_distributions(scheme)] == [("demo-pkg", "2.0"), ("other", "3.0")]


@pytest.mark.parametrize("b_first", [True, False])
def test_a_file_handed_from_one_project_to_another_survives_their_upgrade(scheme: Scheme, b_first: bool) -> None:
    # a 1.0 had common.py; a 2.0 gave it to b 2.0. Whichever wheel is staged first (in the
    # browser: whichever download ends first), the new common.py stays, and rollback
    # restores a 1.0's.
    install([_wheel("a", "1.0", {"a.py": b"", "common.py": b"a 1.0"}), _wheel("b", "1.0", {"b.py": b""})],
            scheme).finish()
    before = listing(env(scheme))
    new = [_wheel("b", "2.0", {"b.py": b"", "common.py": b"b 2.0"}), _wheel("a", "2.0", {"a.py": b""})]
    transaction = install(new if b_first else new[::-1], scheme)
    assert (Path(scheme.purelib) / "common.py").read_bytes() == b"b 2.0"
    transaction.rollback()
    assert listing(env(scheme)) == before
    install(new if b_first else new[::-1], scheme).finish()
    assert (Path(scheme.purelib) / "common.py").read_bytes() == b"b 2.0"
    assert [(d.name, d.version) for d in installed_distributions(scheme)] == [("a", "2.0"), ("b", "2.0")]


def test_a_file_two_old_versions_list_goes_aside_once(scheme: Scheme) -> None:
    # b 1.0 overwrote a 1.0's shared.py (as pip does), so both RECORDs list it.
    install([_wheel("a", "1.0", {"a.py": b"", "shared.py": b"a"})], scheme).finish()
    install([_wheel("b", "1.0", {"b.py": b"", "shared.py": b"b"})], scheme).finish()
    before = listing(env(scheme))
    transaction = install([_wheel("a", "2.0", {"a.py": b""}), _wheel("b", "2.0", {"b.py": b""})], scheme)
    assert not (Path(scheme.purelib) / "shared.py").exists()
    transaction.rollback()
    assert listing(env(scheme)) == before


def test_rollback_after_commit_restores_exactly(scheme: Scheme) -> None:
    _install_old(scheme)
    before = listing(env(scheme))
    transaction = install([_wheel("demo-pkg", "2.0", {"demo_pkg/__init__.py": b"V = 2\n", "demo_pkg/new/x.py": b""}),
                           _wheel("fresh", "1.0", {"fresh.py": b""})], scheme)
    assert listing(env(scheme)) != before
    transaction.rollback()
    assert listing(env(scheme)) == before
    transaction.rollback()  # twice is harmless


def test_finish_drops_backups_and_forbids_rollback(scheme: Scheme) -> None:
    _install_old(scheme)
    transaction = install([_wheel("demo-pkg", "2.0")], scheme)
    assert [p for p in os.listdir(scheme.purelib) if p.startswith(".pyemscripten")]
    transaction.finish()
    assert not [p for p in os.listdir(scheme.purelib) if p.startswith(".pyemscripten")]
    with pytest.raises(InstallError, match="already"):
        transaction.rollback()


def test_transaction_as_context_manager(scheme: Scheme) -> None:
    before = listing(env(scheme))
    with pytest.raises(RuntimeError):
        with install([_wheel()], scheme):
            raise RuntimeError("loading the shared libraries failed")
    assert listing(env(scheme)) == before
    with install([_wheel()], scheme):
        pass
    assert listing(env(scheme)) != before
    assert not [p for p in os.listdir(scheme.purelib) if p.startswith(".pyemscripten")]


def test_overwritten_file_of_another_distribution_is_restored(scheme: Scheme) -> None:
    install([_wheel("other", "1.0", {"shared.py": b"other's"})], scheme).finish()
    before = listing(env(scheme))
    transaction = install([_wheel("demo-pkg", "1.0", {"shared.py": b"mine"})], scheme)
    assert (Path(scheme.purelib) / "shared.py").read_bytes() == b"mine"
    transaction.rollback()
    assert listing(env(scheme)) == before


def test_overwriting_another_distributions_files_is_told(scheme: Scheme) -> None:
    install([_wheel("other", "1.0", {f"shared/m{n}.py": b"other's" for n in range(5)} | {"other.py": b""})],
            scheme).finish()
    (Path(scheme.purelib) / "loose.py").write_bytes(b"no RECORD lists it")
    transaction = install([_wheel("demo-pkg", "2.0", {f"shared/m{n}.py": b"mine" for n in range(4)}
                                  | {"loose.py": b"", "demo_pkg/__init__.py": b""})], scheme)
    transaction.finish()
    shared = Path(scheme.purelib) / "shared"
    assert transaction.notes == (
        f"demo-pkg 2.0 overwrote 4 files of other 1.0 ({shared}/m0.py, {shared}/m1.py, {shared}/m2.py and 1 more): "
        "both list them now, with demo-pkg 2.0's content, and other may not work as before; keep only one of the two",)
    # Nothing is told where nothing was in the way, nor when a distribution replaces its own files.
    assert install([_wheel("fresh", "1.0", {"fresh/__init__.py": b""})], scheme).notes == ()
    assert install([_wheel("demo-pkg", "3.0", {"demo_pkg/__init__.py": b""})], scheme).notes == ()


# --- failure at every step leaves the tree untouched --------------------------------------


class CountingOps(FileOps):
    """Counts calls; the call numbered ``fail_at`` fails (a write fails after half the bytes)."""

    def __init__(self, fail_at: int | None = None) -> None:
        self.calls = 0
        self.fail_at = fail_at

    def _tick(self) -> bool:
        self.calls += 1
        return self.calls == self.fail_at

    def write(self, path: str, data: bytes, mode: int) -> None:
        if self._tick():
            Path(path).write_bytes(data[: len(data) // 2])
            raise OSError(28, "No space left on device (injected)")
        super().write(path, data, mode)

    def move(self, source: str, target: str) -> None:
        if self._tick():
            raise OSError(5, "I/O error (injected)")
        super().move(source, target)

    def mkdir(self, path: str) -> None:
        if self._tick():
            raise OSError(5, "I/O error (injected)")
        super().mkdir(path)

    def rmdir(self, path: str) -> None:
        if self._tick():
            raise OSError(5, "I/O error (injected)")
        super().rmdir(path)


def _upgrade_batch() -> list[UnpackedWheel]:
    return [_wheel("demo-pkg", "2.0", {"demo_pkg/__init__.py": b"V = 2\n", "demo_pkg/new/mod.py": b"m"},
                   data_files={"scripts/new-tool": b"t", "headers/x.h": b""}),
            _wheel("fresh", "1.0", {"fresh/__init__.py": b""})]


def _count_steps(tmp_path: Path) -> int:
    probe = tmp_path / "probe"
    dirs = [probe / d for d in ("site-packages", "bin", "include", "data")]
    for d in dirs:
        d.mkdir(parents=True)
    probe_scheme = Scheme(str(dirs[0]), str(dirs[0]), str(dirs[1]), str(dirs[2]), str(dirs[3]))
    _install_old(probe_scheme)
    ops = CountingOps()
    install(_upgrade_batch(), probe_scheme, ops=ops).finish()
    return ops.calls


def test_failure_at_every_step_restores_everything(scheme: Scheme, tmp_path: Path) -> None:
    steps = _count_steps(tmp_path)
    assert steps > 20  # staging writes, backups, mkdirs, placements, prunes
    _install_old(scheme)
    before = listing(env(scheme))
    for fail_at in range(1, steps + 1):
        with pytest.raises(InstallError) as info:
            install(_upgrade_batch(), scheme, ops=CountingOps(fail_at))
        assert info.value.project in ("demo-pkg", "fresh", "demo-pkg, fresh")
        assert "injected" in str(info.value) and "nothing was changed" in str(info.value)
        assert listing(env(scheme)) == before, f"step {fail_at} left changes"
    install(_upgrade_batch(), scheme, ops=CountingOps(steps + 1)).finish()  # the count was complete
    assert listing(env(scheme)) != before


def test_failure_into_a_missing_site_packages(tmp_path: Path) -> None:
    probe = Scheme(*(str(tmp_path / "probe" / d) for d in ("sp", "sp", "bin", "inc", "data")))
    ops = CountingOps()
    install([_wheel()], probe, ops=ops).finish()
    scheme = Scheme(*(str(tmp_path / "new" / d) for d in ("sp", "sp", "bin", "inc", "data")))
    for fail_at in range(1, ops.calls + 1):
        with pytest.raises(InstallError):
            install([_wheel()], scheme, ops=CountingOps(fail_at))
        assert not (tmp_path / "new").exists()


# --- refusals before anything is written -----------------------------------------------------


def test_symlinked_directory_pointing_outside_is_refused(scheme: Scheme, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, Path(scheme.purelib) / "demo_pkg")
    before = listing(env(scheme))
    with pytest.raises(InstallError, match="outside") as info:
        install([_wheel()], scheme)
    assert info.value.project == "demo-pkg"
    assert listing(env(scheme)) == before and not list(outside.iterdir())


def test_unsafe_relative_path_is_refused_even_without_the_wheel_layer(scheme: Scheme) -> None:
    wheel = _wheel()
    forged = UnpackedWheel(**{**wheel.__dict__, "files": wheel.files + (("purelib", "../evil.py", b""),)})
    before = listing(env(scheme))
    with pytest.raises(InstallError, match="evil.py"):
        install([forged], scheme)
    assert listing(env(scheme)) == before


def test_two_wheels_claiming_one_path_are_refused(scheme: Scheme) -> None:
    with pytest.raises(InstallError, match="also installed by demo-pkg"):
        install([_wheel(), _wheel("other", "1.0", {"demo_pkg/__init__.py": b""})], scheme)
    assert installed_distributions(scheme) == []


def test_same_project_twice_is_refused(scheme: Scheme) -> None:
    with pytest.raises(InstallError, match="more than once"):
        install([_wheel(), _wheel(version="2.0")], scheme)


def test_a_folder_of_the_old_version_may_become_a_file_of_the_new(scheme: Scheme) -> None:
    # The old version's files go aside, and the folders they leave empty with them (their
    # modes kept for a rollback), before the new files are placed.
    install([_wheel("demo-pkg", "1.0", {"demo_pkg/__init__.py": b"", "demo_pkg/templates/deep/a.txt": b"a"})],
            scheme).finish()
    templates = Path(scheme.purelib) / "demo_pkg" / "templates"
    os.chmod(templates, 0o700)
    before = listing(env(scheme))
    transaction = install([_wheel("demo-pkg", "2.0", {"demo_pkg/__init__.py": b"", "demo_pkg/templates": b"file"})],
                          scheme)
    assert templates.read_bytes() == b"file"
    transaction.rollback()
    assert listing(env(scheme)) == before and stat.S_IMODE(os.stat(templates).st_mode) == 0o700


def test_a_symlinked_site_packages_is_read_as_record_was_written(tmp_path: Path) -> None:
    # RECORD's "../../bin/tool" was written from the scheme's own path; read from the
    # folder a link points to (elsewhere, at another depth) it would name another file.
    (tmp_path / "store" / "deep" / "sp").mkdir(parents=True)
    (tmp_path / "env" / "lib").mkdir(parents=True)
    os.symlink(tmp_path / "store" / "deep" / "sp", tmp_path / "env" / "lib" / "site-packages")
    site = str(tmp_path / "env" / "lib" / "site-packages")
    linked = Scheme(site, site, str(tmp_path / "env" / "bin"), str(tmp_path / "env" / "include"), str(tmp_path / "env"))
    install([_wheel(data_files={"scripts/tool": b"#!/bin/sh\n"})], linked).finish()
    assert installed_distributions(linked)[0].path == os.path.join(site, "demo_pkg-1.0.dist-info")
    install([_wheel(version="2.0", data_files={"scripts/tool": b"#!/bin/sh\n"})], linked).finish()
    assert str(tmp_path / "env" / "bin" / "tool") in uninstall("demo-pkg", linked)
    assert os.listdir(tmp_path / "env" / "bin") == [] and os.listdir(site) == []


def test_directory_in_the_way_rolls_back(scheme: Scheme) -> None:
    install([_wheel("other", "1.0", {"other.py": b""})], scheme).finish()
    (Path(scheme.purelib) / "clash.py").mkdir()
    before = listing(env(scheme))
    with pytest.raises(InstallError, match="directory is in the way"):
        install([_wheel("demo-pkg", "1.0", {"demo_pkg/__init__.py": b"", "clash.py": b""})], scheme)
    assert listing(env(scheme)) == before


@pytest.mark.parametrize("folder_first", [False, True])
def test_a_wheel_with_a_file_where_its_files_need_a_folder_is_named(scheme: Scheme, folder_first: bool) -> None:
    # Writing its staged tree fails on "File exists" (or "Not a directory"), which named a
    # path in the staging folder: the error says what in the wheel cannot be installed.
    files = {"demo_pkg/__init__.py": b"", "demo_pkg/sub": b"x", "demo_pkg/sub/deep/x.py": b""}
    if folder_first:
        files = dict(reversed(files.items()))
    before = listing(env(scheme))
    with pytest.raises(InstallError) as caught:
        install([_wheel("demo-pkg", "1.0", files)], scheme)
    assert str(caught.value) == (
        "Could not install demo-pkg: its wheel has a file demo_pkg/sub and demo_pkg/sub/deep/x.py inside it, as if "
        "demo_pkg/sub were a folder: no install can write both; pin another version, or report the broken wheel "
        "to its maintainers (nothing was changed)")
    assert listing(env(scheme)) == before


# --- uninstall ----------------------------------------------------------------------------------


def test_uninstall_removes_what_record_lists(scheme: Scheme) -> None:
    _install_old(scheme)
    removed = uninstall("Demo.Pkg", scheme)
    site = Path(scheme.purelib)
    assert str(site / "demo_pkg" / "old.py") in removed
    assert str(Path(scheme.scripts) / "old-tool") in removed
    assert not (site / "demo_pkg").exists() and not (site / "demo_pkg-1.0.dist-info").exists()
    assert [d.name for d in installed_distributions(scheme)] == ["other"]
    assert sorted(os.listdir(site)) == ["other-3.0.dist-info", "other.py"]
    with pytest.raises(NotInstalledError, match="demo.pkg"):
        uninstall("demo.pkg", scheme)


def test_uninstall_removes_bytecode_beside_the_sources_too(scheme: Scheme) -> None:
    # compileall -b writes mod.pyc beside mod.py, where the import system still finds it.
    install([_wheel(files={"demo_pkg/__init__.py": b"", "demo_pkg/mod.py": b"X = 1\n"})], scheme).finish()
    install([_wheel("other", "1.0", {"other/__init__.py": b"", "other/kept.py": b""})], scheme).finish()
    site = Path(scheme.purelib)
    for path in (site / "demo_pkg" / "mod.pyc", site / "demo_pkg" / "mod.pyo", site / "other" / "kept.pyc"):
        path.write_bytes(b"bytecode")
    removed = uninstall("demo-pkg", scheme)
    assert str(site / "demo_pkg" / "mod.pyc") in removed and not (site / "demo_pkg").exists()
    assert (site / "other" / "kept.pyc").exists()


def test_uninstall_refuses_record_paths_outside_the_scheme(scheme: Scheme, tmp_path: Path) -> None:
    install([_wheel()], scheme).finish()
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    record = Path(scheme.purelib) / "demo_pkg-1.0.dist-info" / "RECORD"
    record.write_text(record.read_text() + f"{os.path.relpath(victim, scheme.purelib)},,\n")
    before = listing(env(scheme))
    with pytest.raises(UninstallError, match="outside the install scheme"):
        uninstall("demo-pkg", scheme)
    assert listing(env(scheme)) == before and victim.exists()
    with pytest.raises(InstallError, match="outside the install scheme"):  # and so does an upgrade
        install([_wheel(version="2.0")], scheme)
    assert listing(env(scheme)) == before


def test_a_distribution_without_record_is_neither_uninstalled_nor_upgraded(scheme: Scheme) -> None:
    # The RECORD spec: without RECORD its files are not known; nothing is removed.
    install([_wheel()], scheme).finish()
    (Path(scheme.purelib) / "demo_pkg-1.0.dist-info" / "RECORD").unlink()
    before = listing(env(scheme))
    with pytest.raises(UninstallError, match="has no RECORD"):
        uninstall("demo-pkg", scheme)
    with pytest.raises(InstallError, match="has no RECORD"):
        install([_wheel(version="2.0")], scheme)
    assert listing(env(scheme)) == before


def test_a_record_that_cannot_be_read_is_told_as_the_distributions(scheme: Scheme) -> None:
    # A RECORD the system refuses to read (here a link to itself: "Too many levels of
    # symbolic links") escaped the upgrade and the uninstall as a bare OSError.
    install([_wheel()], scheme).finish()
    record = Path(scheme.purelib) / "demo_pkg-1.0.dist-info" / "RECORD"
    record.unlink()
    record.symlink_to(record)
    before = listing(env(scheme))
    for call, error in ((lambda: uninstall("demo-pkg", scheme), UninstallError),
                        (lambda: install([_wheel(version="2.0")], scheme), InstallError)):
        with pytest.raises(error) as info:
            call()
        assert info.value.project == "demo-pkg"
        assert f"its RECORD {record} cannot be read (Too many levels of symbolic links)" in str(info.value)
        assert "leave this version in place" in str(info.value)
    assert listing(env(scheme)) == before


def test_absolute_record_paths_are_taken_as_they_are(scheme: Scheme) -> None:
    install([_wheel("demo-pkg", "1.0", {"demo_pkg/__init__.py": b"", "demo_pkg/extra.py": b""})], scheme).finish()
    record = Path(scheme.purelib) / "demo_pkg-1.0.dist-info" / "RECORD"
    extra = Path(scheme.purelib) / "demo_pkg" / "extra.py"
    record.write_text(record.read_text().replace("demo_pkg/extra.py,", f"{extra},"))
    assert str(extra) in uninstall("demo-pkg", scheme) and not extra.exists()


@pytest.mark.parametrize("installer", ["pyemscripten", "another-tool"])
def test_a_data_folder_at_the_root_is_trusted_only_from_our_own_record(tmp_path: Path, installer: str) -> None:
    # In Pyodide the data folder (the prefix) is "/": "inside the scheme" would hold any path.
    # A RECORD this installer wrote lists only what it placed; another tool's is held to
    # site-packages, scripts and headers.
    site = tmp_path / "site-packages"
    site.mkdir()
    root_scheme = Scheme(str(site), str(site), str(tmp_path / "bin"), str(tmp_path / "include"), "/")
    install([_wheel()], root_scheme).finish()
    info = site / "demo_pkg-1.0.dist-info"
    (info / "INSTALLER").write_text(installer + "\n")
    placed = tmp_path / "share" / "demo.txt"  # as if from .data/data/, under the prefix
    placed.parent.mkdir()
    placed.write_text("data")
    (info / "RECORD").write_text((info / "RECORD").read_text() + f"{placed},,\n")
    if installer == "pyemscripten":
        assert str(placed) in uninstall("demo-pkg", root_scheme) and not placed.exists()
    else:
        with pytest.raises(UninstallError, match="outside the install scheme"):
            uninstall("demo-pkg", root_scheme)
        assert placed.exists() and info.exists()


def test_uninstall_failure_at_every_step_restores(scheme: Scheme) -> None:
    _install_old(scheme)
    before = listing(env(scheme))
    for fail_at in range(1, 100):
        try:
            uninstall("demo-pkg", scheme, ops=CountingOps(fail_at))
        except UninstallError:
            assert listing(env(scheme)) == before, f"step {fail_at} left changes"
        else:
            break
    assert not (Path(scheme.purelib) / "demo_pkg").exists()


def test_installed_distributions_reads_the_file_system(scheme: Scheme) -> None:
    assert installed_distributions(scheme) == []
    install([_wheel("b-pkg", "1.0", {"b.py": b""}), _wheel("A_Pkg", "2.0", {"a.py": b""})], scheme).finish()
    found = installed_distributions(scheme)
    assert [(d.name, Version(d.version), d.installer) for d in found] == [
        ("a-pkg", Version("2.0"), "pyemscripten"), ("b-pkg", Version("1.0"), "pyemscripten")]
    (Path(found[0].path) / "INSTALLER").unlink()
    assert installed_distributions(scheme)[0].installer is None


def test_moves_across_file_systems_fall_back_to_copying(scheme: Scheme, monkeypatch: pytest.MonkeyPatch) -> None:
    _install_old(scheme)
    before = listing(env(scheme))
    real_replace = os.replace

    def cross_device(source: str, target: str) -> None:
        if not str(source).endswith(".pyemscripten-partial"):
            raise OSError(18, "Invalid cross-device link")
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", cross_device)
    transaction = install(_upgrade_batch(), scheme)
    assert (Path(scheme.purelib) / "demo_pkg/__init__.py").read_bytes() == b"V = 2\n"
    transaction.rollback()
    assert listing(env(scheme)) == before


def test_cached_realpath_agrees_with_os_realpath(tmp_path: Path) -> None:
    from pyemscripten.installation import _RealPaths

    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "link").symlink_to(tmp_path / "a")
    (tmp_path / "a" / "b" / "f").symlink_to("/etc/passwd")
    (tmp_path / "a" / "rel").symlink_to("b")
    realpath = _RealPaths()
    for path in ("link/b/new.py", "link/b/f", "a/rel/new/deeper", "missing/x", "a/../link/b", "link"):
        for _ in range(2):  # the second answer comes from the cache
            assert realpath(str(tmp_path / path)) == os.path.realpath(tmp_path / path), path


def test_staged_wheels_appear_only_at_commit(scheme: Scheme) -> None:
    from pyemscripten.installation import Staging

    site = Path(scheme.purelib)
    staging = Staging(scheme, requested=["demo-pkg"])
    staging.add(_wheel())
    assert not (site / "demo_pkg").exists()  # written, but only in the staging directory
    staging.add(_wheel("other", "2.0", {"other.py": b""}))
    staging.commit().finish()
    assert (site / "demo_pkg" / "__init__.py").exists() and (site / "other.py").exists()
    assert (site / "demo_pkg-1.0.dist-info" / "REQUESTED").exists()
    assert not [p for p in os.listdir(site) if p.startswith(".pyemscripten")]


def test_abandoned_or_conflicting_staging_leaves_nothing(scheme: Scheme) -> None:
    from pyemscripten.installation import Staging

    before = listing(env(scheme))
    staging = Staging(scheme)
    staging.add(_wheel())
    staging.abort()
    assert listing(env(scheme)) == before
    staging = Staging(scheme)
    staging.add(_wheel("a", "1.0", {"shared.py": b"a"}))
    staging.add(_wheel("b", "1.0", {"shared.py": b"b"}))
    with pytest.raises(InstallError, match="also installed by"):
        staging.commit()
    assert listing(env(scheme)) == before


def test_wheels_sharing_a_new_directory_and_rollback(scheme: Scheme) -> None:
    # The first wheel's new "ns/" moves in whole; the second's files go into it one by one.
    before = listing(env(scheme))
    transaction = install([_wheel("ns-a", "1.0", {"ns/a/__init__.py": b"a", "ns/shared.txt": b"a"}),
                           _wheel("ns-b", "1.0", {"ns/b/__init__.py": b"b"})], scheme)
    site = Path(scheme.purelib)
    assert (site / "ns/a/__init__.py").read_bytes() == b"a" and (site / "ns/b/__init__.py").read_bytes() == b"b"
    assert transaction.files["ns-b"][0] == str(site / "ns" / "b" / "__init__.py")
    transaction.rollback()
    assert listing(env(scheme)) == before


# --- the default scheme without the build variables ---------------------------------------

# A module of build variables that names none of the scheme's values (Python < 3.14 lets them
# overwrite those), and one shaped like Pyodide's, which overwrites two when PYODIDE=1.
CLEAN = "build_time_vars = {'ABIFLAGS': '', 'prefix': '/root/repo'}\n"
PYODIDE_LIKE = CLEAN + 'import os\nif os.environ.get("PYODIDE", None) == "1":\n    build_time_vars["platbase"] = build_time_vars["prefix"]\n'


def _plain_prefix(monkeypatch: pytest.MonkeyPatch, prefix: str, source: str | None = CLEAN) -> None:
    import sys
    import sysconfig

    from pyemscripten import target

    for name in ("prefix", "exec_prefix", "base_prefix", "base_exec_prefix"):
        monkeypatch.setattr(sys, name, prefix)
    monkeypatch.setattr(sysconfig, "get_default_scheme", lambda: "posix_prefix")
    monkeypatch.delenv("_PYTHON_PROJECT_BASE", raising=False)
    monkeypatch.setattr(target, "build_variables_source", lambda: source)


@pytest.mark.parametrize("prefix", ["/", "/usr/local", "/opt/py/"])
def test_a_plain_prefix_gives_sysconfigs_paths_without_its_config_variables(
        monkeypatch: pytest.MonkeyPatch, prefix: str) -> None:
    import sysconfig

    from pyemscripten.installation import _prefix_paths

    _plain_prefix(monkeypatch, prefix)
    expected = sysconfig.get_paths("posix_prefix", vars={"base": os.path.normpath(prefix),
                                                         "platbase": os.path.normpath(prefix)})

    def refuse(*args: object) -> None:
        raise AssertionError("the config variables were read")

    monkeypatch.setattr(sysconfig, "get_config_vars", refuse)
    paths = _prefix_paths()
    assert paths == {k: expected[k] for k in ("purelib", "platlib", "scripts", "data")}


@pytest.mark.parametrize("change", ["virtual environment", "exec_prefix", "cross build", "names platbase",
                                    "unreadable"])
def test_other_setups_are_left_to_sysconfig(monkeypatch: pytest.MonkeyPatch, change: str) -> None:
    import sys

    from pyemscripten.installation import _prefix_paths

    _plain_prefix(monkeypatch, "/usr", PYODIDE_LIKE if change == "names platbase" else
                  None if change == "unreadable" else CLEAN)
    assert _prefix_paths() is not None or change in ("names platbase", "unreadable")  # Python < 3.14 here
    if change == "virtual environment":
        monkeypatch.setattr(sys, "prefix", "/home/me/venv")
    elif change == "exec_prefix":
        monkeypatch.setattr(sys, "exec_prefix", "/usr/arch")
    elif change == "cross build":  # sysconfig takes the prefixes from the build variables
        monkeypatch.setenv("_PYTHON_PROJECT_BASE", "/build")
    assert _prefix_paths() is None


def test_from_python_314_the_build_variables_are_not_read(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from pyemscripten.installation import _prefix_paths

    _plain_prefix(monkeypatch, "/", PYODIDE_LIKE)
    monkeypatch.setattr(sys, "version_info", (3, 14, 2, "final", 0))  # sysconfig sets its own values last
    assert _prefix_paths() is not None


def test_a_template_naming_another_variable_is_left_to_sysconfig(monkeypatch: pytest.MonkeyPatch) -> None:
    import sysconfig

    from pyemscripten.installation import _prefix_paths

    _plain_prefix(monkeypatch, "/")
    templates = dict(sysconfig.get_paths("posix_prefix", expand=False))
    templates["scripts"] = "{base}/{LIBDIR}/bin"
    real = sysconfig.get_paths
    monkeypatch.setattr(sysconfig, "get_paths", lambda scheme=None, vars=None, expand=True:
                        templates if not expand else real(scheme, vars, expand))
    assert _prefix_paths() is None


def test_uninstalling_several_says_what_it_removed_before_a_failure(scheme: Scheme) -> None:
    from pyemscripten import api

    install([_wheel("a", "1.0", {"a.py": b""}), _wheel("b", "1.0", {"b.py": b""})], scheme).finish()
    (Path(scheme.purelib) / "b-1.0.dist-info" / "RECORD").unlink()  # b cannot be uninstalled
    with pytest.raises(UninstallError, match="uninstalled before it, and still removed: a"):
        api.uninstall(["a", "b"], api.Session(scheme=scheme))
    assert [d.name for d in installed_distributions(scheme)] == ["b"]



def test_a_file_two_distributions_list_stays_until_the_last_goes(scheme: Scheme) -> None:
    # PEP 376: an uninstall removes a distribution's own files; one another installed
    # distribution's RECORD lists too is theirs as well, and stays (with its bytecode).
    install([_wheel("aaa", files={"shared/x.py": "A = 1\n", "aaa.py": ""})], scheme).finish()
    install([_wheel("bbb", files={"shared/x.py": "A = 1\n", "bbb.py": ""})], scheme).finish()
    site = Path(scheme.purelib)
    (site / "shared" / "__pycache__").mkdir()
    (site / "shared" / "__pycache__" / "x.cpython-314.pyc").write_bytes(b"pyc")
    removed = uninstall("aaa", scheme)
    assert str(site / "aaa.py") in removed and (site / "shared" / "x.py").exists()
    assert (site / "shared" / "__pycache__" / "x.cpython-314.pyc").exists()
    # An upgrade of bbb to a version without it: the file goes with the last one listing it.
    install([_wheel("bbb", "2.0", files={"bbb.py": ""})], scheme).finish()
    assert not (site / "shared").exists()
