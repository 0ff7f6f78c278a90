"""Requirements, markers and extras for the target runtime, against a model of the specs.

Generated Requires-Dist lines (markers with and/or/parentheses, version comparisons on the
version variables, string comparisons, ``in``/``not in``, ``===``, ``extra`` spelled in
assorted ways) and a Requires-Python are evaluated twice: by pyemscripten (parse_metadata,
then ``Finder.dependencies`` of the candidate, with or without extras) and by the small
evaluator here, written from PEP 508, PEP 440 and PEP 685 over the generated tree with the
values each of the four runtimes has (docs: /work/shared/notes/platform.md), not the host's.
What must hold:

* a dependency is asked for exactly when its marker is true for the target, with the
  candidate's extras one at a time (or with none: ``extra == ""``), as pip reads them;
* extras spelled differently (``Foo_Bar``, ``foo.bar``) select the same dependencies;
* a Requires-Python that excludes the runtime's Python makes the version need Python,
  nothing else;
* a marker that cannot be evaluated is the package's own error naming the distribution
  (MetadataError, InvalidRequirementError), found when the text is read, never a raw
  exception later;
* the resolver's graph of what needs what (its walk counting and its messages) agrees with
  what a candidate asks for;
* end to end, a dependency whose marker is false is never fetched, and an extra neither
  provided nor named in a marker is said to be missing.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from packaging.requirements import Requirement
from packaging.version import Version

from pyemscripten.candidates import PYTHON, Candidate, Dependency, Finder, KnownData, ResolveOptions
from pyemscripten.distribution import DistributionEntry
from pyemscripten.errors import InvalidRequirementError, MetadataError, NoCompatibleWheelError
from pyemscripten.index_client import IndexClient, RetryPolicy
from pyemscripten.index_pages import IndexFile, ProjectPage
from pyemscripten.metadata import DistMetadata, parse_metadata
from pyemscripten.resolution import _graph, resolve, root_dependencies
from pyemscripten.target import RuntimeInputs, Target
from tests.unit.fake_index import BASE, FakeIndex, no_sleep

FAST = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --- the runtimes, as their own documentation gives them ----------------------------------


@dataclass(frozen=True)
class Runtime:
    platform: str
    python: str  # as a target is given: by a runtime (full) or on the command line (MAJOR.MINOR)
    full: str  # python_full_version
    emscripten: str  # platform_release (uname's release in the runtime: Emscripten's version)
    release: str  # what Requires-Python is compared with: the full version without its pre-release

    @property
    def values(self) -> dict[str, str]:
        return {"python_version": ".".join(self.python.split(".")[:2]), "python_full_version": self.full,
                "implementation_version": self.full, "platform_release": self.emscripten,
                "sys_platform": "emscripten", "platform_system": "Emscripten", "platform_machine": "wasm32",
                "implementation_name": "cpython", "os_name": "posix", "platform_python_implementation": "CPython",
                "platform_version": "#1"}

    def target(self) -> Target:
        return Target.for_platform(f"pyemscripten_{self.platform}_wasm32", self.python)


# The values each runtime reports (platform.uname(), platform.python_version(), os.name,
# sys.platform: Pyodide 0.27.7, 0.29.5, 314.0.7 and 315.0.0-alpha.2 booted in Node, 2026-12).
RUNTIMES = [
    Runtime("2024_0", "3.12", "3.12.7", "3.1.58", "3.12.7"),  # Pyodide 0.27.7
    Runtime("2024_0", "3.12.7", "3.12.7", "3.1.58", "3.12.7"),
    Runtime("2025_0", "3.13", "3.13.2", "4.0.9", "3.13.2"),  # 0.29.5
    Runtime("2025_0", "3.13.2", "3.13.2", "4.0.9", "3.13.2"),
    Runtime("2026_0", "3.14", "3.14.2", "5.0.3", "3.14.2"),  # 314.0.7
    Runtime("2026_0", "3.14.2", "3.14.2", "5.0.3", "3.14.2"),
    Runtime("2026_5", "3.15", "3.15.0", "6.0.5", "3.15.0"),  # a lock for 3.15: the final releases too
    Runtime("2026_5", "3.15.0rc1", "3.15.0rc1", "6.0.5", "3.15.0"),  # 315.0.0-alpha.2
]


@pytest.mark.parametrize("runtime", RUNTIMES, ids=[f"{r.platform}-{r.python}" for r in RUNTIMES])
def test_marker_environment_of_each_runtime(runtime: Runtime) -> None:
    target = runtime.target()
    assert dict(target.marker_environment) == runtime.values
    assert target.python_release == Version(runtime.release)
    # What the runtime reports of itself (packaging's default_environment() there) changes
    # nothing that a marker or Requires-Python compares.
    reported = {**runtime.values, "python_full_version": runtime.full,
                "implementation_version": runtime.full.replace("rc", "c")}
    inputs = RuntimeInputs(runtime.full, runtime.platform, runtime.platform, runtime.emscripten, reported)
    itself = Target.from_inputs(inputs)
    assert itself.python_release == Version(runtime.release) and itself.tags == Target.for_platform(
        f"pyemscripten_{runtime.platform}_wasm32", runtime.full).tags


# --- the model: PEP 440 comparisons and PEP 508 markers, over a generated tree ---------------

VERSION_VARIABLES = ("python_version", "python_full_version", "implementation_version", "platform_release")
STRING_VARIABLES = ("sys_platform", "platform_system", "platform_machine", "implementation_name", "os_name",
                    "platform_python_implementation", "platform_version")
_VERSION = re.compile(r"(\d+(?:\.\d+)*)(?:(a|b|rc)(\d+))?")


class Undefined(Exception):
    """The model's verdict that a comparison has no meaning (the spec says: an error)."""


