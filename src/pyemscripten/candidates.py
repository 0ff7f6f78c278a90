"""What resolution reasons about: requirements, candidates, and what is known so far.

Pure. :class:`Finder` answers, for one :class:`~pyemscripten.target.Target`, which
versions of a project have a wheel this runtime can install (best wheel per version), which
of them satisfy a set of requirements, and what a candidate depends on (markers evaluated,
extras applied). When a page or a metadata file is not known yet it raises
:class:`NeedData`, which the driver answers by fetching, never by guessing.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit, urlunsplit

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.tags import Tag
from packaging.utils import canonicalize_name, parse_wheel_filename
from packaging.version import Version

from .credentials import SCHEME_PATTERN
from .distribution import DistributionEntry
from .errors import (
    InvalidRequirementError,
    MetadataError,
    NoCompatibleWheelError,
    ProjectNotFoundError,
    PyemscriptenError,
    listed,
    redact_url,
)
from .index_pages import ACCEPTED_HASHES, IndexFile, ProjectPage, fragment_hash
from .metadata import DistMetadata, check_requirement
from .target import Target

USER = "you"  # the parent label of a requirement the user gave
# The name of what a candidate needs when its METADATA's Requires-Python excludes the
# runtime's Python: no project can have it (PEP 508 names hold no "<"), so nothing satisfies it.
PYTHON = "<python>"
# ... and when its metadata cannot be read (invalid fields): pip, too, passes over such a version.
UNREADABLE = "<metadata>"


# --- values ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Dependency:
    """A requirement as the resolver sees it: markers already evaluated for the target."""

    name: str  # canonical
    extras: frozenset[str]
    specifier: SpecifierSet
    text: str  # as written, for messages
    parent: str = USER  # "pkg 1.0" or USER
    file: IndexFile | None = None  # a wheel named by its URL (the user's only): that file, none other

    @classmethod
    def parse(cls, text: str, parent: str = USER) -> Dependency:
        """Parse a PEP 508 string; for the user's own requirements, also a wheel's URL, bare
        or as ``name @ URL``. Raises :class:`InvalidRequirementError`."""
        if parent == USER and _URL.match(text):
            return _direct(text, None, frozenset())
        if parent == USER and _FILE.match(text):  # a wheel's file name (or path) given as it is
            if "/" in text or "\\" in text:
                raise InvalidRequirementError(text, "a path, or a URL relative to the page, is not a requirement: "
                                                    "give the wheel's absolute URL (https://host/.../file.whl) or "
                                                    "the project's name")
            raise InvalidRequirementError(text, "a file name is not a requirement: give the wheel's URL "
                                                "(https://...) or the project's name")
        try:
            req = check_requirement(Requirement(text))
        except ValueError as exc:  # InvalidRequirement, or a version or marker that cannot compare
            raise InvalidRequirementError(text, str(exc), None if parent == USER else parent) from None
        if req.url:
            if parent != USER:  # a constraint (metadata's requirements come from_requirement)
                raise InvalidRequirementError(text, "a constraint cannot name a URL: constrain the version "
                                                    f"({req.name}==...)", parent)
            return _direct(req.url, req.name, frozenset(canonicalize_name(e) for e in req.extras), text)
        return cls.from_requirement(req, parent)

    @classmethod
    def from_requirement(cls, req: Requirement, parent: str = USER) -> Dependency:
        extras = frozenset(canonicalize_name(e) for e in req.extras)
        return cls(canonicalize_name(req.name), extras, req.specifier, str(req), parent)

    @property
    def key(self) -> str:
        return identifier(self.name, self.extras)

    @property
    def exact_pin(self) -> bool:
        return any(s.operator in ("==", "===") and "*" not in s.version for s in self.specifier)


@dataclass(frozen=True)
class Candidate:
    name: str
    version: Version
    extras: frozenset[str] = frozenset()
    file: IndexFile | None = None  # None: the installed distribution
    yanked: str | None = None

    @property
    def installed(self) -> bool:
        return self.file is None

    @property
    def key(self) -> str:
        return identifier(self.name, self.extras)

    @property
    def label(self) -> str:
        extras = f"[{','.join(sorted(self.extras))}]" if self.extras else ""
        return f"{self.name}{extras} {self.version}"


@dataclass(frozen=True)
class InstalledDist:
    """A distribution already in site-packages (preloaded by the runtime or installed)."""

    name: str
    version: Version
    requires: tuple[Requirement, ...] = ()
    provides_extra: tuple[str, ...] = ()  # normalized (PEP 685)


@dataclass(frozen=True)
class ResolveOptions:
    pre: bool = False
    constraints: tuple[str, ...] = ()
    deps: bool = True
    reinstall: bool = False
    keep_going: bool = False
    max_rounds: int = 2000  # resolvelib's rounds in one pass over what is known
    # Passes that stop for an older version's metadata of a project whose known versions lead
    # to a project with no wheel for the runtime in any version: past this many for one such
    # project, resolution stops and names it, instead of walking back through every version of
    # every project that needs it (see resolution.resolve).
    max_walk_rounds: int = 40
    # Installed projects resolution keeps as they are, whatever is asked (reinstall too): what
    # the installer itself runs on in the page (api._kept).
    kept: frozenset[str] = frozenset()


_URL = re.compile(rf"\s*{SCHEME_PATTERN}://\S*\s*$")
_FILE = re.compile(r"\s*\S+-\d\S*\.(?:whl|tar\.gz|zip)(?:#\S*)?\s*$")  # name-1.0...: not a name such as backports.zip


def names_a_file(text: str) -> bool:
    """Whether a requirement's text is a URL or a file's name, not a project's name."""
    return bool(_URL.match(text) or _FILE.match(text))


