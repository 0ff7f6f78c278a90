"""pylock.toml round trip, target checks, and hostile lock files."""

from __future__ import annotations

import tomllib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.version import Version

from pyemscripten.errors import LockError, PyemscriptenError, UnsupportedRuntimeError
from pyemscripten.index_pages import IndexFile
from pyemscripten.locks import LockedWheel, dump_lock, load_lock
from pyemscripten.target import Target

T2026 = Target.for_platform("pyemscripten_2026_0_wasm32", "3.14.2")
T2025 = Target.for_platform("pyemscripten_2025_0_wasm32", "3.13.2")


def wheel(name: str, version: str, tag: str) -> LockedWheel:
    filename = f"{name}-{version}-{tag}.whl"
    return LockedWheel(name, Version(version), IndexFile(filename, f"https://files.test/{filename}",
                                                         (("sha256", "ab" * 32),), size=123))


def test_round_trip() -> None:
    text = dump_lock([wheel("jiter", "0.19.0", "cp314-cp314-pyemscripten_2026_0_wasm32"),
                      wheel("rich", "15.0.0", "py3-none-any")], T2026)
    assert 'lock-version = "1.0"' in text and "pyemscripten_2026_0_wasm32" in text
    got = load_lock(text, T2026)
    assert [(w.name, str(w.version), w.file.sha256, w.file.size) for w in got] == [
        ("jiter", "0.19.0", "ab" * 32, 123), ("rich", "15.0.0", "ab" * 32, 123)]


@pytest.mark.parametrize("asked", ["3.14", "3.14.2"])
def test_lock_records_the_python_version_asked_for(asked: str) -> None:
    # "--python-version 3.14" means any 3.14: the lock must not claim a patch level nobody
    # asked for. Markers still see a full version to compare against: the one the platform's
    # runtimes run (Pyodide 314: 3.14.2), where it is known, else the version padded.
    target = Target.for_platform("pyemscripten_2026_0_wasm32", asked)
    data = tomllib.loads(dump_lock([wheel("rich", "15.0.0", "py3-none-any")], target))
    assert data["tool"]["pyemscripten"]["python-version"] == asked
    assert data["requires-python"] == "==3.14.*"
    assert target.marker_environment["python_full_version"] == "3.14.2"
    assert Target.for_platform("pyemscripten_2026_0_wasm32", "3.13").marker_environment["python_full_version"] == "3.13.0"
    assert Target.for_platform("pyemscripten_2031_0_wasm32", "3.19").marker_environment["python_full_version"] == "3.19.0"
    # 2026_5's runtime runs 3.15.0rc1, but a lock for "3.15" is for the final releases too.
    assert Target.for_platform("pyemscripten_2026_5_wasm32", "3.15").marker_environment["python_full_version"] == "3.15.0"
    assert Target.for_platform("pyemscripten_2026_5_wasm32", "3.15.0rc1").python_version == "3.15.0rc1"


@pytest.mark.parametrize("bad", ["3", "foo", "3.x", "", "3.14foo", "3.14.x", "3.14_1", "3.14.2+", "3.14.2.1", "3.14.post1"])
def test_a_python_version_that_is_not_one_is_refused(bad: str) -> None:
    with pytest.raises(UnsupportedRuntimeError, match="is not a Python version"):
        Target.for_platform("pyemscripten_2026_0_wasm32", bad)


def test_lock_for_another_platform_is_refused() -> None:
    text = dump_lock([wheel("jiter", "0.19.0", "cp314-cp314-pyemscripten_2026_0_wasm32")], T2026)
    with pytest.raises(LockError) as info:
        load_lock(text, T2025, source="pylock.toml")
    assert "pyemscripten_2026_0_wasm32" in str(info.value) and "pyemscripten_2025_0_wasm32" in str(info.value)
    without_tool = text.split("[tool.pyemscripten]")[0]
    with pytest.raises(LockError, match=r"it requires Python ==3\.14\.\*, and this runtime \(pyemscripten_2025_0_wasm32, "
                                        r"Python 3\.13\.2\) does not fit"):
        load_lock(without_tool, T2025)
    with pytest.raises(LockError) as info:  # the same Python, another platform: the wheel's tags decide
        load_lock(without_tool, Target.for_platform("pyemscripten_2025_0_wasm32", "3.14.2"))
    assert "jiter" in str(info.value) and "cp314-cp314-pyemscripten_2026_0_wasm32" in str(info.value)
    assert str(info.value).endswith("Lock for it: python -m pyemscripten lock ... --platform pyemscripten_2025_0_wasm32 "
                                    "--python-version 3.14.2")


LOCK_HEAD = """lock-version = "1.0"
default-groups = ["web"]
"""


def package(name: str, version: str, extra: str = "") -> str:
    return f"""
[[packages]]
name = "{name}"
version = "{version}"
{extra}
[[packages.wheels]]
url = "https://files.test/{name}-{version}-py3-none-any.whl"
hashes = {{sha256 = "{'ab' * 32}"}}
"""


