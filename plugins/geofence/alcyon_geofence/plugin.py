"""geofence: alerts when fishing vessels enter, leave, cross or linger in marine protected areas.

Provides the ``ais`` source (NMEA from files, UDP, TCP; ``alcyon ingest ais``) and the
``geofence`` processor (``ais.position`` and ``ais.static`` in; ``geofence.entered``,
``geofence.exited``, ``geofence.crossed``, ``geofence.dwell`` and ``geofence.gap`` out).

Configuration (``alcyon.toml``; every key also as ``ALCYON_GEOFENCE__<KEY>``)::

    [plugins.geofence]
    zones = ""                 # GeoJSON path or URL; "" = the 20 bundled French MPAs
    zones_invalid = "error"    # or "repair": make invalid polygons valid (logged per zone)
    zones_reload_s = 60        # re-read a changed file (re-fetch a URL) this often; 0 = never
    gap_minutes = 30           # no position for longer: a geofence.gap alert at the next one
    inputs = ["demo"]          # demo | file:PATH[?speed=1] | udp://HOST:PORT | tcp://HOST:PORT

    [plugins.geofence.zone_rules]   # defaults for every zone, overridden per zone
    dwell_minutes = 30              # inside longer than this: a geofence.dwell alert (false: never)
    fishing_speed_knots = 5         # inside below this speed: "probably fishing" -> dwell at once
    vessels = "all"                 # or { ship_types = [30], mmsi = ["227006760"] }
    [plugins.geofence.zone_rules.zones.FR-QUIBERON]
    dwell_minutes = 10
"""

from __future__ import annotations

from typing import Any, Mapping

from alcyon import EventType, InvalidEvent, Option, Processor, Source, get_logger, hookimpl

from .ais import POSITION_EVENT, STATIC_EVENT
from .processor import Geofence, ZoneSource
from .source import reader_for, run_source
from .tracker import ALERT_EVENT_PREFIX, ALERT_KINDS, TrackerConfig

log = get_logger("alcyon_geofence")


@hookimpl
def alcyon_config_options() -> list[Option]:
    return [
        Option("zones", str, "", "GeoJSON file or http(s)/file URL of the protected areas (\"\": bundled)"),
        Option("zones_invalid", str, "error", "invalid zone geometry: error, or repair (logged per zone)"),
        Option("zones_reload_s", (int, float), 60, "seconds between checks for new zones (0: never)"),
        Option("zone_rules", dict, {}, "per-zone rules: vessels, dwell_minutes, fishing_speed_knots, zones.<id>"),
        Option("gap_minutes", (int, float), 30, "minutes without a position that make an AIS gap"),
        Option("inputs", list, ["demo"], "AIS inputs: demo, file:PATH[?speed=N], udp://HOST:PORT, tcp://HOST:PORT"),
        Option("max_line_bytes", int, 4096, "a longer input line is rejected (line_too_long), its start kept; a TCP "
               "receiver's line buffer never holds more"),
        Option("max_pending_fragments", int, 10_000, "incomplete multi-part messages kept per input; beyond, the "
               "oldest is rejected (fragment_overflow)"),
    ]


#: Optional position fields: None (not available) or a number in [low, high).
_MOTION = {"sog": (0.0, 102.3), "cog": (0.0, 360.0), "heading": (0, 360), "nav_status": (0, 16)}


def _position_check(event: Any) -> None:
    lat, lon = event.data["lat"], event.data["lon"]
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise InvalidEvent(f"{POSITION_EVENT} event {event.id}: position ({lat}, {lon}) is out of range")
    for name, (low, high) in _MOTION.items():
        value = event.data.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value < high:
            raise InvalidEvent(f"{POSITION_EVENT} event {event.id}: data.{name} must be null or a number in "
                               f"[{low}, {high}), got {value!r}")


@hookimpl
def alcyon_event_types() -> list[EventType]:
    alert_fields: dict[str, type | tuple[type, ...]] = {
        "kind": str, "mmsi": str, "time": (int, float), "lat": (int, float), "lon": (int, float)}
    return [
        EventType(POSITION_EVENT, "an AIS position report (types 1-3, 18, 19, 27); subject = MMSI",
                  fields={"lat": (int, float), "lon": (int, float), "msg_type": int, "raw": str},
                  check=_position_check),
        EventType(STATIC_EVENT, "AIS static and voyage data (types 5, 24, 19); subject = MMSI",
                  fields={"msg_type": int, "raw": str}),
        *[EventType(ALERT_EVENT_PREFIX + kind, f"a vessel {kind} event of the geofence", fields=alert_fields)
          for kind in ALERT_KINDS],
    ]


def _settings(config: Mapping[str, Any]) -> tuple[ZoneSource, TrackerConfig]:
    if config["zones_invalid"] not in ("error", "repair"):
        from alcyon import ConfigError

        raise ConfigError(f"[plugins.geofence] zones_invalid: must be error or repair, got {config['zones_invalid']!r}")
    for uri in config["inputs"]:
        reader_for(uri)  # an unusable input is a configuration error at start-up
    zones = ZoneSource(config["zones"], config["zone_rules"], config["zones_invalid"],
                       float(config["zones_reload_s"]), log)
    return zones, TrackerConfig.from_mapping({"gap_minutes": config["gap_minutes"]})


@hookimpl
def alcyon_processors(config: Mapping[str, Any]) -> list[Processor]:
    zones, tracker = _settings(config)
    return [Processor(
        name="geofence", subscribe=(POSITION_EVENT, STATIC_EVENT), handle_batch=Geofence(zones, tracker).handle_batch,
        description="vessels x protected areas -> entered/exited/crossed/dwell/gap alerts",
        stateful=True, state_remember="derived", state_ttl_s=30 * 86400, max_retries=8, ordered=True,
    )]


@hookimpl
def alcyon_sources(config: Mapping[str, Any]) -> list[Source]:
    return [Source(name="ais", publishes=(POSITION_EVENT, STATIC_EVENT), run=run_source,
                   description="NMEA 0183 AIVDM/AIVDO from files, UDP and TCP")]
