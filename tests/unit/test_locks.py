"""pylock.toml round trip, target checks, and hostile lock files."""

from __future__ import annotations

import re
import tomllib
from urllib.parse import quote, unquote

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from packaging.utils import canonicalize_name
from packaging.version import Version

from pyemscripten.errors import LockError, PyemscriptenError, UnsupportedRuntimeError
from pyemscripten.candidates import Finder, KnownData, ResolveOptions
from pyemscripten.index_pages import IndexFile, ProjectPage
from pyemscripten.credentials import strip_credentials
from pyemscripten.locks import LockedWheel, dump_lock, load_lock, path_in_lock
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
    # By the lock's own fields (requires-python, the wheels' tags), not by [tool.pyemscripten]:
    # tool data "MUST NOT affect installation" (PEP 751); it only helps say why.
    text = dump_lock([wheel("jiter", "0.19.0", "cp314-cp314-pyemscripten_2026_0_wasm32")], T2026)
    with pytest.raises(LockError, match=r"it requires Python ==3\.14\.\*, and this runtime \(pyemscripten_2025_0_wasm32, "
                                        r"Python 3\.13\.2\) \(the lock was made for pyemscripten_2026_0_wasm32\) does "
                                        "not fit"):
        load_lock(text, T2025, source="pylock.toml")
    for lock, made in ((text, " (the lock was made for pyemscripten_2026_0_wasm32)"),
                       (text.split("[tool.pyemscripten]")[0], "")):
        with pytest.raises(LockError) as info:  # the same Python, another platform: the wheel's tags decide
            load_lock(lock, Target.for_platform("pyemscripten_2025_0_wasm32", "3.14.2"))
        assert f"jiter 0.19.0 has no wheel for this runtime{made}: the lock offers cp314-cp314-pyemscripten_2026_0_wasm32" \
            in str(info.value)
        assert str(info.value).endswith("Lock for it: python -m pyemscripten lock ... --platform "
                                        "pyemscripten_2025_0_wasm32 --python-version 3.14.2")


def test_the_tool_table_decides_nothing() -> None:
    pure = dump_lock([wheel("rich", "15.0.0", "py3-none-any")], Target.for_platform("pyemscripten_2025_0_wasm32", "3.14"))
    told: list[str] = []
    assert [w.name for w in load_lock(pure, T2026, warn=told.append)] == ["rich"]
    assert told == ["the lock was made for pyemscripten_2025_0_wasm32 (its [tool.pyemscripten] table), and this "
                    "runtime is pyemscripten_2026_0_wasm32: each of its wheels fits this runtime too"]
    # The legacy spelling of this very platform is this platform; a value that is no platform is told as it is.
    for written, warned in (("pyodide_2026_0_wasm32", False), ("pyemscripten_2026_0_wasm32", False), ("webassembly", True)):
        told.clear()
        load_lock(pure.replace('platform = "pyemscripten_2025_0_wasm32"', f'platform = "{written}"'), T2026,
                  warn=told.append)
        assert bool(told) == warned and (not told or "made for webassembly" in told[0]), written


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


def test_a_runtime_on_a_release_candidate_fits_the_requires_python_its_resolution_took() -> None:
    # Pyodide 315's Python is 3.15.0rc1: resolution compares Requires-Python with 3.15.0 (as pip
    # compares sys.version_info[:3]) and takes a file for ">=3.15"; the lock it makes must load.
    rc = Target.for_platform("pyemscripten_2026_5_wasm32", "3.15.0rc1")
    text = 'lock-version = "1.0"\nrequires-python = ">=3.15"\n' + package("rich", "15.0.0", 'requires-python = ">=3.15"')
    assert [(w.name, str(w.version)) for w in load_lock(text, rc)] == [("rich", "15.0.0")]
    with pytest.raises(LockError, match=r"rich requires Python <3\.15"):
        load_lock(LOCK_HEAD + package("rich", "15.0.0", 'requires-python = "<3.15"'), rc)


