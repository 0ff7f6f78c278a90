"""``index`` then ``lock``, in-process, for generated wheels and requirements, against a model.

The model is brute force: every choice of versions (a project left out, or one of its
versions that has a wheel for the target) that meets every requirement, constraint and
dependency (markers evaluated for the target) and holds no project nothing asks for. The
lock must read back (:func:`~pyemscripten.locks.load_lock`) as one of those choices, with
the newest version of each project wherever a newer one would also have done, and the
target's best wheel of each version; no choice at all must end in exit status 1 and an
"error:" line naming a project, never a traceback. The index is served over http (with
credentials in its URL, with or without ``--relative-to``), or read as a local folder, or
two (the first that has a project serves it).

Around it: the lock is the same bytes when made twice (and to stdout); ``index`` run again
over its own folder changes no file, and one made in several runs, or with wheels deleted
by hand, is the one made at once; wheels saved by ``--wheels-dir`` are where the lock says,
whatever the folders are named; bad arguments (and requirements files) end in exit status
2 and one "error:" naming the option; credentials in URLs are nowhere in the lock or on
stderr. Runtime: a few seconds.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urljoin

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from packaging.markers import Marker
from packaging.specifiers import SpecifierSet
from packaging.tags import parse_tag
from packaging.utils import canonicalize_name
from packaging.version import Version

from pyemscripten.__main__ import main
from pyemscripten.candidates import build_tag
from pyemscripten.locks import LockedWheel, load_lock
from pyemscripten.target import Target
from tests.support.index_server import IndexServer
from tests.support.wheels import dist_name, make_wheel, wheel_filename

# HUNT=2000 in the environment to hunt; function-scoped fixtures (capsys, monkeypatch) are
# read or reset by each example itself.
SOME = settings(max_examples=int(os.environ.get("HUNT", 25)), deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
MANY = settings(SOME, max_examples=int(os.environ.get("HUNT", 150)))  # those that resolve nothing

# Targets: (platform, Python) as the lock command is given them.
TARGETS = {"2026": ("pyemscripten_2026_0_wasm32", "3.14"), "2025": ("pyemscripten_2025_0_wasm32", "3.13")}

# Projects by their normalized name, each with spellings a wheel's METADATA or a requirement may use.
PROJECTS = {"alpha": ["alpha", "Alpha"], "be-ta": ["be-ta", "Be_Ta", "be.ta"], "gamma": ["gamma", "GAMMA"]}
VERSIONS = ["0.9.post1", "1.0", "1.0+cpu", "1.1", "2.0rc1", "2.0", "1!0.1", "2.0.dev1"]
TAGS = ["py3-none-any", "py2.py3-none-any", "cp314-cp314-pyemscripten_2026_0_wasm32",
        "cp313-cp313-pyemscripten_2025_0_wasm32", "cp312-abi3-pyemscripten_2026_0_wasm32",
        "cp313-cp313-pyodide_2025_0_wasm32", "cp314-cp314-manylinux_2_17_x86_64"]
REQUIRES_PYTHON = [None, None, ">=3.13", "<3.14", ">=3.14", "==3.13.*", "!=3.14.*"]
SPECIFIERS = ["", "", ">=1.1", "<2", "==1.0", "!=2.0", ">=2.0rc1", "~=1.0", "==2.*"]
MARKERS = ["", "", "sys_platform == 'emscripten'", "sys_platform == 'win32'", "python_version >= '3.14'"]


@dataclass(frozen=True)
class Wheel:
    tag: str
    requires_python: str | None
    build: str | None
    cased: bool = False  # its file name spells the project as its METADATA does (Be_Ta-1.0-...), not lower-cased


@dataclass(frozen=True)
class Release:
    spelling: str  # the name its METADATA and file name use
    wheels: tuple[Wheel, ...]
    requires: tuple[tuple[str, str, str], ...]  # (project spelling, specifier, marker)


@dataclass
class Case:
    releases: dict[str, dict[str, Release]]  # project -> version -> release
    requirements: list[tuple[str, str, str]]
    constraints: list[tuple[str, str]] = field(default_factory=list)
    target: str = "2026"
    pre: bool = False
    no_deps: bool = False
    second: frozenset[tuple[str, str]] = frozenset()  # (project, version) served by a second index only


def _requirement(spelling: str, specifier: str, marker: str = "") -> str:
    return f"{spelling}{specifier}" + (f"; {marker}" if marker else "")


_wheels = st.lists(st.builds(Wheel, st.sampled_from(TAGS), st.sampled_from(REQUIRES_PYTHON),
                             st.sampled_from([None, None, "1", "2"]), st.booleans()),
                   min_size=1, max_size=2, unique_by=lambda w: (w.tag, w.build)).map(tuple)
_needs = st.tuples(st.sampled_from([s for spellings in PROJECTS.values() for s in spellings]),
                   st.sampled_from(SPECIFIERS), st.sampled_from(MARKERS))


@st.composite
def _cases(draw: st.DrawFn) -> Case:
    releases: dict[str, dict[str, Release]] = {}
    for project, spellings in PROJECTS.items():
        versions = draw(st.lists(st.sampled_from(VERSIONS), min_size=project != "gamma", max_size=3, unique=True))
        releases[project] = {
            v: Release(draw(st.sampled_from(spellings)), draw(_wheels),
                       tuple(n for n in draw(st.lists(_needs, max_size=2)) if canonicalize_name(n[0]) != project))
            for v in versions}
    return Case(releases, draw(st.lists(_needs, min_size=1, max_size=3)),
                draw(st.lists(st.tuples(st.sampled_from([s for spellings in PROJECTS.values() for s in spellings]),
                                        st.sampled_from(SPECIFIERS[2:])), max_size=2)),
                draw(st.sampled_from(list(TARGETS))), draw(st.booleans()), draw(st.booleans()),
                frozenset(draw(st.lists(st.sampled_from([(p, v) for p, vs in releases.items() for v in vs]
                                                        or [("alpha", "1.0")])))))


# --- the model ------------------------------------------------------------------------------


def _target(case: Case) -> Target:
    return Target.for_platform(*TARGETS[case.target])


def _best_wheels(case: Case, project: str, version: str) -> set[str]:
    """The file names of the version's best wheels for the target (tag rank, then the highest
    build; wheels alike in both, such as py3-none-any and py2.py3-none-any, are as good)."""
    target = _target(case)
    release = case.releases[project][version]
    ranked = [(target.tag_rank(frozenset(parse_tag(w.tag))), w) for w in release.wheels
              if (w.requires_python is None or SpecifierSet(w.requires_python).contains(target.python_version))]
    fitting = [(rank, w) for rank, w in ranked if rank is not None]
    if not fitting:
        return set()
    rank = min(r for r, _ in fitting)
    names = [_filename(release.spelling, version, w) for r, w in fitting if r == rank]
    build = max(map(build_tag, names))
    return {name for name in names if build_tag(name) == build}


def _filename(spelling: str, version: str, wheel: Wheel) -> str:
    name = wheel_filename(spelling, version, wheel.tag, wheel.build)
    return re.sub(r"[-_.]+", "_", spelling) + name[len(dist_name(spelling)):] if wheel.cased else name


def _served(case: Case, project: str) -> list[str]:
    """The versions of ``project`` the first index that has it serves."""
    first = [v for v in case.releases[project] if (project, v) not in case.second]
    return first or list(case.releases[project])


def _solutions(case: Case) -> list[dict[str, Version]]:
    """Every choice of versions a lock may name (see the module's docstring)."""
    target = _target(case)
    env = target.marker_environment
    usable = {p: [v for v in _served(case, p) if _best_wheels(case, p, v)] for p in case.releases}
    found = []
    for choice in itertools.product(*[[None, *usable[p]] for p in PROJECTS]):
        chosen = {p: v for p, v in zip(PROJECTS, choice) if v is not None}
        asked = list(case.requirements)
        if not case.no_deps:
            asked += [n for p, v in chosen.items() for n in case.releases[p][v].requires]
        needs = [(canonicalize_name(s), SpecifierSet(spec)) for s, spec, marker in asked
                 if not marker or Marker(marker).evaluate(dict(env))]
        if {p for p, _ in needs} != set(chosen):
            continue
        specs = {p: [spec for q, spec in needs if q == p]
                 + [SpecifierSet(c) for q, c in case.constraints if canonicalize_name(q) == p] for p in chosen}
        if all(_may_choose(case, Version(chosen[p]), specs[p], [Version(v) for v in usable[p]]) for p in chosen):
            found.append({p: Version(v) for p, v in chosen.items()})
    return found


def _may_choose(case: Case, version: Version, specs: list[SpecifierSet], usable: list[Version]) -> bool:
    """Whether ``version`` meets ``specs``; a pre-release only with --pre, a specifier that
    names one, or no final version that meets them (PEP 440, as pip decides)."""
    if not all(s.contains(version, prereleases=True) for s in specs):
        return False
    if not version.is_prerelease or case.pre or any(s.prereleases for s in specs):
        return True
    return not any(not v.is_prerelease and all(s.contains(v, prereleases=True) for s in specs) for v in usable)


def _newest_where_possible(chosen: dict[str, Version], solutions: list[dict[str, Version]]) -> list[str]:
    """The projects of ``chosen`` that a newer version would also have done for, all else the same."""
    return [p for p, v in chosen.items()
            if any(s.keys() == chosen.keys() and s[p] > v and all(s[q] == chosen[q] for q in chosen if q != p)
                   for s in solutions)]


# --- running the commands -------------------------------------------------------------------


@pytest.fixture(scope="module")
def server() -> Iterator[IndexServer]:
    with IndexServer() as running:
        yield running


def _build(case: Case, folder: Path, second: bool = False) -> Path:
    """The case's wheels in ``folder / "dist"``, and the index the ``index`` command makes of
    them in ``folder / "simple"``; with ``second``, those of ``case.second`` only (``dist2``
    and ``simple2``), and the others without them."""
    dist = folder / ("dist2" if second else "dist")
    dist.mkdir()
    for project, versions in case.releases.items():
        for version, release in versions.items():
            if ((project, version) in case.second) != second:
                continue
            for wheel in release.wheels:
                make_wheel(release.spelling, version, {f"{project.replace('-', '_')}/__init__.py": b""},
                           requires=[_requirement(*n) for n in release.requires], tag=wheel.tag,
                           build=wheel.build, requires_python=wheel.requires_python,
                           filename=_filename(release.spelling, version, wheel)).write(dist)
    simple = folder / ("simple2" if second else "simple")
    args = ["index", "-o", str(simple)]
    if any(dist.iterdir()):
        args.insert(1, str(dist))
    assert main(args) == 0
    return simple


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _lock_args(case: Case, index_url: str) -> list[str]:
    platform, python = TARGETS[case.target]
    args = ["lock", *(_requirement(*r) for r in case.requirements), "--index-url", index_url,
            "--platform", platform, "--python-version", python]
    for project, spec in case.constraints:
        args += ["--constraint", f"{project}{spec}"]
    return args + ["--pre"] * case.pre + ["--no-deps"] * case.no_deps


@SOME
@given(_cases(), st.sampled_from(["local", "http", "relative", "two"]))
@example(Case({"alpha": {}, "be-ta": {"1.0": Release("be-ta", (Wheel("py3-none-any", None, None),), ())}, "gamma": {}},
              [("be-ta", "", "")]), "relative").via("--relative-to with the index's credentials: shown, and no path")
def test_index_then_lock_reads_back_as_the_models_choice(server: IndexServer, capsys: pytest.CaptureFixture[str],
                                                         case: Case, where: str) -> None:
    capsys.readouterr()
    with tempfile.TemporaryDirectory() as temp:
        folder = Path(temp)
        if where != "two":
            case = dataclasses.replace(case, second=frozenset())
        simple = _build(case, folder)
        pages = _tree(simple)
        # Again, with the wheels or without: nothing changes.
        assert main(["index", "-o", str(simple)]) == 0 and _tree(simple) == pages
        if any((folder / "dist").iterdir()):
            assert main(["index", str(folder / "dist"), "-o", str(simple)]) == 0 and _tree(simple) == pages
        prefix = os.path.basename(temp)
        server.mount(prefix, simple)
        secret = "s3cr3t-" + prefix
        url = str(simple) if where in ("local", "two") else f"http://user:{secret}@127.0.0.1:{server.port}/{prefix}/"
        # A local index's wheels are copied beside the lock; an http one's may be named by
        # their path from the folder the lock is served from (given as the index was, with
        # its credentials).
        extra = {"local": ["--wheels-dir", str(folder / "out" / "wheels")], "http": [],
                 "relative": ["--relative-to", url]}.get(where)
        if extra is None:  # two local indexes: the first that has a project serves it
            extra = ["--index-url", str(_build(case, folder, second=True)),
                     "--wheels-dir", str(folder / "out" / "wheels")]
        (folder / "out").mkdir()
        out = folder / "out" / "pylock.toml"
        capsys.readouterr()
        status = main([*_lock_args(case, url), *extra, "-o", str(out)])
        err = capsys.readouterr().err
        assert "Traceback" not in err and secret not in err
        solutions = _solutions(case)
        if not solutions:
            assert status == 1 and "\nerror: " in f"\n{err}", err
            error = err[err.index("error: "):]
            spelled = [s for spellings in PROJECTS.values() for s in spellings]
            assert any(re.search(rf"\b{re.escape(s)}\b", error) for s in spelled), err
            assert not out.exists()
            return
        assert status == 0, (solutions, err)
        text = out.read_text("utf-8")
        assert secret not in text
        chosen = load_lock(text, _target(case), lock_url="http://elsewhere.test/out/pylock.toml")
        if where != "http":
            assert all(w.file.url.startswith("http://elsewhere.test/out/") for w in chosen), text
        versions = {w.name: w.version for w in chosen}
        assert versions in solutions, (versions, solutions, err)
        assert not _newest_where_possible(versions, solutions), (versions, solutions, err)
        for wheel in chosen:
            assert wheel.file.filename in _best_wheels(case, wheel.name, _spelled(case, wheel)), wheel
        # Made again: the same bytes.
        assert main([*_lock_args(case, url), *extra, "-o", str(folder / "out" / "pylock.again.toml")]) == 0
        assert (folder / "out" / "pylock.again.toml").read_text("utf-8") == text
        if where in ("http", "relative"):  # and to stdout (where no folder is for --wheels-dir's paths)
            capsys.readouterr()
            assert main([*_lock_args(case, url), *extra, "-o", "-"]) == 0
            assert capsys.readouterr().out == text
        # The requirements and constraints read from files, as pip writes them: the same lock.
        (folder / "reqs").mkdir()
        (folder / "reqs" / "requirements.txt").write_text(
            "# generated\n-c pins.txt\n" + "".join(f"{_requirement(*r)}  # one\n" for r in case.requirements))
        (folder / "reqs" / "pins.txt").write_text("".join(f"{p}{spec}\n" for p, spec in case.constraints))
        from_files = dataclasses.replace(case, requirements=[], constraints=[])
        assert main([*_lock_args(from_files, url), "-r", str(folder / "reqs" / "requirements.txt"), *extra,
                     "-o", str(folder / "out" / "pylock.files.toml")]) == 0, capsys.readouterr().err
        assert (folder / "out" / "pylock.files.toml").read_text("utf-8") == text


def _spelled(case: Case, wheel: LockedWheel) -> str:
    """The version string the case wrote for a locked wheel's version."""
    return next(v for v in case.releases[wheel.name] if Version(v) == wheel.version)


# --- bad arguments --------------------------------------------------------------------------

# Text close to what each option takes, and garbage: no scheme a request would leave this
# machine with (hosts are .invalid, which never resolves). Not NUL, which no command line
# can hold, nor lone surrogates (bytes of a command line that are not UTF-8), which only a
# real stderr prints (with backslashreplace; capsys's is strict). Nor line breaks: an error
# says the value as given, so one with a line break in it is said on two lines.
_text = st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00\n\r"), max_size=12)
_garbage = st.one_of(
    _text,
    st.text(alphabet="abc:/.@%[]\\ \té3_-", max_size=16),
    st.sampled_from(["", "-", ".", "..", "/", "http://", "https://[", "http://h.invalid:99999/", "file:", "file://x/",
                     "file:///", "http://u:p@h.invalid/simple/%zz", "pyemscripten_2026_0_wasm32",
                     "pyodide_2025_0_wasm32",
                     "pyemscripten_2026_0_wasm64", "3", "3.14", "3.14.2", "3.14rc1", "4.0", "99999999999999999999.1",
                     "١.٣", "3.14 ", "pylock.toml", "x/pylock.toml"]),
)
_OPTIONS = ["--index-url", "--platform", "--python-version", "--constraint", "--distribution", "--relative-to", "-o",
            "-r", "--wheels-dir"]


@MANY
@given(st.sampled_from(_OPTIONS), _garbage)
def test_a_bad_argument_is_one_error_line_naming_its_option(monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str],
                                                           option: str, value: str) -> None:
    # Every argument is checked before the lock starts: the lock itself is stood in for.
    async def no_lock(args: object) -> str:
        return 'lock-version = "1.0"\npackages = []\n'

    monkeypatch.setattr("pyemscripten.__main__._lock", no_lock)
    with tempfile.TemporaryDirectory() as temp:
        monkeypatch.chdir(temp)
        capsys.readouterr()
        try:
            status = main(["lock", "attrs", option, value] + ([] if option == "-o" else ["-o", "-"]))
        except SystemExit as exit_:
            err = capsys.readouterr().err
            assert exit_.code == 2, err
            lines = err.rstrip("\n").split("\n")  # the value is said as given, whatever it holds
            said = [line for line in lines if "error: " in line]
            assert len(said) == 1 and said[0] == lines[-1], err
            names = f"({option}|-c)" if option == "--constraint" else option
            assert re.search(rf"error: (.* )?(\S+/)?{names}[ /:]", said[0]), err
        else:
            err = capsys.readouterr().err
            assert status in (0, 1), err
        assert "Traceback" not in err


