"""Keyed state: both backends for real (Redis tests need ALCYON_TEST_REDIS_URL's server)."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator

import msgpack
import pytest
import redis

from alcyon.errors import ConfigError
from alcyon.events import Event, derive, derived_id
from alcyon.state import (
    KeyedState,
    MemoryStateStore,
    RedisStateStore,
    StateConflict,
    StateError,
    StateStore,
    open_state_store,
    redact_url,
)

from .state_worker import count, make_events

WORKER = Path(__file__).with_name("state_worker.py")
CORE = Path(__file__).resolve().parents[2] / "core"
T0 = datetime(2026, 7, 14, 12, 0, tzinfo=timezone.utc)


def tick(subject: str, seconds: float, id: str | None = None) -> Event:
    return Event(type="test.tick", source="test", subject=subject, time=T0 + timedelta(seconds=seconds),
                 id=id or f"{subject}@{seconds}")


def keep_max(value: Any, event: Event, stale: bool) -> tuple[Any, list[Event]]:
    """Remember the latest event id; a stale event is ignored (but still reported)."""
    seen = (value or {"latest": None, "count": 0})
    if not stale:
        seen["latest"] = event.id
    seen["count"] += 1
    return seen, [derive(event, "seen", "test.seen", {"stale": stale}, source="test")]


@pytest.fixture
def namespace() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def raw_redis(redis_url: str, namespace: str) -> Iterator[redis.Redis]:
    """A plain client on the test database; deletes this test's keys (never FLUSHDB)."""
    client = redis.Redis.from_url(redis_url)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.fail(f"no Redis at {redact_url(redis_url)} ({exc}): start one, set ALCYON_TEST_REDIS_URL, "
                    f"or deselect these tests with -m 'not redis'")
    yield client
    for key in client.scan_iter(match=f"alcyon:state:{namespace}:*"):
        client.delete(key)
    client.close()


@pytest.fixture
def redis_store(redis_url: str, raw_redis: redis.Redis) -> Iterator[RedisStateStore]:
    store = RedisStateStore.from_url(redis_url)
    yield store
    store.close()


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def store(request: pytest.FixtureRequest) -> StateStore:
    if request.param == "memory":
        return MemoryStateStore()
    return request.getfixturevalue("redis_store")


# --- the low-level store -------------------------------------------------------------------

def test_update_reads_all_keys_and_writes_only_what_fn_returns(store: StateStore, namespace: str) -> None:
    store.update(namespace, ["a", "b"], lambda records: ({"a": 1, "b": 10}, None))
    seen: list[dict[str, Any]] = []

    def bump_a(records: dict[str, Any]) -> tuple[dict[str, Any], str]:
        seen.append(dict(records))
        return {"a": records["a"] + 1}, "done"

    assert store.update(namespace, ["a", "b", "c", "a"], bump_a) == ["done"]
    assert seen == [{"a": 1, "b": 10, "c": None}]
    assert (store.get(namespace, "a"), store.get(namespace, "b"), store.get(namespace, "c")) == (2, 10, None)

    store.update(namespace, ["a"], lambda records: ({"a": None}, None))  # None deletes
    assert store.get(namespace, "a") is None
    assert store.delete(namespace, "b") is True and store.delete(namespace, "b") is False


def test_update_rejects_foreign_keys_and_unstorable_values(store: StateStore, namespace: str) -> None:
    with pytest.raises(ValueError, match="'z'"):
        store.update(namespace, ["a"], lambda records: ({"a": 1, "z": 2}, None))
    with pytest.raises(StateError, match="cannot be stored as msgpack"):
        store.update(namespace, ["a"], lambda records: ({"a": object()}, None))
    assert store.get(namespace, "a") is None  # nothing of a failed update is written
    with pytest.raises(ValueError, match="namespace"):
        store.get("a:b", "c")


def test_values_round_trip_through_msgpack(store: StateStore, namespace: str) -> None:
    value = {"frame": b"\xff\xd8jpeg", "when": T0, 7: [1.5, None, "x"]}
    store.update(namespace, ["k"], lambda records: ({"k": value}, None))
    assert store.get(namespace, "k") == value
    mine = store.get(namespace, "k")
    mine["frame"] = b"changed"  # what a caller holds is a copy, never the stored record
    assert store.get(namespace, "k") == value