def _direct(url: str, name: str | None, extras: frozenset[str], text: str | None = None) -> Dependency:
    """A requirement for the one wheel at ``url`` (``#sha256=...`` in it is its hash), as pip
    takes ``name @ URL``: its name and version are its file name's."""
    text = text or url.strip()
    url = url.strip()
    parts = urlsplit(url)
    # file: too: a direct reference is the user's own words, so it may name a file of their
    # machine (a page or a lock from a server may not: index_pages._absolute,
    # locks._wheel_file). Whether it can be read is the transport's to say: Node and the
    # native lock command read it, a page's fetch cannot (browser.FetchTransport says why).
    if parts.scheme.lower() not in ("http", "https", "file"):
        raise InvalidRequirementError(text, "only http, https and file: URLs of wheels can be installed")
    filename = unquote(parts.path.rsplit("/", 1)[-1])
    try:
        project, version, _, _ = parse_wheel_filename(filename)
    except ValueError:
        raise InvalidRequirementError(text, f"{filename or 'the URL'} is not a wheel's file name: only wheels (.whl) "
                                            "can be installed from a URL; for a project, give its name") from None
    if name is not None and canonicalize_name(name) != project:
        raise InvalidRequirementError(text, f"the name {name!r} is not the wheel's ({project})")
    hashes = tuple(pair for pair in fragment_hash(parts.fragment) if pair[0] in ACCEPTED_HASHES)
    file = IndexFile(filename, urlunsplit(parts._replace(fragment="")), hashes)
    return Dependency(project, extras, SpecifierSet(f"=={version}"), text, USER, file)


def for_target(texts: Iterable[str], target: Target, parent: str = USER) -> list[Dependency]:
    """Parse requirements (or constraints) given as text, leaving out those whose marker is
    false on ``target``. Raises :class:`InvalidRequirementError`."""
    environment = {**target.marker_environment, "extra": ""}
    deps = []
    for text in texts:
        dep = Dependency.parse(text, parent)
        if parent == "constraint" and dep.extras:
            raise InvalidRequirementError(text, f"a constraint cannot name extras (pip refuses them too): constrain "
                                                f"the project itself, as {dep.name}{dep.specifier}", parent)
        marker = None if dep.file is not None and _URL.match(text) else Requirement(text).marker
        if marker is None or marker.evaluate(environment):
            deps.append(dep)
    return deps


