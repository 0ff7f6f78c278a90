"""The vertical slice in real Chromium: resolve, fetch, verify, install real wheels."""

from __future__ import annotations

from tests.support.page_state import PAGE_HELPERS
from tests.support.wheels import make_wheel


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
    # PEP 658 metadata files were used: no wheel was fetched twice, none before resolution ended.
    assert index_server.count(suffix=".metadata") >= 10
    assert index_server.count(regex=r"pydantic_core-.*\.whl$") == 1


def test_notebook_spelling_and_already_installed(pyodide, index_server) -> None:
    out = pyodide.run(
        """
from pyemscripten import pyemscripten_install
first = await pyemscripten_install("attrs", index_urls=[url])
second = await pyemscripten_install("attrs", index_urls=[url])
import attrs
[str(first), str(second), attrs.__name__]
""",
        url=index_server.index_url,
    )
    assert out[0].startswith("Installed attrs-") and "already satisfied" in out[1]


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


def test_unsafe_wheel_installs_nothing(pyodide, index_server) -> None:
    index_server.index().add_wheel(make_wheel("escaper", "1.0", {"escaper/__init__.py": b"", "../../evil.py": b"x"}))
    pyodide.run(PAGE_HELPERS)
    before = pyodide.run("listing()")
    err = pyodide.run_expect_error(
        "import pyemscripten\nawait pyemscripten.install('escaper', index_urls=[url])", url=index_server.index_url)
    assert err["type"] == "UnsafePathError" and "escaper-1.0-py3-none-any.whl" in err["message"]
    assert pyodide.run("listing()") == before
    assert pyodide.run("import os; os.path.exists('/lib/evil.py') or os.path.exists('/evil.py')") is False
