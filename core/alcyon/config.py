"""Configuration: a TOML file plus ``ALCYON_*`` environment variables, validated at start.

Every core key is declared once in :data:`SETTINGS` with its type, default and help (that
table is also what ``alcyon config check`` prints).  The environment wins over the file.
Secrets may come from files: ``ALCYON_BROKER_URL_FILE=/run/secrets/amqp`` reads the value
from that file (a mounted Kubernetes Secret), so it never sits in the process environment.

File layout::

    [alcyon]
    broker_url = "amqp://alcyon@rabbitmq:5672/"   # empty: embedded mode
    batch_linger_ms = 20

    [plugins]
    disabled = ["emissions"]

    [plugins.geofence]
    zones = "zones.geojson"

Plugin keys come from ``[plugins.<name>]`` and ``ALCYON_<NAME>__<KEY>`` (two underscores).
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from pathlib import Path
from typing import Any, Mapping, Sequence

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the same parser, as a package (a dependency there only)
    import tomli as tomllib

from .errors import ConfigError
from .redact import redact_url

ENV_PREFIX = "ALCYON_"


@dataclasses.dataclass(frozen=True)
class Setting:
    name: str
    type: type
    default: Any
    help: str
    secret: bool = False
    minimum: float | None = None
    choices: tuple[str, ...] | None = None

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.name.upper()


SETTINGS: tuple[Setting, ...] = (
    Setting("broker_url", str, "", "AMQP URL of RabbitMQ (amqp:// or amqps://); empty runs the embedded broker",
            secret=True),
    Setting("state_url", str, "", "keyed state store: redis://host:6379/0; empty keeps state in memory", secret=True),
    Setting("exchange", str, "alcyon.events", "the topic exchange events are published to"),
    Setting("batch_max_events", int, 500, "publish a batch when it holds this many events", minimum=1),
    Setting("batch_linger_ms", int, 20, "publish a partial batch after this many milliseconds", minimum=0),
    Setting("max_message_bytes", int, 16 * 1024 * 1024, "reject broker messages larger than this", minimum=1024),
    Setting("worker_threads", int, 4, "handler threads per worker process", minimum=1),
    Setting("worker_prefetch", int, 0, "messages prefetched per queue (0: 2 x worker_threads)", minimum=0),
    Setting("shutdown_grace_s", float, 25.0, "on SIGTERM, wait this long for in-flight work, then requeue it "
            "(keep below Kubernetes' terminationGracePeriodSeconds, 30 by default)", minimum=0),
    Setting("dead_letter_ttl_days", float, 0.0, "drop dead letters after this many days (0: keep until an "
            "operator acts)", minimum=0),
    Setting("rejected_input_max_bytes", int, 4096, "a source's rejected input is kept (dead-lettered) up to this "
            "many bytes; the rest is counted, not stored", minimum=64),
    Setting("metrics_host", str, "127.0.0.1", "address the Prometheus metrics endpoint binds to (0.0.0.0 in a pod)"),
    Setting("metrics_port", int, 9191, "port of the Prometheus metrics endpoint (0: no endpoint)", minimum=0),
    Setting("metrics_dir", str, "", "prometheus multiprocess directory, cleared at start (empty: a temporary one)"),
    Setting("log_level", str, "auto", "minimum log level (auto: warning on a terminal, info otherwise)",
            choices=("auto", "debug", "info", "warning", "error")),
    Setting("log_format", str, "auto", "json for machines, console for humans (auto: console on a terminal, "
            "json otherwise: pods, CI, files)", choices=("auto", "json", "console")),
    Setting("amqp_ca_file", str, "", "CA bundle to verify RabbitMQ's TLS certificate (amqps://)"),
    Setting("amqp_cert_file", str, "", "client certificate for TLS client authentication"),
    Setting("amqp_key_file", str, "", "client private key for TLS client authentication", secret=True),
)

_BY_NAME = {s.name: s for s in SETTINGS}


@dataclasses.dataclass(frozen=True)
class Config:
    """Validated configuration: core ``settings`` and per-plugin ``plugins`` tables."""

    settings: Mapping[str, Any]
    plugins: Mapping[str, Mapping[str, Any]] = dataclasses.field(default_factory=dict)
    disabled: frozenset[str] = frozenset()
    path: Path | None = None

    def __getattr__(self, name: str) -> Any:
        try:
            return self.settings[name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def embedded(self) -> bool:
        return not self.settings["broker_url"]

    def replace(self, **settings: Any) -> Config:
        return dataclasses.replace(self, settings={**self.settings, **settings})

    def describe(self) -> list[tuple[str, str, str]]:
        """(key, shown value, origin help) rows with secrets redacted."""
        rows = []
        for s in SETTINGS:
            value = self.settings[s.name]
            shown = redact_url(value) if s.secret and value else repr(value)
            rows.append((s.name, shown, s.help))
        return rows


def load_config(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Read the TOML file (``path``, else ``$ALCYON_CONFIG``, else ``./alcyon.toml`` if present) and the
    environment; raise :class:`ConfigError` naming the bad key and the expected form."""
    env = os.environ if env is None else env
    path = path or env.get("ALCYON_CONFIG") or ("alcyon.toml" if Path("alcyon.toml").exists() else None)
    document: dict[str, Any] = {}
    if path:
        path = Path(path)
        try:
            document = tomllib.loads(path.read_text())
        except FileNotFoundError:
            raise ConfigError(f"configuration file {path} does not exist (check --config or ALCYON_CONFIG)") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    unknown_tables = set(document) - {"alcyon", "plugins"}
    if unknown_tables:
        raise ConfigError(f"{path}: unknown table(s) {', '.join(sorted(unknown_tables))}; "
                          "expected [alcyon] and [plugins]")
    settings = _core_settings(document.get("alcyon", {}), env, path)
    plugins_doc = dict(document.get("plugins", {}))
    disabled = plugins_doc.pop("disabled", [])
    if not isinstance(disabled, list) or not all(isinstance(d, str) for d in disabled):
        raise ConfigError(f"{path}: [plugins] disabled must be a list of plugin names, e.g. [\"fire\"]")
    env_disabled = env.get("ALCYON_DISABLE_PLUGINS", "")
    disabled = set(disabled) | {d.strip() for d in env_disabled.split(",") if d.strip()}
    plugin_tables: dict[str, dict[str, Any]] = {}
    for name, table in plugins_doc.items():
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: plugins.{name} must be a table ([plugins.{name}])")
        plugin_tables[name] = dict(table)
    for key, value in env.items():
        if key.startswith(ENV_PREFIX) and "__" in key:
            plugin, _, option = key[len(ENV_PREFIX):].partition("__")
            plugin_tables.setdefault(plugin.lower(), {})[option.lower()] = _EnvString(value)
    return Config(settings=settings, plugins=plugin_tables, disabled=frozenset(disabled),
                  path=Path(path) if path else None)


