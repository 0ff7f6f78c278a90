"""Load planning: which libraries, found where, in which order. An in-memory file system."""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyemscripten.errors import DylinkError, LibraryLoadError, LibraryNeedsEvalError, LibraryNotFoundError
from pyemscripten.libraries import (
    FileSystemView,
    OSFileSystem,
    foreign_modules,
    loaded_before,
    other_interpreters_modules,
    plan_loads,
)
from tests.unit.test_dylink import module, strings, sub

SP = "/lib/python3.14/site-packages"
SYSTEM = ["/usr/lib", SP]  # what Pyodide puts on LD_LIBRARY_PATH


def so(needed: tuple[str, ...] = (), rpath: tuple[str, ...] = ()) -> bytes:
    parts = []
    if needed:
        parts.append(sub(2, strings(*needed)))
    if rpath:
        parts.append(sub(5, strings(*rpath)))
    return module(*parts)


class MemoryFS:
    def __init__(self, files: Mapping[str, bytes]) -> None:
        self.files = dict(files)
        self.reads: list[str] = []

    def read(self, path: str) -> bytes:
        self.reads.append(path)
        return self.files[path]

    def exists(self, path: str) -> bool:
        return path in self.files

    def listdir(self, path: str) -> list[str]:
        prefix = path.rstrip("/") + "/"
        return sorted({p[len(prefix):].split("/")[0] for p in self.files if p.startswith(prefix)})

    def isdir(self, path: str) -> bool:
        prefix = path.rstrip("/") + "/"
        return any(p.startswith(prefix) for p in self.files)


def _fs_type_check(fs: MemoryFS) -> FileSystemView:
    return fs  # MemoryFS satisfies the protocol (checked by type checkers)


EXT = f"{SP}/pkg/_ext.so"
MID = f"{SP}/pkg.libs/libmid.so"
BASE = f"{SP}/pkg.libs/libbase.so"
CHAIN = {
    EXT: so(("libmid.so",), ("$ORIGIN/../pkg.libs",)),
    MID: so(("libbase.so",), ("$ORIGIN",)),
    BASE: so(),
}
SHARED = f"{SP}/prov.libs/libshared.so"
USERS = {
    SHARED: so(),
    f"{SP}/user_a/_ext.so": so(("libshared.so",), ("$ORIGIN/../prov.libs",)),
    f"{SP}/user_b/_ext.so": so(("libshared.so",), ("$ORIGIN/../prov.libs",)),
}


def paths(plan: list) -> list[str]:
    return [lib.path for lib in plan]


