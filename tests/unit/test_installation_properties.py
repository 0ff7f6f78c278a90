"""installation.py against a model of the file tree: generated wheels, installed, upgraded,
rolled back and uninstalled in any order, with a failure injected at any step.

The model is a dict ``path -> ("dir",) | ("file", bytes, mode)`` of the environment (its
``site-packages``, ``bin``, ``include`` and ``data`` folders) plus what each installed
distribution's RECORD lists, and says what the specs say must hold:

* an install adds exactly the wheel's files at their scheme locations (scripts executable,
  ``#!python`` naming this interpreter, headers in ``include/<Name>/``) and its dist-info
  with a fresh INSTALLER/REQUESTED/RECORD, overwriting files in the way (as pip does);
  RECORD lists every file it wrote with its sha256 and size;
* installing over an installed version first removes that version's files no other
  distribution's RECORD lists (with their bytecode) and the folders they leave empty: the
  result is what installing into the tree without it would give;
* an uninstall does the same removal;
* a file where a folder must go (or the other way round), or two wheels of one batch
  claiming a place, fails the whole batch: :class:`InstallError`, and the tree is exactly
  as before (as after any failure, and after a rollback).
"""

from __future__ import annotations

import base64
import csv
import functools
import hashlib
import io
import os
import posixpath
import stat
import sys
import tempfile
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from packaging.utils import canonicalize_name

from pyemscripten.errors import InstallError, NotInstalledError, PyemscriptenError
from pyemscripten.installation import FileOps, Scheme, install, uninstall
from pyemscripten.wheels import UnpackedWheel, open_wheel
from tests.support.wheels import WheelBytes, make_wheel

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
STOPS = ("site-packages", "bin", "include", "data")  # the scheme's folders, relative to the environment
PYC = "cpython-314.pyc"  # the bytecode a "compile" step leaves beside every .py file

Tree = dict[str, tuple]


# --- generated wheels -----------------------------------------------------------------------

# Few names, so that paths meet: the same file in two wheels, a file of one that is a folder
# of another, "m.py" beside "m.x.py" (bytecode of the one named like the other's).
_PARTS = st.sampled_from(["a", "b", "A", "m.py", "m.x.py", "t.txt", "n,q", "é"])
_PATH = st.lists(_PARTS, min_size=1, max_size=3).map("/".join)
_WHERE = st.sampled_from(["root", "root", "root", "purelib", "platlib", "scripts", "headers", "data"])
_CONTENT = st.sampled_from([b"", b"1", b"22\n", b"#!python\nrun()\n", b"#!/bin/sh\n"])


@dataclass(frozen=True)
class Spec:
    """A wheel to generate: ``files`` are (where, path, content), ``where`` being "root" or a
    ``.data`` folder."""

    name: str
    version: str
    purelib: bool
    files: tuple[tuple[str, str, bytes], ...]

    @property
    def key(self) -> str:
        return canonicalize_name(self.name)


def _group(where: str) -> str:
    return "lib" if where in ("root", "purelib", "platlib") else where


def _consistent(files: Iterable[tuple[str, str, bytes]]) -> tuple[tuple[str, str, bytes], ...]:
    """``files`` without those a valid wheel cannot hold: one place twice, a file where
    another file's folder is."""
    kept: list[tuple[str, str, bytes]] = []
    for where, path, content in files:
        clash = False
        for other_where, other, _ in kept:
            if _group(where) == _group(other_where) and (
                    path == other or path.startswith(other + "/") or other.startswith(path + "/")):
                clash = True
        if not clash:
            kept.append((where, path, content))
    return tuple(kept)


def specs(name: str, version: str) -> st.SearchStrategy[Spec]:
    files = st.lists(st.tuples(_WHERE, _PATH, _CONTENT), min_size=1, max_size=6).map(_consistent)
    return st.builds(Spec, st.just(name), st.just(version), st.booleans(), files)


_NAMES = ("alpha", "Be_ta", "gam-ma")


@st.composite
def batches(draw: st.DrawFn) -> tuple[list[Spec], set[str]]:
    """Wheels of distinct projects installed together, and the projects requested."""
    names = draw(st.lists(st.sampled_from(_NAMES), min_size=1, max_size=3, unique=True))
    wheels = [draw(specs(name, draw(st.sampled_from(["1.0", "2.0"])))) for name in names]
    requested = {canonicalize_name(n) for n in names if draw(st.booleans())}
    return wheels, requested


