"""The Python half of the JS module, run inside Pyodide by ``js/index.mjs``.

``bootstrap`` installs pyemscripten from the wheels the npm package carries, with
pyemscripten itself: the wheels go on ``sys.path`` first (each unpacked into a folder, so
that the bytecode the pyemscripten wheel brings is used), so the installer validates them
(RECORD hashes, safe paths) and installs them like any other wheel. They get
INSTALLER, RECORD and their origin, so ``list()``, ``uninstall()`` and ``freeze()`` see them.

``WebInstaller`` is what the JS side holds: installs whose progress events are forwarded to
a JS callback as plain objects, and the ``pyemscripten_install`` builtin for Python code in
the page, with the indexes the page was loaded with as its default.

This file is not part of the Python package; ``scripts/build_js.py`` puts its text in
``wheels/manifest.mjs`` (``bootstrapSource``), which ``index.mjs`` imports.
"""

from __future__ import annotations

import builtins
import hashlib
import importlib
import importlib.util
import io
import shutil
import sys
import zipfile
from collections.abc import Callable, Mapping, Sequence
from typing import Any

OWN_PROJECTS = ("pyemscripten", "packaging", "resolvelib")


class BootstrapError(Exception):
    """A wheel of the npm package is not what its manifest says."""


def bootstrap(wheels: Sequence[Mapping[str, Any]]) -> str:
    """Install the npm package's wheels; return pyemscripten's version.

    ``wheels``: ``{"file", "url", "sha256", "path"}`` each, ``path`` in the page's file
    system. Does nothing when pyemscripten is importable already. Raises
    :class:`BootstrapError` for a wheel whose sha256 differs from the manifest.
    """
    if importlib.util.find_spec("pyemscripten") is None:
        bodies = [_verified(w) for w in wheels]
        # Each wheel unpacked into a folder of its own (a zip on sys.path would do, but
        # zipimport does not read __pycache__: the bytecode the pyemscripten wheel brings
        # would go unused, and its modules be compiled twice).
        paths = [_unpacked(w["path"], body) for w, body in zip(wheels, bodies)]
        sys.path[:0] = paths
        try:
            _install_with_ourselves(wheels, bodies)
        finally:
            _forget(paths)
            for path in paths:
                shutil.rmtree(path, ignore_errors=True)
    import pyemscripten

    return pyemscripten.__version__


def _verified(wheel: Mapping[str, Any]) -> bytes:
    with open(wheel["path"], "rb") as file:
        body = file.read()
    digest = hashlib.sha256(body).hexdigest()
    if digest != wheel["sha256"]:
        raise BootstrapError(f"{wheel['file']} from {wheel['url']} has sha256 {digest}, "
                             f"the manifest says {wheel['sha256']}")
    return body


def _unpacked(path: str, body: bytes) -> str:
    """The verified wheel ``body`` unpacked beside ``path`` (into ``<path>.d``), for import only."""
    folder = path + ".d"
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        for name in archive.namelist():  # the installer checks every path when it installs; here too
            if name.startswith("/") or ".." in name.split("/"):
                raise BootstrapError(f"{path} has an unsafe member {name!r}")
        archive.extractall(folder)
    return folder


def _install_with_ourselves(wheels: Sequence[Mapping[str, Any]], bodies: Sequence[bytes]) -> None:
    from pyemscripten import installation  # not pyemscripten.api: all of it would be imported twice
    from pyemscripten.index_pages import IndexFile
    from pyemscripten.installation import with_origin
    from pyemscripten.wheels import open_wheel

    unpacked = [
        with_origin(open_wheel(w["file"], body),
                    IndexFile(w["file"], w["url"], (("sha256", w["sha256"]),), size=len(body)))
        for w, body in zip(wheels, bodies)
    ]
    installation.install(unpacked, installation.default_scheme(), requested={"pyemscripten"}).finish()
    from pyemscripten.browser import tell_package_loader

    # pyodide.loadPackage("packaging") then installs no other copy over what pyemscripten runs on.
    tell_package_loader({wheel.name: (wheel.display_name, w["url"]) for wheel, w in zip(unpacked, wheels)})


def _forget(paths: Sequence[str]) -> None:
    """Drop the unpacked wheels from the import system: later imports use site-packages."""
    for path in paths:
        sys.path.remove(path)
        sys.path_importer_cache.pop(path, None)
    for name in list(sys.modules):
        if name.partition(".")[0] in OWN_PROJECTS:
            del sys.modules[name]
    importlib.invalidate_caches()


def _py(value: Any) -> Any:
    """A JS value passed in from JS, as Python (arrays become lists)."""
    return value.to_py() if hasattr(value, "to_py") else value


def _to_js(value: Any) -> Any:
    from js import Object
    from pyodide.ffi import to_js

    return to_js(value, dict_converter=Object.fromEntries)


def _urls(value: Any) -> list[str] | None:
    """Index URLs from JavaScript: an array, or one URL as a string (not its characters)."""
    value = _py(value)
    if isinstance(value, str):
        return [value] if value else None
    return list(value or []) or None


def _details(exc: BaseException) -> dict[str, Any]:
    """The facts a pyemscripten error keeps (its dataclass fields: ``project``, ``url``,
    ``offered_tags`` ...) that are text, numbers or lists of text, for JavaScript; URLs
    redacted as its message redacts them."""
    from dataclasses import fields, is_dataclass

    from pyemscripten.errors import redact_text

    details: dict[str, Any] = {}
    for f in fields(exc) if is_dataclass(exc) else ():
        value = getattr(exc, f.name, None)
        if isinstance(value, str):
            details[f.name] = redact_text(value)
        elif value is None or isinstance(value, (bool, int, float)):
            details[f.name] = value
        elif isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
            details[f.name] = [redact_text(v) for v in value]
        elif isinstance(value, (list, tuple)) and all(isinstance(v, BaseException) for v in value):
            # the errors an error gathers (MultipleNoCompatibleWheelsError.errors): each as JS has one
            details[f.name] = [{"type": type(v).__name__, "message": redact_text(str(v)), "details": _details(v)}
                               for v in value]
    return details


