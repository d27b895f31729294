"""Test your plugin the way it runs: a pytest plugin shipped with alcyon.

::

    def test_alerts(alcyon_harness):
        h = alcyon_harness(my_plugin)                 # embedded; pass broker_url= for RabbitMQ
        h.publish(Event(type="ais.position", source="test", subject="227006760", data={...}))
        h.join()
        assert [e.type for e in h.published("geofence.*")] == ["geofence.entered"]
        assert h.dead_letters("geofence") == []

The harness runs the real runtime (routing, dead letters, state), not a stand-in, and fails
fast: the first error a handler raises is raised again by :meth:`Harness.join`, in the test,
with the handler's own traceback, at once (no retries, no backoff); ``fail_fast=False`` runs
the production retries instead, to test them. Each harness has its own state namespace (its
keyed state starts empty, even on a shared Redis, and is deleted at the end) and, with
``broker_url``, its own exchange; its processors' queues are deleted before and after.
"""

from __future__ import annotations

import sys
import threading
import time
import uuid
from importlib import metadata
from typing import Any, Iterable, Iterator, Mapping, Sequence

import dramatiq

from .config import load_config
from .deadletters import DeadLetter
from .errors import BadInput, ConfigError
from .events import Event
from .plugins import ENTRY_POINT_GROUP, PluginHost
from .processors import Processor
from .runtime import Runtime
from .state import KeyedState
from .topics import matches