def _parse(text: str) -> tuple[tuple[int, ...], tuple[int, ...]] | None:
    """(release, pre) of the few version spellings generated here; None for anything else.
    pre is () for a final release, else (phase, number), a < b < rc."""
    m = _VERSION.fullmatch(text)
    if m is None:
        return None
    release = tuple(int(p) for p in m.group(1).split("."))
    pre = () if m.group(2) is None else (("a", "b", "rc").index(m.group(2)), int(m.group(3)))
    return release, pre


def _key(version: tuple[tuple[int, ...], tuple[int, ...]]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    release, pre = version
    return release + (0,) * (6 - len(release)), (pre if pre else (9,))  # a final release after its pre-releases


def _version_op(op: str, item: str, spec: str) -> bool | None:
    """PEP 440's ``item op spec`` (pre-releases allowed, as markers evaluate), or None where
    ``op + spec`` is no version specifier."""
    if op == "===":
        return item.lower() == spec.lower()
    wildcard = spec.endswith(".*")
    parsed_spec = _parse(spec[:-2] if wildcard else spec)
    if parsed_spec is None or op not in ("==", "!=", "<", "<=", ">", ">=", "~=") \
            or (wildcard and op not in ("==", "!=")) or (op == "~=" and len(parsed_spec[0]) < 2):
        return None
    parsed_item = _parse(item)
    if parsed_item is None:
        return False  # not a version: contained in no specifier
    if wildcard:  # a prefix of the release: pre-releases of it match
        prefix = parsed_spec[0]
        equal = (parsed_item[0] + (0,) * len(prefix))[:len(prefix)] == prefix
        return equal if op == "==" else not equal
    a, b = _key(parsed_item), _key(parsed_spec)
    if op == "~=":  # >= spec, and == its release without the last part, .*
        prefix = parsed_spec[0][:-1]
        return a >= b and (parsed_item[0] + (0,) * len(prefix))[:len(prefix)] == prefix
    if op == "<":  # never a pre-release of the very release named, unless that is one
        return a < b and not (not parsed_spec[1] and parsed_item[1] and a[0] == b[0])
    return {"==": a == b, "!=": a != b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()  # PEP 503, which PEP 685 applies to extras


# A marker: ("atom", left, op, right), each side ("var", name) or ("str", text); or
# (and|or, [children], parenthesized).
Marker = tuple


def _atom(env: dict[str, str], left: tuple[str, str], op: str, right: tuple[str, str]) -> bool:
    if left[0] == right[0] == "str":
        raise Undefined("no variable")  # packaging reads the right one as a variable's name
    variable = left[1] if left[0] == "var" else right[1]
    lhs = env[left[1]] if left[0] == "var" else left[1]
    rhs = env[right[1]] if right[0] == "var" else right[1]
    if variable == "extra":
        lhs, rhs = _canonical(lhs), _canonical(rhs)
    if op in ("in", "not in"):
        return (lhs in rhs) == (op == "in")
    if variable in VERSION_VARIABLES:
        verdict = _version_op(op, lhs, rhs)
        if verdict is not None:
            return verdict
    if op in ("==", "!="):
        return (lhs == rhs) == (op == "==")
    raise Undefined(op, variable)  # ~= and === on what is no version: no Python operator either


def evaluate(marker: Marker, env: dict[str, str]) -> bool:
    """The model's value of ``marker``; :class:`Undefined` if any comparison in it is (a
    tool evaluates the whole marker, so an error anywhere is an error)."""
    if marker[0] == "atom":
        return _atom(env, *marker[1:])
    values = [evaluate(child, env) for child in marker[1]]
    return all(values) if marker[0] == "and" else any(values)


def render(marker: Marker) -> str:
    if marker[0] == "atom":
        _, left, op, right = marker
        side = (lambda s: s[1] if s[0] == "var" else f'"{s[1]}"' if '"' not in s[1] else f"'{s[1]}'")
        return f"{side(left)} {op} {side(right)}"
    kind, children, parenthesized = marker
    parts = []
    for child in children:
        text = render(child)
        # "and" binds tighter than "or": an "or" inside an "and" needs its parentheses.
        if child[0] != "atom" and (child[2] or (kind == "and" and child[0] == "or")):
            text = f"({text})"
        parts.append(text)
    return f" {kind} ".join(parts)


# --- generated markers ------------------------------------------------------------------

VERSIONS = ["3", "3.12", "3.13", "3.14", "3.15", "3.14.0", "3.14.1", "3.14.2", "3.14.3", "3.12.7", "3.13.2",
            "3.15.0", "3.15.0rc1", "3.15.0a1", "3.15.0rc2", "5.0.3", "5", "4.0.9", "6.0.5", "3.1.58", "3.1"]
STRINGS = ["emscripten", "Emscripten", "wasm32", "wasm", "cpython", "CPython", "posix", "linux", "#1", "x86_64",
           "Linux", "emscripten wasm32", "pypy", ""]
EXTRAS = ["Foo_Bar", "foo-bar", "foo.bar", "FOO--BAR", "x", "X", "other", ""]

version_atoms = st.one_of(
    st.builds(lambda v, op, value: (("var", v), op, ("str", value)), st.sampled_from(VERSION_VARIABLES),
              st.sampled_from(["==", "!=", "<", "<=", ">", ">=", "~=", "==="]), st.sampled_from(VERSIONS)),
    st.builds(lambda v, op, value: (("var", v), op, ("str", value)), st.sampled_from(VERSION_VARIABLES),
              st.sampled_from(["==", "!="]), st.sampled_from(["3.*", "3.14.*", "3.15.*", "5.*", "3.1.*"])),
    st.builds(lambda v, op, value: (("str", value), op, ("var", v)), st.sampled_from(VERSION_VARIABLES),
              st.sampled_from(["==", "!=", "<", "<=", ">", ">=", "~=", "===", "in", "not in"]),
              st.sampled_from(VERSIONS)),
    st.builds(lambda v, op, value: (("var", v), op, ("str", value)), st.sampled_from(VERSION_VARIABLES),
              st.sampled_from(["in", "not in"]), st.sampled_from(VERSIONS + ["3.13 3.14", "3.12.7 3.15.0rc1"])),
)
string_atoms = st.builds(
    lambda v, op, value, flip: (("str", value), op, ("var", v)) if flip else (("var", v), op, ("str", value)),
    st.sampled_from(STRING_VARIABLES), st.sampled_from(["==", "!=", "in", "not in", "==", "!="]),
    st.sampled_from(STRINGS), st.booleans())
undefined_atoms = st.one_of(
    st.builds(lambda v, op, value: (("var", v), op, ("str", value)), st.sampled_from(STRING_VARIABLES),
              st.sampled_from(["~=", "==="]), st.sampled_from(STRINGS + VERSIONS)),
    st.builds(lambda a, op, b: (("str", a), op, ("str", b)), st.sampled_from(STRINGS + ["python_version"]),
              st.sampled_from(["==", "!="]), st.sampled_from(STRINGS + VERSIONS)),  # no variable
)
extra_atoms = st.builds(lambda op, value, flip: (("str", value), op, ("var", "extra")) if flip
                        else (("var", "extra"), op, ("str", value)),
                        st.sampled_from(["==", "==", "!="]), st.sampled_from(EXTRAS[:-1]), st.booleans())
atoms = st.one_of(version_atoms, version_atoms, string_atoms, extra_atoms, extra_atoms, undefined_atoms
                  ).map(lambda a: ("atom", *a))
markers = st.recursive(atoms, lambda kids: st.tuples(st.sampled_from(["and", "or"]),
                                                     st.lists(kids, min_size=2, max_size=3), st.booleans()),
                       max_leaves=5)
# Half of them without the atoms that can be undefined: one anywhere makes the whole file an error.
defined_markers = markers.filter(lambda m: not re.search(r'~=|===|"\s*[!=]=\s*"', render(m))) | markers

REQUIRES_PYTHON = ["", ">=3.12", ">=3.14.1", "<3.15", ">=3.15", "==3.14.*", "!=3.14.2", "~=3.13", ">=3.13,<3.14",
                   ">3.14", "<=3.12.7", "==3.15.*", ">=3.15.0rc1", "<3.15.0"]


def _model_python(spec: str, release: str) -> bool:
    verdicts = [_version_op(re.match(r"[<>=!~]+", s).group(), release, re.sub(r"^[<>=!~]+", "", s))  # type: ignore[union-attr]
                for s in spec.split(",") if s]
    assert None not in verdicts
    return all(verdicts)


DEMO_FILE = IndexFile("demo-1.0-py3-none-any.whl", "https://index.test/files/demo-1.0-py3-none-any.whl", ())


def _finder(target: Target, meta: DistMetadata, requires_python: str | None) -> Finder:
    file = IndexFile(DEMO_FILE.filename, DEMO_FILE.url, (), requires_python=requires_python)
    data = KnownData(pages={"demo": ProjectPage("demo", "https://index.test/simple/demo/", (file,))},
                     metadata={DEMO_FILE.url: meta})
    return Finder(target, data, {}, ResolveOptions())


def _from_the_distribution(runtime: Runtime, meta: DistMetadata, requirements: Sequence[tuple[str, Marker | None]],
                           extras: frozenset[str]) -> list[str]:
    env = {**runtime.values, "extra": ""}
    listed = tuple(Requirement(name) for name, marker in requirements if marker is None or evaluate(marker, env))
    own = IndexFile(f"demo-1.0-cp{runtime.python.replace('.', '')[:3]}-none-pyemscripten_{runtime.platform}_wasm32.whl",
                    "https://cdn.test/demo-1.0.whl", (("sha256", "00"),))
    other = IndexFile("demo-1.0-cp314-cp314-manylinux_2_28_x86_64.whl", "https://index.test/files/demo-linux.whl", (),
                      core_metadata=())
    data = KnownData(pages={"demo": ProjectPage("demo", "https://index.test/simple/demo/", (other,))},
                     metadata={other.url: meta},
                     distribution={"demo": DistributionEntry(own, DistMetadata("demo", Version("1.0"), listed, None))})
    finder = Finder(runtime.target(), data, {}, ResolveOptions())
    assert [v for v, _ in finder.versions("demo")] == [Version("1.0")]
    return [d.name for d in finder.dependencies(Candidate("demo", Version("1.0"), extras, own))]


def _metadata(lines: Sequence[str], requires_python: str) -> bytes:
    head = ["Metadata-Version: 2.1", "Name: Demo", "Version: 1.0", "Provides-Extra: Foo_Bar", "Provides-Extra: x"]
    if requires_python:
        head.append(f"Requires-Python: {requires_python}")
    return ("\n".join(head + [f"Requires-Dist: {line}" for line in lines]) + "\n\nThe description.\n").encode()


def _expected(requirements: Sequence[tuple[str, Marker | None]], env: dict[str, str],
              extras: frozenset[str]) -> list[str]:
    """The names a candidate with ``extras`` (canonical) asks for: its base's pin, then each
    requirement whose marker is true with one of them; without extras, with ``extra == ""``
    (the dependencies without a marker: the base's only)."""
    if extras:
        return ["demo"] + [name for name, marker in requirements
                           if marker is not None and any(evaluate(marker, {**env, "extra": e}) for e in extras)]
    return [name for name, marker in requirements if marker is None or evaluate(marker, {**env, "extra": ""})]


def _evaluable(requirements: list[tuple[str, Marker | None]], env: dict[str, str]) -> bool:
    """Whether the model evaluates every marker (no variable it does not know)."""
    try:
        for _, marker in requirements:
            if marker is not None:
                evaluate(marker, {**env, "extra": ""})
    except Undefined:
        return False
    return True


@FAST
@given(st.sampled_from(RUNTIMES), st.lists(st.none() | defined_markers, min_size=1, max_size=4),
       st.lists(st.sampled_from(EXTRAS[:-1]), max_size=2), st.sampled_from(REQUIRES_PYTHON))
@example(RUNTIMES[4], [("atom", ("str", "x"), "==", ("str", "y"))], [], "")  # see the plain test below
@example(RUNTIMES[7], [("atom", ("var", "python_full_version"), "<", ("str", "3.15"))], [], "")
@example(RUNTIMES[4], [("or", [("atom", ("var", "sys_platform"), "==", ("str", "emscripten")),
                               ("atom", ("var", "extra"), "==", ("str", "Foo_Bar"))], False)], [], "")
def test_dependencies_follow_the_markers_for_the_runtime(runtime: Runtime, marks: list[Marker | None],
                                                         asked: list[str], requires_python: str) -> None:
    requirements = [(f"dep{i}", marker) for i, marker in enumerate(marks)]
    lines = [name if marker is None else f"{name}; {render(marker)}" for name, marker in requirements]
    env = runtime.values
    if not _evaluable(requirements, env):
        with pytest.raises(MetadataError) as info:
            parse_metadata(_metadata(lines, requires_python), "demo", "demo-1.0.dist-info/METADATA")
        assert info.value.project == "demo" and info.value.filename == "demo-1.0.dist-info/METADATA"
        for line in lines:  # the same text as the user's requirement: their own error, naming it
            try:
                Dependency.parse(line)
            except InvalidRequirementError as exc:
                assert exc.requirement == line
        return
    meta = parse_metadata(_metadata(lines, requires_python), "demo", "demo-1.0.dist-info/METADATA")
    target = runtime.target()
    finder = _finder(target, meta, requires_python or None)
    python_ok = not requires_python or _model_python(requires_python, runtime.release)
    # The index's data-requires-python and METADATA's Requires-Python say the same.
    assert [v for v, _ in finder.versions("demo")] == ([Version("1.0")] if python_ok else [])
    canonical = frozenset(_canonical(e) for e in asked)
    for spelled in {tuple(asked), tuple(_canonical(e) for e in asked), tuple(e.upper() for e in asked)}:
        extras = Dependency.parse(f"demo[{','.join(spelled)}]").extras if spelled else frozenset()
        assert extras == canonical
        deps = finder.dependencies(Candidate("demo", Version("1.0"), extras, DEMO_FILE))
        if not python_ok:
            assert [d.name for d in deps] == [PYTHON]
            continue
        assert [d.name for d in deps] == _expected(requirements, env, canonical), lines
    # The runtime's own wheel, whose lock lists the names it needs there (no markers, no
    # extras), with the index wheel's metadata of the same version: the same dependencies.
    if python_ok:
        assert sorted(_from_the_distribution(runtime, meta, requirements, canonical)) == sorted(
            _expected(requirements, env, canonical))  # in another order: the lock's first
    # The resolver's graph (what it counts a walk by, and names as what needs a project):
    # the base's dependencies and those of each extra asked of it.
    roots = root_dependencies([f"demo[{','.join(asked)}]" if asked else "demo"], target)
    wanted = {n for extras in [frozenset(), *({e} for e in canonical)]
              for n in _expected(requirements, env, frozenset(extras))} - {"demo"}
    assert _graph(finder, {}, roots)["demo"] == wanted
    # The user's own requirements, read for the target with no extra.
    roots = root_dependencies(lines, target)
    assert [d.name for d in roots] == [name for name, marker in requirements
                                       if marker is None or evaluate(marker, {**env, "extra": ""})]


@pytest.mark.parametrize("line", ['b; "x" == "y"', 'b; "x" in extras', 'b; os_name == "posix" or "a" != "b"'])
def test_a_marker_naming_no_variable_is_the_packages_error(line: str) -> None:
    # packaging raises UndefinedEnvironmentName (a KeyError) for these: it went through every
    # ``except ValueError`` as a raw exception, and an installed distribution with such a line
    # looked absent (the installed map's lookup raised KeyError).
    body = _metadata([line], "")
    with pytest.raises(MetadataError) as info:
        parse_metadata(body, "demo", "demo-1.0.dist-info/METADATA")
    assert info.value.project == "demo" and line in str(info.value)
    with pytest.raises(InvalidRequirementError) as user:
        Dependency.parse(line)
    assert user.value.requirement == line
    installed = parse_metadata(body, "demo", "demo-1.0.dist-info/METADATA", installed=True)
    assert installed.name == "demo" and installed.requires_dist == ()


def test_a_walk_counts_a_dependency_whose_marker_names_an_extra_but_holds_without_it() -> None:
    # app 11 to 60 need native, which has no wheel for the runtime, under a marker that names
    # an extra and is true without it. The resolver's graph left such a dependency out unless
    # an extra was asked of app: the walk back through app's versions was never counted (it
    # went on past max_walk_rounds, one pass per version, to app 10), and no error could name
    # app as what needs native.
    needs = 'native; sys_platform == "emscripten" or extra == "all"'
    index = FakeIndex({"app": {str(v): {"requires": [needs] if v > 10 else []} for v in range(1, 61)},
                       "native": {"1.0": {"tag": "cp314-cp314-manylinux_2_28_x86_64"}}})
    client = IndexClient(index, [BASE], RetryPolicy(attempts=3, backoff=0), sleep=no_sleep)
    with pytest.raises(NoCompatibleWheelError) as info:
        asyncio.run(resolve(["app"], RUNTIMES[5].target(), client, None, ResolveOptions(max_walk_rounds=3)))
    assert info.value.project == "native" and info.value.needed_by == ["app"]
    assert "Resolution stopped after 4 passes through older versions of app" in str(info.value)


def _mentioned(marker: Marker | None) -> set[str]:
    """The extras a marker compares ``extra`` equal to: what a project offers besides Provides-Extra."""
    if marker is None:
        return set()
    if marker[0] != "atom":
        return {e for child in marker[1] for e in _mentioned(child)}
    _, left, op, right = marker
    if op == "==" and ("var", "extra") in (left, right):
        return {_canonical((right if left[0] == "var" else left)[1])}
    return set()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(RUNTIMES[:6]), st.lists(st.none() | markers, min_size=1, max_size=3),
       st.lists(st.sampled_from(EXTRAS[:-1]), max_size=2), st.lists(st.sampled_from(EXTRAS[:-1]), max_size=2))
def test_resolution_asks_only_for_what_the_markers_need(runtime: Runtime, marks: list[Marker | None],
                                                         provides: list[str], asked: list[str]) -> None:
    # End to end, through the crawl and the resolver: a dependency whose marker is false for
    # the runtime (with the extras asked) is never fetched, the others are installed, and an
    # extra neither provided nor named in a marker is said to be missing.
    requirements = [(f"dep{i}", marker) for i, marker in enumerate(marks)]
    env = runtime.values
    if not _evaluable(requirements, env):
        return  # the first test's
    canonical = frozenset(_canonical(e) for e in asked)
    wanted = {n for extras in [frozenset(), *({e} for e in canonical)]
              for n in _expected(requirements, env, frozenset(extras))} - {"demo"}
    lines = [name if marker is None else f"{name}; {render(marker)}" for name, marker in requirements]
    index = FakeIndex({"demo": {"1.0": {"extras": provides, "requires": lines}},
                       **{name: {"1.0": {}} for name, _ in requirements}})
    client = IndexClient(index, [BASE], RetryPolicy(attempts=1, backoff=0), sleep=no_sleep)
    request = f"demo[{','.join(asked)}]" if asked else "demo"
    result = asyncio.run(resolve([request], runtime.target(), client, None, ResolveOptions()))
    assert {d.name for d in result.dists} == {"demo"} | wanted
    assert {url for url in index.requests if url.startswith(BASE)} == {f"{BASE}{n}/" for n in {"demo"} | wanted}
    offered = {_canonical(e) for e in provides} | {e for _, marker in requirements for e in _mentioned(marker)}
    missing = sorted(canonical - offered)
    said = [re.findall(r"'([^']*)'", note) for note in result.missing_extras]
    assert said == ([missing] if missing else [])
