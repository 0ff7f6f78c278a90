"""A reverse proxy on 127.0.0.1 that demands HTTP Basic auth, for credential tests.

    with AuthProxy(upstream="http://127.0.0.1:8000", user="user", password="secret") as proxy:
        proxy.url_with_credentials("/simple/")   # http://user:secret@127.0.0.1:PORT/simple/
        proxy.log                                 # [(path, Authorization header or None, status)]

A request without the right ``Authorization: Basic`` header gets 401 (without a
``WWW-Authenticate`` challenge, so a browser never prompts); one with it is forwarded to
``upstream`` and answered as upstream answered. CORS preflights are answered with
``Authorization`` listed explicitly: the wildcard ``*`` does not cover that header.
"""

from __future__ import annotations

import base64
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote

__all__ = ["AuthProxy"]


class AuthProxy:
    def __init__(self, upstream: str, user: str, password: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.user = user
        self.password = password
        self.expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        self._log: list[tuple[str, str | None, int]] = []
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None

    def __enter__(self) -> AuthProxy:
        handler = type("Handler", (_Handler,), {"proxy": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1},
                         name="auth-proxy", daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    @property
    def url(self) -> str:
        assert self._httpd is not None, "proxy not started"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def url_with_credentials(self, path: str = "/simple/", user: str | None = None,
                             password: str | None = None) -> str:
        user = self.user if user is None else user
        password = self.password if password is None else password
        return f"http://{quote(user, safe='')}:{quote(password, safe='')}@{self.url[len('http://'):]}{path}"

    @property
    def log(self) -> list[tuple[str, str | None, int]]:
        with self._lock:
            return list(self._log)

    def clear(self) -> None:
        with self._lock:
            self._log.clear()

    def _record(self, path: str, authorization: str | None, status: int) -> None:
        with self._lock:
            self._log.append((path, authorization, status))


class _Handler(BaseHTTPRequestHandler):
    proxy: AuthProxy
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass

    def _cors(self) -> None:
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Cache-Control", "no-store")

    def do_OPTIONS(self) -> None:
        self.send_response(204)
        self._cors()
        self.send_header("Access-Control-Allow-Methods", "GET, OPTIONS")
        self.send_header("Access-Control-Allow-Headers", "Authorization, Accept")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        authorization = self.headers.get("Authorization")
        if authorization != self.proxy.expected:
            self._answer(401, b"authentication required\n", "text/plain", authorization)
            return
        request = urllib.request.Request(self.proxy.upstream + self.path,
                                         headers={"Accept": self.headers.get("Accept", "*/*")})
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                status, body = answer.status, answer.read()
                ctype = answer.headers.get("Content-Type", "application/octet-stream")
        except urllib.error.HTTPError as exc:
            status, body = exc.code, exc.read() or b""
            ctype = exc.headers.get("Content-Type", "text/plain")
        self._answer(status, body, ctype, authorization)

    def _answer(self, status: int, body: bytes, ctype: str, authorization: str | None) -> None:
        self.proxy._record(self.path, authorization, status)
        self.send_response(status)
        self._cors()
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