def test_ttl_expires_keys_and_a_write_without_ttl_persists(store: StateStore, namespace: str,
                                                           request: pytest.FixtureRequest) -> None:
    def pttl(key: str) -> int:
        return request.getfixturevalue("raw_redis").pttl(f"alcyon:state:{namespace}:{key}")

    state = KeyedState(store, namespace, ttl=0.2)
    state.apply([tick("short", 1), tick("long", 1)], count)
    KeyedState(store, namespace).apply([tick("long", 2)], count)  # rewritten without a TTL: kept
    assert state.get("short").value == 1
    if isinstance(store, RedisStateStore):
        assert 0 < pttl("short") <= 200
    time.sleep(0.3)
    assert state.get("short") is None
    assert state.get("long").value == 2
    state.apply([tick("x", 1)], count, ttl=60)  # apply's ttl overrides the state's
    if isinstance(store, RedisStateStore):
        assert pttl("x") > 50_000
    with pytest.raises(ValueError, match="ttl"):
        state.apply([tick("x", 1)], count, ttl=-1)
    with pytest.raises(ValueError, match="ttl"):
        KeyedState(store, namespace, ttl=0)


def test_memory_store_purges_expired_keys_nobody_reads(namespace: str) -> None:
    store = MemoryStateStore()
    store.update(namespace, ["gone"], lambda records: ({"gone": 1}, None), ttl=0.01)
    time.sleep(0.02)
    store._next_sweep = 0.0  # the next update sweeps
    store.update(namespace, ["other"], lambda records: ({"other": 1}, None))
    assert list(store._data) == [f"alcyon:state:{namespace}:other"] and not store._deadlines


# --- KeyedState ----------------------------------------------------------------------------

def test_apply_folds_events_per_subject_and_returns_derived_in_input_order(store: StateStore,
                                                                          namespace: str) -> None:
    state = KeyedState(store, namespace)
    events = [tick("a", 1), tick("b", 1), tick("a", 2), tick("c", 1), tick("b", 2)]
    derived = state.apply(events, count)
    assert [d.extensions["causeid"] for d in derived] == [e.id for e in events]
    assert [(d.subject, d.data["n"]) for d in derived] == [("a", 1), ("b", 1), ("a", 2), ("c", 1), ("b", 2)]
    assert [d.id for d in derived] == [derived_id(e.id, "count") for e in events]
    record = state.get("a")
    assert (record.value, record.last_time, record.applied_ids) == (2, T0 + timedelta(seconds=2),
                                                                    ("a@1", "a@2"))
    assert state.apply([], count) == []
    assert state.delete("a") is True and state.get("a") is None


def test_apply_orders_a_batch_by_event_time_then_delivery_order(store: StateStore, namespace: str) -> None:
    calls: list[tuple[str, bool]] = []

    def record(value: Any, event: Event, stale: bool) -> tuple[Any, list[Event]]:
        calls.append((event.id, stale))
        return (value or []) + [event.id], []

    state = KeyedState(store, namespace)
    state.apply([tick("a", 3), tick("a", 1, id="y"), tick("a", 1, id="x"), tick("a", 2)], record)
    assert calls == [("y", False), ("x", False), ("a@2", False), ("a@3", False)]  # y was delivered first
    assert state.get("a").value == ["y", "x", "a@2", "a@3"]


def test_stale_events_are_flagged_and_never_move_the_clock_back(store: StateStore, namespace: str) -> None:
    state = KeyedState(store, namespace)
    state.apply([tick("v", 10)], keep_max)
    derived = state.apply([tick("v", 5), tick("v", 10, id="same-time"), tick("v", 7)], keep_max)
    assert [d.data["stale"] for d in derived] == [True, False, True]
    record = state.get("v")
    assert record.value == {"latest": "same-time", "count": 4}
    assert record.last_time == T0 + timedelta(seconds=10)
    [later] = state.apply([tick("v", 11)], keep_max)
    assert later.data == {"stale": False} and state.get("v").value["latest"] == "v@11"


