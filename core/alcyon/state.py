"""Keyed state: per-subject memory for processors, with atomic read-modify-write.

Processors run in several dramatiq worker processes, on several machines, and receive
events *at least once*. Two consequences shape this module.

**Atomic read-modify-write across processes.** Two workers may handle events of the same
subject at the same moment. :class:`RedisStateStore` is optimistic: ``MGET`` the keys (one
round trip for the whole batch), compute the new records in Python, then send one Lua
script that writes every changed record only if none of the keys read has changed since
(it compares each one with the bytes read). If another client changed one in between,
nothing is written and the whole computation is re-run on fresh values, after a short
jittered pause. Optimistic rather than a lock, because a lock held by a SIGKILLed worker has
to expire, and then two holders can overlap; a compare-and-set script rather than
``WATCH``/``MULTI``/``EXEC``, because it costs two round trips instead of three and linear
rather than quadratic server time in the number of keys. A batch costs two round trips
whatever its number of events (up to 512 distinct keys per transaction). A batch that keeps
conflicting is split into halves, each committed atomically on its own, so that a big batch
does not starve against small ones.

**Exactly-once effect of at-least-once delivery.** A worker can be killed after the commit but
before it acks the message (or the commit's reply can be lost on the network); the message
then comes back. :class:`KeyedState` therefore keeps, in each subject's record, a bounded
map from the ids of recently applied events to the derived events they produced. A
redelivered event is recognised there: the processor function is not called again (the
update is not applied twice) and the stored derived events are returned, with the same
ids, to be re-published; sinks deduplicate by id. The same map is what makes it safe for the
store to retry after an ambiguous commit and to commit a split batch group by group: whatever
part was already committed is recognised when it comes round again.

**Event time.** Each record keeps the latest event time applied to it. An older event is
passed to the processor function with ``stale=True`` (to ignore or to merge: its choice);
the stored time never goes backwards.

Values are msgpack (``bytes`` and aware ``datetime`` allowed), never pickle: a store shared by
many processes must not run code found in what it reads. :class:`MemoryStateStore` stores the
same msgpack bytes, so the embedded mode has the same semantics (no aliasing of stored
values, same serialisation errors) as the distributed one.
"""

from __future__ import annotations

import abc
import random
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterable, Mapping, Sequence, TypeVar
from urllib.parse import urlsplit

import msgpack
import redis

from .errors import ConfigError, StateConflict, StateError
from .events import Event
from .redact import redact_url

__all__ = [
    "KEY_PREFIX",
    "KeyedRecord",
    "KeyedState",
    "MemoryStateStore",
    "RedisStateStore",
    "StateConflict",
    "StateError",
    "StateStore",
    "open_state_store",
    "redact_url",
]

#: Every state key is ``alcyon:state:{namespace}:{key}``.
KEY_PREFIX = "alcyon:state"

T = TypeVar("T")

#: ``fn(records) -> (writes, result)``: ``records`` maps each key to its value (``None`` when
#: absent); ``writes`` maps the keys to change to their new value (``None`` deletes).
Updater = Callable[[dict[str, Any]], tuple[Mapping[str, Any], T]]

#: The backend-level form of an :data:`Updater`, on full keys and msgpack bytes.
_Step = Callable[[list[str], list[bytes | None]], tuple[dict[str, bytes | None], T]]

#: ``fn(value, event, stale) -> (new_value, derived_events)``, see :meth:`KeyedState.apply`.
Transition = Callable[[Any, Event, bool], tuple[Any, Sequence[Event]]]
#: ``fn(values by subject, fresh events) -> (new values by subject, derived events by cause id)``
BatchTransition = Callable[[dict[str, Any], list[Event]], tuple[Mapping[str, Any], Mapping[str, Sequence[Event]]]]


