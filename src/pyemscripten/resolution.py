"""Resolution: which distributions, at which versions, from which files.

A resolvelib provider over what is known about the indexes, for an explicit
:class:`~pyemscripten.target.Target` (see :mod:`pyemscripten.candidates`). The provider
does no I/O: when it needs a page or a metadata file that is not known yet, the round
stops with :class:`~pyemscripten.candidates.NeedData`; the async driver (:func:`resolve`)
fetches it and runs the resolver again. Before the first round the prefetcher
(:mod:`pyemscripten.prefetch`) crawls the likely graph concurrently, so usually the
resolver runs once; only backtracking into older versions costs further rounds. The
resolver itself never sees a wheel downloaded for install: a caller may fetch the crawl's
picks early (``on_candidate``), but what gets installed is only what resolution returns.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import resolvelib
from packaging.utils import canonicalize_name
from packaging.version import Version

from .candidates import (
    PYTHON,
    UNREADABLE,
    USER,
    Candidate,
    Dependency,
    Finder,
    InstalledDist,
    KnownData,
    NeedData,
    ResolveOptions,
    for_target,
    parsed_wheels,
    split_identifier,
)
from .errors import (
    InvalidRequirementError,
    MultipleNoCompatibleWheelsError,
    ProjectNotFoundError,
    PyemscriptenError,
    ResolutionImpossibleError,
    ResolutionTooDeepError,
    listed,
    redact_url,
)
from .index_client import IndexClient
from .index_pages import KNOWN_MINOR, IndexFile, ProjectPage, newer_minor
from .metadata import DistMetadata
from .prefetch import Crawler, DistributionLoader
from .target import Target

__all__ = ["InstalledDist", "KnownData", "Resolution", "ResolvedDist", "ResolveOptions", "resolve"]


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
    passed_over: tuple[str, ...] = ()  # versions whose metadata could not be read, and why
    missing_extras: tuple[str, ...] = ()  # versions chosen that do not provide an extra asked for
    fallbacks: tuple[str, ...] = ()  # projects taken from the runtime's distribution because the index failed
    from_distribution: Mapping[str, str] = field(default_factory=dict)  # its wheels' URLs: why each was taken
    held_back: tuple[str, ...] = ()  # versions below the newest, whose newest needs a project without wheels
    # requirements whose marker is false here; an index that had none of the projects; URLs in
    # published metadata, looked for by name
    left_out: tuple[str, ...] = ()
    needed_by: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # name -> ("attrs 25.4.0", ...)

    @property
    def warnings(self) -> tuple[str, ...]:
        """What a person should hear about this resolution (``warning`` events, lock's stderr)."""
        return self.left_out + self.passed_over + self.missing_extras + self.fallbacks + self.held_back

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
        # (From the identifier: after a backtrack, resolvelib may ask for a name none of whose
        # requirements are left.)
        name, extras = split_identifier(identifier)
        if name in (PYTHON, UNREADABLE):
            return []  # asked for only where the runtime's Python is excluded, or metadata unreadable
        excluded = list(incompatibilities[identifier])
        if extras and name in requirements:
            # "a[x]" stands for a version of "a": what is asked of "a" (a pin, say) holds for it too, as pip merges them.
            deps += requirements[name]
            excluded += incompatibilities[name] if name in incompatibilities else ()
        return self.finder.candidates(name, extras, deps, excluded)

    def is_satisfied_by(self, requirement: Dependency, candidate: Candidate) -> bool:
        return candidate.name == requirement.name and requirement.specifier.contains(candidate.version, prereleases=True)

    def get_dependencies(self, candidate: Candidate) -> list[Dependency]:
        deps = self.finder.dependencies(candidate)
        for dep in deps:
            self.asked_by.setdefault(dep.name, []).append(dep)
            if dep.name == UNREADABLE:
                self.finder.passed_over.add(candidate.label)  # the resolver's own: the crawl's reads are not
        return deps


# --- explaining failures -------------------------------------------------------------


def _chain(dep: Dependency, asked_by: Mapping[str, list[Dependency]], limit: int = 6) -> str:
    """ "you → a 1.0 → b 2.0 requires c>=2" : how the requirement came to be. Each step goes to
    a requirement that asked for that very candidate (its identifier, extras included, and a
    specifier its version meets), not to whichever version asked first."""
    path = [dep.parent]
    seen = {dep.key}
    parent = dep.parent
    while parent not in (USER, "constraint") and len(path) < limit:
        ident, _, version = parent.partition(" ")
        askers = [d for d in asked_by.get(ident.split("[")[0], ()) if d.key == ident]
        if ident in seen or not askers:
            break
        seen.add(ident)
        try:
            fitting = [d for d in askers if d.specifier.contains(version, prereleases=True)]
        except ValueError:  # InvalidVersion: a label that is not "name version"
            fitting = []
        parent = (fitting or askers)[0].parent
        path.append(parent)
    if path[-1] not in (USER, "constraint"):
        path.append("...")
    if path == [USER]:
        return f"you ask for {dep.text}"
    return " → ".join(reversed(path)) + f" requires {dep.text}"


def explain_conflict(causes: Sequence[Any], provider: Provider) -> ResolutionImpossibleError:
    finder = provider.finder
    lines: list[str] = []
    names: list[str] = []
    elsewhere: list[str] = []
    for cause in causes:
        dep: Dependency = cause.requirement
        line = _chain(dep, provider.asked_by)
        if line not in lines:
            lines.append(line)
        if dep.name not in names:
            names.append(dep.name)
    for name in names:
        if name == PYTHON:
            lines.append(f"this runtime has Python {finder.target.python_version}")
            continue
        if name == UNREADABLE:
            continue  # the chain's line gives the reason
        # A yanked version is chosen only when pinned (==): say which ones are.
        # A page the index failed to give leaves the runtime's distribution's versions.
        known = name in finder.data.pages or name in finder.data.page_errors
        available = ([f"{v} (yanked)" if f.yanked is not None else str(v) for v, f in finder.versions(name)[:8]]
                     if known else [])
        lines += [f"constraint {c.text}" for c in finder.constraints.get(name, [])]
        installed = finder.installed.get(name)
        if installed and name in finder.options.kept:  # its only candidate (its page may be unknown)
            lines.append(f"{name}: {installed.version} is installed and kept: pyemscripten itself runs on it in this "
                         f"page, and cannot replace its own modules; what needs another {name} cannot be installed "
                         "beside it")
            continue
        note = f"; {installed.version} is installed" if installed else ""
        if installed and not finder.may_keep(name):
            note += " (and reinstalled, so it is no candidate)"
        shown = ", ".join(available) if available else "none"
        if available and all(f.yanked is not None for _, f in finder.versions(name)):
            note += " (a yanked version is taken only when pinned with ==)"
        lines.append(f"{name}: versions available for this runtime: {shown}{note}")
        failed = finder.data.page_errors.get(name)
        if failed is not None and not isinstance(failed, ProjectNotFoundError):
            lines.append(f"{name}: the index failed for it, so the versions it has are not known: "
                         f"{str(failed).splitlines()[0]}")
        specifiers = [c.requirement.specifier for c in causes if c.requirement.name == name]
        other, too_new = _only_elsewhere(finder, name, specifiers)
        if other:
            elsewhere.append(name)
            lines.append(f"{name} {', '.join(map(str, other))} {'has' if len(other) == 1 else 'have'} wheels only "
                         "for other platforms")
        for version, spec in too_new:
            lines.append(f"{name} {version} has wheels for this runtime, but their Requires-Python ({spec}, as the "
                         f"index gives it) excludes Python {finder.target.python_version}")
    return ResolutionImpossibleError([str(c.requirement.text) for c in causes], lines, elsewhere)


def _only_elsewhere(finder: Finder, name: str, specifiers: Sequence[Any],
                    limit: int = 3) -> tuple[list[Version], list[tuple[Version, str]]]:
    """The newest versions of ``name`` (``limit`` at most) that one of ``specifiers`` allows
    and that have no wheel for the runtime: those whose wheels on its page are all for other
    platforms, and apart, those with wheels for its tags that the index's Requires-Python
    excludes, each with that Requires-Python. (Both are missing from ``finder.versions``:
    told apart, since a pin on a version for another Python read "wheels only for other
    platforms", and the lock command then advised the runtime's distribution.)"""
    page = finder.data.pages.get(name)
    if page is None:
        return [], []
    here = {v for v, _ in finder.versions(name)}
    found: set[Version] = set()
    too_new: dict[Version, str] = {}
    for version, tags, file in parsed_wheels(page.files, name):
        if file.yanked is not None or version in here or not any(s.contains(version, prereleases=True)
                                                                for s in specifiers):
            continue
        if finder.target.tag_rank(tags) is not None:
            too_new.setdefault(version, file.requires_python or "")  # only Requires-Python keeps a fitting tag out
        else:
            found.add(version)
    newest = sorted(too_new, reverse=True)[:limit]
    return sorted(found - set(too_new), reverse=True)[:limit], [(v, too_new[v]) for v in newest]


def root_dependencies(requirements: Sequence[str], target: Target) -> list[Dependency]:
    """Parse the user's requirements; drop those whose marker is false on the target."""
    return for_target(requirements, target)


async def resolve(
    requirements: Sequence[str],
    target: Target,
    client: IndexClient,
    installed: Mapping[str, InstalledDist] | None = None,
    options: ResolveOptions = ResolveOptions(),
    data: KnownData | None = None,
    on_page: Callable[[str], None] | None = None,
    distribution: DistributionLoader | None = None,
    on_candidate: Callable[[Candidate], None] | None = None,
    metadata_from_download: Callable[[Candidate], Awaitable[bytes | None] | None] | None = None,
    on_walk: Callable[[str], None] | None = None,
) -> Resolution:
    """Resolve ``requirements`` for ``target`` from the indexes behind ``client``.

    ``on_candidate`` hears of each candidate the prefetching crawl follows, and
    ``metadata_from_download`` may hand over the METADATA of a wheel already being fetched
    (see :class:`~pyemscripten.prefetch.Crawler`); the resolution does not depend on either
    (where a download gives no METADATA, the ``.metadata`` file is asked for).
    ``on_walk`` hears, once per project, that resolution is walking back through its older
    versions (the third one asked for): that can take a while, and pip says so too.

    A project reached that has no wheel for ``target`` in any version sends the resolver
    back through the older versions of every project that needs it, one pass per version
    whose metadata is not known yet (``flask`` for ``markupsafe``: 69 passes; ``jupyterlab``:
    thousands). Past ``options.max_walk_rounds`` passes that stepped back through a project
    whose known versions lead to such a project, resolution stops with
    :class:`NoCompatibleWheelError` (or :class:`MultipleNoCompatibleWheelsError`) for the
    projects without wheels, saying how far back it looked. Passes are counted for each
    project without wheels that the step was getting around, so one walk does not use up
    another's; steps back for anything else (a plain version conflict) do not count.

    Raises :class:`InvalidRequirementError`, :class:`NoCompatibleWheelError`,
    :class:`MultipleNoCompatibleWheelsError` (with ``keep_going``),
    :class:`ResolutionImpossibleError`, :class:`ResolutionTooDeepError`, and index errors
    (:class:`~pyemscripten.errors.ProjectNotFoundError`, HTTP, network, format) for
    projects resolution needed.
    """
    installed = installed if installed is not None else {}  # not copied: a lazy map stays lazy (api.installed_map)
    data = data if data is not None else KnownData()
    finder = Finder(target, data, installed, options)
    roots = root_dependencies(requirements, target)
    for root in roots:
        if root.file is not None:  # a wheel named by its URL: that file is the project's one page
            other = data.pages.get(root.name) if root.name in finder.direct else None
            if other is not None and other.files != (root.file,):
                what = "two URLs" if other.url != root.file.url else "one URL with two hashes"
                raise InvalidRequirementError(root.text, f"{root.name} is asked for from {what}: {other.url} "
                                                         f"and {root.file.url}; give one")
            data.pages[root.name] = ProjectPage(root.name, root.file.url, (root.file,))
            finder.direct.add(root.name)
    finder.distribution_pending = distribution is not None and data.distribution is None
    crawler = Crawler(client, finder, on_page, distribution, on_candidate, metadata_from_download)
    try:
        return await _resolve_crawled(requirements, roots, client, finder, crawler, options, on_walk)
    finally:
        await crawler.close()  # what the crawl still fetches (older versions asked for ahead) ends with it


async def _resolve_crawled(requirements: Sequence[str], roots: Sequence[Dependency], client: IndexClient,
                           finder: Finder, crawler: Crawler, options: ResolveOptions,
                           on_walk: Callable[[str], None] | None) -> Resolution:
    await crawler.visit_all(roots)
    rounds = 0
    walked: dict[str, set[Version]] = {}  # project -> its older versions asked for
    walk_passes: dict[str, int] = {}  # project without wheels -> the passes that stepped back towards it
    read: dict[str, _Needs] = {}  # see _graph
    # What backjumping called impossible, with the provider that said so: plain backtracking
    # looks again (_Backtracking); if it finds nothing either, this is the error.
    impossible: tuple[resolvelib.ResolutionImpossible[Any, Any], Provider] | None = None
    while True:
        rounds += 1
        provider = Provider(finder, roots)
        resolver = _Resolver(provider, resolvelib.BaseReporter(), backjumping=impossible is None)
        try:
            result = resolver.resolve(roots, max_rounds=options.max_rounds)
        except NeedData as need:
            stepped = _note_walk(need, finder, walked, on_walk)
            without = set(_without_wheels(finder)) if stepped is not None else set()
            if stepped is not None and without:
                blockers = without & _ahead(_graph(finder, read, roots), stepped)
                for name in blockers:
                    walk_passes[name] = walk_passes.get(name, 0) + 1
                if blockers and max(walk_passes[n] for n in blockers) > options.max_walk_rounds:
                    if impossible is not None:
                        raise await _impossible_error(impossible, finder, roots, client, options) from None
                    raise _walk_stopped(finder, walked, walk_passes, blockers, read, roots) from None
            await crawler.satisfy(need)
            continue
        except resolvelib.ResolutionImpossible as exc:
            # (A wheel named by its URL is its project's only candidate: the distribution cannot help it.)
            if finder.distribution_pending and not all(c.requirement.name in finder.direct for c in exc.causes):
                # The indexes alone cannot: the runtime's versions join theirs, after them
                # (Finder.versions), and resolution starts again.
                await crawler.load_distribution()
                continue
            if impossible is None:
                impossible = (exc, provider)
                continue
            raise await _impossible_error(impossible, finder, roots, client, options) from None
        except resolvelib.ResolutionTooDeep:
            if impossible is not None:  # plain backtracking ran out of rounds: backjumping's answer stands
                raise await _impossible_error(impossible, finder, roots, client, options) from None
            raise ResolutionTooDeepError(options.max_rounds, _needed_by(finder, _without_wheels(finder), read, roots)) from None
        resolution = _resolution(result, {d.name for d in roots}, rounds)
        taken = _from_distribution(resolution, finder)
        return replace(resolution, passed_over=_passed_over(finder), missing_extras=_missing_extras(result, finder),
                       fallbacks=_fallbacks(resolution, taken, finder), from_distribution=taken,
                       held_back=_held_back(resolution, result, finder),
                       left_out=_left_out(requirements, roots, client, finder) + _newer_api(finder)
                       + tuple(sorted(finder.url_references)))


async def _impossible_error(impossible: tuple[resolvelib.ResolutionImpossible[Any, Any], Provider], finder: Finder,
                            roots: Sequence[Dependency], client: IndexClient, options: ResolveOptions) -> PyemscriptenError:
    """The error for requirements that neither backjumping nor plain backtracking could meet."""
    if options.keep_going:  # only once resolution failed: a project backtracking avoided is no reason
        _raise_all_missing_wheels(finder, roots)
    exc, provider = impossible
    error = _impossible(list(exc.causes), provider)
    if isinstance(error, ProjectNotFoundError):
        error.wheel_folders = await client.wheel_folders()
    return error


def _newer_api(finder: Finder) -> tuple[str, ...]:
    """PEP 629: one warning for each newer minor version of the simple API the pages used."""
    by_version: dict[str, list[ProjectPage]] = {}
    for page in finder.data.pages.values():
        if newer_minor(page.api_version):
            by_version.setdefault(page.api_version.strip(), []).append(page)
    return tuple(f"The index answered with simple API version {version} ({redact_url(pages[0].url)}"
                 f"{f' and {len(pages) - 1} other pages' if len(pages) > 1 else ''}), newer than the 1.{KNOWN_MINOR} "
                 "this installer knows (PEP 629): what is new in that version was not used "
                 "(a newer pyemscripten may use it)"
                 for version, pages in sorted(by_version.items()))


def _left_out(requirements: Sequence[str], roots: Sequence[Dependency], client: IndexClient,
              finder: Finder) -> tuple[str, ...]:
    """The requirements left out because their marker is false on the target (a lock that
    came out empty said nothing); and, where no index had a page for any project asked for,
    a word that the index URL may be wrong (each 404 alone reads as "no such project")."""
    kept = {d.text for d in roots}
    environment = finder.target.marker_environment
    notes = [f"{text} is left out: its marker is false for this runtime (Python {finder.target.python_version}, "
             f"sys_platform {environment['sys_platform']})"
             for text in requirements if Dependency.parse(text).text not in kept]
    errors = finder.data.page_errors
    if not finder.data.pages and errors and all(isinstance(e, ProjectNotFoundError) for e in errors.values()):
        where = ", ".join(redact_url(u) for u in client.index_urls)
        which, its = ("the index", "its URL") if len(client.index_urls) == 1 else ("any of the indexes", "their URLs")
        notes.append(f"None of the projects asked for is on {which} ({', '.join(sorted(errors))}, at {where}): if "
                     f"they should be, check {its} (an index's root, such as https://pypi.org/simple/)")
    return tuple(notes)


def _passed_over(finder: Finder) -> tuple[str, ...]:
    """The versions the resolver passed over for metadata that could not be read, once each
    (``a 2.0`` and ``a[x] 2.0`` are one; versions only the crawl read are not said)."""
    notes: dict[tuple[str, str], str] = {}
    for label in sorted(finder.passed_over):
        identifier, _, version = label.partition(" ")
        name = identifier.split("[")[0]
        notes.setdefault((name, version), f"Passed over {name} {version}: {finder.unreadable[label]}")
    return tuple(notes.values())


_EXTRA_IN_MARKER = re.compile(r"""\bextra\s*==\s*["']([^"']+)["']|["']([^"']+)["']\s*==\s*extra\b""")


def _missing_extras(result: Any, finder: Finder) -> tuple[str, ...]:
    """The extras asked for that the version chosen does not provide (neither in Provides-Extra
    nor in a Requires-Dist marker): as pip and uv do, it is installed without them, and they
    say so. A version that lacks one can be chosen by walking back (``networkx[default]``,
    whose extra came with 3.x, ended at networkx 2.5.1 against PyPI)."""
    notes = []
    for candidate in result.mapping.values():
        if not candidate.extras:
            continue
        from_distribution = False
        if candidate.file is None:  # the installed version, kept: its own METADATA says
            dist = finder.installed.get(candidate.name)
            if dist is None:
                continue
            provides, requires = dist.provides_extra, dist.requires
        else:
            # The runtime's own wheel: its lock lists no extras; an index wheel of the version
            # may (Finder.index_metadata_file).
            source = finder.index_metadata_file(candidate)
            if source is not None and source.url not in finder.data.metadata:
                source = None  # not fetched (deps=False): the lock's word stands
            from_distribution = source is None and finder.from_distribution(candidate)
            meta = finder.data.metadata.get((source or candidate.file).url)
            if meta is None:
                continue
            provides, requires = meta.provides_extra, meta.requires_dist
        offered = set(provides) | {canonicalize_name(a or b) for r in requires if r.marker
                                   for a, b in _EXTRA_IN_MARKER.findall(str(r.marker))}
        missing = sorted(candidate.extras - offered)
        if not missing:
            continue
        extras = f"extra{'s' if len(missing) > 1 else ''} {', '.join(repr(e) for e in missing)}"
        them = "it" if len(missing) == 1 else "them"
        if from_distribution:  # its lock lists dependencies, not extras
            notes.append(f"{candidate.name} {candidate.version} comes from the runtime's distribution, whose "
                         f"lock lists no extras: the {extras} {'is' if len(missing) == 1 else 'are'} not installed")
        elif candidate.file is None:
            notes.append(f"{candidate.name} {candidate.version} (installed) does not provide the {extras}; it is "
                         f"kept without {them}")
        else:
            notes.append(f"{candidate.name} {candidate.version} does not provide the {extras}; it is installed without {them}")
    return tuple(sorted(notes))


def _from_distribution(resolution: Resolution, finder: Finder) -> dict[str, str]:
    """The wheels taken from the runtime's distribution, by URL, and why each was: so that a
    failure to fetch one names the cause (a runtime served without its packages)."""
    entries = finder.data.distribution or {}
    urls = {entry.file.url for entry in entries.values()}
    taken = {}
    for dist in resolution.dists:
        if dist.file is None or dist.file.url not in urls:
            continue
        error = finder.data.page_errors.get(dist.name)
        if error is not None and not isinstance(error, ProjectNotFoundError):
            why = f"the index failed for it ({str(error).splitlines()[0]})"
        elif error is not None:
            why = "no index has it"
        elif _yanked_on_index(finder, dist.name, dist.version):
            why = f"the index's files of {dist.version} for this runtime are yanked"
        elif any(f.url not in urls for _, f in finder.versions(dist.name)):
            why = f"no index has a wheel of {dist.version} for this runtime"
        else:
            why = "no index has a wheel of it for this runtime"
        taken[dist.file.url] = why
    return taken


def _yanked_on_index(finder: Finder, name: str, version: Version) -> bool:
    """Whether an index offers ``version`` of ``name`` for the target, yanked."""
    page = finder.data.pages.get(name)
    for got, tags, file in parsed_wheels(page.files if page is not None else (), name):
        if got == version and file.yanked is not None and finder.target.tag_rank(tags) is not None:
            return True
    return False


def _fallbacks(resolution: Resolution, taken: Mapping[str, str], finder: Finder) -> tuple[str, ...]:
    """The projects taken from the runtime's distribution although the index did not say it
    lacks them: it failed (network, HTTP, a malformed page). Taking the runtime's own wheel
    then keeps a page without the index working, but a person should know the index failed."""
    notes = []
    for dist in resolution.dists:
        error = finder.data.page_errors.get(dist.name)
        if dist.file is not None and dist.file.url in taken and error is not None \
                and not isinstance(error, ProjectNotFoundError):
            reason = str(error).split("\n")[0]
            notes.append(f"{dist.name} {dist.version} comes from the runtime's distribution, because the index "
                         f"failed for it: {reason}")
    return tuple(notes)


def _impossible(causes: Sequence[Any], provider: Provider) -> PyemscriptenError:
    finder = provider.finder
    if causes and all(c.requirement.name == UNREADABLE for c in causes):
        return finder.unreadable[causes[0].requirement.parent]  # nothing else stood in the way: its own error
    for cause in causes:
        name = cause.requirement.name
        error = finder.data.page_errors.get(name)
        if error is not None and name not in finder.data.pages and not finder.may_keep(name) \
                and not finder.versions(name):
            # No index has it (candidates.Finder.page): with what needs it, where it is a dependency.
            asking = list(dict.fromkeys(c.parent.label for c in causes
                                        if c.requirement.name == name and c.parent is not None))
            return replace(error, needed_by=asking) if isinstance(error, ProjectNotFoundError) \
                and asking else error
        if name in finder.data.pages and not finder.versions(name) and not finder.may_keep(name):
            parents = dict.fromkeys(f"{c.parent.name} {c.parent.version}" for c in causes
                                    if c.requirement.name == name and c.parent is not None)
            return finder.no_wheel_error(name, list(parents))
    return explain_conflict(causes, provider)


def _without_wheels(finder: Finder) -> list[str]:
    """The projects reached (their pages are in) with no wheel for the target in any version."""
    return [n for n in sorted(finder.data.pages) if not finder.versions(n) and not finder.may_keep(n)]


def _needed_by(finder: Finder, names: Sequence[str], read: dict[str, _Needs],
               roots: Sequence[Dependency]) -> list[str]:
    """``names``, each with the projects whose known versions need it directly (three at most)."""
    needs = _graph(finder, read, roots)
    out = []
    for name in names:
        parents = _parents(needs, name)
        out.append(f"{name} (needed by {listed(parents, 3)})" if parents else name)
    return out


def _parents(needs: Mapping[str, set[str]], name: str) -> list[str]:
    """The projects some known version of which needs ``name`` directly (see _graph)."""
    return sorted(parent for parent, wanted in needs.items() if name in wanted and parent != name)


def _raise_all_missing_wheels(finder: Finder, roots: Sequence[Dependency]) -> None:
    needs = _graph(finder, {}, roots)
    errors = [finder.no_wheel_error(n, _parents(needs, n)) for n in _without_wheels(finder)]
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise MultipleNoCompatibleWheelsError(errors)


def _note_walk(need: NeedData, finder: Finder, walked: dict[str, set[Version]],
               on_walk: Callable[[str], None] | None) -> str | None:
    """Note an older version's metadata asked for (the project's name is returned); tell
    ``on_walk`` at a project's third."""
    candidate = need.candidate
    if candidate is None or not finder.is_older(candidate):
        return None
    older = walked.setdefault(candidate.name, set())
    older.add(candidate.version)
    if len(older) == 3 and on_walk is not None:
        on_walk(candidate.name)
    return candidate.name


@dataclass(frozen=True)
class _Needs:
    """One metadata file's dependencies for the target, read once (see :func:`_graph`)."""

    always: frozenset[str]  # needed whatever extras are asked
    by_extra: tuple[tuple[str, Any], ...]  # (name, marker): needed with some extra of the project
    asks: tuple[tuple[str, frozenset[str]], ...]  # the extras it asks of its dependencies


def _read_needs(meta: DistMetadata, environment: Mapping[str, str]) -> _Needs:
    always, by_extra, asks = set(), [], []
    for req in meta.requires_dist:
        name = canonicalize_name(req.name)
        if req.extras:
            asks.append((name, frozenset(canonicalize_name(e) for e in req.extras)))
        # A marker true with no extra first: one that names an extra may still be true
        # without it (``sys_platform == "emscripten" or extra == "all"``, ``extra != "x"``),
        # and the base candidate then asks for it (candidates.Finder.dependencies).
        if req.marker is None or req.marker.evaluate(environment):
            always.add(name)
        elif "extra" in str(req.marker):
            by_extra.append((name, req.marker))
    return _Needs(frozenset(always), tuple(by_extra), tuple(asks))


def _graph(finder: Finder, read: dict[str, _Needs], roots: Sequence[Dependency] = ()) -> dict[str, set[str]]:
    """Each project with known metadata, and what any of its known versions needs: for the
    target, and with the extras asked of the project (by ``roots``, the user's requirements,
    or by any known metadata file), not with every extra it has. ``read``: each metadata
    file's needs by URL, kept between passes (a file's metadata never changes, and a long walk
    asks for this on every pass)."""
    environment = {**finder.target.marker_environment, "extra": ""}
    for url, meta in finder.data.metadata.items():
        if url not in read:
            read[url] = _read_needs(meta, environment)
    asked: dict[str, set[str]] = {}
    for root in roots:
        asked.setdefault(root.name, set()).update(root.extras)
    for url in finder.data.metadata:
        for name, extras in read[url].asks:
            asked.setdefault(name, set()).update(extras)
    needs: dict[str, set[str]] = {}
    for url, meta in finder.data.metadata.items():
        found = needs.setdefault(meta.name, set())
        found.update(read[url].always)
        wanted = asked.get(meta.name)
        if wanted:
            found.update(name for name, marker in read[url].by_extra
                         if any(marker.evaluate({**environment, "extra": extra}) for extra in wanted))
    return needs


def _ahead(needs: Mapping[str, set[str]], start: str) -> set[str]:
    """``start`` and every project its known versions' dependencies lead to (see _graph)."""
    todo, seen = [start], {start}
    while todo:
        for name in needs.get(todo.pop(), ()):
            if name not in seen:
                seen.add(name)
                todo.append(name)
    return seen


def _held_back(resolution: Resolution, result: Any, finder: Finder) -> tuple[str, ...]:
    """The versions chosen below a project's newest because that one needs, directly or through
    its dependencies, a project with no wheel for the runtime (or a version of one that has
    none, or that no index has at all, see :func:`_blockers`): said, since the version is not
    the one a person expects (``lock google-api-core`` takes google-auth 2.47.0, whose
    successors need cryptography). Nothing is said where the newest is ruled out otherwise (a
    requirement or constraint excludes it, its METADATA's Requires-Python) or where its way to
    a project without wheels goes through versions the resolution did not need."""
    without = set(_without_wheels(finder))
    asked: dict[str, list[Any]] = {}  # project -> the specifiers on it: requirements and constraints
    extras: dict[str, set[str]] = {}  # project -> the extras asked of it
    for identifier, criterion in result.criteria.items():
        name, _, extra = identifier.partition("[")
        if extra:
            extras.setdefault(name, set()).update(e for e in extra.rstrip("]").split(",") if e)
        asked.setdefault(name, []).extend(i.requirement.specifier for i in criterion.information
                                          if i.parent is None or i.parent.name != name)  # not an extra's own base
    for name, constraints in finder.constraints.items():
        asked.setdefault(name, []).extend(c.specifier for c in constraints)
    chosen = {d.name: d.version for d in resolution.dists}
    python = finder.target.python_release  # as Requires-Python is compared everywhere
    notes = []
    for dist in resolution.dists:
        first = finder.newest(dist.name) if dist.file is not None else None
        if first is None or first[0] <= dist.version:
            continue
        newest, file = first
        meta = finder.data.metadata.get(file.url)
        # Metadata of another release: the newest was passed over for it (said so), not for
        # what that release needs.
        if meta is None or finder.another_release(file.url, dist.name, newest) \
                or not all(s.contains(newest, prereleases=True) for s in asked.get(dist.name, ())) \
                or (meta.requires_python is not None and not meta.requires_python.contains(python, prereleases=True)):
            continue
        blocked = _blockers(meta, finder, without, chosen, 3, frozenset(extras.get(dist.name, ())))
        for absent in (False, True):
            labels = sorted(label for label, gone in blocked if gone == absent)
            if labels:
                which = ("no version on the index fits" if absent else
                         f"{'has' if len(labels) == 1 else 'have'} no wheel for this runtime")
                notes.append(f"{dist.name} {dist.version} is chosen, not its newest version {newest}: {newest} needs "
                             f"{', '.join(labels)} (directly or through its dependencies), which {which}")
    return tuple(notes)


def _blockers(meta: DistMetadata, finder: Finder, without: Collection[str], chosen: Mapping[str, Version],
              depth: int, extras: Collection[str] = ()) -> set[tuple[str, bool]]:
    """The projects without wheels that ``meta`` needs (with ``extras``, as asked of it):
    directly, or through the newest version of a dependency that fits its requirement,
    where the resolution's own choice does not. A requirement no version with a wheel for
    the runtime fits is one too, with its specifier (``pydantic-core==2.50.5``, where the
    only wheel for an older runtime is a placeholder 0.0.1). Each with whether no version
    on the index fits it at all, for any platform (``b<1.0`` where b begins at 1.0)."""
    found: set[tuple[str, bool]] = set()
    environments = [{**finder.target.marker_environment, "extra": extra} for extra in ("", *extras)]
    for req in meta.requires_dist:
        name = canonicalize_name(req.name)
        if req.marker is not None and not any(req.marker.evaluate(env) for env in environments):
            continue
        if name in without:
            found.add((name, False))
            continue
        if name in chosen and req.specifier.contains(chosen[name], prereleases=True):
            continue
        try:
            fitting = [f for v, f in finder.versions(name) if f.yanked is None and req.specifier.contains(v)]
        except (PyemscriptenError, NeedData):  # a page the resolution never needed: nothing known
            continue
        if not fitting:
            if not finder.may_keep(name):
                elsewhere = any(req.specifier.contains(v, prereleases=True)
                                for v, _, _ in parsed_wheels(finder.page(name).files, name))
                found.add((f"{name}{req.specifier}", not elsewhere))
            continue
        below = finder.data.metadata.get(fitting[0].url) if depth else None
        if below is not None:
            found |= _blockers(below, finder, without, chosen, depth - 1, req.extras)
    return found


def yanked_notes(dists: Sequence[ResolvedDist], doing: str) -> tuple[str, ...]:
    """A line for each yanked file among ``dists`` (``doing``: "Installing", "Locking"), with
    the reason its index gives: it was taken because a requirement pins it (==)."""
    return tuple(f"{doing} yanked {d.name} {d.version} ({d.file.filename}): {d.yanked or 'no reason given'}"
                 for d in dists if d.yanked is not None and d.file)


def walk_line(name: str) -> str:
    """What to tell a person when resolution starts walking back through ``name``'s versions."""
    return (f"Looking at older versions of {name} for one that fits the other requirements and this runtime; "
            "this can take a while")


def _walk_stopped(finder: Finder, walked: Mapping[str, set[Version]], passes: Mapping[str, int],
                  blockers: set[str], read: dict[str, _Needs], roots: Sequence[Dependency]) -> PyemscriptenError:
    """The projects with no wheel for the runtime that the walk's last step was getting around
    (``blockers``), with how far back resolution looked."""
    needs = _graph(finder, read, roots)
    errors = [finder.no_wheel_error(n, _parents(needs, n)) for n in sorted(blockers)]
    back = {}  # project -> (how many fitting versions are newer than the oldest asked for, that one)
    for name, versions in walked.items():
        if not blockers & _ahead(needs, name):
            continue  # a walk around something else
        oldest = min(versions)
        newest = finder.newest(name)
        back[name] = (sum(1 for v, _ in finder.versions(name) if oldest < v <= (newest[0] if newest else v)), oldest)
    most = sorted(back, key=lambda name: (-back[name][0], name))[:3]
    where = ", ".join(f"{name} (back to {back[name][1]}, {back[name][0]} versions below its newest)" for name in most)
    note = (f"Resolution stopped after {max(passes[n] for n in blockers)} passes through older versions of {where}, looking for "
            f"versions that do not need {'it' if len(errors) == 1 else 'them'}. If an older version would do, "
            "pin it (or add a constraint) and try again.")
    if len(errors) == 1:
        errors[0].reasons.append(note)
        return errors[0]
    return MultipleNoCompatibleWheelsError(errors, note)


class _Resolver(resolvelib.Resolver):  # type: ignore[type-arg]
    """resolvelib's resolver, with its result found without recursion. resolvelib (1.2.1)
    keeps the pins that some path of parents ties to the user's requirements, and follows
    those parents recursively with no record of where it has been: pins that require each
    other, cut off from the root by a backtrack (d 2.0 -> a -> b -> a, then d 1.0), make it
    recurse until RecursionError. Here the same pins are kept, found by a walk from the root.
    With ``backjumping=False`` the search is plain backtracking (:class:`_Backtracking`)."""

    def __init__(self, provider: Provider, reporter: Any, backjumping: bool = True) -> None:
        super().__init__(provider, reporter)
        self.backjumping = backjumping

    def resolve(self, requirements: Any, max_rounds: int = 100) -> Any:  # type: ignore[override]
        kind = resolvelib.resolvers.Resolution if self.backjumping else _Backtracking
        state = kind(self.provider, self.reporter).resolve(requirements, max_rounds=max_rounds)
        keys: dict[int, Any] = {id(candidate): key for key, candidate in state.mapping.items()}
        keys[id(None)] = None  # the user's requirements' parent
        parents = {key: [keys[id(p)] for p in criterion.iter_parent() if id(p) in keys]
                   for key, criterion in state.criteria.items()}
        children: dict[Any, list[Any]] = {}
        for key, found in parents.items():
            for parent in found:
                children.setdefault(parent, []).append(key)
        connected, todo = {None}, [None]
        while todo:
            for child in children.get(todo.pop(), ()):
                if child not in connected:
                    connected.add(child)
                    todo.append(child)
        graph: resolvelib.structs.DirectedGraph[Any] = resolvelib.structs.DirectedGraph()
        graph.add(None)
        for key in state.criteria:
            if key not in connected:
                continue
            if key not in graph:
                graph.add(key)
            for parent in parents[key]:
                if parent not in graph:
                    graph.add(parent)
                graph.connect(parent, key)
        return resolvelib.resolvers.Result(mapping={k: v for k, v in state.mapping.items() if k in connected},
                                           graph=graph, criteria=state.criteria)


class _Backtracking(resolvelib.resolvers.Resolution):  # type: ignore[type-arg]
    """resolvelib's search with each conflict undoing only the latest pin, never jumping past
    one. resolvelib (1.2.1) backjumps: after a conflict it undoes pins back to the latest whose
    dependencies name a project in the conflict, and so can skip the one pin whose other
    version would have worked (sarugaku/resolvelib#206: p2 1 -> p1<=2, p1 2 -> p0, p0 -> p2==2;
    p1 1 is never tried), and then calls solvable requirements impossible. This search is
    slower where the requirements truly conflict, so it runs only after backjumping has failed."""

    def __init__(self, provider: Any, reporter: Any) -> None:
        super().__init__(provider, reporter)
        self._optimistic_backjumping_ratio = 0.0  # nothing saved for a jump to come back from

    def _backjump(self, causes: Any) -> bool:
        while len(self._states) >= 3:  # the root's state, the pin to undo, the state that failed
            del self._states[-1]
            undone = self._states.pop()
            name, candidate = undone.mapping.popitem()
            # What the undone state had learnt cannot work, and now its pin too.
            known = [(key, list(criterion.incompatibilities)) for key, criterion in undone.criteria.items()]
            known.append((name, [candidate]))
            self._push_new_state()
            if self._patch_criteria(known):
                return True
        return False


def _resolution(result: Any, requested: set[str], rounds: int) -> Resolution:
    dists: dict[str, ResolvedDist] = {}
    for candidate in result.mapping.values():
        if candidate.name in dists:
            continue
        dists[candidate.name] = ResolvedDist(
            candidate.name, candidate.version, candidate.file, candidate.name in requested, candidate.yanked
        )
    children = _children(result)
    needed_by: dict[str, set[str]] = {}
    for parent, names in children.items():
        for name in names:
            if parent in dists:
                needed_by.setdefault(name, set()).add(f"{parent} {dists[parent].version}")
    return Resolution(tuple(dists[n] for n in _dependency_order(children, dists)), rounds,
                      needed_by={name: tuple(sorted(parents)) for name, parents in needed_by.items()})


def _children(result: Any) -> dict[str, set[str]]:
    """Each project's direct dependencies in the resolver's graph (an extra's key, "a[x]",
    counts as its project's; the user's requests, under None, are not a project's)."""
    children: dict[str, set[str]] = {}
    for key in result.graph:
        if key is None:
            continue
        parent = key.split("[")[0]
        for child in result.graph.iter_children(key):
            name = child.split("[")[0]
            if name != parent:
                children.setdefault(parent, set()).add(name)
    return children


def _dependency_order(children: Mapping[str, set[str]], dists: Mapping[str, ResolvedDist]) -> list[str]:
    """Names with dependencies before dependents (ties by name)."""
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
