"""The HTTP endpoint of every alcyon process: ``/metrics``, ``/livez`` and ``/readyz``.

``/readyz`` answers 200 only while the process does its job: every consumer loop polled its
queue within ``READY_WITHIN_S`` (so its connection is up), the publisher is connected, and
the Redis state store answers PING (when a stateful processor runs). Otherwise 503, with one
line per problem. A stopping worker is not ready.

``/livez`` answers 503 only when restarting the process would help: a consumer or handler
thread died, a source crashed, a consumer loop stopped turning (no poll and no reconnection attempt within
``LIVE_WITHIN_S``: a broker outage alone keeps it live, since the loop keeps retrying), or a
handler has run far past its processor's time limit (``TimeLimit`` cannot interrupt C code).
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from dramatiq.middleware import Middleware

from alcyon.config import Config
from alcyon.metrics import registry
from alcyon.runtime import Runtime
from alcyon.services import check_state

#: A consumer loop polls every 100 ms when idle: older than this, it is not connected.
READY_WITHIN_S = 5.0
#: A consumer loop that neither polled nor tried to reconnect for this long is wedged.
LIVE_WITHIN_S = 60.0
#: Seconds a handler may run past its time limit before the worker counts as wedged.
BUSY_MARGIN_S = 60.0


class HandlerActivity(Middleware):
    """When each handler thread started its current message (to see one stuck past its time limit)."""

    def __init__(self) -> None:
        self.busy: dict[int, tuple[str, float, float]] = {}  # thread id -> (actor, started, limit s)

    def before_process_message(self, broker: Any, message: Any) -> None:
        limit = message.options.get("time_limit") or broker.get_actor(message.actor_name).options.get("time_limit")
        self.busy[threading.get_ident()] = (message.actor_name, time.monotonic(), (limit or 0) / 1000)

    def after_process_message(self, broker: Any, message: Any, *, result: Any = None,
                              exception: BaseException | None = None) -> None:
        self.busy.pop(threading.get_ident(), None)

    after_skip_message = after_process_message


class Health:
    """Readiness and liveness of one process, from its :class:`~alcyon.runtime.Runtime`."""

    def __init__(self, config: Config, runtime: Runtime | None = None, *, ready_within_s: float = READY_WITHIN_S,
                 live_within_s: float = LIVE_WITHIN_S, busy_margin_s: float = BUSY_MARGIN_S) -> None:
        self.config = config
        self.runtime = runtime
        self.ready_within_s, self.live_within_s, self.busy_margin_s = ready_within_s, live_within_s, busy_margin_s
        self.activity = HandlerActivity()
        self.crashed: set[str] = set()
        self._redis: Any = None
        if runtime is not None:
            runtime.broker.add_middleware(self.activity)
            if config.state_url.startswith(("redis://", "rediss://")) and any(p.stateful for p in runtime.processors):
                import redis

                self._redis = redis.Redis.from_url(config.state_url, socket_connect_timeout=2, socket_timeout=2)

    def source_crashed(self, name: str) -> None:
        """Called when a source's thread ended with an exception (a finished file replay is not a crash)."""
        self.crashed.add(name)

    def readiness(self) -> list[str]:
        """What keeps this process from being ready (empty: ready)."""
        runtime = self.runtime
        if runtime is None:
            return []
        if runtime.stopping:
            return ["stopping"]
        problems = []
        now = time.monotonic()
        for worker in runtime.workers:
            for queue in worker.consumers:
                polled = runtime.broker.polled.get(queue)
                if polled is None or now - polled > self.ready_within_s:
                    since = "never" if polled is None else f"{now - polled:.0f} s ago"
                    problems.append(f"consumer of {queue} not connected (last poll {since})")
        if not runtime.publisher_connected():
            problems.append("publisher not connected to RabbitMQ")
        if self._redis is not None:
            status = check_state(self.config.state_url, client=self._redis)
            if not status.ok:
                problems.append(f"{status.service} at {status.url}: {status.detail}")
        return problems

    def liveness(self) -> list[str]:
        """What restarting this process would cure (empty: live)."""
        runtime = self.runtime
        if runtime is None or runtime.stopping:
            return []
        problems = [f"source {name} crashed (see its source_crashed log line)" for name in sorted(self.crashed)]
        now = time.monotonic()
        for worker in runtime.workers:
            for queue, thread in worker.consumers.items():
                if not thread.is_alive():
                    problems.append(f"consumer thread of {queue} died")
                    continue
                beat = max(runtime.broker.polled.get(queue, 0.0), runtime.broker.attempted.get(queue, 0.0))
                if now - beat > self.live_within_s:
                    problems.append(f"consumer loop of {queue} stuck for {now - beat:.0f} s")
            dead = sum(not t.is_alive() for t in worker.workers)
            if dead:
                problems.append(f"{dead} handler thread(s) died")
        for actor, started, limit in list(self.activity.busy.values()):
            if limit and now - started > limit + self.busy_margin_s:
                problems.append(f"a handler of {actor} has run {now - started:.0f} s, past its time limit "
                                f"of {limit:g} s")
        return problems


def serve(config: Config, health: Health) -> ThreadingHTTPServer | None:
    """Serve ``/metrics``, ``/livez`` and ``/readyz`` on ``metrics_host:metrics_port`` (port 0: nothing)."""
    if not config.metrics_port:
        return None
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    metrics_registry = registry()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._reply(200, generate_latest(metrics_registry), CONTENT_TYPE_LATEST)
            elif path in ("/livez", "/readyz"):
                problems = health.liveness() if path == "/livez" else health.readiness()
                body = ("\n".join(problems) if problems else "ok") + "\n"
                self._reply(503 if problems else 200, body.encode(), "text/plain; charset=utf-8")
            else:
                self._reply(404, b"/metrics, /livez or /readyz\n", "text/plain; charset=utf-8")

        def _reply(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (http.server's name)
            """Probes every few seconds: no access log."""

    server = ThreadingHTTPServer((config.metrics_host, config.metrics_port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="alcyon-http", daemon=True).start()
    return server
