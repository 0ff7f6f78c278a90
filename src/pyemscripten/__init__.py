"""pyemscripten: install Python packages into a Pyodide runtime, by PEP 783 platform tag.

In a notebook::

    await pyemscripten_install("pydantic")

or, with options::

    import pyemscripten
    await pyemscripten.install(["rich", "requests"], index_urls=["https://pypi.org/simple/"])
"""

from __future__ import annotations

from typing import Any

from .errors import PyemscriptenError
from .target import PlatformTag, Target, compatible_tags_for_runtime, platform_tag

__version__ = "0.1.0"

# Public names served lazily from their modules, so `import pyemscripten` stays cheap and
# no module-level name shadows a builtin: `pyemscripten.list()` is list_installed.
_LAZY = {
    "install": ("api", "install"),
    "pyemscripten_install": ("api", "install"),
    "install_lock": ("api", "install_lock"),
    "freeze": ("api", "freeze"),
    "list_installed": ("api", "list_installed"),
    "list": ("api", "list_installed"),
    "uninstall": ("api", "uninstall"),
    "clear_cache": ("api", "clear_cache"),
    "wait_for_cache": ("api", "wait_for_cache"),
    "InstallReport": ("api", "InstallReport"),
    "Session": ("api", "Session"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module, attribute = _LAZY[name]
        return getattr(importlib.import_module(f".{module}", __name__), attribute)
    raise AttributeError(f"module 'pyemscripten' has no attribute {name!r}")


__all__ = [
    "PlatformTag",
    "PyemscriptenError",
    "Target",
    "clear_cache",
    "compatible_tags_for_runtime",
    "freeze",
    "install",
    "install_lock",
    "list_installed",
    "platform_tag",
    "pyemscripten_install",
    "uninstall",
    "wait_for_cache",
]
