"""``alcyon demo --broker``: the same demo in the distributed shape, on RabbitMQ.

This process runs the sources; one ``alcyon worker -p <plugin>`` subprocess per plugin runs
the processors (each ordered processor needs its own process anyway); a tap (an exclusive,
auto-deleted queue bound to ``#``) shows this process every event the workers derive, so the
display and the summary count what happened on the broker, not what was published here.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from alcyon.amqp import blocking_channel, parameters_from_config
from alcyon.codec import decode_batch
from alcyon.config import Config
from alcyon.errors import BrokerError, ConfigError
from alcyon.events import Event
from alcyon.logs import get_logger
from alcyon.topology import Topology

log = get_logger("alcyon.demo")

#: One worker process per plugin (notify and archive, the sinks, share one).
WORKER_GROUPS = ("geofence", "fire", "emissions", "notify,archive")


def worker_environment(config: Config, overlay: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """The workers' environment: the demo's plugin keys as ``ALCYON_<PLUGIN>__<KEY>`` (text, or JSON), which win
    over the user's file, the broker, no metrics endpoint of their own, JSON logs to their log file."""
    env = {**os.environ, "ALCYON_BROKER_URL": config.broker_url, "ALCYON_METRICS_PORT": "0",
           "ALCYON_LOG_FORMAT": "json", "ALCYON_LOG_LEVEL": "info"}
    if config.path is not None:
        env["ALCYON_CONFIG"] = str(config.path.resolve())
    for plugin, table in overlay.items():
        for key, value in table.items():
            env[f"ALCYON_{plugin.upper()}__{key.upper()}"] = value if isinstance(value, str) else json.dumps(value)
    return env


def refuse_busy_queues(config: Config, topology: Topology) -> None:
    """Messages already waiting would be counted as the demo's: say so rather than mix them in."""
    import pika.exceptions

    busy = []
    for queue in topology.queues:
        try:
            with blocking_channel(parameters_from_config(config)) as channel:
                depth = channel.queue_declare(queue, passive=True).method.message_count
        except pika.exceptions.ChannelClosedByBroker:  # not declared yet: nothing waits in it
            continue
        if depth:
            busy.append(f"{queue} ({depth})")
    if busy:
        raise ConfigError(f"alcyon demo --broker: queue(s) {', '.join(busy)} already hold messages, which would be "
                          "counted as the demo's; use an empty vhost (amqp://.../demo) or drain them first")


class Workers:
    """The worker subprocesses, their output in ``log_path``."""

    def __init__(self, env: Mapping[str, str], log_path: Path) -> None:
        self.log = log_path.open("ab")
        self.processes = [subprocess.Popen([sys.executable, "-m", "alcyon.cli", "worker", "-p", group],
                                           env=dict(env), stdout=self.log, stderr=subprocess.STDOUT,
                                           stdin=subprocess.DEVNULL)
                          for group in WORKER_GROUPS]

    def failed(self) -> list[str]:
        return [group for group, p in zip(WORKER_GROUPS, self.processes) if p.poll() not in (None, 0)]

    def stop(self, timeout: float = 30.0) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for process in self.processes:
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.log.close()


class Tap(threading.Thread):
    """Every event published on the exchange, handed to ``count(type, events)``."""

    def __init__(self, config: Config, count: Callable[[str, Sequence[Event]], None]) -> None:
        super().__init__(name="alcyon-demo-tap", daemon=True)
        self.config, self.count = config, count
        self.ready = threading.Event()
        self.last_seen = time.monotonic()
        self._halt = threading.Event()

    def run(self) -> None:
        with blocking_channel(parameters_from_config(self.config)) as channel:
            queue = channel.queue_declare("", exclusive=True, auto_delete=True).method.queue
            channel.queue_bind(queue, self.config.exchange, routing_key="#")
            self.ready.set()
            for method, _properties, body in channel.consume(queue, auto_ack=True, inactivity_timeout=0.2):
                if self._halt.is_set():
                    break
                if method is None:
                    continue
                self.last_seen = time.monotonic()
                try:
                    events = decode_batch(body, self.config.max_message_bytes)
                except Exception as exc:  # not ours to judge: the processors dead-letter it
                    log.debug("tap_undecodable", routing_key=method.routing_key, error=str(exc))
                    continue
                if events:
                    self.count(method.routing_key, events)
            channel.cancel()

    def stop(self) -> None:
        self._halt.set()
        self.join(5)


def wait_drained(config: Config, topology: Topology, tap: Tap, workers: Workers, quiet_s: float = 3.0,
                 timeout_s: float = 300.0) -> None:
    """Until the processors' queues are empty and nothing new went by for ``quiet_s`` (in-flight work
    is unacknowledged, not counted in a queue's depth: the quiet spell covers it)."""
    import pika.exceptions

    deadline = time.monotonic() + timeout_s
    try:
        with blocking_channel(parameters_from_config(config)) as channel:
            while time.monotonic() < deadline:
                if workers.failed():
                    raise ConfigError(f"demo worker(s) {', '.join(workers.failed())} exited: see {workers.log.name}")
                depth = sum(channel.queue_declare(q, passive=True).method.message_count for q in topology.queues)
                if depth == 0 and time.monotonic() - tap.last_seen >= quiet_s:
                    return
                time.sleep(0.3)
    except pika.exceptions.AMQPError as exc:
        raise BrokerError(f"alcyon demo --broker: lost RabbitMQ while the workers were processing ({exc!r}); "
                          "the summary would be partial: run it again") from None
    raise TimeoutError(f"the demo's workers did not drain their queues within {timeout_s:.0f} s")
