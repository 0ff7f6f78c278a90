"""Resolution: which distributions, at which versions, from which files.

A resolvelib provider over what is known about the indexes (:class:`KnownData`), for an
explicit :class:`~pyemscripten.target.Target`. The provider does no I/O: when it needs a
page or a metadata file that is not known yet it stops the round with :class:`_NeedData`;
the async driver (:func:`resolve`) fetches it, and runs the resolver again. Before the
first round the driver crawls the likely graph (newest fitting version of everything,
concurrently), so in the common case the resolver runs once, on complete data; only
backtracking into older versions costs further rounds. Nothing is downloaded for install
until resolution is over.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import resolvelib
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
from packaging.version import Version

from .errors import (
    InvalidRequirementError,
    MultipleNoCompatibleWheelsError,
    NoCompatibleWheelError,
    PyemscriptenError,
    ResolutionImpossibleError,
    ResolutionTooDeepError,
)
from .distribution import DistributionEntry
from .index_client import IndexClient
from .index_pages import IndexFile, ProjectPage
from .metadata import DistMetadata, metadata_from_wheel, parse_metadata
from .target import Target

USER = "you"  # the parent label of a requirement the user gave


# --- values ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Dependency:
    """A requirement as the resolver sees it: markers already evaluated for the target."""

    name: str  # canonical
    extras: frozenset[str]
    specifier: SpecifierSet
    text: str  # as written, for messages
    parent: str = USER  # "pkg 1.0" or USER

    @classmethod
    def parse(cls, text: str, parent: str = USER) -> Dependency:
        """Parse a PEP 508 string. Raises :class:`InvalidRequirementError`."""
        try:
            req = Requirement(text)
        except InvalidRequirement as exc:
            raise InvalidRequirementError(text, str(exc), None if parent == USER else parent) from None
        if req.url:
            raise InvalidRequirementError(text, "direct URL requirements are not supported; use an index or a lock file")
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


@dataclass(frozen=True)
class ResolveOptions:
    pre: bool = False
    constraints: tuple[str, ...] = ()
    deps: bool = True
    reinstall: bool = False
    keep_going: bool = False
    max_rounds: int = 2000


@dataclass(frozen=True)
class ResolvedDist:
    name: str
    version: Version
    file: IndexFile | None  # None: already installed, nothing to do
    requested: bool
    yanked: str | None = None

    @property
    def installed(self) -> bool:
        return self.file is None


@dataclass(frozen=True)
class Resolution:
    dists: tuple[ResolvedDist, ...]
    rounds: int = 1

    @property
    def to_install(self) -> list[ResolvedDist]:
        return [d for d in self.dists if d.file is not None]

    def plan(self) -> list[dict[str, Any]]:
        """What would be installed: for ``dry_run``."""
        return [
            {
                "name": d.name,
                "version": str(d.version),
                "filename": d.file.filename if d.file else None,
                "url": d.file.url if d.file else None,
                "size": d.file.size if d.file else None,
                "already_installed": d.file is None,
                "requested": d.requested,
            }
            for d in self.dists
        ]


def identifier(name: str, extras: frozenset[str]) -> str:
    return f"{name}[{','.join(sorted(extras))}]" if extras else name


# --- what is known -------------------------------------------------------------------


class _NeedData(Exception):
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
        self._python = Version(target.python_version)
        self._versions: dict[str, list[tuple[Version, IndexFile]]] = {}
        self.constraints: dict[str, list[Dependency]] = {}
        for text in options.constraints:
            dep = Dependency.parse(text, "constraint")
            self.constraints.setdefault(dep.name, []).append(dep)

    def page(self, name: str) -> ProjectPage:
        in_distribution = name in (self.data.distribution or {})
        if name in self.data.page_errors and name not in self.installed and not in_distribution:
            raise self.data.page_errors[name]
        if name not in self.data.pages:
            if name in self.data.page_errors:
                return ProjectPage(name, "", ())
            raise _NeedData(page=name)
        return self.data.pages[name]

    def versions(self, name: str) -> list[tuple[Version, IndexFile]]:
        """Every version with a wheel for the target, newest first, with its best wheel."""
        if name not in self._versions:
            best: dict[Version, tuple[int, IndexFile]] = {}
            for file in self.page(name).files:
                try:
                    _, version, _, tags = parse_wheel_filename(file.filename)
                except InvalidWheelFilename:
                    continue
                rank = self.target.tag_rank(tags)
                if rank is None or not self._python_ok(file):
                    continue
                if version not in best or rank < best[version][0]:
                    best[version] = (rank, file)
            rows = sorted(((v, f) for v, (_, f) in best.items()), key=lambda p: p[0], reverse=True)
            self._versions[name] = rows or self._from_distribution(name)
        return self._versions[name]

    def forget_versions(self) -> None:
        """Drop computed version lists (after new sources, such as the distribution, arrive)."""
        self._versions.clear()

    def _from_distribution(self, name: str) -> list[tuple[Version, IndexFile]]:
        """The runtime distribution's wheel, when the indexes have none for this runtime."""
        entry = (self.data.distribution or {}).get(name)
        if entry is None:
            return []
        _, _, _, tags = parse_wheel_filename(entry.file.filename)
        if self.target.tag_rank(tags) is None:
            return []
        self.data.metadata[entry.file.url] = entry.metadata
        return [(entry.metadata.version, entry.file)]

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
        """Candidates satisfying every dependency and constraint, best first."""
        specs = [d.specifier for d in deps] + [c.specifier for c in self.constraints.get(name, [])]
        exact = any(d.exact_pin for d in deps)
        banned = {c.version for c in excluded}
        result: list[Candidate] = []
        installed = self.installed.get(name)
        if installed and not self.options.reinstall and installed.version not in banned:
            if all(s.contains(installed.version, prereleases=True) for s in specs):
                result.append(Candidate(name, installed.version, extras))
        rows = [(v, f) for v, f in self.versions(name) if v not in banned and (f.yanked is None or exact)]
        for prereleases in (self.options.pre or any(s.prereleases for s in specs), True):
            fitting = [
                Candidate(name, v, extras, f, f.yanked)
                for v, f in rows
                if (prereleases or not v.is_prerelease) and all(s.contains(v, prereleases=True) for s in specs)
            ]
            if fitting or prereleases:
                break
        return result + fitting

    def metadata_of(self, candidate: Candidate) -> DistMetadata:
        assert candidate.file is not None
        url = candidate.file.url
        if url in self.data.metadata_errors:
            raise self.data.metadata_errors[url]
        if url not in self.data.metadata:
            raise _NeedData(candidate=candidate)
        return self.data.metadata[url]

    def dependencies(self, candidate: Candidate) -> list[Dependency]:
        """What ``candidate`` needs on the target: markers evaluated, extras applied."""
        deps: list[Dependency] = []
        if candidate.extras:
            # The extras candidate stands for "the same version of the base, plus these".
            base = Dependency(candidate.name, frozenset(), SpecifierSet(f"=={candidate.version}"),
                              f"{candidate.name}=={candidate.version}", candidate.label)
            deps.append(base)
        if not self.options.deps:
            return deps
        if candidate.installed:
            requires: Sequence[Requirement] = self.installed[candidate.name].requires
        else:
            requires = self.metadata_of(candidate).requires_dist
        extras = sorted(candidate.extras) or [""]
        for req in requires:
            if req.marker is not None and not any(self._marker_true(req, e) for e in extras):
                continue
            if candidate.extras and req.marker is None:
                continue  # the base candidate brings those
            deps.append(Dependency.from_requirement(req, candidate.label))
        return deps

    def _marker_true(self, req: Requirement, extra: str) -> bool:
        assert req.marker is not None
        env = dict(self.target.marker_environment)
        env["extra"] = extra
        return req.marker.evaluate(env)

    def no_wheel_error(self, name: str) -> NoCompatibleWheelError:
        offered = set()
        for file in self.page(name).files:
            try:
                _, _, _, tags = parse_wheel_filename(file.filename)
            except InvalidWheelFilename:
                continue
            offered.update(str(t) for t in tags)
        needed = [str(self.target.platform), "py3-none-any"]
        reasons = []
        if offered and not self.versions(name):
            fitting_tags = {str(t) for t in self.target.tags} & offered
            if fitting_tags:
                reasons.append(f"Wheels with fitting tags exist, but their Requires-Python excludes Python {self.target.python_version}.")
        return NoCompatibleWheelError(name, needed, offered, self.target.python_version, reasons)


