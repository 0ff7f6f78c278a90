"""Nothing half-installed: the whole pipeline (``api.install``: files staged while wheels
download, then the commit) failed at each file operation in turn, or cancelled at each of
its waits in turn, leaves the scheme's folders exactly as they were (every folder, every
file's path, bytes and mode, the RECORD, INSTALLER and REQUESTED of each ``.dist-info``),
or, past the commit, wholly installed.

test_installation.py fails ``installation.install`` step by step; this goes through the
api, where the downloads stage members early (``Staging.prestage``) and every call of the
:class:`FileOps` seam is counted (``write_tree``, ``entries``, ``move_entries`` too).
"""

from __future__ import annotations

import asyncio
import errno
import os
import shutil
import stat
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from pyemscripten import api, errors
from pyemscripten.downloads import WheelTasks
from pyemscripten.index_client import RetryPolicy
from pyemscripten.installation import FileOps, Scheme
from pyemscripten.seams import LibraryLoader, NoLibraryLoader, Response
from tests.support.wheels import make_wheel
from tests.unit.test_libraries import so

from .fake_index import BASE, FakeIndex
from .test_api import TARGET

# Each failed in turn. Not remove_tree (it ignores errors, its contract: the staging folder
# it removes holds nothing of the user's) nor release (memory the install held, after it).
COUNTED = ("keep", "write", "write_tree", "move", "entries", "move_entries", "unlink", "mkdir", "rmdir")


