"""``python -m pyemscripten index``: a static index of your own wheels, read back by our own
page parser, served by Python's plain static file server and locked from natively."""

from __future__ import annotations

import functools
import hashlib
import os
import re
import tempfile
import threading
import tomllib
from collections.abc import Iterator
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urljoin

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from packaging.utils import canonicalize_name
from packaging.version import Version

from pyemscripten import index_writer
from pyemscripten.__main__ import main
from pyemscripten.errors import IndexWriteError
from pyemscripten.index_pages import parse_html_page, parse_project_page
from pyemscripten.index_writer import write_index
from tests.support.wheels import WheelBytes, make_wheel


def saved(folder: Path, wheel: WheelBytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / wheel.filename
    path.write_bytes(wheel)
    return path


def page(index: Path, project: str) -> dict[str, object]:
    url = f"http://example.test/simple/{project}/"
    parsed = parse_html_page((index / project / "index.html").read_bytes(), url, project)
    return {f.filename: f for f in parsed.files}


def test_each_wheel_is_listed_with_its_hash_requires_python_and_metadata_file(tmp_path: Path) -> None:
    app = make_wheel("My_App", "1.0", requires=["helper>=2"], requires_python=">=3.12")
    local = make_wheel("helper", "2.0+local.1", tag="cp314-cp314-pyemscripten_2026_0_wasm32")
    written = write_index([saved(tmp_path / "dist", app), saved(tmp_path / "dist", local)], tmp_path / "simple")
    index = tmp_path / "simple"
    assert sorted(written.added) == sorted([app.filename, local.filename])
    assert sorted(written.projects) == ["helper", "my-app"]  # folders by normalized name

    files = page(index, "my-app")
    entry = files[app.filename]
    assert entry.url == f"http://example.test/simple/my-app/{app.filename}"
    assert entry.sha256 == hashlib.sha256(app).hexdigest()
    assert entry.requires_python == ">=3.12"
    metadata = (index / "my-app" / f"{app.filename}.metadata").read_bytes()
    assert metadata == app.metadata
    assert entry.core_metadata == (("sha256", hashlib.sha256(metadata).hexdigest()),)
    assert (index / "my-app" / app.filename).read_bytes() == app

    # "+" in a local version is percent-encoded in the link, and the file name read back whole.
    [helper] = page(index, "helper").values()
    assert helper.filename == local.filename and "%2B" in helper.url
    root = (index / "index.html").read_text()
    assert '<a href="helper/">helper</a>' in root and '<a href="my-app/">my-app</a>' in root
    # As written, beyond what our lenient parser needs: PEP 658's older attribute too, for
    # older installers, and Requires-Python escaped (PEP 503).
    raw = (index / "my-app" / "index.html").read_text()
    digest = hashlib.sha256(metadata).hexdigest()
    assert f'data-dist-info-metadata="sha256={digest}"' in raw and f'data-core-metadata="sha256={digest}"' in raw
    assert 'data-requires-python="&gt;=3.12"' in raw
    # Every file readable by a web server running as another user (0666 less the umask).
    umask = os.umask(0)
    os.umask(umask)
    assert {p.stat().st_mode & 0o777 for p in index.rglob("*") if p.is_file()} == {0o666 & ~umask}


def test_a_wheel_an_install_would_refuse_stops_it_before_anything_is_written(tmp_path: Path) -> None:
    good = saved(tmp_path / "dist", make_wheel("good", "1.0"))
    bad = saved(tmp_path / "dist", make_wheel("bad", "1.0", bad_record=True))
    with pytest.raises(IndexWriteError) as caught:
        write_index([good, bad], tmp_path / "simple")
    assert caught.value.path == str(bad)
    assert "an install would refuse it" in str(caught.value) and "Nothing was written" in str(caught.value)
    assert not (tmp_path / "simple").exists()


@pytest.mark.parametrize("source, says", [
    ("notes.txt", "not a wheel (.whl)"),
    ("missing.whl", "no such file"),
    ("empty", "holds no .whl file"),
    ("bad.whl", "its name is not a wheel's (wrong number of parts): a wheel is named {name}-{version}"),
])
def test_what_is_not_a_wheel_is_named(tmp_path: Path, source: str, says: str) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "empty").mkdir()
    (tmp_path / "bad.whl").write_bytes(b"")
    with pytest.raises(IndexWriteError, match=r"Cannot index .*" + source) as caught:
        write_index([tmp_path / source], tmp_path / "simple")
    assert says in caught.value.reason