# --- the resolvelib provider ---------------------------------------------------------


class Provider(resolvelib.AbstractProvider):
    """Answers resolvelib's questions from a :class:`Finder`; records who asked for what."""

    def __init__(self, finder: Finder, roots: Sequence[Dependency] = ()) -> None:
        self.finder = finder
        self.asked_by: dict[str, list[Dependency]] = {}
        for dep in roots:
            self.asked_by.setdefault(dep.name, []).append(dep)

    def identify(self, requirement_or_candidate: Dependency | Candidate) -> str:
        return requirement_or_candidate.key

    def get_preference(
        self,
        identifier: str,
        resolutions: Mapping[str, Candidate],
        candidates: Mapping[str, Iterator[Candidate]],
        information: Mapping[str, Iterator[Any]],
        backtrack_causes: Sequence[Any],
    ) -> tuple[bool, bool, bool, str]:
        infos = list(information[identifier])
        pinned = any(i.requirement.exact_pin for i in infos)
        direct = any(i.parent is None for i in infos)
        causes = {c.requirement.name for c in backtrack_causes} | {
            c.parent.name for c in backtrack_causes if c.parent is not None
        }
        # Pins and conflict sources first (they prune most), then what the user named.
        return (not pinned, identifier.split("[")[0] not in causes, not direct, identifier)

    def find_matches(
        self,
        identifier: str,
        requirements: Mapping[str, Iterator[Dependency]],
        incompatibilities: Mapping[str, Iterator[Candidate]],
    ) -> list[Candidate]:
        deps = list(requirements[identifier])
        name, extras = deps[0].name, deps[0].extras
        return self.finder.candidates(name, extras, deps, incompatibilities[identifier])

    def is_satisfied_by(self, requirement: Dependency, candidate: Candidate) -> bool:
        return candidate.name == requirement.name and requirement.specifier.contains(candidate.version, prereleases=True)

    def get_dependencies(self, candidate: Candidate) -> list[Dependency]:
        deps = self.finder.dependencies(candidate)
        for dep in deps:
            self.asked_by.setdefault(dep.name, []).append(dep)
        return deps


