"""Generated index pages and index URLs, checked against a model of what the specs say.

A project page is generated as data (its files, each with the attributes PEP 503, 592, 658,
691 and 714 give it), then written as PEP 503 HTML (quoting, attribute order, character
references, extra tags and a ``<base>`` all varied) and as PEP 691 JSON: both must parse
back to the files of the data. The index client is driven through a fake transport (content
types, redirects, several indexes), and :class:`~pyemscripten.credentials.OriginCredentials`
against a small model of which URL gets which credentials.
"""

from __future__ import annotations

import asyncio
import base64
import html
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from pyemscripten.credentials import OriginCredentials
from pyemscripten.errors import IndexHTTPError, NetworkError, ProjectNotFoundError, PyemscriptenError
from pyemscripten.index_client import IndexClient, RetryPolicy
from pyemscripten.index_pages import ACCEPT_HEADER, IndexFile, parse_html_page, parse_json_page
from pyemscripten.seams import BodyPieces, ByteProgress, Response, Transport
from tests.unit.fake_index import no_sleep

PAGE = "https://index.test/simple/demo/"


# --- the page as data ----------------------------------------------------------------


@dataclass(frozen=True)
class Link:
    """One file of the page: the file it stands for, and how its link is written."""

    file: IndexFile
    href: str  # relative to the page's base, without the fragment
    base: str  # what the page's base URL is (its own URL, or what a <base> says)


# A query string, as signed CDN links carry: its names include ones that begin like HTML's
# legacy character references written without ";" (&reg, &copy, &not, &para, &times).
query_names = st.sampled_from(["sig", "region", "copy", "not", "para", "times", "amp", "lt", "x-amz-date"])
queries = st.lists(st.tuples(query_names, st.text("abz09-_.", max_size=4)), max_size=3).map(
    lambda pairs: "&".join(f"{name}={value}" for name, value in pairs))


@st.composite
def links(draw: Any, base: str, n: int) -> Link:
    version = f"{n}.{draw(st.integers(0, 9))}" + draw(st.sampled_from(["", "+cpu", "+local.1"]))
    filename = f"demo-{version}-py3-none-any.whl"
    written = filename.replace("+", draw(st.sampled_from(["+", "%2B", "%2b"])))
    # Where the file is, and a link to it as the page may write it (relative to ``base``,
    # "https://index.test/simple/demo/" or "https://index.test/other/place/").
    place = draw(st.sampled_from(["here", "files", "root", "cdn", "scheme-relative"]))
    if place == "here":
        href, absolute = written, base + written
    elif place == "files":
        href, absolute = "../../files/" + written, base.rsplit("/", 3)[0] + "/files/" + written
    elif place == "root":
        href, absolute = "/packages/ab/" + written, "https://index.test/packages/ab/" + written
    elif place == "cdn":
        href = absolute = "https://cdn.test/packages/" + written
    else:
        href, absolute = "//cdn.test/p/" + written, "https://cdn.test/p/" + written
    query = draw(queries)
    if query:
        href, absolute = href + "?" + query, absolute + "?" + query
    digest = draw(st.none() | st.text("0123456789abcdef", min_size=4, max_size=8))
    metadata = draw(st.sampled_from([None, (), "hash"]))
    file = IndexFile(
        filename=filename,
        url=absolute,
        hashes=() if digest is None else (("sha256", digest),),
        requires_python=draw(st.none() | st.sampled_from([">=3.8", ">=3.9,<4", "!=3.0.*,>=2.7", "<3.13 , >3"])),
        yanked=draw(st.none() | st.just("") | st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")),
                                                     min_size=1, max_size=12)),
        core_metadata=(("sha256", digest[::-1]),) if metadata == "hash" and digest else (None if metadata == "hash"
                                                                                          else metadata),
    )
    return Link(file, href, base)


def escape(draw: Any, value: str, url: bool) -> str:
    """``value`` as an attribute value may hold it, with character references varied (a URL's
    "&" before a query parameter's name also as it is, as pages write them)."""
    out = []
    for char in value:
        if char == "&" and url and draw(st.booleans()):
            out.append(char)
        elif char in "<>\"'" or (not char.isascii() and draw(st.booleans())):
            out.append(draw(st.sampled_from([f"&#{ord(char)};", f"&#x{ord(char):X};",
                                             *([html.escape(char)] if html.escape(char) != char else [])])))
        else:
            out.append(char)
    return "".join(out)


