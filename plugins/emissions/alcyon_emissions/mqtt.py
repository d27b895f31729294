"""Power readings of smart plugs and meters on MQTT (the ``mqtt://HOST:PORT/TOPIC`` input).

Associations already own Shelly and Tasmota plugs that publish JSON; which topic and which
fields are configurable (``[plugins.emissions.mqtt]``)::

    device = "topic:1"        # the device: "topic" (whole topic), "topic:N" (Nth level) or a JSON field
    power = "apower"          # JSON path of the power in watts ("" : none)
    energy = "aenergy.total"  # JSON path of a cumulative energy counter ("" : none), preferred when both
    energy_unit = "wh"        # j, wh or kwh (Shelly: Wh; Tasmota ENERGY.Total: kWh)
    time = ""                 # JSON path of the reading's time (unix s or RFC 3339); "": time received
    site = ""                 # JSON path of the site ("": the plugin's site); zone likewise

Shelly Gen2 (``shellies/<id>/status/switch:0``): the defaults.  Tasmota (``tele/<id>/SENSOR``):
``device = "topic:1"``, ``power = "ENERGY.Power"``, ``energy = "ENERGY.Total"``, ``energy_unit = "kwh"``.
The URI's path is the subscription (wildcards ``+`` and ``#`` allowed, e.g.
``mqtt://127.0.0.1:1883/shellies/+/status/switch:0``).  A payload that does not fit is kept as a
dead letter of the source with the reason; paho reconnects on its own after a broker restart.
"""

from __future__ import annotations

import json
import queue
import time
import uuid
from typing import Any, Iterator, Mapping
from urllib.parse import urlsplit

from alcyon import ConfigError, SourceContext

from .energy import Sample
from .fields import get_path, number
from .replay import Bad
from .samples import parse_time_value

UNITS = {"j": 1.0, "wh": 3600.0, "kwh": 3.6e6}
DEFAULTS = {"device": "topic", "power": "apower", "energy": "", "energy_unit": "wh", "time": "", "site": "",
            "zone": "", "username": "", "password": ""}


def parse_uri(uri: str) -> tuple[str, int, str, bool]:
    """(host, port, topic filter, tls) of ``mqtt[s]://HOST[:PORT]/TOPIC`` ('#' is part of the topic, not a fragment)."""
    scheme, _, rest = uri.partition("://")
    netloc, _, topic = rest.partition("/")
    parts = urlsplit(f"{scheme}://{netloc}")
    if not parts.hostname or not topic:
        raise ConfigError(f"power input {uri!r}: expected mqtt://HOST[:PORT]/TOPIC, e.g. "
                          "mqtt://127.0.0.1:1883/shellies/+/status/switch:0")
    tls = scheme == "mqtts"
    return parts.hostname, parts.port or (8883 if tls else 1883), topic, tls


class PayloadMapping:
    """The configured mapping of a payload to a :class:`Sample`."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        raw = dict(config.get("mqtt") or {})
        unknown = set(raw) - set(DEFAULTS)
        if unknown:
            raise ConfigError(f"[plugins.emissions.mqtt]: unknown key(s) {', '.join(sorted(unknown))}; accepted: "
                              f"{', '.join(DEFAULTS)}")
        self.m = {**DEFAULTS, **{k: str(v) for k, v in raw.items()}}
        if self.m["energy_unit"].lower() not in UNITS:
            raise ConfigError(f"[plugins.emissions.mqtt] energy_unit: one of {', '.join(UNITS)}, got "
                              f"{self.m['energy_unit']!r}")
        if not self.m["power"] and not self.m["energy"]:
            raise ConfigError("[plugins.emissions.mqtt]: give power or energy (the JSON path of a reading)")
        self.scale = UNITS[self.m["energy_unit"].lower()]
        self.site, self.zone = config.get("site", ""), config.get("zone", "")

    def sample(self, topic: str, payload: bytes, received: float) -> Sample:
        obj = json.loads(payload)
        if not isinstance(obj, dict):
            raise ValueError("the payload must be a JSON object")
        device = self.m["device"]
        if device == "topic":
            name = topic
        elif device.startswith("topic:"):
            levels = topic.split("/")
            index = int(device[6:])
            if index >= len(levels):
                raise ValueError(f"topic {topic!r} has no level {index}")
            name = levels[index]
        else:
            name = str(get_path(obj, device))
        site = str(get_path(obj, self.m["site"])) if self.m["site"] else self.site
        zone = str(get_path(obj, self.m["zone"])) if self.m["zone"] else self.zone
        t = received
        if self.m["time"]:
            value = get_path(obj, self.m["time"])
            t = float(value) if isinstance(value, (int, float)) else parse_time_value(str(value))
        if self.m["energy"]:
            try:
                energy = number(get_path(obj, self.m["energy"]), self.m["energy"]) * self.scale
                return Sample(name, t, "energy_j", energy, None, site, zone)
            except KeyError:
                if not self.m["power"]:
                    raise
        watts = number(get_path(obj, self.m["power"]), self.m["power"])
        if watts < 0:
            raise ValueError(f"{self.m['power']} must be >= 0, got {watts}")
        return Sample(name, t, "watts", watts, None, site, zone)


def mqtt_reader(uri: str, config: Mapping[str, Any]) -> Any:
    host, port, topic, tls = parse_uri(uri)
    mapping = PayloadMapping(config)

    def read(ctx: SourceContext) -> Iterator[Sample | Bad]:
        import paho.mqtt.client as mqtt

        inbox: queue.Queue[tuple[str, bytes, float]] = queue.Queue(maxsize=100_000)
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"alcyon-power-{uuid.uuid4().hex[:8]}")
        if mapping.m["username"]:
            client.username_pw_set(mapping.m["username"], mapping.m["password"] or None)
        if tls:
            client.tls_set()
        client.on_connect = lambda c, userdata, flags, reason, props: c.subscribe(topic, qos=1)
        client.on_message = lambda c, userdata, msg: inbox.put((msg.topic, bytes(msg.payload), time.time()))
        client.reconnect_delay_set(1, 30)
        client.connect_async(host, port, keepalive=30)
        client.loop_start()
        ctx.log.info("mqtt_subscribing", host=host, port=port, topic=topic)
        try:
            while ctx.running():
                try:
                    msg_topic, payload, received = inbox.get(timeout=0.2)
                except queue.Empty:
                    continue
                try:
                    yield mapping.sample(msg_topic, payload, received)
                except (ValueError, KeyError) as exc:
                    error = exc.args[0] if isinstance(exc, KeyError) else str(exc)
                    yield Bad(payload, "decode_error", f"mqtt topic {msg_topic}: {error}")
        finally:
            client.loop_stop()
            client.disconnect()

    return read