def test_a_lock_is_not_written_with_text_that_is_no_unicode() -> None:
    # A JSON page's "\\ud800" is a lone surrogate to json.loads: neither TOML nor UTF-8
    # holds one, and the lock command ended in a UnicodeEncodeError as it wrote the lock.
    for hashes, url in [((("sha256", "ab\ud800"),), SIX_URL), ((("sha256", "ab"),), SIX_URL + "?\udcff")]:
        odd = LockedWheel("six", Version("1.17.0"), IndexFile("six-1.17.0-py2.py3-none-any.whl", url, hashes))
        with pytest.raises(LockError, match=r"Cannot write a lock: the index gave 'six-1.17.0-py2.py3-none-any.whl' "
                                            r"\(six\) with a lone surrogate"):
            dump_lock([odd], T2026)


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


@pytest.mark.parametrize("files, best", [
    (["a-1.0-py3-none-any.whl", "a-1.0-2-py3-none-any.whl"], "a-1.0-2-py3-none-any.whl"),  # none sorts first
    (["a-1.0-10-py3-none-any.whl", "a-1.0-9b-py3-none-any.whl", "a-1.0-py3-none-any.whl"], "a-1.0-10-py3-none-any.whl"),
    (["a-1.0-1-py3-none-any.whl", "a-1.0-1b-py3-none-any.whl"], "a-1.0-1b-py3-none-any.whl"),
    # The tag first: a build tag only breaks ties.
    (["a-1.0-cp314-cp314-pyemscripten_2026_0_wasm32.whl", "a-1.0-7-py3-none-any.whl"],
     "a-1.0-cp314-cp314-pyemscripten_2026_0_wasm32.whl"),
])
def test_the_largest_build_tag_breaks_a_tie_as_the_resolver_does(files: list[str], best: str) -> None:
    # The first wheel listed was taken, whatever its build tag (PEP 427: the largest wins).
    text = 'lock-version = "1.0"\n[[packages]]\nname = "a"\nversion = "1.0"\n' + "".join(
        f'[[packages.wheels]]\nurl = "https://f.test/{f}"\nhashes = {{ sha256 = "{"ab" * 32}" }}\n' for f in files)
    (got,) = load_lock(text, T2026)
    page = ProjectPage("a", "https://index.test/simple/a/", tuple(IndexFile(f, f"https://f.test/{f}", ()) for f in files))
    ((_, resolved),) = Finder(T2026, KnownData(pages={"a": page}), {}, ResolveOptions()).versions("a")
    assert got.file.filename == resolved.filename == best


def test_wheels_under_the_locks_folder_are_written_as_paths() -> None:
    """``relative_to``: a wheel below the lock's folder becomes a path (unquoted, as a file's
    path is), which reads back against wherever the lock is served; the others keep URLs."""
    def wheel(name: str, url: str) -> LockedWheel:
        filename = url.rsplit("/", 1)[-1].split("?")[0].replace("%2B", "+")
        return LockedWheel(name, Version(filename.split("-")[1]), IndexFile(filename, url, (("sha256", "ab" * 32),)))

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
    with pytest.raises(LockError, match=r"give the lock by its URL \(not its text or a file\)"):
        load_lock(lock("wheels/a-1.0-py3-none-any.whl"), T2026)
    # An absolute path beside a URL, from a lock given by its URL: the URL (the path cannot be followed).
    both = lock("/home/me/a-1.0+local-py3-none-any.whl").replace("path =", 'url = "https://f.test/a-1.0%2Blocal-py3-none-any.whl"\npath =')
    (got,) = load_lock(both, T2026, lock_url="https://s.test/t/pylock.toml")
    assert got.file.url == "https://f.test/a-1.0%2Blocal-py3-none-any.whl"


def test_a_url_with_its_scheme_in_capitals_is_read_as_browsers_read_it() -> None:
    """RFC 3986 3.1: HTTPS:// is https://, as urljoin writes it for a lock given by its URL."""
    text = ('lock-version = "1.0"\n[[packages]]\nname = "a"\nversion = "1.0"\n[[packages.wheels]]\n'
            'url = "HTTPS://f.test/A/a-1.0-py3-none-any.whl"\nhashes = {sha256 = "11"}\n')
    for lock_url in (None, "https://s.test/pylock.toml"):
        (got,) = load_lock(text, T2026, lock_url=lock_url)
        assert got.file.url == "https://f.test/A/a-1.0-py3-none-any.whl"


