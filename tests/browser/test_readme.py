"""README, "Using it from Python": its sample run as written (the local index for PyPI),
and the event dicts an ``on_progress`` listener hears."""

from __future__ import annotations

README_SAMPLE = """
import contextlib, io
import pyemscripten

printed = io.StringIO()
with contextlib.redirect_stdout(printed):
    report = await pyemscripten.install(
        ["pydantic", "rich>=13", "requests"],
        index_urls=[url],
    )
    print(report)
tag = pyemscripten.platform_tag()
[printed.getvalue().splitlines()[-1], str(tag), type(tag).__name__,
 pyemscripten.compatible_tags_for_runtime()[:3], pyemscripten.list(), pyemscripten.uninstall("rich")]
"""


def test_the_readmes_python_sample_runs_as_written(pyodide, index_server) -> None:
    last, tag, kind, tags, listed, removed = pyodide.run(README_SAMPLE, url=index_server.index_url)
    assert last.startswith("Installed annotated-types-0.8.0, ")  # the comment's first words
    assert (tag, kind) == ("pyemscripten_2026_0_wasm32", "PlatformTag")
    assert len(tags) == 3 and tags[0].endswith("pyemscripten_2026_0_wasm32")
    assert listed["pydantic"] == "2.14.4" and removed == ["rich"]


def test_an_on_progress_listener_hears_event_dicts(pyodide, index_server) -> None:
    events = pyodide.run("""
import pyemscripten
events = []
await pyemscripten.install("attrs", index_urls=[url], quiet=True, on_progress=events.append)
events
""", url=index_server.index_url)
    stages = [e["stage"] for e in events]
    assert stages[0] == "resolving" and stages[-1] == "done" and "downloading" in stages
    assert all(isinstance(e, dict) and set(e) <= {"stage", "package", "done", "total", "message"} for e in events)
    assert events[-1]["message"] == "Installed attrs-26.1.0"
