"""The Python half of the JS module (js/bootstrap.py), natively: what it hands JavaScript
for an error. The browser tier (tests/browser/test_web_app.py) runs it in a page."""

from __future__ import annotations

import asyncio
import functools
import importlib.util
import json
import shutil
import subprocess
from pathlib import Path

import pytest

import pyemscripten
from pyemscripten import api
from pyemscripten.errors import MultipleNoCompatibleWheelsError, NoCompatibleWheelError

from .fake_index import BASE, FakeIndex
from .test_api import real, uncached_session

SPEC = importlib.util.spec_from_file_location("js_bootstrap", Path(__file__).parents[2] / "js" / "bootstrap.py")
assert SPEC is not None and SPEC.loader is not None
bootstrap = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(bootstrap)


def test_an_error_that_gathers_others_gives_each_with_its_facts() -> None:
    def missing(project: str) -> NoCompatibleWheelError:
        return NoCompatibleWheelError(project, ["cp314-cp314-pyemscripten_2026_0_wasm32"],
                                      ["cp314-cp314-manylinux_2_17_x86_64"], "3.14",
                                      url=f"https://user:secret@files.example/{project}.whl")

    error = MultipleNoCompatibleWheelsError([missing("lxml"), missing("psycopg")], note="a note")
    details = bootstrap._details(error)
    assert details["note"] == "a note"
    assert [e["type"] for e in details["errors"]] == ["NoCompatibleWheelError"] * 2
    lxml = details["errors"][0]
    assert lxml["details"]["project"] == "lxml" and lxml["details"]["offered_tags"] == ["cp314-cp314-manylinux_2_17_x86_64"]
    assert "lxml" in lxml["message"]
    assert "secret" not in repr(details)  # URLs redacted as in the messages


def test_a_lock_and_requirements_are_installed_in_one_turn(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # installPackages({lockfile, requirements}): an install the page starts while the lock's
    # runs waits for the requirements too, instead of going between the two.
    index = FakeIndex({"app": {"1.0": real("app", "1.0", ("lib>=1",))}, "lib": {"1.0": real("lib", "1.0")},
                       "other": {"1.0": real("other", "1.0")}})
    session = uncached_session(tmp_path, index)
    asyncio.run(api.install("lib", [BASE], session=session, quiet=True))
    lock = api.freeze(session)
    api.uninstall("lib", session)
    monkeypatch.setattr(pyemscripten, "install", functools.partial(api.install, session=session))
    monkeypatch.setattr(pyemscripten, "install_lock", functools.partial(api.install_lock, session=session))
    monkeypatch.setattr(bootstrap, "_to_js", lambda value: value)  # natively: no JavaScript objects
    events: list[tuple[str, str]] = []

    async def page() -> list[object]:
        web = asyncio.ensure_future(bootstrap.WebInstaller([BASE]).install(
            ["app"], lockfile=lock, on_progress=lambda e: events.append(("web", e["stage"]))))
        await asyncio.sleep(0)  # the lock's install has begun
        other = api.install("other", [BASE], session=session, quiet=True,
                            on_progress=lambda e: events.append(("other", e["message"] or e["stage"])))
        return await asyncio.gather(web, other)

    result, _ = asyncio.run(page())
    assert result["ok"] and [p["name"] for p in result["installed"]] == ["lib", "app"], result  # type: ignore[index]
    last = max(i for i, (who, _) in enumerate(events) if who == "web")
    assert events[last] == ("web", "done")
    assert [what for who, what in events[:last] if who == "other"] == [
        "Waiting for the install under way in this page to end"], events
    assert not api._Turn.under_way()


REFUSED_CALLS = """
import { installPackages, bootstrap, loadPyodideWithPackages } from "./js/index.mjs";
const pyodide = { FS: {}, runPython() {} };  // refused before it is used
const out = [];
for (const call of [
  (onProgress) => installPackages(pyodide, { requirements: 5, onProgress }),
  (onProgress) => installPackages(pyodide, { requirement: "attrs", onProgress }),
  (onProgress) => installPackages(undefined, { requirements: "attrs", onProgress }),
  (onProgress) => bootstrap(pyodide, { indexUrl: "x", onProgress }),
  (onProgress) => loadPyodideWithPackages({ indexURL: 5, onProgress }),
]) {
  const events = [];
  try { await call((event) => events.push(event)); out.push(null); }
  catch (error) { out.push([error.name, error.message, events]); }
}
console.log(JSON.stringify(out));
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node")
def test_the_js_module_tells_a_refused_call_as_one_error_event() -> None:
    # The call's onProgress is known: it hears how the call ended, as for a later failure.
    ran = subprocess.run(["node", "--input-type=module", "-e", REFUSED_CALLS], check=True, capture_output=True,
                         text=True, cwd=Path(__file__).parents[2])
    for name, message, events in json.loads(ran.stdout):
        assert name == "TypeError" and events == [{"stage": "error", "message": message}], (message, events)


def test_the_builtin_refuses_an_on_progress_that_is_no_function_at_once(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    # As pyemscripten.install refuses it: a TypeError naming the argument, before anything
    # starts (wrapped with the page's callback, it failed the install at its first event).
    index = FakeIndex({"app": {"1.0": real("app", "1.0")}})
    session = uncached_session(tmp_path, index)
    monkeypatch.setattr(pyemscripten, "install", functools.partial(api.install, session=session))
    monkeypatch.setattr(bootstrap, "_to_js", lambda value: value)
    page: list[dict] = []
    builtin = bootstrap.WebInstaller([BASE], on_progress=page.append).pyemscripten_install
    with pytest.raises(TypeError) as info:
        asyncio.run(builtin("app", on_progress=5, quiet=True))
    assert str(info.value) == ("pyemscripten_install(): on_progress must be a function that takes an event dict, "
                               "not int")
    assert page == [{"stage": "error", "message": str(info.value)}]  # the page's callback hears how it ended
    assert api.list_installed(session) == {}
