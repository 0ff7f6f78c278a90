"""Hostile input, generated: every parser gives a value or the package's own error.

The property of each test: for *any* input, the function returns a value or raises a
:class:`~pyemscripten.errors.PyemscriptenError` subclass - never ``ValueError``,
``RecursionError``, ``KeyError``... from deep inside. Where a value comes back, it must be
safe to use later (a version that compares, a URL that is a string, a specifier that can be
evaluated), because a landmine that goes off in the resolver is the same bug, only later.

The modules' own test files fuzz raw bytes and text (test_index_pages, test_locks,
test_wheels, test_dylink); these tests generate *structured* input close to valid, which is
where parsers keep their odd corners: digits that are not ASCII, numbers longer than int()
accepts, URLs that do not split, nesting deeper than the stack. Runtime: a few seconds.
"""

from __future__ import annotations

import asyncio
import json
from email.parser import BytesParser
from email.policy import compat32
import posixpath
import string
from collections.abc import Mapping
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from packaging.utils import canonicalize_name
from packaging.version import Version

from pyemscripten.credentials import strip_credentials
from pyemscripten.distribution import parse_distribution_lock
from pyemscripten.downloads import WheelRequest, verify
from pyemscripten.dylink import DylinkInfo, parse_dylink, with_runtime_paths
from pyemscripten.errors import (
    DylinkError,
    IndexFormatError,
    InvalidRequirementError,
    InvalidWheelFilenameError,
    LibraryNotFoundError,
    LockError,
    MetadataError,
    PackageIndexError,
    PyemscriptenError,
    redact_url,
)
from pyemscripten.index_client import IndexClient, RetryPolicy
from pyemscripten.index_pages import IndexFile, ProjectPage, parse_html_page, parse_json_page
from pyemscripten.libraries import plan_loads
from pyemscripten.locks import load_lock
from pyemscripten.metadata import DistMetadata, metadata_from_wheel, parse_metadata, read_headers
from pyemscripten.candidates import Dependency, Finder, KnownData, ResolveOptions
from pyemscripten.resolution import root_dependencies
from pyemscripten.seams import BodyPieces, ByteProgress, Response, Transport
from pyemscripten.target import Target
from pyemscripten.wheels import WheelName, parse_wheel_name
from tests.support.wheels import make_wheel, with_bytes_set
from tests.unit.fake_index import no_sleep
from tests.unit.test_dylink import leb
from tests.unit.test_libraries import MemoryFS

TARGET = Target.for_platform("pyemscripten_2026_0_wasm32", "3.14.2")
PAGE_URL = "https://index.test/simple/demo/"
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --- building blocks: the odd corners -------------------------------------------------------

# Digits Python's str.isdigit() accepts but int() does not, digits int() accepts but the
# version grammar does not, and numbers longer than int() converts (4300 digits).
ODD_DIGITS = ["²", "١", "𝟗", "٣.٠"]
HUGE_NUMBER = "9" * 4400
versions = st.one_of(
    st.from_regex(r"[0-9]{1,3}(\.[0-9]{1,3}){0,2}((a|b|rc)[0-9])?(\.post[0-9])?", fullmatch=True),
    st.text(alphabet="0123456789.abrcpostdev+!_-*", max_size=12),
    st.sampled_from(ODD_DIGITS + [HUGE_NUMBER, "1." + HUGE_NUMBER, "", " 1.0 ", "1.0\n"]),
)
names = st.one_of(
    st.from_regex(r"[A-Za-z][A-Za-z0-9._-]{0,10}", fullmatch=True),
    st.text(alphabet=string.ascii_letters + "._-+$/é ١", max_size=12),
)
urls = st.one_of(
    st.sampled_from(["../../files/demo-1.0-py3-none-any.whl", "https://cdn.test/demo-1.0-py3-none-any.whl",
                     "http://[", "http://[::1", "https://a:b@host.test/x.whl", "//host.test/x.whl",
                     "javascript:alert(1)", "file:///etc/passwd", "demo-1.0-py3-none-any.whl#sha256=00",
                     "http://host.test:99999/x.whl", "http://host.test:port/x.whl", "", "\x00", "?#"]),
    st.text(max_size=30),
)
json_scalars = st.none() | st.booleans() | st.integers(-2, 2**70) | st.text(max_size=15) | st.sampled_from(ODD_DIGITS)
json_values = st.recursive(json_scalars, lambda kids: st.lists(kids, max_size=3)
                           | st.dictionaries(st.text(max_size=8), kids, max_size=3), max_leaves=12)


