"""MQTT input on the real Mosquitto: Shelly- and Tasmota-style payloads, a bad payload kept with its reason."""

from __future__ import annotations

import json
import threading
import time
import uuid
from urllib.parse import urlsplit

import pytest

from alcyon import ConfigError, SourceContext, get_logger
from alcyon_emissions.energy import Sample
from alcyon_emissions.mqtt import PayloadMapping, mqtt_reader, parse_uri
from alcyon_emissions.replay import Bad

pytestmark = pytest.mark.mqtt


class Running:
    """The reader of ``uri`` in a thread, collecting what it yields."""

    def __init__(self, uri: str, config: dict) -> None:
        self.stopping = threading.Event()
        self.items: list = []
        ctx = SourceContext("power", config, get_logger("test"), lambda e: None, self.stopping, lambda *a: None)
        reader = mqtt_reader(uri, config)
        self.thread = threading.Thread(target=lambda: self.items.extend(reader(ctx)), daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(5)


def publisher(mqtt_url: str):
    import paho.mqtt.client as mqtt

    parts = urlsplit(mqtt_url)
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    client.connect(parts.hostname, parts.port or 1883)
    client.loop_start()
    return client


def wait_subscribed(client, running: Running, topic: str) -> None:
    deadline = time.monotonic() + 15
    while not running.items:
        assert time.monotonic() < deadline, "the reader never received the probe"
        client.publish(topic, json.dumps({"apower": 0, "ENERGY": {"Power": 0, "Total": 0}}), qos=1).wait_for_publish()
        time.sleep(0.1)
    time.sleep(0.3)
    running.items.clear()


def test_shelly_style_power_readings(mqtt_url) -> None:
    prefix = f"alcyon-test-{uuid.uuid4().hex[:8]}"
    running = Running(f"{mqtt_url}/{prefix}/shellies/+/status/switch:0",
                      {"mqtt": {"device": "topic:2", "time": "ts"}, "site": "asso", "zone": "FR"})
    client = publisher(mqtt_url)
    try:
        wait_subscribed(client, running, f"{prefix}/shellies/probe/status/switch:0")
        client.publish(f"{prefix}/shellies/plug-1/status/switch:0",
                       json.dumps({"id": 0, "apower": 8.9, "ts": 1768435200}), qos=1).wait_for_publish()
        client.publish(f"{prefix}/shellies/plug-1/status/switch:0", b"{not json", qos=1).wait_for_publish()
        client.publish(f"{prefix}/shellies/plug-2/status/switch:0",
                       json.dumps({"id": 0, "voltage": 230, "ts": 1768435201}), qos=1).wait_for_publish()
        client.publish(f"{prefix}/shellies/plug-1/status/switch:0",
                       json.dumps({"id": 0, "apower": 9.5, "ts": 1768435210}), qos=1).wait_for_publish()
        deadline = time.monotonic() + 10
        while len(running.items) < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        running.stop()
        client.loop_stop()
        client.disconnect()
    samples = [i for i in running.items if isinstance(i, Sample)]
    bad = [i for i in running.items if isinstance(i, Bad)]
    assert samples == [Sample("plug-1", 1768435200, "watts", 8.9, None, "asso", "FR"),
                       Sample("plug-1", 1768435210, "watts", 9.5, None, "asso", "FR")]
    assert [(b.reason, b.raw) for b in bad] == [("decode_error", b"{not json"),
                                                ("decode_error", b'{"id": 0, "voltage": 230, "ts": 1768435201}')]
    assert "no field 'apower'" in bad[1].error and f"{prefix}/shellies/plug-2" in bad[1].error


def test_tasmota_style_energy_counter(mqtt_url) -> None:
    prefix = f"alcyon-test-{uuid.uuid4().hex[:8]}"
    config = {"mqtt": {"device": "topic:2", "power": "ENERGY.Power", "energy": "ENERGY.Total",
                       "energy_unit": "kwh"}, "zone": "FR"}
    running = Running(f"{mqtt_url}/{prefix}/tele/#", config)
    client = publisher(mqtt_url)
    try:
        wait_subscribed(client, running, f"{prefix}/tele/probe/SENSOR")
        client.publish(f"{prefix}/tele/tasmota-1/SENSOR",
                       json.dumps({"ENERGY": {"Total": 1.25, "Power": 22}}), qos=1).wait_for_publish()
        deadline = time.monotonic() + 10
        while not running.items and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        running.stop()
        client.loop_stop()
        client.disconnect()
    [sample] = running.items
    # the counter is preferred to the reading: 1.25 kWh = 4.5 MJ
    assert (sample.device, sample.kind, sample.value, sample.zone) == ("tasmota-1", "energy_j", 4.5e6, "FR")
    assert abs(sample.time - time.time()) < 30  # no time field: the time received


def test_site_and_zone_from_the_payload() -> None:
    mapping = PayloadMapping({"mqtt": {"device": "id", "site": "meta.site", "zone": "meta.zone"}, "zone": "FR"})
    sample = mapping.sample("t", b'{"id": "p1", "apower": 3, "meta": {"site": "shed", "zone": "DE"}}', 10.0)
    assert sample == Sample("p1", 10.0, "watts", 3.0, None, "shed", "DE")


def test_mapping_and_uri_errors() -> None:
    assert parse_uri("mqtt://h:1884/a/+/b/#") == ("h", 1884, "a/+/b/#", False)
    with pytest.raises(ConfigError, match="expected mqtt://HOST"):
        parse_uri("mqtt://h:1883")
    with pytest.raises(ConfigError, match=r"\[plugins.emissions.mqtt\] energy_unit"):
        PayloadMapping({"mqtt": {"energy_unit": "btu"}})
    with pytest.raises(ConfigError, match="unknown key"):
        PayloadMapping({"mqtt": {"watts": "x"}})
