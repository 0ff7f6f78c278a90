"""Markdown tables of medians from the benchmark's records (see benchmarks/run.py)."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from benchmarks.driver import NETWORKS

# Median time ratio pyemscripten / micropip that each scenario should stay under.
TARGETS = {("a", "loopback"): 0.6, ("a", "wan"): 0.75, ("b", "loopback"): 0.3, ("b", "wan"): 0.4,
           ("c", "loopback"): 0.6, ("c", "wan"): 0.6}
WARM_TARGET = 0.3  # warm (a) from a lock vs micropip's cold (a), WAN

Record = Mapping[str, Any]


def _median(records: Iterable[Record], key: str | Callable[[Record], float]) -> float | None:
    values = [key(r) if callable(key) else r.get(key) for r in records]
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def _pick(records: Sequence[Record], **where: Any) -> list[Record]:
    return [r for r in records if all(r.get(k) == v for k, v in where.items())]


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _mb(value: float | None) -> str:
    return "-" if value is None else f"{value / 1e6:.1f}"


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def _combinations(records: Sequence[Record]) -> list[tuple[str, str]]:
    seen = {(r["scenario"], r["network"]) for r in records if r["kind"] == "install"}
    order = list(NETWORKS)
    return sorted(seen, key=lambda c: (order.index(c[1]), c[0]))


def render(records: Sequence[Record], scenarios: Mapping[str, Any], reps: int, seconds: float) -> str:
    out = [f"Medians of {reps} runs each; seconds unless noted. Pyodide 314.0.7, headless Chromium, "
           f"local index; WAN = CDP-emulated 40 ms latency, 50 Mbit/s. Whole run: {seconds / 60:.1f} min.", ""]
    out += _crashes(records)
    out += _speed(records, scenarios) + [""] + _heap(records) + [""] + _breakdown(records) + [""]
    out += _floor(records) + [""] + _warm(records) + [""] + _large_page(records)
    return "\n".join(out) + "\n"


def _crashes(records: Sequence[Record]) -> list[str]:
    """A line naming the measurements taken again after a page crashed (run.once_more_if_crashed)."""
    crashed = [r for r in records if r.get("crashed_before")]
    if not crashed:
        return []
    named = "; ".join(
        f"{r.get('tool', r['kind'])}" + (f" ({r['scenario']}) {r['network']} rep {r['rep']}" if "scenario" in r else "")
        for r in crashed)
    return [f"A page crashed and the measurement was taken again on fresh pages ({len(crashed)}): {named}. "
            f"Chromium said: {crashed[0]['crashed_before']}", ""]


def _speed(records: Sequence[Record], scenarios: Mapping[str, Any]) -> list[str]:
    rows = []
    for scenario, network in _combinations(records):
        mp = _median(_pick(records, kind="install", tool="micropip", scenario=scenario, network=network), "total")
        ours = _median(_pick(records, kind="install", tool="pyemscripten", scenario=scenario, network=network), "total")
        floor = _median(_pick(records, kind="floor", scenario=scenario, network=network), "total")
        fetch = _median(_pick(records, kind="floor", scenario=scenario, network=network), "fetch")
        ratio = ours / mp if ours is not None and mp else None
        target = TARGETS.get((scenario, network))
        allowed = target * mp if target is not None and mp else None
        verdict = "-" if ratio is None or target is None else ("yes" if ratio <= target else "**no**")
        imp_mp = _median(_pick(records, kind="install", tool="micropip", scenario=scenario, network=network), "verify")
        imp_ours = _median(_pick(records, kind="install", tool="pyemscripten", scenario=scenario, network=network), "verify")
        rows.append([f"({scenario}) {scenarios[scenario].title}", network, _s(mp), _s(ours),
                     "-" if ratio is None else f"{ratio:.2f}", f"≤ {target}" if target else "-", verdict,
                     _s(allowed), _s(floor), _s(fetch), f"{_s(imp_mp)} / {_s(imp_ours)}"])
    header = ["scenario", "network", "micropip", "pyemscripten", "ratio", "target", "met", "target allows",
              "floor", "of which: fetch all", "import after (mp / ours)"]
    imports = {tool: _median(_pick(records, kind="install", tool=tool), "prepare") for tool in ("micropip", "pyemscripten")}
    note = (f"Before the clock, each page imports the installer: micropip in {_s(imports['micropip'])} s, "
            f"pyemscripten (with the modules an install uses) in {_s(imports['pyemscripten'])} s (medians over "
            "all pages). \"import after\" is importing the installed packages, after the clock. \"target allows\" "
            "is the target times micropip's median: the time pyemscripten may take. \"fetch all\" is the "
            "floor's fetching alone (every wheel requested at once, nothing resolved, nothing unpacked): where "
            "the target allows less than that, no installer that fetches these wheels over this link can meet "
            "the target in this run.")
    return ["### Install time", ""] + _table(header, rows) + ["", note]


def _heap(records: Sequence[Record]) -> list[str]:
    rows = []
    for scenario, network in _combinations(records):
        picked = {tool: _pick(records, kind="install", tool=tool, scenario=scenario, network=network)
                  for tool in ("micropip", "pyemscripten")}
        peak = {tool: _median(rs, "heap_peak") for tool, rs in picked.items()}
        start = {tool: _median(rs, "heap_start") for tool, rs in picked.items()}
        kept = {tool: _median(rs, "heap_retained") for tool, rs in picked.items()}
        wasm = {tool: (_median(rs, "wasm_start"), _median(rs, "wasm_end")) for tool, rs in picked.items()}
        ok = "-" if None in peak.values() else ("yes" if peak["pyemscripten"] <= peak["micropip"] else "**no**")
        rows.append([scenario, network, _mb(peak["micropip"]), _mb(peak["pyemscripten"]), ok,
                     f"{_mb(start['micropip'])} / {_mb(start['pyemscripten'])}",
                     f"{_mb(kept['micropip'])} / {_mb(kept['pyemscripten'])}",
                     " / ".join(f"{_mb(wasm[tool][0])} -> {_mb(wasm[tool][1])}" for tool in ("micropip", "pyemscripten"))])
    header = ["scenario", "network", "micropip peak MB", "pyemscripten peak MB", "not above",
              "before install (mp / ours)", "after install + GC (mp / ours)",
              "WebAssembly memory before -> after (mp / ours)"]
    note = ("Sampled every 20 ms with CDP Performance.getMetrics, after a forced GC; the peak includes garbage "
            "V8 has not collected yet, so it moves by a few MB with GC timing from run to run. The last column "
            "is not in JSHeapUsedSize: the interpreter's WebAssembly memory, which only grows (its size after "
            "the install is its peak, and the page keeps it).")
    return ["### Peak JS heap during install (JSHeapUsedSize)", "", note, ""] + _table(header, rows)


def _breakdown(records: Sequence[Record]) -> list[str]:
    rows = []
    for scenario, network in _combinations(records):
        rs = _pick(records, kind="install", tool="pyemscripten", scenario=scenario, network=network)
        if not rs:
            continue
        m = {k: _median(rs, k) for k in ("total", "resolve", "resolve_requests", "resolve_depth",
                                          "fetch_unpack", "network_last_byte", "unpack_cpu", "stage_cpu", "commit",
                                          "load", "bytes")}
        rows.append([scenario, network, _s(m["total"]),
                     f"{_s(m['resolve'])} ({m['resolve_requests']:.0f} req, {m['resolve_depth']:.0f} deep)",
                     _s(m["fetch_unpack"]), _s(m["network_last_byte"]), _s(m["unpack_cpu"]), _s(m["stage_cpu"]),
                     _s(m["commit"]), _s(m["load"]), _mb(m["bytes"])])
    header = ["scenario", "network", "total", "resolve (requests, sequential depth)", "fetch+verify+unpack",
              "of which: last wheel byte", "unpack CPU (sum)", "staging CPU (sum)", "commit", "library load",
              "MB fetched"]
    note = ("Phases are wall-clock and back to back: resolve ends at the plan (wheels the crawl guessed are "
            "already downloading and unpacking by then); fetch+verify+unpack ends when the commit starts; "
            "each wheel is verified, unpacked and its files staged as soon as its bytes are in, while others "
            "still download. The CPU sums run inside those phases, not after them.")
    return ["### Where pyemscripten's time goes", "", note, ""] + _table(header, rows)


def _floor(records: Sequence[Record]) -> list[str]:
    rows = []
    for scenario, network in sorted({(r["scenario"], r["network"]) for r in records if r["kind"] == "floor"},
                                    key=lambda c: (list(NETWORKS).index(c[1]), c[0])):
        rs = _pick(records, kind="floor", scenario=scenario, network=network)
        rows.append([scenario, network] + [_s(_median(rs, k)) for k in ("total", "fetch", "unpack", "compile")]
                    + [str(rs[0]["libraries"])])
    header = ["scenario", "network", "floor", "fetch all", "unpack all", "compile all", "libraries"]
    return ["### Floor: all wheels fetched at once, unpacked, libraries compiled at once, no resolution", ""] + \
        _table(header, rows)


def _warm(records: Sequence[Record]) -> list[str]:
    rows = []
    for network in NETWORKS:
        rs = _pick(records, kind="warm", network=network)
        if not rs:
            continue
        warm = _median(rs, "total")
        cold_mp = _median(_pick(records, kind="install", tool="micropip", scenario="a", network=network), "total")
        ratio = warm / cold_mp if warm is not None and cold_mp else None
        target = WARM_TARGET if network == "wan" else None
        verdict = "-" if ratio is None or target is None else ("yes" if ratio <= target else "**no**")
        rows.append([network, _s(_median(rs, "cold_lock_total")), _s(warm),
                     str(max(r["wheel_requests"] for r in rs)), _mb(_median(rs, "heap_peak")), _s(cold_mp),
                     "-" if ratio is None else f"{ratio:.2f}", f"≤ {target}" if target else "-", verdict])
    header = ["network", "lock, cold cache", "lock, warm cache", "wheel requests (warm)", "peak heap MB",
              "micropip cold (a)", "ratio", "target", "met"]
    return ["### Warm start: (a) from a lock file, second page of the same browser context", ""] + \
        _table(header, rows)


def _large_page(records: Sequence[Record]) -> list[str]:
    rs = _pick(records, kind="large_page")
    if not rs:
        return []
    native, page = rs[0]["native"], rs[0]["pyodide"]
    wan = NETWORKS["wan"]
    wan_fetch = wan.latency_ms / 1000 + page["bytes"] * 8 / (wan.mbit_per_s * 1e6)
    rows = [["native CPython", _s(native["parse"]), _s(native["parse_and_versions"]), "-"],
            ["Pyodide (in page)", _s(page["parse"]), _s(page["parse_and_versions"]), _s(page["fetch"])]]
    header = ["where", "parse", "parse + versions for this runtime", "fetch (loopback)"]
    lines = [f"### A {page['files']:,}-file project page ({page['bytes'] / 1e6:.1f} MB PEP 691 JSON, "
             f"{page['versions']} versions with a browser wheel)", ""]
    return lines + _table(header, rows) + ["", f"Fetching it over the emulated WAN takes at least {wan_fetch:.2f} s."]
