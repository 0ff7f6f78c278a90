"""Runs INSIDE Pyodide (Python 3.12 to 3.15): executes test code and reports back as JSON.

The browser fixtures write this file into the page's file system and import it; nothing on
the host imports it. Test code runs in ``__main__``'s namespace, so state carries over from
one ``run()`` call to the next on the same page.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import linecache
import traceback
from itertools import count
from types import TracebackType

import __main__
from pyodide.code import eval_code_async

_serial = count(1)


def jsonable(value: object, depth: int = 0) -> object:
    """A JSON-able copy of ``value``: tuples/sets become lists (sets sorted), dataclasses
    dicts, enums their value, bytes text (UTF-8, replacing errors); anything else ``repr``."""
    if depth > 50:
        return repr(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, enum.Enum):
        return jsonable(value.value, depth + 1)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, dict):
        return {str(k): jsonable(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (set, frozenset)):
        items = [jsonable(v, depth + 1) for v in value]
        try:
            return sorted(items)  # type: ignore[type-var]
        except TypeError:
            return items
    if isinstance(value, (list, tuple)):
        return [jsonable(v, depth + 1) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name), depth + 1)
                for f in dataclasses.fields(value)}
    if hasattr(value, "__fspath__"):
        return str(value)
    return repr(value)


def error_info(exc: BaseException, depth: int = 0) -> dict:
    """What a host-side test may want to assert about an exception."""
    cls = type(exc)
    attributes = {}
    for key, val in getattr(exc, "__dict__", {}).items():
        if not key.startswith("_"):
            attributes[key] = jsonable(val)
    info = {
        "type": cls.__name__,
        "qualname": f"{cls.__module__}.{cls.__qualname__}",
        "mro": [c.__name__ for c in cls.__mro__],
        "message": str(exc),
        "attributes": attributes,
        "traceback": "".join(traceback.format_exception(cls, exc, _from_test(exc.__traceback__))),
        "cause": None,
    }
    inner = exc.__cause__ or exc.__context__
    if inner is not None and depth < 5:
        info["cause"] = error_info(inner, depth + 1)
    return info


def _from_test(tb: TracebackType | None) -> TracebackType | None:
    """Drop the frames of this helper and of Pyodide's eval machinery above the test code."""
    start = tb
    while start is not None and not start.tb_frame.f_code.co_filename.startswith("<test-"):
        start = start.tb_next
    return start or tb


async def run(code: str, args_json: str) -> str:
    """Run ``code`` (top-level ``await`` allowed); JSON of its last expression or its error."""
    namespace = __main__.__dict__
    namespace.update(json.loads(args_json))
    filename = f"<test-{next(_serial)}>"
    # Registered so tracebacks show the test's source lines.
    linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
    try:
        value = await eval_code_async(code, namespace, filename=filename)
    except BaseException as exc:  # noqa: BLE001 - everything goes back to the test, typed
        return json.dumps({"ok": False, "error": error_info(exc)})
    return json.dumps({"ok": True, "value": jsonable(value)})