# --- explaining failures -------------------------------------------------------------


def _chain(dep: Dependency, asked_by: Mapping[str, list[Dependency]], limit: int = 6) -> str:
    """ "you → a → b requires c>=2" : how the requirement came to be."""
    path = [dep.parent]
    seen = {dep.name}
    parent = dep.parent
    while parent not in (USER, "constraint") and len(path) < limit:
        parent_name = parent.split(" ")[0].split("[")[0]
        if parent_name in seen or not asked_by.get(parent_name):
            break
        seen.add(parent_name)
        parent = asked_by[parent_name][0].parent
        path.append(parent)
    if path[-1] not in (USER, "constraint"):
        path.append("...")
    return " → ".join(reversed(path)) + f" requires {dep.text}"


def explain_conflict(causes: Sequence[Any], provider: Provider) -> ResolutionImpossibleError:
    finder = provider.finder
    lines: list[str] = []
    names: list[str] = []
    for cause in causes:
        dep: Dependency = cause.requirement
        line = _chain(dep, provider.asked_by)
        if line not in lines:
            lines.append(line)
        if dep.name not in names:
            names.append(dep.name)
    for name in names:
        available = [str(v) for v, _ in finder.versions(name)[:8]] if name in finder.data.pages else []
        installed = finder.installed.get(name)
        note = f"; {installed.version} is installed" if installed else ""
        shown = ", ".join(available) if available else "none for this runtime"
        lines.append(f"{name}: versions available for this runtime: {shown}{note}")
    return ResolutionImpossibleError([str(c.requirement.text) for c in causes], lines)


# --- the driver ----------------------------------------------------------------------


DistributionLoader = Callable[[], Awaitable["dict[str, DistributionEntry]"]]


