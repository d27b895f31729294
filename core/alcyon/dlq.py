"""``alcyon dlq``: look at dead letters and act on them."""

from __future__ import annotations

import argparse
import json
import math
import time
from typing import Any

import msgpack

from . import unrouted
from .amqp import AmqpPublisher, blocking_channel, parameters_from_config
from .codec import CONTENT_TYPE
from .config import Config
from .deadletters import AmqpDeadLetterStore, DeadLetter
from .errors import ConfigError
from .plugins import PluginHost
from .processors import Processor, Source
from .topology import Topology


def replay_body(record: DeadLetter) -> bytes:
    """The body to send back: the original message with its retry count reset (bytes as they were
    if they never decoded: replaying them only makes sense once the consumer has been fixed)."""
    try:
        message = msgpack.unpackb(record.body, raw=False)
        message["options"] = {k: v for k, v in message.get("options", {}).items()
                              if k not in ("retries", "traceback", "alcyon_error", "eta", "requeue_timestamp")}
        message["options"]["alcyon_replayed_from"] = record.id
        return msgpack.packb(message, use_bin_type=True)
    except Exception:
        return record.body


def printable(text: str) -> str:
    """``text`` with every non-printable character (ESC, CR, LF, C1, bidi controls...) escaped as ``\\xNN``."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


def json_safe(value: Any) -> Any:
    """``value`` as strict JSON can hold it: NaN and infinities as strings, bytes as their length."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # 'nan', 'inf', '-inf'
    if isinstance(value, (bytes, bytearray)):
        return f"<{len(value)} bytes>"
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


class DeadLetterAdmin:
    """The dead letters of the processors of an installation on RabbitMQ."""

    def __init__(self, config: Config, host: PluginHost) -> None:
        if config.embedded:
            raise ConfigError("alcyon dlq needs ALCYON_BROKER_URL: the embedded mode's dead letters live in the "
                              "`alcyon run` process and are logged there as `dead_lettered` lines")
        # processors and sources both keep dead letters, under <queue>.XQ
        installed: list[Processor | Source] = [*host.sources(), *host.processors()]
        self.processors = {p.name: p for p in installed}
        self.config = config
        self.routes = Topology.of(host.processors(), config.exchange)
        self.parameters = parameters_from_config(config)
        self.publisher = AmqpPublisher(self.parameters, name="dlq")
        self.store = AmqpDeadLetterStore(self.publisher, lambda: blocking_channel(self.parameters))

    def queue(self, processor: str) -> str:
        if processor not in self.processors:
            raise ConfigError(f"unknown processor or source {processor!r}; installed: "
                              f"{', '.join(sorted(self.processors))}, or {unrouted.NAME} (events no processor "
                              "subscribed to)")
        return self.processors[processor].queue

    def replay(self, processor: str, ids: set[str] | None) -> list[DeadLetter]:
        queue = self.queue(processor)
        self.publisher.wait_connected()
        return self.store.take(queue, lambda r: ids is None or r.id in ids,
                               then=lambda r: self.publisher.publish("", queue, replay_body(r)).result(30))

    def purge(self, processor: str, ids: set[str] | None) -> list[DeadLetter]:
        return self.store.take(self.queue(processor), lambda r: ids is None or r.id in ids)

    def run(self, args: argparse.Namespace) -> int:
        if args.processor == unrouted.NAME and unrouted.NAME not in self.processors:
            with blocking_channel(self.parameters) as channel:
                return self.run_unrouted(args, channel)
        queue = self.queue(args.processor)
        if args.dlq_command == "list":
            records = self.store.records(queue)
            for r in records:
                when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(r.dead_at)) if r.dead_at else "?"
                # every field came from a message: escaped, so none can move the cursor or fake a row
                print(f"{printable(r.id)}  {when}  {printable(r.reason):<17} attempts={r.attempts}  "
                      f"{printable(r.event_type or '-')}  {printable(r.event_id or '-')}  {printable(r.error[:100])}")
            print(f"{len(records)} dead letter(s) for {args.processor}")
            return 0
        if args.dlq_command == "show":
            for r in self.store.records(queue):
                if r.id == args.id:
                    out: dict[str, Any] = {**r.summary(), "traceback": r.traceback}
                    try:
                        out["message"] = msgpack.unpackb(r.body, raw=False)
                    except Exception:
                        out["body_hex"] = r.body[:4096].hex()
                    print(json.dumps(json_safe(out), indent=2, allow_nan=False))
                    return 0
            print(f"alcyon: error: no dead letter {printable(args.id)} for {args.processor} (see `alcyon dlq list`)")
            return 1
        ids = None if args.all else set(args.id)
        done = (self.replay if args.dlq_command == "replay" else self.purge)(args.processor, ids)
        verb = "replayed" if args.dlq_command == "replay" else "purged"
        print(f"{verb} {len(done)} dead letter(s) of {args.processor}")
        if ids is not None and len(done) < len(ids):
            missing = ids - {r.id for r in done}
            print(f"not found: {', '.join(sorted(missing))}")
            return 1
        return 0

    def run_unrouted(self, args: argparse.Namespace, channel: Any) -> int:
        """The same actions on ``alcyon.unrouted``; replay only what an installed processor now subscribes to."""
        if args.dlq_command in ("list", "show"):
            messages = [message for _, message in unrouted.fetch_all(channel)]
            if args.dlq_command == "show":
                for m in messages:
                    if m.id == args.id:
                        print(json.dumps({"id": m.id, "routing_key": m.routing_key, "events": list(m.events)},
                                         indent=2, default=lambda b: f"<{len(b)} bytes>"))
                        return 0
                print(f"alcyon: error: no unrouted message {args.id} (see `alcyon dlq list unrouted`)")
                return 1
            for m in messages:
                print(m.line())
            print(f"{len(messages)} unrouted message(s), {sum(len(m.events) for m in messages)} event(s), "
                  f"in {unrouted.UNROUTED}")
            return 0
        ids = None if args.all else set(args.id)
        chosen: list[unrouted.UnroutedMessage] = []

        def select(m: unrouted.UnroutedMessage) -> bool:
            if ids is not None and m.id not in ids:
                return False
            chosen.append(m)
            return args.dlq_command == "purge" or bool(self.routes.route(m.routing_key))

        def replay(m: unrouted.UnroutedMessage) -> None:
            self.publisher.publish(self.config.exchange, m.routing_key, m.body, content_type=CONTENT_TYPE).result(30)

        if args.dlq_command == "replay":
            self.publisher.wait_connected()
        done = unrouted.take(channel, select, replay if args.dlq_command == "replay" else lambda m: None)
        verb = "replayed" if args.dlq_command == "replay" else "purged"
        print(f"{verb} {len(done)} unrouted message(s)")
        kept = sorted({m.routing_key for m in chosen} - {m.routing_key for m in done})
        if kept:
            print(f"kept (no installed processor subscribes to them yet): {', '.join(kept)}")
        missing = ids - {m.id for m in chosen} if ids is not None else set()
        if missing:
            print(f"not found: {', '.join(sorted(missing))}")
        return 1 if kept or missing else 0

    def close(self) -> None:
        self.publisher.close(timeout=5)
