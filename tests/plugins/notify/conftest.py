"""Fixtures of the notify tests: real HTTP webhooks on 127.0.0.1 and the plugin's configuration."""

from __future__ import annotations

import json
import shutil
import ssl
import subprocess
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import urlsplit

import pytest

from alcyon import Event, derive

T0 = datetime(2026, 7, 14, 12, 0, tzinfo=timezone.utc)


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Route:
    """What a path answers: ``statuses`` in turn, then ``then`` for ever; ``{n}`` in ``body`` is the request number."""

    statuses: list[int] = field(default_factory=list)
    then: int = 200
    body: str = "ok"
    delay_s: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    count: int = 0


class WebhookServer:
    """A real HTTP server in a thread, recording every request and answering as scripted."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.tls = tls
        self.lock = threading.Lock()
        self.routes: dict[str, Route] = {}
        self.received: list[Received] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                path = urlsplit(self.path).path
                with server.lock:
                    route = server.routes.setdefault(path, Route())
                    route.count += 1
                    n = route.count
                    status = route.statuses[n - 1] if n <= len(route.statuses) else route.then
                    text = route.body.format(n=n, authorization=self.headers.get("Authorization", ""))
                    server.received.append(Received(self.path, dict(self.headers.items()), body, status))
                if route.delay_s:
                    time.sleep(route.delay_s)
                payload = text.encode()
                self.send_response(status)
                for key, value in route.headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                try:
                    self.wfile.write(payload)
                except OSError:  # the client gave up (a timeout test)
                    pass

            def log_message(self, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a client that hung up (timeout and TLS tests): nothing to report

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def base(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"{'https' if self.tls else 'http'}://{host}:{port}"

    def url(self, path: str) -> str:
        return self.base + path

    def route(self, path: str, *statuses: int, then: int = 200, body: str = "ok", delay_s: float = 0.0,
              headers: dict[str, str] | None = None) -> str:
        """Script ``path`` and return its URL."""
        with self.lock:
            self.routes[path] = Route(list(statuses), then, body, delay_s, headers or {})
        return self.url(path)

    def requests(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if urlsplit(r.path).path == path]

    def delivered(self, path: str) -> list[Received]:
        """The requests to ``path`` that were answered 2xx."""
        return [r for r in self.requests(path) if 200 <= r.status < 300]


@pytest.fixture
def webhooks() -> Iterator[WebhookServer]:
    server = WebhookServer()
    server.thread.start()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


@pytest.fixture
def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key (made with the openssl CLI)."""
    if shutil.which("openssl") is None:
        pytest.fail("the openssl command is needed to make a test certificate (apt-get install openssl)")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                    "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return cert, key


@pytest.fixture
def tls_webhooks(self_signed: tuple[Path, Path]) -> Iterator[WebhookServer]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*self_signed)
    server = WebhookServer(tls=context)
    server.thread.start()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


@pytest.fixture
def jsonl_path(tmp_path: Path) -> Path:
    return tmp_path / "alerts.jsonl"


@pytest.fixture
def notify_config(jsonl_path: Path):
    """``notify_config(webhooks={...}, **options)``: the [plugins.notify] table, with fast retries."""

    def make(**options: Any) -> dict[str, Any]:
        return {"jsonl_path": str(jsonl_path), "max_retries": 5, "retry_min_backoff_ms": 20,
                "retry_max_backoff_ms": 100, **options}

    return make


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def alert(n: int = 1, *, type: str = "fire.alert", subject: str = "tower-3/pose-2", data: Any = None) -> Event:
    """A derived alert, as a detector would publish it: its id is deterministic from its cause."""
    cause = Event(type="camera.frame", source="test/camera", subject=subject, id=f"frame-{n}", time=T0,
                  data=b"\xff\xd8jpeg")
    return derive(cause, "fire/smoke", type, {"score": 0.91, "boxes": [[0.1, 0.2, 0.3, 0.4]]} if data is None
                  else data, source="alcyon/fire")