# (id, files, modules [(path, project)], loaded, rpath_supported, expected load order)
PLANS = [
    ("chain: dependencies first", CHAIN, [(EXT, "pkg"), (MID, "pkg"), (BASE, "pkg")], (), True, [BASE, MID, EXT]),
    ("chain: input order does not matter", CHAIN, [(BASE, "pkg"), (EXT, "pkg"), (MID, "pkg")], (), True,
     [BASE, MID, EXT]),
    ("a library NEEDED but not among the modules is still planned", CHAIN, [(EXT, "pkg")], (), True,
     [BASE, MID, EXT]),
    ("already loaded: not planned again", CHAIN, [(EXT, "pkg"), (MID, "pkg")], {BASE}, True, [MID, EXT]),
    ("a module already loaded is skipped", CHAIN, [(EXT, "pkg"), (MID, "pkg"), (BASE, "pkg")], {EXT}, True,
     [BASE, MID]),
    ("shared by two projects: loaded once",
     USERS, [(f"{SP}/user_a/_ext.so", "user-a"), (f"{SP}/user_b/_ext.so", "user-b"), (SHARED, "prov")], (), True,
     [SHARED, f"{SP}/user_a/_ext.so", f"{SP}/user_b/_ext.so"]),
    ("2024_0: .libs of the project, no RPATH needed",
     {EXT: so(("libmid.so",)), MID: so(("libbase.so",)), BASE: so()},
     [(EXT, "pkg"), (MID, "pkg"), (BASE, "pkg")], (), False, [BASE, MID, EXT]),
    ("2024_0: a library loaded earlier is found by soname",
     {EXT: so(("libbase.so",))}, [(EXT, "pkg")], {"/elsewhere/libbase.so", "libbase.so"}, False, [EXT]),
    ("2024_0: another project's .libs in the same install",
     {f"{SP}/user_a/_ext.so": so(("libshared.so",)), SHARED: so()},
     [(f"{SP}/user_a/_ext.so", "user-a"), (SHARED, "prov")], (), False, [SHARED, f"{SP}/user_a/_ext.so"]),
    ("a cycle terminates, each library once",
     {f"{SP}/c/a.so": so(("b.so",), ("$ORIGIN",)), f"{SP}/c/b.so": so(("a.so",), ("$ORIGIN",))},
     [(f"{SP}/c/a.so", "c")], (), True, [f"{SP}/c/b.so", f"{SP}/c/a.so"]),
    ("LD_LIBRARY_PATH comes before RUNTIME_PATH (as in Emscripten)",
     {EXT: so(("libz.so",), ("$ORIGIN/../pkg.libs",)), f"{SP}/pkg.libs/libz.so": so(), "/usr/lib/libz.so": so()},
     [(EXT, "pkg")], (), True, ["/usr/lib/libz.so", EXT]),
    ("an absolute NEEDED is taken as is",
     {EXT: so(("/opt/libabs.so",)), "/opt/libabs.so": so()}, [(EXT, "pkg")], (), True, ["/opt/libabs.so", EXT]),
    ("a module with no NEEDED", {BASE: so()}, [(BASE, "pkg")], (), True, [BASE]),
    ("2024_0: a library in a subfolder of the module's folder (Pyodide 0.27 looks there)",
     {EXT: so(("libbase.so",)), f"{SP}/pkg/lib/libbase.so": so()},
     [(EXT, "pkg"), (f"{SP}/pkg/lib/libbase.so", "pkg")], (), False, [f"{SP}/pkg/lib/libbase.so", EXT]),
    ("2024_0: subfolders of subfolders, each after its parent",
     {EXT: so(("libbase.so",)), f"{SP}/pkg/a/b/libbase.so": so(), f"{SP}/pkg/a/x.py": b""},
     [(EXT, "pkg")], (), False, [f"{SP}/pkg/a/b/libbase.so", EXT]),
    ("an RPATH entry with a ':' is two folders, as the runtime reads it",
     {EXT: so(("libbase.so",), ("$ORIGIN/../a.libs:/opt/b",)), "/opt/b/libbase.so": so()},
     [(EXT, "pkg")], (), True, ["/opt/b/libbase.so", EXT]),
    ("... the entry's leading $ORIGIN replaced before it is split, empty folders skipped",
     {EXT: so(("libbase.so",), ("$ORIGIN/../a.libs::/opt/b",)), f"{SP}/a.libs/libbase.so": so()},
     [(EXT, "pkg")], (), True, [f"{SP}/a.libs/libbase.so", EXT]),
    ("a NEEDED with a folder in it, loaded under that very name", {EXT: so(("sub/libbase.so",), ("$ORIGIN",))},
     [(EXT, "pkg")], {"sub/libbase.so"}, True, [EXT]),
    ("2024_0: a NEEDED with a folder in it is joined to each folder",
     {EXT: so(("sub/libbase.so",)), f"{SP}/pkg/sub/libbase.so": so()}, [(EXT, "pkg")], (), False,
     [f"{SP}/pkg/sub/libbase.so", EXT]),
    ("nothing to do", {}, [], (), True, []),
]


@pytest.mark.parametrize("files,modules,loaded,rpath,expected", [p[1:] for p in PLANS], ids=[p[0] for p in PLANS])
def test_plan(files: dict, modules: list, loaded: set, rpath: bool, expected: list[str]) -> None:
    plan = plan_loads(modules, MemoryFS(files), loaded, SYSTEM, rpath_supported=rpath)
    assert paths(plan) == expected
    assert all(not lib.global_ for lib in plan)  # Pyodide >= 0.27 loads everything locally


