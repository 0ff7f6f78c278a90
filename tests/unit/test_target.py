"""Platform tags from given inputs, for every Pyodide release we support."""

from __future__ import annotations

import re
import time

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from packaging.version import Version

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


@pytest.mark.parametrize("platform,python,release", [("2024_0", "3.12.7", "3.1.58"), ("2025_0", "3.13.2", "4.0.9"),
                                                     ("2026_0", "3.14.2", "5.0.3"), ("2026_5", "3.15.0rc1", "6.0.5")])
def test_a_targets_marker_environment_is_the_runtimes_own(platform: str, python: str, release: str) -> None:
    # The values platform.uname(), sys.implementation and platform.python_version() give in Pyodide 0.27.7, 0.29.5,
    # 314.0.7 and 315.0.0a2 (read in each, in Node): a lock made here evaluates markers as the runtime would.
    assert dict(Target.for_platform(platform, python).marker_environment) == {
        "implementation_name": "cpython", "implementation_version": python, "os_name": "posix",
        "platform_machine": "wasm32", "platform_release": release, "platform_system": "Emscripten",
        "platform_version": "#1", "python_full_version": python, "platform_python_implementation": "CPython",
        "python_version": python.rsplit(".", 1)[0], "sys_platform": "emscripten"}


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


# --- properties: the tag list against the spec's model ---------------------------------------

platforms = st.builds(PlatformTag, st.integers(2024, 2030), st.integers(0, 12))
pythons = st.builds(lambda minor, patch, pre: f"3.{minor}" + ("" if patch is None else f".{patch}{pre}"),
                    st.integers(8, 16), st.none() | st.integers(0, 12), st.sampled_from(["", "", "rc1", "a2"]))


def _accepted(tag: tuple[str, str, str], platform: PlatformTag, minor: int) -> bool:
    """The model (the packaging spec's "Platform compatibility tags", PEP 425, PEP 783): a
    CPython 3.<minor> runtime takes its own ABI, abi3 built for its own or an older 3.x (abi3
    began with 3.2), no ABI for its own interpreter, and pure wheels for Python 3 up to its
    minor; binary ones only for its exact platform, in either spelling."""
    interpreter, abi, plat = tag
    cp = f"cp3{minor}"
    pure = abi == "none" and (interpreter == "py3" or any(interpreter == f"py3{m}" for m in range(minor + 1)))
    if plat == "any":
        return pure or (interpreter, abi) == (cp, "none")
    if plat not in (str(platform), platform.legacy):
        return False
    older_abi3 = abi == "abi3" and any(interpreter == f"cp3{m}" for m in range(2, minor + 1))
    return pure or older_abi3 or (interpreter == cp and abi in (cp, "none"))


def _tags_for(platform: PlatformTag, minor: int) -> st.SearchStrategy[tuple[str, str, str]]:
    near = [m for m in (minor - 1, minor, minor + 1, 2, 1, 0) if m >= 0]
    interpreters = [f"cp3{m}" for m in near] + [f"py3{m}" for m in near] + ["py3", "py2", "py30", f"pp3{minor}",
                                                                              f"cp2{minor}", "cp3", "py"]
    abis = [f"cp3{m}" for m in near] + [f"cp3{minor}t", f"cp3{minor}d", "abi3", "none", "abi4", f"pypy3{minor}_pp73"]
    others = [PlatformTag(platform.year, platform.patch + 1), PlatformTag(platform.year - 1, platform.patch),
              PlatformTag(platform.year + 1, platform.patch), PlatformTag(platform.year, max(platform.patch - 1, 0))]
    plats = [str(platform), platform.legacy, "any"] + [str(o) for o in others] + [o.legacy for o in others] + [
        f"emscripten_{platform.year - 2020}_0_{platform.patch}_wasm32", "emscripten_3_1_58_wasm32",
        "wasi_0_0_0_wasm32", "manylinux_2_17_x86_64", "linux_x86_64", "pyemscripten_wasm32",
        f"pyemscripten_{platform.version}_wasm64", f"pyemscripten_{platform.year}_{platform.patch}0_wasm32"]
    return st.tuples(st.sampled_from(interpreters), st.sampled_from(abis), st.sampled_from(plats))