def deep(depth: int = 5000) -> bytes:
    """JSON nested deeper than the recursion limit."""
    return b"[" * depth + b"]" * depth


# --- wheel file names -----------------------------------------------------------------------

tag_parts = st.sampled_from(["py3", "cp314", "none", "any", "abi3", "pyemscripten_2026_0_wasm32",
                             "py2.py3", "cp312.cp314", "", "x-y", "١"])
wheel_filenames = st.builds(
    lambda name, version, build, tags, suffix: "-".join([name, version] + ([build] if build is not None else [])
                                                        + tags) + suffix,
    names, versions,
    st.none() | st.sampled_from(["1", "7abc", "x", "", HUGE_NUMBER]),
    st.lists(tag_parts, min_size=0, max_size=4),
    st.sampled_from([".whl", ".whl", ".zip", ""]),
)


@FAST
@given(wheel_filenames)
@example(f"demo-1.0-{HUGE_NUMBER}-py3-none-any.whl")
@example(f"demo-{HUGE_NUMBER}-py3-none-any.whl")
@example("demo-²-py3-none-any.whl")
def test_wheel_filenames(filename: str) -> None:
    try:
        parsed = parse_wheel_name(filename)
    except InvalidWheelFilenameError as exc:
        assert exc.filename == filename
        return
    assert isinstance(parsed, WheelName) and parsed.filename == filename
    assert parsed.name == canonicalize_name(parsed.name)
    assert parsed.version == Version(str(parsed.version))  # usable: it round-trips and compares


@FAST
@given(st.lists(wheel_filenames, max_size=6), st.lists(st.none() | st.sampled_from(
    [">=3.8", "<3", "==3.14.*", ">=" + HUGE_NUMBER, "²", "~=", ""]), max_size=6))
@example([f"demo-1.0-{HUGE_NUMBER}-py3-none-any.whl", f"demo-{HUGE_NUMBER}-py3-none-any.whl"], [])
def test_resolver_survives_any_file_names_on_a_page(filenames: list[str], requires_python: list[str | None]) -> None:
    # A hostile or broken index lists the files; the resolver skips what it cannot use.
    files = tuple(IndexFile(f, f"https://index.test/files/{i}.whl", (), requires_python=rp)
                  for i, (f, rp) in enumerate(zip(filenames, requires_python + [None] * len(filenames), strict=False)))
    finder = Finder(TARGET, KnownData(pages={"demo": ProjectPage("demo", PAGE_URL, files)}), {}, ResolveOptions())
    for version, file in finder.versions("demo"):
        assert isinstance(version, Version) and file in files
    assert isinstance(finder.no_wheel_error("demo"), PyemscriptenError)


# --- index pages: JSON and HTML -------------------------------------------------------------

json_files = st.lists(st.fixed_dictionaries(
    {"filename": st.one_of(wheel_filenames, json_scalars), "url": st.one_of(urls, json_scalars)},
    optional={"hashes": st.one_of(st.dictionaries(st.sampled_from(["sha256", "md5", "SHA256", ""]),
                                                  st.text(max_size=8) | json_scalars, max_size=2), json_values),
              "yanked": json_values, "requires-python": json_values, "size": json_values,
              "core-metadata": json_values, "dist-info-metadata": json_values, "upload-time": json_values}),
    max_size=4)
api_versions = st.one_of(st.sampled_from(["1.0", "1.1", "1", "2.0", "0.9", "", "1.x", "01.0", HUGE_NUMBER]
                                         + ODD_DIGITS + [d + ".0" for d in ODD_DIGITS]), json_scalars)


def _page(api_version: Any, files: Any) -> bytes:
    return json.dumps({"meta": {"api-version": api_version}, "name": "demo", "files": files}).encode()