def test_owner_project_is_kept() -> None:
    plan = plan_loads([(f"{SP}/user_a/_ext.so", "user-a"), (SHARED, "prov")], MemoryFS(USERS), (), SYSTEM, True)
    assert [(lib.path, lib.project) for lib in plan] == [(SHARED, "prov"), (f"{SP}/user_a/_ext.so", "user-a")]


def test_each_file_is_read_once() -> None:
    fs = MemoryFS(USERS)
    plan_loads([(p, "x") for p in USERS], fs, (), SYSTEM, True)
    assert sorted(fs.reads) == sorted(USERS)


def test_missing_library_lists_every_place_searched() -> None:
    files = {EXT: so(("libnothere.so",), ("$ORIGIN/../pkg.libs", "/opt/lib"))}
    with pytest.raises(LibraryNotFoundError) as info:
        plan_loads([(EXT, "pkg")], MemoryFS(files), (), SYSTEM, True)
    err = info.value
    assert (err.module, err.library, err.project) == (EXT, "libnothere.so", "pkg")
    assert err.searched == ["/usr/lib/libnothere.so", f"{SP}/libnothere.so",
                            f"{SP}/pkg.libs/libnothere.so", "/opt/lib/libnothere.so"]
    assert "libnothere.so" in str(err) and "/opt/lib/libnothere.so" in str(err)


def test_2024_0_subfolders_come_last_and_a_long_search_is_cut_short() -> None:
    # A module at the site-packages root (cffi's backend) whose library is nowhere: every
    # folder below it is searched (as Pyodide 0.27 does), and the error shows the first few.
    root = f"{SP}/_cffi_backend.so"
    files = {root: so(("libffi.so",)), **{f"{SP}/pkg{i}/sub/mod.py": b"" for i in range(300)}}
    with pytest.raises(LibraryNotFoundError) as info:
        plan_loads([(root, "cffi")], MemoryFS(files), (), SYSTEM, False)
    assert len(info.value.searched) == 602 and info.value.searched[:4] == [
        "/usr/lib/libffi.so", f"{SP}/libffi.so", f"{SP}/pkg0/libffi.so", f"{SP}/pkg0/sub/libffi.so"]
    assert "... and 590 more places" in str(info.value) and len(str(info.value).splitlines()) < 25
    # Another project's .libs (loaded first, so found by name in the runtime) before the walk.
    fs = MemoryFS({**files, root: so(("libshared.so",)), SHARED: so()})
    assert paths(plan_loads([(root, "cffi"), (SHARED, "prov")], fs, (), SYSTEM, False)) == [SHARED, root]
    assert not any(path.startswith(f"{SP}/pkg") for path in fs.reads)


def test_a_needed_name_with_a_folder_is_not_searched_from_2025_0() -> None:
    # The runtime's _emscripten_find_dylib looks such a name up in no folder: the plan says so
    # before the install, instead of the load failing after the commit.
    files = {EXT: so(("sub/libbase.so",), ("$ORIGIN",)), f"{SP}/pkg/sub/libbase.so": so()}
    with pytest.raises(LibraryNotFoundError) as info:
        plan_loads([(EXT, "pkg")], MemoryFS(files), (), SYSTEM, True)
    assert info.value.searched == []
    assert "Searched:\n    (nowhere)\n  This runtime's loader looks for a NEEDED name with a folder in it (not " \
           "absolute) in no folder: only among the libraries already loaded.\n  Nothing was installed." in str(info.value)


def test_an_rpath_entry_split_as_the_runtime_splits_it_finds_no_second_origin() -> None:
    # Only the entry's leading $ORIGIN is replaced: the one after ':' stays as written, so
    # b.libs is not searched (the runtime cannot load this either).
    files = {EXT: so(("libbase.so",), ("$ORIGIN/../a.libs:$ORIGIN/../b.libs",)), f"{SP}/b.libs/libbase.so": so()}
    with pytest.raises(LibraryNotFoundError) as info:
        plan_loads([(EXT, "pkg")], MemoryFS(files), (), SYSTEM, True)
    assert f"{SP}/a.libs/libbase.so" in info.value.searched and f"{SP}/b.libs/libbase.so" not in info.value.searched