@settings(max_examples=60, deadline=None)
@given(platforms, pythons, st.data())
def test_the_tags_are_those_the_spec_accepts_most_specific_first(platform: PlatformTag, python: str,
                                                                   data: st.DataObject) -> None:
    target = Target.for_platform(platform, python)
    minor = int(python.split(".")[1])
    tags = [(t.interpreter, t.abi, t.platform) for t in target.tags]
    assert len(set(tags)) == len(tags)  # every tag listed once
    assert all(_accepted(t, platform, minor) for t in tags)
    for tag in data.draw(st.lists(_tags_for(platform, minor), min_size=1, max_size=20)):
        assert (tag in tags) == _accepted(tag, platform, minor), tag
    # Every binary tag before every pure one; this interpreter's own ABI first; abi3 built for
    # a newer Python before abi3 built for an older one; the PEP 783 spelling right before the
    # legacy spelling of the same tag.
    cp = f"cp3{minor}"
    assert tags[0] == (cp, cp, str(platform)) and tags[-1][2] == "any"
    first_any = [t[2] for t in tags].index("any")
    assert all(t[2] == "any" for t in tags[first_any:])
    assert tags.index((cp, cp, platform.legacy)) < tags.index((cp, "abi3", str(platform)))
    abi3 = [int(t[0][3:]) for t in tags if t[1] == "abi3" and t[2] == str(platform)]
    assert abi3 == list(range(minor, 1, -1))
    for i, (interpreter, abi, plat) in enumerate(tags):
        if plat == str(platform):
            assert tags[i + 1] == (interpreter, abi, platform.legacy)
    assert tags.index(("py3", "none", str(platform))) < tags.index(("py3", "none", "any"))
    assert tags.index((cp, "none", "any")) < tags.index(("py3", "none", "any"))


HUGE_NUMBER = "9" * 4400  # more digits than int() converts


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.builds(str, platforms), st.builds(lambda p: p.legacy, platforms),
                 st.builds(lambda p: p.version, platforms),
                 st.from_regex(r"(pyemscripten|pyodide|emscripten)?_?[0-9١²]{0,5}_[0-9١²]{0,3}(_wasm32)?\n?",
                               fullmatch=True),
                 st.text(max_size=30)))
@example(f"pyemscripten_2026_{HUGE_NUMBER}_wasm32")
@example("pyemscripten_٢٠٢٦_0_wasm32")
@example("2026_0\n")
def test_a_platform_parses_to_what_it_names_or_is_refused(text: str) -> None:
    # Never another platform than the one written (a runtime takes exactly its own), and
    # never an error of another kind (--platform on the command line, a lock's platform).
    try:
        platform = PlatformTag.parse(text)
    except UnsupportedRuntimeError as exc:
        assert repr(text) in str(exc)
        return
    numbers = re.fullmatch(r"(?:pyemscripten_|pyodide_)?([0-9]{4})_([0-9]+)(?:_wasm32)?", text)
    assert numbers is not None, text  # ASCII digits, nothing around them
    assert (int(numbers[1]), int(numbers[2])) == (platform.year, platform.patch)
    assert text in (str(platform), platform.legacy, platform.version)  # not changed, leading zeros neither


@pytest.mark.parametrize("text, meant", [("pyemscripten_2026_00_wasm32", "pyemscripten_2026_0_wasm32"),
                                         ("pyemscripten_02026_0_wasm32", "pyemscripten_2026_0_wasm32"),
                                         ("pyodide_2026_01_wasm32", "pyemscripten_2026_1_wasm32"),
                                         ("2026_00", "pyemscripten_2026_0_wasm32")])
def test_a_platform_with_leading_zeros_is_refused_as_the_wheel_filter_refuses_it(text: str, meant: str) -> None:
    # PEP 783's tag is the exact string pyemscripten_{PYEMSCRIPTEN_PLATFORM_VERSION}_wasm32: a
    # 2026_0 runtime takes no wheel tagged 2026_00. parse read 2026_00 as 2026_0, so a lock
    # made for --platform pyemscripten_2026_00_wasm32 was one for 2026_0 and its wheels.
    with pytest.raises(UnsupportedRuntimeError, match=f"did you mean {meant}"):
        PlatformTag.parse(text)
    assert "cp314-cp314-pyemscripten_2026_00_wasm32" not in Target.for_platform("2026_0", "3.14").tag_strings


