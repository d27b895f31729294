"""What the health and source-silence bookkeeping adds on the hot paths, measured in one process.

Prints nanoseconds per call (best of 5 runs) and the ratio to the baseline run beside it:

- source path: the per-source event counter (``CountedPublish``) around a no-op publish (its own
  cost), and around ``Runtime.publish`` (embedded, no processors, default batching: events go
  unrouted) against ``Runtime.publish`` alone;
- worker path, per broker message: dramatiq's ``Message`` handed to nothing vs to the
  ``HandlerActivity`` middleware's before/after hooks (liveness: a handler stuck past its limit),
  plus the consumer heartbeat (one dict store of ``time.monotonic()``).

Usage: ``python bench/bench_health_overhead.py [--calls N]``. Figures only, never asserted.
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Callable

os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)  # the plain in-process registry


def best_ns(fn: Callable[[], None], calls: int, runs: int = 5) -> float:
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter_ns()
        fn()
        best = min(best, (time.perf_counter_ns() - started) / calls)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=200_000)
    calls = parser.parse_args().calls

    from dramatiq.message import Message

    from alcyon import Event
    from alcyon.config import load_config
    from alcyon.plugins import PluginHost
    from alcyon.processors import Source
    from alcyon.runtime import Runtime
    from alcyon_workers.health import HandlerActivity
    from alcyon_workers.runner import CountedPublish

    print(f"load average at start: {os.getloadavg()[0]:.2f} (other work on the machine blurs every figure)")
    config = load_config(env={"ALCYON_BATCH_MAX_EVENTS": "500", "ALCYON_BATCH_LINGER_MS": "20"})
    runtime = Runtime(config, PluginHost(config), processors=())
    source = Source(name="bench", publishes=("bench.tick",), run=lambda ctx: None, plugin="bench")
    event = Event(type="bench.tick", source="bench", subject="s", data={"n": 1})

    class Sink:  # isolates the wrapper: publish is a list append
        def __init__(self) -> None:
            self.events: list[Event] = []
            self.publish = self.events.append

    sink = Sink()
    counted_sink = CountedPublish(sink, source)  # type: ignore[arg-type]
    counted_runtime = CountedPublish(runtime, source)

    def loop(publish: Callable[[Event], None]) -> Callable[[], None]:
        def run() -> None:
            for _ in range(calls):
                publish(event)
            sink.events.clear()
        return run

    bare, wrapped = best_ns(loop(sink.publish), calls), best_ns(loop(counted_sink.publish), calls)
    baseline, measured = best_ns(loop(runtime.publish), calls), best_ns(loop(counted_runtime.publish), calls)
    counted_sink.flush()
    counted_runtime.flush()
    runtime.batcher.close(timeout=60)

    class Broker:  # what HandlerActivity asks of dramatiq's broker
        class _Actor:
            options = {"time_limit": 60_000}

        def get_actor(self, name: str) -> object:
            return self._Actor()

    broker, activity = Broker(), HandlerActivity()
    message = Message(queue_name="alcyon.bench", actor_name="bench", args=([],), kwargs={}, options={})
    beats: dict[str, float] = {}

    def no_hooks() -> None:
        for _ in range(calls):
            pass

    def hooks() -> None:
        before, after, monotonic = activity.before_process_message, activity.after_process_message, time.monotonic
        for _ in range(calls):
            beats["alcyon.bench"] = monotonic()
            before(broker, message)
            after(broker, message)

    empty = best_ns(no_hooks, calls)
    hooked = best_ns(hooks, calls)
    print(f"{'path':<46} {'baseline ns':>12} {'with it ns':>11} {'added ns':>9} {'ratio':>6}")
    print(f"{'source: counter around a no-op publish':<46} {bare:>12.0f} {wrapped:>11.0f} "
          f"{wrapped - bare:>9.0f} {'-':>6}")
    print(f"{'source: Runtime.publish (embedded, batching)':<46} {baseline:>12.0f} {measured:>11.0f} "
          f"{measured - baseline:>9.0f} {measured / baseline:>6.2f}")
    print(f"{'worker: one broker message (+ hooks, beat)':<46} {empty:>12.0f} {hooked:>11.0f} "
          f"{hooked - empty:>9.0f} {'-':>6}")
    print("A broker message carries a batch of up to batch_max_events (500) events: the worker-side cost is "
          "per message, not per event.")


if __name__ == "__main__":
    main()