def test_an_rpath_entry_is_split_at_newlines_too() -> None:
    # Emscripten's path_find splits at ":" and "\n" alike.
    files = {EXT: so(("libbase.so",), ("$ORIGIN/../a.libs\n/opt/b",)), "/opt/b/libbase.so": so()}
    assert [lib.path for lib in plan_loads([(EXT, "pkg")], MemoryFS(files), (), SYSTEM, True)] == [
        "/opt/b/libbase.so", EXT]


def test_2024_0_subfolders_walk_past_links_to_folders(tmp_path) -> None:
    # Pyodide 0.27 looks each subfolder up without following a last link: a link back to
    # its own folder is no folder to walk (walked, two such links never end).
    site = tmp_path / "site-packages"
    (site / "pkg").mkdir(parents=True)
    (site / "pkg" / "self").symlink_to(".")
    (site / "pkg" / "again").symlink_to(".")
    ext = site / "_cffi_backend.so"
    ext.write_bytes(so(("libffi.so",)))
    with pytest.raises(LibraryNotFoundError) as info:
        plan_loads([(str(ext), "cffi")], OSFileSystem(), (), ["/nonexistent"], rpath_supported=False,
                   site_packages=str(site))
    assert not [p for p in info.value.searched if "/self/" in p or "/again/" in p]


def test_modules_are_read_as_the_platforms_loader_reads_them() -> None:
    twice = module(sub(2, strings("libmissing.so")), sub(2, strings("libbase.so")), sub(5, strings("$ORIGIN/../pkg.libs")))
    files = {EXT: twice, BASE: so()}
    assert paths(plan_loads([(EXT, "pkg")], MemoryFS(files), (), SYSTEM, True)) == [BASE, EXT]
    with pytest.raises(LibraryNotFoundError, match="needs libmissing.so"):  # Pyodide 0.27 reads both
        plan_loads([(EXT, "pkg"), (BASE, "pkg")], MemoryFS(files), (), SYSTEM, False)
    legacy = {EXT: module(bytes([0, 0, 0, 0]) + strings(), name="dylink")}
    assert paths(plan_loads([(EXT, "pkg")], MemoryFS(legacy), (), SYSTEM, False)) == [EXT]
    with pytest.raises(DylinkError) as info:
        plan_loads([(EXT, "pkg")], MemoryFS(legacy), (), SYSTEM, True)
    assert str(info.value) == (
        f"Malformed WebAssembly side module {EXT} (from pkg): its first section is the legacy 'dylink' (Emscripten "
        "before 2.0.24), which this runtime's loader does not read. Nothing was installed: the library was not built "
        "for this runtime's loader; pin another version of pkg, or report it to its maintainers.")


def test_extension_modules_of_other_interpreters_are_told_apart() -> None:
    suffixes = [".cpython-314-wasm32-emscripten.so", ".abi3.so", ".so"]
    modules = [(f"{SP}/pkg/_new.cpython-314-wasm32-emscripten.so", "pkg"),
               (f"{SP}/pkg/_old.cpython-313-wasm32-emscripten.so", "pkg"),
               (f"{SP}/pkg/_native.cpython-314-x86_64-linux-gnu.so", "pkg"),
               (f"{SP}/pkg/_pypy.pypy310-pp73-wasm32_emscripten.so", "pkg"),
               (f"{SP}/pkg/_stable.abi3.so", "pkg"), (f"{SP}/pkg/some.name.so", "pkg"),
               (f"{SP}/pkg.libs/libz.so.1", "pkg"), (f"{SP}/pkg/plain.so", "pkg")]
    # PyPy's tags (pypy310-pp73) pass, as Pyodide's own loader lets them: better to load one too many.
    assert other_interpreters_modules(modules, suffixes) == modules[1:3]


def test_rpath_platform_ignores_dot_libs_not_on_the_rpath() -> None:
    # From 2025_0 a library merely sitting in .libs is not enough: it must be on the RPATH.
    files = {EXT: so(("libmid.so",)), MID: so()}
    with pytest.raises(LibraryNotFoundError) as info:
        plan_loads([(EXT, "pkg"), (MID, "pkg")], MemoryFS(files), (), SYSTEM, True)
    assert MID not in info.value.searched
    assert paths(plan_loads([(EXT, "pkg"), (MID, "pkg")], MemoryFS(files), (), SYSTEM, False)) == [MID, EXT]