_lines = st.lists(st.one_of(
    st.sampled_from(["attrs", "attrs>=1", "-r more.txt", "-c more.txt", "-rmore.txt", "--requirement=more.txt", "-r",
                     "-c", "-e .", "-i x", "--hash=sha256:00", "attrs \\", "# note", "attrs  # note",
                     "attrs[x] ; extra", "x @ http://h.invalid/x-1.0-py3-none-any.whl", "-r /", "-r .", "-r \\",
                     "\ufeffattrs", "-r more.txt#"]),
    st.text(alphabet="-rcabt=.#\\ ;[]@/\t", max_size=12)), max_size=4)


@MANY
@given(st.sampled_from(["-r", "-c", "--constraint"]), _lines, _lines,
       st.sampled_from(["utf-8", "utf-16", "utf-8-sig", "latin-1"]))
def test_a_requirements_file_is_read_or_refused_with_one_error_line(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], option: str, lines: list[str],
        more: list[str], encoding: str) -> None:
    async def no_lock(args: object) -> str:
        return 'lock-version = "1.0"\npackages = []\n'

    monkeypatch.setattr("pyemscripten.__main__._lock", no_lock)
    with tempfile.TemporaryDirectory() as temp:
        monkeypatch.chdir(temp)
        Path("reqs.txt").write_bytes("\n".join(lines).encode(encoding, "replace"))
        Path("more.txt").write_text("\n".join(more))
        capsys.readouterr()
        try:
            status = main(["lock", option, "reqs.txt", "-o", "-"])
        except SystemExit as exit_:
            err = capsys.readouterr().err
            assert exit_.code == 2, err
            # One error (an invalid requirement's is followed by packaging's caret under it).
            (error,) = [line for line in err.split("\n") if "error: " in line]
            assert re.search(r"error: (give at least one REQUIREMENT|(-r|-c) reqs\.txt: )", error), err
        else:
            err = capsys.readouterr().err
            assert status == 0, err
        assert "Traceback" not in err