def test_redelivery_returns_identical_derived_events_without_reapplying(store: StateStore,
                                                                        namespace: str) -> None:
    calls: list[str] = []

    def counting(value: Any, event: Event, stale: bool) -> tuple[Any, list[Event]]:
        calls.append(event.id)
        return count(value, event, stale)

    state = KeyedState(store, namespace)
    batch = [tick("a", 1), tick("b", 1), tick("a", 2)]
    first = state.apply(batch, counting)
    again = state.apply(batch, counting)
    assert again == first and [d.to_dict() for d in again] == [d.to_dict() for d in first]
    assert calls == ["a@1", "a@2", "b@1"]
    assert state.get("a").value == 2

    # A redelivered batch merged with new events (and a duplicate): only the new ones apply.
    mixed = [tick("a", 3), batch[1], tick("a", 3), batch[0]]
    derived = state.apply(mixed, counting)
    assert [(d.subject, d.data["n"]) for d in derived] == [("a", 3), ("b", 1), ("a", 1)]
    assert calls[3:] == ["a@3"]
    assert state.get("a").value == 3


def test_applied_ids_are_bounded_per_subject(store: StateStore, namespace: str) -> None:
    state = KeyedState(store, namespace, applied_limit=3)
    state.apply([tick("a", s) for s in range(5)], keep_max)
    assert state.get("a").applied_ids == ("a@2", "a@3", "a@4")
    # Beyond the window a redelivery is applied again: as stale, which the processor sees.
    assert state.apply([tick("a", 0)], keep_max)[0].data == {"stale": True}


def test_apply_batch_sees_every_subject_at_once_and_replays_redeliveries(store: StateStore,
                                                                         namespace: str) -> None:
    calls: list[list[str]] = []

    def sums(values: dict[str, Any], fresh: list[Event]) -> tuple[dict[str, Any], dict[str, list[Event]]]:
        calls.append([e.id for e in fresh])
        new = dict(values)
        derived = {}
        for event in fresh:  # grouped by subject, in time order
            new[event.subject] = (new[event.subject] or 0) + 1
            if new[event.subject] % 2 == 0:
                derived[event.id] = [derive(event, "even", "test.even", {"n": new[event.subject]}, source="t")]
        return new, derived

    state = KeyedState(store, namespace, remember="derived")
    batch = [tick("b", 2), tick("a", 1), tick("b", 1), tick("a", 2)]
    first = state.apply_batch(batch, sums)
    assert sorted(calls[0]) == sorted(e.id for e in batch) and calls[0].index("b@1") < calls[0].index("b@2")
    assert [(d.subject, d.data["n"]) for d in first] == [("b", 2), ("a", 2)]  # input order of their causes
    assert (state.get("a").value, state.get("b").value) == (2, 2)
    # only the events that derived something are remembered...
    assert state.get("a").applied_ids == ("a@2",)
    # ...so their redelivery replays the same alerts without calling fn for them
    again = state.apply_batch([tick("a", 2), tick("a", 3)], sums)
    assert calls[1] == ["a@3"] and [d.id for d in again] == [first[1].id]
    assert state.get("a").value == 3


def test_fn_must_return_value_and_events(store: StateStore, namespace: str) -> None:
    state = KeyedState(store, namespace)
    with pytest.raises(TypeError, match="new_value, derived_events"):
        state.apply([tick("a", 1)], lambda value, event, stale: 1)
    with pytest.raises(TypeError, match="Event objects"):
        state.apply([tick("a", 1)], lambda value, event, stale: (1, [{"id": "x"}]))
    assert state.get("a") is None