def test_2024_0_search_order_is_recorded() -> None:
    files = {EXT: so(("libx.so",)), f"{SP}/pkg.libs/other.so": so()}
    with pytest.raises(LibraryNotFoundError) as info:
        plan_loads([(EXT, "pkg")], MemoryFS(files), (), SYSTEM, False)
    assert info.value.searched == [f"{SP}/pkg.libs/libx.so", "/usr/lib/libx.so", f"{SP}/libx.so",
                                   f"{SP}/pkg/libx.so"]


def test_missing_dependency_of_a_dependency_names_the_library_that_needs_it() -> None:
    files = {EXT: CHAIN[EXT], MID: CHAIN[MID]}
    with pytest.raises(LibraryNotFoundError) as info:
        plan_loads([(EXT, "pkg")], MemoryFS(files), (), SYSTEM, True)
    assert (info.value.module, info.value.library) == (MID, "libbase.so")


def test_malformed_module_raises_dylink_error_with_its_path() -> None:
    files = {EXT: b"\0asm\x01\0\0\0\0\xff\xff\xff\xff\x0f"}
    with pytest.raises(DylinkError) as info:
        plan_loads([(EXT, "pkg")], MemoryFS(files), (), SYSTEM, True)
    assert info.value.filename == EXT


def test_a_file_that_is_no_webassembly_module_is_foreign() -> None:
    # An ELF helper a wheel carries is left out of the plan by the installer; a malformed
    # side module is not foreign (it is refused), and neither is one NEEDED by another.
    elf = f"{SP}/pkg/helper.so"
    files = {**CHAIN, elf: b"\x7fELF\x02\x01\x01\0", f"{SP}/pkg/bad.so": b"\0asm\x01\0\0\0\0\xff"}
    modules = [(EXT, "pkg"), (elf, "pkg"), (f"{SP}/pkg/bad.so", "pkg")]
    assert foreign_modules(modules, MemoryFS(files)) == [(elf, "pkg")]
    needs_elf = {**files, EXT: so(("helper.so",), ("$ORIGIN",))}
    with pytest.raises(DylinkError, match="not a WebAssembly module"):
        plan_loads([(EXT, "pkg")], MemoryFS(needs_elf), (), SYSTEM, True)


def test_modules_loaded_before_are_told_apart() -> None:
    # An upgrade of a library the page holds: the plan skips it, and the installer says so.
    loaded = [EXT, "/usr/lib/libother.so"]
    assert loaded_before([(posixpath.join(SP, "pkg", ".", "_ext.so"), "pkg"), (MID, "pkg")], loaded) == [
        (posixpath.join(SP, "pkg", ".", "_ext.so"), "pkg")]
    assert paths(plan_loads([(EXT, "pkg")], MemoryFS(CHAIN), loaded, SYSTEM, True)) == []


def test_the_file_system_view_reads_a_file_once(tmp_path) -> None:
    path = tmp_path / "m.so"
    path.write_bytes(so(("liba.so",)))
    fs = OSFileSystem()
    first = fs.read(str(path))
    path.write_bytes(b"changed")
    assert fs.read(str(path)) is first and OSFileSystem().read(str(path)) == b"changed"
    # A file that is no WebAssembly module: its start is all there is to know.
    elf = tmp_path / "helper.so"
    elf.write_bytes(b"\x7fELF" + bytes(3 * OSFileSystem.HEAD))
    assert len(OSFileSystem().read(str(elf))) == OSFileSystem.HEAD


def test_paths_are_normalised() -> None:
    plan = plan_loads([(posixpath.join(SP, "pkg", "..", "pkg", "_ext.so"), "pkg")], MemoryFS(CHAIN), (), SYSTEM, True)
    assert paths(plan) == [BASE, MID, EXT]


