"""``alcyon dlq``: look at dead letters and act on them."""

from __future__ import annotations

import argparse
import json
import math
import time
from typing import Any

import msgpack

from .amqp import AmqpPublisher, blocking_channel, parameters_from_config
from .config import Config
from .deadletters import AmqpDeadLetterStore, DeadLetter
from .errors import ConfigError
from .plugins import PluginHost


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
        self.processors = {p.name: p for p in [*host.sources(), *host.processors()]}
        self.parameters = parameters_from_config(config)
        self.publisher = AmqpPublisher(self.parameters, name="dlq")
        self.store = AmqpDeadLetterStore(self.publisher, lambda: blocking_channel(self.parameters))

    def queue(self, processor: str) -> str:
        if processor not in self.processors:
            raise ConfigError(f"unknown processor or source {processor!r}; installed: "
                              f"{', '.join(sorted(self.processors))}")
        return self.processors[processor].queue

    def replay(self, processor: str, ids: set[str] | None) -> list[DeadLetter]:
        queue = self.queue(processor)
        self.publisher.wait_connected()
        return self.store.take(queue, lambda r: ids is None or r.id in ids,
                               then=lambda r: self.publisher.publish("", queue, replay_body(r)).result(30))

    def purge(self, processor: str, ids: set[str] | None) -> list[DeadLetter]:
        return self.store.take(self.queue(processor), lambda r: ids is None or r.id in ids)

    def run(self, args: argparse.Namespace) -> int:
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

    def close(self) -> None:
        self.publisher.close(timeout=5)
