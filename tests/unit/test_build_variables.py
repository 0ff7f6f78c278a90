"""target.import_build_variables: sysconfig's build variables imported from a zip of sources
with one compile, and only where the regular import would take that very file; and
target.build_variables: the two the target needs, read from that file's source where they are
plain string literals, without importing it.

Natively, with the interpreter made to look like Emscripten's and a zip of our own standing
for Pyodide's standard library (the browser test in tests/browser/test_platform_tag.py runs
it on the real runtimes).
"""

from __future__ import annotations

import builtins
import importlib
import importlib.machinery
import py_compile
import sys
import sysconfig
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pyemscripten.target import _plain_strings, build_variables, import_build_variables

NAME = "_pyemscripten_test_sysconfigdata"
SOURCE = "build_time_vars = {'PYEMSCRIPTEN_PLATFORM_VERSION': '2026_0'}\n"


@pytest.fixture
def runtime(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """An Emscripten-looking interpreter whose only path entry is a zip holding NAME.py;
    ``compiles`` lists every compile of that source."""
    archive = tmp_path / "stdlib.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr(NAME + ".py", SOURCE)
    monkeypatch.setattr(sys, "platform", "emscripten")
    monkeypatch.setattr(sysconfig, "_get_sysconfigdata_name", lambda: NAME, raising=False)
    monkeypatch.delenv("_PYTHON_SYSCONFIGDATA_PATH", raising=False)
    monkeypatch.setattr(sys, "path", [str(archive)])
    # Pyodide's finders stand after the path's; pytest's own stands first, which would turn this off.
    monkeypatch.setattr(sys, "meta_path", [importlib.machinery.BuiltinImporter, importlib.machinery.FrozenImporter,
                                           importlib.machinery.PathFinder])
    monkeypatch.setattr(sys, "path_importer_cache", {})
    monkeypatch.delitem(sys.modules, NAME, raising=False)
    importlib.invalidate_caches()
    compiles: list[str] = []
    real = builtins.compile

    def counting(source: Any, filename: Any, *args: Any, **kwargs: Any) -> Any:
        if str(filename).endswith(NAME + ".py"):
            compiles.append(str(filename))
        return real(source, filename, *args, **kwargs)

    monkeypatch.setattr(builtins, "compile", counting)
    yield {"archive": archive, "compiles": compiles, "tmp": tmp_path}
    sys.modules.pop(NAME, None)


def _look_at_path() -> None:
    """What an import before ours leaves: a finder cached for every path entry."""
    importlib.machinery.PathFinder.find_spec("_pyemscripten_no_such_module")


def _describe(module: Any) -> dict[str, Any]:
    spec = module.__spec__
    return {"file": module.__file__, "cached": getattr(module, "__cached__", None), "package": module.__package__,
            "spec": (spec.name, spec.origin, spec.cached, spec.has_location, spec.parent,
                     spec.submodule_search_locations),
            "keys": sorted(vars(module)), "vars": module.build_time_vars}


def test_a_zip_of_sources_is_imported_with_one_compile_as_importlib_would(runtime: dict[str, Any]) -> None:
    _look_at_path()
    normal = importlib.import_module(NAME)
    assert len(runtime["compiles"]) == 2  # why this exists (CPython gh-141276)
    del sys.modules[NAME]
    runtime["compiles"].clear()

    import_build_variables()
    ours = sys.modules[NAME]
    assert len(runtime["compiles"]) == 1
    assert ours is not normal and _describe(ours) == _describe(normal)
    assert ours.__loader__ is normal.__loader__
    import_build_variables()  # imported already: nothing more
    assert len(runtime["compiles"]) == 1


def test_a_path_entry_not_looked_at_yet_is_left_to_importlib(runtime: dict[str, Any]) -> None:
    import_build_variables()  # sys.path_importer_cache is empty
    assert NAME not in sys.modules and runtime["compiles"] == []


def test_an_earlier_folder_with_the_module_wins_as_it_does_for_import(
        runtime: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    folder = runtime["tmp"] / "earlier"
    folder.mkdir()
    (folder / (NAME + ".py")).write_text("build_time_vars = {}\n")
    monkeypatch.setattr(sys, "path", [str(folder), str(runtime["archive"])])
    _look_at_path()
    import_build_variables()
    assert NAME not in sys.modules
    assert importlib.import_module(NAME).__file__ == str(folder / (NAME + ".py"))


@pytest.mark.parametrize("source_too", [True, False])
def test_a_compiled_file_is_left_to_zipimport(runtime: dict[str, Any], source_too: bool) -> None:
    source = runtime["tmp"] / (NAME + ".py")
    source.write_text(SOURCE)
    compiled = py_compile.compile(str(source), cfile=str(runtime["tmp"] / (NAME + ".pyc")))
    if not source_too:
        runtime["archive"].unlink()
        zipfile.ZipFile(runtime["archive"], "w").close()
    with zipfile.ZipFile(runtime["archive"], "a") as z:
        z.write(compiled, NAME + ".pyc")
    _look_at_path()
    import_build_variables()
    assert NAME not in sys.modules


@pytest.mark.parametrize("change", ["sysconfigdata-path", "no-path-finder", "another-finder-first", "not-emscripten",
                                    "odd-entry"])
def test_other_setups_are_left_alone(runtime: dict[str, Any], monkeypatch: pytest.MonkeyPatch, change: str) -> None:
    _look_at_path()
    if change == "sysconfigdata-path":
        monkeypatch.setenv("_PYTHON_SYSCONFIGDATA_PATH", str(runtime["tmp"]))
    elif change == "no-path-finder":
        monkeypatch.setattr(sys, "meta_path", [m for m in sys.meta_path if m is not importlib.machinery.PathFinder])
    elif change == "another-finder-first":
        monkeypatch.setattr(sys, "meta_path", [object(), *sys.meta_path])
    elif change == "not-emscripten":
        monkeypatch.setattr(sys, "platform", "linux")
    else:  # PathFinder skips entries that are not text; so does the function, then goes on
        monkeypatch.setattr(sys, "path", [b"bytes-entry", str(runtime["archive"])])
    import_build_variables()
    assert (NAME in sys.modules) == (change == "odd-entry")


# --- build_variables: the two the target needs, read from the source without running it ---

NAMES = ("PYEMSCRIPTEN_PLATFORM_VERSION", "PYODIDE_ABI_VERSION")


def test_plain_strings_are_read_from_the_source_without_a_compile(runtime: dict[str, Any]) -> None:
    _look_at_path()
    assert build_variables(NAMES) == {"PYEMSCRIPTEN_PLATFORM_VERSION": "2026_0", "PYODIDE_ABI_VERSION": None}
    assert runtime["compiles"] == [] and NAME not in sys.modules


# Shaped like Pyodide's (314.0.7), cut short: f-strings, and the block at the end.
PYODIDE_SHAPED = """# system configuration generated and used by the sysconfig module
import os
PYODIDE_ROOT = os.environ.get("PYODIDE_ROOT", "/root/repo")
build_time_vars = {'ABIFLAGS': '', 'BINDIR': f'{PYODIDE_ROOT}/cpython/installs/python-3.14.2/bin', \
'PYEMSCRIPTEN_PLATFORM_VERSION': '2026_0', 'PYODIDE_ABI_VERSION': '2026_0', 'Py_GIL_DISABLED': 0, \
'prefix': f'{PYODIDE_ROOT}/cpython/installs/python-3.14.2'}
import os
if os.environ.get("PYODIDE", None) == "1":
    build_time_vars["installed_base"] = build_time_vars["prefix"]
    build_time_vars["platbase"] = build_time_vars["prefix"]
"""


@pytest.mark.parametrize("source,expected", [
    ("build_time_vars = {'A': '1', 'B': 'x y'}", {"A": "1", "B": "x y"}),
    ("build_time_vars = {\n 'A' : '1' }", {"A": "1", "B": None}),  # spaces, a line break, the last key
    ("build_time_vars = {'C': '1'}", {"A": None, "B": None}),  # neither there: None, as sysconfig gives
    ("build_time_vars = {'A': '1'}\nx['A'] = '2'", None),  # a second mention could assign it again
    ("build_time_vars = {'A': f'{ROOT}/1'}", None),
    ("build_time_vars = {'A': 1}", None),
    ("build_time_vars = {'A': '1\\'2'}", None),  # an escape
    ("build_time_vars = {'AB': '1'}", None),  # a longer name holding it
    ("build_time_vars = {\"A\": '1'}", None),
    ("build_time_vars = {b'A': '1'}", None),
    ("x = {'A': '1'}\nbuild_time_vars = {}", None),  # not in build_time_vars
    ("{'A': '1'}", None),
])
def test_only_a_single_plain_string_literal_is_read(source: str, expected: dict[str, Any] | None) -> None:
    assert _plain_strings(source, ("A", "B")) == expected


def test_a_source_shaped_like_pyodides() -> None:
    assert _plain_strings(PYODIDE_SHAPED, NAMES) == {"PYEMSCRIPTEN_PLATFORM_VERSION": "2026_0",
                                                     "PYODIDE_ABI_VERSION": "2026_0"}
    assert _plain_strings(PYODIDE_SHAPED, ("prefix",)) is None  # an f-string, and named again below
    assert _plain_strings(PYODIDE_SHAPED, ("Py_GIL_DISABLED",)) is None  # a number


def test_a_source_that_cannot_be_read_is_left_to_sysconfig(
        runtime: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    import zipimport

    _look_at_path()
    finder = sys.path_importer_cache[str(runtime["archive"])]

    def broken(path: str) -> bytes:
        if path.endswith(NAME + ".py"):
            raise zipimport.ZipImportError("bad local file header")
        return zipimport.zipimporter.get_data(finder, path)

    monkeypatch.setattr(finder, "get_data", broken)
    monkeypatch.setattr(sysconfig, "get_config_var", lambda name: f"sysconfig's {name}")
    assert build_variables(NAMES) == {n: f"sysconfig's {n}" for n in NAMES}


def test_anything_else_is_left_to_sysconfig(runtime: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    with zipfile.ZipFile(runtime["archive"], "w") as z:
        z.writestr(NAME + ".py", "V = '2026_0'\nbuild_time_vars = {'PYEMSCRIPTEN_PLATFORM_VERSION': V}\n")
    _look_at_path()
    asked: list[str] = []

    def get_config_var(name: str) -> Any:
        asked.append(name)
        return sys.modules[NAME].build_time_vars.get(name)  # what sysconfig reads, once imported

    monkeypatch.setattr(sysconfig, "get_config_var", get_config_var)
    assert build_variables(NAMES) == {"PYEMSCRIPTEN_PLATFORM_VERSION": "2026_0", "PYODIDE_ABI_VERSION": None}
    assert asked == list(NAMES)
    assert len(runtime["compiles"]) == 1  # imported, with one compile


def test_a_module_sysconfig_imported_already_is_asked_through_sysconfig(
        runtime: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    _look_at_path()
    import_build_variables()
    monkeypatch.setattr(sysconfig, "get_config_var", lambda name: f"sysconfig's {name}")
    assert build_variables(NAMES) == {n: f"sysconfig's {n}" for n in NAMES}
