"""Start-up check of every configured service: RabbitMQ (credentials, vhost, TLS, topology) and Redis.

One module answers "can this process reach what its configuration names?" for the worker and
``alcyon ingest``/``alcyon publish`` start-up (fail fast instead of retrying forever), for
``alcyon config check --connect`` and for the chart's ``helm test`` pod, and for the worker's
readiness endpoint (Redis). Every failure names the service, the URL with its password
redacted, what happened and how to fix it.
"""

from __future__ import annotations

import dataclasses
import socket
import ssl
from typing import Any, Iterable
from urllib.parse import urlsplit

import pika
import pika.exceptions

from .config import Config
from .errors import AlcyonError, ServiceUnavailable
from .redact import redact_text, redact_url

#: Seconds each connection attempt may take before the service counts as unreachable.
DEFAULT_TIMEOUT_S = 5.0


@dataclasses.dataclass(frozen=True)
class ServiceStatus:
    """The outcome of checking one service (or one part of it, e.g. the topology)."""

    service: str
    url: str  # redacted
    ok: bool
    detail: str
    fix: str = ""

    def __str__(self) -> str:
        if self.ok:
            return f"{self.service} at {self.url}: OK ({self.detail})"
        return f"{self.service} at {self.url}: {self.detail}; fix: {self.fix}"


def check_broker(config: Config, *, timeout: float = DEFAULT_TIMEOUT_S,
                 topology: Any = None) -> list[ServiceStatus]:
    """Connect to RabbitMQ as the configuration says; with ``topology``, also look for its exchange and queues."""
    from .amqp import parameters_from_config

    url = redact_url(config.broker_url)
    status = _broker_status(url)
    try:
        params = parameters_from_config(config)
    except AlcyonError as exc:
        return [status(False, str(exc), "give ALCYON_BROKER_URL as amqp://user:password@host:5672/vhost")]
    except (OSError, ssl.SSLError) as exc:
        files = ", ".join(f"{k}={config.settings[k]!r}" for k in ("amqp_ca_file", "amqp_cert_file", "amqp_key_file")
                          if config.settings[k])
        return [status(False, f"TLS files cannot be loaded ({files}): {_plain(exc)}",
                       "mount the CA bundle (and client certificate/key) at those paths, or correct "
                       "ALCYON_AMQP_CA_FILE / ALCYON_AMQP_CERT_FILE / ALCYON_AMQP_KEY_FILE")]
    params.socket_timeout = timeout
    params.stack_timeout = timeout
    params.blocked_connection_timeout = timeout
    params.connection_attempts = 1
    where = f"{params.host}:{params.port}"
    try:
        connection = pika.BlockingConnection(params)
    except Exception as exc:  # every way a connection fails is reported, none escapes
        return [status(False, *_broker_failure(exc, params, where))]
    results = [status(True, f"connected to {where}, vhost {params.virtual_host!r}, user "
                            f"{params.credentials.username!r}")]
    try:
        if topology is not None:
            results.append(_check_topology(connection, topology, url))
    finally:
        try:
            connection.close()
        except Exception:  # already gone: nothing to release
            pass
    return results


def _broker_status(url: str) -> Any:
    def status(ok: bool, detail: str, fix: str = "") -> ServiceStatus:
        return ServiceStatus("RabbitMQ", url, ok, detail, fix)
    return status


def _broker_failure(exc: BaseException, params: pika.URLParameters, where: str) -> tuple[str, str]:
    """(what happened, how to fix it) for a failed RabbitMQ connection."""
    user, vhost = params.credentials.username, params.virtual_host
    if isinstance(exc, pika.exceptions.ProbableAuthenticationError):
        return (f"RabbitMQ refused the login of user {user!r} (wrong user or password)",
                "correct the user and password in ALCYON_BROKER_URL (or in the Secret mounted as "
                "ALCYON_BROKER_URL_FILE); `rabbitmqctl authenticate_user USER PASSWORD` checks them on the broker")
    if isinstance(exc, pika.exceptions.ProbableAccessDeniedError):
        return (f"user {user!r} may not open vhost {vhost!r} (it does not exist, or has no permissions for it)",
                f"create the vhost and grant the user access: `rabbitmqctl add_vhost {vhost}` and "
                f"`rabbitmqctl set_permissions -p {vhost} {user} '.*' '.*' '.*'`, or fix the vhost in the URL")
    cause = _root_cause(exc)
    if isinstance(cause, socket.gaierror):
        return (f"the host name {params.host!r} does not resolve ({_plain(cause)})",
                "correct the host in ALCYON_BROKER_URL (in a cluster: the RabbitMQ Service name)")
    if isinstance(cause, ssl.SSLError) or "SSL" in type(cause).__name__:
        return (f"TLS with {where} failed: {_plain(cause)}",
                "check that the port speaks TLS (5671 for amqps://, 5672 is plain amqp://) and that "
                "ALCYON_AMQP_CA_FILE is the CA that signed the broker's certificate")
    if isinstance(cause, ConnectionRefusedError):
        return (f"nothing accepts connections on {where} (connection refused)",
                "start RabbitMQ, or correct the host and port in ALCYON_BROKER_URL")
    if isinstance(cause, (TimeoutError, socket.timeout)) or "timeout" in str(cause).lower():
        return (f"no answer from {where} within the time allowed",
                "check that RabbitMQ runs and that the network (firewall, NetworkPolicy brokerTo/brokerPorts) "
                "lets this process reach it")
    return (f"cannot connect to {where}: {type(cause).__name__}: {_plain(cause)}",
            "check that RabbitMQ runs and that ALCYON_BROKER_URL is right")