def _check_page(page: ProjectPage) -> None:
    for file in page.files:
        assert isinstance(file.filename, str) and isinstance(file.url, str)
        assert all(isinstance(a, str) and isinstance(d, str) for a, d in file.hashes)
        assert file.size is None or isinstance(file.size, int)


@FAST
@given(api_versions, json_files)
@example("²", [])
@example(HUGE_NUMBER, [])
@example("1.0", [{"filename": "demo-1.0-py3-none-any.whl", "url": "http://[", "hashes": {}}])
def test_json_pages(api_version: Any, files: Any) -> None:
    try:
        _check_page(parse_json_page(_page(api_version, files), PAGE_URL, "demo"))
    except IndexFormatError as exc:
        assert exc.project == "demo"


def test_json_nested_too_deep_is_a_format_error() -> None:
    for body in (deep(), b'{"meta": {"api-version": "1.0"}, "files": ' + deep() + b"}"):
        try:
            parse_json_page(body, PAGE_URL, "demo")
        except IndexFormatError:
            pass


attribute_values = st.one_of(st.none(), urls, st.sampled_from(
    ["true", "false", "sha256=00", "md5=1", "=", "&amp;&lt;", "&#0;", "&#x110000;", "&bogus;", ">=3", ""]))
anchors = st.lists(st.tuples(
    st.dictionaries(st.sampled_from(["href", "data-yanked", "data-requires-python", "data-core-metadata",
                                     "data-dist-info-metadata", "HREF"]), attribute_values, max_size=4),
    st.one_of(wheel_filenames, st.text(max_size=10))), max_size=5)


def _attr(key: str, value: str | None) -> str:
    if value is None:
        return key
    return f'{key}="{value.replace(chr(34), "&quot;")}"'


@FAST
@given(anchors, st.none() | urls, st.sampled_from(["", "<html><body>", "<a", "<!--", "<![CDATA[", "<script>"]))
@example([({"href": "http://[/demo-1.0-py3-none-any.whl"}, "x")], None, "")
@example([({"href": "demo-1.0-py3-none-any.whl"}, "x")], "http://[", "")
def test_html_pages(links: list[tuple[dict[str, str | None], str]], base: str | None, prefix: str) -> None:
    parts = [prefix]
    if base is not None:
        parts.append(f"<base {_attr('href', base)}>")
    parts += [f"<a {' '.join(_attr(k, v) for k, v in attrs.items())}>{text}</a>" for attrs, text in links]
    try:
        _check_page(parse_html_page("".join(parts).encode("utf-8", "surrogatepass"), PAGE_URL, "demo"))
    except IndexFormatError:
        pass


class OneAnswer(Transport):
    def __init__(self, response: Response) -> None:
        self.response = response

    async def get(self, url: str, headers: Mapping[str, str] | None = None,
                  on_progress: ByteProgress | None = None, on_data: BodyPieces | None = None) -> Response:
        return Response(self.response.url, self.response.status, self.response.body, self.response.headers)


@FAST
@given(st.integers(100, 599), st.sampled_from(["application/vnd.pypi.simple.v1+json", "application/json", "text/html",
                                               "", "text/plain", "application/vnd.pypi.simple.v1+html; charset=x"]),
       st.one_of(st.binary(max_size=60), st.builds(_page, api_versions, json_files)),
       st.sampled_from(["", PAGE_URL, "http://[", "https://u:p@other.test/"]))
def test_index_client_on_any_answer(status: int, content_type: str, body: bytes, answered_url: str) -> None:
    transport = OneAnswer(Response(answered_url, status, body, {"content-type": content_type}))
    client = IndexClient(transport, ["https://index.test/simple/"], RetryPolicy(2, 0), sleep=no_sleep)
    try:
        _check_page(asyncio.run(client.project_page("demo")))
    except PackageIndexError:
        pass


