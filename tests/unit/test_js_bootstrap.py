"""The Python half of the JS module (js/bootstrap.py), natively: what it hands JavaScript
for an error. The browser tier (tests/browser/test_web_app.py) runs it in a page."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from pyemscripten.errors import MultipleNoCompatibleWheelsError, NoCompatibleWheelError

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
