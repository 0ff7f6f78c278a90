"""Resolution against the specs' semantics where the cases as data do not reach: extras
(nested, combined in markers, PEP 685 spellings, asked twice, asking for the project's own),
markers with the runtimes' real values, pre-releases (PEP 440 as packaging reads it) and
yanked files (PEP 592)."""

from __future__ import annotations

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from pyemscripten import errors

from .fake_index import FakeIndex
from .test_resolution import run


def chosen(request: list[str], index: FakeIndex, **options: object) -> dict[str, str]:
    return {d.name: str(d.version) for d in run(index, request, **options).dists}


def test_an_extra_of_a_dependency_may_ask_for_an_extra_of_its_own() -> None:
    index = FakeIndex({"app": {"1.0": {"requires": ["web[fast]"]}},
                       "web": {"1.0": {"extras": ["fast"], "requires": ["speed[turbo]; extra == 'fast'"]}},
                       "speed": {"1.0": {"extras": ["turbo"], "requires": ["rocket>=2; extra == 'turbo'"]}},
                       "rocket": {"1.0": {}, "2.0": {}}})
    result = run(index, ["app"])
    assert {d.name: str(d.version) for d in result.dists} == {"app": "1.0", "web": "1.0", "speed": "1.0", "rocket": "2.0"}
    assert result.missing_extras == ()


def test_extra_markers_combined_with_others_are_evaluated_for_the_runtime() -> None:
    requires = ["p1; extra == 'x' and sys_platform == 'emscripten'", "p2; extra == 'x' and sys_platform == 'win32'",
                "p3; extra == 'y' or extra == 'x'", "p4; (extra == 'x' or extra == 'y') and platform_machine == 'wasm32'",
                "p5; extra == 'z' or python_version >= '3'",  # true without any extra: the base's
                "p6; platform_system == 'Emscripten' and platform_release >= '5' and 'x' == extra",
                "p7; extra == 'x' and implementation_name != 'cpython'"]
    index = FakeIndex({"a": {"1.0": {"extras": ["x", "y"], "requires": requires}},
                       **{f"p{i}": {"1.0": {}} for i in range(1, 8)}})
    for request, expected in ((["a"], {"p5"}), (["a[x]"], {"p1", "p3", "p4", "p5", "p6"}), (["a[y]"], {"p3", "p4", "p5"}),
                              (["a[x,y]"], {"p1", "p3", "p4", "p5", "p6"})):
        assert set(chosen(request, index)) == {"a"} | expected, request


@pytest.mark.parametrize("asked,provided,marker", [("Foo_Bar", "foo-bar", "foo.bar"), ("foo-bar", "Foo.Bar", "FOO_BAR"),
                                                   ("FOO.bar", "foo__bar", "Foo-Bar")])
def test_extra_names_are_compared_normalized(asked: str, provided: str, marker: str) -> None:
    # PEP 685: in the request, in Provides-Extra and in markers alike; no "does not provide".
    index = FakeIndex({"top": {"1.0": {"requires": [f"a[{asked}]"]}},
                       "a": {"1.0": {"extras": [provided], "requires": [f"b; extra == '{marker}'"]}}, "b": {"1.0": {}}})
    for request, expected in (([f"a[{asked}]"], {"a", "b"}), (["top"], {"top", "a", "b"})):
        result = run(index, request)
        assert {d.name for d in result.dists} == expected
        assert result.missing_extras == ()


def test_a_project_asked_for_with_different_extras_gets_their_union() -> None:
    index = FakeIndex({"a": {"2.0": {"extras": ["x", "y"], "requires": ["bx; extra == 'x'", "ghost; extra == 'y'"]},
                             "1.0": {"extras": ["x", "y"], "requires": ["bx; extra == 'x'", "by; extra == 'y'"]}},
                       "bx": {"1.0": {}}, "by": {"1.0": {}},
                       "left": {"1.0": {"requires": ["a[x]"]}}, "right": {"1.0": {"requires": ["a[y]"]}}})
    both = {"a": "1.0", "bx": "1.0", "by": "1.0"}  # one version of a for both (2.0's [y] needs what no index has)
    assert chosen(["a[x]", "a[y]"], index) == both
    assert chosen(["left", "right"], index) == {**both, "left": "1.0", "right": "1.0"}
    assert chosen(["a[x]", "right"], index) == {**both, "right": "1.0"}
    assert chosen(["a[x]"], index) == {"a": "2.0", "bx": "1.0"}