class Harness:
    """A started runtime with the given plugins, recording every event it publishes.

    ``plugins`` are plugin objects (modules), or ``(name, plugin)`` pairs; a module without a
    name is named after its ``alcyon.plugins`` entry point if it has one, else after its package
    (``alcyon_power_budget.plugin`` -> ``power_budget``).
    """

    def __init__(self, *plugins: Any, broker_url: str = "", state_url: str = "",
                 settings: Mapping[str, Any] | None = None,
                 plugin_config: Mapping[str, Mapping[str, Any]] | None = None,
                 processors: Sequence[str] | None = None, threads: int = 2, start: bool = True,
                 fail_fast: bool = True, state_namespace: str | None = None) -> None:
        env = {"ALCYON_BROKER_URL": broker_url, "ALCYON_STATE_URL": state_url}
        config = load_config(env=env)
        defaults: dict[str, Any] = {"batch_linger_ms": 5}
        run_id = uuid.uuid4().hex[:12]
        if broker_url:
            # An exchange of its own, so bindings left on a shared broker cannot leak in.
            defaults["exchange"] = f"alcyon.test.{run_id}"
        config = config.replace(**{**defaults, **(settings or {})})
        if plugin_config:
            config = type(config)(settings=config.settings, plugins={k: dict(v) for k, v in plugin_config.items()},
                                  disabled=config.disabled, path=None)
        self.host = PluginHost(config)
        for plugin in plugins:
            name, obj = plugin if isinstance(plugin, tuple) else (plugin_name(plugin), plugin)
            self.host.register(obj, name.rsplit(".", 1)[-1])
        self.host.validate()
        #: ``None``: a namespace of this run only, deleted at close; a string shares state between harnesses.
        self._own_state = state_namespace is None
        prefix = f"test-{run_id}." if state_namespace is None else state_namespace
        self.runtime = Runtime(config, self.host, processors=processors, state_prefix=prefix)
        self.fail_fast = fail_fast
        self._closed = False
        self.runtime.retry_failures = not fail_fast
        self._lock = threading.Lock()
        self._published: list[Event] = []
        self._failures: list[tuple[Processor, Event, BaseException]] = []
        self._raised = 0
        self._tracker = _InFlight()
        self.runtime.broker.add_middleware(self._tracker)
        self.runtime.listeners.append(self._record)
        self.runtime.failure_listeners.append(self._failed)
        if not config.embedded:
            self.delete_queues()
        if start:
            self.runtime.start(threads)

    def _record(self, _event_type: str, events: Sequence[Event]) -> None:
        with self._lock:
            self._published.extend(events)

    def _failed(self, processor: Processor, event: Event, error: BaseException) -> None:
        if not isinstance(error, BadInput):  # bad input is dead-lettered on purpose: tests assert it
            with self._lock:
                self._failures.append((processor, event, error))

    def publish(self, *events: Event | Iterable[Event]) -> None:
        """Publish events (or iterables of events), batched like a source's; :meth:`join` waits for them."""
        for item in events:
            for event in ([item] if isinstance(item, Event) else item):
                self.runtime.publish(event)

    def send_raw(self, routing_key: str, body: bytes) -> None:
        """Publish bytes as they are, routed by ``routing_key`` (tests of undecodable input)."""
        self.runtime.send_raw(routing_key, body).result(10)

    def join(self, timeout: float = 30.0, settle_s: float = 0.1) -> None:
        """Wait until every event published so far is handled (and what it derived, and so on).

        With ``fail_fast`` (the default), the first handler error not raised yet is raised here,
        as soon as it happens. A timeout names what is still in a handler or queued.
        """
        deadline = time.monotonic() + timeout
        self.runtime.flush(timeout)
        while True:
            self._raise_failure()
            if self.runtime.idle():
                time.sleep(settle_s)
                self._raise_failure()
                if self.runtime.idle():
                    return
            if time.monotonic() >= deadline:
                raise TimeoutError(f"work not finished within {timeout}s: {self.pending()}")
            time.sleep(0.02)

    def _raise_failure(self) -> None:
        if not self.fail_fast:
            return
        with self._lock:
            if self._raised >= len(self._failures):
                return
            processor, event, error = self._failures[self._raised]
            self._raised = len(self._failures)  # one error per join: the first is what to fix
        if sys.version_info >= (3, 11):  # notes are Python 3.11's; 3.10 raises the error as it is
            error.add_note(f"raised by processor {processor.name!r} handling event {event.id} (type {event.type}, "
                           f"subject {event.subject}); the harness fails fast: pass fail_fast=False to "
                           "test retries and dead letters instead")
        raise error

    def pending(self) -> str:
        """What keeps the runtime busy: events in a handler (and for how long), queued messages, failures."""
        parts = [f"processor {name!r} has been handling event {event.id} (type {event.type}, subject "
                 f"{event.subject}) for {seconds:.1f}s" for name, event, seconds in self._tracker.running()]
        parts += [f"{count} message(s) queued for {queue}" for queue, count in self._queued().items() if count]
        with self._lock:
            if self._failures:
                processor, event, error = self._failures[-1]
                parts.append(f"last handler error: processor {processor.name!r} on event {event.id} (type "
                             f"{event.type}): {type(error).__name__}: {error} (retried with backoff: see "
                             "max_retries / min_backoff_ms)")
        return "; ".join(parts) or "nothing in a handler or queued (a source still publishing?)"

    def _queued(self) -> dict[str, int]:
        from dramatiq.common import dq_name

        queues = [q for p in self.runtime.processors for q in (p.queue, dq_name(p.queue))]
        if self.runtime.config.embedded:
            counts = {q: self.runtime.broker.queues[q].qsize() for q in queues if q in self.runtime.broker.queues}
            for worker in self.runtime._workers:  # delayed retries wait in their consumer, not the broker
                for queue, consumer in worker.consumers.items():
                    if queue in counts:
                        counts[queue] += consumer.delay_queue.qsize()
            return counts
        with self.runtime.broker.admin_channel() as channel:
            return {q: channel.queue_declare(q, passive=True).method.message_count for q in queues}

    def published(self, pattern: str = "#") -> list[Event]:
        """Every event published so far (inputs and derived) whose type matches ``pattern``."""
        with self._lock:
            return [e for e in self._published if matches(pattern, e.type)]

    def unrouted(self, pattern: str = "#") -> list[Event]:
        """The events published so far that no processor of this harness subscribes to (derived alerts
        nobody consumes, for instance): in production they wait in ``alcyon.unrouted``."""
        return [e for e in self.published(pattern) if not self.runtime.topology.route(e.type)]

    def failures(self) -> list[tuple[str, Event, BaseException]]:
        """Every handler error so far: (processor, event, error)."""
        with self._lock:
            return [(p.name, e, error) for p, e, error in self._failures]

    def dead_letters(self, processor: str) -> list[DeadLetter]:
        """What ``processor`` dead-lettered (``reason``, ``error``, ``traceback``, ``attempts``, ``body``)."""
        return self.runtime.dead_letters.records(f"alcyon.{processor}")

    def state(self, processor: str) -> KeyedState:
        """The keyed state of ``processor`` in this harness (``.get(subject)``, ``.subjects()``, ``.clear()``)."""
        for p in self.runtime.processors:
            if p.name == processor:
                if not p.stateful:
                    raise ConfigError(f"processor {processor!r} has no state: declare it with "
                                      "Processor(..., stateful=True)")
                return self.runtime.keyed_state(p)
        raise ConfigError(f"no processor {processor!r} in this harness; running: "
                          f"{', '.join(p.name for p in self.runtime.processors) or 'none'}")

    def reset_state(self, processor: str | None = None) -> int:
        """Forget every subject of ``processor`` (default: of every stateful processor); how many."""
        names = [processor] if processor else [p.name for p in self.runtime.processors if p.stateful]
        return sum(self.state(name).clear() for name in names)

    def delete_queues(self) -> None:
        """Delete this harness's processor queues on RabbitMQ (done before and after a run)."""
        from dramatiq.common import dq_name, xq_name

        with self.runtime.broker.admin_channel() as channel:
            for p in self.runtime.processors:
                for queue in (p.queue, dq_name(p.queue), xq_name(p.queue)):
                    channel.queue_delete(queue)

    def close(self) -> None:
        """Stop the runtime; delete its own state namespace, queues and exchange (the fixture does it;
        a test may close earlier, e.g. before the services it started go away)."""
        if self._closed:
            return
        self._closed = True
        self.runtime.stop(grace_s=5)
        if self._own_state and any(p.stateful for p in self.runtime.processors):
            self.reset_state()
        if not self.runtime.config.embedded:
            self.delete_queues()
            if self.runtime.config.exchange.startswith("alcyon.test."):
                with self.runtime.broker.admin_channel() as channel:
                    channel.exchange_delete(self.runtime.config.exchange)