def test_wide_fan_in_is_linear() -> None:
    # grill-usd-core's shape: 29 extension modules NEEDing one big library.
    lib = f"{SP}/g.libs/libusd_ms.so"
    files = {lib: so(rpath=("$ORIGIN",))}
    files |= {f"{SP}/pxr/M{i}/_m.so": so(("libusd_ms.so",), ("$ORIGIN/../../g.libs",)) for i in range(29)}
    plan = plan_loads([(p, "g") for p in files], MemoryFS(files), (), SYSTEM, True)
    assert paths(plan)[0] == lib and len(plan) == 30


def test_a_policy_refusing_eval_is_told_from_other_load_failures() -> None:
    from pyemscripten.browser import eval_forbidden

    # Chromium's words, as the runtime passes them on (the policy's first quote lost on the way).
    chromium = ("Evaluating a string as JavaScript violates the following Content Security Policy directive "
                "because 'unsafe-eval' is not an allowed source of script: script-src 'self' 'wasm-unsafe-eval'\".\n")
    for said in (chromium, "EvalError: Refused to evaluate a string", "call to eval() blocked by CSP"):
        assert eval_forbidden(said), said
    for said in ("Dynamic linking error: undefined symbol 'f'", "WebAssembly.Module(): expected magic word"):
        assert not eval_forbidden(said), said
    error = LibraryNeedsEvalError("/lib/python3.14/site-packages/p/_ext.so", chromium, project="p")
    assert isinstance(error, LibraryLoadError)
    assert str(error) == (
        "Loading /lib/python3.14/site-packages/p/_ext.so (from p) failed: the library has JavaScript built in "
        "(Emscripten's EM_JS or EM_ASM), which the runtime's loader evaluates from text, and this page's Content "
        "Security Policy allows no 'unsafe-eval' (Evaluating a string as JavaScript violates the following Content "
        "Security Policy directive because 'unsafe-eval' is not an allowed source of script: script-src 'self' "
        "'wasm-unsafe-eval'). Allow 'unsafe-eval' in the policy's script-src, or use a build of p without EM_JS and "
        "EM_ASM. The install was rolled back, but libraries the page loaded before this one stay in memory: reload "
        "the page before trying again.")


def test_2024_0_a_library_of_the_install_is_found_by_name_whatever_the_order_of_the_modules() -> None:
    # pkg.libs/libb.so needs liba.so, which no folder it searches holds: only pkg/ does. The
    # plan loads pkg/liba.so first, so the runtime finds it by name (step 1). It was refused
    # with LibraryNotFoundError when the wheel listed pkg.libs/libb.so first.
    liba, libb = f"{SP}/pkg/liba.so", f"{SP}/pkg.libs/libb.so"
    fs = MemoryFS({liba: so(), libb: so(("liba.so",))})
    for modules in ([(liba, "pkg"), (libb, "pkg")], [(libb, "pkg"), (liba, "pkg")]):
        assert paths(plan_loads(modules, fs, (), SYSTEM, rpath_supported=False)) == [liba, libb]
    with pytest.raises(LibraryNotFoundError):  # not a module of this install: nothing loads it first
        plan_loads([(libb, "pkg")], fs, (), SYSTEM, rpath_supported=False)


def test_2024_0_a_name_loaded_with_a_folder_in_it_does_not_load_its_base_name() -> None:
    # Pyodide 0.27 registers a library opened by its path under its base name as well; one it
    # opened by the NEEDED name "sub/libbase.so" is known by that name only. The plan took
    # libbase.so for loaded: it planned nothing, and the load failed after the commit.
    with pytest.raises(LibraryNotFoundError):
        plan_loads([(EXT, "pkg")], MemoryFS({EXT: so(("libbase.so",))}), {"sub/libbase.so"}, SYSTEM, False)
    fs = MemoryFS({EXT: so(("libbase.so", "sub/libbase.so")), BASE: so()})
    assert paths(plan_loads([(EXT, "pkg")], fs, {"sub/libbase.so"}, SYSTEM, False)) == [BASE, EXT]


# --- generated library sets against a model of each runtime's search --------------------------

