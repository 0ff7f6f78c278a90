"""Project pages of a simple repository: PEP 691 JSON, with PEP 503 HTML as a fallback.

Pure: bytes and the page URL in, a :class:`ProjectPage` out. File URLs are made absolute
against the page URL (PEP 691 allows relative ones). Only wheels are kept: pyemscripten
never builds from source. Any malformed page raises :class:`IndexFormatError`.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urldefrag, urljoin, urlsplit

from .credentials import links_a_local_file
from .errors import IndexFormatError, redact_url

JSON_CONTENT_TYPE = "application/vnd.pypi.simple.v1+json"
HTML_CONTENT_TYPES = ("application/vnd.pypi.simple.v1+html", "text/html")
# Ask for JSON first, then HTML (PEP 691's content negotiation).
ACCEPT_HEADER = f"{JSON_CONTENT_TYPE}, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01"
SUPPORTED_MAJOR = 1
# The newest minor version of the simple API this installer knows: 1.1 added PEP 700's
# fields, 1.2-1.4 others it has no use for (PEP 708, 740, 792). A newer one is read, and
# said (PEP 629: "clients SHOULD warn").
KNOWN_MINOR = 4


@dataclass(frozen=True)
class IndexFile:
    """One wheel on a project page."""

    filename: str
    url: str  # absolute, without fragment
    hashes: tuple[tuple[str, str], ...]  # (algorithm, hex digest), lower case
    requires_python: str | None = None
    yanked: str | None = None  # None: not yanked; "" yanked without reason
    core_metadata: tuple[tuple[str, str], ...] | None = None  # None: no .metadata file offered
    size: int | None = None
    upload_time: str | None = None

    @property
    def hash_dict(self) -> dict[str, str]:
        return dict(self.hashes)

    @property
    def sha256(self) -> str | None:
        return self.hash_dict.get("sha256")

    @property
    def metadata_url(self) -> str:
        return self.url + ".metadata"


#: What a project page's files other than wheels end with: source distributions (PEP 625's
#: .tar.gz, and the older forms) and eggs. A page's other links (an app's own page, answered
#: for any path) are no files.
DISTRIBUTION_SUFFIXES = (".tar.gz", ".zip", ".tar.bz2", ".tar.xz", ".tgz", ".tar", ".egg")


@dataclass(frozen=True)
class ProjectPage:
    """A project's files on one index."""

    project: str
    url: str
    files: tuple[IndexFile, ...]  # its wheels
    api_version: str = "1.0"
    other_files: int = 0  # source distributions and eggs listed (no other link counts)


def parse_project_page(body: bytes, url: str, content_type: str, project: str) -> ProjectPage:
    """Parse a project page answered with ``content_type``.

    Raises :class:`IndexFormatError` for an unknown content type or a malformed page.
    """
    if content_type == JSON_CONTENT_TYPE or content_type == "application/json":
        return parse_json_page(body, url, project)
    if content_type in HTML_CONTENT_TYPES or content_type == "":
        return parse_html_page(body, url, project)
    raise IndexFormatError(url, f"unexpected content type {content_type!r}", project)


# --- PEP 691 JSON --------------------------------------------------------------------


def _first_of_each(pairs: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """``pairs`` (algorithm, digest) in lower case, sorted, with the first digest given for
    each algorithm only.

    One hash named twice with two values (``#sha256=aa...&sha256=bb...``; JSON's ``"sha256"``
    and ``"SHA256"``) is a broken or hostile link: one value at most is the file's. The first
    counts, as pip reads a fragment. The file is then checked against it, so the second one
    neither weakens the check nor passes a file the first refuses, and a wrong first value is
    a hash mismatch that names it. Refused instead, the link would fail an install that pip
    makes; both kept, the larger digest counted, by the accident of sorting (``hash_dict``).
    """
    first: dict[str, str] = {}
    for algorithm, digest in pairs:
        first.setdefault(algorithm.lower(), digest.lower())
    return tuple(sorted(first.items()))


def _hash_pairs(value: Any, url: str, project: str, what: str) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, Mapping):
        raise IndexFormatError(url, f"{what} must be an object of hashes", project)
    for algorithm, digest in value.items():
        if not isinstance(algorithm, str) or not isinstance(digest, str):
            raise IndexFormatError(url, f"{what} has a non-string entry", project)
    return _first_of_each(value.items())