class StateStore(abc.ABC):
    """Records keyed by ``(namespace, key)``, with atomic batched read-modify-write.

    The backends only move msgpack bytes; validation, serialisation and the key layout
    live here.
    """

    def update(self, namespace: str, keys: Iterable[str], fn: Updater[T], *,
               ttl: float | None = None) -> list[T]:
        """Atomically read ``keys``, call ``fn`` on their values, write what it returns.

        ``fn`` must be pure: it is re-run on fresh values when a concurrent writer wins,
        including after a lost commit reply (the commit may have happened: make the update
        recognisable, as :class:`KeyedState` does). Under sustained contention the keys may
        be split into groups, each committed atomically on its own with ``fn`` called on its
        subset, so ``fn`` must treat keys independently. Returns ``fn``'s result of every
        committed group (one item unless split). ``ttl`` (seconds) applies to every key written.
        """
        prefix = _key_prefix(namespace)
        names = list(dict.fromkeys(_check_key(key) for key in keys))
        if not names:
            return []
        px = _ttl_ms(ttl)

        def step(group: list[str], raws: list[bytes | None]) -> tuple[dict[str, bytes | None], T]:
            records = {full[len(prefix):]: _unpack(full, raw) for full, raw in zip(group, raws)}
            writes, result = fn(records)
            packed: dict[str, bytes | None] = {}
            for name, value in writes.items():
                if name not in records:
                    raise ValueError(f"the update function wrote state key {name!r}, which it was not given")
                packed[prefix + name] = None if value is None else _pack(prefix + name, value)
            return packed, result

        return self._transact([prefix + name for name in names], step, px)

    def get(self, namespace: str, key: str) -> Any:
        """The value stored at ``key``, or ``None``."""
        full = _key_prefix(namespace) + _check_key(key)
        return _unpack(full, self._read(full))

    def delete(self, namespace: str, key: str) -> bool:
        """Remove ``key``; whether it existed."""
        return self._remove(_key_prefix(namespace) + _check_key(key))

    def keys(self, namespace: str) -> list[str]:
        """Every key of ``namespace`` (inspection and tests: Redis walks them with ``SCAN``)."""
        prefix = _key_prefix(namespace)
        return sorted(full[len(prefix):] for full in self._scan(prefix))

    def clear(self, namespace: str) -> int:
        """Delete every key of ``namespace``; how many there were."""
        prefix = _key_prefix(namespace)
        return sum(self._remove(full) for full in list(self._scan(prefix)))

    def close(self) -> None:  # noqa: B027 - a deliberate no-op default; stores with connections override it
        """Release connections (no-op for the memory store)."""

    @abc.abstractmethod
    def _scan(self, prefix: str) -> Iterable[str]:
        """The full keys starting with ``prefix``."""

    @abc.abstractmethod
    def _transact(self, keys: list[str], step: _Step[T], px: int | None) -> list[T]:
        """Run ``step`` on the raw values of ``keys`` (or of groups of them) and commit its writes."""

    @abc.abstractmethod
    def _read(self, key: str) -> bytes | None:
        """The raw value of one full key."""

    @abc.abstractmethod
    def _remove(self, key: str) -> bool:
        """Delete one full key; whether it existed."""


class MemoryStateStore(StateStore):
    """The in-process store of the embedded mode; thread-safe (one lock, held during ``fn``)."""

    _SWEEP_INTERVAL = 1.0  # seconds between purges of expired keys that nobody reads again

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._data: dict[str, bytes] = {}
        self._deadlines: dict[str, float] = {}  # time.monotonic() expiry of the keys with a TTL
        self._next_sweep = time.monotonic() + self._SWEEP_INTERVAL

    def __repr__(self) -> str:
        return "MemoryStateStore()"

    def _transact(self, keys: list[str], step: _Step[T], px: int | None) -> list[T]:
        with self._lock:
            now = time.monotonic()
            writes, result = step(keys, [self._live(key, now) for key in keys])
            for key, raw in writes.items():
                self._drop(key)
                if raw is not None:
                    self._data[key] = raw
                    if px is not None:
                        self._deadlines[key] = now + px / 1000
            if now >= self._next_sweep:
                for key in [k for k, deadline in self._deadlines.items() if deadline <= now]:
                    self._drop(key)
                self._next_sweep = now + self._SWEEP_INTERVAL
            return [result]

    def _read(self, key: str) -> bytes | None:
        with self._lock:
            return self._live(key, time.monotonic())

    def _scan(self, prefix: str) -> Iterable[str]:
        with self._lock:
            now = time.monotonic()
            return [key for key in list(self._data) if key.startswith(prefix) and self._live(key, now) is not None]

    def _remove(self, key: str) -> bool:
        with self._lock:
            existed = self._live(key, time.monotonic()) is not None
            self._drop(key)
            return existed

    def _live(self, key: str, now: float) -> bytes | None:
        deadline = self._deadlines.get(key)
        if deadline is not None and deadline <= now:
            self._drop(key)
        return self._data.get(key)

    def _drop(self, key: str) -> None:
        self._data.pop(key, None)
        self._deadlines.pop(key, None)


