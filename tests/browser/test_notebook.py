"""Notebook use: top-level ``await pyemscripten_install(...)``, its text, list and uninstall."""

from __future__ import annotations

import pytest

from tests.support.browser import RUNTIMES

NOTEBOOK_CELL = """
import contextlib, io
from pyemscripten import pyemscripten_install
cell_output = io.StringIO()
with contextlib.redirect_stdout(cell_output):
    report = await pyemscripten_install(requirements, index_urls=[url])
[cell_output.getvalue(), repr(report)]
"""


# Real wheels (jiter's shared library among them) on every runtime of the 2026_0 line.
@pytest.mark.parametrize("pyodide", [v for v in RUNTIMES if v.startswith("314.")], indirect=True)
def test_install_prints_concise_progress_then_list_and_uninstall(pyodide, index_server) -> None:
    text, shown = pyodide.run(NOTEBOOK_CELL, requirements=["rich", "jiter"], url=index_server.index_url)
    lines = text.splitlines()
    packages = ["jiter", "markdown-it-py", "mdurl", "pygments", "rich"]
    assert lines[0] == "Resolving rich, jiter"
    assert lines[1].startswith("Resolved: ") and all(f"{p}==" in lines[1] for p in packages) and "MB of wheels)" in lines[1]
    fetched = sorted(line.split()[1] for line in lines if line.startswith("  fetched "))
    assert fetched == packages  # one line per wheel, not per chunk
    assert lines[-3:-1] == ["Installing 5 packages", "Loading 1 shared library"]
    assert lines[-1].startswith("Installed ") and all(f"{p}-" in lines[-1] for p in packages)
    # The printed text ends with what was installed; the cell's value is a short summary.
    assert len(lines) == 2 + len(packages) + 3 and shown == f"<InstallReport installed={len(packages)} already=0>"

    text, shown = pyodide.run(NOTEBOOK_CELL, requirements="rich", url=index_server.index_url)
    assert text.splitlines()[-1] == "Installed nothing new (4 already satisfied)"
    assert shown == "<InstallReport installed=0 already=4>"

    listed = pyodide.run("import pyemscripten\npyemscripten.list()")
    assert listed["rich"] == "15.0.0" and listed["jiter"] == "0.19.0"
    out = pyodide.run("""
import importlib, os, site, sys
removed = pyemscripten.uninstall(["rich", "jiter"])
for name in [m for m in sys.modules if m.partition(".")[0] in ("rich", "jiter")]:
    del sys.modules[name]
try:
    import rich
    importable = True
except ImportError:
    importable = False
root = site.getsitepackages()[0]
left = [d for d in os.listdir(root) if d.startswith(("rich", "jiter"))]
[removed, importable, left, pyemscripten.list()]
""")
    removed, importable, left, listed = out
    assert removed == ["rich", "jiter"] and not importable and left == []
    assert "rich" not in listed and "jiter" not in listed and listed["pygments"] == "2.21.0"

    err = pyodide.run_expect_error("pyemscripten.uninstall('rich')")
    assert err["type"] == "NotInstalledError" and "rich" in err["message"]
    text, shown = pyodide.run(NOTEBOOK_CELL, requirements="rich", url=index_server.index_url)
    assert shown == "<InstallReport installed=1 already=3>" and "Installed rich-15.0.0 (3 already satisfied)" in text
    assert pyodide.run("import rich; rich.__name__") == "rich"


MICROPIP_RECIPE = """
import json, pyodide_js
await pyodide_js.loadPackage(micropip_wheel)   # a notebook has micropip from its runtime already
import micropip
from pyodide.http import pyfetch
manifest = await (await pyfetch(base + "manifest.json")).json()
files = [wheel["file"] for wheel in manifest["wheels"]]
await micropip.install([base + name for name in files])
from pyemscripten import pyemscripten_install
report = await pyemscripten_install("attrs", index_urls=[url])
import attrs, packaging, pyemscripten
[files, repr(report), attrs.__name__, packaging.__version__, sorted(pyemscripten.list())]
"""


def test_readme_recipe_installs_pyemscripten_with_micropip_in_a_plain_pyodide(
        pyodide_factory, index_server, npm_package) -> None:
    """README, "Using it from Python": a Pyodide the npm package did not start gets
    pyemscripten from the package's three wheels with the runtime's micropip."""
    plain = pyodide_factory(bootstrap=False)
    assert plain.run("import importlib.util; importlib.util.find_spec('pyemscripten') is None")
    base = npm_package.rsplit("/", 1)[0] + "/wheels/"
    files, shown, name, packaging_version, listed = plain.run(
        MICROPIP_RECIPE, base=base, url=index_server.index_url,
        micropip_wheel=index_server.default.file_url("micropip-0.11.1-py3-none-any.whl"))
    assert sorted(f.split("-")[0] for f in files) == ["packaging", "pyemscripten", "resolvelib"]
    assert shown == "<InstallReport installed=1 already=0>" and name == "attrs"
    assert packaging_version == files[[f.split("-")[0] for f in files].index("packaging")].split("-")[1]
    assert "attrs" in listed
