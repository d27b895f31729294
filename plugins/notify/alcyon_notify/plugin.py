"""notify: deliver alerts to HTTP webhooks and to a JSON-lines file, once per alert and sink.

One processor, ``notify``, with one durable queue (``alcyon.notify``) bound by the patterns of
``subscribe``.  Convention: an alert type is ``<domain>.alert`` or ``<domain>.alert.<kind>``
(``fire.alert``), all matched by the single pattern ``*.alert.#`` (``*`` is exactly one word,
``#`` zero or more, so it also takes ``fire.alert.smoke``; ``#.alert`` would take
``fire.smoke.alert`` and a bare ``alert`` but not ``fire.alert.smoke``).  The geofence plugin
names its alerts ``geofence.<kind>`` (``geofence.entered``, ``geofence.crossed``, ...), hence the
second default pattern ``geofence.*``.  An alert matching several patterns still reaches the
queue once (RabbitMQ delivers a message once per queue; the embedded mode routes the same).

Each alert is sent to every sink as its CloudEvents 1.0 JSON envelope (id, type, subject,
time, source, data — the evidence; see :mod:`alcyon_notify.payload` for bytes), ``id`` being
the alert's stable event id.  Sinks: the JSON-lines file (on by default: ``alerts.jsonl`` in
the working directory) and each webhook.  A delivery ledger in the keyed state store (Redis
when ``ALCYON_STATE_URL`` is set, in memory otherwise) makes a redelivered alert reach each
sink once; with several workers, set ``ALCYON_STATE_URL`` or each process keeps its own ledger.

Failures: 5xx, 408, 429, timeouts and connection errors are retried by alcyon (this alert
alone, exponential backoff from ``retry_min_backoff_ms`` to ``retry_max_backoff_ms``, up to
``max_retries``: about an hour with the defaults), then dead-lettered with the last error and
reason ``delivery_failed`` (``alcyon dlq list``; ``alcyon dlq replay`` once fixed).  Other 4xx
and redirects are dead-lettered at once.  Sinks that took the alert are never re-sent it on a
retry.  Metrics: ``alcyon_notify_deliveries_total{sink,outcome}`` and
``alcyon_notify_delivery_duration_seconds{sink,outcome}``.

Configuration (``alcyon.toml``; every key also as ``ALCYON_NOTIFY__<KEY>``)::

    [plugins.notify]
    subscribe = ["*.alert.#", "geofence.*"]   # the default
    jsonl_path = "alerts.jsonl"               # "" turns the file off
    jsonl_fsync = true
    jsonl_binary = "digest"                   # bytes in data: size + sha256 ("base64" to copy them)
    jsonl_evidence = true                     # and the bytes themselves in alerts-evidence/<sha256>.jpg
    ledger_ttl_s = 604800                     # 7 days
    max_retries = 14
    retry_min_backoff_ms = 2000
    retry_max_backoff_ms = 600000

    [plugins.notify.webhooks.rangers]        # the table's name is the sink's name (metrics, ledger)
    url = "https://alerts.example.org/hooks/alcyon"
    headers = { Authorization = "Bearer ${env:RANGERS_TOKEN}" }
    timeout_s = 10
    types = ["geofence.*"]                    # only these alerts (default: all subscribed ones)

    [plugins.notify.webhooks.firewatch]
    url = "${file:/run/secrets/firewatch_url}"  # a secret URL (e.g. a chat webhook) from a file
    ca_file = "/etc/alcyon/private-ca.pem"    # trust this CA bundle instead of the system's
    verify_tls = true                         # the default; false is logged as a warning
    binary = "base64"                         # the default for webhooks (CloudEvents data_base64); or
                                              # "link" + link_base = "https://.../evidence/": an href

``${env:NAME}`` and ``${file:/path}`` may appear in ``url`` and header values; the values they
resolve to, credential-like headers (Authorization, Cookie, *token*, *key*, ...) and URL
passwords are masked in every log line and never appear in errors or dead letters.
``ALCYON_NOTIFY__WEBHOOKS=https://a/hook,https://b/hook`` configures URL-only webhooks named
``webhook1``, ``webhook2``.
"""

from __future__ import annotations

import ipaddress
from typing import Any, Mapping
from urllib.parse import urlsplit

from alcyon import Processor, get_logger, hookimpl

from .jsonl import JsonLinesSink
from .notifier import Notifier
from .settings import OPTIONS, NotifySettings, parse
from .webhook import WebhookSink

log = get_logger("alcyon_notify")

PROCESSOR = "notify"


@hookimpl
def alcyon_config_options() -> list[Any]:
    return list(OPTIONS)


@hookimpl
def alcyon_processors(config: Mapping[str, Any]) -> list[Processor]:
    settings = parse(config)
    sinks = build_sinks(settings)
    if not sinks:
        return []  # nothing to deliver to: no queue, the alerts stay with their other subscribers
    # A handler call delivers to each sink in turn; each HTTP step is bounded by its timeout.
    time_limit_ms = int(1000 * (2 * sum(s.timeout_s for s in sinks) + 30))
    notifier = Notifier(sinks, ledger_ttl_s=settings.ledger_ttl_s, lease_s=time_limit_ms / 1000 + 30)
    return [Processor(
        name=PROCESSOR, subscribe=settings.subscribe, handle=notifier.handle,
        description=f"alerts -> {', '.join(s.name for s in sinks)}",
        max_retries=settings.max_retries, min_backoff_ms=settings.retry_min_backoff_ms,
        max_backoff_ms=settings.retry_max_backoff_ms, time_limit_ms=time_limit_ms,
        stateful=True, state_ttl_s=settings.ledger_ttl_s,
    )]


@hookimpl
def alcyon_startup(config: Mapping[str, Any]) -> None:
    settings = parse(config)
    sinks = build_sinks(settings)
    for sink in sinks:
        if isinstance(sink, JsonLinesSink):
            sink.check()
            log.info("notify_sink", sink=sink.name, path=str(sink.path), fsync=sink.fsync)
    for webhook in settings.webhooks:
        log.info("notify_sink", sink=webhook.name, host=webhook.host, types=list(webhook.types) or "all",
                 verify_tls=webhook.verify_tls, ca_file=webhook.ca_file or None)
        if not webhook.verify_tls:
            log.warning("notify_tls_verification_off", sink=webhook.name, host=webhook.host)
        if webhook.url.startswith("http://") and webhook.secrets and not _loopback(webhook):
            log.warning("notify_credentials_over_plain_http", sink=webhook.name, host=webhook.host)
    if not sinks:
        log.warning("notify_has_no_sink", hint="configure [plugins.notify.webhooks.<name>] or jsonl_path")


def build_sinks(settings: NotifySettings) -> list[Any]:
    sinks: list[Any] = []
    if settings.jsonl_path is not None:
        sinks.append(JsonLinesSink(settings.jsonl_path, fsync=settings.jsonl_fsync, binary=settings.jsonl_binary,
                                   evidence=settings.jsonl_evidence))
    sinks.extend(WebhookSink(w) for w in settings.webhooks)
    return sinks


def _loopback(webhook: Any) -> bool:
    host = urlsplit(webhook.url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