@functools.lru_cache(maxsize=None)
def build(spec: Spec) -> UnpackedWheel:
    whl = make_wheel_bytes(spec)
    return open_wheel(whl.filename, whl)


def expected_files(spec: Spec, requested: bool) -> dict[str, tuple[bytes | None, int]]:
    """Where each file of ``spec`` lands (relative to the environment), with what and which
    mode; RECORD's content is checked on its own (None here)."""
    wheel = build(spec)
    out: dict[str, tuple[bytes | None, int]] = {}
    for where, path, content in spec.files:
        if where == "scripts":
            if content.startswith(b"#!python\n"):  # the wheel spec's install step
                content = b"#!" + sys.executable.encode() + content[len(b"#!python"):]
            out[f"bin/{path}"] = (content, 0o755)
        elif where == "headers":
            out[f"include/{spec.name}/{path}"] = (content, 0o644)
        elif where == "data":
            out[f"data/{path}"] = (content, 0o644)
        else:
            out[f"site-packages/{path}"] = (content, 0o644)
    info = f"site-packages/{wheel.dist_info}"
    with zipfile.ZipFile(io.BytesIO(make_wheel_bytes(spec))) as archive:
        for member in archive.namelist():
            if member.startswith(wheel.dist_info + "/") and not member.endswith("/RECORD"):
                out[f"site-packages/{member}"] = (archive.read(member), 0o644)
    out[f"{info}/INSTALLER"] = (b"pyemscripten\n", 0o644)
    if requested:
        out[f"{info}/REQUESTED"] = (b"", 0o644)
    out[f"{info}/RECORD"] = (None, 0o644)
    return out


@functools.lru_cache(maxsize=None)
def make_wheel_bytes(spec: Spec) -> WheelBytes:
    root = {path: content for where, path, content in spec.files if where == "root"}
    data = {f"{where}/{path}": content for where, path, content in spec.files if where != "root"}
    tag = "py3-none-any" if spec.purelib else "cp314-cp314-pyemscripten_2026_0_wasm32"
    return make_wheel(spec.name, spec.version, root, data_files=data, tag=tag)


# --- the model ------------------------------------------------------------------------------


def _ancestors(path: str) -> list[str]:
    parts = path.split("/")
    return ["/".join(parts[:n]) for n in range(1, len(parts))]


def _bytecode(path: str) -> str:
    folder, name = posixpath.split(path)
    return f"{folder}/__pycache__/{name[:-3]}.{PYC}"


@dataclass
class Model:
    tree: Tree
    records: dict[str, dict[str, bytes | None]]  # project -> the paths its RECORD lists, with what it wrote

    def copy(self) -> Model:
        return Model(dict(self.tree), {k: dict(v) for k, v in self.records.items()})

    def _remove(self, projects: Iterable[str]) -> None:
        """Remove ``projects``' files no other RECORD lists, their bytecode, and the folders
        that leaves empty."""
        gone = set(projects)
        others = {p for name, paths in self.records.items() if name not in gone for p in paths}
        removed = {p for name in gone for p in self.records.pop(name, {}) if p not in others}
        removed |= {_bytecode(p) for p in removed if p.endswith(".py") and _bytecode(p) in self.tree}
        for path in removed:
            del self.tree[path]
        folders = {a for p in removed for a in _ancestors(p) if a not in STOPS}
        for folder in sorted(folders, key=len, reverse=True):
            if self.tree.get(folder) == ("dir",) and not any(p.startswith(folder + "/") for p in self.tree):
                del self.tree[folder]

    def install(self, wheels: Sequence[Spec], requested: set[str]) -> bool:
        """Apply the install; False (and nothing changed) where it must fail."""
        after = self.copy()
        after._remove(s.key for s in wheels)
        writes: dict[str, tuple[bytes | None, int]] = {}
        owners: dict[str, str] = {}
        for spec in wheels:
            files = expected_files(spec, spec.key in requested)
            for path, value in files.items():
                if owners.setdefault(path, spec.key) != spec.key:
                    return False  # two wheels claim one place
                writes[path] = value
            after.records[spec.key] = {path: content for path, (content, _) in files.items()}
        for path, (content, mode) in writes.items():
            if after.tree.get(path) == ("dir",):
                return False  # a folder in the way
            for folder in _ancestors(path):
                if folder in writes or after.tree.get(folder, ("dir",))[0] != "dir":
                    return False  # a file in the way of a folder
                after.tree[folder] = ("dir",)
            after.tree[path] = ("file", content, mode)
        self.tree, self.records = after.tree, after.records
        return True

    def uninstall(self, project: str) -> None:
        self._remove([project])

    def compile(self) -> list[str]:
        """Bytecode for every .py file in site-packages (as importing them would leave)."""
        made = []
        for path in sorted(self.tree):
            if path.startswith("site-packages/") and path.endswith(".py") and self.tree[path][0] == "file":
                pyc = _bytecode(path)
                if pyc not in self.tree:
                    self.tree[posixpath.dirname(pyc)] = ("dir",)
                    self.tree[pyc] = ("file", b"pyc", 0o644)
                    made.append(pyc)
        return made