def test_memory_store_is_atomic_across_threads(namespace: str) -> None:
    state = KeyedState(MemoryStateStore(), namespace)
    events = make_events(4000, 3)

    def work(share: list[Event]) -> None:
        for start in range(0, len(share), 20):
            state.apply(share[start:start + 20], count)

    threads = [threading.Thread(target=work, args=(events[w::4],)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [state.get(f"s{s}").value for s in range(3)] == [1334, 1333, 1333]


# --- URLs and secrets ----------------------------------------------------------------------

@pytest.mark.parametrize("url", [None, "", "memory://"])
def test_memory_urls(url: str | None) -> None:
    assert isinstance(open_state_store(url), MemoryStateStore)


@pytest.mark.parametrize("url", ["amqp://bob:hunter2@host/", "redis//bob:hunter2@host", "postgres://:hunter2@db/x",
                                 "redis://bob:hunter2@host:port/0"])
def test_bad_urls_name_the_setting_and_hide_the_password(url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        open_state_store(url)
    message = str(caught.value)
    assert "ALCYON_STATE_URL" in message and "hunter2" not in message
    if "Redis URL" not in message:
        assert "memory://" in message and "redis://" in message


def test_redis_store_repr_hides_the_password() -> None:
    store = open_state_store("rediss://alice:s3cret@redis.example:6380/2?password=s3cret")
    assert isinstance(store, RedisStateStore)
    assert "s3cret" not in repr(store) and "alice:***@redis.example:6380/2" in repr(store)


@pytest.mark.parametrize(("url", "shown"), [
    ("redis://:pw@h:1/0", "redis://:***@h:1/0"),
    ("redis://user:p@ss@h", "redis://user:***@h"),
    ("redis://justasecret@h", "redis://***@h"),
    ("redis//user:pw@h/0", "redis//***@h/0"),
    ("user:pw@h", "user:***@h"),
    ("secret@h", "***@h"),
    ("redis://h/0?password=pw&db=1", "redis://h/0?password=***&db=1"),
    ("redis://h:6379/0", "redis://h:6379/0"),
])
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


# --- Redis specifics -----------------------------------------------------------------------

@pytest.mark.redis
def test_a_500_event_batch_costs_two_round_trips(redis_store: RedisStateStore, namespace: str,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    state = KeyedState(redis_store, namespace)
    events = make_events(500, 100)
    redis_store.get(namespace, "warm-up")  # open the pooled connection first
    sent: list[bytes] = []
    real_send = redis.connection.Connection.send_packed_command

    def spy(self: redis.connection.Connection, command: Any, check_health: bool = True) -> None:
        sent.append(command)
        real_send(self, command, check_health)

    monkeypatch.setattr(redis.connection.Connection, "send_packed_command", spy)
    before = redis_store.round_trips
    assert len(state.apply(events, count)) == 500
    assert redis_store.round_trips - before == 2 == len(sent)  # MGET, compare-and-set script
    assert [state.get(f"s{s}").value for s in (0, 99)] == [5, 5]

    before, sent[:] = redis_store.round_trips, []
    assert len(state.apply(events, count)) == 500  # a full redelivery writes nothing
    assert redis_store.round_trips - before == 1 == len(sent)  # MGET


@pytest.mark.redis
def test_a_conflicting_batch_is_split_until_it_commits(redis_store: RedisStateStore, raw_redis: redis.Redis,
                                                       namespace: str) -> None:
    keys = [f"k{i}" for i in range(8)]

    racer = itertools.count(100)

    def bump_racing(records: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
        if len(records) > 1:  # another writer wins every multi-key attempt (a new value each time)
            raw_redis.set(f"alcyon:state:{namespace}:{next(iter(records))}", msgpack.packb(next(racer)))
        return {key: (value or 0) + 1 for key, value in records.items()}, list(records)

    groups = redis_store.update(namespace, keys, bump_racing)
    assert groups == [[key] for key in keys]
    assert redis_store.conflicts == 7 * 3  # 1 group of 8, 2 of 4, 4 of 2: each refused split_after (3) times
    values = [redis_store.get(namespace, key) for key in keys]
    assert values[0] > 100 and 1 in values  # the raced key kept the racer's write, +1; the others +1


@pytest.mark.redis
def test_a_batch_over_max_keys_takes_several_transactions(redis_url: str, raw_redis: redis.Redis,
                                                          namespace: str) -> None:
    store = RedisStateStore(redis.Redis.from_url(redis_url), max_keys=2)
    groups = store.update(namespace, "abcde", lambda records: ({k: 1 for k in records}, "".join(records)))
    assert groups == ["ab", "cd", "e"] and store.round_trips == 6
    assert [store.get(namespace, k) for k in "abcde"] == [1] * 5
    store.close()


@pytest.mark.redis
def test_endless_conflicts_give_up_with_state_conflict(redis_url: str, raw_redis: redis.Redis,
                                                       namespace: str) -> None:
    store = RedisStateStore(redis.Redis.from_url(redis_url), max_attempts=3, split_after=2, backoff=0.0001)
    calls = []
    racer = itertools.count()

    def always_racing(records: dict[str, Any]) -> tuple[dict[str, Any], None]:
        calls.append(list(records))
        raw_redis.set(f"alcyon:state:{namespace}:{next(iter(records))}", msgpack.packb(next(racer)))
        return {key: 1 for key in records}, None

    with pytest.raises(StateConflict, match="3 attempts"):
        store.update(namespace, ["a", "b"], always_racing)
    assert calls == [["a", "b"], ["a", "b"], ["a"], ["a"], ["a"]]
    assert store.get(namespace, "b") is None
    store.close()


def run_workers(redis_url: str, namespace: str, *argvs: list[int]) -> list[tuple[int, list[dict[str, Any]]]]:
    """Run state_worker.py processes together; each one's exit code and JSON lines."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(CORE), os.environ.get("PYTHONPATH")]))}
    procs = [subprocess.Popen([sys.executable, str(WORKER), redis_url, namespace, *map(str, argv)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=env) for argv in argvs]
    try:
        for proc in procs:
            assert proc.stdout.readline() == "ready\n", proc.stderr.read()
        for proc in procs:  # start together, so that they really race
            proc.stdin.write("go\n")
            proc.stdin.flush()
        outputs = [proc.communicate(timeout=60) for proc in procs]
    finally:
        for proc in procs:
            proc.kill()
    for proc, (_, err) in zip(procs, outputs):
        assert proc.returncode in (0, -signal.SIGKILL), err
    return [(proc.returncode, [json.loads(line) for line in out.splitlines()])
            for proc, (out, _) in zip(procs, outputs)]


def assert_counted_once(redis_url: str, namespace: str, total: int, subjects: int,
                        derived: list[list[Any]]) -> None:
    """Each subject counted each of its events once, and every count was derived once."""
    store = open_state_store(redis_url)
    state = KeyedState(store, namespace)
    per_subject = total // subjects
    assert [state.get(f"s{s}").value for s in range(subjects)] == [per_subject] * subjects
    assert sorted(d[2] for d in derived) == sorted(derived_id(f"ev-{i}", "count") for i in range(total))
    for s in range(subjects):  # serialisable: the counts 1..N, none lost, none doubled
        assert sorted(n for subject, n, _ in derived if subject == f"s{s}") == list(range(1, per_subject + 1))
    store.close()


@pytest.mark.redis
def test_worker_processes_apply_every_event_exactly_once(redis_url: str, raw_redis: redis.Redis,
                                                         namespace: str) -> None:
    total, subjects, workers, batch = 10_000, 5, 2, 50
    results = run_workers(redis_url, namespace, *([w, workers, total, subjects, batch] for w in range(workers)))
    assert [code for code, _ in results] == [0] * workers
    summaries = [lines[-1] for _, lines in results]
    assert all(summary["replays"] > 0 for summary in summaries)
    # The workers really raced: some commits were refused and re-run on fresh values.
    assert sum(s["conflicts"] for s in summaries) > 0
    derived = [item for _, lines in results for line in lines[:-1] for item in line["derived"]]
    assert_counted_once(redis_url, namespace, total, subjects, derived)


@pytest.mark.redis
def test_a_batch_committed_by_a_killed_worker_is_recognised_when_redelivered(
        redis_url: str, raw_redis: redis.Redis, namespace: str) -> None:
    total, subjects, batch, killed_at = 2_000, 4, 50, 17
    [(code, acked)] = run_workers(redis_url, namespace, [0, 1, total, subjects, batch, 0, killed_at])
    assert code == -signal.SIGKILL and len(acked) == killed_at  # batch 17 committed, never acked
    [(code, redelivered)] = run_workers(redis_url, namespace, [0, 1, total, subjects, batch, killed_at])
    assert code == 0
    derived = [item for line in acked + redelivered[:-1] for item in line["derived"]]
    assert_counted_once(redis_url, namespace, total, subjects, derived)


def test_two_events_of_the_same_instant_give_the_same_result_in_one_batch_as_across_batches(
        store: StateStore, namespace: str) -> None:
    """The first delivered counts (the emissions trace's duplicate reading once depended on batching)."""
    def first_of_an_instant(value: Any, event: Event, stale: bool) -> tuple[Any, list[Event]]:
        if value is not None and event.time <= datetime.fromisoformat(value["time"]):
            return value, []  # a second reading of the same instant: ignored, as energy.step does
        return {"time": event.time.isoformat(), "id": event.id}, []

    state = KeyedState(store, namespace)

    def readings(subject: str) -> tuple[Event, Event]:  # their ids sort the other way round
        return tick(subject, 10, id=f"zzz-original-{subject}"), tick(subject, 10, id=f"aaa-duplicate-{subject}")

    state.apply(readings("together"), first_of_an_instant)
    original, duplicate = readings("apart")
    state.apply([original], first_of_an_instant)
    state.apply([duplicate], first_of_an_instant)
    assert state.get("together").value["id"] == "zzz-original-together"
    assert state.get("apart").value["id"] == "zzz-original-apart"
