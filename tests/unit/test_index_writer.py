"""``python -m pyemscripten index``: a static index of your own wheels, read back by our own
page parser, served by Python's plain static file server and locked from natively."""

from __future__ import annotations

import functools
import hashlib
import threading
import tomllib
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from pyemscripten.__main__ import main
from pyemscripten.errors import IndexWriteError
from pyemscripten.index_pages import parse_html_page
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
])
def test_what_is_not_a_wheel_is_named(tmp_path: Path, source: str, says: str) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "empty").mkdir()
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
    assert sorted(written.added) == sorted([second.filename, rebuild.filename])
    files = page(index, "app")
    assert files[rebuild.filename].sha256 == hashlib.sha256(rebuild).hexdigest()  # the rebuild, not the first
    assert second.filename in files
    assert any("had other bytes and is replaced" in w for w in warnings)

    again = write_index([tmp_path / "b"], index)  # a folder of wheels, all there already
    assert again.added == () and sorted(again.unchanged) == sorted([second.filename, rebuild.filename])


def test_a_wheel_deleted_by_hand_leaves_the_pages_when_they_are_written_again(tmp_path: Path) -> None:
    index = tmp_path / "simple"
    write_index([saved(tmp_path / "d", make_wheel("gone", "1.0")), saved(tmp_path / "d", make_wheel("kept", "1.0"))],
                index)
    (index / "gone" / "gone-1.0-py3-none-any.whl").unlink()
    written = write_index([], index)
    assert list(written.projects) == ["kept"]
    assert not (index / "gone" / "index.html").exists()
    assert not (index / "gone" / "gone-1.0-py3-none-any.whl.metadata").exists()
    assert "gone/" not in (index / "index.html").read_text()


def test_a_wheel_copied_in_by_hand_is_checked_and_given_its_metadata_file(tmp_path: Path) -> None:
    index = tmp_path / "simple"
    write_index([saved(tmp_path / "d", make_wheel("app", "1.0"))], index)
    by_hand = saved(index / "app", make_wheel("app", "1.1"))
    broken = saved(index / "app", make_wheel("app", "1.2", bad_record=True))
    warnings: list[str] = []
    write_index([], index, warn=warnings.append)
    assert sorted(page(index, "app")) == ["app-1.0-py3-none-any.whl", by_hand.name]
    assert Path(f"{by_hand}.metadata").is_file()
    assert [w for w in warnings if str(broken) in w and "left off the index" in w]


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


def test_the_command_says_what_stopped_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "simple").write_text("a file where the folder should be")
    wheel = saved(tmp_path / "dist", make_wheel("app", "1.0"))
    assert main(["index", str(wheel), "-o", str(tmp_path / "simple")]) == 1
    assert "error: Cannot index" in capsys.readouterr().err