# A small world: three library names, folders of two projects (p, q) and of the site-packages
# root (r, a module like cffi's backend), the runtime's /usr/lib and a folder of no project.
FOLDERS = {f"{SP}/p": "p", f"{SP}/p/sub": "p", f"{SP}/p.libs": "p", f"{SP}/q": "q", f"{SP}/q.libs": "q", SP: "r",
           "/usr/lib": None, "/opt/x": None}
LIB_NAMES = ["liba.so", "libb.so", "libc.so"]
gen_needed = st.sampled_from(LIB_NAMES * 6 + ["/opt/x/liba.so", "/usr/lib/../lib/libb.so", "sub/libc.so"])
gen_rpath = st.sampled_from(["$ORIGIN", "$ORIGIN/../p.libs", "$ORIGIN/../q.libs", "$ORIGIN/sub", "/opt/x",
                             "$ORIGIN/..:/opt/x", "$ORIGIN/../../site-packages/q.libs", "/usr/lib/../../opt/x"])
gen_files = st.lists(st.tuples(st.sampled_from(sorted(FOLDERS)), st.sampled_from(LIB_NAMES + ["_ext.so"]),
                               st.lists(gen_needed, max_size=2), st.lists(gen_rpath, max_size=2)),
                     min_size=1, max_size=10)


@dataclass(frozen=True)
class World:
    needed: dict[str, tuple[str, ...]]  # path: NEEDED
    rpath: dict[str, tuple[str, ...]]  # path: RUNTIME_PATH

    def folders(self) -> set[str]:
        found = set()
        for path in self.needed:
            while (path := posixpath.dirname(path)) != "/":
                found.add(path)
        return found

    def walk(self, folder: str) -> list[str]:
        """Every folder below ``folder``, each before its own, by name."""
        below = sorted(d for d in self.folders() if posixpath.dirname(d) == folder)
        return [f for d in below for f in [d, *self.walk(d)]]


def model_find(world: World, needed: str, lib: str, project: str, state: Mapping[str, str], rpath: bool,
               modules: list[tuple[str, str]]) -> str | None:
    """The path the runtime loads for ``needed`` of ``lib`` (a key of ``state``, the names the
    runtime has loaded, if that is what it takes), read from the rules of the module docstring
    of libraries.py; None where it finds nothing."""
    if needed.startswith("/"):
        path = posixpath.normpath(needed)
        return path if path in world.needed or path in state else None
    origin = posixpath.dirname(lib)
    if rpath:
        if "/" in needed:
            return state.get(needed)
        entries = [origin + e[len("$ORIGIN"):] if e.startswith("$ORIGIN") else e for e in world.rpath[lib]]
        folders = SYSTEM + [f for e in entries for f in e.replace("\n", ":").split(":") if f]
        tail = [state[needed]] if needed in state else []
    else:
        batch = list(dict.fromkeys(p for _, p in modules))
        if needed in state:
            return state[needed]
        libs = [f"{SP}/{p}.libs" for p in [project] + [b for b in batch if b != project]]
        libs = [d for d in libs if d in world.folders()]
        folders = libs[:1] if libs and libs[0] == f"{SP}/{project}.libs" else []
        folders += SYSTEM + [origin] + [d for d in libs if d not in folders] + world.walk(origin)
        # ... and last, a module of this install by its base name: the plan loads it first.
        tail = [path for path, _ in modules if posixpath.basename(path) == needed][:1]
    for folder in folders:
        path = posixpath.normpath(posixpath.join(folder, needed))
        if path in world.needed:
            return path
    return tail[0] if tail else None


def reaches(edges: Mapping[str, set[str]], start: str, goal: str) -> bool:
    seen, todo = set(), [start]
    while todo:
        here = todo.pop()
        if here == goal:
            return True
        if here not in seen:
            seen.add(here)
            todo += edges.get(here, ())
    return False