def test_markers_environments_and_requires_python_of_a_lock() -> None:
    # The spec's installation steps: packages whose marker is false are skipped (two entries
    # of one name for two platforms, as uv writes them), the lock's default groups count,
    # and requires-python / environments that exclude the runtime refuse the lock.
    text = (LOCK_HEAD + package("colorama", "0.4.6", "marker = \"sys_platform == 'win32'\"")
            + package("numpy", "2.0.0", "marker = \"sys_platform != 'emscripten'\"")
            + package("numpy", "1.26.0", "marker = \"sys_platform == 'emscripten'\"")
            + package("devtool", "1.0", "marker = \"'dev' in dependency_groups\"")
            + package("webtool", "1.0", "marker = \"'web' in dependency_groups\"")
            + package("rich", "15.0.0", 'requires-python = ">=3.8"'))
    assert [(w.name, str(w.version)) for w in load_lock(text, T2026)] == [
        ("numpy", "1.26.0"), ("webtool", "1.0"), ("rich", "15.0.0")]
    for head, reason in [
        ('requires-python = ">=3.15"\n', r"it requires Python >=3\.15, and this runtime"),
        ("environments = [\"sys_platform == 'linux'\", \"sys_platform == 'win32'\"]\n",
         r"none of its environments \(sys_platform == 'linux'; sys_platform == 'win32'\) is this runtime"),
    ]:
        with pytest.raises(LockError, match=reason):
            load_lock(LOCK_HEAD + head + package("rich", "15.0.0"), T2026)
    assert load_lock(LOCK_HEAD + "environments = [\"sys_platform == 'emscripten'\"]\n" + package("rich", "15.0.0"), T2026)
    with pytest.raises(LockError, match=r"rich requires Python >=3\.15"):
        load_lock(LOCK_HEAD + package("rich", "15.0.0", 'requires-python = ">=3.15"'), T2026)
    with pytest.raises(LockError, match=r"rich is listed more than once .* \(15\.0\.0 and 14\.0\.0\): their markers overlap"):
        load_lock(LOCK_HEAD + package("rich", "15.0.0") + package("rich", "14.0.0", 'marker = "os_name == \'posix\'"'), T2026)
    for marker in ("sys_platform = 1", "python_version > '" + "1" * 5000 + "'"):  # > 4300 digits: a ValueError
        with pytest.raises(LockError, match="the marker of rich is not a marker"):
            load_lock(LOCK_HEAD + package("rich", "15.0.0", f'marker = "{marker}"'), T2026)


def test_a_lock_is_not_written_without_a_hash_it_can_be_installed_from() -> None:
    def bare(hashes: tuple, upload_time: str | None = None) -> LockedWheel:
        return LockedWheel("a", Version("1.0"), IndexFile("a-1.0-py3-none-any.whl", "https://files.test/a-1.0-py3-none-any.whl",
                                                          hashes, upload_time=upload_time))
    for hashes, given in [((), "none"), ((("md5", "00"),), "md5")]:
        with pytest.raises(LockError, match=rf"a-1\.0-py3-none-any\.whl \(a\) has no sha256 or stronger hash .*given: {given}"):
            dump_lock([bare(hashes)], T2026)
    # upload-time: a TOML date-time, or nothing (never the index's text written raw).
    good = tomllib.loads(dump_lock([bare((("sha256", "ab"),), "2024-01-02T03:04:05.678Z")], T2026))
    assert str(good["packages"][0]["wheels"][0]["upload-time"]) == "2024-01-02 03:04:05.678000+00:00"
    odd = tomllib.loads(dump_lock([bare((("sha256", "ab"),), 'soon"\n[evil]')], T2026))
    assert "upload-time" not in odd["packages"][0]["wheels"][0] and "evil" not in odd


def test_relative_paths_and_best_wheel() -> None:
    text = """lock-version = "1.0"
[[packages]]
name = "a"
version = "1.0"
[[packages.wheels]]
path = "wheels/a-1.0-cp314-cp314-manylinux_2_17_x86_64.whl"
hashes = {sha256 = "11"}
[[packages.wheels]]
path = "wheels/a-1.0-py3-none-any.whl"
hashes = {sha256 = "22"}
"""
    (got,) = load_lock(text, T2026, lock_url="https://site.test/app/pylock.toml")
    assert got.file.url == "https://site.test/app/wheels/a-1.0-py3-none-any.whl" and got.file.sha256 == "22"