def test_running_it_again_adds_wheels_and_replaces_a_rebuild(tmp_path: Path) -> None:
    index = tmp_path / "simple"
    first = make_wheel("app", "1.0")
    write_index([saved(tmp_path / "a", first)], index)
    second = make_wheel("app", "2.0")
    rebuild = make_wheel("app", "1.0", files={"app/__init__.py": "changed = True\n"})
    warnings: list[str] = []
    written = write_index([saved(tmp_path / "b", second), saved(tmp_path / "b", rebuild)], index,
                          warn=warnings.append)
    assert written.added == (second.filename,) and written.replaced == (rebuild.filename,)
    files = page(index, "app")
    assert files[rebuild.filename].sha256 == hashlib.sha256(rebuild).hexdigest()  # the rebuild, not the first
    assert second.filename in files
    assert any("is replaced by" in w and "until it is locked again" in w for w in warnings)

    # A folder of wheels, all there already, and one of them named a second time: once each.
    again = write_index([tmp_path / "b", tmp_path / "b" / second.filename], index)
    assert again.added == again.replaced == ()
    assert sorted(again.unchanged) == sorted([second.filename, rebuild.filename])


def test_a_rebuild_whose_file_name_is_spelled_otherwise_replaces_the_old_file(tmp_path: Path) -> None:
    # Older setuptools writes My_Pkg-1.0-..., newer my_pkg-1.0-...: one wheel, one file.
    index = tmp_path / "simple"
    old = make_wheel("My_Pkg", "1.0", filename="My_Pkg-1.0-py3-none-any.whl")
    new = make_wheel("my_pkg", "1.0", files={"my_pkg/__init__.py": "new = True\n"})
    write_index([saved(tmp_path / "old", old)], index)
    warnings: list[str] = []
    written = write_index([saved(tmp_path / "new", new)], index, warn=warnings.append)
    assert written.replaced == (new.filename,)
    assert list(page(index, "my-pkg")) == [new.filename]
    assert sorted(p.name for p in (index / "my-pkg").iterdir()) == sorted(
        [new.filename, f"{new.filename}.metadata", "index.html"])
    assert any("My_Pkg-1.0-py3-none-any.whl is replaced by" in w for w in warnings)
    # The old file back, then its very bytes under the other spelling: a rename, said as one.
    write_index([saved(tmp_path / "old", old)], index)
    renamed = tmp_path / "renamed" / new.filename
    renamed.parent.mkdir()
    renamed.write_bytes(old)
    warnings.clear()
    write_index([renamed], index, warn=warnings.append)
    assert warnings == [f"{old.filename} is now {new.filename}, the same wheel: a lock that names the old "
                        "file's URL must be made again"]
    assert page(index, "my-pkg")[new.filename].sha256 == hashlib.sha256(old).hexdigest()
    # Both spellings given at once: refused, as two files of one name are.
    with pytest.raises(IndexWriteError, match="the same wheel"):
        write_index([tmp_path / "old", tmp_path / "new"], tmp_path / "other")


def test_a_folder_it_did_not_write_is_not_written_into(tmp_path: Path) -> None:
    # -o site instead of -o site/simple: the site's own pages must not be overwritten or deleted.
    site = tmp_path / "site"
    (site / "docs").mkdir(parents=True)
    (site / "index.html").write_text("my page")
    (site / "docs" / "index.html").write_text("docs")
    wheel = saved(tmp_path / "dist", make_wheel("app", "1.0"))
    with pytest.raises(IndexWriteError, match="did not write") as caught:
        write_index([wheel], site)
    assert "Nothing was written" in str(caught.value) and str(site / "simple") in str(caught.value)
    assert (site / "index.html").read_text() == "my page" and (site / "docs" / "index.html").read_text() == "docs"
    assert sorted(p.name for p in site.iterdir()) == ["docs", "index.html"]
    (tmp_path / "empty").mkdir()
    assert write_index([wheel], tmp_path / "empty").added == (wheel.name,)  # an empty folder is fine


