"""Issue 4 in real Chromium: the resolver's behaviour through ``pyemscripten.install``."""

from __future__ import annotations

import pytest

from tests.support.browser import RUNTIMES
from tests.support.wheels import make_wheel


def pkg(name: str, version: str, **kwargs) -> bytes:
    module = name.replace("-", "_")
    return make_wheel(name, version, {f"{module}/__init__.py": f"VERSION = {version!r}\n"}, **kwargs)


def test_backtracking_and_options(pyodide, index_server) -> None:
    idx = index_server.add_index("r4")
    for wheel in [
        pkg("app", "2.0", requires=["lib==2.0"]), pkg("app", "1.0", requires=["lib>=1.0"]),
        pkg("lib", "2.0"), pkg("lib", "1.5"), pkg("lib", "1.0"),
        pkg("beta", "2.0b1"), pkg("beta", "1.0"),
        pkg("needs-old", "1.0", requires=["oldabi-a", "oldabi-b"]),
        pkg("oldabi-a", "1.0", tag="cp312-cp312-pyemscripten_2024_0_wasm32"),
        pkg("oldabi-b", "1.0", tag="cp314-cp314-manylinux_2_17_x86_64"),
    ]:
        idx.add_wheel(wheel)
    out = pyodide.run(
        """
import pyemscripten
def plan(report):
    return {p["name"]: p["version"] for p in report.plan}
r = {}
r["backtrack"] = plan(await pyemscripten.install(["app", "lib<2"], index_urls=[url], dry_run=True, quiet=True))
r["constraint"] = plan(await pyemscripten.install("app", index_urls=[url], constraints=["lib<1.5"], dry_run=True, quiet=True))
r["stable"] = plan(await pyemscripten.install("beta", index_urls=[url], dry_run=True, quiet=True))
r["pre"] = plan(await pyemscripten.install("beta", index_urls=[url], pre=True, dry_run=True, quiet=True))
r["nodeps"] = plan(await pyemscripten.install("app", index_urls=[url], deps=False, dry_run=True, quiet=True))
dry = await pyemscripten.install("app", index_urls=[url], dry_run=True, quiet=True)
r["dry_sizes"] = all(p["size"] for p in dry.plan) and all(p["filename"].endswith(".whl") for p in dry.plan)
try:
    import app
    r["dry_installed"] = True
except ImportError:
    r["dry_installed"] = False
try:
    await pyemscripten.install("needs-old", index_urls=[url], keep_going=True, dry_run=True, quiet=True)
except pyemscripten.PyemscriptenError as e:
    r["keep_going"] = [type(e).__name__, [x.project for x in e.errors], str(e)]
r
""",
        url=idx.url,
    )
    # Dry runs resolve only: no wheel body was fetched.
    assert index_server.count(regex=r"/index/r4/files/.*\.whl$") == 0
    out["real"] = pyodide.run(
        """
await pyemscripten.install(["app", "lib<2"], index_urls=[url], quiet=True)
import app, lib
[app.VERSION, lib.VERSION]
""",
        url=idx.url,
    )
    assert out["backtrack"] == {"app": "1.0", "lib": "1.5"}
    assert out["constraint"] == {"app": "2.0", "lib": "2.0"} or out["constraint"] == {"app": "1.0", "lib": "1.0"}
    assert out["constraint"]["lib"] == "1.0"
    assert out["stable"] == {"beta": "1.0"} and out["pre"] == {"beta": "2.0b1"}
    assert out["nodeps"] == {"app": "2.0"}
    assert out["dry_sizes"] and out["dry_installed"] is False
    kind, projects, message = out["keep_going"]
    assert kind == "MultipleNoCompatibleWheelsError" and projects == ["oldabi-a", "oldabi-b"]
    assert "cp312-cp312-pyemscripten_2024_0_wasm32" in message and "manylinux_2_17_x86_64" in message
    assert out["real"] == ["1.0", "1.5"]


def test_markers_extras_requires_python_yanked(pyodide, index_server) -> None:
    idx = index_server.add_index("m4")
    for wheel in [
        pkg("web", "1.0", requires=["winonly; sys_platform == 'win32'", "wasmonly; platform_machine == 'wasm32'",
                                    "newpy; python_version >= '3.14'"], extras={"fast": ["speedups>=2"]}),
        pkg("speedups", "2.0", requires=["speedups-core"]), pkg("speedups-core", "1.0"),
        pkg("wasmonly", "1.0"), pkg("winonly", "1.0"), pkg("newpy", "1.0"),
        pkg("future", "2.0", requires_python=">=3.15"), pkg("future", "1.0"),
    ]:
        idx.add_wheel(wheel)
    idx.add_wheel(pkg("pinned", "2.0"), yanked="broken build")
    idx.add_wheel(pkg("pinned", "1.0"))
    out = pyodide.run(
        """
import pyemscripten
def plan(report):
    return {p["name"]: p["version"] for p in report.plan}
r = {}
r["extras"] = plan(await pyemscripten.install("web[fast]", index_urls=[url], dry_run=True, quiet=True))
r["future"] = plan(await pyemscripten.install("future", index_urls=[url], dry_run=True, quiet=True))
r["yanked_skipped"] = plan(await pyemscripten.install("pinned", index_urls=[url], dry_run=True, quiet=True))
report = await pyemscripten.install("pinned==2.0", index_urls=[url], quiet=True)
r["yanked_pinned"] = [list(report.installed), list(report.warnings)]
r
""",
        url=idx.url,
    )
    assert out["extras"] == {"web": "1.0", "speedups": "2.0", "speedups-core": "1.0", "wasmonly": "1.0", "newpy": "1.0"}
    assert out["future"] == {"future": "1.0"}
    assert out["yanked_skipped"] == {"pinned": "1.0"}
    installed, warnings = out["yanked_pinned"]
    assert installed == [["pinned", "2.0"]] and "broken build" in warnings[0]