def test_only_a_lock_in_files_names_files() -> None:
    # As an index page's link (Node reads file: URLs): a lock from a server names none.
    text = ('lock-version = "1.0"\n[[packages]]\nname = "a"\nversion = "1.0"\n[[packages.wheels]]\n'
            'url = "file:///etc/a-1.0-py3-none-any.whl"\nhashes = {sha256 = "11"}\n')
    with pytest.raises(LockError, match="file:///etc/a-1.0-py3-none-any.whl, a file of this machine"):
        load_lock(text, T2026, lock_url="https://s.test/pylock.toml")
    for lock_url in (None, "file:///srv/pylock.toml"):  # its text, given by the user; a lock in files
        (got,) = load_lock(text, T2026, lock_url=lock_url)
        assert got.file.url == "file:///etc/a-1.0-py3-none-any.whl"


def test_a_fragment_is_no_part_of_a_locked_wheels_url() -> None:
    text = ('lock-version = "1.0"\n[[packages]]\nname = "a"\nversion = "1.0"\n[[packages.wheels]]\n'
            'url = "https://f.test/a-1.0-py3-none-any.whl#egg=a&sha256=22"\nhashes = {sha256 = "11"}\n')
    (got,) = load_lock(text, T2026)
    assert got.file.url == "https://f.test/a-1.0-py3-none-any.whl" and got.file.hashes == (("sha256", "11"),)


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


# --- PEP 751's rules for readers, as pip's and uv's locks exercise them ------------------------

SIX_URL = "https://f.test/six-1.17.0-py2.py3-none-any.whl"
SIX_WHEEL = f'wheels = [{{ url = "{SIX_URL}", hashes = {{ sha256 = "{"ab" * 32}" }} }}]\n'
HEAD = 'lock-version = "1.0"\ncreated-by = "x"\n'


def _read(text: str, **kwargs: object) -> list[tuple[str, str, str]]:
    return [(w.name, str(w.version), w.file.url) for w in load_lock(text, T2026, **kwargs)]  # type: ignore[arg-type]


def test_a_newer_minor_lock_version_is_read_with_a_warning() -> None:
    told: list[str] = []
    text = 'lock-version = "1.1"\ncreated-by = "x"\nfuture-key = true\n[[packages]]\nname = "six"\n' + SIX_WHEEL
    assert _read(text, warn=told.append) == [("six", "1.17.0", SIX_URL)]
    assert told == ['lock-version 1.1 is newer than this installer reads (1.0): it is read as 1.0, without the keys '
                    'future-key']
    told.clear()
    _read(HEAD + "[[packages]]\nname = 'six'\n" + SIX_WHEEL, warn=told.append)
    assert told == []
    with pytest.raises(LockError, match=r'lock-version must be a string such as "1.0" \(got 1.0\)'):
        _read(HEAD.replace('"1.0"', "1.0"))
    with pytest.raises(LockError, match=r"lock-version '1.x' is not a version"):
        _read(HEAD.replace('"1.0"', '"1.x"'))


def test_a_version_is_optional_and_must_agree_with_the_wheel() -> None:
    assert _read(HEAD + '[[packages]]\nname = "six"\n' + SIX_WHEEL) == [("six", "1.17.0", SIX_URL)]
    with pytest.raises(LockError, match=r"six-1.17.0-py2.py3-none-any.whl is not version 1.16 of six, as the lock says"):
        _read(HEAD + '[[packages]]\nname = "six"\nversion = "1.16"\n' + SIX_WHEEL)
    with pytest.raises(LockError, match=r"six has no valid version \(17\)"):
        _read(HEAD + '[[packages]]\nname = "six"\nversion = 17\n' + SIX_WHEEL)