def attribute(draw: Any, name: str, value: str | None) -> str:
    if value is None:
        return name
    escaped = escape(draw, value, url=name.endswith("href"))
    quote = draw(st.sampled_from(['"', "'", ""] if escaped and not any(c.isspace() or c in "=`<>" for c in escaped) else
                                 ['"', "'"]))
    return f"{draw(st.sampled_from([name, name.upper()]))}={quote}{escaped}{quote}"


@st.composite
def html_pages(draw: Any) -> tuple[bytes, list[IndexFile]]:
    based = draw(st.booleans())
    base = "https://index.test/other/place/" if based else PAGE
    found = [draw(links(base, n)) for n in range(draw(st.integers(0, 4)))]
    head = '<meta name="pypi:repository-version" content="1.0">' if draw(st.booleans()) else ""
    if based:
        head += '<base target="_top">' if draw(st.booleans()) else ""  # no href: not the base
        head += attribute(draw, '<base href', "../../other/place/") + ">"
    anchors = []
    for link in found:
        file = link.file
        href = link.href
        if file.hashes:
            algorithm, digest = file.hashes[0]
            href += f"#{draw(st.sampled_from([algorithm, algorithm.upper()]))}={draw(st.sampled_from([digest, digest.upper()]))}"
        attrs = [attribute(draw, "href", href)]
        if file.requires_python is not None:
            attrs.append(attribute(draw, "data-requires-python", file.requires_python))
        if file.yanked is not None:
            attrs.append(attribute(draw, "data-yanked", file.yanked) if file.yanked or draw(st.booleans())
                         else "data-yanked")
        if file.core_metadata is not None:
            key = draw(st.sampled_from(["data-core-metadata", "data-dist-info-metadata"]))
            value = "true" if not file.core_metadata else "=".join(file.core_metadata[0])
            attrs.append(attribute(draw, key, value))
        attrs = draw(st.permutations(attrs))
        extra = draw(st.sampled_from(["", "<br>", "<!-- a <a href='x.whl'> -->", "\n  ", "<span>sdist</span>"]))
        closing = "</a>" if draw(st.booleans()) else ""
        anchors.append(f"<a {' '.join(attrs)}>{html.escape(file.filename)}{closing}{extra}")
    text = f"<!DOCTYPE html><html><head>{head}<title>Links for demo</title></head><body><h1>demo</h1>" \
           f"{''.join(anchors)}</body></html>"
    return text.encode(), [link.file for link in found]


def json_page(files: list[IndexFile], relative: list[str]) -> bytes:
    entries = []
    for file, url in zip(files, relative):
        entry: dict[str, Any] = {"filename": file.filename, "url": url, "hashes": dict(file.hashes)}
        if file.requires_python is not None:
            entry["requires-python"] = file.requires_python
        if file.yanked is not None:
            entry["yanked"] = file.yanked or True  # JSON: "" is no reason, True yanked without one
        if file.core_metadata is not None:
            entry["core-metadata"] = dict(file.core_metadata) or True
        entries.append(entry)
    return json.dumps({"meta": {"api-version": "1.1"}, "name": "demo", "files": entries}).encode()


@settings(max_examples=100, deadline=None)
@given(html_pages())
@example((b'<a href="demo-1.0-py3-none-any.whl?sig=a&region=eu&copy=2&not=x&para=1&times=3">demo</a>',
          [IndexFile("demo-1.0-py3-none-any.whl",
                     PAGE + "demo-1.0-py3-none-any.whl?sig=a&region=eu&copy=2&not=x&para=1&times=3", ())]))
def test_html_pages_give_the_files_they_were_written_from(page: tuple[bytes, list[IndexFile]]) -> None:
    # HTML5 reads "&region=" in an attribute as itself: a reference written without ";"
    # ("&reg") followed by a letter, a digit or "=" is no reference there.
    body, files = page
    assert list(parse_html_page(body, PAGE, "demo").files) == files, body


