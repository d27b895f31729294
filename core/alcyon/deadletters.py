"""Dead letters you can act on.

dramatiq's own dead-lettering (a nack into ``<queue>.XQ``) keeps the message but not why it
failed, and expires it after 7 days.  alcyon writes the record itself: the original bytes,
the processor, a bounded ``reason``, the error type and message, the attempt count and the
time, as AMQP headers on a message in the processor's ``.XQ`` queue — kept until an
operator acts (``alcyon dlq list|show|replay|purge``) unless ``dead_letter_ttl_days`` is set.

Records that are not waited for (a source's rejected inputs: a noisy receiver sends them by
the thousand) travel in bundles: one message holds up to ``BUNDLE_MAX`` records gathered
within ``BUNDLE_LINGER_S``, since RabbitMQ spends ~80 µs of CPU on every small persistent
message.  Reading tools expand bundles, so each record is still listed, shown, replayed and
purged on its own.
"""

from __future__ import annotations

import dataclasses
import threading
import time
import uuid
from concurrent.futures import Future
from typing import Any, Callable, Iterator

import msgpack
from dramatiq.common import xq_name

from .metrics import metrics

MAX_ERROR_CHARS = 2000
MAX_TRACEBACK_CHARS = 8000
_HEADER = "x-alcyon-"
#: Header of a bundle message (its value: the number of records); body: msgpack [[headers, body], ...].
BUNDLE_HEADER = _HEADER + "bundle"
BUNDLE_MAX = 200
BUNDLE_LINGER_S = 0.2


@dataclasses.dataclass(frozen=True)
class DeadLetter:
    """One input that will not be processed without an operator."""

    processor: str
    queue: str
    reason: str
    error: str
    body: bytes
    attempts: int = 1
    dead_at: float = dataclasses.field(default_factory=time.time)
    event_id: str | None = None
    event_type: str | None = None
    traceback: str = ""
    id: str = dataclasses.field(default_factory=lambda: str(uuid.uuid4()))

    @property
    def dead_letter_queue(self) -> str:
        return xq_name(self.queue)

    def headers(self) -> dict[str, Any]:
        headers = {_HEADER + name.replace("_", "-"): getattr(self, name) for name in _HEADER_FIELDS}
        headers[_HEADER + "error"] = self.error[:MAX_ERROR_CHARS]
        headers[_HEADER + "traceback"] = self.traceback[-MAX_TRACEBACK_CHARS:]
        # AMQP tables carry no floats through pika: times travel as text
        headers[_HEADER + "dead-at"] = repr(self.dead_at)
        return {k: v for k, v in headers.items() if v is not None}

    @classmethod
    def from_headers(cls, body: bytes, headers: dict[str, Any] | None, *, queue: str) -> DeadLetter:
        """Rebuild a record; a plain dramatiq dead letter (no alcyon headers) is described as such."""
        headers = headers or {}
        values = {k[len(_HEADER):].replace("-", "_"): v for k, v in headers.items() if k.startswith(_HEADER)}
        if not values:
            return cls(processor=queue.removeprefix("alcyon."), queue=queue, reason="unknown",
                       error="dead-lettered by the broker without an alcyon record", body=body, attempts=0,
                       dead_at=0.0, id=f"raw-{uuid.uuid5(uuid.NAMESPACE_OID, body.hex()[:4096])}")
        values = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in values.items()}
        values["attempts"] = int(values.get("attempts", 0))
        values["dead_at"] = float(values.get("dead_at", 0))
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(body=body, **{k: v for k, v in values.items() if k in known})

    def summary(self) -> dict[str, Any]:
        """What ``alcyon dlq list`` shows (no payload)."""
        out = dataclasses.asdict(self)
        out.pop("body")
        out.pop("traceback")
        out["bytes"] = len(self.body)
        return out


#: Every field but the body travels as an ``x-alcyon-<field>`` header.
_HEADER_FIELDS = tuple(f.name for f in dataclasses.fields(DeadLetter) if f.name != "body")


class DeadLetterStore:
    """Where dead letters go; :meth:`put` returns only once the record is durable."""

    def put(self, record: DeadLetter, *, wait: bool = True) -> None:
        """Keep ``record``; with ``wait`` (the default) return only once it is durable."""
        self._write(record, wait)
        metrics().dead_letters.labels(record.processor, record.reason).inc()

    def _write(self, record: DeadLetter, wait: bool) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def flush(self, timeout: float = 30.0) -> None:
        """Return once every record put so far (waited for or not) is durable."""

    def records(self, queue: str) -> list[DeadLetter]:  # pragma: no cover - abstract
        raise NotImplementedError

    def take(self, queue: str, select: Callable[[DeadLetter], bool],
             then: Callable[[DeadLetter], None] = lambda record: None) -> list[DeadLetter]:
        """Remove and return the records of ``queue`` that ``select`` picks.

        ``then`` runs on each picked record *before* it is removed (a replay publishes it
        first): if it raises, that record and the ones after it stay.
        """
        raise NotImplementedError  # pragma: no cover - abstract


