"""The ``[plugins.notify]`` configuration, declared and validated.

:data:`OPTIONS` is what the plugin declares to alcyon (types, defaults, help: what
``alcyon config check`` shows); :func:`parse` turns the validated table into
:class:`NotifySettings`, checking what a flat option type cannot (each webhook's table,
patterns, secret references) and raising :class:`~alcyon.errors.ConfigError` naming the key.
"""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import urlsplit

from alcyon import ConfigError, Option, mask_secret, resolve_secrets
from alcyon import convert_value as convert
from alcyon import validate_topic_pattern as validate_pattern

from .credentials import is_sensitive_header

#: Alerts are ``<domain>.alert`` or ``<domain>.alert.<kind>`` (``fire.alert``); the geofence
#: plugin names its alerts ``geofence.<kind>`` (``geofence.entered``, ``geofence.crossed``).
DEFAULT_SUBSCRIBE = ["*.alert.#", "geofence.*"]
DEFAULT_LEDGER_TTL_S = 7 * 86_400.0
BINARY_MODES = ("base64", "digest")
WEBHOOK_BINARY_MODES = (*BINARY_MODES, "link")
JSONL_SINK = "jsonl"

_SINK_NAME = re.compile(r"^[a-z][a-z0-9_\-]{0,62}$")
_WEBHOOK_KEYS = {"url", "headers", "timeout_s", "verify_tls", "ca_file", "types", "binary", "link_base"}

OPTIONS = [
    Option("subscribe", list, DEFAULT_SUBSCRIBE,
           "AMQP topic patterns of the alert types to notify (one queue, one binding each): '*' is one word, "
           "'#' zero or more; the default takes <domain>.alert[.<kind>] and geofence.<kind>"),
    Option("webhooks", (dict, list), {},
           "HTTP webhooks: a table per webhook ([plugins.notify.webhooks.<name>] with url, headers, timeout_s, "
           "verify_tls, ca_file, types, binary), or a list of URLs (ALCYON_NOTIFY__WEBHOOKS=https://a,https://b)"),
    Option("jsonl_path", str, "alerts.jsonl",
           "append every alert as one JSON line to this file (relative to the working directory); empty: off"),
    Option("jsonl_fsync", bool, True, "fsync the JSON-lines file after each alert (else flushed to the OS only)"),
    Option("jsonl_evidence", bool, True,
           "write binary evidence (a fire alert's JPEG) beside the JSON-lines file, in <stem>-evidence/<sha256>.jpg"),
    Option("jsonl_binary", str, "digest",
           "bytes in alert data, in the JSON-lines file: 'digest' (size and sha256) or 'base64'"),
    Option("ledger_ttl_s", (int, float), DEFAULT_LEDGER_TTL_S,
           "remember delivered (alert id, sink) pairs this long, in seconds (a redelivery within it is skipped)"),
    Option("max_retries", int, 14,
           "retries of a failed delivery before the alert is dead-lettered (about an hour with the default backoff)"),
    Option("retry_min_backoff_ms", int, 2_000, "delay before the first retry; it doubles (with jitter) at each retry"),
    Option("retry_max_backoff_ms", int, 600_000,
           "longest delay between retries (keep it well below RabbitMQ's consumer_timeout, 30 min by default)"),
]


@dataclasses.dataclass(frozen=True)
class WebhookSettings:
    """One webhook, with its references resolved.  ``repr`` hides the URL and header values."""

    name: str
    url: str = dataclasses.field(repr=False)
    headers: Mapping[str, str] = dataclasses.field(default_factory=dict, repr=False)
    timeout_s: float = 10.0
    verify_tls: bool = True
    ca_file: str = ""
    types: tuple[str, ...] = ()
    binary: str = "base64"
    #: With ``binary = "link"``: the URL prefix of the evidence (``<link_base><sha256>.jpg``).
    link_base: str = ""
    #: Values to scrub from any text about this webhook (resolved references, credential headers).
    secrets: tuple[str, ...] = dataclasses.field(default=(), repr=False)

    @property
    def host(self) -> str:
        """``host[:port]``: what logs and messages may show of the URL."""
        parts = urlsplit(self.url)
        return parts.hostname + (f":{parts.port}" if parts.port else "") if parts.hostname else "?"