@pytest.mark.parametrize("text", ["pyemscripten_2026_0", "2026_0_wasm32", "pyodide_2026_1"])
def test_a_platform_without_leading_zeros_is_not_said_to_have_them(text: str) -> None:
    with pytest.raises(UnsupportedRuntimeError) as info:
        PlatformTag.parse(text)
    assert "leading zeros" not in str(info.value) and "expected e.g. pyemscripten_2026_0_wasm32" in str(info.value)


def test_a_long_run_of_zeros_is_refused_at_once() -> None:
    # A lock's [tool.pyemscripten] platform is parsed too (text from the network): zeros
    # before a number of 4301 digits were split at every place in turn (30,000: about 4 s).
    started = time.perf_counter()
    for text in ("2026_" + "0" * 30_000 + "1" * 4301, "pyemscripten_2026_" + "0" * 30_000 + "1" * 4301 + "_wasm32"):
        with pytest.raises(UnsupportedRuntimeError):
            PlatformTag.parse(text)
    assert time.perf_counter() - started < 0.5


@settings(max_examples=100, deadline=None)
@given(st.sampled_from([None, "", "2026_0", "2025_0", "pyemscripten_2026_5_wasm32", "26_0"]),
       st.sampled_from([None, "", "2024_0", "2026_0", "pyodide_2025_0_wasm32", "x"]),
       st.sampled_from([None, "3.1.58", "4.0.9", "5.0.3", "6.0.5", "3.1.45"]))
def test_the_platform_comes_from_the_first_input_that_names_one(plat: str | None, abi: str | None,
                                                                emsdk: str | None) -> None:
    # PYEMSCRIPTEN_PLATFORM_VERSION, then its legacy name, then the Emscripten release.
    by_emscripten = {"3.1.58": "2024_0", "4.0.9": "2025_0", "5.0.3": "2026_0", "6.0.5": "2026_5"}
    given = plat or abi or by_emscripten.get(emsdk or "")
    inputs = RuntimeInputs("3.14.2", plat, abi, emsdk)
    if given is None or given in ("26_0", "x"):
        with pytest.raises(UnsupportedRuntimeError):
            platform_from_inputs(inputs)
    else:
        assert platform_from_inputs(inputs) == PlatformTag.parse(given)


@settings(max_examples=150, deadline=None)
@given(st.one_of(pythons, st.from_regex(r"[0-9]{1,2}(\.[0-9]{1,3}){0,3}((a|b|rc)[0-9])?(\.post1|\.dev0|\+local)?",
                                        fullmatch=True), st.text(alphabet="0123456789.rcab+ \n١", max_size=10)))
@example("3.14rc1")  # --python-version 3.14rc1: a ValueError from int("14rc1") in the tag list
@example("3." + HUGE_NUMBER)  # a ValueError from Version()
@example("3.14." + HUGE_NUMBER)
def test_a_python_version_gives_a_target_or_is_refused(python: str) -> None:
    try:
        target = Target.for_platform("pyemscripten_2026_0_wasm32", python)
    except UnsupportedRuntimeError as exc:
        assert repr(python) in str(exc)
        return
    # What was given is a Python release: MAJOR.MINOR, or MAJOR.MINOR.PATCH with a pre-release.
    major, minor = target.python_major_minor
    assert re.fullmatch(r"[0-9]+\.[0-9]+(\.[0-9]+((a|b|rc)[0-9]+)?)?", python)
    assert target.tag_strings[0] == f"cp{major}{minor}-cp{major}{minor}-pyemscripten_2026_0_wasm32"
    full = Version(target.marker_environment["python_full_version"])
    assert len(full.release) == 3 and full.release[:2] == (major, minor)
    assert target.python_release == Version(full.base_version)