# --- folders --------------------------------------------------------------------------------

_folder_names = st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00/"), min_size=1,
                        max_size=8).filter(lambda n: n not in (".", ".."))


@SOME
@given(_folder_names, _folder_names, st.booleans(), st.sampled_from(["path", "path/", "file URL"]))
@example("index", "a\\b", True, "path").via("a backslash in --wheels-dir's path, which a lock reads as a separator")
def test_wheels_saved_beside_the_lock_are_where_it_says(capsys: pytest.CaptureFixture[str], index_name: str,
                                                        wheels_name: str, inside: bool, given_as: str) -> None:
    # Whatever the folders are named, the lock names each wheel by the URL it is served at
    # from beside the lock: every folder on the way quoted, as a static server serves it.
    with tempfile.TemporaryDirectory() as temp:
        folder = Path(temp)
        make_wheel("alpha", "1.0", requires=["be-ta"]).write(folder / "dist")
        make_wheel("Be_Ta", "2.0").write(folder / "dist")
        index = folder / "indexes" / index_name / "simple"
        assert main(["index", str(folder / "dist"), "-o", str(index)]) == 0
        (folder / "out").mkdir()
        wheels = folder / "out" / wheels_name / "w" if inside else folder / "vendored" / wheels_name
        capsys.readouterr()
        try:
            status = main(["lock", "alpha", "--index-url", {"path": str(index), "path/": f"{index}{os.sep}",
                                                            "file URL": index.as_uri()}[given_as],
                           "--wheels-dir", str(wheels), "-o", str(folder / "out" / "pylock.toml")])
        except SystemExit as exit_:  # a folder no lock can name: said before resolving
            err = capsys.readouterr().err
            assert exit_.code == 2 and "error: --wheels-dir" in err, err
            return
        assert status == 0, capsys.readouterr().err
        chosen = load_lock((folder / "out" / "pylock.toml").read_text("utf-8"), _target(Case({}, [])),
                           lock_url="http://h.test/site/pylock.toml")
        served = {urljoin("http://h.test/site/", "/".join(quote(part) for part in
                                                          os.path.relpath(path, folder / "out").split(os.sep)))
                  for path in wheels.glob("*.whl")}
        assert {w.file.url for w in chosen} == served