def test_a_failure_to_write_says_whether_anything_was_written(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("")
    wheel = saved(tmp_path / "dist", make_wheel("app", "1.0"))
    with pytest.raises(IndexWriteError, match="cannot write the index") as caught:
        write_index([wheel], tmp_path / "afile" / "simple")
    assert "Nothing was written" in str(caught.value)


def test_a_run_that_failed_halfway_is_taken_up_by_the_next(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The disk fills on the third file: the error says the index may be part written, and
    # once there is room the same command finishes it (the folder is still its own).
    wheels = [saved(tmp_path / "dist", make_wheel(name, "1.0")) for name in ("one", "two")]
    real, calls = index_writer.write_file_whole, []

    def full_disk(path: Path, data: bytes) -> None:
        calls.append(path)
        if len(calls) == 3:
            raise OSError(28, "No space left on device", str(path))
        real(path, data)

    monkeypatch.setattr(index_writer, "write_file_whole", full_disk)
    with pytest.raises(IndexWriteError) as caught:
        write_index(wheels, tmp_path / "simple")
    assert caught.value.writing and "run the command again" in str(caught.value)
    monkeypatch.setattr(index_writer, "write_file_whole", real)
    written = write_index(wheels, tmp_path / "simple")
    assert sorted(written.projects) == ["one", "two"]


def test_a_wheel_that_changes_after_its_check_is_not_copied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A build still writing dist/ while the command runs: what is copied is what was checked.
    wheel = saved(tmp_path / "dist", make_wheel("app", "1.0"))
    real = index_writer._checked

    def then_rebuilt(path: Path) -> tuple[str, bytes, bytes, str | None]:
        result = real(path)
        path.write_bytes(make_wheel("app", "1.0", files={"app/__init__.py": "rebuilt = True\n"}))
        return result

    monkeypatch.setattr(index_writer, "_checked", then_rebuilt)
    with pytest.raises(IndexWriteError, match="it changed while the index was being written"):
        write_index([wheel], tmp_path / "simple")
    assert not (tmp_path / "simple" / "app").exists()


def test_a_second_run_on_the_same_folder_waits_for_the_first(tmp_path: Path) -> None:
    index = tmp_path / "simple"
    write_index([saved(tmp_path / "d", make_wheel("first", "1.0"))], index)
    warnings: list[str] = []
    done = threading.Event()
    second = saved(tmp_path / "d", make_wheel("second", "1.0"))
    with index_writer._only_run(index, warnings.append):  # a run under way
        runner = threading.Thread(target=lambda: (write_index([second], index, warn=warnings.append), done.set()))
        runner.start()
        for _ in range(200):  # until the second run has said it waits
            if warnings:
                break
            threading.Event().wait(0.01)
        assert not done.is_set()
    runner.join(10)
    assert done.is_set() and warnings == [f"another run is writing {index}: waiting for it to end"]
    assert sorted(page(index, "second")) == [second.name]


def test_a_wheel_deleted_by_hand_leaves_the_pages_when_they_are_written_again(tmp_path: Path) -> None:
    index = tmp_path / "simple"
    write_index([saved(tmp_path / "d", make_wheel("gone", "1.0")), saved(tmp_path / "d", make_wheel("kept", "1.0"))],
                index)
    (index / "gone" / "gone-1.0-py3-none-any.whl").unlink()
    written = write_index([], index)
    assert list(written.projects) == ["kept"]
    assert not (index / "gone").exists()  # a static server answers 404: an installer asks the next index
    assert "gone/" not in (index / "index.html").read_text()


def test_a_wheel_copied_in_by_hand_is_checked_and_given_its_metadata_file(tmp_path: Path) -> None:
    index = tmp_path / "simple"
    write_index([saved(tmp_path / "d", make_wheel("app", "1.0"))], index)
    by_hand = saved(index / "app", make_wheel("app", "1.1"))
    broken = saved(index / "app", make_wheel("app", "1.2", bad_record=True))
    warnings: list[str] = []
    stray = saved(index, make_wheel("stray", "1.0"))  # not in a project's folder
    write_index([], index, warn=warnings.append)
    assert sorted(page(index, "app")) == ["app-1.0-py3-none-any.whl", by_hand.name]
    assert Path(f"{by_hand}.metadata").is_file()
    assert [w for w in warnings if str(broken) in w and "left off the index" in w]
    assert [w for w in warnings if str(stray) in w and "not in a project's folder" in w]

    # Copied over a listed wheel: its page no longer vouches for it, so it is checked again
    # and its metadata file made anew (a new dependency is not hidden behind the old one).
    newer = make_wheel("app", "1.1", requires=["helper>=2"])
    by_hand.write_bytes(newer)
    write_index([], index)
    assert b"Requires-Dist: helper>=2" in Path(f"{by_hand}.metadata").read_bytes()
    assert page(index, "app")[by_hand.name].sha256 == hashlib.sha256(newer).hexdigest()
    # Its metadata file edited by hand: no longer the one the page vouches for, so made anew.
    metadata_file = Path(f"{by_hand}.metadata")
    metadata_file.write_bytes(metadata_file.read_bytes().replace(b"Requires-Dist: helper>=2\n", b""))
    write_index([], index)
    assert b"Requires-Dist: helper>=2" in metadata_file.read_bytes()
    by_hand.write_bytes(b"junk")
    (index / "app" / "folder.whl").mkdir()  # not a file: not a wheel either, and not an error
    warnings.clear()
    write_index([], index, warn=warnings.append)
    assert list(page(index, "app")) == ["app-1.0-py3-none-any.whl"]
    assert [w for w in warnings if str(by_hand) in w and "left off the index" in w]


def test_a_wheel_no_browser_installs_is_listed_with_a_warning(tmp_path: Path) -> None:
    linux = make_wheel("native", "1.0", tag="cp314-cp314-manylinux_2_28_x86_64")
    warnings: list[str] = []
    write_index([saved(tmp_path / "d", linux)], tmp_path / "simple", warn=warnings.append)
    assert linux.filename in page(tmp_path / "simple", "native")
    [warning] = warnings
    assert "manylinux_2_28_x86_64" in warning and "no browser runtime installs it" in warning


@pytest.fixture
def static_server(tmp_path: Path) -> Iterator[str]:
    """Python's own static file server over ``tmp_path/site``: no index logic at all."""
    site = tmp_path / "site"
    site.mkdir()
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(site))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_the_command_makes_an_index_a_plain_static_server_serves_to_the_lock_command(
        tmp_path: Path, static_server: str, capsys: pytest.CaptureFixture[str]) -> None:
    dist = tmp_path / "dist"
    app = make_wheel("app", "1.0", requires=["helper[fast]>=2"])
    helper = make_wheel("helper", "2.1", extras={"fast": ["speedup"]}, requires_python=">=3.10")
    speedup = make_wheel("speedup", "0.3", tag="cp314-cp314-pyemscripten_2026_0_wasm32")
    for wheel in (app, helper, speedup):
        saved(dist, wheel)
    assert main(["index", str(dist), "-o", str(tmp_path / "site" / "simple")]) == 0
    told = capsys.readouterr().err
    assert "Indexed 3 wheels of 3 projects" in told and "http://localhost:8000/simple/" in told

    out = tmp_path / "pylock.toml"
    assert main(["lock", "app", "--index-url", f"{static_server}/simple/", "-o", str(out)]) == 0
    locked = {p["name"]: p for p in tomllib.loads(out.read_text())["packages"]}
    assert sorted(locked) == ["app", "helper", "speedup"]
    [wheel] = locked["speedup"]["wheels"]
    assert wheel["url"] == f"{static_server}/simple/speedup/{speedup.filename}"
    assert wheel["hashes"] == {"sha256": hashlib.sha256(speedup).hexdigest()}

    # speedup's wheel deleted by hand, the pages written again: what the index no longer
    # has comes from the next index.
    later = make_wheel("speedup", "0.4", tag="cp314-cp314-pyemscripten_2026_0_wasm32")
    assert main(["index", str(saved(tmp_path / "later", later)), "-o", str(tmp_path / "site" / "other")]) == 0
    (tmp_path / "site" / "simple" / "speedup" / speedup.filename).unlink()
    assert main(["index", "-o", str(tmp_path / "site" / "simple")]) == 0
    assert main(["lock", "app", "--index-url", f"{static_server}/simple/", "--index-url",
                 f"{static_server}/other/", "-o", str(out)]) == 0
    locked = {p["name"]: p for p in tomllib.loads(out.read_text())["packages"]}
    assert locked["speedup"]["version"] == "0.4"


def test_the_command_says_what_stopped_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "simple").write_text("a file where the folder should be")
    wheel = saved(tmp_path / "dist", make_wheel("app", "1.0"))
    assert main(["index", str(wheel), "-o", str(tmp_path / "simple")]) == 1
    assert "error: Cannot index" in capsys.readouterr().err


