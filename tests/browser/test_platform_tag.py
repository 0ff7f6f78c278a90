"""PEP 783 platform tags as each real runtime reports them (Pyodide in Chromium)."""

from __future__ import annotations

import pytest

from tests.support.browser import RUNTIMES

# npm version -> (platform version, Python major.minor); see shared/notes/platform.md.
EXPECTED = {
    "0.27.7": ("2024_0", (3, 12)),
    "0.27.8": ("2024_0", (3, 12)),
    "0.29.5": ("2025_0", (3, 13)),
    "314.0.7": ("2026_0", (3, 14)),
    "314.0.8": ("2026_0", (3, 14)),
    "315.0.0-alpha.2": ("2026_5", (3, 15)),
}

PROBE = """
try:
    from pyemscripten import platform_tag
except ImportError:  # until the package root exports it
    from pyemscripten.target import platform_tag
import sys
from pyemscripten.target import compatible_tags_for_runtime

{"tag": str(platform_tag()), "tags": compatible_tags_for_runtime(),
 "python": list(sys.version_info[:2])}
"""


def test_every_runtime_has_an_expectation() -> None:
    assert set(EXPECTED) == set(RUNTIMES)


@pytest.mark.parametrize("version", RUNTIMES)
def test_platform_tag_and_compatible_tags(shared_pyodide, version: str) -> None:
    platform, python = EXPECTED[version]
    result = shared_pyodide(version).run(PROBE)

    assert result["python"] == list(python)
    assert result["tag"] == f"pyemscripten_{platform}_wasm32"

    tags = result["tags"]
    cp = f"cp{python[0]}{python[1]}"
    assert tags[0] == f"{cp}-{cp}-pyemscripten_{platform}_wasm32"
    assert "py3-none-any" in tags
    # One platform version per runtime: its PEP 783 name, the legacy pyodide_ alias, any.
    allowed = {"any", f"pyemscripten_{platform}_wasm32", f"pyodide_{platform}_wasm32"}
    assert {tag.split("-")[2] for tag in tags} <= allowed


# The build variables imported by pyemscripten (one compile of their source) against the same
# module imported as sysconfig imports it, in the same page: the module must be the same.
BUILD_VARIABLES = """
import builtins, importlib, sys, sysconfig
from pyemscripten.target import import_build_variables

name = sysconfig._get_sysconfigdata_name()
compiles = []
real_compile = builtins.compile

def counting_compile(source, filename, *args, **kwargs):
    if str(filename).endswith(name + ".py"):
        compiles.append(filename)
    return real_compile(source, filename, *args, **kwargs)

def describe(module):
    spec = module.__spec__
    return {"file": module.__file__, "cached": getattr(module, "__cached__", None), "package": module.__package__,
            "spec": [spec.name, spec.origin, spec.cached, spec.has_location, spec.parent,
                     spec.submodule_search_locations],
            "loader": type(module.__loader__).__name__, "keys": sorted(vars(module)),
            "vars": module.build_time_vars}

kept = sys.modules.pop(name, None)
builtins.compile = counting_compile
try:
    normal = importlib.import_module(name)
    normal_compiles = len(compiles)
    del sys.modules[name]
    compiles.clear()
    import_build_variables()
    ours = sys.modules.get(name)
    ours_compiles = len(compiles)
    import_build_variables()  # imported already: nothing to do
    again = len(compiles) - ours_compiles
finally:
    builtins.compile = real_compile
    if kept is not None:
        sys.modules[name] = kept
{"normal": describe(normal), "ours": describe(ours) if ours else None,
 "same_loader": ours is not None and ours.__loader__ is normal.__loader__,
 "compiles": [normal_compiles, ours_compiles, again]}
"""


@pytest.mark.parametrize("version", RUNTIMES)
def test_build_variables_imported_with_one_compile(shared_pyodide, version: str) -> None:
    result = shared_pyodide(version).run(BUILD_VARIABLES)
    normal_compiles, ours_compiles, again = result["compiles"]
    assert result["ours"] == result["normal"]
    assert result["same_loader"]
    assert result["ours"]["file"].endswith(".zip/" + result["ours"]["file"].rsplit("/", 1)[-1])
    assert ours_compiles == 1 and again == 0
    # If this fails, zipimport compiles a source once again and import_build_variables can go.
    assert normal_compiles == 2


# What an install reads off the interpreter (its target and scheme) against sysconfig and
# packaging asked directly, in the same page; and none of it imports or compiles the build
# variables, nor asks sysconfig for its config variables (in a page, 9-11 ms of compiling).
READ_WITHOUT_BUILD_VARIABLES = """
import builtins, sys, sysconfig
from packaging.markers import default_environment
from pyemscripten import installation
from pyemscripten.target import build_variables, current_target

NAMES = ("PYEMSCRIPTEN_PLATFORM_VERSION", "PYODIDE_ABI_VERSION")
name = sysconfig._get_sysconfigdata_name()
compiles, asked = [], []
real_compile, real_vars = builtins.compile, sysconfig.get_config_vars

def counting_compile(source, filename, *args, **kwargs):
    if str(filename).endswith(name + ".py"):
        compiles.append(filename)
    return real_compile(source, filename, *args, **kwargs)

def counting_vars(*args):
    asked.append(args)
    return real_vars(*args)

kept = sys.modules.pop(name, None)
builtins.compile, sysconfig.get_config_vars = counting_compile, counting_vars
try:
    target = current_target()
    scheme = installation.default_scheme()
    variables = build_variables(NAMES)
    imported = name in sys.modules
finally:
    builtins.compile, sysconfig.get_config_vars = real_compile, real_vars
    sys.modules.pop(name, None)
    if kept is not None:
        sys.modules[name] = kept
paths = {k: "/" + v.lstrip("/") for k, v in sysconfig.get_paths().items()}
{"compiles": len(compiles), "asked": len(asked), "imported": imported,
 "variables": variables, "sysconfig": {n: sysconfig.get_config_var(n) for n in NAMES},
 "scheme": [scheme.purelib, scheme.platlib, scheme.scripts, scheme.data],
 "paths": [paths["purelib"], paths["platlib"], paths["scripts"], paths["data"]],
 "environment": dict(target.marker_environment), "packaging": default_environment(),
 "python": target.python_version, "platform_python": __import__("platform").python_version()}
"""


@pytest.mark.parametrize("version", RUNTIMES)
def test_the_interpreter_is_read_without_its_build_variables(shared_pyodide, version: str) -> None:
    result = shared_pyodide(version).run(READ_WITHOUT_BUILD_VARIABLES)
    assert result["variables"] == result["sysconfig"]
    assert result["scheme"] == result["paths"]
    assert result["environment"] == result["packaging"]
    assert result["python"] == result["platform_python"]
    if EXPECTED[version][1] >= (3, 14):
        assert (result["compiles"], result["asked"], result["imported"]) == (0, 0, False)
    else:
        # Before 3.14 sysconfig lets the build variables overwrite the scheme's values, and
        # these runtimes' do when PYODIDE=1: the paths are sysconfig's, the module compiled once.
        assert (result["compiles"], result["imported"]) == (1, True) and result["asked"]
