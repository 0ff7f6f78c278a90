"""The public API's flows against a model of what is installed: generated indexes and
sequences of installs, uninstalls, freezes and lock installs, run natively end to end.

The model is a dict ``name -> version`` of site-packages. After every step, site-packages
(``list_installed`` and the files on disk), the report and the progress events must agree
with it:

* a successful install meets every requirement asked for (with its extras and the
  constraints), and every dependency of what it installed; it changes only the projects its
  report names, says each one's version it installed (``installed``) or kept
  (``already``), and does exactly what a dry run of it planned;
* with no dependencies at all, resolution is the obvious one: a project stays at its
  installed version where that fits every requirement on it, else it takes the newest that
  does;
* an install fails exactly when no choice of versions meets the requirements (or a wheel
  it plans is broken), with a :class:`~pyemscripten.errors.PyemscriptenError`, and leaves
  every file of site-packages as it was;
* uninstall removes exactly the names given (a name not installed: nothing removed);
* what ``freeze`` writes, installed with ``install_lock`` into an empty site-packages,
  gives the same set (what ``list_installed`` shows, also beside a stale ``*.dist-info``),
  and into one holding other versions, replaces them; a wheel changed on the server since
  installs nothing of the lock;
* two installs started at once end as if run one after the other, also when one of them is
  cancelled;
* an install cancelled, or stopped by a failing progress listener, at any point has done all
  its work or none of it;
* each operation's events end with exactly one ``done`` or ``error``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import itertools
import os
import random
import re
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import parse_wheel_filename
from packaging.version import Version

from pyemscripten import api, errors
from pyemscripten.index_client import RetryPolicy
from pyemscripten.installation import Scheme
from pyemscripten.seams import LibraryToLoad, NoLibraryLoader
from pyemscripten.target import Target
from tests.support.wheels import make_wheel

from .fake_index import BASE, FakeIndex, metadata_text
from .test_api import MemoryCache
from .test_dylink import module

TARGET = Target.for_platform("pyemscripten_2026_0_wasm32", "3.14.2")
# (hunting, 300-600 examples each found nothing more; the explain phase alone took a minute)
SETTINGS = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow],
                    phases=[p for p in Phase if p is not Phase.explain])
PROJECTS = ("a", "b", "c")

# --- generated indexes ----------------------------------------------------------------------

Dep = tuple[str, str, int]  # project, operator, version
# dependencies, extra x's, and what is wrong with its wheel: "" nothing, "record" a file's hash
# in RECORD (refused before anything is committed), "load" its library fails to load (after
# the commit: rolled back)
Spec = tuple[tuple[Dep, ...], tuple[Dep, ...], str]
Index = dict[str, dict[int, Spec]]

_OPS = ["==", "<=", ">=", "!=", "<", ">"]
_DEPS = st.lists(st.tuples(st.sampled_from(PROJECTS), st.sampled_from(_OPS), st.integers(1, 3)),
                 max_size=2, unique_by=lambda d: d[0]).map(tuple)
_SPEC = st.tuples(_DEPS, _DEPS, st.just(""))  # a broken wheel: drawn apart, one at most
# Half of them without dependencies, where the model knows the one resolution.
INDEXES = st.one_of(*(st.fixed_dictionaries({p: st.dictionaries(st.integers(1, 3), spec, min_size=1, max_size=3)
                                             for p in PROJECTS}) for spec in (_SPEC, st.just(((), (), "")))))


def _text(dep: Dep, marker: str = "") -> str:
    return f"{dep[0]}{dep[1]}{dep[2]}{marker}"


def _fits(version: int, op: str, bound: int) -> bool:
    return Requirement(f"x{op}{bound}").specifier.contains(str(version))


@functools.cache
def _wheel(name: str, version: int, deps: tuple[Dep, ...], extra: tuple[Dep, ...], broken: str) -> bytes:
    spec = _spec_data(deps, extra)
    meta = metadata_text(name, str(version), spec)
    # Each version has a file of its own: replacing it must take the old one away.
    files = {f"{name}/__init__.py": f"V = {str(version)!r}\n", f"{name}/v{version}.py": ""}
    if version == 2:  # a larger wheel: streamed members, its METADATA from its own file
        files[f"{name}/data.bin"] = random.Random(f"{name}{version}").randbytes(300 << 10)
    if broken == "load":
        return bytes(make_wheel(name, str(version), {**files, f"{name}/_x.so": module()}, metadata=meta,
                                tag="cp314-cp314-pyemscripten_2026_0_wasm32"))
    return bytes(make_wheel(name, str(version), files, metadata=meta, bad_record=broken == "record"))


def _tag(broken: str) -> str:
    return "cp314-cp314-pyemscripten_2026_0_wasm32" if broken == "load" else "py3-none-any"


class FailingLoader(NoLibraryLoader):
    """Every library fails to load (only the "load" wheels have one)."""

    async def load(self, libraries: Sequence[LibraryToLoad], on_loaded: Any = None) -> None:
        raise errors.LibraryLoadError(libraries[0].path, "refused", libraries[0].project)


def _spec_data(deps: tuple[Dep, ...], extra: tuple[Dep, ...]) -> dict[str, Any]:
    return {"extras": ["x"], "requires": [_text(d) for d in deps] + [_text(d, "; extra == 'x'") for d in extra]}


def fake_index(index: Index) -> FakeIndex:
    return FakeIndex({p: {str(v): {**_spec_data(deps, extra), "body": _wheel(p, v, deps, extra, broken),
                                   "tag": _tag(broken)}
                          for v, (deps, extra, broken) in versions.items()} for p, versions in index.items()})


def _without_self(index: Index) -> Index:
    """A project's dependencies on itself left out (pip's resolver would meet them, the model
    would have to say how)."""
    return {p: {v: (tuple(d for d in deps if d[0] != p), tuple(d for d in x if d[0] != p), broken)
                for v, (deps, x, broken) in versions.items()} for p, versions in index.items()}


# --- requests: requirements (with the extra), constraints -------------------------------------

Root = tuple[str, str, int, bool]  # project, operator ("" for none), version, with [x]
ROOTS = st.lists(st.tuples(st.sampled_from(PROJECTS * 4 + ("zz",)), st.sampled_from(["", "", *_OPS]), st.integers(1, 4),
                           st.booleans()), min_size=1, max_size=3)
CONSTRAINTS = st.lists(st.tuples(st.sampled_from(PROJECTS), st.sampled_from(_OPS), st.integers(1, 3)), max_size=1)


def _root_text(root: Root) -> str:
    name, op, bound, x = root
    return f"{name}{'[x]' if x else ''}{op}{bound if op else ''}"


def _solutions(index: Index, roots: Sequence[Root], constraints: Sequence[Dep]) -> Iterator[dict[str, int]]:
    """Every choice of versions that meets the request: the roots, each chosen version's
    dependencies (and its extra's where something asks for ``[x]`` of it), in their ranges,
    and the constraints on what is chosen."""
    for choice in itertools.product(*[[0, *index[p]] for p in PROJECTS]):
        chosen = {p: v for p, v in zip(PROJECTS, choice) if v}
        with_x = {r[0] for r in roots if r[3]}
        wanted = [(r[0], r[1], r[2]) for r in roots]
        wanted += [d for p, v in chosen.items() for d in index[p][v][0] + (index[p][v][1] if p in with_x else ())]
        if all(d[0] in chosen and (not d[1] or _fits(chosen[d[0]], d[1], d[2])) for d in wanted) and all(
                c[0] not in chosen or _fits(chosen[c[0]], c[1], c[2]) for c in constraints):
            yield chosen


def _met(state: Mapping[str, str], index: Index, roots: Sequence[Root], constraints: Sequence[Dep],
         new: Mapping[str, str]) -> None:
    """The request and the dependencies of what was installed hold in ``state``."""
    for name, op, bound, _ in roots:
        assert name in state and (not op or _fits(int(state[name]), op, bound)), (name, op, bound, state)
    for name, op, bound in constraints:
        assert name not in new or _fits(int(state[name]), op, bound), (name, op, bound, state)
    with_x = {r[0] for r in roots if r[3]}
    for name, version in new.items():
        deps, extra, _ = index[name][int(version)]
        for dep in deps + (extra if name in with_x else ()):
            assert dep[0] in state and _fits(int(state[dep[0]]), dep[1], dep[2]), (name, dep, state)


def _breaks(index: Index, before: Mapping[str, str], new: Mapping[str, str]) -> set[tuple[str, str]]:
    """(installed project, replaced one) where the installed one's dependency on the replaced
    one does not fit its new version (pip's check after the fact)."""
    found = set()
    for name, version in before.items():
        if name in new:
            continue
        for dep, op, bound in index[name][int(version)][0]:
            if dep in before and dep in new and before[dep] != new[dep] and not _fits(int(new[dep]), op, bound):
                found.add((name, dep))
    return found


def _broken(warnings: Sequence[str]) -> set[tuple[str, str]]:
    """The (installed, replaced) pairs the warnings name."""
    found = set()
    for warning in warnings:
        match = re.match(r"(\S+) \S+ \(installed\) requires (\w+)", warning)
        if match:
            found.add((match.group(1), match.group(2)))
    return found


def _obvious(index: Index, before: Mapping[str, str], roots: Sequence[Root], constraints: Sequence[Dep],
             reinstall: bool) -> dict[str, str]:
    """Resolution where no version has a dependency: each project asked for stays at its
    installed version where that fits (unless reinstalled), else takes the newest that fits."""
    result = dict(before)
    for name in {r[0] for r in roots}:
        specs = [(op, b) for n, op, b, _ in roots if n == name and op] + [(op, b) for n, op, b in constraints
                                                                        if n == name]
        fitting = [v for v in index[name] if all(_fits(v, op, b) for op, b in specs)]
        if name in before and int(before[name]) in fitting and not reinstall:
            continue
        result[name] = str(max(fitting))
    return result


# --- one site-packages ----------------------------------------------------------------------


@contextmanager
def _session(transport: FakeIndex, cache: MemoryCache | None = None) -> Iterator[api.Session]:
    with tempfile.TemporaryDirectory() as root:
        site = Path(root, "site-packages")
        site.mkdir()
        scheme = Scheme(str(site), str(site), str(Path(root, "bin")), str(Path(root, "include")), root)
        yield api.Session(target=TARGET, transport=transport, loader=FailingLoader(), scheme=scheme,
                          retry=RetryPolicy(attempts=1, backoff=0), distribution_url="", cache=cache,
                          use_cache=cache is not None)


def _files(site: str) -> dict[str, bytes]:
    """Every file under ``site`` with its bytes (folders by a trailing ``/``)."""
    found: dict[str, bytes] = {}
    for folder, dirs, files in os.walk(site):
        for d in dirs:
            found[os.path.relpath(os.path.join(folder, d), site) + "/"] = b""
        for f in files:
            found[os.path.relpath(os.path.join(folder, f), site)] = Path(folder, f).read_bytes()
    return found


def _on_disk(site: str, state: Mapping[str, str]) -> None:
    """site-packages holds each project of ``state``, at its version, and nothing else."""
    tops = sorted(os.listdir(site))
    assert tops == sorted([n for n in state] + [f"{n}-{v}.dist-info" for n, v in state.items()]), (tops, state)
    for name, version in state.items():
        assert Path(site, name, "__init__.py").read_text() == f"V = {version!r}\n"
        assert {f for f in os.listdir(Path(site, name)) if f.startswith("v")} == {f"v{version}.py"}
        assert Path(site, name, "data.bin").exists() == (version == "2")


def _ended_once(events: Sequence[dict[str, Any]], ok: bool) -> None:
    ends = [e["stage"] for e in events if e["stage"] in ("done", "error")]
    assert ends == ["done" if ok else "error"] and events[-1]["stage"] == ends[0], ends
    # what a progress bar is drawn from: within its total, never going back
    done: dict[tuple[str, str], int] = {}
    for e in events:
        if e.get("total") is not None:
            assert 0 <= e["done"] <= e["total"], e
            key = (e["stage"], e.get("package") or "")
            assert e["done"] >= done.get(key, 0) or e["stage"] == "resolved", e
            done[key] = e["done"]


def _install(s: api.Session, requirements: list[str], **options: Any) -> tuple[Any, list[dict[str, Any]]]:
    events: list[dict[str, Any]] = []
    try:
        report = asyncio.run(api.install(requirements, [BASE], session=s, quiet=True, on_progress=events.append,
                                         **options))
    except errors.PyemscriptenError as exc:
        _ended_once(events, ok=False)
        return exc, events
    _ended_once(events, ok=True)
    # a wheel fetched as a guess and not installed is not heard of
    heard = {e["package"] for e in events if e["stage"] in ("downloading", "unpacking")}
    assert heard <= {name for name, _ in report.installed}, (heard, report.installed)
    return report, events


# --- the properties -------------------------------------------------------------------------

STEPS = st.lists(st.one_of(
    st.tuples(st.just("install"), ROOTS, CONSTRAINTS, st.booleans(), st.booleans()),
    st.tuples(st.just("uninstall"), st.lists(st.sampled_from(PROJECTS), min_size=1, max_size=2, unique=True)),
), min_size=1, max_size=4)


@settings(SETTINGS, max_examples=60)
@given(INDEXES, st.one_of(st.none(), st.tuples(st.sampled_from(PROJECTS), st.integers(1, 3),
                                               st.sampled_from(["record", "load"]))), STEPS)
def test_installs_and_uninstalls_keep_site_packages_as_the_model_says(
        index: Index, broken: tuple[str, int, str] | None, steps: list[Any]) -> None:
    index = _without_self(index)
    if broken is not None:  # one of the project's versions, the newest most often
        versions = sorted(index[broken[0]], reverse=True)
        version = versions[min(broken[1] - 1, len(versions) - 1)]
        deps, extra, _ = index[broken[0]][version]
        index[broken[0]][version] = (deps, extra, broken[2])
    simple = not any(deps or extra for versions in index.values() for deps, extra, _ in versions.values())
    state: dict[str, str] = {}
    with _session(fake_index(index), MemoryCache()) as s:
        site = s.scheme.purelib  # type: ignore[union-attr]
        for step in steps:
            before = _files(site)
            if step[0] == "uninstall":
                names = step[1]
                if all(n in state for n in names):
                    assert api.uninstall(names, s) == names
                    state = {n: v for n, v in state.items() if n not in names}
                else:
                    try:
                        api.uninstall(names, s)
                    except errors.NotInstalledError:
                        assert _files(site) == before
                    else:
                        raise AssertionError(f"uninstall({names}) of what is not installed")
            else:
                _, roots, constraints, reinstall, deps = step
                requirements = [_root_text(r) for r in roots]
                options = {"constraints": [_text(c) for c in constraints], "reinstall": reinstall, "deps": deps}
                plan, _ = _install(s, requirements, dry_run=True, **options)
                assert _files(site) == before
                report, _ = _install(s, requirements, **options)
                # (without dependencies, every version stands alone)
                seen = index if deps else {p: {v: ((), (), b) for v, (_, _, b) in vs.items()} for p, vs in index.items()}
                solvable = "zz" not in {r[0] for r in roots} and next(
                    _solutions(seen, roots, constraints), None) is not None
                if isinstance(report, errors.PyemscriptenError):
                    assert _files(site) == before, report
                    assert not solvable or isinstance(plan, api.InstallReport) and any(
                        index[p["name"]][int(p["version"])][2] for p in plan.plan
                        if not p["already_installed"]), (report, plan)
                else:
                    assert solvable, report
                    assert isinstance(plan, api.InstallReport)
                    planned = tuple((p["name"], p["version"]) for p in plan.plan if not p["already_installed"])
                    assert report.installed == planned and report.already == plan.already
                    new = dict(report.installed)
                    for name, version in report.already:
                        assert state.get(name) == version
                    for name, version in report.installed:
                        assert reinstall or state.get(name) != version
                    after = {**state, **new}
                    _met(after, seen, roots, constraints, new)
                    assert set(plan.warnings) <= set(report.warnings), (plan.warnings, report.warnings)
                    assert _broken(report.warnings) == _breaks(index, state, new), report.warnings
                    if not deps:
                        assert set(new) <= {r[0] for r in roots}
                    for name, version in new.items():
                        requested = Path(site, f"{name}-{version}.dist-info", "REQUESTED").exists()
                        assert requested == (name in {r[0] for r in roots}) or name in state, (name, roots)
                    for name in {r[0] for r in roots}:
                        assert Path(site, f"{name}-{after[name]}.dist-info", "REQUESTED").exists(), name
                    if simple or not deps:
                        assert after == _obvious(index, state, roots, constraints, reinstall)
                    state = after
            assert api.list_installed(s) == dict(sorted(state.items()))
            _on_disk(site, state)


# Names as projects spell them (the index and the lock canonicalize them) and versions a
# file name, a URL and a lock must all carry: local, epoch, post, pre and dev releases.
_SPELLINGS = {"a": "a", "Zope.Thing": "zope-thing", "py_x": "py-x"}
_VERSIONS = ["1.0", "1.0+local.7", "2!0.1", "1.0.post1", "2.0rc1", "0.1.dev3", "01.10"]
LOCK_INDEXES = st.dictionaries(st.sampled_from(sorted(_SPELLINGS)),
                               st.lists(st.sampled_from(_VERSIONS), min_size=1, max_size=3, unique_by=Version),
                               min_size=1)


def _named_index(projects: Mapping[str, Sequence[str]]) -> FakeIndex:
    return FakeIndex({name: {v: {"body": bytes(make_wheel(name, v, {f"{_SPELLINGS[name].replace('-', '_')}/m.py": v}))}
                             for v in versions} for name, versions in projects.items()})


def _pins(projects: Mapping[str, Sequence[str]], picks: Sequence[int]) -> dict[str, str]:
    """One version of each project (canonical name -> normalized version), by ``picks``: the
    newest that ``==`` the picked one matches (PEP 440: ``==1.0`` matches ``1.0+local.7``)."""
    pins = {}
    for (name, versions), i in zip(sorted(projects.items()), picks):
        pin = SpecifierSet(f"=={versions[i % len(versions)]}")
        pins[_SPELLINGS[name]] = str(max(Version(v) for v in versions if pin.contains(v, prereleases=True)))
    return pins


@SETTINGS
@given(LOCK_INDEXES, st.lists(st.integers(0, 2), min_size=3, max_size=3),
       st.lists(st.integers(0, 2), min_size=3, max_size=3), st.booleans(), st.integers(0, 20))
def test_what_freeze_writes_installs_the_same_set_anywhere(projects: dict[str, list[str]], first: list[int],
                                                           second: list[int], installed_first: bool,
                                                           picks_broken: int) -> None:
    # Frozen from one site-packages, the lock installs exactly its versions into an empty one
    # (which then freezes to the same lock), and into one holding other versions of them.
    index = _named_index(projects)
    frozen_set, other_set = _pins(projects, first), _pins(projects, second)
    with _session(index) as source, _session(index) as empty, _session(index) as other:
        report, _ = _install(source, [f"{n}=={v}" for n, v in frozen_set.items()])
        assert isinstance(report, api.InstallReport), report
        assert api.list_installed(source) == dict(sorted(frozen_set.items()))
        lock = api.freeze(source)
        events: list[dict[str, Any]] = []
        again = asyncio.run(api.install_lock(lock, session=empty, quiet=True, on_progress=events.append))
        _ended_once(events, ok=True)
        assert api.list_installed(empty) == api.list_installed(source)
        assert dict(again.installed) == frozen_set and again.already == ()
        assert api.freeze(empty) == lock
        if installed_first:
            report, _ = _install(other, [f"{n}=={v}" for n, v in other_set.items()])
            assert isinstance(report, api.InstallReport), report
        held = other_set if installed_first else {}

        def held_wheel(url: str) -> bool:
            name, version, _, _ = parse_wheel_filename(url.rsplit("/", 1)[1])
            return held.get(name) == str(version)

        # One of its wheels changed on the server: refused, and nothing of the lock installed.
        named = sorted(url for url in index.routes if url.endswith(".whl") and f'url = "{url}"' in lock)
        wheel = named[picks_broken % len(named)]
        good = index.routes[wheel]
        index.routes[wheel] = dataclasses.replace(good, body=good.body + b"\0")
        untouched = _files(other.scheme.purelib)  # type: ignore[union-attr]
        events.clear()
        try:
            asyncio.run(api.install_lock(lock, session=other, quiet=True, on_progress=events.append))
        except errors.PyemscriptenError:
            _ended_once(events, ok=False)
            assert _files(other.scheme.purelib) == untouched  # type: ignore[union-attr]
        else:  # (already installed at that version: not fetched), and the rest installed
            assert held_wheel(wheel)
            held = dict(frozen_set)
        index.routes[wheel] = good
        events.clear()
        over = asyncio.run(api.install_lock(lock, session=other, quiet=True, on_progress=events.append))
        _ended_once(events, ok=True)
        assert api.list_installed(other) == dict(sorted(frozen_set.items()))
        assert dict(over.installed) == {n: v for n, v in frozen_set.items() if held.get(n) != v}
        assert dict(over.already) == {n: v for n, v in frozen_set.items() if held.get(n) == v}
        assert sorted(os.listdir(other.scheme.purelib)) == sorted(os.listdir(source.scheme.purelib))  # type: ignore[union-attr]


@SETTINGS
@given(INDEXES, ROOTS, ROOTS, st.lists(st.sampled_from(PROJECTS), max_size=2), st.booleans())
@example({"a": {1: ((), (), "")}, "b": {1: ((), (), "")}, "c": {1: ((), (), ""), 2: ((), (), "")}},
         [("c", "==", 1, False)], [("c", "", 1, False)], [], True).via("the lock took its turn before the install")
def test_installs_started_at_once_end_as_if_run_one_after_the_other(
        index: Index, one: list[Root], two: list[Root], before: list[str], second_from_lock: bool) -> None:
    # The second is an install, or the install of a lock frozen where ``two`` was installed.
    index = _without_self(index)
    transport = fake_index(index)
    with _session(transport) as together, _session(transport) as in_turn, _session(transport) as source:
        lock = ""
        if second_from_lock:
            made, _ = _install(source, [_root_text(r) for r in two])
            if not isinstance(made, api.InstallReport):
                return
            lock = api.freeze(source)
        if before:  # something installed first, that the two may keep or replace
            _install(together, list(before))
            shutil.rmtree(in_turn.scheme.purelib)  # type: ignore[union-attr]
            shutil.copytree(together.scheme.purelib, in_turn.scheme.purelib)  # type: ignore[union-attr]
        first_events: list[dict[str, Any]] = []
        second_events: list[dict[str, Any]] = []

        def second_op(s: api.Session, listener: Any) -> Any:
            if second_from_lock:
                return api.install_lock(lock, session=s, quiet=True, on_progress=listener)
            return api.install([_root_text(r) for r in two], [BASE], session=s, quiet=True, on_progress=listener)

        async def both() -> list[Any]:
            return await asyncio.gather(
                api.install([_root_text(r) for r in one], [BASE], session=together, quiet=True,
                            on_progress=first_events.append),
                second_op(together, second_events.append), return_exceptions=True)

        first, second = asyncio.run(both())
        expected_first, _ = _install(in_turn, [_root_text(r) for r in one])
        try:
            expected_second = asyncio.run(second_op(in_turn, None))
        except errors.PyemscriptenError as exc:
            expected_second = exc
        for got, expected, events in ((first, expected_first, first_events), (second, expected_second, second_events)):
            assert type(got) is type(expected), (got, expected)
            _ended_once(events, ok=isinstance(got, api.InstallReport))
            if isinstance(got, api.InstallReport):
                assert (got.installed, got.already) == (expected.installed, expected.already)
        assert api.list_installed(together) == api.list_installed(in_turn)
        assert _files(together.scheme.purelib) == _files(in_turn.scheme.purelib)  # type: ignore[union-attr]


@SETTINGS
@given(INDEXES, ROOTS, st.lists(st.sampled_from(PROJECTS), max_size=2), st.integers(0, 30))
def test_an_install_cancelled_at_any_point_is_whole_or_not_at_all(
        index: Index, roots: list[Root], before: list[str], steps: int) -> None:
    # Cancelled after any number of the loop's turns, an install has either changed nothing
    # or done all it would have done; its events end with its one "error" (or "done").
    index = _without_self(index)
    transport = fake_index(index)
    requirements = [_root_text(r) for r in roots]
    with _session(transport) as cancelled, _session(transport) as whole:
        if before:
            _install(cancelled, list(before))
            _install(whole, list(before))
        site = cancelled.scheme.purelib  # type: ignore[union-attr]
        untouched = _files(site)
        expected, _ = _install(whole, requirements)
        events: list[dict[str, Any]] = []

        async def cancel_after() -> Any:
            task = asyncio.ensure_future(api.install(requirements, [BASE], session=cancelled, quiet=True,
                                                     on_progress=events.append))
            for _ in range(steps):
                await asyncio.sleep(0)
            task.cancel()
            try:
                return await task
            except (asyncio.CancelledError, errors.PyemscriptenError) as exc:
                return exc

        got = asyncio.run(cancel_after())
        if events or steps:  # (a task cancelled before its first step never ran: no event at all)
            _ended_once(events, ok=isinstance(got, api.InstallReport))
        if isinstance(got, api.InstallReport):
            assert (got.installed, got.already) == (expected.installed, expected.already)  # type: ignore[union-attr]
        if _files(site) != untouched:
            assert _files(site) == _files(whole.scheme.purelib), got  # type: ignore[union-attr]
            assert isinstance(expected, api.InstallReport)


class Stop(Exception):
    """A progress display's own failure."""


@SETTINGS
@given(INDEXES, ROOTS, st.lists(st.sampled_from(PROJECTS), max_size=2), st.integers(0, 40), st.booleans())
def test_a_listener_failing_at_any_event_leaves_the_install_whole_or_not_at_all(
        index: Index, roots: list[Root], before: list[str], at: int, lock: bool) -> None:
    # A display that raises at its n-th event stops the install (or lock install) with its
    # error; site-packages is then as before or as the install would have left it.
    index = _without_self(index)
    transport = fake_index(index)
    requirements = [_root_text(r) for r in roots]
    with _session(transport) as failing, _session(transport) as whole, _session(transport) as source:
        text = ""
        if lock:  # the same change, from a lock frozen where it was made
            made, _ = _install(source, requirements)
            if not isinstance(made, api.InstallReport):
                return
            text = api.freeze(source)
        for s in (failing, whole):
            if before:
                _install(s, list(before))

        def run(s: api.Session, listener: Any) -> None:
            if lock:
                asyncio.run(api.install_lock(text, session=s, quiet=True, on_progress=listener))
            else:
                asyncio.run(api.install(requirements, [BASE], session=s, quiet=True, on_progress=listener))

        try:
            run(whole, None)
        except errors.PyemscriptenError:
            pass
        site = failing.scheme.purelib  # type: ignore[union-attr]
        untouched = _files(site)
        events: list[dict[str, Any]] = []

        def listener(event: dict[str, Any]) -> None:
            events.append(event)
            if len(events) == at + 1:
                raise Stop(event["stage"])

        try:
            run(failing, listener)
        except (Stop, errors.PyemscriptenError):
            pass
        if _files(site) != untouched:
            assert _files(site) == _files(whole.scheme.purelib)  # type: ignore[union-attr]


@SETTINGS
@given(INDEXES, ROOTS, ROOTS, st.integers(0, 30), st.booleans())
def test_an_install_cancelled_while_another_waits_leaves_the_other_its_turn(
        index: Index, one: list[Root], two: list[Root], steps: int, cancel_second: bool) -> None:
    # Of two installs started at once, one is cancelled after any number of turns: the other
    # ends as if it had run alone after the cancelled one's whole work, or after none of it.
    index = _without_self(index)
    transport = fake_index(index)
    first_reqs, second_reqs = [_root_text(r) for r in one], [_root_text(r) for r in two]
    with _session(transport) as together, _session(transport) as both, _session(transport) as alone:
        for s, sequence in ((both, [first_reqs, second_reqs]), (alone, [first_reqs if cancel_second else second_reqs])):
            for requirements in sequence:
                _install(s, requirements)
        events: tuple[list[dict[str, Any]], list[dict[str, Any]]] = ([], [])

        async def run() -> list[Any]:
            tasks = [asyncio.ensure_future(api.install(requirements, [BASE], session=together, quiet=True,
                                                       on_progress=told.append))
                     for requirements, told in zip((first_reqs, second_reqs), events)]
            for _ in range(steps):
                await asyncio.sleep(0)
            tasks[cancel_second].cancel()
            return await asyncio.gather(*tasks, return_exceptions=True)

        results = asyncio.run(run())
        kept = results[not cancel_second]
        assert not isinstance(kept, BaseException) or isinstance(kept, errors.PyemscriptenError), kept
        _ended_once(events[not cancel_second], ok=isinstance(kept, api.InstallReport))
        got = _files(together.scheme.purelib)  # type: ignore[union-attr]
        assert got in (_files(both.scheme.purelib), _files(alone.scheme.purelib))  # type: ignore[union-attr]
        assert not api._Turn.under_way()


@SETTINGS
@given(LOCK_INDEXES, st.lists(st.integers(0, 2), min_size=3, max_size=3),
       st.lists(st.integers(0, 2), min_size=3, max_size=3), st.lists(st.sampled_from(sorted(_SPELLINGS)), max_size=3))
@example({"a": ["1.0", "2!0.1"]}, [0, 0, 0], [1, 0, 0], ["a"]).via("two dist-info folders of a: locked twice")
def test_freeze_locks_what_list_installed_shows_beside_a_stale_dist_info(
        projects: dict[str, list[str]], first: list[int], second: list[int], stale: list[str]) -> None:
    # Another version's *.dist-info left beside the installed one (another installer's, or one
    # interrupted): list_installed() shows one version of the project, and the lock freeze()
    # writes must read back, installing that version.
    index = _named_index(projects)
    with _session(index) as source, _session(index) as elsewhere, _session(index) as empty:
        for s, picks in ((source, first), (elsewhere, second)):
            report, _ = _install(s, [f"{n}=={v}" for n, v in _pins(projects, picks).items()])
            assert isinstance(report, api.InstallReport), report
        site, other_site = source.scheme.purelib, elsewhere.scheme.purelib  # type: ignore[union-attr]
        copied = []
        for folder in os.listdir(other_site):
            name = folder.partition("-")[0].lower().replace("_", "-")
            if folder.endswith(".dist-info") and name in {_SPELLINGS[n] for n in stale} and not os.path.exists(
                    Path(site, folder)):
                shutil.copytree(Path(other_site, folder), Path(site, folder))
                copied.append(folder)
        shown = api.list_installed(source)
        lock = api.freeze(source)
        assert ("# Not locked (a second *.dist-info" in lock) == bool(copied)  # said, not dropped silently
        asyncio.run(api.install_lock(lock, session=empty, quiet=True))
        assert api.list_installed(empty) == shown
