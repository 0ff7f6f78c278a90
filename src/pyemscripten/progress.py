"""Structured progress events, and the plain-text reporter notebooks see.

Stages, in order: ``resolving`` (resolution starts, a project page arrived, the walk's
progress, or the wait for another install's turn), ``resolved`` (the plan),
``downloading`` (bytes done/total of one file; a try made again after a transient failure
starts over at 0, its first event's message saying so: "try 2 of 4"), ``unpacking``, ``installing``,
``loading`` (shared libraries), then ``done`` or ``error``; ``warning`` at any point (a yanked
file installed, a request tried again after a transient failure). Every failure of a call is
one ``error`` event, one before its first step too (an argument of the wrong type, no browser
seams natively); ``done`` comes only on success. The one event that comes after ``done`` (or
``error``) is ``cache-warning``: the wheel cache's writes run once an install is over, and
what they could not keep (the browser's storage quota) is known only then.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, TextIO


@dataclass(frozen=True)
class ProgressEvent:
    stage: str
    package: str | None = None
    done: int | None = None
    total: int | None = None
    message: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


Listener = Callable[[ProgressEvent], None]


class TextReporter:
    """Concise lines for a console or notebook: one per stage change, not per chunk."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream
        self._fetched: set[str | None] = set()

    def __call__(self, event: ProgressEvent) -> None:
        line = self._line(event)
        if line:
            # One write of the whole line, where print() makes two (the text, then the end):
            # in a page each write to stdout is a trip into JavaScript (print: 0.6-0.9 ms a
            # line after the first, this: 0.3-0.4 ms). Line-buffered streams flush at the "\n".
            stream = self.stream or sys.stdout
            if stream is not None:  # no stdout (pythonw): print() would say nothing either
                stream.write(line + "\n")

    def _line(self, event: ProgressEvent) -> str | None:
        # No "error" line: the exception the install raises says it, once.
        if event.stage == "resolving":  # the first names the requirements; one per page after
            return event.message if event.package is None else None
        if event.stage in ("resolved", "done", "installing", "warning", "cache-warning"):
            return event.message or None
        if event.stage == "loading" and event.total and not event.done:
            return f"Loading {event.total} shared {'library' if event.total == 1 else 'libraries'}"
        if event.stage == "downloading" and event.total is not None and event.done == event.total:
            if event.package in self._fetched:  # the transport's last chunk, then the check
                return None
            self._fetched.add(event.package)
            if event.message:  # where it came from, when not the network ("from the cache")
                return f"  {event.package} {event.message} ({size_text(event.total)})"
            return f"  fetched {event.package} ({size_text(event.total)})"
        return None


def megabytes(n: int) -> str:
    """``n`` bytes in MB with one decimal, as ``f"{n / 1e6:.1f} MB"`` but for halves, which go
    up. Integers only: in a page, the interpreter's first int-and-float operation at a place
    that runs twice (a second line, a second install) cost 4-6 ms and slowed what followed
    (benchmarks/RESULTS.md, change 43)."""
    tenths = (n + 50_000) // 100_000
    return f"{tenths // 10}.{tenths % 10} MB"


def size_text(n: int) -> str:
    return megabytes(n) if n >= 1_000_000 else f"{(n + 500) // 1000} kB"  # integers (see megabytes)


def emit_all(listeners: list[Listener]) -> Listener:
    def emit(event: ProgressEvent) -> None:
        for listener in listeners:
            listener(event)

    return emit
