"""The vertical slice in real Chromium: resolve, fetch, verify, install real wheels."""

from __future__ import annotations

import pytest

from pyemscripten.__main__ import main
from tests.support.browser import RUNTIMES, WHEELS_DIR
from tests.support.page_state import PAGE_HELPERS, filler
from tests.support.wheels import make_wheel, with_declared_size


def test_install_real_pure_and_binary_wheels(pyodide, index_server) -> None:
    result = pyodide.run(
        """
import pyemscripten
events = []
report = await pyemscripten.install(["pydantic", "rich", "requests"], index_urls=[url], on_progress=events.append)
import pydantic, rich, requests, pydantic_core
from rich.text import Text

class M(pydantic.BaseModel):
    x: int

{
  "installed": sorted(n for n, v in report.installed),
  "model": M(x="3").x,
  "rich": Text("hi").plain,
  "core": pydantic_core.__version__,
  "stages": sorted({e["stage"] for e in events}),
  "listed": "pydantic" in pyemscripten.list(),
}
""",
        url=index_server.index_url,
    )
    assert {"pydantic", "pydantic-core", "rich", "requests", "urllib3", "idna", "certifi",
            "charset-normalizer", "typing-extensions", "annotated-types"} <= set(result["installed"])
    assert result["model"] == 3 and result["rich"] == "hi" and result["listed"]
    assert {"resolving", "resolved", "downloading", "installing", "done"} <= set(result["stages"])
    # PEP 658 metadata files were used for the large wheels; a small one (idna: 70 kB) gave
    # its METADATA itself, from the download the crawl had started. No wheel fetched twice.
    assert index_server.count(regex=r"pydantic_core-.*\.whl\.metadata$") == 1
    assert index_server.count(regex=r"idna-.*\.whl\.metadata$") == 0
    assert index_server.count(regex=r"pydantic_core-.*\.whl$") == 1
    assert index_server.count(regex=r"idna-.*\.whl$") == 1


def test_notebook_spelling_and_already_installed(pyodide, index_server) -> None:
    out = pyodide.run(
        """
from pyemscripten import pyemscripten_install
first = await pyemscripten_install("attrs", index_urls=["/simple/"])  # a URL relative to the page
second = await pyemscripten_install("attrs", index_urls=[url])
import attrs
from pyodide_js import loadedPackages  # what pyodide.loadPackage goes by: told where attrs came from
[str(first), str(second), attrs.__name__, loadedPackages.attrs]
""",
        url=index_server.index_url,
    )
    assert out[0].startswith("Installed attrs-") and "already satisfied" in out[1]
    # The relative index URL was taken against the page, and so were its files' URLs.
    assert out[3].startswith(f"{index_server.url}/files/attrs-") and out[3].endswith(".whl"), out[3]


def test_installs_started_together_take_turns(pyodide, index_server) -> None:
    # A button clicked twice: the second install waits for the first, then finds its work.
    out = pyodide.run(
        """
import asyncio, pyemscripten
order = []
def listener(who):
    return lambda event: order.append((who, event["stage"], event.get("message", "")))
first, second = await asyncio.gather(
    pyemscripten.install("rich", index_urls=[url], on_progress=listener(1)),
    pyemscripten.install(["rich", "mdurl"], index_urls=[url], on_progress=listener(2)))
done = order.index((1, "done", str(first)))
[sorted(n for n, v in first.installed), sorted(n for n, v in second.installed), sorted(n for n, v in second.already),
 [what for who, stage, what in order[:done] if who == 2]]
""",
        url=index_server.index_url,
    )
    assert "rich" in out[0] and "mdurl" in out[0]  # rich needs markdown-it-py, which needs mdurl
    assert out[1] == [] and {"rich", "mdurl"} <= set(out[2])
    assert out[3] == ["Waiting for the install under way in this page to end"], out[3]