def parsed_wheels(files: Iterable[IndexFile], project: str) -> Iterator[tuple[Version, frozenset[Tag], IndexFile]]:
    """``(version, tags, file)`` of each of ``files`` that is a wheel of ``project`` (its file
    name's first part, normalized: a page may list another project's wheels, which pip passes
    over too); the others, and names a wheel's parse refuses (InvalidWheelFilename, or a
    number int() refuses: more than 4300 digits), are skipped."""
    for file in files:
        try:
            name, version, _, tags = parse_wheel_filename(file.filename)
        except ValueError:
            continue
        if name == project:  # parse_wheel_filename normalizes the name
            yield version, tags, file


def build_tag(filename: str) -> tuple[()] | tuple[int, str]:
    """A wheel file name's build tag, ``()`` for none: between two files alike in all else,
    the larger one wins (the binary distribution format's tie-breaker)."""
    try:
        return parse_wheel_filename(filename)[2]
    except ValueError:
        return ()


_BROWSER_PLATFORM = re.compile(r"(pyemscripten|pyodide|emscripten)_\w+_wasm32")


def _for_a_browser(tag: str) -> bool:
    """A wheel tag for a WebAssembly runtime in the browser (PEP 783, Pyodide, Emscripten), not WASI."""
    return _BROWSER_PLATFORM.fullmatch(tag.rpartition("-")[2]) is not None


def identifier(name: str, extras: frozenset[str]) -> str:
    return f"{name}[{','.join(sorted(extras))}]" if extras else name


def split_identifier(key: str) -> tuple[str, frozenset[str]]:
    """The name and extras of an :func:`identifier`."""
    name, _, extras = key.partition("[")
    return name, frozenset(extras.rstrip("]").split(",")) if extras else frozenset()


# --- what is known -------------------------------------------------------------------


class NeedData(Exception):
    """Internal: a round stopped because a page or metadata file is not known yet."""

    def __init__(self, page: str | None = None, candidate: Candidate | None = None) -> None:
        super().__init__(page or candidate)
        self.page = page
        self.candidate = candidate


@dataclass
class KnownData:
    """Everything fetched so far. Errors are kept and raised only if resolution needs them."""

    pages: dict[str, ProjectPage] = field(default_factory=dict)
    page_errors: dict[str, PyemscriptenError] = field(default_factory=dict)
    metadata: dict[str, DistMetadata] = field(default_factory=dict)  # by file URL
    metadata_errors: dict[str, PyemscriptenError] = field(default_factory=dict)
    wheel_bodies: dict[str, bytes] = field(default_factory=dict)  # wheels fetched for metadata
    distribution: dict[str, DistributionEntry] | None = None  # the runtime's own, once loaded