def test_a_local_index_is_locked_from_with_its_wheels_copied_beside_the_lock(
        tmp_path: Path, static_server: str, capsys: pytest.CaptureFixture[str]) -> None:
    # A test suite's own wheel, indexed into a folder and locked from it with no server,
    # its dependencies from another index (here a static one over http).
    app = make_wheel("app", "1.0", requires=["helper"])
    assert main(["index", str(saved(tmp_path / "dist", app)), "-o", str(tmp_path / "local")]) == 0
    helper = make_wheel("helper", "2.0")
    assert main(["index", str(saved(tmp_path / "other", helper)), "-o", str(tmp_path / "site" / "simple")]) == 0
    (tmp_path / "tests").mkdir()
    out = tmp_path / "tests" / "pylock.toml"
    assert main(["lock", "app", "--index-url", str(tmp_path / "local"), "--index-url", f"{static_server}/simple/",
                 "--wheels-dir", str(tmp_path / "tests" / "wheels"), "-o", str(out)]) == 0
    locked = {p["name"]: p["wheels"][0] for p in tomllib.loads(out.read_text())["packages"]}
    assert locked == {
        "app": {"name": app.filename, "path": f"wheels/{app.filename}", "size": len(app),
                "hashes": {"sha256": hashlib.sha256(app).hexdigest()}},
        "helper": {"name": helper.filename, "path": f"wheels/{helper.filename}", "size": len(helper),
                   "hashes": {"sha256": hashlib.sha256(helper).hexdigest()}}}
    assert "file:" not in out.read_text()  # no path of this machine in the lock
    capsys.readouterr()

    # Without --wheels-dir the lock would name files on this disk: refused before resolving.
    with pytest.raises(SystemExit):
        main(["lock", "app", "--index-url", str(tmp_path / "local"), "-o", str(out)])
    assert "a local index needs --wheels-dir" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # a folder that is no index
        main(["lock", "app", "--index-url", str(tmp_path / "dist"), "--wheels-dir", str(tmp_path / "w"), "-o", str(out)])
    assert "has no index.html, so it is no index" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["lock", "app", "--index-url", (tmp_path / "nowhere").as_uri(), "--wheels-dir", str(tmp_path / "w"),
              "-o", str(out)])
    assert "nowhere' does not exist" in capsys.readouterr().err