class Crawler:
    """Fetches pages and metadata the resolver is likely to need, concurrently."""

    def __init__(
        self,
        client: IndexClient,
        finder: Finder,
        progress: Callable[[str], None] | None = None,
        distribution: DistributionLoader | None = None,
    ) -> None:
        self.client = client
        self._load_distribution = distribution
        self._distribution_task: asyncio.Task[None] | None = None
        self.finder = finder
        self.data = finder.data
        self._pages: dict[str, asyncio.Task[None]] = {}
        self._meta: dict[str, asyncio.Task[None]] = {}
        self._visited: set[tuple[str, str, frozenset[str]]] = set()
        self.progress = progress

    def _page_task(self, name: str) -> asyncio.Task[None]:
        if name not in self._pages:
            self._pages[name] = asyncio.ensure_future(self._fetch_page(name))
        return self._pages[name]

    async def _fetch_page(self, name: str) -> None:
        if name in self.data.pages or name in self.data.page_errors:
            return
        try:
            self.data.pages[name] = await self.client.project_page(name)
            if self.progress:
                self.progress(name)
        except PyemscriptenError as exc:
            self.data.page_errors[name] = exc

    def _meta_task(self, candidate: Candidate) -> asyncio.Task[None]:
        assert candidate.file is not None
        url = candidate.file.url
        if url not in self._meta:
            self._meta[url] = asyncio.ensure_future(self._fetch_metadata(candidate))
        return self._meta[url]

    async def _fetch_metadata(self, candidate: Candidate) -> None:
        file = candidate.file
        assert file is not None
        if file.url in self.data.metadata:
            return
        try:
            if file.core_metadata is not None:
                body = await self.client.core_metadata(candidate.name, file)
                meta = parse_metadata(body, candidate.name, file.filename + ".metadata")
            else:
                # No PEP 658 file: the wheel itself is the only source. Keep its bytes so the
                # download stage does not fetch it again (it still verifies the hash).
                from .index_client import get_ok

                response = await get_ok(self.client.transport, file.url, project=candidate.name,
                                        what="wheel", retry=self.client.retry, sleep=self.client.sleep)
                assert response is not None
                self.data.wheel_bodies[file.url] = response.body
                meta = metadata_from_wheel(response.body, candidate.name, file.filename)
            self.data.metadata[file.url] = meta
        except PyemscriptenError as exc:
            self.data.metadata_errors[file.url] = exc

    async def visit(self, dep: Dependency) -> None:
        """Fetch the page of ``dep``, the metadata of its best candidate, then recurse."""
        key = (dep.name, str(dep.specifier), dep.extras)
        if key in self._visited:
            return
        self._visited.add(key)
        await self._page_task(dep.name)
        if self._load_distribution is not None and not self._has_versions(dep.name):
            await self._distribution()
        try:
            candidates = self.finder.candidates(dep.name, dep.extras, [dep])
        except PyemscriptenError:
            return  # the resolver raises it if it really needs this project
        if candidates:
            await self.expand(candidates[0])

    def _has_versions(self, name: str) -> bool:
        try:
            return bool(self.finder.versions(name))
        except PyemscriptenError:
            return False

    async def _distribution(self) -> None:
        """Load the runtime's distribution once, and only if some project needs it."""
        if self._distribution_task is None:
            self._distribution_task = asyncio.ensure_future(self._fetch_distribution())
        await self._distribution_task

    async def _fetch_distribution(self) -> None:
        assert self._load_distribution is not None
        try:
            self.data.distribution = await self._load_distribution()
        except PyemscriptenError:
            self.data.distribution = {}  # no distribution: the index's own error stands
        self.finder.forget_versions()

    async def expand(self, candidate: Candidate) -> None:
        if not candidate.installed:
            await self._meta_task(candidate)
        try:
            deps = self.finder.dependencies(candidate)
        except PyemscriptenError:
            return
        except _NeedData:
            return
        await asyncio.gather(*(self.visit(d) for d in deps))

    async def satisfy(self, need: _NeedData) -> None:
        if need.page is not None:
            await self._page_task(need.page)
        if need.candidate is not None:
            await self.expand(need.candidate)