#: Compare-and-set of a transaction.  KEYS: every key read; ARGV[1]: PX (0: none); ARGV[2..]:
#: each key's value as read ('' when it had none), then (index in KEYS, new value) pairs, ''
#: deleting.  Writes only if no key changed since it was read (msgpack is never empty); returns
#: 0, or the index of the first key that changed.  Atomic: Redis runs one script at a time.
_CAS_SCRIPT = """
local n = #KEYS
local current = redis.call('MGET', unpack(KEYS))
for i = 1, n do
  if (current[i] or '') ~= ARGV[i + 1] then return i end
end
local px = tonumber(ARGV[1])
for j = n + 2, #ARGV, 2 do
  local key, value = KEYS[tonumber(ARGV[j])], ARGV[j + 1]
  if value == '' then
    redis.call('DEL', key)
  elseif px > 0 then
    redis.call('SET', key, value, 'PX', px)
  else
    redis.call('SET', key, value)
  end
end
return 0
"""


class _Changed(Exception):
    """A key read by a transaction changed before its commit."""


class RedisStateStore(StateStore):
    """The distributed store: optimistic transactions on Redis (MGET, then one compare-and-set script).

    ``round_trips`` counts the network round trips of the commands this store sent (not
    the connection handshakes) and ``conflicts`` the commits refused because another writer
    changed a key first, for tests and benchmarks.
    """

    def __init__(self, client: redis.Redis, *, max_keys: int = 512, max_attempts: int = 10,
                 split_after: int = 3, backoff: float = 0.001, max_backoff: float = 0.1,
                 display: str | None = None) -> None:
        """``client`` must not decode responses.

        A transaction holds at most ``max_keys`` keys, so that its script (which blocks
        every other client while it runs) stays short; more keys are committed in several
        transactions. A group of several keys is split in two after
        ``split_after`` conflicts in a row; a single key gets ``max_attempts`` attempts, then
        :class:`StateConflict`. The pause before attempt ``n`` is uniform in
        ``[0, min(max_backoff, backoff * 2**n)]`` seconds.
        """
        if client.get_connection_kwargs().get("decode_responses"):
            raise ConfigError("the Redis state store needs raw bytes: remove decode_responses from ALCYON_STATE_URL")
        if max_keys < 1 or not 1 <= split_after < max_attempts:
            raise ValueError(f"need max_keys >= 1 and 1 <= split_after < max_attempts, "
                             f"got {max_keys}, {split_after} and {max_attempts}")
        self._client = client
        self._max_keys = max_keys
        self._max_attempts = max_attempts
        self._split_after = split_after
        self._backoff = backoff
        self._max_backoff = max_backoff
        self._display = display or repr(client)
        self._counter_lock = threading.Lock()
        self.round_trips = 0
        self.conflicts = 0

    @classmethod
    def from_url(cls, url: str, **options: Any) -> RedisStateStore:
        """A store on ``redis://`` or ``rediss://`` ``url``; ``options`` go to the constructor.

        Socket timeouts default to 5 s (connect) and 10 s (commands), so that a worker never
        hangs forever on a dead Redis; ``?socket_timeout=...`` in the URL overrides them.
        """
        shown = redact_url(url)
        try:
            client = redis.Redis.from_url(url, socket_connect_timeout=5.0, socket_timeout=10.0)
        except ValueError as exc:
            raise ConfigError(f"ALCYON_STATE_URL={shown!r} is not a valid Redis URL: "
                              f"{_scrub(str(exc), url)}") from None
        return cls(client, display=shown, **options)

    def __repr__(self) -> str:
        return f"RedisStateStore({self._display!r})"

    def close(self) -> None:
        self._client.close()

    def _transact(self, keys: list[str], step: _Step[T], px: int | None) -> list[T]:
        results: list[T] = []
        # A stack of groups, the next on top: the keys are committed in their order.
        pending = [keys[i:i + self._max_keys] for i in range(0, len(keys), self._max_keys)][::-1]
        while pending:
            group = pending.pop()
            for attempt in range(1, self._max_attempts + 1):
                try:
                    results.append(self._attempt(group, step, px))
                    break
                except _Changed:
                    if len(group) > 1 and attempt == self._split_after:
                        half = len(group) // 2
                        pending += [group[half:], group[:half]]
                        break
                    if attempt < self._max_attempts:
                        time.sleep(random.uniform(0, min(self._max_backoff, self._backoff * 2 ** attempt)))
            else:
                raise StateConflict(
                    f"state key {group[0]!r} was changed by other writers during {self._max_attempts} "
                    f"attempts in a row; giving up: it was not written (keys committed before it "
                    f"were), retry later")
        return results

    def _attempt(self, keys: list[str], step: _Step[T], px: int | None) -> T:
        self._count()
        # redis-py types replies as bytes | str: it cannot know that __init__ refused decode_responses
        raws: list[bytes | None] = self._client.mget(keys)  # type: ignore[assignment]
        writes, result = step(keys, raws)
        if not writes:
            return result
        position = {key: i for i, key in enumerate(keys, 1)}
        args: list[Any] = [px or 0, *(raw or b"" for raw in raws)]
        for key, raw in writes.items():
            args += (position[key], raw or b"")
        self._count()
        if self._client.eval(_CAS_SCRIPT, len(keys), *keys, *args):
            with self._counter_lock:
                self.conflicts += 1
            raise _Changed
        return result

    def _read(self, key: str) -> bytes | None:
        self._count()
        return self._client.get(key)  # type: ignore[return-value]  # bytes: decode_responses is refused

    def _scan(self, prefix: str) -> Iterable[str]:
        pattern = "".join("\\" + c if c in "*?[]\\" else c for c in prefix) + "*"
        return [k.decode() if isinstance(k, bytes) else k for k in self._client.scan_iter(match=pattern, count=500)]

    def _remove(self, key: str) -> bool:
        self._count()
        return bool(self._client.delete(key))

    def _count(self) -> None:
        with self._counter_lock:
            self.round_trips += 1