class Finder:
    """Candidates and dependencies of projects, for one target, from :class:`KnownData`."""

    def __init__(
        self,
        target: Target,
        data: KnownData,
        installed: Mapping[str, InstalledDist],
        options: ResolveOptions,
    ) -> None:
        self.target = target
        self.data = data
        self.installed = installed
        self.options = options
        self._python = target.python_release  # what Requires-Python is compared with
        self._versions: dict[str, list[tuple[Version, IndexFile]]] = {}
        self._platforms = frozenset(t.platform for t in target.tags)
        self.constraints: dict[str, list[Dependency]] = {}
        self.unreadable: dict[str, MetadataError] = {}  # by candidate label: versions whose metadata does not read
        self.passed_over: set[str] = set()  # ... those the resolver itself passed over (resolution.Provider)
        self._metadata_files: dict[tuple[str, Version], list[IndexFile]] = {}  # index_metadata_file's
        self.direct: set[str] = set()  # projects named by a wheel's URL: that file and no other (resolution.resolve)
        self.url_references: set[str] = set()  # notes: URLs in metadata, looked for by name instead
        # The runtime's distribution can be loaded but is not yet: it is, once resolution from
        # the indexes alone fails (resolution.resolve), or a project has no wheel on them.
        self.distribution_pending = False
        for dep in for_target(options.constraints, target, "constraint"):
            self.constraints.setdefault(dep.name, []).append(dep)

    def page(self, name: str) -> ProjectPage:
        in_distribution = name in (self.data.distribution or {})
        error = self.data.page_errors.get(name)
        # No index has the project: no candidates, so that the resolver backtracks (a version
        # that needs it is passed over, as pip does); resolution._impossible raises the error
        # if nothing else fits. Any other failure (HTTP, network, a malformed page) is raised.
        if error is not None and not isinstance(error, ProjectNotFoundError) and not self.may_keep(name) \
                and not in_distribution:
            raise error
        if name not in self.data.pages:
            if name in self.data.page_errors:
                return ProjectPage(name, "", ())
            raise NeedData(page=name)
        return self.data.pages[name]

    def may_keep(self, name: str) -> bool:
        """Whether the installed version of ``name`` is a candidate: it is installed, and
        either not to be reinstalled or one pyemscripten itself runs on (which stays)."""
        return name in self.installed and (not self.options.reinstall or name in self.options.kept)

    def versions(self, name: str) -> list[tuple[Version, IndexFile]]:
        """Every version with a wheel for the target, with its best wheel: the best-ranked file
        not yanked, or the best yanked one if every fitting file is (PEP 592 yanks files, not
        versions). The indexes' versions newest first, then, once the runtime's distribution
        is loaded, its version where no index has a wheel of it: tried only after the
        indexes' (as micropip takes the runtime's package where the index has no match)."""
        if name not in self._versions:
            best: dict[Version, tuple[tuple[bool, int], IndexFile]] = {}
            for version, tags, file in parsed_wheels((f for f in self.page(name).files
                                                      if self._platform_may_fit(f.filename)), name):
                rank = self.target.tag_rank(tags)
                if rank is None or not self._python_ok(file):
                    continue
                key = (file.yanked is not None, rank)
                if version not in best or key < best[version][0] or (
                        key == best[version][0] and build_tag(file.filename) > build_tag(best[version][1].filename)):
                    best[version] = (key, file)
            rows = sorted(((v, f) for v, (_, f) in best.items()), key=lambda p: p[0], reverse=True)
            # A version the indexes offer only yanked does not hide the runtime's file of it.
            own = self._from_distribution(name, {v for v, (key, _) in best.items() if not key[0]})
            if own:
                rows = [row for row in rows if row[0] != own[0][0]]
            self._versions[name] = rows + own
        return self._versions[name]

    def newest(self, name: str) -> tuple[Version, IndexFile] | None:
        """The version the resolver tries first when nothing narrows it: the newest fitting
        one, not yanked, a pre-release only with ``pre`` or when there is nothing else."""
        try:
            rows = self.versions(name)
        except (PyemscriptenError, NeedData):
            return None
        rows = [row for row in rows if row[1].yanked is None] or rows  # yanked: only when pinned
        if not self.options.pre:
            rows = [row for row in rows if not row[0].is_prerelease] or rows
        return rows[0] if rows else None

    def is_older(self, candidate: Candidate) -> bool:
        """Whether ``candidate`` is below the newest version of its project (:meth:`newest`):
        the resolver asking for it is stepping back (and not an installed one)."""
        newest = None if candidate.installed else self.newest(candidate.name)
        return newest is not None and newest[0] > candidate.version

    def _platform_may_fit(self, filename: str) -> bool:
        """False when no platform tag in the file name is one of the target's: a string test
        that spares parsing the names of the many files built for other platforms (a big
        project page lists 15,000). Never False for a file that fits."""
        stem = filename[:-4] if filename.endswith(".whl") else filename
        return any(p.lower() in self._platforms for p in stem.rpartition("-")[2].split("."))

    def forget_versions(self) -> None:
        """Drop computed version lists (after new sources, such as the distribution, arrive)."""
        self._versions.clear()

    def _from_distribution(self, name: str, known: Collection[Version]) -> list[tuple[Version, IndexFile]]:
        """The runtime distribution's wheel for this runtime, if the distribution is loaded and
        has one of a version not in ``known`` (the indexes')."""
        entry = (self.data.distribution or {}).get(name)
        if entry is None or entry.metadata.version in known or name in self.direct:
            return []
        _, _, _, tags = parse_wheel_filename(entry.file.filename)
        if self.target.tag_rank(tags) is None:
            return []
        self.data.metadata[entry.file.url] = entry.metadata
        return [(entry.metadata.version, entry.file)]

    def from_distribution(self, candidate: Candidate) -> bool:
        """Whether ``candidate`` is the runtime distribution's own wheel."""
        entry = (self.data.distribution or {}).get(candidate.name)
        return entry is not None and candidate.file is not None and candidate.file.url == entry.file.url

    def index_metadata_file(self, candidate: Candidate) -> IndexFile | None:
        """For the runtime's own wheel, whose lock lists its dependencies by name only (no
        versions, markers or extras): an index wheel of the same version, for any platform,
        with a PEP 658 metadata file, whose Requires-Dist says what the lock does not (a
        version's wheels share their metadata; markers say where they differ). None where no
        index offers one."""
        if not self.from_distribution(candidate):
            return None
        page = self.data.pages.get(candidate.name)
        if page is None:
            return None
        key = (candidate.name, candidate.version)
        if key not in self._metadata_files:
            spelled = f"-{candidate.version}-"
            # A string test first: pages are long.
            files = [file for version, _, file in parsed_wheels(
                (f for f in page.files if f.core_metadata is not None and spelled in f.filename), candidate.name)
                if version == candidate.version]
            files.sort(key=lambda f: f.yanked is not None)  # a yanked upload's metadata may be what was wrong
            self._metadata_files[key] = files
        # Nor one whose metadata names another release (metadata_of passes such a version
        # over): its Requires-Dist would stand for this version's.
        files = [f for f in self._metadata_files[key] if f.url not in self.data.metadata_errors
                 and not self.another_release(f.url, candidate.name, candidate.version)]
        return next((f for f in files if f.url in self.data.metadata), files[0] if files else None)

    def another_release(self, url: str, name: str, version: Version) -> bool:
        """Whether the metadata known for the file at ``url`` names another project or version
        than ``name`` ``version`` (the index's .metadata file, or the wheel's METADATA, got
        wrong): not that release's, whose version is passed over (:meth:`metadata_of`)."""
        metadata = self.data.metadata.get(url)
        return metadata is not None and (metadata.name, metadata.version) != (name, version)

    def _distribution_requirements(self, candidate: Candidate, listed: Sequence[Requirement]) -> list[Requirement]:
        """The runtime's own wheel's requirements: the lock's names, with the versions and
        markers the project's metadata gives them (:meth:`index_metadata_file`; a name it has
        only under a marker false here is left out), and what its extras need. The lock's names
        as they are without such a file; :class:`NeedData` while its metadata is not fetched."""
        source = self.index_metadata_file(candidate)
        if source is None:
            return list(listed)
        if source.url not in self.data.metadata:
            raise NeedData(candidate=Candidate(candidate.name, candidate.version, frozenset(), source, source.yanked))
        theirs = self.data.metadata[source.url].requires_dist
        base: dict[str, list[Requirement]] = {}
        for req in theirs:
            if req.marker is None or self._marker_true(req, ""):
                base.setdefault(canonicalize_name(req.name), []).append(req)
        named = {canonicalize_name(req.name) for req in theirs}
        requires: list[Requirement] = []
        for req in listed:
            name = canonicalize_name(req.name)
            if name in base:
                requires += base[name]
            elif name not in named:  # the runtime's build needs what the project does not say
                requires.append(req)
        if candidate.extras:
            requires += [req for req in theirs if req.marker is not None and not self._marker_true(req, "")]
        return requires

    def _python_ok(self, file: IndexFile) -> bool:
        if not file.requires_python:
            return True
        try:
            return SpecifierSet(file.requires_python).contains(self._python, prereleases=True)
        except Exception:  # an unparseable requires-python excludes only that file
            return False

    def candidates(
        self, name: str, extras: frozenset[str], deps: Sequence[Dependency], excluded: Iterable[Candidate] = ()
    ) -> list[Candidate]:
        """Candidates satisfying every dependency and constraint, best first.

        As pip decides: whether pre-releases may be chosen is settled over every version that
        fits and may be chosen (ones backtracking ruled out included; yanked ones only under an
        exact pin, since only then can they be chosen): when a specifier names one, ``pre`` is
        set, or no final version fits. A yanked file is chosen only when the version is pinned
        (``==``/``===``, by a requirement or a constraint) and every version that fits is yanked
        (PEP 592).
        """
        constraints = self.constraints.get(name, [])
        specs = [d.specifier for d in deps] + [c.specifier for c in constraints]
        exact = any(d.exact_pin for d in deps) or any(c.exact_pin for c in constraints)
        banned = {c.version for c in excluded}
        result: list[Candidate] = []
        installed = self.installed.get(name)
        kept = installed is not None and name in self.options.kept  # that version and no other, reinstall or not
        if installed and self.may_keep(name) and installed.version not in banned:
            if all(s.contains(installed.version, prereleases=True) for s in specs):
                result.append(Candidate(name, installed.version, extras))
        if kept:
            return result
        fitting = [(v, f) for v, f in self.versions(name) if all(s.contains(v, prereleases=True) for s in specs)]
        if not exact:  # PEP 592: a yanked file is for exact pins only, so it cannot keep a pre-release out
            fitting = [(v, f) for v, f in fitting if f.yanked is None]
        if not (self.options.pre or any(s.prereleases for s in specs)):
            fitting = [(v, f) for v, f in fitting if not v.is_prerelease] or fitting
        yanked_too = exact and all(f.yanked is not None for _, f in fitting)
        return result + [Candidate(name, v, extras, f, f.yanked) for v, f in fitting
                         if v not in banned and (f.yanked is None or yanked_too)]

    def metadata_of(self, candidate: Candidate) -> DistMetadata:
        assert candidate.file is not None
        url = candidate.file.url
        if url in self.data.metadata_errors:
            raise self.data.metadata_errors[url]
        if url not in self.data.metadata:
            raise NeedData(candidate=candidate)
        metadata = self.data.metadata[url]
        if self.another_release(url, candidate.name, candidate.version):
            # Another release's metadata (a .metadata file, or METADATA, the index got wrong):
            # its Requires-Dist are not this version's. pip passes over such a version too.
            # Said as the wheel's own check says it (wheels.py), the field that differs first.
            said = (f"METADATA says Name {metadata.name!r}, the file name says {candidate.name!r}"
                    if metadata.name != candidate.name else
                    f"METADATA says Version {str(metadata.version)!r}, the file name says {candidate.version}")
            raise MetadataError(candidate.name, candidate.file.filename, said)
        return metadata

    def dependencies(self, candidate: Candidate) -> list[Dependency]:
        """What ``candidate`` needs on the target: markers evaluated, extras applied."""
        deps: list[Dependency] = []
        if candidate.extras:
            # The extras candidate stands for "the same version of the base, plus these".
            base = Dependency(candidate.name, frozenset(), SpecifierSet(f"=={candidate.version}"),
                              f"{candidate.name}=={candidate.version}", candidate.label)
            deps.append(base)
        if candidate.installed:
            requires: Sequence[Requirement] = self.installed[candidate.name].requires
        else:
            try:
                metadata = self.metadata_of(candidate)
            except PyemscriptenError as exc:
                if not self.options.deps:
                    return deps  # without dependencies, metadata is only for Requires-Python: not needed
                if not isinstance(exc, MetadataError):
                    raise
                # A need nothing satisfies: the resolver passes over this version, as pip does,
                # and the error is kept to say why (see resolution._impossible).
                self.unreadable[candidate.label] = exc
                return [Dependency(UNREADABLE, frozenset(), SpecifierSet(), f"readable metadata ({exc.reason})",
                                   candidate.label)]
            python = metadata.requires_python
            if python is not None and not python.contains(self._python, prereleases=True):
                # The index need not say (data-requires-python is optional); METADATA does,
                # with or without dependencies (deps=False).
                return [Dependency(PYTHON, frozenset(), python, f"Python {python}", candidate.label)]
            requires = metadata.requires_dist
        if not self.options.deps:
            return deps
        if not candidate.installed and self.from_distribution(candidate):
            requires = self._distribution_requirements(candidate, requires)
        extras = sorted(candidate.extras) or [""]
        for req in requires:
            if req.marker is not None and not any(self._marker_true(req, e) for e in extras):
                continue
            if candidate.extras and req.marker is None:
                continue  # the base candidate brings those
            if req.url:  # a direct reference in published metadata: not followed (SECURITY.md)
                self.url_references.add(f"{candidate.label} names {canonicalize_name(req.name)} by a URL "
                                        f"({redact_url(req.url)}), which is not followed: it is looked for by name")
            deps.append(Dependency.from_requirement(req, candidate.label))
        return deps

    def _marker_true(self, req: Requirement, extra: str) -> bool:
        assert req.marker is not None
        env = dict(self.target.marker_environment)
        env["extra"] = extra
        return req.marker.evaluate(env)

    def no_wheel_error(self, name: str, needed_by: Sequence[str] = ()) -> NoCompatibleWheelError:
        """The tags on offer, browser builds first, then newest version first (what a project
        offers now, not what it offered for Python 2.6), this runtime's Python first within a
        version (its own ABI, abi3 or none: not the free-threaded one); and a line naming the
        browser builds for other ABIs or Pythons, which say that a build exists, only not for
        this runtime. ``needed_by``: what needs it, where known ("flask 3.1.0", or "flask")."""
        cp = "cp%d%d" % self.target.python_major_minor

        def ours(tag: str) -> bool:  # cp314-cp314, cpXY-abi3 (any stable-ABI build), cp314-none: not cp314-cp314t
            interpreter, abi = tag.split("-")[:2]
            return abi == "abi3" or interpreter == cp and abi in (cp, "none")
        by_version: dict[Version, set[str]] = {}
        for version, parsed, _ in parsed_wheels(self.page(name).files, name):
            by_version.setdefault(version, set()).update(str(t) for t in parsed)
        wheels = [(version, sorted(by_version[version], key=lambda t: (not ours(t), t)))
                  for version in sorted(by_version, reverse=True)]
        newest_browser: dict[str, Version] = {}  # browser tag -> the newest version offering it
        for version, texts in wheels:
            for tag in texts:
                if _for_a_browser(tag):
                    newest_browser.setdefault(tag, version)
        offered = list(newest_browser) + [tag for _, texts in wheels for tag in texts]
        fitting = {str(t) for t in self.target.tags}
        needed = [str(self.target.platform), "py3-none-any"]
        reasons = []
        python_excluded = bool(offered and not self.versions(name) and fitting & set(offered))
        if python_excluded:  # which Python it wants, so that "use a runtime whose Python they accept" can be followed
            wanted = [(version, file.requires_python) for version, tags, file in parsed_wheels(self.page(name).files, name)
                      if file.requires_python and self.target.tag_rank(tags) is not None]
            if wanted:
                version, spec = max(wanted, key=lambda pair: pair[0])
                reasons.append(f"The newest, {name} {version}, requires Python {spec}.")
        # This platform in either spelling: the legacy pyodide_ one names the same ABI, so a
        # build tagged with it is for another Python here, not for another runtime.
        platforms = {str(self.target.platform), self.target.platform.legacy}
        other = [tag for tag in newest_browser if tag not in fitting]
        for same, why in ((False, "A platform tag names one exact ABI, so these do not load here: use the runtime "
                                  "they were built for, or ask for a build for this one."),
                          (True, f"They are for this platform but another Python: this runtime is "
                                 f"Python {self.target.python_version}.")):
            these = [tag for tag in other if (tag.rpartition("-")[2] in platforms) == same]
            if these:
                shown = listed([f"{tag} ({name} {newest_browser[tag]})" for tag in these], 4)
                reasons.append(f"Browser builds are on offer for {'this platform' if same else 'other runtimes'}: "
                               f"{shown}. {why}")
        page = self.page(name)
        url = page.files[0].url if name in self.direct else None
        return NoCompatibleWheelError(name, needed, offered, self.target.python_version, reasons, list(needed_by),
                                      python_excluded, url, page_url=page.url if url is None else None,
                                      no_files=not page.files and not page.other_files)