class _InFlight(dramatiq.Middleware):
    """Which events are in a handler right now, since when (for the messages of :meth:`Harness.join`)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: dict[str, tuple[str, list[Any], float]] = {}

    def before_process_message(self, broker: Any, message: Any) -> None:
        with self._lock:
            self._running[message.message_id] = (message.actor_name, list(message.args[0]) if message.args else [],
                                                 time.monotonic())

    def after_process_message(self, broker: Any, message: Any, *, result: Any = None,
                              exception: BaseException | None = None) -> None:
        with self._lock:
            self._running.pop(message.message_id, None)

    after_skip_message = after_process_message

    def running(self) -> list[tuple[str, Event, float]]:
        now = time.monotonic()
        out = []
        with self._lock:
            items = list(self._running.values())
        for actor, raws, started in items:
            for raw in raws[:3]:
                try:
                    out.append((actor, Event.from_dict(raw), now - started))
                except Exception:  # undecodable: the runner dead-letters it
                    continue
        return out


def plugin_name(plugin: Any) -> str:
    """The name a plugin object registers under: its entry point's, else its package's."""
    module = getattr(plugin, "__name__", None)
    if not isinstance(module, str):
        return type(plugin).__name__.lower()
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if ep.value.split(":")[0] == module:
            return ep.name
    parts = module.split(".")
    if len(parts) > 1 and parts[-1] in ("plugin", "plugins", "hooks"):
        parts.pop()
    return parts[-1].removeprefix("alcyon_")


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