@FAST
@given(st.one_of(st.binary(max_size=80), st.builds(lambda p: json.dumps({"packages": p}).encode(), st.one_of(
    json_values, st.dictionaries(st.text(max_size=5), st.fixed_dictionaries(
        {}, optional={"name": names, "version": versions, "file_name": st.one_of(wheel_filenames, json_scalars),
                      "sha256": json_scalars, "depends": json_values}), max_size=3)))))
@example(deep())
@example(b'{"packages": {"a": {"file_name": "a-1-py3-none-any.whl", "sha256": "00", "version": "1", "depends": 5}}}')
def test_runtime_distribution_lock(body: bytes) -> None:
    try:
        entries = parse_distribution_lock(body, "https://cdn.test/pyodide-lock.json")
    except IndexFormatError:
        return
    for name, entry in entries.items():
        assert name == entry.metadata.name and isinstance(entry.metadata.version, Version)


# --- core metadata --------------------------------------------------------------------------

requirements = st.one_of(
    st.sampled_from(["attrs", "attrs>=23", "a[b,c]>=1; python_version >= '3.8'", "a; extra == 'x'",
                     f"a>={HUGE_NUMBER}", "a==1.*", "a===weird", "a @ https://x.test/a.whl", "a (>=1)",
                     "a; os_name == '²'", f"a; python_version > '{HUGE_NUMBER}'", "", ";", "a>=²"]),
    st.text(alphabet=string.ascii_letters + string.digits + " <>=!~.*,;[]()'\"@:/_-", max_size=25),
)
header_lines = st.lists(st.one_of(
    st.tuples(st.just("Name"), names), st.tuples(st.just("Version"), versions),
    st.tuples(st.just("Requires-Dist"), requirements),
    st.tuples(st.just("Requires-Python"), st.one_of(st.sampled_from(
        [">=3.8", "~=3", "==3.*", ">=" + HUGE_NUMBER, "²", ">=3,<", ""]), st.text(max_size=8))),
    st.tuples(st.just("Provides-Extra"), names),
    st.tuples(st.text(alphabet=string.ascii_letters + "-: ", min_size=1, max_size=8), st.text(max_size=10)),
), max_size=8)


# Lines of a header block, each with its own line end: fields (some with odd names or no
# value), continuations, envelope lines, lines with no name, and lines that start the body.
_printable = string.ascii_letters + string.digits + string.punctuation
header_block_lines = st.lists(st.tuples(st.one_of(
    st.builds(lambda n, v: f"{n}:{v}", st.sampled_from(["Name", "name", "Version", "Requires-Dist", "X-Y", ""]),
              st.text(alphabet=_printable + " \t", max_size=10)),
    st.builds(lambda n, v: f"{n}: {v}", st.text(alphabet=_printable.replace(":", ""), min_size=1, max_size=6),
              st.text(alphabet=_printable, max_size=6)),
    st.builds(lambda w, v: w + v, st.sampled_from([" ", "\t", "  "]), st.text(alphabet=_printable + " ", max_size=8)),
    st.builds(lambda v: "From " + v, st.text(alphabet=_printable, max_size=6)),
    st.text(alphabet=_printable + " ", max_size=8),  # no colon, or a name with a space: the body
), st.sampled_from(["\n", "\r\n", "\r"])), max_size=10)


@FAST
@given(header_block_lines, st.text(alphabet=_printable + " \n", max_size=10))
@example([("Name: a", "\n"), (" b", "\r\n"), ("Version:1", "\n")], "")
@example([(" first", "\n"), ("Name: a", "\n")], "")
@example([("From x", "\n"), (" cont", "\n"), (":x", "\n"), (" cont", "\n"), ("Name: a", "\n")], "")
def test_read_headers_reads_what_the_email_parser_reads(lines: list[tuple[str, str]], body: str) -> None:
    data = ("".join(line + end for line, end in lines) + "\n" + body).encode()
    expected: dict[str, list[str]] = {}
    for name, value in BytesParser(policy=compat32).parsebytes(data).items():
        expected.setdefault(name.lower(), []).append(str(value).strip())
    assert read_headers(data) == expected


def _metadata(lines: list[tuple[str, str]], body: str) -> bytes:
    return ("".join(f"{k}: {v}\n" for k, v in lines) + "\n" + body).encode("utf-8", "surrogatepass")


