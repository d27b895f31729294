"""Configuration: validated at start, errors naming the key, secrets resolved from env and files."""

from __future__ import annotations

import pytest

import alcyon_notify.plugin
from alcyon.config import load_config
from alcyon.errors import ConfigError
from alcyon.plugins import PluginHost
from alcyon_notify.settings import OPTIONS, parse


def settings(**options):
    return parse({**{o.name: o.default for o in OPTIONS}, **options})


def host(env: dict[str, str] | None = None, plugins: dict | None = None) -> PluginHost:
    config = load_config(env=env or {})
    if plugins is not None:
        config = type(config)(settings=config.settings, plugins=plugins)
    h = PluginHost(config)
    h.register(alcyon_notify.plugin, "notify")
    return h.validate()


def test_defaults_subscribe_to_alerts_and_write_alerts_jsonl():
    [p] = host().processors()
    assert p.name == "notify" and p.subscribe == ("*.alert.#", "geofence.*")
    assert p.stateful and p.state_ttl_s == 7 * 86400
    assert p.max_retries == 14 and p.min_backoff_ms == 2000 and p.max_backoff_ms == 600_000
    assert p.description == "alerts -> jsonl"


def test_webhooks_and_options_from_the_environment(monkeypatch):
    env = {"ALCYON_NOTIFY__WEBHOOKS": "https://a.example.org/hook, https://b.example.org/hook",
           "ALCYON_NOTIFY__SUBSCRIBE": "fire.alert", "ALCYON_NOTIFY__JSONL_PATH": "",
           "ALCYON_NOTIFY__MAX_RETRIES": "3"}
    [p] = host(env).processors()
    assert p.subscribe == ("fire.alert",) and p.max_retries == 3
    assert p.description == "alerts -> webhook1, webhook2"


def test_a_webhook_table(tmp_path, monkeypatch):
    monkeypatch.setenv("HOOK_TOKEN", "t0ken")
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    (tmp_path / "url").write_text("https://hooks.example.org/services/T0/B0/XyZ\n")
    s = settings(webhooks={
        "rangers": {"url": "https://alerts.example.org/hook", "headers": {"Authorization": "Bearer ${env:HOOK_TOKEN}",
                                                                          "X-Note": "$${not a reference}"},
                    "timeout_s": 3, "verify_tls": True, "ca_file": str(ca), "types": ["geofence.*"]},
        "chat": {"url": "${file:%s}" % (tmp_path / "url"), "binary": "digest"},
    })
    rangers, chat = s.webhooks
    assert rangers.headers == {"Authorization": "Bearer t0ken", "X-Note": "${not a reference}"}
    assert rangers.timeout_s == 3.0 and rangers.types == ("geofence.*",) and rangers.host == "alerts.example.org"
    assert "t0ken" in rangers.secrets and "t0ken" not in repr(rangers)
    assert chat.url == "https://hooks.example.org/services/T0/B0/XyZ" and chat.binary == "digest"
    assert chat.url in chat.secrets and "XyZ" not in repr(chat)


@pytest.mark.parametrize(("options", "message"), [
    ({"webhooks": {"a": {"url": "ftp://x/"}}}, "[plugins.notify.webhooks.a] url: must be http:// or https://"),
    ({"webhooks": {"a": {}}}, "[plugins.notify.webhooks.a] url is required"),
    ({"webhooks": {"a": {"url": "https://x/", "token": "t"}}}, "unknown key(s) token"),
    ({"webhooks": {"Bad Name": {"url": "https://x/"}}}, "a webhook name must be lower-case"),
    ({"webhooks": {"jsonl": {"url": "https://x/"}}}, "and not 'jsonl'"),
    ({"webhooks": {"a": {"url": "https://x/", "timeout_s": 0}}}, "timeout_s: must be in (0, 300]"),
    ({"webhooks": {"a": {"url": "https://x/", "binary": "hex"}}}, "binary: must be one of base64, digest"),
    ({"webhooks": {"a": {"url": "https://x/", "binary": "link"}}}, 'link_base: binary = "link" needs link_base'),
    ({"webhooks": {"a": {"url": "https://x/", "link_base": "https://e/"}}}, "link_base: binary = "),
    ({"webhooks": {"a": {"url": "https://x/", "ca_file": "/nonexistent.pem"}}}, "ca_file: no such file"),
    ({"webhooks": {"a": {"url": "https://x/", "types": ["geofence..x"]}}}, "types: pattern"),
    ({"webhooks": {"a": {"url": "https://x/", "headers": {"X-A": "a\r\nInjected: 1"}}}}, "line break"),
    ({"webhooks": {"a": {"url": "https://x/", "headers": {"Authorization": "${env:NOTIFY_NOT_SET}"}}}},
     "[plugins.notify.webhooks.a] headers.Authorization: environment variable NOTIFY_NOT_SET"),
    ({"webhooks": {"a": {"url": "${file:/nonexistent/secret}"}}}, "cannot read secret file /nonexistent/secret"),
    ({"webhooks": {"a": {"url": "${vault:x}"}}}, "unknown reference ${vault:...}"),
    ({"webhooks": [{"url": "https://x/"}]}, "expected a URL or a table with a name"),
    ({"webhooks": ["https://x/", {"name": "webhook1", "url": "https://y/"}]}, "webhook1 given twice"),
    ({"subscribe": []}, "give at least one pattern"),
    ({"subscribe": ["fire.al ert"]}, "subscribe: pattern"),
    ({"jsonl_binary": "raw"}, "jsonl_binary: must be one of"),
    ({"ledger_ttl_s": 0}, "ledger_ttl_s: must be > 0"),
    ({"retry_min_backoff_ms": 1000, "retry_max_backoff_ms": 10}, "retry_max_backoff_ms (10) is below"),
])
def test_bad_configuration_names_the_key(options, message):
    with pytest.raises(ConfigError) as info:
        settings(**options)
    assert message in str(info.value)


def test_an_unknown_option_is_refused_at_validation():
    with pytest.raises(ConfigError, match=r"\[plugins.notify\]: unknown key\(s\) webhook;"):
        host(plugins={"notify": {"webhook": "https://x/"}})


def test_a_missing_secret_never_shows_a_value_and_a_present_one_is_not_in_the_error(monkeypatch):
    monkeypatch.setenv("NOTIFY_SECRET_X", "hunter2")
    with pytest.raises(ConfigError) as info:
        settings(webhooks={"a": {"url": "https://x/${env:NOTIFY_SECRET_X}", "headers": {"A": "${env:NOPE_NOPE}"}}})
    assert "hunter2" not in str(info.value) and "NOPE_NOPE" in str(info.value)


def test_the_jsonl_directory_is_checked_at_startup(tmp_path):
    with pytest.raises(ConfigError, match="jsonl_path: directory .* does not exist"):
        alcyon_notify.plugin.alcyon_startup({**{o.name: o.default for o in OPTIONS},
                                             "jsonl_path": str(tmp_path / "missing" / "alerts.jsonl")})