def test_only_files_inside_the_local_indexes_are_read(tmp_path: Path) -> None:
    import asyncio

    from pyemscripten.errors import NetworkError
    from pyemscripten.native import UrllibTransport

    write_index([saved(tmp_path / "dist", make_wheel("app", "1.0"))], tmp_path / "local")
    (tmp_path / "secret.txt").write_text("not for an index")
    (tmp_path / "local" / "link").symlink_to(tmp_path / "secret.txt")
    (tmp_path / "local" / "evil").mkdir()
    (tmp_path / "local" / "evil" / "index.html").symlink_to(tmp_path / "secret.txt")
    base = (tmp_path / "local").as_uri()
    transport = UrllibTransport(local=[(f"{base}/", tmp_path / "local")])

    async def get(url: str) -> object:
        return await transport.get(url)

    page = asyncio.run(get(f"{base}/app/"))
    assert page.status == 200 and page.headers["content-type"] == "text/html" and b"app-1.0" in page.body
    assert asyncio.run(get(f"{base}/nothing/")).status == 404  # the next index is asked
    assert asyncio.run(get(f"{base}/app/x%00y.whl")).status == 404
    for outside in ((tmp_path / "secret.txt").as_uri(), f"{base}/../secret.txt", f"{base}/%2e%2e/secret.txt",
                    f"{base}/link", f"{base}/evil/", f"file://otherhost{tmp_path}/local/app/", f"{base}/app/?x"):
        with pytest.raises(NetworkError, match="local indexes") as refused:
            asyncio.run(get(outside))
        assert not refused.value.transient  # not tried again, and not a connection problem
    with pytest.raises(NetworkError, match="only http and https"):  # no local index given: no file: URL at all
        asyncio.run(UrllibTransport().get(f"{base}/app/"))