def test_html_attributes_decode_references_as_html5_does() -> None:
    # Full references decode, "&not" does before a space, and so does "&lt" at the value's
    # end; "&notit;" and "&amp=" stay as written (a letter or "=" follows the legacy name).
    body = (b'<a href="demo-1.0-py3-none-any.whl" data-yanked="a&notin;b&not c&notit;&amp=1&#38;x&lt">x</a>'
            b'<a href=demo-2.0-py3-none-any.whl?a=1&copy=2 data-yanked=&reg>y</a>')
    first, second = parse_html_page(body, PAGE, "demo").files
    assert first.yanked == "a\u2209b\u00ac c&notit;&amp=1&x<"
    assert (second.url, second.yanked) == (PAGE + "demo-2.0-py3-none-any.whl?a=1&copy=2", "\u00ae")


@settings(max_examples=100, deadline=None)
@given(st.lists(links(PAGE, 0), max_size=4), st.booleans())
def test_json_pages_give_the_files_they_were_written_from(found: list[Link], relative: bool) -> None:
    files = [link.file for link in found]
    body = json_page(files, [link.href if relative else link.file.url for link in found])
    assert list(parse_json_page(body, PAGE, "demo").files) == files


# --- the index client: content types, redirects, several indexes -----------------------


class Answers(Transport):
    """Answers each URL with its one response (the same on every try), and records the
    requests (URL and headers)."""

    def __init__(self, answers: Mapping[str, Response]) -> None:
        self.answers = answers
        self.requests: list[tuple[str, dict[str, str]]] = []

    async def get(self, url: str, headers: Mapping[str, str] | None = None, on_progress: ByteProgress | None = None,
                  on_data: BodyPieces | None = None) -> Response:
        self.requests.append((url, dict(headers or {})))
        return self.answers.get(url, Response(url, 404, b""))


JSON_TYPES = ["application/vnd.pypi.simple.v1+json", "application/vnd.pypi.simple.v1+json; charset=utf-8",
              "Application/Vnd.Pypi.Simple.V1+JSON", "application/json"]
HTML_TYPES = ["text/html", "text/html; charset=UTF-8", "application/vnd.pypi.simple.v1+html", "TEXT/HTML;charset=utf-8"]
# An index's answer for the project: missing (404/410), an error status, or its page, as
# JSON or HTML, perhaps from where a redirect led (the page's final URL).
answers = st.one_of(
    st.tuples(st.just("missing"), st.sampled_from([404, 410])),
    st.tuples(st.just("error"), st.sampled_from([401, 403, 500, 503])),
    st.tuples(st.just("page"), st.sampled_from(JSON_TYPES + HTML_TYPES), st.booleans()),
)
# The index URLs: several hosts, and two indexes on one host.
INDEXES = ["https://a.test/simple/", "https://b.test/pypi/simple", "https://a.test/other/simple/"]


@settings(max_examples=100, deadline=None)
@given(st.lists(answers, min_size=1, max_size=3), st.sampled_from(["demo", "Demo", "Foo_Bar.baz", "ZOPE..Interface"]),
       st.booleans())
def test_the_first_index_with_a_page_wins(outcome: list[tuple[Any, ...]], project: str, prefetched: bool) -> None:
    from packaging.utils import canonicalize_name

    name = canonicalize_name(project)
    indexes = INDEXES[:len(outcome)]
    served: dict[str, Response] = {}
    for n, (index, answer) in enumerate(zip(indexes, outcome)):
        url = index.rstrip("/") + "/" + name + "/"
        if answer[0] == "page":
            kind, redirected = answer[1], answer[2]
            final = f"https://mirror-{n}.test/simple/{name}/" if redirected else url
            filename = f"{name.replace('-', '_')}-{n}.0-py3-none-any.whl"
            body = (json_page([IndexFile(filename, final + filename, ())], [filename]) if "json" in kind.lower()
                    else f'<a href="{filename}">{filename}</a>'.encode())
            served[url] = Response(final, 200, body, {"content-type": kind})
        else:
            served[url] = Response(url, answer[1], b"")
    transport = Answers(served)
    client = IndexClient(transport, indexes, RetryPolicy(attempts=2), sleep=no_sleep)

    async def ask() -> Any:
        if prefetched:  # the request leaves before it is asked for
            client.prefetch_pages([project])
        try:
            return await client.project_page(project)
        except (IndexHTTPError, ProjectNotFoundError) as exc:
            return exc

    got = asyncio.run(ask())
    # The model: indexes in order; a 404/410 is skipped, any other answer ends the search.
    asked = []
    expected: Any = ProjectNotFoundError
    for n, (index, answer) in enumerate(zip(indexes, outcome)):
        url = index.rstrip("/") + "/" + name + "/"
        asked += [url] * (2 if answer[0] == "error" and answer[1] >= 500 else 1)
        if answer[0] == "error":
            expected = (IndexHTTPError, answer[1])
            break
        if answer[0] == "page":
            final = served[url].url
            expected = (final, [final + f"{name.replace('-', '_')}-{n}.0-py3-none-any.whl"])
            break
    assert [url for url, _ in transport.requests] == asked
    assert all(headers == {"Accept": ACCEPT_HEADER} for _, headers in transport.requests)
    if expected is ProjectNotFoundError:
        assert isinstance(got, ProjectNotFoundError) and got.index_urls == indexes
    elif expected[0] is IndexHTTPError:
        assert isinstance(got, IndexHTTPError) and got.status == expected[1]
    else:
        assert (got.url, [file.url for file in got.files]) == expected