def test_an_extra_may_ask_for_other_extras_of_its_own_project() -> None:
    index = FakeIndex({"pkg": {v: {"extras": ["a", "b", "all"], "requires": ["pa; extra == 'a'", "pb; extra == 'b'",
                                                                             f"pkg[a,b]=={v}; extra == 'all'"]}
                               for v in ("1.0", "2.0")},
                       "pa": {"1.0": {}}, "pb": {"1.0": {}}})
    result = run(index, ["pkg[all]"])
    assert {d.name: str(d.version) for d in result.dists} == {"pkg": "2.0", "pa": "1.0", "pb": "1.0"}
    assert result.missing_extras == ()
    assert chosen(["pkg[all]<2"], index) == {"pkg": "1.0", "pa": "1.0", "pb": "1.0"}


@pytest.mark.parametrize("marker,true", [
    ("sys_platform == 'emscripten'", True), ("sys_platform == 'linux'", False),
    ("platform_system == 'Emscripten'", True), ("platform_system == 'Linux'", False),
    ("platform_machine == 'wasm32'", True), ("platform_machine == 'x86_64'", False),
    ("platform_release == '5.0.3'", True), ("platform_release < '5'", False),
    ("implementation_name == 'cpython'", True), ("implementation_name == 'pypy'", False),
    ("python_full_version == '3.14.2'", True), ("python_full_version < '3.14.2'", False),
    ("os_name == 'nt'", False), ("platform_version == '#1'", True),
])
def test_markers_take_the_runtimes_values_on_a_requirement_and_a_dependency(marker: str, true: bool) -> None:
    # The values Pyodide 314.0.7 gives (platform.uname(), sys.implementation), not the host's.
    index = FakeIndex({"a": {"1.0": {"requires": [f"b; {marker}"]}}, "b": {"1.0": {}}})
    assert ("b" in chosen(["a"], index)) is true
    assert ("b" in chosen([f"b; {marker}"], index)) is true


@pytest.mark.parametrize("requirement", ["a", "a>=0.5", "a<2", "a!=2.0b1", "a>1.0", "a==2.*", "a>=1.0b1", "a~=2.0b1",
                                         "a<2.0b2", "a==2.0b1"])
def test_a_pre_release_is_chosen_as_packaging_filters_versions(requirement: str) -> None:
    # Only where a specifier names one, or where nothing else fits (a>1.0, a==2.*).
    versions = ["0.5", "1.0", "2.0b1"]
    expected = max(Requirement(requirement).specifier.filter(versions), key=Version)
    assert chosen([requirement], FakeIndex({"a": {v: {} for v in versions}})) == {"a": expected}


def test_a_pre_release_named_by_any_requirement_on_a_project_is_allowed_for_it_only() -> None:
    spec = {"extras": ["x"], "requires": ["b", "c; extra == 'x'"]}
    index = FakeIndex({"a": {"1.0": spec, "2.0b1": spec}, "b": {"1.0": {}, "2.0b1": {}}, "c": {"1.0": {}},
                       "top": {"1.0": {"requires": ["a>=2.0b1"]}}})
    assert chosen(["a", "top"], index) == {"a": "2.0b1", "b": "1.0", "top": "1.0"}  # not b's
    assert chosen(["a[x]>=2.0b1", "a"], index) == {"a": "2.0b1", "b": "1.0", "c": "1.0"}
    assert chosen(["a", "a[x]>=2.0b1"], index) == {"a": "2.0b1", "b": "1.0", "c": "1.0"}
    assert chosen(["a[x]"], index) == {"a": "1.0", "b": "1.0", "c": "1.0"}


@pytest.mark.parametrize("requirement,constraint,expected", [
    ("a", None, "1.0"), ("a==2.0", None, "2.0"), ("a===2.0", None, "2.0"), ("a==2.0,>=1", None, "2.0"),
    ("a", "a==2.0", "2.0"), ("top", None, "2.0"),  # pinned by a constraint, by a dependency
    ("a>=2.0", None, None), ("a==2.*", None, None), ("a~=2.0", None, None),  # no exact pin: nothing fits
])
def test_a_yanked_file_is_taken_only_under_an_exact_pin(requirement: str, constraint: str | None,
                                                        expected: str | None) -> None:
    index = FakeIndex({"a": {"1.0": {}, "2.0": {"yanked": "bad"}}, "top": {"1.0": {"requires": ["a==2.0"]}}})
    constraints = (constraint,) if constraint else ()
    if expected is None:
        with pytest.raises(errors.ResolutionImpossibleError, match=r"2\.0 \(yanked\)"):
            run(index, [requirement], constraints=constraints)
    else:
        assert chosen([requirement], index, constraints=constraints)["a"] == expected
