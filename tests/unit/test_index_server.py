"""Static mounts of the local server, natively: the routes ``scripts/demo.sh`` relies on."""

from __future__ import annotations

import http.client
from collections.abc import Iterator

import pytest

from tests.support.browser import ROOT
from tests.support.index_server import IndexServer

DEMO = ROOT / "demo"


@pytest.fixture(scope="module")
def server() -> Iterator[IndexServer]:
    with IndexServer() as running:
        running.mount("/demo/", DEMO)  # as demo/serve.py mounts it
        running.mount("/app/", {"index.html": b"<p>app</p>", "sub/index.html": b"<p>sub</p>"})
        yield running


def get(server: IndexServer, path: str) -> tuple[int, bytes, str | None]:
    """``(status, body, Location)`` of one GET, redirects not followed."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read(), response.getheader("Location")
    finally:
        connection.close()


def test_a_folder_mount_serves_index_html_for_its_directory_url(server: IndexServer) -> None:
    page = (DEMO / "index.html").read_bytes()
    assert get(server, "/demo/index.html")[:2] == (200, page)
    assert get(server, "/demo/")[:2] == (200, page)
    assert get(server, "/demo/?runtime=314.0.7")[:2] == (200, page)


def test_a_dict_mount_serves_index_html_for_its_directory_urls(server: IndexServer) -> None:
    assert get(server, "/app/")[:2] == (200, b"<p>app</p>")
    assert get(server, "/app/sub/")[:2] == (200, b"<p>sub</p>")


@pytest.mark.parametrize("path,location", [("/demo", "/demo/"), ("/demo?runtime=314.0.7", "/demo/?runtime=314.0.7"),
                                           ("/app", "/app/")])
def test_a_mount_without_its_slash_redirects_to_it(server: IndexServer, path: str, location: str) -> None:
    # Served at /demo itself, the page's relative demo.mjs would resolve to /demo.mjs.
    status, _, got = get(server, path)
    assert (status, got) == (301, location)


def test_what_is_not_there_is_still_404(server: IndexServer) -> None:
    assert get(server, "/demo/missing.html")[0] == 404
    assert get(server, "/demo/../pyproject.toml")[0] == 404
    assert get(server, "/app/nothing/")[0] == 404
    assert get(server, "/demox")[0] == 404