def test_wheels_under_the_locks_folder_are_written_as_paths() -> None:
    """``relative_to``: a wheel below the lock's folder becomes a path (unquoted, as a file's
    path is), which reads back against wherever the lock is served; the others keep URLs."""
    def wheel(name: str, url: str) -> LockedWheel:
        filename = url.rsplit("/", 1)[-1].split("?")[0].replace("%2B", "+")
        return LockedWheel(name, Version("1.0"), IndexFile(filename, url, (("sha256", "ab" * 32),)))

    wheels = [wheel("a", "http://127.0.0.1:8000/files/a-1.0%2Blocal-py3-none-any.whl"),
              wheel("b", "https://cdn.test/b-1.0-py3-none-any.whl"),
              wheel("c", "http://127.0.0.1:8000/files/c-1.0-py3-none-any.whl?token=1"),
              wheel("d", "http://127.0.0.1:8000/d-1.0-py3-none-any.whl")]
    text = dump_lock(wheels, T2026, relative_to="http://127.0.0.1:8000/")
    assert 'path = "files/a-1.0+local-py3-none-any.whl"' in text
    assert 'path = "d-1.0-py3-none-any.whl"' in text
    assert 'url = "https://cdn.test/b-1.0-py3-none-any.whl"' in text
    assert 'url = "http://127.0.0.1:8000/files/c-1.0-py3-none-any.whl?token=1"' in text  # a path has no query
    got = {w.name: w.file.url for w in load_lock(text, T2026, lock_url="http://localhost:9999/vendored/pylock.toml")}
    assert got == {"a": "http://localhost:9999/vendored/files/a-1.0%2Blocal-py3-none-any.whl",
                   "b": "https://cdn.test/b-1.0-py3-none-any.whl",
                   "c": "http://127.0.0.1:8000/files/c-1.0-py3-none-any.whl?token=1",
                   "d": "http://localhost:9999/vendored/d-1.0-py3-none-any.whl"}
    # Without a trailing slash the URL is taken as the folder all the same.
    assert dump_lock(wheels, T2026, relative_to="http://127.0.0.1:8000/files").count("path = ") == 1


def test_paths_written_by_other_tools() -> None:
    """``path`` entries: "\\" separators are taken, an absolute path and a lock given as text
    (nothing to find the path from) are refused with what to do; without ``name``, the file
    name is the path's last part, unquoted."""
    def lock(path: str, name: str | None = None) -> str:
        named = f'name = "{name}"\n' if name else ""
        return (f'lock-version = "1.0"\n[[packages]]\nname = "a"\nversion = "1.0+local"\n[[packages.wheels]]\n'
                f'{named}path = "{path}"\nhashes = {{sha256 = "11"}}\n')

    (got,) = load_lock(lock("wheels\\\\a-1.0+local-py3-none-any.whl"), T2026, lock_url="https://s.test/t/pylock.toml")
    assert got.file.url == "https://s.test/t/wheels/a-1.0%2Blocal-py3-none-any.whl"
    assert got.file.filename == "a-1.0+local-py3-none-any.whl"
    for absolute in ("/home/me/a-1.0-py3-none-any.whl", "C:/wheels/a-1.0-py3-none-any.whl"):
        with pytest.raises(LockError, match="absolute path"):
            load_lock(lock(absolute), T2026, lock_url="https://s.test/t/pylock.toml")
    with pytest.raises(LockError, match="give the lock by its URL, not its text"):
        load_lock(lock("wheels/a-1.0-py3-none-any.whl"), T2026)


@pytest.mark.parametrize("text,reason", [
    ("lock-version = ", "not valid TOML"),
    ('lock-version = "2.0"', "not supported"),
    ("packages = []", "lock-version"),
    ('lock-version = "1.0"\n[[packages]]\nname = "a"\nversion = "1"\n[[packages.wheels]]\nurl = "a-1-py3-none-any.whl"\n', "hashes"),
    ('lock-version = "1.0"\n[[packages]]\nname = "a"\nversion = "1"\n', "no wheels"),
    ('lock-version = "1.0"\n[[packages]]\nname = "a"\nversion = "1"\n[[packages.wheels]]\nurl = "a-1-py3-none-any.whl"\n'
     'hashes = {md5 = "00"}\n', "the wheel a-1-py3-none-any.whl of a has only md5 hashes, which do not prove a file's "
                               "contents: a lock for pyemscripten needs sha256, sha384 or sha512"),
])
def test_bad_locks(text: str, reason: str) -> None:
    with pytest.raises(LockError) as info:
        load_lock(text, T2026)
    assert reason in str(info.value)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_any_text_gives_wheels_or_our_error(text: str) -> None:
    try:
        load_lock('lock-version = "1.0"\n' + text, T2026)
    except PyemscriptenError:
        pass


def test_credentials_in_a_wheels_url_are_not_written() -> None:
    # A wheel named by its URL may carry user:password@; a lock is shared, so it never does.
    filename = "demo-1.0-py3-none-any.whl"
    locked = LockedWheel("demo", Version("1.0"), IndexFile(filename, f"https://alice:s3cret@files.test/{filename}?x=1",
                                                           (("sha256", "ab" * 32),)))
    text = dump_lock([locked], T2026)
    assert "s3cret" not in text and "alice" not in text
    assert tomllib.loads(text)["packages"][0]["wheels"][0]["url"] == f"https://files.test/{filename}?x=1"
