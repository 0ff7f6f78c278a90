"""The native side of the seams: urllib for HTTP, used by the lock command off-browser."""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.request
from collections.abc import Mapping

from .credentials import OriginCredentials
from .errors import NetworkError
from .seams import ByteProgress, Response, Transport


class UrllibTransport(Transport):
    """Blocking urllib in a worker thread. HTTP error statuses are returned, not raised."""

    def __init__(self, timeout: float = 60.0) -> None:
        self.timeout = timeout
        self._credentials = OriginCredentials()  # URLs with user:password@, as in FetchTransport

    async def get(
        self,
        url: str,
        headers: Mapping[str, str] | None = None,
        on_progress: ByteProgress | None = None,
    ) -> Response:
        url, prepared = self._credentials.prepare(url, headers)
        return await asyncio.to_thread(self._get, url, prepared)

    def _get(self, url: str, headers: dict[str, str]) -> Response:
        request = urllib.request.Request(url, headers={"User-Agent": "pyemscripten", **headers})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                body = answer.read()
                return Response(answer.geturl(), answer.status, body, {k.lower(): v for k, v in answer.headers.items()})
        except urllib.error.HTTPError as exc:
            return Response(url, exc.code, exc.read() or b"", {k.lower(): v for k, v in exc.headers.items()})
        except (urllib.error.URLError, OSError) as exc:
            raise NetworkError(url, str(getattr(exc, "reason", exc))) from None