# --- credentials: which URL gets which --------------------------------------------------

# Origins, each as (scheme, host, port) and the ways a URL may spell it.
ORIGINS = {
    ("https", "a.test", 443): ["https://a.test", "https://A.Test", "https://a.test:443", "HTTPS://a.test"],
    ("http", "a.test", 80): ["http://a.test", "http://a.test:80"],
    ("https", "a.test", 8443): ["https://a.test:8443"],
    ("https", "b.test", 443): ["https://b.test"],
}
# Indexes' paths on a host: one simple index, and GitLab's projects' and groups' indexes.
ROOTS = [("simple",), ("api", "v4", "projects", "1", "packages", "pypi", "simple"),
         ("api", "v4", "projects", "2", "packages", "pypi", "simple"),
         ("api", "v4", "groups", "9", "-", "packages", "pypi", "simple")]
TOKENS = [("alice", "s3cret"), ("bob", "t0ken:x"), ("deploy", "")]


@st.composite
def requests(draw: Any) -> tuple[tuple[str, str, int], tuple[str, ...], tuple[str, str] | None, str]:
    """A request: its origin, path parts, the credentials its URL carries, and the URL."""
    origin = draw(st.sampled_from(sorted(ORIGINS)))
    root = draw(st.sampled_from(ROOTS))
    kind = draw(st.sampled_from(["page", "index", "file", "files", "other"]))
    project = draw(st.sampled_from(["demo", "numpy", "x"]))
    path = {"page": root + (project,), "index": root, "file": root + (project, "x-1.0-py3-none-any.whl"),
            "files": root[:-1] + ("files", "ab", "x-1.0-py3-none-any.whl"), "other": ("static", "x.whl")}[kind]
    # Only index URLs carry credentials (a relative link made absolute against a page's
    # URL has none: the transport reports URLs without them).
    credentials = draw(st.none() | st.sampled_from(TOKENS)) if kind in ("page", "index") else None
    userinfo = "" if credentials is None else f"{credentials[0]}:{credentials[1].replace(':', '%3A')}@"
    spelled = draw(st.sampled_from(ORIGINS[origin]))
    scheme, rest = spelled.split("://")
    url = f"{scheme}://{userinfo}{rest}/{'/'.join(path)}" + ("/" if kind in ("page", "index") else "")
    return origin, path, credentials, url


def basic(pair: tuple[str, str]) -> str:
    return "Basic " + base64.b64encode(f"{pair[0]}:{pair[1]}".encode()).decode()


def shared(a: tuple[str, ...], b: tuple[str, ...]) -> int:
    return next((n for n, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))