def test_replacing_what_others_need_or_the_page_imported_is_said(pyodide, index_server) -> None:
    # The helper's case: pydantic, then an older pydantic-core alone. Here with stand-ins.
    index = index_server.index()
    for version in ("1.0", "2.0"):
        index.add_wheel(make_wheel("corelib", version, {"corelib/__init__.py": f"V = {version!r}\n".encode()}))
    index.add_wheel(make_wheel("toplib", "1.0", {"toplib/__init__.py": b"import corelib\n"}, requires=["corelib==2.0"]))
    index.add_wheel(make_wheel("packaging", "22.0", {"packaging/__init__.py": b""}))
    # A newer minor Wheel-Version (installed, with a warning), and a file of toplib's.
    index.add_wheel(make_wheel("shadow", "1.0", {"shadow/__init__.py": b"", "toplib/__init__.py": b"SHADOW = 1\n"},
                               wheel_file="Wheel-Version: 1.3\nRoot-Is-Purelib: true\nTag: py3-none-any\n"))
    before = pyodide.run("import pyemscripten\npyemscripten.list()['packaging']")
    out = pyodide.run(
        """
import pyemscripten
await pyemscripten.install("toplib", index_urls=[url], quiet=True)
import toplib, corelib
events = []
report = await pyemscripten.install("corelib==1.0", index_urls=[url], quiet=True, on_progress=events.append)
refused = None
try:
    await pyemscripten.install("packaging<26", index_urls=[url], quiet=True)
except pyemscripten.PyemscriptenError as exc:
    refused = [type(exc).__name__, str(exc)]
shadowing = []
shadow = await pyemscripten.install("shadow", index_urls=[url], quiet=True, on_progress=shadowing.append)
[[e["message"] for e in events if e["stage"] == "warning"], corelib.V, refused, pyemscripten.list()["packaging"],
 [e["message"] for e in shadowing if e["stage"] == "warning"], list(shadow.warnings),
 pyemscripten.installation.default_scheme().purelib]
""",
        url=index_server.index_url,
    )
    warnings, still, refused, packaging, told, reported, site = out
    assert warnings == [
        "toplib 1.0 (installed) requires corelib==2.0, but corelib 1.0 is being installed: toplib may not work. "
        "To get versions that fit together, install both at once ('toplib' and 'corelib==1.0')",
        "corelib 2.0 was replaced by 1.0, but this page had imported corelib: what it imported stays in use until "
        "the page is reloaded"]
    assert still == "2.0"  # the module imported before
    assert refused[0] == "ResolutionImpossibleError" and "kept: pyemscripten itself runs on it" in refused[1], refused
    assert packaging == before  # nothing was written
    assert told == reported == [
        "shadow-1.0-py3-none-any.whl: Wheel-Version 1.3 is newer than this installer knows (1.0): installed as a 1.0 "
        "wheel; a newer pyemscripten may know what it adds",
        f"shadow 1.0 overwrote 1 file of toplib 1.0 ({site}/toplib/__init__.py): both list it now, with shadow 1.0's "
        "content, and toplib may not work as before; keep only one of the two"]


def test_a_wheel_named_by_its_url(pyodide, index_server) -> None:
    # As micropip.install("https://.../x.whl") in a notebook; its hash in the URL's fragment.
    wheel = make_wheel("urlpkg", "0.3", {"urlpkg/__init__.py": b"import attrs\nV = '0.3'\n"}, requires=["attrs"])
    index_server.mount("/builds/", {wheel.filename: bytes(wheel)})
    url = f"{index_server.url}/builds/{wheel.filename}"
    out = pyodide.run(
        """
import json, pyemscripten
unhashed = None
try:
    await pyemscripten.install(url, index_urls=[index], quiet=True)
except pyemscripten.PyemscriptenError as exc:
    unhashed = type(exc).__name__
from pyemscripten import pyemscripten_install
report = await pyemscripten_install(f"{url}#sha256={digest}", index_urls=[index], quiet=True)
import urlpkg
[unhashed, dict(report.installed), urlpkg.V, pyemscripten.freeze()]
""",
        url=url, digest=wheel.sha256, index=index_server.index_url,
    )
    unhashed, installed, version, frozen = out
    assert unhashed == "MissingHashError"
    assert installed["urlpkg"] == "0.3" and "attrs" in installed and version == "0.3"
    assert url in frozen and wheel.sha256 in frozen  # freeze() locks it where it came from
    assert index_server.count(path="/simple/urlpkg/") == 0  # no index was asked for it


