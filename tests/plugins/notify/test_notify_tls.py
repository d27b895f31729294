"""TLS: verified by default, a private CA through ca_file, verification off only when asked."""

from __future__ import annotations

import pytest

from alcyon_notify.errors import SinkError
from alcyon_notify.settings import OPTIONS, parse
from alcyon_notify.webhook import WebhookSink

from .conftest import alert


def sink(**webhook) -> WebhookSink:
    settings = parse({**{o.name: o.default for o in OPTIONS}, "webhooks": {"tls": webhook}})
    return WebhookSink(settings.webhooks[0])


def test_an_untrusted_certificate_is_refused_and_retryable(tls_webhooks):
    url = tls_webhooks.route("/hook")
    with pytest.raises(SinkError) as info:
        sink(url=url, timeout_s=5).deliver(alert(), b"{}")
    assert info.value.retryable and "TLS certificate not trusted" in str(info.value)
    assert "set ca_file" in str(info.value)
    assert tls_webhooks.requests("/hook") == []


def test_a_private_ca_is_trusted_through_ca_file(tls_webhooks, self_signed):
    url = tls_webhooks.route("/hook")
    assert sink(url=url, ca_file=str(self_signed[0]), timeout_s=5).deliver(alert(), b"{}") == {"status": 200}
    assert len(tls_webhooks.requests("/hook")) == 1


def test_verification_can_be_turned_off(tls_webhooks):
    url = tls_webhooks.route("/hook")
    assert sink(url=url, verify_tls=False, timeout_s=5).deliver(alert(), b"{}") == {"status": 200}


def test_timeouts_and_refused_connections_are_retryable(webhooks):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(SinkError) as info:
        sink(url=f"http://127.0.0.1:{port}/", timeout_s=2).deliver(alert(), b"{}")
    assert info.value.retryable and "connection failed (Connection refused)" in str(info.value)
    url = webhooks.route("/slow", delay_s=1.0)
    with pytest.raises(SinkError) as info:
        sink(url=url, timeout_s=0.2).deliver(alert(), b"{}")
    assert info.value.retryable and "timed out" in str(info.value)