def test_several_indexes_first_that_has_it_wins(pyodide, index_server) -> None:
    first, second = index_server.add_index("first"), index_server.add_index("second")
    first.add_wheel(pkg("shared", "1.0", requires=["only2"]))
    second.add_wheel(pkg("shared", "9.0"))
    second.add_wheel(pkg("only2", "1.0"))
    out = pyodide.run(
        """
import pyemscripten
report = await pyemscripten.install("shared", index_urls=[a, b], quiet=True)
import shared, only2
[shared.VERSION, only2.VERSION]
""",
        a=first.url, b=second.url,
    )
    assert out == ["1.0", "1.0"]
    assert index_server.count(regex=r"/index/second/simple/shared/") == 0
    assert index_server.count(regex=r"/index/second/files/shared") == 0


def test_errors_explain(pyodide, index_server) -> None:
    idx = index_server.add_index("e4")
    for wheel in [pkg("top", "1.0", requires=["mid"]), pkg("mid", "1.0", requires=["leaf>=2"]),
                  pkg("leaf", "2.0"), pkg("leaf", "1.0")]:
        idx.add_wheel(wheel)
    conflict = pyodide.run_expect_error(
        "import pyemscripten\nawait pyemscripten.install(['top', 'leaf<2'], index_urls=[url], quiet=True)", url=idx.url)
    assert conflict["type"] == "ResolutionImpossibleError"
    assert "you → top 1.0 → mid 1.0 requires leaf>=2" in conflict["message"]
    assert "you ask for leaf<2" in conflict["message"]

    index_server.add_fault(regex=r"/index/e4/simple/top/$", status=500)
    server_error = pyodide.run_expect_error(
        "import pyemscripten\nawait pyemscripten.install('top', index_urls=[url], quiet=True)", url=idx.url)
    assert server_error["type"] == "IndexHTTPError"
    assert "500" in server_error["message"] and "'top'" in server_error["message"] and "/e4/simple/top/" in server_error["message"]
    index_server.clear_faults()

    index_server.add_fault(regex=r"/index/e4/simple/mid/$", body=b"{not json")
    bad_json = pyodide.run_expect_error(
        "import pyemscripten\nawait pyemscripten.install('top', index_urls=[url], quiet=True)", url=idx.url)
    assert bad_json["type"] == "IndexFormatError"
    assert "'mid'" in bad_json["message"] and "not valid JSON" in bad_json["message"]

    missing = pyodide.run_expect_error(
        "import pyemscripten\nawait pyemscripten.install('nosuchproject', index_urls=[url], quiet=True)", url=idx.url)
    assert missing["type"] == "ProjectNotFoundError" and "nosuchproject" in missing["message"]


def test_installed_packages_count(pyodide, index_server) -> None:
    # packaging and resolvelib were installed into the page at boot (as a runtime preloads).
    index_server.reset_counts()
    out = pyodide.run(
        """
import pyemscripten
report = await pyemscripten.install("packaging", index_urls=[url], quiet=True)
[list(report.installed), list(report.already)]
""",
        url=index_server.index_url,
    )
    assert out[0] == [] and out[1][0][0] == "packaging"
    assert index_server.count(regex=r"packaging-.*\.whl$") == 0
    err = pyodide.run_expect_error(
        "import pyemscripten\nawait pyemscripten.install('packaging<20', index_urls=[url], quiet=True)",
        url=index_server.index_url)
    assert err["type"] == "ResolutionImpossibleError"
    assert "packaging<20" in err["message"] and "is installed" in err["message"]


@pytest.mark.parametrize("pyodide", RUNTIMES, indirect=True)
def test_tasks_start_eagerly_in_the_page(pyodide) -> None:
    # seams.start_task: in every runtime (Python 3.12 to 3.14) a task's first step runs before start_task
    # returns, a failure in it is raised where the task is awaited, and cancelling a task
    # that waits works as for any task.
    out = pyodide.run(
        """
import asyncio
from pyemscripten.seams import start_task
steps = []
async def job(name, fail=False):
    steps.append(name + " starts")
    if fail:
        raise ValueError(name)
    await asyncio.sleep(0.01)
    steps.append(name + " ends")
    return name
first = start_task(job("a"))
steps.append("after start_task")
failed = start_task(job("b", fail=True))
stopped = start_task(job("c"))
stopped.cancel()
r = {"order": list(steps), "failed_done": failed.done(), "result": await first}
try:
    await failed
except ValueError as exc:
    r["raised"] = str(exc)
try:
    await stopped
except asyncio.CancelledError:
    r["cancelled"] = True
r["steps"] = steps
# gather_all: an interrupt in a first step cancels the tasks made before it and closes the
# jobs after it (never started, never left "never awaited").
from pyemscripten.downloads import gather_all
async def interrupted():
    raise KeyboardInterrupt
later = job("e")
try:
    await gather_all([job("d"), interrupted(), later])
except KeyboardInterrupt:
    r["interrupt"] = True
await asyncio.sleep(0.02)
r["after_interrupt"] = [step for step in steps if step[0] in "de"]
r["later_closed"] = later.cr_frame is None
r
""")
    assert out["order"] == ["a starts", "after start_task", "b starts", "c starts"]
    assert out["failed_done"] is True and out["raised"] == "b"
    assert out["result"] == "a" and out["cancelled"] is True
    assert "c ends" not in out["steps"] and "a ends" in out["steps"]
    assert out["interrupt"] is True and out["after_interrupt"] == ["d starts"] and out["later_closed"] is True
