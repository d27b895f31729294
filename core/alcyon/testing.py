"""Test your plugin the way it runs: a pytest plugin shipped with alcyon.

::

    def test_alerts(alcyon_harness):
        h = alcyon_harness(my_plugin)                 # embedded; pass broker_url= for RabbitMQ
        h.publish(Event(type="ais.position", source="test", subject="227006760", data={...}))
        h.join()
        assert [e.type for e in h.published("geofence.*")] == ["geofence.entered"]
        assert h.dead_letters("geofence") == []

The harness runs the real runtime (routing, retries, dead letters, state), not a stand-in.
With ``broker_url`` it runs against RabbitMQ and deletes its processors' queues before and
after, so tests start clean.
"""

from __future__ import annotations

import threading
import uuid
from typing import Any, Iterable, Iterator, Mapping, Sequence

from .config import load_config
from .deadletters import DeadLetter
from .events import Event
from .plugins import PluginHost
from .runtime import Runtime
from .topics import matches


class Harness:
    """A started runtime with the given plugins, recording every event it publishes."""

    def __init__(self, *plugins: Any, broker_url: str = "", state_url: str = "",
                 settings: Mapping[str, Any] | None = None,
                 plugin_config: Mapping[str, Mapping[str, Any]] | None = None,
                 processors: Sequence[str] | None = None, threads: int = 2, start: bool = True) -> None:
        env = {"ALCYON_BROKER_URL": broker_url, "ALCYON_STATE_URL": state_url}
        config = load_config(env=env)
        defaults: dict[str, Any] = {"batch_linger_ms": 5}
        if broker_url:
            # An exchange of its own, so bindings left on a shared broker cannot leak in.
            defaults["exchange"] = f"alcyon.test.{uuid.uuid4().hex[:12]}"
        config = config.replace(**{**defaults, **(settings or {})})
        if plugin_config:
            config = type(config)(settings=config.settings, plugins={k: dict(v) for k, v in plugin_config.items()},
                                  disabled=config.disabled, path=None)
        self.host = PluginHost(config)
        for index, plugin in enumerate(plugins):
            name, obj = plugin if isinstance(plugin, tuple) else (getattr(plugin, "__name__", f"plugin{index}"), plugin)
            self.host.register(obj, name.rsplit(".", 1)[-1])
        self.host.validate()
        self.runtime = Runtime(config, self.host, processors=processors)
        self._lock = threading.Lock()
        self._published: list[Event] = []
        self.runtime.listeners.append(self._record)
        if not config.embedded:
            self.delete_queues()
        if start:
            self.runtime.start(threads)

    def _record(self, _event_type: str, events: Sequence[Event]) -> None:
        with self._lock:
            self._published.extend(events)

    def publish(self, *events: Event | Iterable[Event]) -> None:
        for item in events:
            for event in ([item] if isinstance(item, Event) else item):
                self.runtime.publish(event)

    def send_raw(self, routing_key: str, body: bytes) -> None:
        self.runtime.send_raw(routing_key, body).result(10)

    def join(self, timeout: float = 30.0) -> None:
        self.runtime.join(timeout)

    def published(self, pattern: str = "#") -> list[Event]:
        """Every event published so far (inputs and derived) whose type matches ``pattern``."""
        with self._lock:
            return [e for e in self._published if matches(pattern, e.type)]

    def dead_letters(self, processor: str) -> list[DeadLetter]:
        return self.runtime.dead_letters.records(f"alcyon.{processor}")

    def delete_queues(self) -> None:
        from dramatiq.common import dq_name, xq_name

        with self.runtime.broker.admin_channel() as channel:
            for p in self.runtime.processors:
                for queue in (p.queue, dq_name(p.queue), xq_name(p.queue)):
                    channel.queue_delete(queue)

    def close(self) -> None:
        self.runtime.stop(grace_s=5)
        if not self.runtime.config.embedded:
            self.delete_queues()
            if self.runtime.config.exchange.startswith("alcyon.test."):
                with self.runtime.broker.admin_channel() as channel:
                    channel.exchange_delete(self.runtime.config.exchange)


def _alcyon_harness() -> Iterator[Any]:
    """Factory: ``alcyon_harness(plugin, ..., broker_url="")`` -> a started :class:`Harness`, closed after the test."""
    harnesses: list[Harness] = []

    def make(*plugins: Any, **kwargs: Any) -> Harness:
        harness = Harness(*plugins, **kwargs)
        harnesses.append(harness)
        return harness

    yield make
    for harness in reversed(harnesses):
        harness.close()


try:  # the Harness works anywhere; the fixture exists when pytest loads this module as its plugin
    import pytest
except ImportError:  # pragma: no cover - alcyon installed without its test extra
    pass
else:
    alcyon_harness = pytest.fixture(_alcyon_harness, name="alcyon_harness")


class RedisServer:
    """A ``redis-server`` of a test's own on a free port, to stop and restart (outage tests).

    Append-only with an fsync per write: a :meth:`kill` (SIGKILL) loses nothing written, as a
    production Redis with AOF. Needs ``redis-server`` on the PATH.
    """

    def __init__(self, directory: str) -> None:
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.directory = directory
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._process: Any = None

    def start(self, timeout: float = 10.0) -> None:
        import socket
        import subprocess
        import time

        self._process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes",
             "--appendfsync", "always", "--dir", self.directory], stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        raise TimeoutError(f"redis-server on port {self.port} did not answer within {timeout}s")

    def kill(self) -> None:
        """SIGKILL, as a crash; :meth:`start` brings it back with its data."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait(timeout=10)
        self._process = None

    def __enter__(self) -> "RedisServer":
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.kill()