@dataclasses.dataclass(frozen=True)
class NotifySettings:
    subscribe: tuple[str, ...]
    webhooks: tuple[WebhookSettings, ...]
    jsonl_path: Path | None
    jsonl_fsync: bool
    jsonl_binary: str
    jsonl_evidence: bool
    ledger_ttl_s: float
    max_retries: int
    retry_min_backoff_ms: int
    retry_max_backoff_ms: int

    @property
    def sink_names(self) -> list[str]:
        return ([JSONL_SINK] if self.jsonl_path else []) + [w.name for w in self.webhooks]


def parse(config: Mapping[str, Any], env: Mapping[str, str] | None = None) -> NotifySettings:
    """Check the plugin's table beyond its option types; resolve and register secrets."""
    where = "[plugins.notify]"
    subscribe = tuple(_patterns(config["subscribe"], f"{where} subscribe"))
    if not subscribe:
        raise ConfigError(f"{where} subscribe: give at least one pattern, e.g. {DEFAULT_SUBSCRIBE}")
    binary = _choice(config["jsonl_binary"], BINARY_MODES, f"{where} jsonl_binary")
    ttl = float(config["ledger_ttl_s"])
    if not ttl > 0:
        raise ConfigError(f"{where} ledger_ttl_s: must be > 0 seconds, got {config['ledger_ttl_s']!r}")
    for key, minimum in (("max_retries", 0), ("retry_min_backoff_ms", 1), ("retry_max_backoff_ms", 1)):
        if config[key] < minimum:
            raise ConfigError(f"{where} {key}: must be >= {minimum}, got {config[key]!r}")
    if config["retry_max_backoff_ms"] < config["retry_min_backoff_ms"]:
        raise ConfigError(f"{where} retry_max_backoff_ms ({config['retry_max_backoff_ms']}) is below "
                          f"retry_min_backoff_ms ({config['retry_min_backoff_ms']})")
    jsonl = config["jsonl_path"].strip()
    return NotifySettings(
        subscribe=subscribe,
        webhooks=tuple(_webhooks(config["webhooks"], env)),
        jsonl_path=Path(jsonl) if jsonl else None,
        jsonl_fsync=config["jsonl_fsync"],
        jsonl_binary=binary,
        jsonl_evidence=config["jsonl_evidence"],
        ledger_ttl_s=ttl,
        max_retries=config["max_retries"],
        retry_min_backoff_ms=config["retry_min_backoff_ms"],
        retry_max_backoff_ms=config["retry_max_backoff_ms"],
    )


def _webhooks(value: Any, env: Mapping[str, str] | None) -> list[WebhookSettings]:
    if isinstance(value, dict):
        items = list(value.items())
    else:  # a list: URL strings (from the environment) or tables with a name
        items = []
        for index, item in enumerate(value, 1):
            if isinstance(item, str):
                items.append((f"webhook{index}", {"url": item}))
            elif isinstance(item, dict) and "name" in item:
                items.append((item["name"], {k: v for k, v in item.items() if k != "name"}))
            else:
                raise ConfigError(f"[plugins.notify] webhooks[{index}]: expected a URL or a table with a name, "
                                  f"got {type(item).__name__}")
    out: list[WebhookSettings] = []
    for name, table in items:
        out.append(_webhook(name, table, env))
    names = [w.name for w in out]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(f"[plugins.notify] webhooks: name(s) {', '.join(duplicates)} given twice")
    return out