class WebInstaller:
    """Installs for the JS module, forwarding progress events to JS callbacks."""

    def __init__(self, index_urls: Any = None, on_progress: Any = None) -> None:
        self.index_urls = _urls(index_urls)
        self.on_progress = on_progress

    @staticmethod
    def _forwarder(callback: Any) -> Callable[[dict[str, Any]], None] | None:
        """A JS ``onProgress`` callback as a progress listener (None for none)."""
        if callback is None:
            return None

        def forward(event: dict[str, Any]) -> None:
            # The page's callback is for showing progress: if it throws, the install goes on
            # (an install that worked is not reported as failed); the error goes to the console.
            try:
                callback(_to_js(event))
            except Exception as exc:  # noqa: BLE001 - a JavaScript error, or Python's from a Python callback
                from js import console

                console.error(f"pyemscripten: the onProgress callback threw: {exc}")
        return forward

    async def install(self, requirements: Any = None, index_urls: Any = None, lockfile: Any = None,
                      on_progress: Any = None, lock_extras: Any = None, lock_groups: Any = None) -> Any:
        """Install a lock file (first), then requirements, in one install turn (no other
        install of the page runs between the two); a JS object says how it went.
        The two are two transactions: when the requirements fail, what the lock installed stays.

        ``{ok: true, installed: [{name, version}], already: [...], message}``, or for an
        error ``{ok: false, type, message, details}``: a pyemscripten error's facts, or for
        another exception (a bug) its traceback as ``details.traceback``. A cancellation
        propagates. Progress goes to this call's ``on_progress`` only (not the bootstrap's).
        """
        import pyemscripten
        from pyemscripten.api import install_turn
        from pyemscripten.errors import PyemscriptenError

        forward = self._forwarder(on_progress)
        told_error = []  # whether an "error" event went out (an install's own failure sends one)

        def listener(event: dict[str, Any]) -> None:
            if event.get("stage") == "error":
                told_error.append(True)
            if forward is not None:
                forward(event)

        indexes = _urls(index_urls) or self.index_urls
        quiet = forward is not None  # the page's listener hears the events: no printed lines
        reports = []
        try:
            # One turn for both: taken by each install, an install the page started while the
            # lock's ran went between the two, and the requirements were resolved against it.
            async with install_turn(quiet=quiet, on_progress=listener):
                if lockfile:
                    groups = _py(lock_groups)
                    reports.append(await pyemscripten.install_lock(
                        str(lockfile), extras=list(_py(lock_extras) or ()),
                        groups=list(groups) if groups is not None else None,
                        quiet=quiet, on_progress=listener))
                wanted = _py(requirements)
                if wanted:
                    reports.append(await pyemscripten.install([wanted] if isinstance(wanted, str) else list(wanted),
                                                              indexes, quiet=quiet, on_progress=listener))
        except PyemscriptenError as exc:
            return _to_js({"ok": False, "type": type(exc).__name__, "message": str(exc), "details": _details(exc)})
        except Exception as exc:  # noqa: BLE001 - a bug of ours: said as one error, not a bare PythonError
            import traceback

            from pyemscripten.errors import redact_text

            message = redact_text(f"pyemscripten failed ({type(exc).__name__}: {exc}); please report it with "
                                  "details.traceback")
            if forward is not None and not told_error:  # it failed before an install could say so
                forward({"stage": "error", "message": message})
            return _to_js({"ok": False, "type": type(exc).__name__, "message": message,
                           "details": {"traceback": redact_text("".join(traceback.format_exception(exc)))}})
        return _to_js({
            "ok": True,
            "installed": [{"name": n, "version": v} for r in reports for n, v in r.installed],
            "already": [{"name": n, "version": v} for r in reports for n, v in r.already],
            "message": "; ".join(str(r) for r in reports),
        })

    async def pyemscripten_install(self, requirements: str | Sequence[str], index_urls: Sequence[str] | str | None = None,
                                   **options: Any) -> Any:
        """``await pyemscripten_install("pkg")`` in the page's Python: pyemscripten.install
        with the page's indexes and its progress callback as defaults."""
        import pyemscripten

        forward = self._forwarder(self.on_progress)
        mine = options.pop("on_progress", None)
        if mine is not None and not callable(mine):
            # Refused at once, as pyemscripten.install refuses it (wrapped in ``both`` below, it
            # failed the install at its first event, with "'int' object is not callable"); the
            # page's callback hears how the call ended, as for any failure.
            refused = TypeError(f"pyemscripten_install(): on_progress must be a function that takes an event "
                                f"dict, not {type(mine).__name__}")
            if forward is not None:
                forward({"stage": "error", "message": str(refused)})
            raise refused

        def both(event: dict[str, Any]) -> None:
            if forward is not None:
                forward(event)
            if mine is not None:
                mine(event)

        return await pyemscripten.install(requirements, index_urls if index_urls is not None else self.index_urls,
                                          on_progress=both, **options)

    def expose(self) -> None:
        """``pyemscripten_install`` for every module of the page: a builtin."""
        builtins.pyemscripten_install = self.pyemscripten_install  # type: ignore[attr-defined]
