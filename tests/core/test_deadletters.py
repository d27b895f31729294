"""The RabbitMQ dead-letter store: records kept one per message or in bundles, read back one by one."""

from __future__ import annotations

import time
import uuid
from typing import Iterator

import pika
import pytest

from alcyon.amqp import AmqpPublisher, blocking_channel, connection_parameters
from alcyon.deadletters import BUNDLE_HEADER, BUNDLE_LINGER_S, BUNDLE_MAX, AmqpDeadLetterStore, DeadLetter

pytestmark = pytest.mark.rabbitmq


@pytest.fixture
def store(broker_url: str) -> Iterator[tuple[AmqpDeadLetterStore, str]]:
    params = connection_parameters(broker_url)
    queue = f"alcyon.test-dl-{uuid.uuid4().hex[:8]}"
    with blocking_channel(params) as channel:
        channel.queue_declare(f"{queue}.XQ", durable=True)
    publisher = AmqpPublisher(params, name="test-dl")
    publisher.wait_connected()
    yield AmqpDeadLetterStore(publisher, lambda: blocking_channel(params)), queue
    publisher.close(timeout=5)
    with blocking_channel(params) as channel:
        channel.queue_delete(f"{queue}.XQ")


def rejected(queue: str, n: int) -> DeadLetter:
    return DeadLetter(processor="source.test", queue=queue, reason="bad_checksum", error=f"line {n}: checksum",
                      body=f"!AIVDM,bad,{n}".encode())


def put_bundled(dead_letters: AmqpDeadLetterStore, queue: str, count: int) -> list[DeadLetter]:
    """``count`` rejected inputs put without waiting (so bundled), then flushed."""
    sent = [rejected(queue, n) for n in range(count)]
    for record in sent:
        dead_letters.put(record, wait=False)
    dead_letters.flush()
    return sent


def messages(broker_url: str, queue: str) -> list[tuple[dict, bytes]]:
    """(headers, body) of each message in the queue's .XQ, given back afterwards."""
    out = []
    with blocking_channel(connection_parameters(broker_url)) as channel:
        while True:
            method, props, body = channel.basic_get(f"{queue}.XQ", auto_ack=False)
            if method is None:
                return out
            out.append((props.headers or {}, body))


def test_records_not_waited_for_travel_in_bundles_and_read_back_one_by_one(store, broker_url) -> None:
    dead_letters, queue = store
    sent = put_bundled(dead_letters, queue, 2 * BUNDLE_MAX + 50)
    kept = messages(broker_url, queue)
    assert [headers.get(BUNDLE_HEADER) for headers, _ in kept] == [BUNDLE_MAX, BUNDLE_MAX, 50]
    back = dead_letters.records(queue)
    assert [(r.id, r.body, r.reason, r.error) for r in back] == [(r.id, r.body, r.reason, r.error) for r in sent]


def test_a_lone_record_goes_out_after_the_linger_as_a_plain_dead_letter(store, broker_url) -> None:
    dead_letters, queue = store
    record = rejected(queue, 1)
    dead_letters.put(record, wait=False)
    deadline = time.monotonic() + BUNDLE_LINGER_S + 5
    while not (kept := messages(broker_url, queue)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(kept) == 1 and BUNDLE_HEADER not in kept[0][0] and kept[0][1] == record.body
    assert [r.id for r in dead_letters.records(queue)] == [record.id]


def test_taking_part_of_a_bundle_keeps_the_rest(store) -> None:
    dead_letters, queue = store
    sent = put_bundled(dead_letters, queue, 10)
    wanted = {sent[2].id, sent[7].id}
    replayed: list[str] = []
    taken = dead_letters.take(queue, lambda r: r.id in wanted, then=lambda r: replayed.append(r.id))
    assert {r.id for r in taken} == wanted and sorted(replayed) == sorted(wanted)
    assert [r.id for r in dead_letters.records(queue)] == [r.id for r in sent if r.id not in wanted]
    assert len(dead_letters.take(queue, lambda r: True)) == 8
    assert dead_letters.records(queue) == []


def test_a_failing_action_leaves_the_record_and_the_ones_after_it(store) -> None:
    dead_letters, queue = store
    sent = put_bundled(dead_letters, queue, 5)

    def replay(record: DeadLetter) -> None:
        if record.id == sent[3].id:
            raise pika.exceptions.AMQPError("broker went away")

    with pytest.raises(pika.exceptions.AMQPError):
        dead_letters.take(queue, lambda r: True, then=replay)
    assert [r.id for r in dead_letters.records(queue)] == [r.id for r in sent[3:]]


def test_a_sources_rejected_input_is_kept_up_to_its_limit(alcyon_harness):
    # 500 rejected 60 KB lines were once kept whole: 30 MB of dead letters.
    from alcyon import Source

    h = alcyon_harness(settings={"rejected_input_max_bytes": 1000})
    source = Source(name="feed", publishes="x.y", run=lambda ctx: None)
    reject = h.runtime.rejecter(source)
    reject(b"Z" * 60_000, "line_too_long", "a long line")
    reject(b"short", "malformed", "bad")
    kept = {r.reason: r for r in h.runtime.dead_letters.records(source.queue)}
    assert kept["line_too_long"].body == b"Z" * 1000
    assert kept["line_too_long"].error == "a long line (first 1000 of 60000 bytes kept)"
    assert kept["malformed"].body == b"short" and kept["malformed"].error == "bad"