def _json_metadata(entry: Mapping[str, Any], url: str, project: str) -> tuple[tuple[str, str], ...] | None:
    # PEP 714 renamed dist-info-metadata to core-metadata; accept both, prefer the new one.
    # PEP 691: a truthy value says the file is there; a falsey one ({} too) that it is not.
    value = entry.get("core-metadata", entry.get("dist-info-metadata"))
    if not value:
        return None
    if value is True:
        return ()
    return _hash_pairs(value, url, project, "core-metadata")


def _json_yanked(value: Any, url: str, project: str) -> str | None:
    # PEP 691: yanked when the value is truthy; "" is not (a reason is a non-empty string).
    if value is None or value is False or value == "":
        return None
    if value is True:
        return ""
    if isinstance(value, str):
        return value
    raise IndexFormatError(url, "yanked must be a boolean or a reason string", project)


# An absolute http(s) link with nothing urljoin would touch (query, fragment, params, IPv6
# brackets, whitespace, control characters) is its own answer. PyPI writes only such links,
# and urljoin cost more than the rest of an entry's parsing together (15,000-file pages).
_PLAIN_ABSOLUTE = re.compile(r"https?://[^\x00-\x20\x7f?#;\[\]/]+(/[^\x00-\x20\x7f?#;\[\]]*)?")


# The URL parser's first steps (WHATWG URL, "basic URL parser"), which a browser takes for
# every link and urlsplit only in part (it keeps trailing spaces): leading and trailing C0
# controls and spaces go, and so do tabs and newlines anywhere. An href written
# " x.whl#sha256=... " (a template's line breaks) is then the file x.whl with its hash,
# not a file named "x.whl " (no wheel: left out) or the hash "...  " (a hash mismatch).
_C0_OR_SPACE = "".join(map(chr, range(0x21)))
_TAB_OR_NEWLINE = str.maketrans("", "", "\t\n\r")


def _absolute(base: str, link: str, page_url: str, project: str) -> tuple[str, str]:
    """``link`` made absolute against ``base``: (URL without fragment, fragment)."""
    if _PLAIN_ABSOLUTE.fullmatch(link):
        return link, ""
    link = link.strip(_C0_OR_SPACE).translate(_TAB_OR_NEWLINE)
    try:
        found = urldefrag(urljoin(base, link))
    except ValueError as exc:  # urljoin refuses e.g. "http://[" (an unclosed IPv6 host)
        raise IndexFormatError(page_url, f"bad URL {redact_url(link)!r} ({exc})", project) from None
    # The page's own URL, not its <base href>, which the page writes.
    if links_a_local_file(found[0], page_url):
        raise IndexFormatError(page_url, f"it links to {redact_url(found[0])}, a file of this machine, which only "
                                         "an index in this machine's files may name", project)
    return found


def _json_file(entry: Any, url: str, project: str) -> IndexFile | None:
    if not isinstance(entry, Mapping):
        raise IndexFormatError(url, "a files entry is not an object", project)
    filename = entry.get("filename")
    file_url = entry.get("url")
    if not isinstance(filename, str) or not isinstance(file_url, str):
        raise IndexFormatError(url, "a files entry lacks a string filename or url", project)
    if not filename.endswith(".whl"):
        return None
    absolute = _absolute(url, file_url, url, project)[0]
    if absolute == url:  # "" or "#sha256=...": the page itself, no file (as on an HTML page)
        return None
    if "hashes" not in entry:
        raise IndexFormatError(url, f"the entry for {filename} has no 'hashes' key", project)
    requires_python = entry.get("requires-python")
    size = entry.get("size")
    upload_time = entry.get("upload-time")
    return IndexFile(
        filename=filename,
        url=absolute,
        hashes=_hash_pairs(entry["hashes"], url, project, f"hashes of {filename}"),
        requires_python=requires_python if isinstance(requires_python, str) and requires_python else None,
        yanked=_json_yanked(entry.get("yanked"), url, project),
        core_metadata=_json_metadata(entry, url, project),
        size=size if isinstance(size, int) and not isinstance(size, bool) else None,
        upload_time=upload_time if isinstance(upload_time, str) else None,
    )