class FailAt(FileOps):
    """Counts the calls of :data:`COUNTED`; the one numbered ``fail_at`` raises (a write
    after writing half its bytes, as a full disk leaves it)."""

    def __init__(self, fail_at: int = 0) -> None:
        self.calls: list[str] = []
        self.fail_at = fail_at

    def _tick(self, name: str, path: str | None = None) -> None:
        self.calls.append(name)
        if len(self.calls) == self.fail_at:
            raise OSError(5, f"I/O error (injected in {name})", path)

    def keep(self, kept: Any) -> None:
        self._tick("keep")
        super().keep(kept)

    def write(self, path: str, data: Any, mode: int) -> None:
        if len(self.calls) + 1 == self.fail_at:
            Path(path).write_bytes(bytes(data)[: len(data) // 2])
        self._tick("write", path)
        super().write(path, data, mode)

    def write_tree(self, root: str, files: Sequence[tuple[str, Any]], mode: int) -> None:
        self._tick("write_tree", root)
        super().write_tree(root, files, mode)

    def move(self, source: str, target: str) -> None:
        self._tick("move", source)
        super().move(source, target)

    def entries(self, source: str, target: str) -> list[tuple[str, bool]]:
        self._tick("entries", source)
        return super().entries(source, target)

    def move_entries(self, source: str, target: str, names: Sequence[str]) -> bool:
        self._tick("move_entries", source)
        return super().move_entries(source, target, names)

    def unlink(self, path: str) -> None:
        self._tick("unlink", path)
        super().unlink(path)

    def mkdir(self, path: str) -> None:
        self._tick("mkdir", path)
        super().mkdir(path)

    def rmdir(self, path: str) -> None:
        self._tick("rmdir", path)
        super().rmdir(path)


def wheel(name: str, version: str, files: Mapping[str, str | bytes], **kwargs: Any) -> dict:
    return {"body": bytes(make_wheel(name, version, files, **kwargs)), "requires": []}


PROJECTS = {
    # 1.0 has files 2.0 lacks (a module, a package folder): an undone upgrade brings them back.
    "alpha": {"1.0": wheel("alpha", "1.0", {"alpha/__init__.py": "V = 1\n", "alpha/old.py": "o",
                                            "alpha/oldpkg/x.py": "x"}),
              "2.0": wheel("alpha", "2.0", {"alpha/__init__.py": "V = 2\n", "alpha/sub/mod.py": "m" * 5000})},
    # A .data folder: scripts, headers and data, each into a folder of the scheme not there yet.
    "beta": {"1.0": wheel("beta", "1.0", {"beta.py": "b"}, data_files={
        "scripts/beta-tool": "#!python\nprint(1)\n", "headers/beta.h": "int b;", "data/share/beta/x.txt": "x"})},
    "gamma": {"1.0": wheel("gamma", "1.0", {"gamma/__init__.py": "", "gamma/_core.so": so()})},
}


class Index(FakeIndex):
    """Waits once per request and once after each piece of a body (as a network does: each
    a point where the install may be cancelled); ``slow``: wheels answered later still."""

    def __init__(self, projects: Mapping[str, Any], slow: str = "") -> None:
        super().__init__(projects)
        self.slow = slow

    async def get(self, url: str, headers: Any = None, on_progress: Any = None, on_data: Any = None) -> Response:
        await asyncio.sleep(0)
        if self.slow and f"/files/{self.slow}-" in url:
            for _ in range(20):
                await asyncio.sleep(0)
        response = self.routes.get(url)
        if response is None:
            return Response(url, 404, b"not found", {})
        for start in range(0, len(response.body), self.piece_size) if on_data else ():
            on_data(start, response.body[start:start + self.piece_size])
            await asyncio.sleep(0)
        return response


class WaitingLoader(LibraryLoader):
    """Loads nothing, but waits before each library (a point to be cancelled at)."""

    async def load(self, libraries: Any, on_loaded: Any = None) -> None:
        for number, _ in enumerate(libraries, 1):
            await asyncio.sleep(0)
            if on_loaded:
                on_loaded(number)


def session(root: Path, ops: FileOps | None = None, index: FakeIndex | None = None,
            loader: LibraryLoader | None = None) -> api.Session:
    return api.Session(target=TARGET, transport=index or Index(PROJECTS), loader=loader or NoLibraryLoader(),
                       scheme=Scheme(str(root / "site-packages"), str(root / "site-packages"), str(root / "bin"),
                                     str(root / "include"), str(root / "data")),
                       retry=RetryPolicy(attempts=1, backoff=0), distribution_url="", use_cache=False,
                       file_ops=ops or FileOps())


def tree(root: Path) -> dict[str, tuple]:
    """Every folder (and its mode) and file (its bytes and mode) under ``root``."""
    found: dict[str, tuple] = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(folder, name)
            mode = stat.S_IMODE(os.lstat(path).st_mode)
            found[os.path.relpath(path, root)] = (mode,) if name in dirs else (mode, Path(path).read_bytes())
    return found


def prepared(tmp_path: Path, installed: Sequence[str]) -> Path:
    """A scheme with ``installed`` in it, to copy for each try."""
    base = tmp_path / "base"
    (base / "site-packages").mkdir(parents=True)
    if installed:
        asyncio.run(api.install(list(installed), [BASE], session=session(base), quiet=True))
    return base


def differences(one: Mapping[str, tuple], other: Mapping[str, tuple]) -> list[str]:
    return sorted(path for path in one.keys() | other.keys() if one.get(path) != other.get(path))


@pytest.mark.parametrize(("installed", "wanted", "tampered"), [
    ((), ("alpha", "beta"), ""),
    (("alpha==1.0",), ("alpha==2.0", "beta"), ""),
    # beta's body fails its hash, later than alpha's files were staged
    ((), ("alpha", "beta"), "beta"),
], ids=["fresh", "upgrade", "second-wheel-fails-its-hash"])
def test_a_failure_at_each_file_operation_leaves_the_scheme_as_it_was(
        tmp_path: Path, installed: Sequence[str], wanted: Sequence[str], tampered: str) -> None:
    def index() -> FakeIndex:
        served = Index(PROJECTS, slow=tampered)
        if tampered:
            url = f"https://index.test/files/{tampered}-1.0-py3-none-any.whl"
            good = served.routes[url]
            served.routes[url] = Response(url, 200, good.body[:-1] + b"!", good.headers)
        return served

    base = prepared(tmp_path, installed)
    before = tree(base)
    probe, root = FailAt(), tmp_path / "probe"
    shutil.copytree(base, root)
    if tampered:
        with pytest.raises(errors.HashMismatchError):
            asyncio.run(api.install(list(wanted), [BASE], session=session(root, probe, index()), quiet=True))
        assert "write_tree" in probe.calls and tree(root) == before  # alpha's files were staged, then undone
        full = before
    else:
        asyncio.run(api.install(list(wanted), [BASE], session=session(root, probe, index()), quiet=True))
        full = tree(root)
        assert {"entries", "move", "mkdir"} <= set(probe.calls) and ("rmdir" in probe.calls) == bool(installed)
    failed = 0
    for fail_at in range(1, len(probe.calls) + 1):
        root = tmp_path / str(fail_at)
        shutil.copytree(base, root)
        ops = FailAt(fail_at)
        try:
            asyncio.run(api.install(list(wanted), [BASE], session=session(root, ops, index()), quiet=True))
        except errors.HashMismatchError:
            assert tampered and tree(root) == before, f"call {fail_at} ({ops.calls[-1]}) left changes"
        except errors.InstallError as exc:
            failed += 1
            assert differences(tree(root), before) == [], f"call {fail_at} ({probe.calls[fail_at - 1]}) left changes"
            assert exc.project in ("alpha", "beta", "alpha, beta") and "injected" in str(exc)
            # The path where the file goes (not its staged copy's) and what to do.
            assert ".pyemscripten-" not in str(exc) and f"{root}/" in str(exc)
            assert "(nothing was changed; install again" in str(exc)
        else:
            # A write into a download's own tree that failed: that tree is not used, and the
            # wheel is written again as the install stages it.
            assert not tampered and probe.calls[fail_at - 1] in ("mkdir", "write_tree", "write")
            assert tree(root) == full, f"call {fail_at} ({probe.calls[fail_at - 1]}) installed something else"
        shutil.rmtree(root)
    assert failed > len(probe.calls) // 2


def test_a_cancellation_at_each_wait_leaves_the_scheme_as_it_was_or_wholly_installed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The commit point is the transaction's finish() in commit_and_load, once the libraries
    # are loaded: a cancellation before it (while they load too) undoes everything; after
    # it, the install stands and its error event says so. The one wait after it: downloads
    # still under way at the end (made one here, by waiting in cancel_unused).
    cancel_unused = WheelTasks.cancel_unused

    async def waiting(self: WheelTasks) -> None:
        await asyncio.sleep(0)
        await cancel_unused(self)

    monkeypatch.setattr(WheelTasks, "cancel_unused", waiting)
    wanted = ["alpha==2.0", "beta", "gamma"]
    base = prepared(tmp_path, ["alpha==1.0"])
    before = tree(base)

    async def cancelled_after(root: Path, turns: int) -> tuple[bool, list[dict]]:
        events: list[dict] = []
        task = asyncio.ensure_future(api.install(wanted, [BASE], session=session(root, loader=WaitingLoader()),
                                                 quiet=True, on_progress=events.append))
        for _ in range(turns):
            await asyncio.sleep(0)
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            return True, events
        return False, events

    seen = set()
    for turns in range(1, 200):
        root = tmp_path / str(turns)
        shutil.copytree(base, root)
        cancelled, events = asyncio.run(cancelled_after(root, turns))
        if not cancelled:
            break
        stages = [e["stage"] for e in events]
        assert stages[-1] == "error" and "done" not in stages
        if "after its packages were installed" in events[-1]["message"]:
            assert api.list_installed(session(root)) == {"alpha": "2.0", "beta": "1.0", "gamma": "1.0"}
            seen.add("installed")
        else:
            assert tree(root) == before, f"cancelled after {turns} turns ({stages[-2]}): changes left"
            assert events[-1]["message"] == "Install stopped (CancelledError); site-packages is as it was"
            seen.add("loading" if "loading" in stages else "before")
        shutil.rmtree(root)
    assert not cancelled and seen == {"before", "loading", "installed"}


class FullDisk(FileOps):
    """A file system that fails as an operating system does (the errno and the path) at the
    first call on a path that ``fails`` ends with."""

    def __init__(self, fails: str, code: int = errno.ENOSPC) -> None:
        self.fails, self.code = fails, code

    def _check(self, path: str) -> None:
        if path.endswith(self.fails):
            raise OSError(self.code, os.strerror(self.code), path)

    def write(self, path: str, data: Any, mode: int) -> None:
        self._check(path)
        super().write(path, data, mode)

    def rmdir(self, path: str) -> None:
        self._check(path)
        super().rmdir(path)


def test_a_file_operation_that_fails_names_the_package_the_file_where_it_goes_and_what_to_do(tmp_path: Path) -> None:
    # It named the file in the private staging folder (".pyemscripten-1a2b/t1/alpha/sub/mod.py",
    # gone once the error is read), said nothing of what to do, and a folder of the old
    # version that could not be removed was told as the last wheel's (beta's) failure.
    base = prepared(tmp_path, ["alpha==1.0"])
    before = tree(base)
    site = base / "site-packages"
    wheels = [("alpha==2.0", "beta"), ("alpha==2.0", "beta"), ("beta",)]
    for (fails, code, project, said), wanted in zip([
            ("mod.py", errno.ENOSPC, "alpha", f"{site}/alpha/sub/mod.py (nothing was changed; free some space"),
            ("alpha-1.0.dist-info", errno.EACCES, "alpha, beta", f"{site}/alpha-1.0.dist-info (nothing was "
                                                                 "changed; the install must be able to write there"),
            ("beta-tool", errno.EIO, "beta", f"{base}/bin/beta-tool (nothing was changed; install again")], wheels):
        with pytest.raises(errors.InstallError) as info:
            asyncio.run(api.install(list(wanted), [BASE], session=session(base, FullDisk(fails, code)), quiet=True))
        assert info.value.project == project
        assert f"{os.strerror(code)}: {said}" in str(info.value)
        assert tree(base) == before