def test_a_wheel_must_be_of_the_package_it_is_listed_under() -> None:
    with pytest.raises(LockError, match=r"six-1.17.0-py2.py3-none-any.whl is a wheel of six, not of requests, under"):
        _read(HEAD + '[[packages]]\nname = "requests"\n' + SIX_WHEEL)
    assert _read(HEAD + '[[packages]]\nname = "Six"\n' + SIX_WHEEL) == [("six", "1.17.0", SIX_URL)]


def test_hash_names_from_an_index_are_written_as_toml_reads_them_back() -> None:
    # An index's hashes are its own text: a name TOML cannot read bare is quoted, so that
    # nothing in it can add lines (packages) to the lock.
    filename = "demo-1.0-py3-none-any.whl"
    odd = 'zz = "0" }\n\n[[packages]]\nname = "evil"'
    locked = LockedWheel("demo", Version("1.0"), IndexFile(filename, f"https://files.test/{filename}",
                                                           (("sha256", "ab" * 32), ("sha3.256", "cd"), (odd, "ef"))))
    lock = tomllib.loads(dump_lock([locked], T2026))
    assert [p["name"] for p in lock["packages"]] == ["demo"]
    assert lock["packages"][0]["wheels"][0]["hashes"] == {"sha256": "ab" * 32, "sha3.256": "cd", odd: "ef"}


def test_a_wheel_locked_as_an_archive_is_installed_as_a_wheel() -> None:
    # `six @ URL` as uv (version given) and pip (none) lock it.
    archive = f'archive = {{ url = "{SIX_URL}", hashes = {{ sha256 = "{"ab" * 32}" }} }}\n'
    assert _read(HEAD + '[[packages]]\nname = "six"\nversion = "1.17.0"\n' + archive) == [("six", "1.17.0", SIX_URL)]
    assert _read(HEAD + '[[packages]]\nname = "six"\n' + archive) == [("six", "1.17.0", SIX_URL)]
    local = f'[packages.archive]\npath = "dist/six-1.17.0-py2.py3-none-any.whl"\nhashes = {{ sha256 = "{"ab" * 32}" }}\n'
    assert _read(HEAD + '[[packages]]\nname = "six"\n' + local, lock_url="https://site.test/app/pylock.toml") == [
        ("six", "1.17.0", "https://site.test/app/dist/six-1.17.0-py2.py3-none-any.whl")]
    with pytest.raises(LockError, match=r"six's archive \('https://f.test/six-1.17.0.tar.gz'\) is not a wheel"):
        _read(HEAD + '[[packages]]\nname = "six"\n' + archive.replace("-py2.py3-none-any.whl", ".tar.gz"))


@pytest.mark.parametrize(("sources", "named"), [
    ('vcs = { type = "git", url = "https://g.test/six", commit-id = "0123abc" }\n' + SIX_WHEEL, "vcs, wheels"),
    ('directory = { path = "six" }\n' + SIX_WHEEL, "directory, wheels"),
    ('directory = { path = "six" }\nvcs = { type = "git", url = "https://g.test/six", commit-id = "0" }\n', "vcs, directory"),
])
def test_conflicting_sources_are_refused(sources: str, named: str) -> None:
    with pytest.raises(LockError, match=f"six names conflicting sources \\({named}\\)"):
        _read(HEAD + '[[packages]]\nname = "six"\n' + sources)


def test_only_other_sources_are_named_when_refused() -> None:
    with pytest.raises(LockError, match="six has only an sdist in the lock; pyemscripten installs only wheels"):
        _read(HEAD + '[[packages]]\nname = "six"\nsdist = { url = "https://f.test/six-1.17.0.tar.gz", hashes = { sha256 = "ab" } }\n')
    with pytest.raises(LockError, match="six has only vcs in the lock"):
        _read(HEAD + '[[packages]]\nname = "six"\nvcs = { type = "git", url = "https://g.test/six", commit-id = "0" }\n')
    with pytest.raises(LockError, match="six has no wheels in the lock"):
        _read(HEAD + '[[packages]]\nname = "six"\nversion = "1.0"\n')


