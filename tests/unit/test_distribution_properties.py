"""The runtime's own distribution (``pyodide-lock.json``), against a model of what it must give.

* Each runtime's real lock (``.cache/runtimes``) reads whole: every wheel entry is one, named
  and versioned as its file, for that runtime (or pure), beside the lock, and what it
  depends on is an entry of the same lock; all its projects at once resolve from it alone.
* Generated locks (entries under odd spellings, every ``package_type``, fields missing or of
  the wrong kind, ``depends`` naming what no entry is, or a shared library's zip, cycles,
  files beside the lock, below it or at absolute URLs) give exactly the well-formed wheel
  entries, each once, with the needs a resolver can follow; a document that is no lock is
  the package's own error naming its URL.
* A resolution over a fake index and a generated distribution picks what a brute-force model
  allows: each project once, from the index where it has that version for the runtime,
  from the distribution otherwise; found whenever one exists, and where only projects
  neither has stand in the way, the error names one; where the indexes alone resolve every
  project, the distribution is not used at all. The same end to end through ``api.install``:
  what is installed, and the files it came from.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import operator
import re
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name, parse_wheel_filename
from packaging.version import Version

from pyemscripten import api, errors
from pyemscripten.distribution import parse_distribution_lock
from pyemscripten.index_client import IndexClient, RetryPolicy, load_distribution
from pyemscripten.installation import Scheme, installed_distributions
from pyemscripten.resolution import ResolveOptions, resolve
from pyemscripten.seams import NoLibraryLoader, Response
from pyemscripten.target import Target
from tests.support.wheels import make_wheel
from tests.unit.fake_index import BASE, FakeIndex, no_sleep

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LOCK_URL = "https://cdn.test/full/pyodide-lock.json"
TARGET = Target.for_platform("pyemscripten_2026_0_wasm32", "3.14.2")
OURS = "cp314-cp314-pyemscripten_2026_0_wasm32"


# --- the runtimes' own locks ------------------------------------------------------------------

RUNTIMES = sorted((Path(__file__).parents[2] / ".cache" / "runtimes").glob("pyodide-*/pyodide-lock.json"))


@pytest.mark.skipif(not RUNTIMES, reason="no runtime in .cache/runtimes (scripts/fetch_fixtures)")
@pytest.mark.parametrize("path", RUNTIMES, ids=[p.parent.name for p in RUNTIMES])
def test_each_runtimes_own_lock_reads_whole(path: Path) -> None:
    body = path.read_bytes()
    packages = json.loads(body)["packages"]
    info = json.loads(body)["info"]
    target = Target.for_platform(f"pyemscripten_{info['abi_version']}_wasm32", info["python"])
    entries = parse_distribution_lock(body, LOCK_URL)
    wheels = {k: raw for k, raw in packages.items() if raw["file_name"].endswith(".whl")}
    assert sorted(entries) == sorted(canonicalize_name(raw["name"]) for raw in wheels.values())
    named = {canonicalize_name(raw["name"]) for raw in packages.values()}
    for key, raw in wheels.items():
        entry = entries[canonicalize_name(raw["name"])]
        name, version, _, tags = parse_wheel_filename(raw["file_name"])
        assert (canonicalize_name(key), entry.metadata.name, entry.metadata.version) == (name, name, version)
        assert target.tag_rank(tags) is not None, raw["file_name"]  # for this runtime, or pure
        assert entry.file.url == f"https://cdn.test/full/{raw['file_name']}"
        assert entry.file.sha256 == raw["sha256"].lower()
        assert all(canonicalize_name(d) in named for d in raw["depends"]), (key, raw["depends"])
        # What is left to resolve: the entries that are wheels (a shared library's zip is the loader's).
        assert sorted(r.name for r in entry.metadata.requires_dist) == sorted(
            d for d in raw["depends"] if canonicalize_name(d) in entries)

    # Every project of it at once, no index having any: each resolves from the lock alone, once.
    async def distribution():  # type: ignore[no-untyped-def]
        return entries

    client = IndexClient(FakeIndex({}), [BASE], RetryPolicy(attempts=1, backoff=0), sleep=no_sleep)
    result = asyncio.run(resolve(sorted(entries), target, client, {}, ResolveOptions(), distribution=distribution))
    assert sorted((d.name, d.file.url if d.file else None) for d in result.dists) == sorted(
        (name, entry.file.url) for name, entry in entries.items())


# --- generated locks --------------------------------------------------------------------------

# Projects, each in spellings that name it (PEP 503), and what a field may hold instead of
# what the format says (pyodide-lock's own model: strings, a list of strings for depends).
PROJECTS = {"alpha": ["alpha", "Alpha", "ALPHA"], "beta-gamma": ["beta-gamma", "Beta_Gamma", "beta.gamma", "BETA__gamma"],
            "ssl": ["ssl"], "libz": ["libz", "LibZ"]}
GOOD_VERSIONS = ["1.0", "2.0rc1", "1!2.0", "3.0.post1"]
WHEEL_TAGS = ["py3-none-any", OURS, "cp313-cp313-pyemscripten_2025_0_wasm32", "cp312-cp312-pyodide_2024_0_wasm32",
              "7-py3-none-any"]  # a build tag too
SPECIFIERS = ["", ">=1", "<3", ' ; python_version >= "3"']


def _spelling(draw: st.DrawFn, project: str | None = None) -> str:
    project = project or draw(st.sampled_from(sorted(PROJECTS)))
    return draw(st.sampled_from(PROJECTS[project]))


@st.composite
def entries(draw: st.DrawFn) -> tuple[str, Any, dict[str, Any]]:
    """``(key, raw entry, what the model knows of it)``: whether each field is as the format
    says, the project it is of and the requirement names it depends on."""
    project = draw(st.sampled_from(sorted(PROJECTS)))
    raw: dict[str, Any] = {}
    known: dict[str, Any] = {"project": project, "good": True}
    key = draw(st.one_of(st.just(_spelling(draw, project)), st.just(f"{project}-tests")))
    name = draw(st.sampled_from(["absent", "null", "empty", "spelled"]))
    if name != "absent":
        raw["name"] = {"null": None, "empty": "", "spelled": _spelling(draw, project)}[name]
    version = draw(st.sampled_from(GOOD_VERSIONS))
    version_field = draw(st.sampled_from(["good", "good", "absent", "null", "bad", "list"]))
    if version_field != "absent":
        raw["version"] = {"good": version, "null": None, "bad": "x y", "list": [version]}[version_field]
    known["good"] &= version_field == "good"
    known["version"] = version
    stem = re.sub(r"[-_.]+", "_", _spelling(draw, project))  # a wheel's name: runs of -_. as one _
    kind = draw(st.sampled_from(["wheel", "wheel", "wheel", "zip", "tar", "bad wheel", "number", "absent"]))
    if kind == "wheel":
        # Beside the lock, below it, or anywhere: Pyodide reads file_name as a URL relative
        # to the lock's folder (new URL(file_name, base)); pyodide-lock writes absolute ones.
        where = draw(st.sampled_from(["", "", "sub/", "https://files.test/wheels/", "/root/"]))
        raw["file_name"] = f"{where}{stem}-{version}-{draw(st.sampled_from(WHEEL_TAGS))}.whl"
    elif kind == "zip":
        raw["file_name"] = f"{stem}-{version}.zip"
    elif kind == "tar":
        raw["file_name"] = f"{project}-tests.tar"
    elif kind == "bad wheel":
        raw["file_name"] = draw(st.sampled_from([f"{stem}.whl", f"{stem}-{version}.whl", f"{stem}-x y-py3-none-any.whl"]))
    elif kind == "number":
        raw["file_name"] = 5
    known["good"] &= kind == "wheel"
    known["other"] = kind in ("zip", "tar")  # a file that is no wheel: a shared library, tests
    sha = draw(st.sampled_from(["hex", "HEX", "absent", "null", "number"]))
    if sha != "absent":
        raw["sha256"] = {"hex": "ab" * 32, "HEX": "AB" * 32, "null": None, "number": 5}[sha]
    known["good"] &= sha in ("hex", "HEX")
    depends_kind = draw(st.sampled_from(["list", "list", "list", "absent", "null", "string", "with null", "with number",
                                         "invalid", "object"]))
    depends = [_spelling(draw) + draw(st.sampled_from(SPECIFIERS))
               for _ in range(draw(st.integers(0, 2)))] + draw(st.lists(st.sampled_from(["ghost", "Ghost.Lib"]), max_size=1))
    raw["depends"] = {"list": depends, "absent": None, "null": None, "string": "alpha", "with null": depends + [None],
                      "with number": [5] + depends, "invalid": depends + ["alpha >>> 1"],
                      "object": {d: "1" for d in depends} or {"alpha": "1"}}[depends_kind]
    if depends_kind == "absent":
        del raw["depends"]
    known["good"] &= depends_kind in ("list", "absent", "null")
    known["depends"] = depends if depends_kind == "list" else []
    raw["package_type"] = draw(st.sampled_from(["package", "shared_library", "cpython_module"]))
    raw["imports"] = draw(st.sampled_from([[project.replace("-", "_")], [], "x", None]))
    raw["install_dir"] = draw(st.sampled_from(["site", "dynlib", "stdlib", 5]))
    known["name"] = canonicalize_name(raw["name"] if raw.get("name") else stem)
    known["other name"] = canonicalize_name(raw["name"] if raw.get("name") else key)
    known["file_name"] = raw.get("file_name")
    known["sha256"] = str(raw.get("sha256")).lower()
    if not draw(st.integers(0, 9)):  # now and then no object at all
        return key, draw(st.sampled_from([None, 5, "alpha", ["alpha"]])), {**known, "good": False, "other": False}
    return key, raw, known


def _expected(listed: list[tuple[str, Any, dict[str, Any]]]) -> dict[str, tuple[str, str, str, list[str]]]:
    """The model: every well-formed wheel entry, by its canonical name (the last of one name
    wins, as a JSON object's last key does), its file at its name's URL relative to the lock,
    its sha256 in lower case, and what it depends on, less the names only a file other than
    a wheel has."""
    good = {known["name"]: known for _, _, known in listed if known["good"]}
    others = {known["other name"] for _, _, known in listed if known["other"]} - set(good)
    return {name: (known["version"], urljoin(LOCK_URL, known["file_name"]), known["sha256"],
                   [d for d in known["depends"] if canonicalize_name(Requirement(d).name) not in others])
            for name, known in good.items()}


_SSL = {"version": "1.0", "file_name": "ssl-1.0-py3-none-any.whl", "sha256": "ab" * 32}
_KNOWN_SSL = {"project": "ssl", "good": False, "version": "1.0", "other": False, "depends": [], "name": "ssl",
              "other name": "ssl", "file_name": "ssl-1.0-py3-none-any.whl", "sha256": "ab" * 32}


@FAST
@given(st.lists(entries(), max_size=6, unique_by=lambda e: e[0]))
@example([("ssl", {**_SSL, "depends": "alpha"}, _KNOWN_SSL)]).via("a string's letters were its dependencies")
@example([("ssl", {**_SSL, "depends": [None]}, _KNOWN_SSL)]).via("a null was a dependency on a project 'none'")
def test_a_lock_gives_exactly_its_well_formed_wheel_entries(listed: list[tuple[str, Any, dict[str, Any]]]) -> None:
    body = json.dumps({"info": {"arch": "wasm32"}, "packages": {key: raw for key, raw, _ in listed}}).encode()
    got = parse_distribution_lock(body, LOCK_URL)
    assert {name: (str(e.metadata.version), e.file.url, e.file.sha256, [str(r) for r in e.metadata.requires_dist])
            for name, e in got.items()} == {
        name: (str(Version(v)), url, sha, [str(Requirement(d)) for d in depends])
        for name, (v, url, sha, depends) in _expected(listed).items()}
    for name, entry in got.items():
        assert entry.metadata.name == name and entry.file.filename == entry.file.url.rsplit("/", 1)[-1]


@FAST
@given(st.one_of(st.binary(max_size=20), st.sampled_from([b"[]", b"{}", b'{"packages": []}', b'{"packages": 5}',
                                                          b'{"packages": "alpha"}', b"\xff\xfe{}", b"null"])))
def test_what_is_no_lock_is_said_with_its_url(body: bytes) -> None:
    try:
        got = parse_distribution_lock(body, LOCK_URL)
    except errors.IndexFormatError as exc:
        assert LOCK_URL in str(exc) and "pyodide-lock.json" in str(exc)
    else:
        assert isinstance(json.loads(body)["packages"], dict) and got == {}


def test_an_entry_naming_a_wheel_of_another_project_is_refused_naming_both() -> None:
    # It was taken under its name: `lock --distribution` wrote a lock naming "native" with
    # other-2.0-...whl (exit 0), which load_lock refused; the browser refused it at download.
    def entry(name: str, file: str, version: str = "2.0") -> dict[str, object]:
        return {"name": name, "version": version, "file_name": file, "sha256": "ab" * 32, "depends": []}
    body = json.dumps({"packages": {"native": entry("native", "other-2.0-py3-none-any.whl")}}).encode()
    with pytest.raises(errors.IndexFormatError) as info:
        parse_distribution_lock(body, LOCK_URL)
    assert ("its entry 'native' names the wheel other-2.0-py3-none-any.whl, which is a wheel of other, not of native; "
            "fix the entry's name or file_name") in str(info.value) and LOCK_URL in str(info.value)
    # Another spelling of its own name is its own (PEP 503).
    assert list(parse_distribution_lock(json.dumps({"packages": {"a-b": entry("A.B", "a_b-2.0-py3-none-any.whl")}}
                                                   ).encode(), LOCK_URL)) == ["a-b"]
    # One key twice: the last, as JSON.parse in Pyodide's own loader takes it (not refused).
    twice = ('{"packages": {"six": %s, "six": %s}}' % (json.dumps(entry("six", "six-1.0-py3-none-any.whl", "1.0")),
                                                       json.dumps(entry("six", "six-2.0-py3-none-any.whl")))).encode()
    assert str(parse_distribution_lock(twice, LOCK_URL)["six"].metadata.version) == "2.0"


# --- resolution over an index and the distribution ------------------------------------------

NAMES = ("a", "b", "c")
_Need = tuple[str, str | None, int]  # project, operator (None: any version), bound
_Index = dict[str, dict[int, tuple[bool, list[_Need]]] | None]  # project -> version -> (fits the runtime, needs); None: 404
_Own = dict[str, tuple[int, bool, list[str]] | None]  # project -> the lock's (version, fits, depends)
COMPARE = {"==": operator.eq, "<=": operator.le, ">=": operator.ge, "!=": operator.ne}
FITS, ELSEWHERE = "py3-none-any", "cp314-cp314-manylinux_2_28_x86_64"

_needs = st.lists(st.tuples(st.sampled_from(NAMES), st.sampled_from([None, "==", "<=", ">=", "!="]), st.integers(1, 3)),
                  max_size=2, unique_by=lambda n: n[0])
_fits = st.sampled_from([True, True, False])


def _pages(project: str) -> st.SearchStrategy[dict[int, tuple[bool, list[_Need]]]]:
    # No version needs its own project (the lock's may: it names no version): "a 2 requires
    # a==1" makes the resolver's error name that conflict, not a project missing elsewhere.
    others = _needs.map(lambda needs: [n for n in needs if n[0] != project])
    return st.dictionaries(st.integers(1, 3), st.tuples(_fits, others), max_size=3)


_indexes = st.fixed_dictionaries({p: st.one_of(st.none(), _pages(p), _pages(p)) for p in NAMES})
# The lock names dependencies only; "ghost" is nowhere, "libx" the lock's shared-library zip.
_entries = st.tuples(st.integers(1, 4), _fits, st.lists(st.sampled_from([*NAMES, "ghost", "libx"]), max_size=2, unique=True))
_owns = st.fixed_dictionaries({p: st.one_of(st.none(), _entries, _entries) for p in NAMES})


def _candidates(index: _Index, own: _Own, name: str) -> list[tuple[int, str, list[_Need]]]:
    """``(version, source, needs)`` of ``name``: each version the index has a fitting wheel
    of, and the lock's version where the index has none of it for the runtime; the lock's
    needs take the specifiers of the index's metadata of that version (a wheel for another
    platform), and leave out the shared library."""
    page = index.get(name) or {}
    found = [(v, "index", needs) for v, (fits, needs) in page.items() if fits]
    entry = own.get(name)
    if entry is not None and entry[1] and not (entry[0] in page and page[entry[0]][0]):
        theirs = {n: (n, op, bound) for n, op, bound in page[entry[0]][1]} if entry[0] in page else {}
        found.append((entry[0], "distribution", [theirs.get(n, (n, None, 0)) for n in entry[2] if n != "libx"]))
    return found


def _resolutions(index: _Index, own: _Own, root: str, wild: frozenset[str] = frozenset(),
                 loose: bool = False) -> list[dict[str, tuple[int, str]]]:
    """Every choice of one candidate or none per project that installs ``root`` and meets
    every need of what it chose; a project in ``wild`` has a candidate that meets any need;
    ``loose``: any version meets a need."""
    names = [*NAMES, "ghost"]
    options = [[None, *([(0, "wild", [])] if name in wild else _candidates(index, own, name))] for name in names]
    found = []
    for choice in itertools.product(*options):
        chosen = {name: c for name, c in zip(names, choice) if c is not None}
        if root in chosen and all(n in chosen and (op is None or loose or n in wild or COMPARE[op](chosen[n][0], bound))
                                  for _, _, needs in chosen.values() for n, op, bound in needs):
            found.append({name: (c[0], c[1]) for name, c in chosen.items()})
    return found


def _resolve_mixed(index: _Index, own: _Own, root: str, spell: Any = str) -> dict[str, tuple[int, str]]:
    """Resolve ``root`` over ``index`` and ``own``, the lock's names (keys, names, files,
    depends) spelled by ``spell``; by project: the version chosen, and where its file is."""
    fake = FakeIndex({p: {str(v): {"tag": FITS if fits else ELSEWHERE,
                                   "requires": [f"{n}{op or ''}{bound if op else ''}" for n, op, bound in needs]}
                          for v, (fits, needs) in versions.items()}
                      for p, versions in index.items() if versions is not None})
    lock = {"packages": {spell(p): {"name": spell(p), "version": str(v), "sha256": "ab" * 32,
                                    "depends": [spell(d) for d in depends],
                                    "file_name": f"{spell(p)}-{v}-{OURS if fits else ELSEWHERE}.whl"}
                         for p, entry in own.items() if entry is not None for v, fits, depends in [entry]}}
    lock["packages"][spell("libx")] = {"name": spell("libx"), "version": "1.0", "file_name": f"{spell('libx')}-1.0.zip",
                                       "sha256": "cd" * 32, "package_type": "shared_library", "depends": []}
    loads = []

    async def distribution():  # type: ignore[no-untyped-def]
        loads.append(1)
        return parse_distribution_lock(json.dumps(lock).encode(), LOCK_URL)

    client = IndexClient(fake, [BASE], RetryPolicy(attempts=1, backoff=0), sleep=no_sleep)
    result = asyncio.run(resolve([root], TARGET, client, {}, ResolveOptions(), distribution=distribution))
    names = [d.name for d in result.dists]
    assert len(names) == len(set(names)), names  # never a project twice
    assert len(loads) <= 1
    return {d.name: (int(str(d.version)), "distribution" if d.file.url.startswith("https://cdn.test/") else "index")
            for d in result.dists}


@FAST
@given(_indexes, _owns, st.sampled_from([str, str.upper]))
def test_a_project_comes_from_the_index_first_then_the_distribution(index: _Index, own: _Own, spell: Any) -> None:
    solutions = _resolutions(index, own, "a")
    try:
        chosen = _resolve_mixed(index, own, "a", spell)
    except (errors.ResolutionImpossibleError, errors.ProjectNotFoundError, errors.NoCompatibleWheelError) as exc:
        assert not solutions, exc
        # Where only projects neither source has for the runtime stand in the way (every
        # way needs one, and no version conflict does: had either source one, any version
        # would do), the error names one.
        missing = frozenset(n for n in [*NAMES, "ghost"] if not _candidates(index, own, n))
        had = _resolutions(index, own, "a", missing)
        if had and had == _resolutions(index, own, "a", missing, loose=True):
            assert any(f"'{n}'" in str(exc) or str(exc).startswith(f"{n} ") for n in missing), exc
        return
    assert chosen in solutions
    # Where the index has a version of every project for the runtime, and they resolve, the
    # distribution has no part in it.
    index_only = _resolutions(index, {}, "a")
    if index_only and all(any(fits for fits, _ in (index[p] or {}).values()) for p in NAMES):
        assert all(source == "index" for _, source in chosen.values()), chosen


def _wheel(name: str, version: int, source: str, tag: str, requires: list[str]) -> bytes:
    return bytes(make_wheel(name, str(version), {f"{name}/__init__.py": f"SOURCE = {source!r}\n"}, tag=tag,
                            requires=requires))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_indexes, _owns)
def test_an_install_takes_each_project_once_from_its_source(index: _Index, own: _Own) -> None:
    # End to end: what is installed is one of the model's resolutions, each project once, its
    # files from the source the model says (the index's wheel where it has that version).
    fake = FakeIndex({p: {str(v): {"tag": FITS if fits else ELSEWHERE, "body": _wheel(p, v, "index", FITS, reqs),
                                   "requires": reqs}
                          for v, (fits, needs) in versions.items()
                          for reqs in [[f"{n}{op or ''}{bound if op else ''}" for n, op, bound in needs]]}
                      for p, versions in index.items() if versions is not None})
    packages: dict[str, Any] = {"libx": {"name": "libx", "version": "1.0", "file_name": "libx-1.0.zip",
                                         "sha256": "cd" * 32, "package_type": "shared_library", "depends": []}}
    for p, entry in own.items():
        if entry is not None:
            v, fits, depends = entry
            filename = f"{p}-{v}-{OURS if fits else ELSEWHERE}.whl"
            body = _wheel(p, v, "distribution", OURS if fits else ELSEWHERE, [d for d in depends if d != "libx"])
            fake.routes[f"https://cdn.test/full/{filename}"] = Response(f"https://cdn.test/full/{filename}", 200, body, {})
            packages[p] = {"name": p, "version": str(v), "file_name": filename, "sha256": hashlib.sha256(body).hexdigest(),
                           "depends": depends, "package_type": "package"}
    fake.routes[LOCK_URL] = Response(LOCK_URL, 200, json.dumps({"packages": packages}).encode(), {})
    solutions = _resolutions(index, own, "a")
    with tempfile.TemporaryDirectory() as folder:
        site = Path(folder, "site-packages")
        site.mkdir()
        session = api.Session(target=TARGET, transport=fake, loader=NoLibraryLoader(), use_cache=False,
                              scheme=Scheme(str(site), str(site), f"{folder}/bin", f"{folder}/include", folder),
                              retry=RetryPolicy(attempts=1, backoff=0), distribution_url=LOCK_URL)
        try:
            asyncio.run(api.install(["a"], BASE, session=session, quiet=True))
        except (errors.ResolutionImpossibleError, errors.ProjectNotFoundError, errors.NoCompatibleWheelError):
            assert not solutions
            assert list(site.iterdir()) == []
            return
        found = installed_distributions(Scheme(str(site), str(site), f"{folder}/bin", f"{folder}/include", folder))
        assert len({d.name for d in found}) == len(found), found
        got = {d.name: (int(d.version), (site / d.name / "__init__.py").read_text().split("'")[1]) for d in found}
    assert got in solutions



def test_the_folder_of_the_distributions_wheels_is_one_with_or_without_its_slash() -> None:
    # Session.distribution_files_url, as Pyodide's packageBaseUrl, which Pyodide reads as a
    # folder either way: without the slash, urljoin looked for every wheel in its parent.
    lock = {"packages": {"alpha": {"name": "alpha", "version": "1.0", "file_name": "alpha-1.0-py3-none-any.whl",
                                   "sha256": "ab" * 32, "depends": []}}}
    fake = FakeIndex({})
    fake.routes[LOCK_URL] = Response(LOCK_URL, 200, json.dumps(lock).encode(), {})
    for folder, where in (("https://wheels.test/pyodide/", "https://wheels.test/pyodide/"),
                          ("https://wheels.test/pyodide", "https://wheels.test/pyodide/"),
                          (None, "https://cdn.test/full/")):  # beside the lock
        entries = asyncio.run(load_distribution(fake, LOCK_URL, RetryPolicy(attempts=1, backoff=0), folder))
        assert entries["alpha"].file.url == f"{where}alpha-1.0-py3-none-any.whl"


def test_a_wheel_below_the_lock_or_at_an_absolute_url_is_an_entry() -> None:
    # Pyodide fetches new URL(file_name, base), so a lock (pyodide-lock's add_wheels with a
    # base URL) may name wheels anywhere: such entries were left out, their file name being
    # no wheel's, and a project only they offered was not found.
    lock = {"packages": {
        "alpha": {"name": "alpha", "version": "1.0", "file_name": "https://files.test/w/alpha-1.0-py3-none-any.whl",
                  "sha256": "ab" * 32, "depends": ["beta-gamma"]},
        "beta-gamma": {"name": "beta_gamma", "version": "2.0", "file_name": f"sub/beta_gamma-2.0-{OURS}.whl",
                       "sha256": "cd" * 32, "depends": []},
        "delta": {"name": "delta", "version": "1.0+local", "file_name": "../delta-1.0%2Blocal-py3-none-any.whl",
                  "sha256": "ef" * 32, "depends": []}}}
    entries = parse_distribution_lock(json.dumps(lock).encode(), LOCK_URL)
    assert {name: (e.file.filename, e.file.url) for name, e in entries.items()} == {
        "alpha": ("alpha-1.0-py3-none-any.whl", "https://files.test/w/alpha-1.0-py3-none-any.whl"),
        "beta-gamma": (f"beta_gamma-2.0-{OURS}.whl", f"https://cdn.test/full/sub/beta_gamma-2.0-{OURS}.whl"),
        "delta": ("delta-1.0+local-py3-none-any.whl", "https://cdn.test/delta-1.0%2Blocal-py3-none-any.whl")}

    async def distribution():  # type: ignore[no-untyped-def]
        return entries

    client = IndexClient(FakeIndex({}), [BASE], RetryPolicy(attempts=1, backoff=0), sleep=no_sleep)
    result = asyncio.run(resolve(["alpha"], TARGET, client, {}, ResolveOptions(), distribution=distribution))
    assert {d.name: d.file.url for d in result.dists if d.file is not None} == {
        "alpha": "https://files.test/w/alpha-1.0-py3-none-any.whl",
        "beta-gamma": f"https://cdn.test/full/sub/beta_gamma-2.0-{OURS}.whl"}