def _webhook(name: Any, table: Any, env: Mapping[str, str] | None) -> WebhookSettings:
    where = f"[plugins.notify.webhooks.{name}]"
    if not isinstance(name, str) or not _SINK_NAME.match(name) or name == JSONL_SINK:
        raise ConfigError(f"{where}: a webhook name must be lower-case letters, digits, '_' or '-' (it is a "
                          f"metric label and part of the delivery ledger key), and not {JSONL_SINK!r}")
    if isinstance(table, str):
        table = {"url": table}
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: expected a table (url = ..., headers = {{...}}), got {type(table).__name__}")
    unknown = set(table) - _WEBHOOK_KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}; "
                          f"known keys: {', '.join(sorted(_WEBHOOK_KEYS))}")
    if "url" not in table:
        raise ConfigError(f"{where} url is required (https://..., may embed ${{env:NAME}} or ${{file:/path}})")
    secrets: list[str] = []
    url, found = resolve_secrets(convert(table["url"], str, f"{where} url"), f"{where} url", env)
    secrets += found
    _check_url(url, where, secrets)
    headers: dict[str, str] = {}
    for key, raw in convert(table.get("headers", {}), dict, f"{where} headers").items():
        header_where = f"{where} headers.{key}"
        if not re.fullmatch(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+", key):
            raise ConfigError(f"{header_where}: not a valid HTTP header name")
        value, found = resolve_secrets(convert(raw, str, header_where), header_where, env)
        if "\r" in value or "\n" in value:
            raise ConfigError(f"{header_where}: a header value cannot contain a line break")
        if is_sensitive_header(key) and value:
            found.append(value)
        secrets += found
        headers[key] = value
    timeout = convert(table.get("timeout_s", 10.0), (int, float), f"{where} timeout_s")
    if not 0 < timeout <= 300:
        raise ConfigError(f"{where} timeout_s: must be in (0, 300] seconds, got {timeout!r}")
    ca_file = convert(table.get("ca_file", ""), str, f"{where} ca_file")
    if ca_file and not os.path.isfile(ca_file):
        raise ConfigError(f"{where} ca_file: no such file {ca_file}")
    types = tuple(_patterns(convert(table.get("types", []), list, f"{where} types"), f"{where} types"))
    binary = _choice(table.get("binary", "base64"), WEBHOOK_BINARY_MODES, f"{where} binary")
    link_base = convert(table.get("link_base", ""), str, f"{where} link_base")
    if (binary == "link") != bool(link_base) or (link_base and not link_base.startswith(("http://", "https://"))):
        raise ConfigError(f"{where} link_base: binary = \"link\" needs link_base, the http(s) URL prefix where "
                          f"the evidence is served (e.g. https://alerts.example.org/evidence/), and only then")
    for secret in secrets:
        mask_secret(secret)
    return WebhookSettings(
        name=name, url=url, headers=headers, timeout_s=float(timeout),
        verify_tls=convert(table.get("verify_tls", True), bool, f"{where} verify_tls"), ca_file=ca_file,
        types=types, binary=binary, link_base=link_base,
        secrets=tuple(dict.fromkeys(s for s in secrets if s)),
    )


def _check_url(url: str, where: str, secrets: list[str]) -> None:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise ConfigError(f"{where} url: not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{where} url: must be http:// or https:// with a host (got scheme "
                          f"{parts.scheme or 'none'!r})")
    if any(c.isspace() or ord(c) < 32 for c in url):
        raise ConfigError(f"{where} url: contains whitespace or control characters")
    # A credential in the URL itself (userinfo, or a token in the query) is a secret too.
    if parts.password:
        secrets.append(parts.password)
    if parts.username:
        secrets.append(parts.username)


def _patterns(values: Any, where: str) -> list[str]:
    out = []
    for value in values:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: patterns are strings, got {value!r}")
        try:
            out.append(validate_pattern(value.strip()))
        except ValueError as exc:
            raise ConfigError(f"{where}: {exc}") from None
    return out


def _choice(value: Any, choices: tuple[str, ...], where: str) -> str:
    if value not in choices:
        raise ConfigError(f"{where}: must be one of {', '.join(choices)}, got {value!r}")
    return value