class _EnvString(str):
    """A value read from the environment: still text, converted to the option's type."""


def _core_settings(table: Mapping[str, Any], env: Mapping[str, str], path: Any) -> dict[str, Any]:
    unknown = set(table) - set(_BY_NAME)
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) in [alcyon]: {', '.join(sorted(unknown))}; "
                          f"known keys: {', '.join(_BY_NAME)}")
    values: dict[str, Any] = {}
    for s in SETTINGS:
        value: Any = table.get(s.name, s.default)
        where = f"{path} [alcyon] {s.name}"
        if s.env + "_FILE" in env:
            secret_path = Path(env[s.env + "_FILE"])
            try:
                value = secret_path.read_text().strip()
            except OSError as exc:
                raise ConfigError(f"{s.env}_FILE: cannot read {secret_path}: {exc.strerror}") from None
            where = f"{s.env}_FILE"
        elif s.env in env:
            value = env[s.env]
            where = s.env
        values[s.name] = convert(value, s.type, where, minimum=s.minimum, choices=s.choices)
    return values


def convert(value: Any, expected: type | tuple[type, ...], where: str, *, minimum: float | None = None,
            choices: Sequence[Any] | None = None, maximum: float | None = None) -> Any:
    """Convert ``value`` (from TOML or the environment) to ``expected`` or raise a ConfigError naming ``where``."""
    types = expected if isinstance(expected, tuple) else (expected,)
    from_env = isinstance(value, str) and (where.startswith(ENV_PREFIX) or isinstance(value, _EnvString))
    result: Any = None
    for t in types:
        try:
            result = _convert_one(value, t, from_env)
            break
        except (TypeError, ValueError):
            continue
    else:
        names = " or ".join(t.__name__ for t in types)
        forms: dict[type, str] = {list: ' (in the environment: ["a", "b"] or a,b)',
                                  dict: ' (in the environment: {"key": "value"} or { key = "value" })'}
        hint = "".join(forms.get(t, "") for t in types) if from_env else ""
        raise ConfigError(f"{where}: expected {names}{hint}, got {value!r}")
    if minimum is not None and isinstance(result, (int, float)) and result < minimum:
        raise ConfigError(f"{where}: must be >= {minimum:g}, got {result!r}")
    if maximum is not None and isinstance(result, (int, float)) and result > maximum:
        raise ConfigError(f"{where}: must be <= {maximum:g}, got {result!r}")
    if choices is not None and result not in choices:
        raise ConfigError(f"{where}: must be one of {', '.join(map(str, choices))}, got {result!r}")
    return result


