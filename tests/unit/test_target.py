"""Platform tags from given inputs, for every Pyodide release we support."""

from __future__ import annotations

import pytest

from pyemscripten.errors import UnsupportedRuntimeError
from pyemscripten.target import PlatformTag, RuntimeInputs, Target, platform_from_inputs

# (Pyodide, Python, PYEMSCRIPTEN_PLATFORM_VERSION, PYODIDE_ABI_VERSION, Emscripten, expected)
RUNTIMES = [
    ("0.27.7", "3.12.7", None, "2024_0", "3.1.58", "pyemscripten_2024_0_wasm32"),
    ("0.29.5", "3.13.2", "2025_0", "2025_0", "4.0.9", "pyemscripten_2025_0_wasm32"),
    ("314.0.7", "3.14.2", "2026_0", "2026_0", "5.0.3", "pyemscripten_2026_0_wasm32"),
    ("315.0.0a2", "3.15.0rc1", "2026_5", "2026_5", "6.0.5", "pyemscripten_2026_5_wasm32"),
]


@pytest.mark.parametrize("pyodide,python,plat,abi,emsdk,expected", RUNTIMES, ids=[r[0] for r in RUNTIMES])
def test_platform_of_each_runtime(pyodide: str, python: str, plat: str | None, abi: str, emsdk: str, expected: str) -> None:
    inputs = RuntimeInputs(python, plat, abi, emsdk)
    assert str(platform_from_inputs(inputs)) == expected
    # Without either config variable, the Emscripten version still decides.
    assert str(platform_from_inputs(RuntimeInputs(python, None, None, emsdk))) == expected
    target = Target.from_inputs(inputs)
    tags = target.tag_strings
    cp = "cp" + "".join(python.split(".")[:2])
    assert tags[0] == f"{cp}-{cp}-{expected}"
    assert "py3-none-any" in tags
    assert f"{cp}-abi3-{expected}" in tags
    assert f"{cp}-{cp}-{PlatformTag.parse(expected).legacy}" in tags
    others = {t.split("-")[2] for t in tags} - {expected, PlatformTag.parse(expected).legacy, "any"}
    assert others == set(), others


def test_exact_match_only() -> None:
    target = Target.for_platform("pyemscripten_2026_0_wasm32", "3.14")
    for tag in ["cp314-cp314-pyemscripten_2024_0_wasm32", "cp314-cp314-pyemscripten_2026_5_wasm32",
                "cp314-cp314-manylinux_2_17_x86_64", "cp314-cp314-emscripten_5_0_3_wasm32"]:
        assert tag not in target.tag_strings
    assert target.tag_strings.index("cp314-cp314-pyemscripten_2026_0_wasm32") < target.tag_strings.index(
        "cp314-cp314-pyodide_2026_0_wasm32") < target.tag_strings.index("py3-none-any")


def test_marker_environment_is_emscripten() -> None:
    env = Target.for_platform("pyemscripten_2026_0_wasm32", "3.14.2").marker_environment
    assert env["sys_platform"] == "emscripten" and env["platform_machine"] == "wasm32"
    assert env["python_version"] == "3.14" and env["python_full_version"] == "3.14.2"


@pytest.mark.parametrize("bad", ["manylinux_2_17_x86_64", "pyemscripten_26_0_wasm32", "", "2026"])
def test_bad_platform_names(bad: str) -> None:
    with pytest.raises(UnsupportedRuntimeError) as info:
        PlatformTag.parse(bad)
    assert repr(bad) in str(info.value)


def test_unknown_runtime_is_explained() -> None:
    with pytest.raises(UnsupportedRuntimeError) as info:
        platform_from_inputs(RuntimeInputs("3.11.0", None, None, "1.2.3"))
    assert "1.2.3" in str(info.value)


def test_the_tags_name_the_abi_without_asking_this_interpreter(monkeypatch: pytest.MonkeyPatch) -> None:
    import sysconfig

    def refuse(*args: object) -> None:
        raise AssertionError("the target's tags must not come from this interpreter's build variables")

    monkeypatch.setattr(sysconfig, "get_config_var", refuse)
    monkeypatch.setattr(sysconfig, "get_config_vars", refuse)
    tags = Target.for_platform("pyemscripten_2026_0_wasm32", "3.14").tag_strings
    assert tags[:3] == ["cp314-cp314-pyemscripten_2026_0_wasm32", "cp314-cp314-pyodide_2026_0_wasm32",
                        "cp314-abi3-pyemscripten_2026_0_wasm32"]
    assert not [t for t in tags if t.split("-")[1] not in ("cp314", "abi3", "none")]


@pytest.mark.parametrize("version,expected", [
    ("3.14.2 (main, Sep 14 2026, 03:03:51) [Clang 23.0.0git]", "3.14.2"),
    ("3.15.0rc1 (main, Aug  4 2026, 16:25:20) [Clang 24.0.0git]", "3.15.0rc1"),
    ("3.14 (main) [Clang]", "3.14.0"),
    ("3.14.0+ (heads/main:abc) [GCC]", "3.14.0+"),
])
def test_python_version_as_platform_reads_it(monkeypatch: pytest.MonkeyPatch, version: str, expected: str) -> None:
    import platform
    import sys

    from pyemscripten.target import _python_version

    monkeypatch.setattr(sys, "version", version)
    assert _python_version() == expected
    platform._sys_version_cache.clear()
    try:
        assert platform.python_version() == expected
    finally:
        platform._sys_version_cache.clear()


def test_the_runtime_marker_environment_is_packagings() -> None:
    from packaging.markers import default_environment

    from pyemscripten.target import _runtime_marker_environment

    assert _runtime_marker_environment() == default_environment()