# --- the real thing -------------------------------------------------------------------------


def new_env(root: str) -> tuple[Scheme, Model]:
    for folder in STOPS:
        os.mkdir(os.path.join(root, folder))
    scheme = Scheme(purelib=f"{root}/site-packages", platlib=f"{root}/site-packages", scripts=f"{root}/bin",
                    headers=f"{root}/include", data=f"{root}/data")
    return scheme, Model({folder: ("dir",) for folder in STOPS}, {})


def snapshot(root: str, *, records: bool = True) -> Tree:
    """Every folder (with its mode), file (bytes, mode) and link under ``root``; with
    ``records=False`` RECORD's content is left out, and folders' modes."""
    found: Tree = {}
    for directory, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(directory, name)
            rel = os.path.relpath(path, root)
            mode = stat.S_IMODE(os.lstat(path).st_mode)
            if os.path.islink(path):
                found[rel] = ("link", os.readlink(path))
            elif os.path.isdir(path):
                found[rel] = ("dir", mode) if records else ("dir",)
            else:
                data: bytes | None = Path(path).read_bytes()
                if not records and name == "RECORD" and rel.endswith(".dist-info/RECORD"):
                    data = None
                found[rel] = ("file", data, mode)
    return found


def check_records(root: str, model: Model) -> None:
    """Each RECORD lists exactly the files the model says its project wrote, each with the
    sha256 and size of what it wrote (another may have written over it since)."""
    site = os.path.join(root, "site-packages")
    for project, paths in model.records.items():
        record = next(p for p in paths if p.endswith(".dist-info/RECORD"))
        listed = set()
        with open(os.path.join(root, record), newline="", encoding="utf-8") as file:
            for path, digest, size in csv.reader(file):
                rel = os.path.relpath(os.path.normpath(os.path.join(site, path)), root)
                listed.add(rel)
                if rel == record:
                    assert (digest, size) == ("", ""), project
                    continue
                data = paths[rel]
                assert data is not None
                sha256 = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
                assert (digest, size) == (f"sha256={sha256}", str(len(data))), (project, path)
        assert listed == set(paths), project


def run_compile(root: str, model: Model) -> None:
    for pyc in model.compile():
        os.makedirs(os.path.dirname(os.path.join(root, pyc)), exist_ok=True)
        Path(root, pyc).write_bytes(b"pyc")
        os.chmod(os.path.join(root, pyc), 0o644)


# --- properties -----------------------------------------------------------------------------

_STEP = st.one_of(
    st.tuples(st.just("install"), batches()),
    st.tuples(st.just("rollback"), batches()),
    st.tuples(st.just("uninstall"), st.sampled_from(_NAMES)),
    st.tuples(st.just("compile"), st.none()),
)


def apply(root: str, scheme: Scheme, model: Model, step: tuple) -> None:
    """Run ``step`` on the tree and on the model; check that they agree."""
    kind, arg = step
    before = snapshot(root)
    if kind == "compile":
        run_compile(root, model)
    elif kind == "uninstall":
        project = canonicalize_name(arg)
        if project in model.records:
            uninstall(arg, scheme).sort()
            model.uninstall(project)
        else:
            try:
                uninstall(arg, scheme)
            except NotInstalledError:
                pass
            else:
                raise AssertionError(f"{arg} uninstalled, but it is not installed")
    else:
        wheels, requested = arg
        built = [build(spec) for spec in wheels]
        expected = model.copy()
        ok = expected.install(wheels, requested)
        if ok:
            transaction = install(built, scheme, requested=requested)
            if kind == "rollback":
                transaction.rollback()
                assert snapshot(root) == before, "the rollback did not restore the tree"
                return
            transaction.finish()
            model.tree, model.records = expected.tree, expected.records
        else:
            try:
                install(built, scheme, requested=requested).finish()
            except InstallError as exc:
                assert "nothing was changed" in str(exc) or "RESTORE" not in str(exc)
            else:
                raise AssertionError("the install should have failed")
            assert snapshot(root) == before, "a failed install changed the tree"
            return
    assert snapshot(root, records=False) == model.tree
    check_records(root, model)