@settings(max_examples=150, deadline=None)
@given(st.lists(requests(), min_size=1, max_size=12))
@example([  # one token for two indexes on a host (a GitLab personal token), another for a third
    (("https", "a.test", 443), ROOTS[1] + ("demo",), TOKENS[0], "https://alice:s3cret@a.test/" + "/".join(ROOTS[1]) + "/demo/"),
    (("https", "a.test", 443), ROOTS[2] + ("demo",), TOKENS[1], "https://bob:t0ken%3Ax@a.test/" + "/".join(ROOTS[2]) + "/demo/"),
    (("https", "a.test", 443), ROOTS[3] + ("demo",), TOKENS[0], "https://alice:s3cret@a.test/" + "/".join(ROOTS[3]) + "/demo/"),
    (("https", "a.test", 443), ROOTS[1] + ("numpy",), TOKENS[0], "https://alice:s3cret@a.test/" + "/".join(ROOTS[1]) + "/numpy/"),
    (("https", "a.test", 443), ROOTS[1][:-1] + ("files", "ab", "x-1.0-py3-none-any.whl"), None,
     "https://a.test/" + "/".join(ROOTS[1][:-1]) + "/files/ab/x-1.0-py3-none-any.whl"),
])
def test_each_request_carries_the_credentials_of_its_closest_index(
        sequence: list[tuple[tuple[str, str, int], tuple[str, ...], tuple[str, str] | None, str]]) -> None:
    # The model (credentials.py, rule 2): a URL's own credentials go with it; any other
    # request to an origin gets the credentials of the URL, among those that carried some to
    # that origin, whose path shares the most leading parts with its own (of equals, the
    # latest); a request to any other origin gets none.
    credentials = OriginCredentials()
    learned: list[tuple[tuple[str, str, int], tuple[str, ...], tuple[str, str]]] = []
    for origin, path, pair, url in sequence:
        if pair is not None:
            learned.append((origin, path, pair))
        sent, headers = credentials.prepare(url, {"Accept": "x"})
        same = [(shared(known, path), n, token) for n, (there, known, token) in enumerate(learned) if there == origin]
        expected = pair or (max(same)[2] if same else None)
        assert headers == {"Accept": "x", **({"Authorization": basic(expected)} if expected else {})}, url
        assert "@" not in sent and all(token[1] not in sent for token in TOKENS if token[1])


class Authenticating(Answers):
    """A transport as the real ones are: credentials taken off each URL (and sent as a
    header), the URL reported without them, a failure as a NetworkError naming it."""

    def __init__(self, answers: Mapping[str, Response | str]) -> None:
        super().__init__({})
        self.outcomes = answers
        self.credentials = OriginCredentials()

    async def get(self, url: str, headers: Mapping[str, str] | None = None, on_progress: ByteProgress | None = None,
                  on_data: BodyPieces | None = None) -> Response:
        bare, sent = self.credentials.prepare(url, headers)
        self.requests.append((bare, sent))
        outcome = self.outcomes.get(bare, Response(bare, 404, b""))
        if isinstance(outcome, str):
            raise NetworkError(bare, outcome)
        return outcome


SECRET = "Sup3r-s3cret"
OUTCOMES = ["404", "401", "500", "reset", "bad json", "bad type", "page"]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(OUTCOMES), min_size=1, max_size=3))
def test_no_error_retry_line_or_page_carries_the_secret(outcome: list[str]) -> None:
    indexes = [f"https://user:{SECRET}@{host}/simple/" for host in ("a.test", "b.test", "c.test")][:len(outcome)]
    served: dict[str, Response | str] = {}
    for index, what in zip(indexes, outcome):
        url = index.replace(f"user:{SECRET}@", "") + "demo/"
        served[url] = {
            "404": Response(url, 404, b""), "401": Response(url, 401, b""), "500": Response(url, 500, b""),
            "reset": "connection reset", "bad json": Response(url, 200, b"{", {"content-type": JSON_TYPES[0]}),
            "bad type": Response(url, 200, b"", {"content-type": "image/png"}),
            "page": Response(url, 200, b'<a href="demo-1.0-py3-none-any.whl">x</a>', {"content-type": "text/html"}),
        }[what]
    lines: list[str] = []
    client = IndexClient(Authenticating(served), indexes,
                         RetryPolicy(attempts=2, on_retry=lambda project, line: lines.append(line)), sleep=no_sleep)
    try:
        page = asyncio.run(client.project_page("demo"))
        shown = [page.url, *(file.url for file in page.files)]
    except PyemscriptenError as exc:
        shown = [str(exc)]
    assert not any(SECRET in text for text in shown + lines), shown + lines