def _convert_one(value: Any, t: type, from_env: bool) -> Any:
    if t is bool:
        if isinstance(value, bool):
            return value
        if from_env and value.lower() in ("1", "true", "yes", "on", "0", "false", "no", "off"):
            return value.lower() in ("1", "true", "yes", "on")
        raise ValueError
    if t in (int, float):
        if isinstance(value, bool):
            raise TypeError
        if isinstance(value, (int, float)) and (t is float or isinstance(value, int)):
            return t(value)
        if from_env:
            return t(value)
        raise TypeError
    if t is list:
        if isinstance(value, list):
            return value
        if from_env:
            if value.lstrip().startswith("["):
                return _structured(value, list)
            return [v.strip() for v in value.split(",") if v.strip()]
        raise TypeError
    if t is dict:
        if isinstance(value, dict):
            return value
        if from_env:
            return _structured(value, dict)
        raise TypeError
    if isinstance(value, t):
        return str(value) if t is str else value
    raise TypeError


def _structured(text: str, kind: type) -> Any:
    """An environment value written as JSON or TOML (``["a", "b"]``, ``{"k": 1}``, ``{ k = 1 }``)."""
    try:
        value = json.loads(text)
    except ValueError:
        try:
            value = tomllib.loads(f"v = {text}")["v"]
        except tomllib.TOMLDecodeError:
            raise ValueError from None
    if not isinstance(value, kind):
        raise TypeError
    return value


def plugin_config(config: Config, plugin: str, options: Sequence[Any]) -> dict[str, Any]:
    """Validate the ``[plugins.<plugin>]`` table against the plugin's declared options."""
    table = dict(config.plugins.get(plugin, {}))
    known = {o.name for o in options}
    unknown = set(table) - known
    if unknown:
        hint = f"known keys: {', '.join(sorted(known))}" if known else "it accepts no keys"
        raise ConfigError(f"[plugins.{plugin}]: unknown key(s) {', '.join(sorted(unknown))}; {hint}")
    result: dict[str, Any] = {}
    for option in options:
        where = f"[plugins.{plugin}] {option.name} (or {ENV_PREFIX}{plugin.upper()}__{option.name.upper()})"
        if option.name in table:
            value = convert(table[option.name], option.type, where, minimum=option.minimum, maximum=option.maximum,
                            choices=option.choices)
            if option.check is not None:
                try:
                    option.check(value)
                except ValueError as exc:
                    raise ConfigError(f"{where}: {exc}, got {value!r}") from None
            result[option.name] = value
        elif option.required:
            raise ConfigError(f"{where} is required: {option.help}")
        else:
            result[option.name] = option.default
    return result