def _usable(meta: DistMetadata) -> None:
    # What the resolver will do with it later must not blow up either.
    assert meta.version == Version(str(meta.version))
    probe = Version("1.0")
    for req in meta.requires_dist:
        req.specifier.contains(probe, prereleases=True)
        if req.marker is not None:
            req.marker.evaluate({**TARGET.marker_environment, "extra": ""})
    if meta.requires_python is not None:
        meta.requires_python.contains(Version(TARGET.python_version), prereleases=True)


@FAST
@given(header_lines, st.text(max_size=20))
@example([("Name", "a"), ("Version", HUGE_NUMBER)], "")
@example([("Name", "a"), ("Version", "1"), ("Requires-Dist", f"b>={HUGE_NUMBER}")], "")
@example([("Name", "a"), ("Version", "1"), ("Requires-Python", f">={HUGE_NUMBER}")], "")
@example([("Name", "a"), ("Version", "1"), ("Requires-Dist", "b; os_name == '²'")], "")
def test_metadata(lines: list[tuple[str, str]], body: str) -> None:
    try:
        meta = parse_metadata(_metadata(lines, body), "demo", "demo-1.0.dist-info/METADATA")
    except MetadataError as exc:
        assert exc.project == "demo" and exc.filename == "demo-1.0.dist-info/METADATA"
        return
    assert meta.name == canonicalize_name(meta.name)
    _usable(meta)


@FAST
@given(requirements)
@example(f"a>={HUGE_NUMBER}")
@example(f"a; python_version > '{HUGE_NUMBER}'")
@example("a; python_version ~= 'x'")
def test_user_requirements(text: str) -> None:
    # What a user types (or a constraint) goes through the same checks as Requires-Dist.
    try:
        dep = Dependency.parse(text)
    except InvalidRequirementError as exc:
        assert exc.requirement == text
        return
    dep.specifier.contains(Version("1.0"), prereleases=True)
    root_dependencies([text], TARGET)  # evaluates the marker for the target


@FAST
@given(st.binary(max_size=300))
def test_metadata_arbitrary_bytes(data: bytes) -> None:
    for parse in (parse_metadata, metadata_from_wheel):
        try:
            _usable(parse(data, "demo", "demo-1.0-py3-none-any.whl"))
        except MetadataError:
            pass


VALID_WHEEL = bytes(make_wheel("demo", "1.0", {"demo/__init__.py": b"X = 1\n", "demo/data.bin": bytes(range(256)) * 8},
                               requires=["attrs>=23"]))


@FAST
@given(st.lists(st.tuples(st.integers(0, len(VALID_WHEEL) - 1), st.integers(0, 255)), min_size=1, max_size=6))
def test_metadata_from_a_corrupted_wheel(flips: list[tuple[int, int]]) -> None:
    # The resolver reads METADATA straight out of a wheel when the index has no .metadata file.
    try:
        _usable(metadata_from_wheel(with_bytes_set(VALID_WHEEL, flips), "demo", "demo-1.0-py3-none-any.whl"))
    except MetadataError:
        pass


# --- dylink sections ------------------------------------------------------------------------


def wasm_string(s: str) -> bytes:
    raw = s.encode("utf-8", "surrogatepass")
    return leb(len(raw)) + raw


payloads = st.one_of(
    st.lists(st.text(max_size=12), max_size=4).map(lambda items: leb(len(items)) + b"".join(map(wasm_string, items))),
    st.lists(st.integers(0, 2**35), min_size=0, max_size=5).map(lambda ns: b"".join(leb(n) for n in ns)),
    st.binary(max_size=20),
)
subsections = st.lists(st.tuples(st.integers(0, 7), payloads, st.none() | st.integers(0, 40)), max_size=5)


def _module(name: str, subs: list[tuple[int, bytes, int | None]], size_lie: int | None, tail: bytes) -> bytes:
    body = wasm_string(name) + b"".join(bytes([kind]) + leb(len(p) if lie is None else lie) + p
                                        for kind, p, lie in subs)
    return b"\0asm\x01\0\0\0\0" + leb(len(body) if size_lie is None else size_lie) + body + tail


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["dylink.0", "dylink.0", "dylink", "name", ""]), subsections,
       st.none() | st.integers(0, 2**32 + 5), st.binary(max_size=8), st.lists(st.text(max_size=10), max_size=3))
