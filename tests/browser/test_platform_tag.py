"""PEP 783 platform tags as each real runtime reports them (Pyodide in Chromium)."""

from __future__ import annotations

import pytest

from tests.support.browser import RUNTIMES

# npm version -> (platform version, Python major.minor); see shared/notes/platform.md.
EXPECTED = {
    "0.27.7": ("2024_0", (3, 12)),
    "0.29.5": ("2025_0", (3, 13)),
    "314.0.7": ("2026_0", (3, 14)),
    "315.0.0-alpha.2": ("2026_5", (3, 15)),
}

PROBE = """
try:
    from pyemscripten import platform_tag
except ImportError:  # until the package root exports it
    from pyemscripten.target import platform_tag
import sys
from pyemscripten.target import compatible_tags_for_runtime

{"tag": str(platform_tag()), "tags": compatible_tags_for_runtime(),
 "python": list(sys.version_info[:2])}
"""


def test_every_runtime_has_an_expectation() -> None:
    assert set(EXPECTED) == set(RUNTIMES)


@pytest.mark.parametrize("version", RUNTIMES)
def test_platform_tag_and_compatible_tags(shared_pyodide, version: str) -> None:
    platform, python = EXPECTED[version]
    result = shared_pyodide(version).run(PROBE)

    assert result["python"] == list(python)
    assert result["tag"] == f"pyemscripten_{platform}_wasm32"

    tags = result["tags"]
    cp = f"cp{python[0]}{python[1]}"
    assert tags[0] == f"{cp}-{cp}-pyemscripten_{platform}_wasm32"
    assert "py3-none-any" in tags
    # One platform version per runtime: its PEP 783 name, the legacy pyodide_ alias, any.
    allowed = {"any", f"pyemscripten_{platform}_wasm32", f"pyodide_{platform}_wasm32"}
    assert {tag.split("-")[2] for tag in tags} <= allowed