def test_the_command_runs_again_on_a_folder_named_from_the_current_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    # As the README says: `index dist/ -o site/simple`, then again after a rebuild, and with
    # no wheels to write the pages again.
    monkeypatch.chdir(tmp_path)
    saved(tmp_path / "dist", make_wheel("app", "1.0"))
    assert main(["index", "dist", "-o", "site/simple"]) == 0
    rebuild = make_wheel("app", "1.0", files={"app/__init__.py": "changed = True\n"})
    saved(tmp_path / "dist", rebuild)
    assert main(["index", "dist", "-o", "site/simple"]) == 0
    assert page(tmp_path / "site" / "simple", "app")[rebuild.filename].sha256 == hashlib.sha256(rebuild).hexdigest()
    assert main(["index", "-o", "site/simple"]) == 0
    assert "Traceback" not in capsys.readouterr().err


# --- round trip, generated: the pages written parse back to the files that went in ----------

_PARTS = st.lists(st.from_regex(r"[a-z][a-z0-9]{0,3}", fullmatch=True), min_size=1, max_size=3)
_VERSIONS = st.builds(lambda epoch, release, pre, post, dev, local: f"{epoch}{release}{pre}{post}{dev}{local}",
                      st.sampled_from(["", "1!"]), st.sampled_from(["1.0", "0", "2.10.3"]),
                      st.sampled_from(["", "a1", "rc2"]), st.sampled_from(["", ".post1"]),
                      st.sampled_from(["", ".dev0"]), st.sampled_from(["", "+local", "+ubuntu.1_2"]))
# What Requires-Python holds, and what HTML must escape in an attribute.
_REQUIRES_PYTHON = st.one_of(st.none(), st.sampled_from([">=3.8", ">=3.10,<4", "!=3.13.*, >= 3.9"]),
                             st.text(alphabet="<>=&\"'3.,!~* ;#%\té\x7f", min_size=1, max_size=12).map(str.strip))


@st.composite
def _project_wheels(draw: st.DrawFn) -> list[tuple[str, dict[str, object]]]:
    """(project name as spelled, make_wheel's arguments) of a few wheels of a few projects."""
    projects = draw(st.lists(_PARTS, min_size=1, max_size=3, unique_by=lambda p: "-".join(p)))
    wheels = []
    for parts in projects:
        for version in draw(st.lists(_VERSIONS, min_size=1, max_size=2, unique_by=lambda v: str(Version(v)))):
            spelled = parts[0]
            for part in parts[1:]:
                spelled += draw(st.sampled_from(["-", "_", ".", "__", "-."])) + part
            spelled = "".join(c.upper() if draw(st.booleans()) else c for c in spelled)
            # A second Requires-Python line, which the first wins over (as an install reads METADATA).
            again = draw(st.sampled_from([(), (("Requires-Python", ">=3.9"),), (("Requires-Python", ""),)]))
            wheels.append((spelled, {"version": version, "requires_python": draw(_REQUIRES_PYTHON), "extra_metadata": again,
                                     "tag": draw(st.sampled_from(["py3-none-any", "cp314-cp314-pyemscripten_2026_0_wasm32"])),
                                     "build": draw(st.sampled_from([None, "1", "2b"]))}))
    return wheels


