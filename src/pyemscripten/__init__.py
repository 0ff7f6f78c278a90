"""pyemscripten: install Python packages into a Pyodide runtime, by PEP 783 platform tag.

In a notebook::

    await pyemscripten_install("pydantic")

or, with options::

    import pyemscripten
    await pyemscripten.install(["rich", "requests"], index_urls=["https://pypi.org/simple/"])
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

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


if TYPE_CHECKING:  # what type checkers and editors see of the lazy names
    from .api import (
        InstallReport,
        Session,
        clear_cache,
        freeze,
        install,
        install_lock,
        list_installed,
        uninstall,
        wait_for_cache,
    )
    from .api import install as pyemscripten_install
    from .api import list_installed as list  # noqa: A004 - pyemscripten.list(), as the module's attribute


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module, attribute = _LAZY[name]
        return getattr(importlib.import_module(f".{module}", __name__), attribute)
    raise AttributeError(f"module 'pyemscripten' has no attribute {name!r}")


def __dir__() -> Iterable[str]:  # the lazy names too (a notebook's completion offers them)
    return sorted({*globals(), *_LAZY})


__all__ = [
    "InstallReport",
    "PlatformTag",
    "PyemscriptenError",
    "Session",
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
