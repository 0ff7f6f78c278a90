"""Wheel selection, generated: the Finder's choice against a brute-force model of the spec.

The model knows each file's parts because it wrote its name: a wheel fits when one tag of
its (compressed) tag set is the target's, its project is the page's, and its Requires-Python
holds (one that does not parse excludes that file only). Of a version's fitting files the
one chosen is not yanked where one is not (PEP 592), then has the best-ranked tag, then the
largest build tag (the binary distribution format's tie-breaker).
"""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import example, given, settings
from hypothesis import strategies as st
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from pyemscripten.candidates import Finder, KnownData, ResolveOptions
from pyemscripten.index_pages import IndexFile, ProjectPage
from pyemscripten.target import Target
from tests.unit.test_target import _accepted

PAGE = "https://index.test/simple/demo/"
TARGETS = [("pyemscripten_2026_0_wasm32", "3.14.2"), ("pyemscripten_2026_0_wasm32", "3.14"),
           ("pyemscripten_2025_0_wasm32", "3.13.2"), ("pyemscripten_2026_5_wasm32", "3.15.0rc1")]
BROWSER = ["pyemscripten_2026_0_wasm32", "pyodide_2026_0_wasm32", "pyemscripten_2025_0_wasm32", "pyodide_2025_0_wasm32",
           "pyemscripten_2026_5_wasm32", "emscripten_5_0_3_wasm32", "pyodide_2024_0_wasm32", "pyemscripten_2026_00_wasm32"]
PLATFORMS = BROWSER + ["any", "manylinux_2_17_x86_64", "wasi_0_0_0_wasm32", "PYEMSCRIPTEN_2026_0_WASM32"]
INTERPRETERS = ["cp314", "cp313", "cp315", "cp312", "cp39", "py3", "py2", "py314", "py315", "pp310"]
ABIS = ["cp314", "cp313", "cp315", "abi3", "none", "cp314t"]


@dataclass(frozen=True)
class Wheel:
    """A file of the page, as generated: what the model reads instead of parsing its name."""

    name: str
    version: str
    build: str | None
    interpreters: tuple[str, ...]
    abis: tuple[str, ...]
    platforms: tuple[str, ...]
    requires_python: str | None
    yanked: str | None

    @property
    def filename(self) -> str:
        tags = [".".join(self.interpreters), ".".join(self.abis), ".".join(self.platforms)]
        return "-".join([self.name, self.version] + ([self.build] if self.build else []) + tags) + ".whl"

    @property
    def tags(self) -> set[str]:
        return {f"{i}-{a}-{p}".lower() for i in self.interpreters for a in self.abis for p in self.platforms}

    @property
    def build_key(self) -> tuple[int, str] | tuple[()]:
        if not self.build:
            return ()
        digits = len(self.build) - len(self.build.lstrip("0123456789"))
        return int(self.build[:digits]), self.build[digits:]


def _parts(pool: list[str]) -> st.SearchStrategy[tuple[str, ...]]:
    return st.lists(st.sampled_from(pool), min_size=1, max_size=2, unique=True).map(tuple)


wheels = st.builds(
    Wheel,
    st.sampled_from(["demo", "demo", "demo", "Demo", "other"]),
    st.sampled_from(["1.0", "1.0", "1.0.0", "2.0", "2.0b1", "1.0.post1", "3.0"]),
    st.sampled_from([None, None, "1", "2", "10", "1a", "1b"]),
    _parts(INTERPRETERS), _parts(ABIS), _parts(PLATFORMS),
    st.sampled_from([None, None, "", ">=3.14", "<3.14", ">=3.15", "==3.14.*", ">=3.14.3", "not a specifier"]),
    st.sampled_from([None, None, None, "", "broken"]),
)


def _python_ok(wheel: Wheel, target: Target) -> bool:
    if not wheel.requires_python:
        return True
    try:
        return SpecifierSet(wheel.requires_python).contains(target.python_release, prereleases=True)
    except InvalidSpecifier:
        return False