def check_plan(world: World, modules: list[tuple[str, str]], loaded: list[str], rpath: bool) -> list[str] | None:
    """Plan, then load the plan in a model of the runtime: every NEEDED name must find a
    library loaded before (or one in a cycle with the library). Returns the plan's paths,
    None if a library is missing."""
    files = {path: so(world.needed[path], world.rpath[path]) for path in world.needed}
    state: dict[str, str] = {}
    for path in loaded:  # what the runtime registers: the path, and (2024_0) the base name too
        state[path] = path
        if not rpath and path.startswith("/"):
            state.setdefault(posixpath.basename(path), path)
    try:
        plan = plan_loads(modules, MemoryFS(files), list(state), SYSTEM, rpath_supported=rpath)
    except LibraryNotFoundError as exc:
        owner = next((p for m, p in modules if m == exc.module), exc.project)
        assert exc.library in world.needed[exc.module] and exc.project == owner
        assert len(set(exc.searched)) == len(exc.searched)  # each place once
        assert model_find(world, exc.library, exc.module, owner, state, rpath, modules) is None, exc
        return None
    got = paths(plan)
    assert len(got) == len(set(got)) and not set(got) & set(loaded)  # each library once, none loaded again
    owners = dict(modules)
    assert {path for path, _ in modules} - set(loaded) <= set(got)  # every module is loaded
    assert all(lib.project == owners[lib.path] for lib in plan if lib.path in owners)
    edges: dict[str, set[str]] = {}
    for lib in plan:
        for needed in world.needed[lib.path]:
            found = model_find(world, needed, lib.path, lib.project, state, rpath, modules)
            assert found is not None, f"{lib.path} needs {needed}: the runtime finds nothing"
            edges.setdefault(lib.path, set()).add(found)
        state[lib.path] = lib.path
        if not rpath:
            state.setdefault(posixpath.basename(lib.path), lib.path)
    if not rpath and len({posixpath.basename(path) for path in world.needed}) < len(world.needed):
        # 2024_0, two files of one base name: the runtime takes the first loaded by that name,
        # though the plan may have found the other one (a.so needing a.so elsewhere, which
        # needs a third a.so: the runtime links the first to the third, the plan loads all).
        return got
    for lib in plan:
        for found in edges.get(lib.path, ()):
            assert found in state, f"{lib.path} needs {found}, which is not planned"
            later = got.index(found) > got.index(lib.path) if found in got else False
            assert not later or reaches(edges, found, lib.path), f"{found} after {lib.path}, which needs it"
    wanted = {path for path, _ in modules} | {f for lib in plan for f in edges.get(lib.path, ())}
    assert set(got) <= wanted  # nothing planned that nothing needs
    return got


@settings(max_examples=300, deadline=None)
@given(gen_files, st.booleans(), st.data())
def test_plans_load_what_the_runtime_finds_dependencies_first(files: list, rpath: bool, data: st.DataObject) -> None:
    # Random NEEDED graphs (cycles, self-references, diamonds, missing and absolute names,
    # RPATH entries with $ORIGIN, '..' and ':') over package folders, .libs, /usr/lib and
    # site-packages, some libraries loaded: each plan, loaded in a model of the runtime, finds
    # every NEEDED name already loaded (a cycle is broken where the plan met it first), loads
    # nothing twice and nothing unneeded; a refusal names a library the model finds nowhere;
    # the modules' order does not change the outcome.
    world = World({posixpath.join(d, n): tuple(needed) for d, n, needed, _ in files},
                  {posixpath.join(d, n): tuple(r) for d, n, _, r in files})
    installed = [(path, FOLDERS[posixpath.dirname(path)]) for path in world.needed
                 if FOLDERS[posixpath.dirname(path)] is not None]
    modules = data.draw(st.permutations(installed))
    modules = modules[: data.draw(st.integers(min(1, len(modules)), len(modules)))]
    loaded = data.draw(st.lists(st.sampled_from(sorted(world.needed) + ["liba.so", "sub/libc.so"]), unique=True,
                                max_size=2))
    got = check_plan(world, modules, loaded, rpath)
    again = check_plan(world, data.draw(st.permutations(modules)), loaded, rpath)
    if rpath:
        assert (got is None) == (again is None) and sorted(got or ()) == sorted(again or ())
    elif len({posixpath.basename(path) for path in world.needed}) == len(world.needed):
        # 2024_0 finds the first library loaded by a name by that name: where two files share
        # one, which is found first (and whether what it needs is there) depends on the order.
        assert (got is None) == (again is None)