def _check_topology(connection: Any, topology: Any, url: str) -> ServiceStatus:
    """Passive declarations of the exchange and every queue: what is missing, and the queues' state."""
    from dramatiq.common import xq_name

    missing: list[str] = []
    found: list[str] = []

    def passive(kind: str, name: str) -> Any:
        channel = connection.channel()
        try:
            if kind == "exchange":
                return channel.exchange_declare(name, passive=True)
            return channel.queue_declare(name, passive=True)
        except pika.exceptions.ChannelClosedByBroker as exc:
            if exc.reply_code != 404:
                raise
            missing.append(f"{kind} {name}")
            return None
        finally:
            if channel.is_open:
                channel.close()

    passive("exchange", topology.exchange)
    for queue in topology.queues:
        for name in (queue, xq_name(queue)):
            result = passive("queue", name)
            if result is not None and name == queue:
                found.append(f"{name} ({result.method.message_count} ready, "
                             f"{result.method.consumer_count} consumer(s))")
    if missing:
        return ServiceStatus("RabbitMQ topology", url, False, f"missing: {', '.join(missing)}",
                             "declare it with `alcyon topology --apply` (the chart's topology hook or init "
                             "container does it; check that it ran, with the same exchange setting)")
    return ServiceStatus("RabbitMQ topology", url, True,
                         f"exchange {topology.exchange}; queues {', '.join(found) or 'none'}")


def check_state(url: str, *, timeout: float = DEFAULT_TIMEOUT_S, client: Any = None) -> ServiceStatus:
    """PING the Redis state store at ``url`` (``client``: an already open one, e.g. for readiness probes)."""
    import redis

    shown = redact_url(url)
    try:
        client = client or redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
        client.ping()
    except ValueError as exc:
        return ServiceStatus("Redis", shown, False, f"not a Redis URL: {_scrub(str(exc), url)}",
                             "give ALCYON_STATE_URL as redis://[:password@]host:6379/db (rediss:// for TLS)")
    except (redis.AuthenticationError, redis.exceptions.AuthenticationWrongNumberOfArgsError) as exc:
        return ServiceStatus("Redis", shown, False, f"Redis refused the credentials: {_scrub(str(exc), url)}",
                             "correct the password (and user) in ALCYON_STATE_URL or its Secret")
    except redis.ResponseError as exc:  # NOAUTH, WRONGPASS on older servers
        return ServiceStatus("Redis", shown, False, f"Redis answered with an error: {_scrub(str(exc), url)}",
                             "give the password in ALCYON_STATE_URL (redis://:password@host:6379/db)")
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        return ServiceStatus("Redis", shown, False, f"cannot reach Redis: {_scrub(str(exc), url)}",
                             "start Redis, or correct host, port and db in ALCYON_STATE_URL; check that the "
                             "network (NetworkPolicy stateTo/statePorts) lets this process reach it")
    return ServiceStatus("Redis", shown, True, "PING answered")


def check_services(config: Config, *, timeout: float = DEFAULT_TIMEOUT_S,
                   topology: Any = None) -> list[ServiceStatus]:
    """Check every service the configuration names (none in the embedded mode without state_url)."""
    results: list[ServiceStatus] = []
    if not config.embedded:
        results += check_broker(config, timeout=timeout, topology=topology)
    if config.state_url and config.state_url != "memory://":
        results.append(check_state(config.state_url, timeout=timeout))
    return results


def require_services(config: Config, *, timeout: float = DEFAULT_TIMEOUT_S) -> list[ServiceStatus]:
    """:func:`check_services`, raising :class:`ServiceUnavailable` listing every failure (process start-up)."""
    results = check_services(config, timeout=timeout)
    failed = [r for r in results if not r.ok]
    if failed:
        raise ServiceUnavailable(failed)
    return results


def _root_cause(exc: BaseException) -> BaseException:
    """The socket or TLS error under pika's wrappers."""
    seen: set[int] = set()
    while id(exc) not in seen:
        seen.add(id(exc))
        inner: Iterable[Any] = (*exc.args, getattr(exc, "exception", None), exc.__cause__)
        nested = next((a for a in inner if isinstance(a, BaseException)), None)
        if nested is None:
            return exc
        exc = nested
    return exc


def _plain(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc)


def _scrub(text: str, url: str) -> str:
    """``text`` (a third-party error) without the password of ``url`` nor any URL credentials."""
    try:
        password = urlsplit(url).password or ""
    except ValueError:
        password = ""
    return redact_text(text, (password,))
