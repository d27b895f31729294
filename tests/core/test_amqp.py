"""Connection parameters: TLS for amqps://, clear errors, no password in messages."""

from __future__ import annotations

import ssl
import subprocess

import pytest

from alcyon import BrokerError
from alcyon.amqp import connection_parameters


@pytest.fixture
def ca_file(tmp_path):
    key, cert = tmp_path / "ca.key", tmp_path / "ca.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=rabbit.example"], check=True, capture_output=True)
    return cert


def test_amqps_verifies_the_server_with_the_given_ca(ca_file):
    params = connection_parameters("amqps://alcyon:pw@rabbit.example:5671/", ca_file=str(ca_file))
    context = params.ssl_options.context
    assert params.port == 5671 and params.ssl_options.server_hostname == "rabbit.example"
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert any(c["subject"] == ((("commonName", "rabbit.example"),),) for c in context.get_ca_certs())


def test_tls_files_without_amqps_are_refused(ca_file):
    with pytest.raises(BrokerError, match="not amqps://"):
        connection_parameters("amqp://alcyon:pw@rabbit:5672/", ca_file=str(ca_file))


def test_a_bad_url_is_explained_without_its_password():
    with pytest.raises(BrokerError) as info:
        connection_parameters("amqp://alcyon:s3cret@rabbit:notaport/")
    assert "s3cret" not in str(info.value) and "amqp://user:password@host:5672/vhost" in str(info.value)


@pytest.mark.rabbitmq
def test_a_refused_publish_is_reported_refused_and_the_next_ones_are_confirmed(broker_url):
    # A 300-byte routing key once took a delivery tag without reaching the broker: every confirm
    # after it went to the wrong message, and the next batch was never sent.
    import uuid

    from alcyon import PublishError
    from alcyon.amqp import AmqpPublisher, blocking_channel

    params = connection_parameters(broker_url)
    queue = f"alcyon.test.confirms.{uuid.uuid4().hex[:8]}"
    with blocking_channel(params) as channel:
        channel.queue_declare(queue, auto_delete=False)
    publisher = AmqpPublisher(params, name="test")
    try:
        publisher.wait_connected()
        long_key = publisher.publish("", "t" * 300, b"never sent")
        first = publisher.publish("", queue, b"first")
        missing_exchange = publisher.publish(f"alcyon.test.none.{uuid.uuid4().hex[:8]}", "x", b"refused")
        second = publisher.publish("", queue, b"second")
        with pytest.raises(PublishError, match="refused.*255"):
            long_key.result(5)
        assert first.result(5) is None
        with pytest.raises(PublishError, match="refused by RabbitMQ.*NOT_FOUND"):
            missing_exchange.result(10)
        assert second.result(10) is None
        with blocking_channel(params) as channel:
            bodies = []
            while True:
                method, _, body = channel.basic_get(queue, auto_ack=True)
                if method is None:
                    break
                bodies.append(body)
            channel.queue_delete(queue)
        # at least once: a message unconfirmed when the channel closed is sent again
        assert set(bodies) == {b"first", b"second"}
    finally:
        publisher.close(timeout=2)


@pytest.mark.rabbitmq
def test_an_event_type_over_255_bytes_is_refused_and_the_next_batch_confirmed(alcyon_harness, broker_url):
    from alcyon import Event, PublishError

    h = alcyon_harness(broker_url=broker_url)
    bad = Event(type="x" * 300, source="test", subject="s")
    good = Event(type="test.ok", source="test", subject="s")
    refused = h.runtime.send_batch(bad.type, [bad])
    confirmed = h.runtime.send_batch(good.type, [good])
    with pytest.raises(PublishError, match="refused"):
        refused.result(5)
    assert confirmed.result(5) is None