def _one(name: str, *paths: str) -> tuple:
    return ("install", ([Spec(name, "1.0", True, tuple(("root", path, b"") for path in paths))], set()))


@SETTINGS
@given(st.lists(_STEP, min_size=1, max_size=6))
@example([_one("alpha", "m.x.py"), _one("Be_ta", "m.py"), ("compile", None), ("uninstall", "alpha")]).via(
    "m.x.py's bytecode taken for m.py's, which another distribution lists: left behind")
@example([_one("alpha", "m.py"), _one("Be_ta", "m.x.py"), ("compile", None), ("uninstall", "alpha")]).via(
    "m.x.py's bytecode taken for m.py's: removed with it")
def test_installs_upgrades_rollbacks_and_uninstalls_agree_with_the_model(steps: list[tuple]) -> None:
    with tempfile.TemporaryDirectory() as root:
        scheme, model = new_env(root)
        for step in steps:
            apply(root, scheme, model, step)


class FailingOps(FileOps):
    """Counts the calls that change the tree; those numbered in ``fail_at`` fail (a write
    after writing half its bytes)."""

    def __init__(self, fail_at: Iterable[int] = ()) -> None:
        self.calls = 0
        self.fail_at = set(fail_at)

    def _tick(self) -> None:
        self.calls += 1
        if self.calls in self.fail_at:
            raise OSError(5, f"I/O error (injected at call {self.calls})")

    def write(self, path: str, data: bytes, mode: int) -> None:  # type: ignore[override]
        if self.calls + 1 in self.fail_at:
            Path(path).write_bytes(bytes(data)[: len(data) // 2])
        self._tick()
        super().write(path, data, mode)

    def move(self, source: str, target: str) -> None:
        self._tick()
        super().move(source, target)

    def unlink(self, path: str) -> None:
        self._tick()
        super().unlink(path)

    def mkdir(self, path: str) -> None:
        self._tick()
        super().mkdir(path)

    def rmdir(self, path: str) -> None:
        self._tick()
        super().rmdir(path)


def _kept_somewhere(root: str, before: Tree, after: Tree) -> list[str]:
    """The files of ``before`` whose bytes are neither in place nor kept anywhere under
    ``root`` (a backup left for the user): lost."""
    present = {entry[1] for path, entry in after.items() if entry[0] == "file" and path not in before
               and path.startswith("site-packages/.pyemscripten-")}
    return [path for path, entry in before.items()
            if entry[0] == "file" and after.get(path) != entry and entry[1] not in present]


_SETUP = st.lists(st.tuples(st.just("install"), batches()) | st.tuples(st.just("compile"), st.none()),
                  min_size=1, max_size=3)


@SETTINGS
@given(_SETUP, batches(), st.integers(1, 60), st.none() | st.integers(1, 12))
@example([("install", ([Spec("alpha", "1.0", True, (("root", "a", b"1"),))], set()))],
         ([Spec("alpha", "2.0", True, (("root", "b", b""),))], set()), 8, 1).via(
    "the old a could not be moved back, and the backups were removed with the staging folder")
def test_a_failure_at_any_step_leaves_the_tree_as_it_was(setup: list[tuple], batch: tuple[list[Spec], set[str]],
                                                         fail_at: int, then: int | None) -> None:
    # ``then``: a second failure that many calls later, while the install is undone.
    with tempfile.TemporaryDirectory() as root:
        scheme, model = new_env(root)
        for step in setup:
            apply(root, scheme, model, step)
        before = snapshot(root)
        wheels, requested = batch
        ops = FailingOps([fail_at] if then is None else [fail_at, fail_at + then])
        expected = model.copy()
        try:
            transaction = install([build(spec) for spec in wheels], scheme, requested=requested, ops=ops)
        except InstallError as exc:
            # A failure while the install is undone (the second, or the only one after a
            # refusal found while placing) must be told, and lose no file.
            after = snapshot(root)
            if "RESTORE FAILED" in str(exc):
                assert not _kept_somewhere(root, before, after), "a file was lost"
            else:
                assert after == before, "a failure left changes"
                assert "nothing was changed" in str(exc) or "injected" not in str(exc)  # or refused before
            return
        assert expected.install(wheels, requested) and ops.calls < fail_at, "the install should have failed"
        if then is None:
            transaction.finish()
            assert snapshot(root, records=False) == expected.tree
            return
        ops.fail_at = {ops.calls + then}  # undone after all, and a step of that fails
        try:
            transaction.rollback()
        except InstallError as exc:
            assert "could not restore" in str(exc) and not _kept_somewhere(root, before, snapshot(root))
        else:
            assert snapshot(root) == before


@SETTINGS
@given(_SETUP, st.sampled_from(_NAMES), st.integers(1, 30), st.none() | st.integers(1, 8))
def test_a_failure_while_uninstalling_leaves_the_tree_as_it_was(setup: list[tuple], name: str, fail_at: int,
                                                                then: int | None) -> None:
    with tempfile.TemporaryDirectory() as root:
        scheme, model = new_env(root)
        for step in setup:
            apply(root, scheme, model, step)
        if canonicalize_name(name) not in model.records:
            return
        before = snapshot(root)
        try:
            uninstall(name, scheme, ops=FailingOps([fail_at] if then is None else [fail_at, fail_at + then]))
        except PyemscriptenError as exc:
            after = snapshot(root)
            if "RESTORE FAILED" in str(exc):
                assert not _kept_somewhere(root, before, after), "a file was lost"
            else:
                assert after == before and "nothing of it was removed" in str(exc)
            return
        model.uninstall(canonicalize_name(name))
        assert snapshot(root, records=False) == model.tree


_BAD = st.sampled_from(["/abs.py", "../up.py", "a/../../up.py", "a/../..", "", ".", "..", "ln/x.py", "ln/../x.py"])


@SETTINGS
@given(st.sampled_from(["purelib", "platlib", "scripts", "headers", "data"]), _BAD, st.booleans())
def test_paths_outside_their_folder_are_refused_and_nothing_is_written(key: str, bad: str, through_wheel: bool) -> None:
    # "ln" is a link, in every scheme folder, to a folder outside the environment.
    with tempfile.TemporaryDirectory() as root, tempfile.TemporaryDirectory() as outside:
        scheme, model = new_env(root)
        apply(root, scheme, model, _one("Be_ta", "b.py"))
        for folder in (scheme.purelib, scheme.scripts, scheme.headers, os.path.join(scheme.headers, "alpha"),
                       scheme.data):
            os.makedirs(folder, exist_ok=True)
            os.symlink(outside, os.path.join(folder, "ln"))
        before = snapshot(root)
        good = build(Spec("alpha", "1.0", True, (("root", "a.py", b""),)))
        try:
            if through_wheel:  # what wheels.py lets through
                where = f"{good.dist_info[:-len('.dist-info')]}.data/{key}/" if key != "purelib" else ""
                whl = make_wheel("alpha", "1.0", {"a.py": b"", where + bad: b"x"})
                wheel = open_wheel(whl.filename, whl)
            else:  # installation.py's own checks, should a wheel come in another way
                wheel = UnpackedWheel(**{**good.__dict__, "files": good.files + ((key, bad, b"x"),)})
            transaction = install([wheel], scheme)
        except PyemscriptenError:
            assert snapshot(root) == before
        else:
            # "/abs.py" forged past wheels.py joins as "abs.py": inside its folder, so allowed.
            assert not through_wheel, f"{key} {bad!r} was installed"
            real = os.path.realpath(root) + "/"
            assert all(os.path.realpath(p).startswith(real) for paths in transaction.files.values() for p in paths)
            transaction.finish()
        assert os.listdir(outside) == []


def test_a_data_file_into_a_dist_info_folder_is_refused(tmp_path: Path) -> None:
    # With the data folder holding site-packages (Pyodide's is "/").
    site = tmp_path / "site-packages"
    site.mkdir()
    scheme = Scheme(str(site), str(site), str(tmp_path / "bin"), str(tmp_path / "include"), str(tmp_path))
    install([build(Spec("Be_ta", "1.0", True, (("root", "b.py", b""),)))], scheme).finish()
    before = snapshot(str(tmp_path))
    for target in ("site-packages/be_ta-1.0.dist-info/RECORD", "site-packages/alpha-1.0.dist-info/x"):
        with pytest.raises(InstallError, match="dist-info"):
            install([build(Spec("alpha", "1.0", True, (("root", "a.py", b""), ("data", target, b"x"))))], scheme)
        assert snapshot(str(tmp_path)) == before