def test_dylink_sections(name: str, subs: list, size_lie: int | None, tail: bytes, paths: list[str]) -> None:
    data = _module(name, subs, size_lie, tail)
    try:
        info = parse_dylink(data, "x.so")
    except DylinkError as exc:
        assert exc.filename == "x.so"
        return
    assert isinstance(info, DylinkInfo)
    assert all(isinstance(n, str) for n in info.needed + info.runtime_paths)
    try:
        rewritten = with_runtime_paths(data, paths, "x.so")
    except DylinkError:
        assert info.legacy or any(ord(c) in range(0xD800, 0xE000) for p in paths for c in p)
        return
    again = parse_dylink(rewritten, "x.so")
    assert (again.needed, again.runtime_paths, again.mem_info) == (info.needed, tuple(paths), info.mem_info)


SP = "/lib/python3.14/site-packages"
lib_names = st.sampled_from(["liba.so", "libb.so", "../libc.so", "/usr/lib/libd.so", "", "libe.so.1", "$ORIGIN"])
modules = st.lists(st.tuples(
    st.sampled_from([f"{SP}/p/_ext.so", f"{SP}/p.libs/liba.so", f"{SP}/p.libs/libb.so", f"{SP}/libc.so",
                     "/usr/lib/libd.so", f"{SP}/q/_q.so"]),
    st.lists(lib_names, max_size=3),
    st.lists(st.sampled_from(["$ORIGIN", "$ORIGIN/../p.libs", "/usr/lib", "", "$ORIGINX", "relative"]), max_size=2),
    st.booleans(),
), min_size=1, max_size=6)


@FAST
@given(modules, st.booleans(), st.lists(st.sampled_from(["liba.so", f"{SP}/p.libs/libb.so"]), max_size=2))
def test_load_planning_on_any_side_modules(mods: list, rpath: bool, loaded: list[str]) -> None:
    files: dict[str, bytes] = {}
    for path, needed, runtime_paths, broken in mods:
        subs = [(2, leb(len(needed)) + b"".join(map(wasm_string, needed)), None),
                (5, leb(len(runtime_paths)) + b"".join(map(wasm_string, runtime_paths)), None)]
        files[path] = _module("dylink.0", subs, 3 if broken else None, b"")
    installed = [(p, "p") for p in files if p.startswith(SP)]
    try:
        plan = plan_loads(installed, MemoryFS(files), loaded, ["/usr/lib", SP], rpath)
    except (DylinkError, LibraryNotFoundError):
        return
    paths = [lib.path for lib in plan]
    assert len(paths) == len(set(paths))  # each library once
    assert all(posixpath.isabs(p) and p in files for p in paths)


# --- pylock.toml ----------------------------------------------------------------------------