def test_a_path_is_followed_before_a_url_where_it_can_be() -> None:
    both = (HEAD + '[[packages]]\nname = "six"\nwheels = [{ path = "wheels/six-1.17.0-py2.py3-none-any.whl", '
            f'url = "{SIX_URL}", hashes = {{ sha256 = "{"ab" * 32}" }} }}]\n')
    assert _read(both, lock_url="https://site.test/app/pylock.toml") == [
        ("six", "1.17.0", "https://site.test/app/wheels/six-1.17.0-py2.py3-none-any.whl")]
    assert _read(both) == [("six", "1.17.0", SIX_URL)]  # a lock given as text: the URL


def test_an_empty_environments_list_admits_no_runtime() -> None:
    with pytest.raises(LockError, match="its environments list is empty"):
        _read(HEAD + "environments = []\n" + '[[packages]]\nname = "six"\n' + SIX_WHEEL)


def test_what_is_written_is_a_lock_other_tools_read() -> None:
    # `packages` is required even when empty; every control character is escaped.
    assert tomllib.loads(dump_lock([], T2026))["packages"] == []
    odd = LockedWheel("six", Version("1.17.0"), IndexFile("six-1.17.0-py2.py3-none-any.whl", SIX_URL + "?a=\x7f",
                                                           (("sha256", "ab" * 32),), requires_python=">=3.8,\r<4"))
    data = tomllib.loads(dump_lock([odd], T2026))
    assert data["packages"][0]["requires-python"] == ">=3.8,\r<4"
    assert data["packages"][0]["wheels"][0]["url"] == SIX_URL + "?a=\x7f"


def test_extras_and_groups_of_a_lock_are_chosen_by_the_installer() -> None:
    # PEP 751: an installer lets its user pick the lock's extras and dependency groups;
    # by default no extra and the lock's default-groups.
    text = ('lock-version = "1.0"\ncreated-by = "uv"\nextras = ["cli", "Fast_Mode"]\n'
            'dependency-groups = ["dev", "web"]\ndefault-groups = ["web"]\n'
            + package("clitool", "1.0", "marker = \"'cli' in extras\"")
            + package("speedup", "1.0", "marker = \"'fast-mode' in extras\"")
            + package("devtool", "1.0", "marker = \"'dev' in dependency_groups\"")
            + package("webtool", "1.0", "marker = \"'web' in dependency_groups\"")
            + package("rich", "15.0.0"))

    def names(**kwargs: object) -> list[str]:
        return [w.name for w in load_lock(text, T2026, **kwargs)]  # type: ignore[arg-type]

    assert names() == ["webtool", "rich"]
    assert names(extras=["cli", "fast_mode"]) == ["clitool", "speedup", "webtool", "rich"]
    assert names(groups=["dev"]) == ["devtool", "rich"]
    assert names(extras=["cli"], groups=[]) == ["clitool", "rich"]
    with pytest.raises(LockError, match=r"it declares no extras gui \(its extras: cli, fast-mode\)"):
        names(extras=["gui"])
    with pytest.raises(LockError, match=r"it declares no dependency-groups test \(its dependency-groups: dev, web\)"):
        names(groups=["test"])


# --- round trips, generated: what dump_lock writes, load_lock reads back ---------------------

# Project names in any PEP 503 spelling: case, and runs of "-", "_", "." between the parts.
_PARTS = st.lists(st.from_regex(r"[a-z0-9]{1,4}", fullmatch=True), min_size=1, max_size=3)
_SEPARATORS = st.sampled_from(["-", "_", ".", "--", "_.", "-_-"])
# Versions with every part PEP 440 has: epoch, pre, post, dev and local.
_VERSIONS = st.builds(
    lambda epoch, release, pre, post, dev, local: Version(
        f"{epoch}{'.'.join(map(str, release))}{pre}{post}{dev}{local}"),
    st.sampled_from(["", "1!", "0!"]), st.lists(st.integers(0, 20), min_size=1, max_size=3),
    st.sampled_from(["", "a1", "b0", "rc2"]), st.sampled_from(["", ".post1"]), st.sampled_from(["", ".dev0"]),
    st.sampled_from(["", "+local", "+ubuntu.1_2", "+AbC.7"]))
