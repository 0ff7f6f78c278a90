"""Credentials in index URLs (``https://user:token@host/simple/``), for transports.

Browsers' ``fetch`` refuses a URL that holds credentials, and a URL with a secret in it must
never reach a message, a progress event or a file. So transports do this:

* Rule 1: the ``user:password@`` part is taken off every URL before it is requested, and
  remembered for that URL's origin (scheme, host, port) and path.
* Rule 2: every request to an origin with remembered credentials carries them as an
  ``Authorization: Basic`` header, unless the caller set ``Authorization`` itself: of several
  for one origin (two projects' indexes on one GitLab), those whose URL shares the longest
  leading path with the request's (a URL that carries credentials, with its own). Wheel and
  metadata URLs on an index page are relative to the page, so they are authenticated too;
  files on another origin (a CDN) never see the credentials.
* Rule 3: the URL a transport reports (in a :class:`~pyemscripten.seams.Response` or an
  error) is the stripped one, so links resolved against it carry no secret either.

URL schemes are case-insensitive (RFC 3986 3.1): :func:`lower_scheme` writes them as the
WHATWG URL parser (a browser's ``fetch``) and ``urlsplit`` do, so that checks and
comparisons of URL text agree with them. Pure: no I/O.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from urllib.parse import unquote, urlsplit

Origin = tuple[str, str, int | None]
_DEFAULT_PORTS = {"http": 80, "https": 443}


#: A URL's scheme, without its colon (RFC 3986 3.1): a letter, then letters, digits, "+",
#: "-", ".". The one pattern of it: errors' redaction and candidates' names_a_file build on it.
SCHEME_PATTERN = r"[A-Za-z][A-Za-z0-9+.-]*"
_SCHEME = re.compile(SCHEME_PATTERN + ":")

# The authority of a URL (what follows "scheme://" up to the path), as urlsplit finds it.
# Text, not urlsplit: a URL whose port or IPv6 host does not parse must lose its password too.
_AUTHORITY = re.compile(rf"^(?:{SCHEME_PATTERN}:)?//([^/?#]*)")


def is_file_url(url: str) -> bool:
    """Whether ``url`` is a ``file:`` URL (its scheme in any case, RFC 3986 3.1)."""
    return url[:5].lower() == "file:"


def links_a_local_file(link: str, source: str | None) -> bool:
    """Whether ``link``, read in a page or lock from ``source``, names a file of this machine
    though that page or lock is not one itself. As in a browser, only a file: page links to
    files of this machine: in Node, where file: URLs are read, a page from a server would
    otherwise have the install read local files. ``source`` None or empty: the user's own
    text (a lock given as text), which may name them."""
    return is_file_url(link) and bool(source) and not is_file_url(source or "")


def lower_scheme(url: str) -> str:
    """``url`` with its scheme in lower case (``HTTPS://host/`` is ``https://host/``), as
    ``fetch`` and ``urlsplit`` read it: a URL the user spelled so is then neither refused by
    a check for "https://" nor taken for another than the same URL from a page."""
    match = _SCHEME.match(url)
    return url if match is None else match.group().lower() + url[match.end():]


def split_credentials(url: str) -> tuple[str, tuple[str, str] | None]:
    """``url`` without its ``user:password@`` part, and the (percent-decoded) pair if any."""
    match = _AUTHORITY.match(url)
    if match is None or "@" not in match.group(1):
        return url, None
    userinfo, _, host = match.group(1).rpartition("@")
    user, _, password = userinfo.partition(":")
    return url[: match.start(1)] + host + url[match.end(1) :], (unquote(user), unquote(password))


def strip_credentials(url: str) -> str:
    """``url`` without its ``user:password@`` part."""
    return split_credentials(url)[0]


def _origin(url: str) -> Origin | None:
    try:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        return scheme, (parts.hostname or "").lower(), parts.port or _DEFAULT_PORTS.get(scheme)
    except ValueError:
        return None


def same_origin(a: str, b: str) -> bool:
    """Whether two URLs share scheme, host and port (URLs that do not parse share nothing)."""
    origin = _origin(a)
    return origin is not None and origin == _origin(b)


def basic_authorization(user: str, password: str) -> str:
    token = base64.b64encode(f"{user}:{password}".encode("utf-8")).decode("ascii")
    return f"Basic {token}"


class OriginCredentials:
    """Credentials learned from URLs, by origin and path (rules 1 and 2). One per transport."""

    def __init__(self) -> None:
        self._by_origin: dict[Origin, list[tuple[tuple[str, ...], str]]] = {}

    def prepare(self, url: str, headers: Mapping[str, str] | None) -> tuple[str, dict[str, str]]:
        """The URL to request and the headers to send with it."""
        bare, credentials = split_credentials(url)
        origin = _origin(bare)
        path = _path(bare)
        known = self._by_origin.setdefault(origin, []) if origin is not None else []
        authorization = None
        if credentials is not None and origin is not None:
            # One entry per authorization and index: the pages of one index (each project
            # page's URL carries them) are one entry, their parent folder, so the list stays
            # as short as the indexes are few. One token given for two indexes of a host (a
            # GitLab personal token for two projects' indexes) stays two entries: made one,
            # their shared path ("api/v4") lost to a third index's token the files of both.
            authorization = basic_authorization(*credentials)
            index = next((n for n, (p, a) in enumerate(known) if a == authorization and _one_index(p, path)), None)
            shared = path if index is None else _common(known.pop(index)[0], path)
            known.append((shared, authorization))
        out = dict(headers or {})
        # A URL that carries credentials is sent with those: the user gave them for it.
        closest = authorization or _closest(known, path)
        if closest and not any(k.lower() == "authorization" for k in out):
            out["Authorization"] = closest
        return bare, out


def _path(url: str) -> tuple[str, ...]:
    try:
        return tuple(part for part in urlsplit(url).path.split("/") if part)
    except ValueError:
        return ()


def _common(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[str, ...]:
    """The leading parts two paths share."""
    length = 0
    for x, y in zip(a, b):
        if x != y:
            break
        length += 1
    return a[:length]


def _one_index(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    """Whether two paths may be URLs of one index: the same but for their last part (two
    projects' pages), or one the other's folder (the index's own URL and a page)."""
    return len(_common(a, b)) >= max(len(a), len(b)) - 1


def _closest(known: list[tuple[tuple[str, ...], str]], path: tuple[str, ...]) -> str | None:
    """The credentials whose path shares the most leading parts with ``path`` (the latest
    learned of equals)."""
    best, best_length = None, -1
    for candidate, authorization in known:
        length = len(_common(candidate, path))
        if length >= best_length:
            best, best_length = authorization, length
    return best