def test_an_index_of_your_own_made_by_the_index_command(pyodide, index_server, tmp_path) -> None:
    # Real wheels (rich and its three dependencies, pure; jiter, a browser build) made an
    # index with `python -m pyemscripten index`, served as static files under the page's
    # own server, and installed from it alone, by a URL relative to the page.
    names = ["rich-15.0.0-py3-none-any.whl", "markdown_it_py-4.3.0-py3-none-any.whl", "mdurl-0.1.2-py3-none-any.whl",
             "pygments-2.21.0-py3-none-any.whl", "jiter-0.19.0-cp314-cp314-pyemscripten_2026_0_wasm32.whl"]
    assert main(["index", *(str(WHEELS_DIR / name) for name in names), "-o", str(tmp_path / "simple")]) == 0
    index_server.mount("/own/", tmp_path)
    out = pyodide.run(
        """
import pyemscripten
report = await pyemscripten.install(["rich", "jiter"], index_urls=["/own/simple/"], quiet=True)
import jiter
from rich.text import Text
[sorted(n for n, _ in report.installed), Text("own").plain, jiter.from_json(b'{"a": [1, 2]}')]
""")
    installed, text, parsed = out
    assert installed == ["jiter", "markdown-it-py", "mdurl", "pygments", "rich"]
    assert text == "own" and parsed == {"a": [1, 2]}
    assert index_server.count(regex=r"^/own/simple/jiter/jiter-.*\.whl$") == 1
    assert index_server.count(regex=r"^/own/simple/rich/rich-.*\.whl\.metadata$") == 1  # PEP 658, from the pages
    assert index_server.count(regex=r"^/simple/") == 0


def test_no_compatible_wheel_names_tags(pyodide, index_server) -> None:
    index_server.index().add_wheel(make_wheel("oldabi", "1.0", {"oldabi/__init__.py": b""},
                                              tag="cp312-cp312-pyemscripten_2024_0_wasm32"))
    err = pyodide.run_expect_error(
        "import pyemscripten\nawait pyemscripten.install('oldabi', index_urls=[url])", url=index_server.index_url)
    assert err["type"] == "NoCompatibleWheelError"
    assert "oldabi" in err["message"] and "cp312-cp312-pyemscripten_2024_0_wasm32" in err["message"]
    assert "pyemscripten_2026_0_wasm32" in err["message"]


def test_bad_hash_installs_nothing(pyodide, index_server) -> None:
    index_server.index().add_wheel(make_wheel("fragile", "1.0", {"fragile/__init__.py": b"X = 1\n"}))
    index_server.add_fault(regex=r"fragile-1\.0-py3-none-any\.whl$", body=b"PK-not-the-real-bytes")
    pyodide.run(PAGE_HELPERS)
    before = pyodide.run("listing()")
    err = pyodide.run_expect_error(
        "import pyemscripten\nawait pyemscripten.install('fragile', index_urls=[url])", url=index_server.index_url)
    assert err["type"] in ("HashMismatchError", "SizeMismatchError")
    assert "fragile-1.0-py3-none-any.whl" in err["message"]
    assert pyodide.run("listing()") == before