def toml_value(value: Any) -> str:
    """A TOML inline value (strings as basic strings: JSON escapes are TOML escapes)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(value)


toml_scalars = st.booleans() | st.integers(-2, 2**62) | st.text(max_size=12) | st.sampled_from(ODD_DIGITS)
toml_values = st.recursive(toml_scalars, lambda kids: st.lists(kids, max_size=3)
                           | st.dictionaries(st.text(max_size=6), kids, max_size=3), max_leaves=8)
lock_wheels = st.lists(st.fixed_dictionaries({}, optional={
    "name": st.one_of(wheel_filenames, toml_scalars), "url": st.one_of(urls, toml_scalars),
    "path": st.one_of(urls, toml_scalars), "size": toml_values,
    "hashes": st.one_of(st.dictionaries(st.sampled_from(["sha256", "md5", "SHA512"]), st.text(max_size=6), max_size=2),
                        toml_values)}), max_size=3)
lock_packages = st.lists(st.fixed_dictionaries({}, optional={
    "name": st.one_of(names, toml_scalars), "version": st.one_of(versions, toml_scalars),
    "wheels": st.one_of(lock_wheels, toml_values), "marker": toml_values}), max_size=3)
lock_documents = st.fixed_dictionaries(
    {"lock-version": st.one_of(st.sampled_from(["1.0", "1", "1.5", "2.0", "", "x", "01.0", HUGE_NUMBER + ".0"]
                                               + ODD_DIGITS + [d + ".0" for d in ODD_DIGITS]), toml_scalars)},
    optional={"packages": st.one_of(lock_packages, toml_values), "tool": st.one_of(
        st.fixed_dictionaries({"pyemscripten": st.one_of(toml_values, st.fixed_dictionaries(
            {"platform": st.sampled_from([str(TARGET.platform), "pyemscripten_2025_0_wasm32", ""])}))}), toml_values)})


@FAST
@given(lock_documents, st.sampled_from([None, "https://site.test/app/pylock.toml", "http://["]))
@example({"lock-version": "²"}, None)
@example({"lock-version": "1.0", "packages": [{"name": "a", "version": "1", "wheels": [
    {"url": "http://[/a-1.0-py3-none-any.whl", "hashes": {"sha256": "00"}}]}]}, "https://site.test/pylock.toml")
@example({"lock-version": "1.0", "packages": [{"name": "a", "version": HUGE_NUMBER, "wheels": [
    {"url": f"a-1.0-{HUGE_NUMBER}-py3-none-any.whl", "hashes": {"sha256": "00"}}]}]}, None)
def test_locks(document: dict[str, Any], lock_url: str | None) -> None:
    text = "\n".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in document.items())
    try:
        wheels = load_lock(text, TARGET, lock_url=lock_url, source="pylock.toml")
    except LockError as exc:
        assert exc.source == "pylock.toml"
        return
    for wheel in wheels:
        assert isinstance(wheel.file.url, str) and wheel.file.hashes
        assert wheel.version == Version(str(wheel.version))


def test_lock_nested_too_deep_is_a_lock_error() -> None:
    try:
        load_lock('lock-version = "1.0"\nx = ' + "[" * 5000 + "]" * 5000, TARGET)
    except LockError:
        pass


# --- hashes and URLs ------------------------------------------------------------------------


@FAST
@given(st.dictionaries(st.sampled_from(["sha256", "sha512", "sha384", "md5", "sha1", "blake2b", ""]),
                       st.text(max_size=10) | st.sampled_from(["00" * 32, "AB" * 32]), max_size=3),
       st.binary(max_size=20), st.none() | st.integers(-1, 30), st.booleans())
def test_verify_any_hashes(hashes: dict[str, str], data: bytes, size: int | None, allow_unhashed: bool) -> None:
    file = IndexFile("x-1.0-py3-none-any.whl", "https://index.test/x.whl", tuple(sorted(hashes.items())), size=size)
    try:
        verify(WheelRequest("x", file), data, allow_unhashed)
    except PyemscriptenError:
        return
    assert size is None or size == len(data)


@FAST
@given(st.sampled_from(["http", "https", "HTTP", "git+https", ""]),
       st.text(alphabet=string.ascii_letters + "%:", max_size=6),
       st.text(alphabet="0123456789abcdef", min_size=6, max_size=12),
       st.sampled_from(["host.test", "[::1]", "127.0.0.1", "[::1", "", "a@b"]),
       st.sampled_from(["", ":8080", ":0", ":99999", ":x"]), st.text(alphabet=string.ascii_letters + "/?#=&", max_size=10))
def test_credentials_never_survive_redaction(scheme: str, user: str, token: str, host: str, port: str, rest: str) -> None:
    secret = "PW" + token + "PW"
    url = f"{scheme}{':' if scheme else ''}//{user}:{secret}@{host}{port}/{rest}"
    for shown in (redact_url(url), strip_credentials(url)):
        assert secret not in shown, shown
    # A secret as a query parameter's value (a presigned URL), after whatever ``rest`` holds.
    assert secret not in redact_url(f"https://{host}/{rest.split('#')[0]}{'&' if '?' in rest.split('#')[0] else '?'}t={secret}")