# --- index, in several runs -----------------------------------------------------------------


@SOME
@given(_cases(), st.lists(st.integers(0, 2), min_size=12, max_size=12), st.lists(st.booleans(), min_size=12,
                                                                                 max_size=12))
def test_an_index_made_in_runs_is_the_index_made_at_once(capsys: pytest.CaptureFixture[str], case: Case,
                                                         runs: list[int], deleted: list[bool]) -> None:
    # Wheels added over several runs (a wheel given again in a later run too), or some deleted
    # by hand and the pages written again: the same files as one run with the wheels there.
    with tempfile.TemporaryDirectory() as temp:
        folder = Path(temp)
        _build(case, folder)
        wheels = sorted((folder / "dist").iterdir())
        for run in range(3):
            given = [str(w) for i, w in enumerate(wheels) if runs[i % len(runs)] <= run <= runs[i % len(runs)] + 1]
            assert main(["index", *given, "-o", str(folder / "runs")]) == 0
        assert _tree(folder / "runs") == _tree(folder / "simple")
        kept = [w for i, w in enumerate(wheels) if not deleted[i % len(deleted)]]
        for i, wheel in enumerate(wheels):
            if deleted[i % len(deleted)]:
                project = next(p for p in (folder / "runs").iterdir() if (p / wheel.name).exists())
                (project / wheel.name).unlink()
        assert main(["index", "-o", str(folder / "runs")]) == 0
        assert main(["index", *map(str, kept), "-o", str(folder / "kept")]) == 0
        assert _tree(folder / "runs") == _tree(folder / "kept")


