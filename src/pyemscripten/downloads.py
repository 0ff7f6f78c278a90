"""Downloading the resolved wheels: concurrently, verified, never trusted without a hash.

Each wheel's bytes are checked against the size and the strongest hash the index (or lock)
gave before anything else looks at them. md5 and sha1 do not count as hashes. A file with
no usable hash is refused unless the caller allows unhashed files. A verified body may be
handed straight to a consumer (unpacking) while other downloads are still in flight.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from .errors import HashMismatchError, MissingHashError, SizeMismatchError
from .index_client import RetryPolicy, Sleep, get_ok
from .index_pages import IndexFile
from .seams import BodyPieces, Hasher, Transport, WheelCache

# Strongest first; anything weaker than sha256 is not accepted as proof.
ACCEPTED_HASHES = ("sha512", "sha384", "sha256")

T = TypeVar("T")


@dataclass(frozen=True)
class WheelRequest:
    project: str
    file: IndexFile


def strongest_hash(hashes: Mapping[str, str]) -> tuple[str, str] | None:
    for algorithm in ACCEPTED_HASHES:
        if algorithm in hashes:
            return algorithm, hashes[algorithm]
    return None


def verify(request: WheelRequest, data: bytes, allow_unhashed: bool = False, sha256: bytes | None = None) -> None:
    """Check ``data`` against the file's size and hash.

    ``sha256``: the sha256 digest of ``data``, if already computed (used when sha256 is the
    strongest hash given). Raises :class:`SizeMismatchError`, :class:`HashMismatchError`,
    :class:`MissingHashError`.
    """
    file = request.file
    if file.size is not None and len(data) != file.size:
        raise SizeMismatchError(file.filename, file.url, file.size, len(data), request.project)
    chosen = strongest_hash(file.hash_dict)
    if chosen is None:
        if allow_unhashed:
            return
        raise MissingHashError(request.project, file.filename, file.url)
    algorithm, expected = chosen
    if algorithm == "sha256" and sha256 is not None:
        got = sha256.hex()
    else:
        got = hashlib.new(algorithm, data).hexdigest()
    if got != expected.lower():
        raise HashMismatchError(file.filename, file.url, algorithm, expected, got, request.project)


async def fetch_wheel(
    transport: Transport,
    request: WheelRequest,
    *,
    retry: RetryPolicy,
    allow_unhashed: bool = False,
    prefetched: Mapping[str, bytes] | None = None,
    cache: WheelCache | None = None,
    on_bytes: Callable[[int, int | None], None] | None = None,
    on_data: BodyPieces | None = None,
    sleep: Sleep = asyncio.sleep,
    hasher: Hasher | None = None,
) -> bytes:
    """The verified bytes of one wheel: from ``prefetched``, the cache, or the network.

    A cached body is used only when the index gives its sha256 and the body matches it.
    A wheel with no usable hash is refused before it is fetched, unless ``allow_unhashed``.
    ``hasher`` computes the sha256 (default: hashlib, here). ``on_data`` sees the pieces of
    a body coming from the network, before it is verified (see :class:`~.seams.Transport`).
    """
    hasher = hasher or Hasher()
    if not allow_unhashed and strongest_hash(request.file.hash_dict) is None:
        raise MissingHashError(request.project, request.file.filename, request.file.url)
    sha256 = request.file.sha256
    body = (prefetched or {}).get(request.file.url)
    if body is None and cache is not None and sha256:
        cached = await cache.get(sha256)
        if cached is not None:
            try:
                # size and the strongest hash: sha256 or better
                verify(request, cached, sha256=await _sha256_if_checked(hasher, request, cached))
                return cached
            except (SizeMismatchError, HashMismatchError):
                pass  # a damaged or foreign entry: fetch the wheel (and replace the entry)
    from_network = body is None
    if body is None:
        response = await get_ok(transport, request.file.url, project=request.project, what="wheel",
                                retry=retry, on_progress=on_bytes, on_data=on_data, sleep=sleep)
        assert response is not None
        body = response.body
    verify(request, body, allow_unhashed, sha256=await _sha256_if_checked(hasher, request, body))
    if from_network and cache is not None and sha256:
        await cache.put(sha256, body)
    return body


async def _sha256_if_checked(hasher: Hasher, request: WheelRequest, data: bytes) -> bytes | None:
    """The sha256 of ``data`` when :func:`verify` will check that one (the strongest given)."""
    chosen = strongest_hash(request.file.hash_dict)
    if chosen is None or chosen[0] != "sha256":
        return None
    return (await hasher.sha256([data]))[0]


async def gather_all(jobs: Sequence[Awaitable[T]]) -> list[T]:
    """Run ``jobs`` concurrently; on the first failure cancel the rest and raise it."""
    tasks = [asyncio.ensure_future(j) for j in jobs]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