_TAGS = st.sampled_from(["py3-none-any", "py2.py3-none-any", "cp314-cp314-pyemscripten_2026_0_wasm32",
                         "1-py3-none-any", "2b-cp314-abi3-pyemscripten_2026_0_wasm32"])
# Characters a URL's path or TOML must quote or escape: as they stand in a resolution's URL
# (never "#", "?", tab or newline: urljoin takes those out or reads them as the URL's
# fragment or query), and quoted in it.
_RAW = "ab %&=+~'\"é日\x7f\x01;:@!$"
_ODD = st.one_of(st.text(alphabet=_RAW, min_size=1, max_size=6),
                 st.text(alphabet=_RAW + "#?\\\t\n%/", min_size=1, max_size=6).map(lambda t: quote(t, safe="")))
_BASES = ["https://files.test/", "https://alice:s3cr%40t@files.test/wheels/", "http://127.0.0.1:8000/lock/",
          "http://user@127.0.0.1:8000/lock/"]
_HASH_NAMES = st.one_of(st.sampled_from(["md5", "sha384", "sha512", "blake2b", "sha3.256", "sha-1", ""]),
                        st.text(alphabet="ab.\" =}{[]\n\\", max_size=5))
_UPLOAD_TIMES = st.one_of(st.none(), st.sampled_from([
    "2024-01-02T03:04:05Z", "2024-01-02T03:04:05.678901234Z", "2024-01-02T03:04:05+00:00",
    "2024-01-02T03:04:05-00:00", "2024-02-29T00:00:00Z", "2023-02-29T00:00:00Z", "2024-13-01T00:00:00Z",
    "2024-01-01T24:00:00Z", "2024-01-01T23:59:60Z", "2024-01-01T00:60:00Z", "2024-04-31T00:00:00Z",
    "2024-01-00T00:00:00Z", "2024-01-02 03:04:05Z", "2024-01-02T03:04:05+02:00", "yesterday"]))
_REQUIRES_PYTHON = st.sampled_from([None, "", ">=3.8", ">=3.10,<4", "!=3.13.*", ">= 3.14.0rc1", "<4, >3.0"])


@st.composite
def _locked(draw: st.DrawFn, index: int) -> tuple[LockedWheel, str]:
    """A wheel as a resolution hands it to dump_lock, and the URL it was found at (credentials and all)."""
    parts = draw(_PARTS) + [str(index)]  # a distinct project each
    spelled = parts[0]
    for part in parts[1:]:
        spelled += draw(_SEPARATORS) + part
    spelled = "".join(c.upper() if draw(st.booleans()) else c for c in spelled)
    version = draw(_VERSIONS)
    build_and_tags = draw(_TAGS)
    dist = re.sub(r"[-_.]+", "_", spelled)
    filename = f"{dist}-{version}-{build_and_tags}.whl"
    folders = draw(st.lists(_ODD, max_size=2))
    url = draw(st.sampled_from(_BASES)) + "/".join([*folders, quote(filename) if draw(st.booleans()) else filename])
    if draw(st.booleans()):  # a query (a resolution's URLs have no fragment: the hash is taken out of it)
        url += draw(st.sampled_from(["?token=1", "?a=%20b&c=d"]))
    hashes = {"sha256": draw(st.from_regex(r"[0-9a-f]{64}", fullmatch=True))}
    for name in draw(st.lists(_HASH_NAMES, max_size=3)):
        hashes.setdefault(name, draw(st.text(max_size=8)))
    file = IndexFile(filename, url, tuple(hashes.items()), requires_python=draw(_REQUIRES_PYTHON),
                     size=draw(st.none() | st.integers(0, 2**40)), upload_time=draw(_UPLOAD_TIMES))
    return LockedWheel(spelled, version, file), url


