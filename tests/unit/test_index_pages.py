"""Index page parsing: PEP 691 JSON and PEP 503 HTML, relative URLs, and hostile input."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyemscripten.errors import IndexFormatError, PyemscriptenError
from pyemscripten.index_pages import parse_html_page, parse_json_page, parse_project_page

URL = "https://example.test/simple/demo/"


def page(files: list, version: str = "1.1") -> bytes:
    return json.dumps({"meta": {"api-version": version}, "name": "demo", "files": files}).encode()


def test_json_page_fields_and_relative_urls() -> None:
    body = page([
        {"filename": "demo-1.0-py3-none-any.whl", "url": "../../files/demo-1.0-py3-none-any.whl",
         "hashes": {"SHA256": "AB"}, "requires-python": ">=3.8", "yanked": "bad build",
         "core-metadata": {"sha256": "cd"}, "size": 10, "upload-time": "2026-01-01T00:00:00Z"},
        {"filename": "demo-1.0.tar.gz", "url": "demo-1.0.tar.gz", "hashes": {}},
        {"filename": "demo-0.9-py3-none-any.whl", "url": "https://cdn.test/x.whl#sha256=00", "hashes": {},
         "dist-info-metadata": True, "yanked": False},
    ])
    parsed = parse_json_page(body, URL, "demo")
    assert [f.filename for f in parsed.files] == ["demo-1.0-py3-none-any.whl", "demo-0.9-py3-none-any.whl"]
    first, second = parsed.files
    assert first.url == "https://example.test/files/demo-1.0-py3-none-any.whl"
    assert first.sha256 == "ab" and first.requires_python == ">=3.8" and first.yanked == "bad build"
    assert first.core_metadata == (("sha256", "cd"),) and first.size == 10
    assert second.url == "https://cdn.test/x.whl" and second.core_metadata == () and second.yanked is None


def test_json_hashes_naming_one_hash_twice_keep_the_first() -> None:
    # {"sha256": ..., "SHA256": ...}: one hash (names are case-insensitive), the first value
    # counts, as in a link's fragment.
    parsed = parse_json_page(page([{"filename": "demo-1.0-py3-none-any.whl", "url": "a.whl",
                                    "hashes": {"sha256": "aa", "SHA256": "bb"}}]), URL, "demo")
    assert parsed.files[0].hashes == (("sha256", "aa"),)


def test_json_falsey_values_say_no() -> None:
    # PEP 691: core-metadata and yanked count when truthy: {} is no metadata file (the wheel
    # is read instead), "" is not yanked (a reason is a non-empty string).
    parsed = parse_json_page(page([
        {"filename": "demo-2.0-py3-none-any.whl", "url": "a.whl", "hashes": {}, "core-metadata": {}, "yanked": ""},
        {"filename": "demo-1.0-py3-none-any.whl", "url": "b.whl", "hashes": {}, "core-metadata": {},
         "dist-info-metadata": True},
    ]), URL, "demo")
    assert [(f.core_metadata, f.yanked) for f in parsed.files] == [(None, None), (None, None)]


def test_json_newer_major_version_is_refused() -> None:
    with pytest.raises(IndexFormatError) as info:
        parse_json_page(page([], "2.0"), URL, "demo")
    assert "2.0" in str(info.value) and "demo" in str(info.value)


@pytest.mark.parametrize("body,reason", [
    (b"{not json", "not valid JSON"),
    (b"[]", "not a JSON object"),
    (b'{"meta": {}}', "api-version"),
    (b'{"meta": {"api-version": "1.0"}, "files": {}}', "files"),
    (page([{"filename": "a-1-py3-none-any.whl", "url": "a"}]), "hashes"),
])
def test_json_malformed(body: bytes, reason: str) -> None:
    with pytest.raises(IndexFormatError) as info:
        parse_json_page(body, URL, "demo")
    assert reason in str(info.value)


def test_html_page() -> None:
    body = b"""<!DOCTYPE html><html><body>
    <a href="../../files/demo-1.0-py3-none-any.whl#sha256=abcd" data-requires-python="&gt;=3.9"
       data-core-metadata="sha256=ef">demo-1.0-py3-none-any.whl</a>
    <a href="demo-0.9-py3-none-any.whl" data-yanked="">demo-0.9</a>
    <a href="demo-1.0.tar.gz">sdist</a>
    </body></html>"""
    parsed = parse_html_page(body, URL, "demo")
    assert [f.filename for f in parsed.files] == ["demo-1.0-py3-none-any.whl", "demo-0.9-py3-none-any.whl"]
    first, second = parsed.files
    assert first.url == "https://example.test/files/demo-1.0-py3-none-any.whl"
    assert first.sha256 == "abcd" and first.requires_python == ">=3.9" and first.core_metadata == (("sha256", "ef"),)
    assert second.yanked == "" and second.url == URL + "demo-0.9-py3-none-any.whl"


def test_html_anchors_left_open_are_read_as_a_browser_reads_them() -> None:
    # Without </a>, HTML5 ends an anchor where the next begins (and at the end of the page).
    body = (b'<a href="demo-1.0-py3-none-any.whl">demo-1.0<br><a href="demo-2.0-py3-none-any.whl" '
            b'data-yanked="old">demo-2.0')
    parsed = parse_html_page(body, URL, "demo")
    assert [(f.filename, f.yanked) for f in parsed.files] == [("demo-1.0-py3-none-any.whl", None),
                                                              ("demo-2.0-py3-none-any.whl", "old")]


def test_html_file_names_are_the_decoded_last_part_of_the_path() -> None:
    # PEP 503: the name is the URL path's last part; download.pytorch.org writes "+" as %2B,
    # and a signed link may carry a query string. Both are wheels of the project.
    body = b"""<a href="/whl/torch-2.5.1%2Bcpu-cp314-cp314-pyemscripten_2026_0_wasm32.whl#sha256=ab">t</a>
    <a href="https://cdn.example.test/torch-2.4.0-py3-none-any.whl?sig=abc&amp;exp=1">t</a>"""
    parsed = parse_html_page(body, URL, "torch")
    assert [f.filename for f in parsed.files] == ["torch-2.5.1+cpu-cp314-cp314-pyemscripten_2026_0_wasm32.whl",
                                                  "torch-2.4.0-py3-none-any.whl"]
    assert parsed.files[0].url == "https://example.test/whl/torch-2.5.1%2Bcpu-cp314-cp314-pyemscripten_2026_0_wasm32.whl"
    assert parsed.files[1].url == "https://cdn.example.test/torch-2.4.0-py3-none-any.whl?sig=abc&exp=1"


@pytest.mark.parametrize("body", [b'<a href="file:///etc/demo-1.0-py3-none-any.whl">x</a>',
                                  b'<base href="file:///etc/"><a href="demo-1.0-py3-none-any.whl">x</a>',
                                  page([{"filename": "demo-1.0-py3-none-any.whl", "hashes": {},
                                         "url": "FILE:///etc/demo-1.0-py3-none-any.whl"}])])
def test_only_a_page_in_files_links_to_files(body: bytes) -> None:
    # In Node, file: URLs are read: a page from a server must not have the install read local
    # files (a browser lets no http page load file: URLs either).
    kind = "application/json" if body.startswith(b"{") else "text/html"
    with pytest.raises(IndexFormatError, match="(?i)links to file:///etc/.*, a file of this machine"):
        parse_project_page(body, URL, kind, "demo")
    (file,) = parse_project_page(body, "file:///srv/simple/demo/", kind, "demo").files  # a page in files
    assert file.url.lower() == "file:///etc/demo-1.0-py3-none-any.whl"


def test_html_links_with_spaces_around_them_are_read_as_a_browser_reads_them() -> None:
    # The URL parser drops leading and trailing C0 controls and spaces, and tabs and newlines
    # anywhere: the file was left out ("x.whl  " is no wheel) or its hash was "ab  ".
    body = (b'<a href="  demo-1.0-py3-none-any.whl#sha256=AB  ">a</a><a href="\n\tdemo-2.0-py3-none-\nany.whl'
            b'#sha\t256=cd\x01">b</a><a href=" demo-3.0-py3-none-any.whl\r\n">c</a>')
    parsed = parse_html_page(body, URL, "demo")
    assert [(f.filename, f.url, f.hashes) for f in parsed.files] == [
        (f"demo-{v}-py3-none-any.whl", f"{URL}demo-{v}-py3-none-any.whl", hashes)
        for v, hashes in (("1.0", (("sha256", "ab"),)), ("2.0", (("sha256", "cd"),)), ("3.0", ()))]


def test_an_html_link_of_spaces_only_is_no_file() -> None:
    # Cleaned, it is empty, as href="" is: the page itself, not a file the anchor's text names
    # (a newer "version" whose URL is the page, which the install then failed to fetch).
    body = b'<a href=" ">demo-2.0-py3-none-any.whl</a><a href="\t\n">demo-3.0-py3-none-any.whl</a>' \
           b'<a href="">demo-4.0-py3-none-any.whl</a><a href="demo-1.0-py3-none-any.whl">demo-1.0-py3-none-any.whl</a>'
    assert [f.url for f in parse_html_page(body, URL, "demo").files] == [URL + "demo-1.0-py3-none-any.whl"]


def test_a_link_to_the_page_or_a_folder_is_no_file_whatever_its_text_says() -> None:
    # An href of a fragment only (or "./", "?x=1") resolves to the page itself (WHATWG URL),
    # and one ending in "/" to a folder: no file, though the anchor's text names one (PEP 503:
    # the file name is the URL's last path part). Such a "file" was a newer version whose URL
    # was the index page, which the install then fetched as the wheel.
    body = b"".join(f'<a href="{href}">demo-{n}.0-py3-none-any.whl</a>'.encode()
                    for n, href in enumerate(["#sha256=ab", "./", "?x=1", "/files/", "demo-1.0-py3-none-any.whl"]))
    assert [f.url for f in parse_html_page(body, URL, "demo").files] == [URL + "demo-1.0-py3-none-any.whl"]
    # The same in a JSON page: an entry whose URL is the page's names no file to fetch.
    files = [{"filename": f"demo-{n}.0-py3-none-any.whl", "url": url, "hashes": {}}
             for n, url in enumerate(["#sha256=ab", "", "demo-1.0-py3-none-any.whl"])]
    assert [f.url for f in parse_json_page(page(files), URL, "demo").files] == [URL + "demo-1.0-py3-none-any.whl"]


@pytest.mark.parametrize("fragment,hashes", [
    ("egg=demo", ()), ("subdirectory=sub", ()), ("foo=bar", ()), ("sha256=", ()), ("sha256", ()),
    ("SHA256=AB", (("sha256", "ab"),)),
    ("sha256=ab&egg=demo", (("sha256", "ab"),)), ("egg=demo&sha256=ab", (("sha256", "ab"),)),
    ("md5=00&sha256=ab", (("md5", "00"), ("sha256", "ab"))),
    # One hash named twice: the first value counts, as pip reads it (the larger one did).
    ("sha256=aa&sha256=bb", (("sha256", "aa"),)), ("SHA256=aa&sha256=AA", (("sha256", "aa"),)),
])
def test_only_hash_names_in_a_fragment_are_hashes(fragment: str, hashes: tuple) -> None:
    # PEP 503: #<hashname>=<hashvalue>, a hashlib name; other parts (pip's &-joined egg=,
    # subdirectory=) were taken as hashes, or into the digest: a mismatch for the right file.
    body = f'<a href="demo-1.0-py3-none-any.whl#{fragment}">d</a>'.encode()
    (file,) = parse_html_page(body, URL, "demo").files
    assert file.hashes == hashes and file.url == URL + "demo-1.0-py3-none-any.whl"


def test_content_type_dispatch() -> None:
    assert parse_project_page(page([]), URL, "application/vnd.pypi.simple.v1+json", "demo").files == ()
    assert parse_project_page(b"<html></html>", URL, "text/html", "demo").files == ()
    with pytest.raises(IndexFormatError):
        parse_project_page(b"", URL, "image/png", "demo")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_any_bytes_give_a_page_or_our_error(body: bytes) -> None:
    for parse in (parse_json_page, parse_html_page):
        try:
            parse(body, URL, "demo")
        except PyemscriptenError:
            pass


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.dictionaries(st.sampled_from(["filename", "url", "hashes", "yanked", "core-metadata",
                                                  "requires-python", "size"]), json_values), max_size=4))
def test_any_json_files_give_a_page_or_our_error(files: list) -> None:
    try:
        parse_json_page(page(files), URL, "demo")
    except PyemscriptenError:
        pass


@given(st.sampled_from(["https://", "http://", "https:/", "//", "HTTPS://"]),
       st.text(st.sampled_from("abAB09/.:%;?#[]@ \t\n-_~+=\\\x01\x7f"), max_size=16))
@settings(max_examples=2000, deadline=None)
def test_absolute_links_are_what_urljoin_makes_of_them(prefix: str, rest: str) -> None:
    # Plain absolute links skip urljoin (a fast path for big pages): same answer, always. The
    # others are joined as the URL parser cleans them (no C0 or space at either end, no tab
    # or newline anywhere).
    from urllib.parse import urldefrag, urljoin

    from pyemscripten.index_pages import _absolute

    link = prefix + rest
    cleaned = link.strip("".join(map(chr, range(0x21)))).replace("\t", "").replace("\n", "").replace("\r", "")
    try:
        expected: tuple[str, str] | None = tuple(urldefrag(urljoin(URL, cleaned)))  # type: ignore[assignment]
    except ValueError:
        expected = None
    if expected is None:
        with pytest.raises(IndexFormatError):
            _absolute(URL, link, URL, "demo")
    else:
        assert tuple(_absolute(URL, link, URL, "demo")) == expected


def test_html_repository_version_and_attributes_decoded_once() -> None:
    # PEP 629: a newer major version is a hard failure; a newer minor is read.
    def html(version: str, requires: str = "&gt;=3.9") -> bytes:
        return (f'<html><head><meta name="pypi:repository-version" content="{version}"></head><body>'
                f'<a href="demo-1.0-py3-none-any.whl" data-requires-python="{requires}">x</a></body></html>').encode()

    with pytest.raises(IndexFormatError, match="API version 2.0 is newer than this installer supports"):
        parse_html_page(html("2.0"), URL, "demo")
    page_ = parse_html_page(html("1.4"), URL, "demo")
    assert page_.api_version == "1.4" and page_.files[0].requires_python == ">=3.9"
    # An attribute is decoded once (by the HTML parser): "&amp;gt;" is the text "&gt;".
    assert parse_html_page(html("1.0", "&amp;gt;=3.9"), URL, "demo").files[0].requires_python == "&gt;=3.9"


def test_a_json_entry_with_a_lone_surrogate_is_a_format_error() -> None:
    # JSON's "\ud800" reads as a lone surrogate, which no request or lock can carry (the native
    # fetch and the lock's writing raised UnicodeEncodeError); a pair is text as any other.
    def page(url: str, reason: str = "") -> bytes:
        return (b'{"meta": {"api-version": "1.1"}, "name": "demo", "files": [{"filename": '
                b'"demo-1.0-py3-none-any.whl", "url": "' + url.encode() + b'", "hashes": {"sha256": "ab"}, '
                b'"yanked": "' + reason.encode() + b'"}]}')
    with pytest.raises(IndexFormatError, match="demo-1.0-py3-none-any.whl.*lone surrogate"):
        parse_json_page(page("files/\\ud800/demo-1.0-py3-none-any.whl"), "https://x.test/simple/demo/", "demo")
    read = parse_json_page(page("demo-1.0-py3-none-any.whl", "\\ud83d\\ude00 broken"), "https://x.test/simple/demo/", "demo")
    assert read.files[0].yanked == "\U0001f600 broken"
