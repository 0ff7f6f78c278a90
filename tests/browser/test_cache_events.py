"""The order of an install's progress events when the site's storage quota refuses its wheels.

The wheel cache writes once the install is over, so what the quota left out is known only
after the install's ``done``: it comes then as a ``cache-warning`` (the one event documented
to follow ``done``), never as a ``warning`` after it. The quota is lowered with the DevTools
protocol, as in test_cache_quota.py, so that Chromium itself refuses the put.
"""

from __future__ import annotations

from collections.abc import Callable

from tests.support.browser import PyodideSession
from tests.support.index_server import IndexServer

INSTALL = """
import pyemscripten
events = []
report = await pyemscripten.install("attrs", index_urls=[url], on_progress=events.append)
events.append({"stage": "returned"})
await pyemscripten.wait_for_cache()
[[e["stage"] for e in events], events[-1].get("message", ""), list(report.warnings)]
"""


def test_a_wheel_the_quota_refuses_is_told_after_done(pyodide_factory: Callable[..., PyodideSession],
                                                     index_server: IndexServer) -> None:
    page = pyodide_factory()
    origin = page.page.evaluate("location.origin")
    cdp = page.context.new_cdp_session(page.page)
    cdp.send("Storage.overrideQuotaForOrigin", {"origin": origin, "quotaSize": 1000})
    try:
        stages, told, warnings = page.run(INSTALL, url=index_server.index_url)
    finally:
        cdp.send("Storage.overrideQuotaForOrigin", {"origin": origin})
    assert stages[-3:] == ["done", "returned", "cache-warning"] and "warning" not in stages, stages
    assert "could not keep 1 wheel" in told and "quota" in told, told
    assert warnings == []