def _resolutions() -> st.SearchStrategy[list[tuple[LockedWheel, str]]]:
    return st.integers(0, 4).flatmap(lambda n: st.tuples(*(_locked(i) for i in range(n))).map(list))


_VALID_UPLOAD_TIMES = {"2024-01-02T03:04:05Z", "2024-01-02T03:04:05.678901234Z", "2024-01-02T03:04:05+00:00",
                       "2024-01-02T03:04:05-00:00", "2024-02-29T00:00:00Z"}


def _one(url: str, upload_time: str | None = None) -> list[tuple[LockedWheel, str]]:
    filename = unquote(url.rsplit("/", 1)[-1])
    return [(LockedWheel("a", Version("1.0"), IndexFile(filename, url, (("sha256", "ab" * 32),), upload_time=upload_time)),
             url)]


@settings(max_examples=60, deadline=None)
@given(_resolutions(), st.sampled_from([None, *_BASES]))
# Digits that name no moment were written as an upload-time: tomllib refused the whole lock.
@example(_one("https://files.test/a-1.0-py3-none-any.whl", "2023-02-29T00:00:00Z"), None)
@example(_one("https://files.test/a-1.0-py3-none-any.whl", "2024-01-01T23:59:60Z"), None)
# "%5C" (a backslash in a folder's name) was written as a path's "\\", read back as a
# separator: another file, or an absolute path refused; "C:/" was read back as a drive.
@example(_one("http://127.0.0.1:8000/lock/x%5Cy/a-1.0-py3-none-any.whl"), "http://127.0.0.1:8000/lock/")
@example(_one("http://127.0.0.1:8000/lock/%5C/a-1.0-py3-none-any.whl"), "http://127.0.0.1:8000/lock/")
@example(_one("http://127.0.0.1:8000/lock/C:/a-1.0-py3-none-any.whl"), "http://127.0.0.1:8000/lock/")
# "%2F" (a slash in a folder's name) was written as a path's "/", a separator read back:
# ":%2F" became "://", read back as the folder ":" and an empty one.
@example(_one("https://files.test/%3A%2F/a-1.0-py3-none-any.whl"), "https://files.test/")
@example(_one("https://files.test/x%2Fy/a-1.0-py3-none-any.whl"), "https://files.test/")
def test_a_written_lock_reads_back_as_written(resolution: list[tuple[LockedWheel, str]], relative_to: str | None) -> None:
    """Any resolution: the text is TOML, holds no credentials, and reads back to the same
    packages (names normalized), versions, files, sizes and hashes, each wheel's URL the
    same file's (a path below ``relative_to`` found again beside the lock, wherever it is
    served from)."""
    wheels = [w for w, _ in resolution]
    text = dump_lock(wheels, T2026, relative_to=relative_to)
    assert "alice" not in text and "s3cr" not in text and "user@" not in text
    data = tomllib.loads(text)
    written = {p["name"]: p for p in data["packages"]}
    served = "https://elsewhere.test/app/"
    got = {w.name: w for w in load_lock(text, T2026, lock_url=served + "pylock.toml" if relative_to else None)}
    assert sorted(got) == sorted(canonicalize_name(w.name) for w in wheels)
    for wheel, url in resolution:
        file, back = wheel.file, got[canonicalize_name(wheel.name)]
        assert (back.version, back.file.filename, back.file.size) == (wheel.version, file.filename, file.size)
        assert back.file.hashes == tuple(sorted((k.lower(), v.lower()) for k, v in dict(file.hashes).items()))
        place = path_in_lock(wheel, relative_to)
        if place is None:
            assert back.file.url == strip_credentials(url)
        else:  # the same path below the folder the lock is served from, quoted or not
            assert unquote(back.file.url) == unquote(served + strip_credentials(url)[len(relative_to or ""):])
        entry = written[wheel.name]
        assert entry.get("requires-python") == (file.requires_python or None)
        upload = entry["wheels"][0].get("upload-time")
        assert (upload is not None) == (file.upload_time in _VALID_UPLOAD_TIMES)