def root_dependencies(requirements: Sequence[str], target: Target) -> list[Dependency]:
    """Parse the user's requirements; drop those whose marker is false on the target."""
    roots = []
    for text in requirements:
        dep = Dependency.parse(text)
        marker = Requirement(text).marker
        if marker is not None and not marker.evaluate({**target.marker_environment, "extra": ""}):
            continue
        roots.append(dep)
    return roots


async def resolve(
    requirements: Sequence[str],
    target: Target,
    client: IndexClient,
    installed: Mapping[str, InstalledDist] | None = None,
    options: ResolveOptions = ResolveOptions(),
    data: KnownData | None = None,
    on_page: Callable[[str], None] | None = None,
    distribution: DistributionLoader | None = None,
) -> Resolution:
    """Resolve ``requirements`` for ``target`` from the indexes behind ``client``.

    Raises :class:`InvalidRequirementError`, :class:`NoCompatibleWheelError`,
    :class:`MultipleNoCompatibleWheelsError` (with ``keep_going``),
    :class:`ResolutionImpossibleError`, :class:`ResolutionTooDeepError`, and index errors
    (:class:`~pyemscripten.errors.ProjectNotFoundError`, HTTP, network, format) for
    projects resolution needed.
    """
    installed = dict(installed or {})
    data = data if data is not None else KnownData()
    finder = Finder(target, data, installed, options)
    roots = root_dependencies(requirements, target)
    crawler = Crawler(client, finder, on_page, distribution)
    await asyncio.gather(*(crawler.visit(d) for d in roots))
    if options.keep_going:
        _raise_all_missing_wheels(finder, crawler)
    rounds = 0
    while True:
        rounds += 1
        provider = Provider(finder, roots)
        resolver = resolvelib.Resolver(provider, resolvelib.BaseReporter())
        try:
            result = resolver.resolve(roots, max_rounds=options.max_rounds)
        except _NeedData as need:
            await crawler.satisfy(need)
            continue
        except resolvelib.ResolutionImpossible as exc:
            raise _impossible(exc.causes, provider) from None
        except resolvelib.ResolutionTooDeep:
            raise ResolutionTooDeepError(options.max_rounds) from None
        return _resolution(result, {d.name for d in roots}, rounds)


def _impossible(causes: Sequence[Any], provider: Provider) -> PyemscriptenError:
    finder = provider.finder
    for cause in causes:
        name = cause.requirement.name
        if name in finder.data.pages and not finder.versions(name) and name not in finder.installed:
            return finder.no_wheel_error(name)
    return explain_conflict(causes, provider)


def _raise_all_missing_wheels(finder: Finder, crawler: Crawler) -> None:
    errors = [finder.no_wheel_error(n) for n in sorted(finder.data.pages) if not finder.versions(n) and n not in finder.installed]
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise MultipleNoCompatibleWheelsError(errors)


def _resolution(result: Any, requested: set[str], rounds: int) -> Resolution:
    dists: dict[str, ResolvedDist] = {}
    for candidate in result.mapping.values():
        if candidate.name in dists:
            continue
        dists[candidate.name] = ResolvedDist(
            candidate.name, candidate.version, candidate.file, candidate.name in requested, candidate.yanked
        )
    return Resolution(tuple(dists[n] for n in _dependency_order(result, dists)), rounds)


def _dependency_order(result: Any, dists: Mapping[str, ResolvedDist]) -> list[str]:
    """Names with dependencies before dependents (ties by name)."""
    graph = result.graph
    children: dict[str, set[str]] = {n: set() for n in dists}
    for key in graph:
        if key is None:
            continue
        parent = key.split("[")[0]
        for child in graph.iter_children(key):
            child_name = child.split("[")[0]
            if child_name != parent:
                children.setdefault(parent, set()).add(child_name)
    order: list[str] = []
    state: dict[str, int] = {}

    def walk(name: str) -> None:
        if state.get(name):
            return
        state[name] = 1
        for child in sorted(children.get(name, ())):
            walk(child)
        order.append(name)

    for name in sorted(dists):
        walk(name)
    return [n for n in order if n in dists]