def test_a_large_wheel_is_staged_while_it_downloads(pyodide, index_server) -> None:
    # networkx (2 MB, ~600 files): its package files are written into the staging folder by
    # the download itself, and add() finds them all in place (the very bytes read_wheel took).
    result = pyodide.run(
        """
import pyemscripten, pyemscripten.installation as inst
from pyemscripten.browser import MemfsFileOps
taken, written = {}, []
original_add, original_write = inst.Staging.add, MemfsFileOps.write_tree
def add(self, wheel, key=None):
    early = self._prestaged.get(key)
    taken[wheel.name] = (len(early.written) if early else 0, len(wheel.files))
    before = len(written)
    original_add(self, wheel, key)
    taken[wheel.name] += (len(written) - before,)
def write_tree(self, root, files, mode):
    written.extend(f"{root}/{relative}" for relative, _ in files)
    original_write(self, root, files, mode)
inst.Staging.add, MemfsFileOps.write_tree = add, write_tree
try:
    await pyemscripten.install(["networkx"], index_urls=[url])
finally:
    inst.Staging.add, MemfsFileOps.write_tree = original_add, original_write
import networkx
[taken["networkx"], networkx.path_graph(4).number_of_edges()]
""",
        url=index_server.index_url,
    )
    (prestaged, files, written_by_add), edges = result
    assert edges == 3
    assert prestaged > 500 and written_by_add < files - prestaged + 5  # the dist-info files, not the package


@pytest.mark.parametrize("size", ["small", "large"])
def test_a_tampered_body_staged_while_downloading_installs_nothing(pyodide, index_server, size) -> None:
    # The body served is a well-formed wheel of the same name with one more module: a large one
    # streams into the staging folder, then fails its hash; nothing of it may remain anywhere.
    # A small one gives resolution its METADATA, so it fails there, its members only held.
    extra = filler("swapped") if size == "large" else {}
    honest = make_wheel("swapped", "1.0", {"swapped/__init__.py": b"X = 1\n" * 2000, **extra})
    evil = make_wheel("swapped", "1.0", {"swapped/__init__.py": b"X = 1\n" * 2000, **extra, "swapped/evil.py": b"boom"})
    index_server.index().add_wheel(honest)
    # Late enough that resolution is over and members are written as they arrive.
    index_server.add_fault(regex=r"swapped-1\.0-py3-none-any\.whl$", body=bytes(evil), delay=0.5)
    pyodide.run(PAGE_HELPERS)
    before = pyodide.run("listing()")
    err = pyodide.run_expect_error("""
import pyemscripten, pyemscripten.installation as inst
early = set()
original = inst.Prestaged.member
def member(self, name, content):
    original(self, name, content)
    early.update(self.written)
inst.Prestaged.member = member
try:
    await pyemscripten.install('swapped', index_urls=[url])
finally:
    inst.Prestaged.member = original
""", url=index_server.index_url)
    assert err["type"] in ("HashMismatchError", "SizeMismatchError")
    assert "swapped-1.0-py3-none-any.whl" in err["message"]
    # Written, then dropped; or, small, never written.
    assert pyodide.run("sorted(early)") == (sorted(["swapped/__init__.py", *extra, "swapped/evil.py"])
                                            if size == "large" else [])
    assert pyodide.run("listing()") == before


def test_unsafe_wheel_installs_nothing(pyodide, index_server) -> None:
    index_server.index().add_wheel(make_wheel("escaper", "1.0", {"escaper/__init__.py": b"", "../../evil.py": b"x"}))
    pyodide.run(PAGE_HELPERS)
    before = pyodide.run("listing()")
    err = pyodide.run_expect_error(
        "import pyemscripten\nawait pyemscripten.install('escaper', index_urls=[url])", url=index_server.index_url)
    assert err["type"] == "UnsafePathError" and "escaper-1.0-py3-none-any.whl" in err["message"]
    assert pyodide.run("listing()") == before
    assert pyodide.run("import os; os.path.exists('/lib/evil.py') or os.path.exists('/evil.py')") is False
    # Pyodide's data folder is "/": a data file could reach site-packages, but not a .dist-info there.
    site = pyodide.run("import pyemscripten.installation as i; i.default_scheme().purelib")
    index_server.index().add_wheel(make_wheel("poser", "1.0", {"poser/__init__.py": b""}, data_files={
        f"data{site}/victim-9.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: victim\nVersion: 9.0\n"}))
    err = pyodide.run_expect_error(
        "import pyemscripten\nawait pyemscripten.install('poser', index_urls=[url])", url=index_server.index_url)
    assert err["type"] == "InstallError" and "would be written into a .dist-info folder of site-packages" in err["message"]
    assert pyodide.run("listing()") == before
    # A wheel (its hash as the index gives it) whose members declare 3 GB: refused before
    # anything is inflated, rather than the page running out of memory.
    hoard = make_wheel("hoarder", "1.0", {"hoarder/__init__.py": b"", **{f"hoarder/{n}.bin": b"\0" for n in "abc"}})
    body = bytes(hoard)
    for n in "abc":
        body = with_declared_size(body, f"hoarder/{n}.bin", 1_000_000_000)
    index_server.index().add_wheel(body, hoard.filename)
    err = pyodide.run_expect_error(
        "import pyemscripten\nawait pyemscripten.install('hoarder', index_urls=[url])", url=index_server.index_url)
    assert err["type"] == "WheelError" and "hoarder-1.0-py3-none-any.whl" in err["message"], err
    assert "would unpack to 3,000,000," in err["message"]
    assert pyodide.run("listing()") == before