# --- credentials ----------------------------------------------------------------------------


@pytest.mark.parametrize("served", ["this runtime", "another runtime", "missing", "not JSON", "hash mismatch"])
def test_a_distributions_credentials_are_not_shown(server: IndexServer, capsys: pytest.CaptureFixture[str],
                                                   served: str) -> None:
    # A private mirror of the runtime's distribution, given with its user:password@: whatever
    # it serves, the password is nowhere in the lock or on stderr.
    import hashlib
    import json

    native = make_wheel("native", "2.0", tag="cp314-cp314-pyemscripten_2026_0_wasm32")
    old = make_wheel("native", "2.0", tag="cp312-cp312-pyodide_2024_0_wasm32")
    wheel = old if served == "another runtime" else native
    entry = {"name": "native", "version": "2.0", "file_name": wheel.filename, "depends": [],
             "sha256": "0" * 64 if served == "hash mismatch" else hashlib.sha256(wheel).hexdigest(),
             "install_dir": "site", "package_type": "package"}
    body = b"{" if served == "not JSON" else json.dumps({"packages": {"native": entry}}).encode()
    files = {} if served == "missing" else {"pyodide-lock.json": body, wheel.filename: bytes(wheel)}
    server.mount(f"/runtime-{served.replace(' ', '-')}/", files)
    with tempfile.TemporaryDirectory() as temp:
        make_wheel("app", "1.0", requires=["native"]).write(Path(temp) / "dist")
        assert main(["index", str(Path(temp) / "dist"), "-o", str(Path(temp) / "simple")]) == 0
        capsys.readouterr()
        main(["lock", "app", "--index-url", str(Path(temp) / "simple"), "--wheels-dir", str(Path(temp) / "w"),
              "--distribution", f"http://u:hunter2@127.0.0.1:{server.port}/runtime-{served.replace(' ', '-')}"
              "/pyodide-lock.json", "-o", str(Path(temp) / "pylock.toml")])
        err = capsys.readouterr().err
        lock = Path(temp, "pylock.toml").read_text("utf-8") if Path(temp, "pylock.toml").exists() else ""
    assert "hunter2" not in err + lock and "Traceback" not in err, err


@MANY
@given(st.lists(_garbage, max_size=2), _garbage, st.booleans())
def test_index_refuses_bad_arguments_with_an_error_line(monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str], wheels: list[str],
                                                        output: str, wheel_there: bool) -> None:
    # Garbage as WHEEL and -o (next to a real wheel, and a file, in the folder it runs in):
    # an index written, or one "error:" line (exit status 1, 2 for argparse's own), never a traceback.
    with tempfile.TemporaryDirectory() as temp:
        monkeypatch.chdir(temp)
        if wheel_there:
            make_wheel("alpha", "1.0").write(temp)
        Path("file").write_text("")
        capsys.readouterr()
        try:
            status: object = main(["index", *wheels, "-o", output])
        except SystemExit as exit_:
            status = exit_.code
        err = capsys.readouterr().err
        assert "Traceback" not in err
        if status != 0:
            assert status in (1, 2) and len([line for line in err.split("\n") if "error: " in line]) == 1, err
