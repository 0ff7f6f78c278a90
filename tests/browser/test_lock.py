"""PEP 751 lock files in the browser: made natively, installed with no resolution, frozen."""

from __future__ import annotations

import hashlib
import tomllib

from tests.browser.test_web_app import native_lock
from tests.support.page_state import PAGE_HELPERS
from tests.support.wheels import make_wheel


def locked(text: str) -> dict[str, tuple[str, str, str]]:
    """``{name: (version, url, sha256)}`` of a lock's packages."""
    return {p["name"]: (p["version"], p["wheels"][0]["url"], p["wheels"][0]["hashes"]["sha256"])
            for p in tomllib.loads(text).get("packages", [])}


def test_native_lock_installs_without_resolution_and_freeze_round_trips(pyodide_factory, index_server,
                                                                        tmp_path) -> None:
    lock = native_lock(index_server.index_url, "rich", "charset-normalizer", out=tmp_path / "pylock.toml")
    index_server.mount("/locks/round-trip/", {"pylock.toml": lock.encode()})
    index_server.reset_counts()
    first = pyodide_factory()
    out = first.run("""
import pyemscripten
report = await pyemscripten.install_lock(url)
import rich, charset_normalizer
from rich.text import Text
[sorted(n for n, v in report.installed), Text("ok").plain, pyemscripten.freeze()]
""", url=f"{index_server.url}/locks/round-trip/pylock.toml")
    installed, text, frozen = out
    assert installed == sorted(locked(lock)) and text == "ok"
    # No resolution: no index page and no metadata file was fetched, each wheel once.
    assert index_server.count(regex=r"/simple/") == 0 and index_server.count(suffix=".metadata") == 0
    assert index_server.count(regex=r"^/files/.*\.whl$") == len(locked(lock))
    # freeze() names exactly what the lock installed (the harness's own bootstrap wheels,
    # unpacked without pyemscripten, are listed in a comment as of unknown origin).
    assert locked(frozen) == locked(lock)
    # What the installer runs on is left out, said in a comment (as pip freeze leaves out pip).
    (own,) = [line for line in frozen.splitlines() if line.startswith("# Not locked (what pyemscripten itself runs on")]
    assert "pyemscripten==" in own and "packaging==" in own

    second = pyodide_factory()
    again = second.run("""
import pyemscripten
report = await pyemscripten.install_lock(frozen)
import rich
[sorted(n for n, v in report.installed), pyemscripten.freeze()]
""", frozen=frozen)
    assert again[0] == installed and locked(again[1]) == locked(lock)
    assert index_server.count(regex=r"/simple/") == 0


def test_tampered_wheel_or_foreign_lock_installs_nothing(pyodide, index_server, tmp_path) -> None:
    index = index_server.index()
    index.add_wheel(make_wheel("alpha", "1.0", {"alpha/__init__.py": b"import beta\n"}, requires=["beta"]))
    beta = make_wheel("beta", "1.0", {"beta/__init__.py": b"VALUE = 1\n"})
    index.add_wheel(beta)
    lock = native_lock(index_server.index_url, "alpha", out=tmp_path / "pylock.toml")
    foreign = native_lock(index_server.index_url, "alpha", out=tmp_path / "pylock.old.toml", extra=(
        "--platform", "pyemscripten_2025_0_wasm32", "--python-version", "3.13"))
    assert set(locked(lock)) == {"alpha", "beta"}

    # Same name, same size, one byte of the first member changed: only the hash can tell.
    tampered = bytearray(beta)
    tampered[60] ^= 0xFF
    index.add_wheel(bytes(tampered), beta.filename)
    pyodide.run(PAGE_HELPERS)
    before = pyodide.run("listing()")
    err = pyodide.run_expect_error("import pyemscripten\nawait pyemscripten.install_lock(lock)", lock=lock)
    assert err["type"] == "HashMismatchError" and beta.filename in err["message"]
    assert pyodide.run("listing()") == before  # not even alpha, whose wheel was fine

    err = pyodide.run_expect_error("import pyemscripten\nawait pyemscripten.install_lock(lock)", lock=foreign)
    assert err["type"] == "LockError"
    assert "it requires Python ==3.13.*, and this runtime (pyemscripten_2026_0_wasm32, Python 3.14" in err["message"]
    assert "(the lock was made for pyemscripten_2025_0_wasm32) does not fit" in err["message"]
    assert pyodide.run("listing()") == before

    index.add_wheel(beta)  # the real bytes again: the same lock now installs
    assert pyodide.run("import pyemscripten\nr = await pyemscripten.install_lock(lock)\nimport alpha, beta\nbeta.VALUE",
                       lock=lock) == 1

    # A wheel locked as pip and uv lock `name @ URL` (an archive, no version), from a file in
    # the page's file system, a newer 1.x lock-version warned of.
    gamma = make_wheel("gamma", "1.0", {"gamma/__init__.py": b"VALUE = 3\n"})
    url = index.file_url(index.add_wheel(gamma))
    archive = (f'lock-version = "1.1"\ncreated-by = "pip"\n[[packages]]\nname = "gamma"\n[packages.archive]\n'
               f'url = "{url}"\nhashes = {{ sha256 = "{hashlib.sha256(gamma).hexdigest()}" }}\n')
    out = pyodide.run("""
import pathlib, pyemscripten
pathlib.Path("/tmp/pylock.toml").write_text(text)
report = await pyemscripten.install_lock(pathlib.Path("/tmp/pylock.toml"))
import gamma
[list(report.installed), list(report.warnings), gamma.VALUE]
""", text=archive)
    assert out == [[["gamma", "1.0"]], ["lock-version 1.1 is newer than this installer reads (1.0): it is read as 1.0"], 3]
