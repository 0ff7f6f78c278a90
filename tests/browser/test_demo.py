"""The demo, driven as a person would: scripts/demo.sh, type, click Install, run Python."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.browser import ROOT

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


@pytest.fixture(scope="module")
def demo_url() -> Iterator[str]:
    process = subprocess.Popen([str(ROOT / "scripts" / "demo.sh"), "--port", "0"], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)
    try:
        lines = []
        deadline = time.monotonic() + 120
        assert process.stdout is not None
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
            found = re.search(r"open (http://\S+)", line)
            if found:
                yield found.group(1)
                return
        pytest.fail("scripts/demo.sh printed no URL:\n" + "".join(lines))
    finally:
        os.killpg(process.pid, signal.SIGTERM)  # the script's own session: it and the server
        process.wait(timeout=10)


def wait_for_state(page, state: str, timeout: float) -> None:
    """Wait for ``body[data-state]``; on a timeout, fail with what the page shows."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_selector(f"body[data-state={state}]", timeout=timeout * 1000)
    except PlaywrightTimeout:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "demo-failure.png"), full_page=True)
        pytest.fail(f"the demo did not reach {state!r} in {timeout} s; it is "
                    f"{page.get_attribute('body', 'data-state')!r}: {page.text_content('#status')}\n"
                    f"log:\n{page.text_content('#log')}\noutput:\n{page.text_content('#output')}")


def test_demo_installs_and_runs(browser, demo_url) -> None:
    context = browser.new_context(viewport={"width": 1000, "height": 900})
    page = context.new_page()
    failed: list[str] = []
    page.on("response", lambda response: failed.append(f"{response.status} {response.url}")
            if response.status >= 400 else None)
    try:
        page.goto(demo_url)
        wait_for_state(page, "ready", 60)
        assert page.text_content("#platform") == "pyemscripten_2026_0_wasm32"

        # A typo: the log says what is wrong, and the page stays usable.
        page.fill("#requirements", "no-such-package-anywhere")
        page.click("#install")
        wait_for_state(page, "error", 60)
        assert "no-such-package-anywhere" in page.text_content("#log")
        assert page.get_attribute("#bar", "class") == "error"

        page.fill("#requirements", "rich\npydantic")
        page.click("#install")
        wait_for_state(page, "installed", 120)
        log = page.text_content("#log")
        assert "fetched pydantic-core" in log and re.search(r"Installed .*pydantic-2\.", log)
        assert page.get_attribute(".progress", "aria-valuenow") == "100"
        assert page.text_content("#status").startswith("Installed ")

        page.click("#run")
        wait_for_state(page, "ran", 60)
        output = page.text_content("#output")
        assert "Installed in this page" in output
        assert re.search(r"pydantic-core\s*│\s*2\.", output) and re.search(r"rich\s*│\s*15\.", output)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "demo.png"), full_page=True)
        # The page asked for nothing that is not there but the typo's project.
        assert [said for said in failed if "/no-such-package-anywhere/" not in said] == []
    finally:
        context.close()


def test_the_demo_recovers_from_a_failed_install_of_pyemscripten_itself(browser, demo_url) -> None:
    context = browser.new_context()
    page = context.new_page()
    failed = []

    def once(route) -> None:
        # One of the npm package's wheels is not served while the page boots (asked for twice:
        # while the runtime loads, and again by the bootstrap), then it is.
        if len(failed) == 2:
            route.continue_()
        else:
            failed.append(route.request.url)
            route.fulfill(status=404, body="not here")

    try:
        page.route("**/wheels/resolvelib-*.whl", once)
        page.goto(demo_url)
        wait_for_state(page, "error", 60)
        assert page.text_content("#status") == "pyemscripten did not install: see the log, then click Install to try again"
        log = page.text_content("#log")
        assert log.count("pyemscripten could not be installed into this Pyodide") == 1, log  # said once
        assert re.search(r"resolvelib-[^ ]*\.whl answered HTTP 404", log), log
        page.fill("#requirements", "attrs")
        page.click("#install")
        wait_for_state(page, "installed", 120)
        assert re.search(r"Installed .*attrs-", page.text_content("#log"))
        assert page.text_content("#platform") == "pyemscripten_2026_0_wasm32"
    finally:
        context.close()
