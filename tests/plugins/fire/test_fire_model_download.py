"""A model from an https URL with a pinned sha256: downloaded once, cached, verified (a real TLS server)."""

from __future__ import annotations

import hashlib
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from alcyon import ConfigError
from alcyon_fire.model import BASELINE_MODEL, Model, resolve_model

from ..notify.conftest import self_signed  # noqa: F401  (the fixture)


@pytest.fixture
def model_server(self_signed, monkeypatch):  # noqa: F811
    body = BASELINE_MODEL.read_bytes()
    served: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            served.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*self_signed)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("SSL_CERT_FILE", str(self_signed[0]))  # the test CA, for urllib's default context
    yield f"https://127.0.0.1:{server.server_port}/models/smoke.onnx", served
    server.shutdown()
    server.server_close()


def test_downloaded_once_verified_and_cached(model_server, tmp_path):
    url, served = model_server
    sha = hashlib.sha256(BASELINE_MODEL.read_bytes()).hexdigest()
    cache = tmp_path / "cache"
    path = resolve_model(url, sha, cache)
    assert path == cache / f"{sha}.onnx" and path.read_bytes() == BASELINE_MODEL.read_bytes()
    assert Model.load(path, 640, ["smoke"]).dynamic_batch
    assert resolve_model(url, sha, cache) == path
    assert served == ["/models/smoke.onnx"]  # the second time from the cache


def test_a_wrong_pin_is_a_clear_error_and_nothing_is_cached(model_server, tmp_path):
    url, _ = model_server
    cache = tmp_path / "cache"
    with pytest.raises(ConfigError, match=r"model_sha256: https://127.0.0.1:\d+/models/smoke.onnx has sha256 "
                                          r"[0-9a-f]{64}, the configuration pins abab"):
        resolve_model(url, "ab" * 32, cache)
    assert list(cache.iterdir()) == []


def test_plain_http_and_untrusted_servers_are_refused(model_server, tmp_path, monkeypatch):
    url, _ = model_server
    with pytest.raises(ConfigError, match="must be https"):
        resolve_model(url.replace("https", "http"), "ab" * 32, tmp_path)
    monkeypatch.delenv("SSL_CERT_FILE")
    with pytest.raises(ConfigError, match="cannot download .*CERTIFICATE_VERIFY_FAILED"):
        resolve_model(url, "ab" * 32, tmp_path)
