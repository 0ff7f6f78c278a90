"""pylock.toml round trip, target checks, and hostile lock files."""

from __future__ import annotations

import tomllib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.version import Version

from pyemscripten.errors import LockError, PyemscriptenError
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
    # "--python-version 3.14" means any 3.14: the lock must not claim a patch level (3.14.0)
    # nobody asked for. Markers still see a full version to compare against.
    target = Target.for_platform("pyemscripten_2026_0_wasm32", asked)
    data = tomllib.loads(dump_lock([wheel("rich", "15.0.0", "py3-none-any")], target))
    assert data["tool"]["pyemscripten"]["python-version"] == asked
    assert data["requires-python"] == "==3.14.*"
    assert target.marker_environment["python_full_version"] == ("3.14.0" if asked == "3.14" else asked)


def test_lock_for_another_platform_is_refused() -> None:
    text = dump_lock([wheel("jiter", "0.19.0", "cp314-cp314-pyemscripten_2026_0_wasm32")], T2026)
    with pytest.raises(LockError) as info:
        load_lock(text, T2025, source="pylock.toml")
    assert "pyemscripten_2026_0_wasm32" in str(info.value) and "pyemscripten_2025_0_wasm32" in str(info.value)
    without_tool = text.split("[tool.pyemscripten]")[0]
    with pytest.raises(LockError) as info:
        load_lock(without_tool, T2025)
    assert "jiter" in str(info.value) and "cp314-cp314-pyemscripten_2026_0_wasm32" in str(info.value)


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


@pytest.mark.parametrize("text,reason", [
    ("lock-version = ", "not valid TOML"),
    ('lock-version = "2.0"', "not supported"),
    ("packages = []", "lock-version"),
    ('lock-version = "1.0"\n[[packages]]\nname = "a"\nversion = "1"\n[[packages.wheels]]\nurl = "a-1-py3-none-any.whl"\n', "hashes"),
    ('lock-version = "1.0"\n[[packages]]\nname = "a"\nversion = "1"\n', "no wheels"),
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