def _finder(target: Target, page: list[Wheel]) -> Finder:
    files = tuple(IndexFile(w.filename, f"https://files.test/{i}/{w.filename}", (("sha256", "00"),),
                            requires_python=w.requires_python, yanked=w.yanked) for i, w in enumerate(page))
    return Finder(target, KnownData(pages={"demo": ProjectPage("demo", PAGE, files)}), {}, ResolveOptions())


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(TARGETS), st.lists(wheels, max_size=8))
# A build of this platform's legacy spelling for another Python was said to be for "other
# runtimes", which "do not load here: use the runtime they were built for".
@example(TARGETS[0], [Wheel("demo", "1.0", None, ("cp315",), ("abi3",), ("pyodide_2026_0_wasm32",), None, None)])
# PEP 783's tag is an exact string: 2026_00 is another platform than 2026_0.
@example(TARGETS[0], [Wheel("demo", "1.0", None, ("cp314",), ("cp314",), ("pyemscripten_2026_00_wasm32",), None, None)])
def test_each_version_gets_the_wheel_the_spec_chooses(runtime: tuple[str, str], page: list[Wheel]) -> None:
    target = Target.for_platform(*runtime)
    ranks = {tag: i for i, tag in enumerate(target.tag_strings)}
    ours = [w for w in page if canonicalize_name(w.name) == "demo"]
    fitting: dict[Version, list[tuple[tuple[bool, int, tuple[int, str] | tuple[()]], Wheel]]] = {}
    for wheel in ours:
        rank = min((ranks[t] for t in wheel.tags if t in ranks), default=None)
        if rank is not None and _python_ok(wheel, target):
            # best first: not yanked, best tag, then the largest build tag
            key = (wheel.yanked is not None, rank, wheel.build_key)
            fitting.setdefault(Version(wheel.version), []).append((key, wheel))
    finder = _finder(target, page)
    got = finder.versions("demo")
    assert [v for v, _ in got] == sorted(fitting, reverse=True)
    for version, file in got:
        options = fitting[version]
        yanked, rank = min((key[0], key[1]) for key, _ in options)
        build = max(key[2] for key, _ in options if (key[0], key[1]) == (yanked, rank))
        assert file.filename in {w.filename for key, w in options if key == (yanked, rank, build)}, (
            file.filename, [(key, w.filename) for key, w in options])
        # Nothing another runtime needs, by the spec's model rather than the target's list.
        minor = int(target.python_version.split(".")[1])
        assert any(_accepted(tuple(tag.split("-")), target.platform, minor)  # type: ignore[arg-type]
                   for tag in next(w for _, w in options if w.filename == file.filename).tags)
    # The version tried first: the newest not yanked, a final release where there is one.
    plain = [(v, f) for v, f in got if f.yanked is None] or got
    finals = [(v, f) for v, f in plain if not v.is_prerelease] or plain
    assert finder.newest("demo") == (finals[0] if finals else None)
    if not fitting:
        _check_no_wheel_error(finder, target, ours)


def _check_no_wheel_error(finder: Finder, target: Target, ours: list[Wheel]) -> None:
    error = finder.no_wheel_error("demo", ["app 1.0"])
    text = str(error)
    offered = {t for w in ours for t in w.tags}
    assert set(error.offered_tags) == offered and len(error.offered_tags) == len(offered)
    assert str(target.platform) in error.needed_tags and "py3-none-any" in error.needed_tags
    assert str(target.platform) in text and target.python_version in text
    fits = set(target.tag_strings)
    assert error.python_excluded == any(w.tags & fits for w in ours)
    # Browser builds that do not fit are named, each once, as for this platform (in either
    # spelling: only the Python differs) or for another runtime.
    this = {str(target.platform), target.platform.legacy}
    browser = {t for t in offered if t.rpartition("-")[2] in {p.lower() for p in BROWSER}} - fits
    for tag in browser:
        assert text.count(f"{tag} (demo ") <= 1, (tag, text)
    # Browser builds lead the tags on offer (the most telling first), those that fit too.
    is_browser = [tag.rpartition("-")[2] in {p.lower() for p in BROWSER} for tag in error.offered_tags]
    assert is_browser == sorted(is_browser, reverse=True), error.offered_tags
    lines = text.splitlines()
    for label, where in (("this platform", lambda tag: tag.rpartition("-")[2] in this),
                         ("other runtimes", lambda tag: tag.rpartition("-")[2] not in this)):
        line = next((line for line in lines if f"Browser builds are on offer for {label}: " in line), "")
        group = {tag for tag in browser if where(tag)}
        named = {tag for tag in browser if f"{tag} (demo " in line}
        assert named <= group, (label, text)
        assert len(named) == min(len(group), 4), (label, text)


SPECIFIERS = ["", ">=1.0", "==1.0", "==1.0.0", "==2.0b1", "<2", ">1.0", "!=1.0", ">=2.0b1", "===1.0", "==1.*", "<3.0",
              "~=1.0", ">=1.0,<2.0b1"]


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(TARGETS), st.lists(wheels, max_size=8), st.lists(st.sampled_from(SPECIFIERS), max_size=2),
       st.booleans())
def test_the_candidates_are_the_versions_the_specifiers_admit(runtime: tuple[str, str], page: list[Wheel],
                                                               specifiers: list[str], pre: bool) -> None:
    # PEP 440 (pre-releases only when asked for, named, or when nothing else fits) and PEP
    # 592 (a yanked file only for an exact pin, and only when every fitting version is yanked).
    from pyemscripten.candidates import Dependency

    target = Target.for_platform(*runtime)
    finder = _finder(target, page)
    finder.options = ResolveOptions(pre=pre)
    deps = [Dependency.parse(f"demo{spec}") for spec in specifiers]
    spec = SpecifierSet(",".join(s for s in specifiers if s))
    exact = any(s.operator in ("==", "===") and "*" not in s.version for s in spec)
    versions = finder.versions("demo")
    usable = [(v, f) for v, f in versions if exact or f.yanked is None]
    admitted = set(spec.filter([v for v, _ in usable], prereleases=True if pre else None))
    if exact and usable and all(f.yanked is not None for v, f in usable if v in admitted):
        expected = [v for v, _ in usable if v in admitted]
    else:
        expected = [v for v, f in usable if v in admitted and f.yanked is None]
    got = finder.candidates("demo", frozenset(), deps)
    assert [c.version for c in got] == expected
    assert all(c.file == dict(versions)[c.version] for c in got)
