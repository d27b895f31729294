"""The start-up service check (alcyon.services) and `alcyon config check --connect`, on the real services."""

from __future__ import annotations

import socket
import uuid

import pytest

from alcyon import Processor
from alcyon.cli import main
from alcyon.config import load_config
from alcyon.errors import ServiceUnavailable
from alcyon.services import check_broker, check_services, check_state, require_services
from alcyon.topology import Topology


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def with_password(url: str, password: str) -> str:
    scheme, _, rest = url.partition("://")
    userinfo, _, hostpart = rest.rpartition("@")
    return f"{scheme}://{userinfo.partition(':')[0]}:{password}@{hostpart}"


def config(**env: str):
    return load_config(env={f"ALCYON_{k.upper()}": v for k, v in env.items()})


@pytest.mark.rabbitmq
def test_broker_ok(broker_url):
    (status,) = check_broker(config(broker_url=broker_url))
    assert status.ok and status.service == "RabbitMQ" and "connected to" in status.detail


@pytest.mark.rabbitmq
def test_wrong_broker_password_names_service_redacted_url_and_fix(broker_url):
    secret = f"wrong-{uuid.uuid4().hex[:8]}"
    (status,) = check_broker(config(broker_url=with_password(broker_url, secret)))
    assert not status.ok
    assert "refused the login" in status.detail and "password" in status.fix
    assert secret not in str(status) and ":***@" in status.url


@pytest.mark.rabbitmq
def test_missing_vhost_says_how_to_create_it(broker_url):
    vhost = f"no-such-vhost-{uuid.uuid4().hex[:6]}"
    url = broker_url.rsplit("/", 1)[0] + "/" + vhost
    (status,) = check_broker(config(broker_url=url))
    assert not status.ok and vhost in status.detail
    assert f"rabbitmqctl add_vhost {vhost}" in status.fix


def test_refused_port_and_unresolvable_host():
    refused, = check_broker(config(broker_url=f"amqp://u:not-the-password@127.0.0.1:{closed_port()}/"), timeout=2)
    assert not refused.ok and "connection refused" in refused.detail
    unknown, = check_broker(config(broker_url="amqps://u:not-the-password@no-such-host.invalid:5671/"), timeout=2)
    assert not unknown.ok and "does not resolve" in unknown.detail and "host" in unknown.fix


def test_missing_ca_file_is_reported_before_any_connection(tmp_path):
    missing = tmp_path / "ca.pem"
    status, = check_broker(config(broker_url="amqps://u:not-the-password@no-such-host.invalid:5671/",
                                  amqp_ca_file=str(missing)))
    assert not status.ok and str(missing) in status.detail and "ALCYON_AMQP_CA_FILE" in status.fix


@pytest.mark.rabbitmq
def test_tls_against_a_plain_port_is_a_tls_failure(broker_url):
    url = "amqps://" + broker_url.partition("://")[2]
    status, = check_broker(config(broker_url=url), timeout=3)
    assert not status.ok and status.detail.startswith("TLS with") and "5671" in status.fix


@pytest.mark.rabbitmq
def test_topology_check_lists_what_is_missing_then_passes_once_declared(broker_url):
    from alcyon.amqp import blocking_channel, connection_parameters

    exchange = f"alcyon.test.{uuid.uuid4().hex[:10]}"
    processor = Processor(name=f"svc_{uuid.uuid4().hex[:8]}", subscribe=("svc.check",), handle=lambda e, c: None)
    topology = Topology.of([processor], exchange, None)
    cfg = config(broker_url=broker_url, exchange=exchange)
    _, missing = check_broker(cfg, topology=topology)
    assert not missing.ok and f"exchange {exchange}" in missing.detail
    assert f"queue {processor.queue}.XQ" in missing.detail and "alcyon topology --apply" in missing.fix
    with blocking_channel(connection_parameters(broker_url)) as channel:
        topology.declare_all(channel)
        try:
            _, found = check_broker(cfg, topology=topology)
            assert found.ok and f"{processor.queue} (0 ready, 0 consumer(s))" in found.detail
        finally:
            for queue in (processor.queue, processor.queue + ".XQ"):
                channel.queue_delete(queue)
            channel.exchange_delete(exchange)


@pytest.mark.redis
def test_redis_ok_and_unreachable(redis_url):
    assert check_state(redis_url).ok
    down = check_state(f"redis://:s3cret@127.0.0.1:{closed_port()}/0", timeout=2)
    assert not down.ok and down.service == "Redis" and "cannot reach Redis" in down.detail
    assert "s3cret" not in str(down) and "ALCYON_STATE_URL" in down.fix


def test_embedded_without_state_checks_nothing():
    assert check_services(config()) == []


@pytest.mark.rabbitmq
def test_require_services_lists_every_failure(broker_url):
    cfg = config(broker_url=with_password(broker_url, "nope"), state_url=f"redis://127.0.0.1:{closed_port()}/0")
    with pytest.raises(ServiceUnavailable) as info:
        require_services(cfg, timeout=2)
    assert [f.service for f in info.value.failures] == ["RabbitMQ", "Redis"]
    assert "2 configured service(s) cannot be used" in str(info.value)


@pytest.mark.rabbitmq
@pytest.mark.redis
def test_config_check_connect_exit_codes(broker_url, redis_url, monkeypatch, capsys):
    monkeypatch.setenv("ALCYON_LOAD_PLUGINS", "tests.core.flaky_plugin")
    monkeypatch.setenv("ALCYON_EXCHANGE", f"alcyon.test.{uuid.uuid4().hex[:10]}")
    monkeypatch.setenv("ALCYON_STATE_URL", redis_url)
    monkeypatch.setenv("ALCYON_BROKER_URL", with_password(broker_url, "wrong-one"))
    assert main(["config", "check"]) == 0, "without --connect nothing is contacted"
    assert main(["config", "check", "--connect", "--timeout", "2"]) == 1
    out = capsys.readouterr().out
    assert "FAIL RabbitMQ at" in out and "wrong-one" not in out and "ok   Redis at" in out
    monkeypatch.setenv("ALCYON_BROKER_URL", broker_url)
    assert main(["config", "check", "--connect"]) == 1, "the exchange and queues were never declared"
    out = capsys.readouterr().out
    assert "FAIL RabbitMQ topology" in out, out