class MemoryDeadLetterStore(DeadLetterStore):
    """The embedded mode's dead letters, kept in this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_queue: dict[str, list[DeadLetter]] = {}

    def _write(self, record: DeadLetter, wait: bool) -> None:
        with self._lock:
            self._by_queue.setdefault(record.queue, []).append(record)

    def records(self, queue: str) -> list[DeadLetter]:
        with self._lock:
            return list(self._by_queue.get(queue, ()))

    def take(self, queue: str, select: Callable[[DeadLetter], bool],
             then: Callable[[DeadLetter], None] = lambda record: None) -> list[DeadLetter]:
        taken = []
        for record in self.records(queue):
            if select(record):
                then(record)
                with self._lock:
                    self._by_queue[queue] = [r for r in self._by_queue[queue] if r.id != record.id]
                taken.append(record)
        return taken

    def __iter__(self) -> Iterator[DeadLetter]:
        with self._lock:
            return iter([r for records in self._by_queue.values() for r in records])


class AmqpDeadLetterStore(DeadLetterStore):
    """Dead letters as messages in each processor's ``.XQ`` queue on RabbitMQ."""

    def __init__(self, publisher: Any, channel_factory: Callable[[], Any], timeout: float = 30.0) -> None:
        self._publisher = publisher
        self._channel_factory = channel_factory
        self._timeout = timeout
        self._lock = threading.Lock()
        self._bundles: dict[str, list[DeadLetter]] = {}  # dead-letter queue -> records not sent yet
        self._sent: list[Future] = []  # bundles not confirmed yet (flush waits for them)
        self._timer: threading.Timer | None = None

    def _write(self, record: DeadLetter, wait: bool) -> None:
        if wait:
            self._publish(record.dead_letter_queue, [record]).result(self._timeout)
            return
        with self._lock:
            bundle = self._bundles.setdefault(record.dead_letter_queue, [])
            bundle.append(record)
            full = len(bundle) >= BUNDLE_MAX
            if not full and self._timer is None:
                self._timer = threading.Timer(BUNDLE_LINGER_S, self._send_bundles)
                self._timer.daemon = True
                self._timer.start()
        if full:
            self._send_bundles()

    def _send_bundles(self) -> None:
        with self._lock:
            bundles, self._bundles = self._bundles, {}
            timer, self._timer = self._timer, None
            self._sent = [f for f in self._sent if not f.done()]
            for queue, records in bundles.items():
                self._sent.append(self._publish(queue, records))
        if timer is not None:
            timer.cancel()

    def _publish(self, queue: str, records: list[DeadLetter]) -> Future:
        if len(records) == 1:
            return self._publisher.publish("", queue, records[0].body, headers=records[0].headers())
        body = msgpack.packb([[r.headers(), r.body] for r in records], use_bin_type=True)
        return self._publisher.publish("", queue, body, headers={BUNDLE_HEADER: len(records)})

    def flush(self, timeout: float = 30.0) -> None:
        self._send_bundles()
        with self._lock:
            sent = list(self._sent)
        for future in sent:
            future.result(timeout)

    def records(self, queue: str) -> list[DeadLetter]:
        """Browse without removing: fetch every message unacked, then give them all back."""
        with self._channel_factory() as channel:  # closing it gives the messages back, in order
            return [record for _, group in _fetch_all(channel, queue) for record in group]

    def take(self, queue: str, select: Callable[[DeadLetter], bool],
             then: Callable[[DeadLetter], None] = lambda record: None) -> list[DeadLetter]:
        with self._channel_factory() as channel:
            taken = []
            for tag, group in _fetch_all(channel, queue):
                picked = [record for record in group if select(record)]
                if not picked:
                    continue
                done: list[DeadLetter] = []
                try:
                    for record in picked:
                        then(record)
                        done.append(record)
                finally:
                    if done:
                        # the rest of a bundle goes back as a bundle of its own before this one goes
                        done_ids = {id(record) for record in done}
                        rest = [record for record in group if id(record) not in done_ids]
                        if rest:
                            self._publish(xq_name(queue), rest).result(self._timeout)
                        channel.basic_ack(delivery_tag=tag)
                        taken.extend(done)
            return taken  # closing the channel gives back what was not acked


def _fetch_all(channel: Any, queue: str) -> Iterator[tuple[int, list[DeadLetter]]]:
    """Every message of ``queue``'s dead letters, fetched unacknowledged: its delivery tag and its
    record(s) (a bundle holds several)."""
    while True:
        method, props, body = channel.basic_get(xq_name(queue), auto_ack=False)
        if method is None:
            return
        headers = props.headers or {}
        if BUNDLE_HEADER in headers:
            group = [DeadLetter.from_headers(raw, fields, queue=queue) for fields, raw in msgpack.unpackb(body)]
        else:
            group = [DeadLetter.from_headers(body, headers, queue=queue)]
        yield method.delivery_tag, group
