"""Prefetching: fetch what the resolver is likely to need before it asks, concurrently.

From the root requirements, follow the newest fitting version of everything: its page,
then its metadata (PEP 658 file; the wheel itself when the index offers none, or when its
download, started early, is small: see ``metadata_from_download``), then its dependencies,
all in flight at once. In the common case the resolver then runs once on
complete data. Fetch errors are kept in :class:`~pyemscripten.candidates.KnownData` and
raised only if resolution really needs that project.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any

from .candidates import PYTHON, UNREADABLE, Candidate, Dependency, Finder, NeedData
from .distribution import DistributionEntry
from .downloads import WheelRequest, verify
from .errors import PyemscriptenError
from .index_client import IndexClient, get_ok
from .metadata import metadata_from_wheel, parse_metadata
from .seams import start_task

# Fetches and parses the runtime's own distribution (pyodide-lock.json), by canonical name.
DistributionLoader = Callable[[], Awaitable[dict[str, DistributionEntry]]]


class Crawler:
    """Fetches pages and metadata the resolver is likely to need, concurrently.

    ``on_candidate`` hears of each candidate the crawl follows (the newest that fits), as
    soon as it is chosen: a good guess of what resolution will pick, e.g. to start its
    download early. It must not raise. ``metadata_from_download``: for such a candidate,
    the METADATA of its wheel from that download (an awaitable of the bytes, verified and
    checked as the wheel is, or of None if the download failed), or None; where it gives
    the bytes, the ``.metadata`` file is not asked for (see
    :meth:`~pyemscripten.downloads.WheelTasks.metadata_of_guess`).
    """

    def __init__(
        self,
        client: IndexClient,
        finder: Finder,
        progress: Callable[[str], None] | None = None,
        distribution: DistributionLoader | None = None,
        on_candidate: Callable[[Candidate], None] | None = None,
        metadata_from_download: Callable[[Candidate], Awaitable[bytes | None] | None] | None = None,
    ) -> None:
        self.client = client
        self._load_distribution = distribution
        self._distribution_task: asyncio.Task[None] | None = None
        self.finder = finder
        self.data = finder.data
        self._pages: dict[str, asyncio.Task[None]] = {}
        self._meta: dict[str, asyncio.Task[None]] = {}
        self._visited: set[tuple[str, str, frozenset[str]]] = set()
        self._started: list[asyncio.Task[None]] = []  # every task not done when started (see close)
        self.progress = progress
        self.on_candidate = on_candidate
        self.metadata_from_download = metadata_from_download

    def _start(self, step: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = start_task(step)
        if not task.done():  # (a list, not a done-callback: in the page each is a turn of the loop)
            self._started.append(task)
        return task

    async def close(self) -> None:
        """End what the crawl still has under way (metadata asked for ahead, visits whose
        sibling failed): nothing it started outlives the resolution."""
        running = [task for task in self._started if not task.done()]
        self._started = []
        for task in running:
            task.cancel()
        if running:
            await asyncio.gather(*running, return_exceptions=True)

    def _page_task(self, name: str) -> asyncio.Task[None]:
        if name not in self._pages:
            self._pages[name] = self._start(self._fetch_page(name))
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
            self._meta[url] = self._start(self._fetch_metadata(candidate))
        return self._meta[url]

    async def _fetch_metadata(self, candidate: Candidate) -> None:
        file = candidate.file
        assert file is not None
        if file.url in self.data.metadata:
            return
        try:
            download = self.metadata_from_download(candidate) if self.metadata_from_download else None
            from_wheel = await download if download is not None else None
            if from_wheel is not None:
                meta = parse_metadata(from_wheel, candidate.name, file.filename)
            elif file.core_metadata is not None:
                body = await self.client.core_metadata(candidate.name, file)
                meta = parse_metadata(body, candidate.name, file.filename + ".metadata")
            else:
                # No PEP 658 file: the wheel itself is the only source. Keep its bytes so the
                # download stage does not fetch it again (it still verifies the hash).
                response = await get_ok(self.client.transport, file.url, project=candidate.name,
                                        what="wheel", retry=self.client.retry, sleep=self.client.sleep)
                assert response is not None
                # Check the size and hash the index gives before the zip is even opened: a
                # tampered wheel must not steer resolution. (Whether a wheel without a hash
                # may be installed is the download stage's call: it knows allow_unhashed.)
                verify(WheelRequest(candidate.name, file), response.body, allow_unhashed=True)
                self.data.wheel_bodies[file.url] = response.body
                meta = metadata_from_wheel(response.body, candidate.name, file.filename)
            self.data.metadata[file.url] = meta
        except PyemscriptenError as exc:
            self.data.metadata_errors[file.url] = exc

    async def visit(self, dep: Dependency) -> None:
        """Fetch the page of ``dep``, the metadata of its best candidate, then recurse."""
        key = _key(dep)
        if key in self._visited:
            return
        self._visited.add(key)
        await self._versions_known(dep.name)
        try:
            candidates = self.finder.candidates(dep.name, dep.extras, [dep])
        except PyemscriptenError:
            return  # the resolver raises it if it really needs this project
        if candidates:
            if self.on_candidate is not None:
                self.on_candidate(candidates[0])
            await self.expand(candidates[0])

    async def _versions_known(self, name: str) -> None:
        """Fetch ``name``'s page, and the runtime's distribution if the page has no version for it."""
        await self._page_task(name)
        if self._load_distribution is not None and name not in self.finder.direct and not self._has_versions(name):
            await self._distribution()

    def _has_versions(self, name: str) -> bool:
        try:
            return bool(self.finder.versions(name))
        except PyemscriptenError:
            return False

    async def load_distribution(self) -> None:
        """Load the runtime's distribution now (resolution from the indexes alone failed)."""
        if self._load_distribution is not None:
            await self._distribution()

    async def _distribution(self) -> None:
        """Load the runtime's distribution once, and only if some project needs it."""
        if self._distribution_task is None:
            self._distribution_task = self._start(self._fetch_distribution())
        await self._distribution_task

    async def _fetch_distribution(self) -> None:
        assert self._load_distribution is not None
        try:
            self.data.distribution = await self._load_distribution()
        except PyemscriptenError:
            self.data.distribution = {}  # no distribution: the index's own error stands
        self.finder.distribution_pending = False
        self.finder.forget_versions()

    async def expand(self, candidate: Candidate) -> None:
        if not candidate.installed:
            await self._meta_task(candidate)
        asked: set[str] = set()
        while True:
            try:
                deps = self.finder.dependencies(candidate)
            except PyemscriptenError:
                return
            except NeedData as need:
                # Another file's metadata (the runtime's own wheel's, from an index wheel of
                # its version: Finder.index_metadata_file): fetched here, so that the crawl
                # goes on instead of leaving a round of resolution for each.
                other = need.candidate
                if other is None or other.file is None or other.file.url in asked:
                    return
                asked.add(other.file.url)
                await self._meta_task(other)
                continue
            break
        await self.visit_all(deps)

    async def visit_all(self, deps: Sequence[Dependency]) -> None:
        """:meth:`visit` each of ``deps``, concurrently: only the ones not visited yet, and a
        task each only where there are several (in the page every task is turns of the event
        loop, and most dependencies were seen before)."""
        fresh = [d for d in deps if _key(d) not in self._visited and d.name not in (PYTHON, UNREADABLE)]
        if len(fresh) == 1:
            await self.visit(fresh[0])
        elif fresh:
            await asyncio.gather(*[self._start(self.visit(d)) for d in fresh])

    AHEAD = 4  # older versions whose metadata files are asked for with a backtracking round's

    async def satisfy(self, need: NeedData) -> None:
        if need.page is not None:
            # A project first named by metadata the crawl fetched ahead (_ahead) is not
            # visited: the distribution may still have to be asked for it, as visit() does.
            await self._versions_known(need.page)
        if need.candidate is not None:
            self._ahead(need.candidate)
            await self.expand(need.candidate)

    def _ahead(self, candidate: Candidate) -> None:
        """Resolution asks for an older version's metadata when it backtracks through a
        project (a version that needs a project no index has, or another Python, is passed
        over, then the next): each would be a round, one request after another. So the
        metadata files of the next few older versions are asked for at once (only PEP 658
        files: a wheel is never fetched for this)."""
        if not self.finder.is_older(candidate):
            return  # the newest: not backtracking
        rows = self.finder.versions(candidate.name)
        older = [(v, f) for v, f in rows if v < candidate.version and f.core_metadata is not None]
        for version, file in older[:self.AHEAD]:
            self._meta_task(Candidate(candidate.name, version, frozenset(), file, file.yanked))


def _key(dep: Dependency) -> tuple[str, str, frozenset[str]]:
    """What makes two visits the same visit."""
    return (dep.name, str(dep.specifier), dep.extras)