def parse_json_page(body: bytes, url: str, project: str) -> ProjectPage:
    """Parse a PEP 691 JSON project page. Raises :class:`IndexFormatError`."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:  # RecursionError: nested too deep
        raise IndexFormatError(url, f"not valid JSON ({type(exc).__name__}: {exc})", project) from None
    if not isinstance(data, Mapping):
        raise IndexFormatError(url, "the page is not a JSON object", project)
    meta = data.get("meta")
    api_version = meta.get("api-version") if isinstance(meta, Mapping) else None
    if not isinstance(api_version, str):
        raise IndexFormatError(url, "meta.api-version is missing", project)
    _check_api_version(api_version, url, project)
    files = data.get("files")
    if not isinstance(files, list):
        raise IndexFormatError(url, "'files' is missing or not a list", project)
    wheels = []
    others = 0
    for entry in files:
        wheel = _json_file(entry, url, project)  # None for a file that is no wheel (its filename a str)
        if wheel is not None:
            wheels.append(wheel)
        else:
            others += entry["filename"].endswith(DISTRIBUTION_SUFFIXES)
    if b"\\ud" in body or b"\\uD" in body:  # a surrogate's escape: looked at only then (a page of 15,000 files)
        for wheel in wheels:
            _check_text(wheel, url, project)
    return ProjectPage(project, url, tuple(wheels), api_version, others)


def _check_text(wheel: IndexFile, url: str, project: str) -> None:
    """JSON's ``"\\ud800"`` reads as a lone surrogate: no Unicode text, which no URL, request
    or lock can carry (the native fetch and the lock's writing failed with UnicodeEncodeError)."""
    for text in (wheel.filename, wheel.url, wheel.requires_python or "", *(part for pair in wheel.hashes for part in pair)):
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise IndexFormatError(url, f"the entry for {wheel.filename!r} holds a lone surrogate (an escape such as "
                                        "\\ud800 with no pair), which is no Unicode text", project) from None


def _number(part: str) -> bool:
    # isascii: str.isdigit() also accepts "²", which int() refuses.
    return part.isascii() and part.isdigit()


def _above(part: str, limit: int) -> bool:
    """Whether the number ``part`` (see :func:`_number`) is above ``limit``; int() refuses
    one longer than 4300 digits, and any longer than a few is above ours anyway."""
    return len(part) > 6 or int(part) > limit


def newer_minor(api_version: str) -> bool:
    """Whether ``api_version`` (of a page :func:`_check_api_version` passed) is a 1.x newer
    than :data:`KNOWN_MINOR`."""
    minor = api_version.strip().split(".")[1:2]
    return bool(minor) and _number(minor[0]) and _above(minor[0], KNOWN_MINOR)


def _check_api_version(api_version: str, url: str, project: str) -> None:
    """PEP 629: a major version newer than ours is a hard failure (a newer minor is read)."""
    major = api_version.split(".")[0]
    if not _number(major) or _above(major, SUPPORTED_MAJOR):
        raise IndexFormatError(
            url, f"API version {api_version} is newer than this installer supports (1.x)", project
        )


# --- PEP 503 HTML --------------------------------------------------------------------


@functools.cache
def _anchor_collector() -> type[Any]:
    """The parser class for HTML pages, made at the first one: ``html`` and ``html.parser``
    take 40-50 ms to import in Pyodide (the entity table), and JSON pages need neither."""
    from html.parser import HTMLParser

    class AnchorCollector(HTMLParser):
        def __init__(self) -> None:
            super().__init__(convert_charrefs=True)
            self.base: str | None = None
            self.api_version: str | None = None  # <meta name="pypi:repository-version"> (PEP 629)
            self.anchors: list[dict[str, str | None]] = []  # each <a>'s attributes (its text names nothing)

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            if tag == "base" and self.base is None:
                self.base = dict(attrs).get("href")
            elif tag == "meta" and self.api_version is None:
                found = dict(attrs)
                if found.get("name") == "pypi:repository-version" and found.get("content"):
                    self.api_version = found["content"]
            elif tag == "a":
                self.anchors.append(dict(attrs))

    return AnchorCollector


@functools.cache
def _legacy_references() -> tuple[re.Pattern[str], re.Pattern[str], Mapping[str, str]]:
    """What :func:`_literal_ampersands` looks for: a legacy reference (HTML's few names also
    valid without ";", ``&reg``, ``&copy``), longest first, before a letter, digit or "=";
    the run of name characters after an "&"; and the table of names (made with the parser)."""
    from html.entities import html5

    legacy = sorted((name for name in html5 if not name.endswith(";")), key=len, reverse=True)
    return re.compile(f"&(?:{'|'.join(legacy)})(?=[A-Za-z0-9=])"), re.compile(r"[A-Za-z0-9]+;?"), html5


def _literal_ampersands(text: str) -> str:
    """``text`` with the "&" of each legacy reference that HTML5 reads as text in an attribute
    written as ``&amp;``, so that every parser decodes it as a browser does.

    HTML5: in an attribute, a reference without ";" followed by a letter, a digit or "=" is no
    reference, so ``href="x.whl?a=1&region=eu"`` is the URL as written. html.parser decodes
    it as "?a=1®ion=eu" in the Pythons without CPython's fix (gh-69426; 3.11 does): a wrong
    URL for the wheel and in the lock, and a page read one way natively and another in the
    browser. (Between tags HTML5 does decode ``&reg`` so written, but no text between tags
    is read here.)
    """
    legacy, run, table = _legacy_references()

    def keep(match: re.Match[str]) -> str:
        written = run.match(text, match.start() + 1)
        assert written is not None  # the legacy name matched is such a run
        if written.group().endswith(";") and written.group() in table:  # a longer reference: "&notin;"
            return match.group()
        return "&amp;" + match.group()[1:]

    return legacy.sub(keep, text) if "&" in text else text


#: What a link's fragment may name as a hash (PEP 503: "the name of a hash function ...
#: hashlib"): the algorithms every hashlib has, so that a page reads the same natively and in
#: the browser whatever this interpreter's build offers.
HASH_NAMES = frozenset(hashlib.algorithms_guaranteed)

#: The hashes a wheel may be proved by, strongest first: anything weaker than sha256 is not
#: accepted as proof (downloads.strongest_hash; a requirement's `name @ URL#...`).
ACCEPTED_HASHES = ("sha512", "sha384", "sha256")


def fragment_hash(fragment: str) -> tuple[tuple[str, str], ...]:
    """The hashes a link's fragment gives (PEP 503's ``<hashname>=<hashvalue>``), lower case,
    sorted; () without one.

    The fragment is read as pip reads it, as ``&``-joined parts (``#egg=demo&sha256=...``),
    of which only those naming a hash of :data:`HASH_NAMES` with a value count. ``egg=``,
    ``subdirectory=`` or any other part is no hash: taken as one, ``#egg=demo`` was a hash
    "egg", and ``#sha256=ab&egg=demo`` the digest "ab&egg=demo", a mismatch for the right file.
    A hash named twice counts with its first value (:func:`_first_of_each`).
    """
    pairs = []
    for part in fragment.split("&"):
        algorithm, equals, digest = part.partition("=")
        if equals and digest and algorithm.lower() in HASH_NAMES:
            pairs.append((algorithm, digest))
    return _first_of_each(pairs)


def _html_metadata(attrs: Mapping[str, str | None]) -> tuple[tuple[str, str], ...] | None:
    for key in ("data-core-metadata", "data-dist-info-metadata"):
        if key in attrs:
            value = attrs[key] or "true"
            if value.lower() == "true":
                return ()
            if value.lower() == "false":
                return None
            return fragment_hash(value)
    return None


def parse_html_page(body: bytes, url: str, project: str) -> ProjectPage:
    """Parse a PEP 503 HTML project page. Raises :class:`IndexFormatError`."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise IndexFormatError(url, f"the page is not UTF-8 ({exc.reason})", project) from None
    collector = _anchor_collector()()
    try:
        collector.feed(_literal_ampersands(text))
        collector.close()
    except Exception as exc:  # html.parser raises assorted types on hostile input
        raise IndexFormatError(url, f"unparseable HTML ({exc})", project) from None
    api_version = (collector.api_version or "1.0").strip()
    _check_api_version(api_version, url, project)
    base = _absolute(url, collector.base, url, project)[0] if collector.base else url
    files = []
    others = 0
    for attrs in collector.anchors:
        href = attrs.get("href")
        if not href:
            continue
        absolute, fragment = _absolute(base, href, url, project)
        # PEP 503: the file name is the last part of the URL's path, percent-decoded (a
        # local version's "+" is often written %2B), without any query string. Never the
        # anchor's text, which PEP 503 has match that part, not replace it: a link to a folder
        # ("./", "/files/") or to the page itself (" ", "#sha256=...", which the URL parser
        # resolves to the page's URL) is no file, though its text names one; nor is a page
        # whose own URL ends in a wheel's name.
        filename = unquote(urlsplit(absolute).path.rsplit("/", 1)[-1])
        if absolute == url or not filename.endswith(".whl"):
            others += filename.endswith(DISTRIBUTION_SUFFIXES)
            continue
        yanked = attrs.get("data-yanked")
        requires_python = attrs.get("data-requires-python")
        files.append(
            IndexFile(
                filename=filename,
                url=absolute,
                hashes=fragment_hash(fragment),
                requires_python=requires_python or None,  # html.parser decodes attribute values itself
                yanked=None if "data-yanked" not in attrs else (yanked or ""),
                core_metadata=_html_metadata(attrs),
            )
        )
    return ProjectPage(project, url, tuple(files), api_version, others)