class _Links(HTMLParser):
    """Every link of a page, with its text: an independent reading of the project list."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str | None, str]] = []
        self.inside = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.links.append((dict(attrs).get("href"), ""))
            self.inside = True

    def handle_endtag(self, tag: str) -> None:
        self.inside = self.inside and tag != "a"

    def handle_data(self, data: str) -> None:
        if self.inside:
            self.links[-1] = (self.links[-1][0], self.links[-1][1] + data)


@settings(max_examples=25, deadline=None)
@given(_project_wheels(), st.booleans(), st.integers(0, 5))
# Requires-Python twice in METADATA: an install enforces the first, and the page said none
# (the pages read METADATA with packaging's reader, which drops a field given twice).
@example([("a", {"version": "1.0", "requires_python": ">=3.8", "extra_metadata": (("Requires-Python", ">=3.9"),),
                 "tag": "py3-none-any", "build": None})], False, 0)
def test_the_pages_written_read_back_to_the_wheels_given(wheels: list[tuple[str, dict[str, object]]],
                                                          file_name_as_spelled: bool, first_run: int) -> None:
    """Any wheels of any projects (names in any spelling, versions of every form,
    Requires-Python with what HTML escapes), given in one run or two: each project page,
    read as an installer reads it, lists exactly its wheels with their URL, sha256,
    Requires-Python and metadata file's hash, and the project list names every project,
    normalized."""
    made = []
    for spelled, arguments in wheels:
        wheel = make_wheel(spelled, **arguments)  # type: ignore[arg-type]
        if file_name_as_spelled:  # as older setuptools names them: My_App-1.0-...
            escaped = re.sub(r"[-_.]+", "_", spelled)
            filename = escaped + wheel.filename[len(escaped):]
            wheel = make_wheel(spelled, **arguments, filename=filename,  # type: ignore[arg-type]
                               dist_info="-".join(filename.split("-")[:2]))
        made.append(wheel)
    with tempfile.TemporaryDirectory() as folder:
        paths = [saved(Path(folder) / "dist" / str(i), wheel) for i, wheel in enumerate(made)]
        if 0 < first_run < len(paths):  # the second run lists the first's wheels from its pages
            write_index(paths[:first_run], Path(folder) / "simple")
        written = write_index(paths[first_run:] if first_run < len(paths) else paths, Path(folder) / "simple")
        index = Path(folder) / "simple"
        expected: dict[str, dict[str, tuple[object, ...]]] = {}
        for (spelled, arguments), wheel in zip(wheels, made):
            expected.setdefault(canonicalize_name(spelled), {})[wheel.filename] = (
                ("sha256", hashlib.sha256(wheel).hexdigest()),
                arguments["requires_python"] or next((v for _, v in arguments["extra_metadata"]), None) or None,  # type: ignore[attr-defined]
                ("sha256", hashlib.sha256(wheel.metadata).hexdigest()))
        assert sorted(written.projects) == sorted(expected)
        for project, files in expected.items():
            url = f"https://example.test/simple/{project}/"
            parsed = parse_project_page((index / project / "index.html").read_bytes(), url, "text/html", project)
            got = {f.filename: (*f.hashes, f.requires_python, *(f.core_metadata or ())) for f in parsed.files}
            assert got == files
            for file in parsed.files:
                assert unquote(file.url) == url + file.filename and file.yanked is None
                assert (index / project / file.filename).read_bytes() == made[[w.filename for w in made].index(file.filename)]
        links = _Links()
        links.feed((index / "index.html").read_text("utf-8"))
        assert sorted((urljoin("https://example.test/simple/", href or ""), text) for href, text in links.links) == sorted(
            (f"https://example.test/simple/{project}/", project) for project in expected)