def open_state_store(url: str | None) -> StateStore:
    """The store named by ``ALCYON_STATE_URL``.

    ``None``, ``""`` or ``memory://``: in-process memory; ``redis://`` or ``rediss://``: Redis.
    """
    if not url or url == "memory://":
        return MemoryStateStore()
    scheme = url.partition("://")[0].lower() if "://" in url else ""
    if scheme in ("redis", "rediss"):
        return RedisStateStore.from_url(url)
    raise ConfigError(
        f"ALCYON_STATE_URL={redact_url(url)!r} is not a state store URL: leave it empty or use "
        f"memory:// for the in-process store, or redis://[[user]:password@]host[:port][/db] "
        f"(rediss:// for TLS) for Redis")


def _scrub(text: str, url: str) -> str:
    """``text`` without the password of ``url`` (for messages of third-party errors)."""
    try:
        password = urlsplit(url).password
    except ValueError:
        return "(details withheld)"
    return text.replace(password, "***") if password else text


def _key_prefix(namespace: str) -> str:
    if not isinstance(namespace, str) or not namespace or ":" in namespace:
        # A ':' would let namespace "a:b" + key "c" collide with namespace "a" + key "b:c".
        raise ValueError(f"a state namespace must be a non-empty string without ':', got {namespace!r}")
    return f"{KEY_PREFIX}:{namespace}:"


def _check_key(key: str) -> str:
    if not isinstance(key, str) or not key:
        raise ValueError(f"a state key must be a non-empty string, got {key!r}")
    return key


def _ttl_ms(ttl: float | None) -> int | None:
    if ttl is None:
        return None
    if not ttl > 0:
        raise ValueError(f"a state ttl must be a positive number of seconds, got {ttl!r}")
    return max(1, round(ttl * 1000))


def _pack(key: str, value: Any) -> bytes:
    try:
        return msgpack.packb(value, use_bin_type=True, datetime=True)
    except (TypeError, ValueError, OverflowError) as exc:
        raise StateError(f"the new value of state key {key!r} cannot be stored as msgpack: {exc}") from None


def _unpack(key: str, raw: bytes | None) -> Any:
    if raw is None:
        return None
    try:
        return msgpack.unpackb(raw, raw=False, timestamp=3, strict_map_key=False)
    except (ValueError, msgpack.UnpackException) as exc:
        raise StateError(f"state key {key!r} holds a corrupt record ({exc})") from None


