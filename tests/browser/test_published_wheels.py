"""Other projects' published browser builds install and run, on every runtime they are
built for: wheels from PyPI (fetched by scripts/fetch_fixtures.py, set "published"), not
fixtures of our own. One index serves every platform's builds of a project, as PyPI's page
does, and each runtime installs the ones for its own platform in one call.

Found by probing PyPI for each runtime's platform (2026-12): these are the projects with a
build for it, besides those the benchmark and the other tests use. On 0.27.7 the others
come from the runtime's own distribution (its pyodide-lock.json), which these tests do not
serve.
"""

from __future__ import annotations

import pytest

from tests.support.browser import ROOT, WHEELS_DIR, PyodideSession
from tests.support.index_server import IndexServer

# What each project's module gives once imported: its compiled module at work.
RUN = {
    "msgpack": ("import msgpack", "msgpack.unpackb(msgpack.packb({'a': [1, 2]}))", {"a": [1, 2]}),
    "bitarray": ("from bitarray import bitarray", "bitarray('1011').count()", 3),
    "xxhash": ("import xxhash", "xxhash.xxh64(b'x').hexdigest()", "5c80c09683041123"),
    "simplejson": ("import simplejson, simplejson._speedups", "simplejson.dumps({'a': 1})", '{"a": 1}'),
    "cramjam": ("import cramjam", "bytes(cramjam.snappy.decompress(cramjam.snappy.compress(b'abc'))).decode()",
                "abc"),
    "uuid-utils": ("import uuid_utils", "str(uuid_utils.uuid7())[14]", "7"),
    "cbor2": ("import cbor2, cbor2._cbor2", "cbor2.loads(cbor2.dumps([1, 'x']))", [1, "x"]),
    "pybase64": ("import pybase64", "'C extension active' in pybase64.get_version()", True),
    "css-inline": ("import css_inline", "css_inline.inline('<html><head><style>h1{color:red}</style></head>"
                   "<body><h1>x</h1></body></html>')",
                   '<html><head></head><body><h1 style="color: red;">x</h1></body></html>'),
    "charset-normalizer": ("import charset_normalizer.md", "charset_normalizer.md.__file__.endswith('.so')", True),
    # 39 extension modules NEEDing libflint, libgmp and libmpfr from python_flint.libs (RPATH)
    "python-flint": ("import flint", "str(flint.fmpz(2) ** 100), str(flint.arb(2).sqrt())[:12]",
                     ["1267650600228229401496703205376", "[1.414213562"]),
    # SQLite's loadable extensions beside its modules, opened by SQLite itself (dlopen) once installed
    "apsw": ("import apsw, os\nconnection = apsw.Connection(':memory:')\nconnection.enable_load_extension(True)\n"
             "connection.load_extension(os.path.dirname(apsw.__file__) + '/sqlite_extra_binaries/rot13.so')",
             "list(connection.execute(\"select rot13('abc')\"))", [["nop"]]),
    "msgspec": ("import msgspec", "msgspec.json.decode(msgspec.json.encode({'a': [1, 2]}))", {"a": [1, 2]}),
    "arro3-core": ("import arro3.core", "len(arro3.core.Array([1, 2, 3], arro3.core.DataType.int64()))", 3),
    "nanoarrow": ("import nanoarrow", "nanoarrow.c_array([1, 2, 3], nanoarrow.int32()).length", 3),
}

# runtime: (its platform, the projects with a build for it)
RUNTIMES = {
    "314.0.7": ("pyemscripten_2026_0_wasm32", ("msgpack", "bitarray", "xxhash", "simplejson", "cramjam",
                                                "uuid-utils", "cbor2", "pybase64", "css-inline", "python-flint",
                                                "apsw", "msgspec", "arro3-core", "nanoarrow")),
    "0.29.5": ("pyemscripten_2025_0_wasm32", ("msgpack", "bitarray", "xxhash", "simplejson", "cramjam",
                                               "uuid-utils", "pybase64", "css-inline", "charset-normalizer")),
    "0.27.7": ("pyemscripten_2024_0_wasm32", ("xxhash",)),
    "315.0.0-alpha.2": ("pyemscripten_2026_5_wasm32", ("msgpack", "bitarray", "xxhash", "simplejson", "pybase64")),
}

INSTALL = """
import pyemscripten
report = await pyemscripten.install(projects, index_urls=[url], quiet=True)
ran = {}
for project in projects:
    imports, expression, _ = run[project]
    scope = {}
    exec(imports, scope)
    ran[project] = eval(expression, scope)
[sorted(report.installed), ran]
"""


def _serve_every_platform(index_server: IndexServer) -> None:
    """The other platforms' builds beside the 2026_0 ones the index serves from .cache/wheels."""
    if not list(WHEELS_DIR.glob("msgpack-*-pyemscripten_2026_0_wasm32.whl")):
        pytest.skip(f"no published wheels in {WHEELS_DIR}: run scripts/fetch_fixtures.py")
    for folder in (ROOT / ".cache" / f"wheels-{platform}" for platform, _ in RUNTIMES.values()
                   if platform != "pyemscripten_2026_0_wasm32"):
        wheels = sorted(folder.glob("*.whl"))
        if not wheels:
            pytest.skip(f"no wheels in {folder}: run scripts/fetch_fixtures.py")
        for wheel in wheels:
            index_server.default.add_wheel(wheel.read_bytes(), wheel.name)


@pytest.mark.parametrize("pyodide", list(RUNTIMES), indirect=True)
def test_published_builds_for_this_runtime_install_and_run(pyodide: PyodideSession,
                                                           index_server: IndexServer) -> None:
    platform, projects = RUNTIMES[pyodide.version]
    _serve_every_platform(index_server)
    installed, ran = pyodide.run(INSTALL, url=index_server.index_url, projects=list(projects), run=RUN, timeout=300)
    assert [name for name, _ in installed] == sorted(projects)
    assert ran == {project: RUN[project][2] for project in projects}