@pytest.mark.parametrize("pyodide", RUNTIMES, indirect=True)
def test_memfs_file_ops_make_many_files_in_one_call(pyodide) -> None:
    result = pyodide.run(
        """
import errno, os, stat
import js, pyodide_js
from pyodide.ffi import to_js
from pyemscripten.browser import MemfsFileOps

def read(path):
    with open(path, "rb") as f:
        return f.read()

def mode(path):
    return oct(stat.S_IMODE(os.stat(path).st_mode))

def attempt(root, files):
    try:
        ops.write_tree(root, files, 0o644)
    except OSError as exc:
        return [errno.errorcode[exc.errno], exc.filename]

ops = MemfsFileOps()
out = {}
for root in ("/tmp/memfs-tree", "/idb/tree"):  # MEMFS; IDBFS, written file by file
    if root.startswith("/idb"):
        os.makedirs("/idb", exist_ok=True)
        pyodide_js.FS.mount(pyodide_js.FS.filesystems.IDBFS, to_js({}, dict_converter=js.Object.fromEntries), "/idb")
    os.makedirs(root)
    files = [(f"pkg/sub{i % 3}/m{i}.py", bytes([i % 251]) * i) for i in range(200)] + [("top.txt", b"")]
    files[100:100] = [("pkg/sub0/big.so", bytes(range(256)) * 5000)]  # over MemfsFileOps.ALONE: a call of its own
    files += [(f"pkg/chunks/c{i}.bin", bytes([i]) * 900_000) for i in range(10)]  # over MemfsFileOps.BATCH
    ops.write_tree(root, files, 0o644)
    ops.write_tree(root, [("pkg/bin/tool", b"#!/bin/sh")], 0o755)
    same = all(read(f"{root}/{name}") == data for name, data in files)
    # A file grows and is rewritten; its neighbours in the same batch keep their bytes.
    with open(f"{root}/pkg/sub1/m4.py", "ab") as f:
        f.write(b"more" * 1000)
    with open(f"{root}/pkg/sub2/m5.py", "r+b") as f:
        f.write(b"XY")
    out[root] = {
        "same": same,
        "grown": read(f"{root}/pkg/sub1/m4.py") == bytes([4]) * 4 + b"more" * 1000,
        "rewritten": read(f"{root}/pkg/sub2/m5.py") == b"XY" + bytes([5]) * 3,
        "neighbours": read(f"{root}/pkg/sub1/m7.py") == bytes([7]) * 7 and read(f"{root}/pkg/sub0/m3.py") == bytes([3]) * 3,
        "modes": [mode(f"{root}/pkg/sub0/m0.py"), mode(f"{root}/pkg/bin/tool"), mode(f"{root}/pkg/sub0"),
                  mode(f"{root}/pkg/chunks"), mode(root)],
        "listed": sorted(os.listdir(f"{root}/pkg")),
        "exists": attempt(root, [("pkg/new.py", b"n"), ("top.txt", b"x")]),
        "under_a_file": attempt(root, [("top.txt/inner.py", b"")]),
    }
out["dots"] = attempt("/tmp/memfs-tree", [("pkg/../evil.py", b"")])
# Each a batch of its own, after a file in pkg/sub0 (the folder the writer remembers).
out["empty"] = [attempt("/tmp/memfs-tree", [(f"pkg/sub0/fine{n}.py", b""), (p, b"")])[0]
                for n, p in enumerate(("/abs.py", "pkg//x.py", "pkg/sub0/", "./x.py", "pkg/sub0/.", "pkg/sub0//y.py"))]
out["evil"] = os.path.exists("/tmp/memfs-tree/evil.py")
out
"""
    )
    for root in ("/tmp/memfs-tree", "/idb/tree"):
        got = result[root]
        assert got["same"] and got["grown"] and got["rewritten"] and got["neighbours"], root
        assert got["modes"][:2] == ["0o644", "0o755"], root
        assert got["listed"] == ["bin", "chunks", "sub0", "sub1", "sub2"], root
        assert got["modes"][2] == got["modes"][3] == got["modes"][4], root  # folders as os.makedirs made root
        assert got["exists"] == ["EEXIST", f"{root}/top.txt"], root
        assert got["under_a_file"][0] in ("ENOTDIR", "EEXIST"), root  # os.makedirs says EEXIST
    assert result["/tmp/memfs-tree"]["modes"] == result["/idb/tree"]["modes"]  # folders too
    assert result["dots"] == ["EINVAL", "/tmp/memfs-tree/pkg/../evil.py"] and not result["evil"]
    assert result["empty"] == ["EINVAL"] * 6  # an empty, "." or ".." part anywhere, the first one too