# ---------------------------------------------------------------------------------------------
# The processor-facing view.

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True)
class KeyedRecord:
    """What :class:`KeyedState` keeps for one subject (for inspection and tests)."""

    value: Any
    last_time: datetime  # the latest event time applied
    applied_ids: tuple[str, ...]  # oldest first


class KeyedState:
    """The state of one processor (``namespace``), keyed by event ``subject``.

    A record is ``{"v": value, "t": last event time in µs since the epoch,
    "a": {event id: [derived event dicts]}}``, the ``a`` map holding the last
    ``applied_limit`` events applied, oldest first.
    """

    def __init__(self, store: StateStore, namespace: str, *, ttl: float | None = None,
                 applied_limit: int = 256, remember: str = "all") -> None:
        """``ttl``: the default of :meth:`apply`'s (seconds; ``None`` keeps subjects for good).

        ``remember="derived"`` keeps in the applied map only the events that derived
        something: for processors whose own event-time guard already makes a redelivered
        event a no-op (geofence), it keeps records small; ``"all"`` (the default) is for
        processors that would apply an event twice (a counter).  ``remember="none"`` keeps no map:
        for processors that recognise redeliveries in their own value and re-derive their events
        (emissions: a compact history of recent sample ids instead of whole derived events).
        """
        _ttl_ms(ttl)  # validate now, not at the first event
        if applied_limit < 1:
            raise ValueError(f"applied_limit must be at least 1, got {applied_limit}")
        if remember not in ("all", "derived", "none"):
            raise ValueError(f"remember must be 'all', 'derived' or 'none', got {remember!r}")
        _key_prefix(namespace)
        self.store = store
        self.namespace = namespace
        self.ttl = ttl
        self.applied_limit = applied_limit
        self.remember = remember

    def __repr__(self) -> str:
        return f"KeyedState({self.store!r}, {self.namespace!r})"

    def apply(self, events: Sequence[Event], fn: Transition, *, ttl: float | None = None) -> list[Event]:
        """Apply ``fn(value, event, stale) -> (new_value, derived_events)`` to each event.

        Events are grouped by subject and applied in event-time order (delivery order at equal
        times: the first counts, in one batch as across batches); all subjects are committed in
        one transaction (several, each atomic, if contention forces a split).
        ``value`` is ``None`` for a new subject; ``stale`` is true when the event is older than
        the latest event already applied to the subject. ``fn`` must be pure (it may run again
        on fresher values if another worker wins a race). An event whose id is among the
        subject's recently applied ones is a redelivery: ``fn`` is not called and the derived
        events it produced the first time are returned again. Returns the derived events in
        the input order of their causes (an event repeated in ``events`` counts once).
        ``ttl`` (seconds; default: the state's) expires each subject written that long after
        its last write.
        """
        return self._run(events, lambda records, by_subject: self._step(records, by_subject, fn), ttl)

    def apply_batch(self, events: Sequence[Event], fn: BatchTransition, *, ttl: float | None = None) -> list[Event]:
        """Like :meth:`apply`, for processors that handle a whole batch at once (vectorised).

        ``fn(values, fresh)`` gets the current value of every subject of the call (``None``
        for a new one) and the events that are not redeliveries, grouped by subject and in
        time order (delivery order at equal times); it returns the new values (of the subjects
        it changed) and the events it derived, by the id of their cause.  Event-time staleness is ``fn``'s to
        judge (it has the values).  The same transaction, redelivery and ttl rules apply.
        """
        return self._run(events, lambda records, by_subject: self._step_batch(records, by_subject, fn), ttl)

    def _run(self, events: Sequence[Event], step: Callable[..., Any], ttl: float | None) -> list[Event]:
        by_subject: dict[str, list[Event]] = {}
        for event in events:
            by_subject.setdefault(event.subject, []).append(event)
        for group in by_subject.values():
            # by event time; at equal times in delivery order (a stable sort), so that two events of
            # the same instant give the same result in one batch as across batches (the first counts)
            group.sort(key=_event_time)

        outcomes: dict[tuple[str, str], list[Event]] = {}
        for part in self.store.update(self.namespace, by_subject, lambda records: step(records, by_subject),
                                      ttl=self.ttl if ttl is None else ttl):
            outcomes.update(part)
        derived: list[Event] = []
        for event in events:
            derived.extend(outcomes.pop((event.subject, event.id), ()))
        return derived

    def get(self, subject: str) -> KeyedRecord | None:
        """The record of ``subject``, or ``None``."""
        record = self.store.get(self.namespace, subject)
        if record is None:
            return None
        return KeyedRecord(record["v"], _EPOCH + record["t"] * _MICROSECOND, tuple(record["a"]))

    def delete(self, subject: str) -> bool:
        """Forget ``subject``; whether it had a record."""
        return self.store.delete(self.namespace, subject)

    def subjects(self) -> list[str]:
        """Every subject with a record (inspection and tests; Redis walks its keys)."""
        return self.store.keys(self.namespace)

    def clear(self) -> int:
        """Forget every subject; how many there were."""
        return self.store.clear(self.namespace)

    def _step(self, records: dict[str, Any], by_subject: Mapping[str, list[Event]],
              fn: Transition) -> tuple[dict[str, Any], dict[tuple[str, str], list[Event]]]:
        writes: dict[str, Any] = {}
        outcomes: dict[tuple[str, str], list[Event]] = {}
        for subject, record in records.items():
            record = record or {"v": None, "t": None, "a": {}}
            applied: dict[str, list[dict[str, Any]]] = record["a"]
            for event in by_subject[subject]:
                done = applied.get(event.id)
                if done is not None:
                    outcomes[subject, event.id] = [Event.from_dict(d) for d in done]
                    continue
                at = (event.time - _EPOCH) // _MICROSECOND
                stale = record["t"] is not None and at < record["t"]
                record["v"], produced = _call(fn, record["v"], event, stale)
                self._applied(record, event, produced)
                outcomes[subject, event.id] = produced
                writes[subject] = record
        return writes, outcomes

    def _step_batch(self, records: dict[str, Any], by_subject: Mapping[str, list[Event]],
                    fn: BatchTransition) -> tuple[dict[str, Any], dict[tuple[str, str], list[Event]]]:
        outcomes: dict[tuple[str, str], list[Event]] = {}
        fresh: list[Event] = []
        full = {subject: record or {"v": None, "t": None, "a": {}} for subject, record in records.items()}
        for subject, record in full.items():
            for event in by_subject[subject]:
                done = record["a"].get(event.id)
                if done is not None:
                    outcomes[subject, event.id] = [Event.from_dict(d) for d in done]
                else:
                    fresh.append(event)
        if not fresh:
            return {}, outcomes
        new_values, derived = fn({subject: record["v"] for subject, record in full.items()}, fresh)
        writes: dict[str, Any] = {}
        for event in fresh:
            record = full[event.subject]
            produced = _checked(derived.get(event.id, ()))
            self._applied(record, event, produced)
            outcomes[event.subject, event.id] = produced
            writes[event.subject] = record
        for subject, value in new_values.items():
            if subject not in full:
                raise ValueError(f"the batch function changed subject {subject!r}, which it was not given")
            full[subject]["v"] = value
            writes[subject] = full[subject]
        return writes, outcomes

    def _applied(self, record: dict[str, Any], event: Event, produced: list[Event]) -> None:
        """Advance the subject's event time and remember what ``event`` derived."""
        at = (event.time - _EPOCH) // _MICROSECOND
        record["t"] = at if record["t"] is None else max(record["t"], at)
        if (produced and self.remember != "none") or self.remember == "all":
            applied = record["a"]
            applied[event.id] = [d.to_dict() for d in produced]
            while len(applied) > self.applied_limit:
                del applied[next(iter(applied))]


def _event_time(event: Event) -> datetime:
    return event.time


def _call(fn: Transition, value: Any, event: Event, stale: bool) -> tuple[Any, list[Event]]:
    result = fn(value, event, stale)
    if not isinstance(result, tuple) or len(result) != 2:
        raise TypeError(f"a state function must return (new_value, derived_events), got {result!r:.200}")
    new_value, produced = result
    return new_value, _checked(produced)


def _checked(produced: Iterable[Event]) -> list[Event]:
    produced = list(produced)
    for item in produced:
        if not isinstance(item, Event):
            raise TypeError(f"a state function must return derived events as Event objects, got {item!r:.200}")
    return produced