@pytest.mark.parametrize("pyodide", RUNTIMES, indirect=True)
def test_memfs_file_ops_move_and_remove_in_one_call(pyodide) -> None:
    """The commit's moves and the scratch folder's removal, node by node in one call each:
    the same outcome as the file system's own calls, without them, and those calls wherever
    something is not as the JavaScript reads it (it then changes nothing first)."""
    result = pyodide.run(
        """
import os
import js, pyodide_js
from pyodide.code import run_js
from pyodide.ffi import to_js
from pyemscripten.browser import MemfsFileOps
from pyemscripten.installation import FileOps

FS = pyodide_js.FS
calls = run_js('''(FS) => {
    const calls = {rename: 0, rmdir: 0, unlink: 0, lookupPath: 0};
    for (const name of Object.keys(calls)) {
        const own = FS[name];
        FS[name] = function (...args) { calls[name]++; return own.apply(this, args); };
    }
    return calls;
}''')(FS)

def counted():
    return [calls.rename, calls.rmdir, calls.unlink, calls.lookupPath]

def tree(root, names):
    for name in names:
        os.makedirs(os.path.dirname(f"{root}/{name}"), exist_ok=True)
        with open(f"{root}/{name}", "wb") as f:
            f.write(name.encode())

def listing(root):
    return sorted(os.path.relpath(os.path.join(d, n), root) for d, dirs, files in os.walk(root) for n in dirs + files)

ops, plain = MemfsFileOps(), FileOps()
out = {}
for base in ("/tmp/moves", "/idb2/moves"):
    if base.startswith("/idb2"):
        os.makedirs("/idb2")
        FS.mount(FS.filesystems.IDBFS, to_js({}, dict_converter=js.Object.fromEntries), "/idb2")
    src, dst = f"{base}/work/t1", f"{base}/site"
    tree(src, ["pkg/__init__.py", "pkg/sub/m.py", "pkg-1.0.dist-info/RECORD", "mod.py", "shared/x.py"])
    tree(dst, ["shared/y.py", "other.py"])
    before = counted()
    entries = ops.entries(src, dst)
    new = [name for name, exists in entries if not exists]
    moved = ops.move_entries(src, dst, new)
    after_move = counted()
    same_entries = entries == [("mod.py", False), ("pkg", False), ("pkg-1.0.dist-info", False), ("shared", True)]
    got = {
        "entries": entries, "same_entries": same_entries, "moved": moved,
        "calls": [a - b for a, b in zip(after_move, before)],
        "site": listing(dst), "left": listing(src),
        "read": open(f"{dst}/pkg/sub/m.py", "rb").read() == b"pkg/sub/m.py", "stat": os.stat(f"{dst}/pkg/sub").st_nlink > 0,
        "old_path": os.path.exists(f"{src}/pkg/__init__.py"),
    }
    # Written again where it was moved from: the old name's entry is gone from the lookups.
    tree(src, ["pkg/__init__.py"])
    got["rewritten"] = open(f"{src}/pkg/__init__.py", "rb").read() == b"pkg/__init__.py"
    got["plain_entries"] = plain.entries(src, dst) == ops.entries(src, dst)
    after_move = counted()
    ops.remove_tree(f"{base}/work")
    got["remove_calls"] = [a - b for a, b in zip(counted(), after_move)]
    got["removed"] = not os.path.exists(f"{base}/work") and os.listdir(base) == ["site"]
    out[base] = got

# Refused, nothing changed, the file system's own calls then: a name already there, a mount
# point, a folder into itself, another file system, a tracking delegate.
tree("/tmp/r/src", ["a.py", "b/c.py"])
tree("/tmp/r/dst", ["b/d.py"])
os.makedirs("/tmp/r/src/mnt")
FS.mount(FS.filesystems.MEMFS, to_js({}, dict_converter=js.Object.fromEntries), "/tmp/r/src/mnt")
refused = {
    "exists": ops.move_entries("/tmp/r/src", "/tmp/r/dst", ["a.py", "b"]),
    "mount": ops.move_entries("/tmp/r/src", "/tmp/r/dst", ["a.py", "mnt"]),
    "into_itself": ops.move_entries("/tmp/r/src", "/tmp/r/src/b", ["b"]),
    "other_fs": ops.move_entries("/tmp/r/src", "/idb2/moves/site", ["a.py"]),
}
FS.trackingDelegate.onMovePath = run_js("() => {}")
refused["tracked"] = ops.move_entries("/tmp/r/src", "/tmp/r/dst", ["a.py"])
js.Reflect.deleteProperty(FS.trackingDelegate, "onMovePath")
refused["unchanged"] = [listing("/tmp/r/src"), listing("/tmp/r/dst")]
before = counted()
ops.remove_tree("/tmp/r/src")  # holds a mount point: shutil.rmtree, which cannot remove that
refused["remove_fallback"] = [a - b for a, b in zip(counted(), before)]
refused["mount_left"] = os.path.isdir("/tmp/r/src/mnt")
out["refused"] = refused
out
"""
    )
    for base in ("/tmp/moves", "/idb2/moves"):
        got = result[base]
        assert got["same_entries"] and got["plain_entries"] and got["moved"] is True, base
        assert got["calls"] == [0, 0, 0, 0], base  # no FS.rename, not one path looked up
        assert got["site"] == ["mod.py", "other.py", "pkg", "pkg-1.0.dist-info", "pkg-1.0.dist-info/RECORD",
                               "pkg/__init__.py", "pkg/sub", "pkg/sub/m.py", "shared", "shared/y.py"], base
        assert got["left"] == ["shared", "shared/x.py"] and got["read"], base
        assert got["stat"] and not got["old_path"] and got["rewritten"], base
        assert got["removed"] and got["remove_calls"] == [0, 0, 0, 0], base
    refused = result["refused"]
    assert [refused[k] for k in ("exists", "mount", "into_itself", "other_fs", "tracked")] == [False] * 5
    assert refused["unchanged"] == [["a.py", "b", "b/c.py", "mnt"], ["b", "b/d.py"]]
    assert refused["remove_fallback"][1] > 0 and refused["mount_left"]  # FS.rmdir was called
