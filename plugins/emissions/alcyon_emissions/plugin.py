"""emissions: what the monitoring itself costs, in energy and CO2e, per device, site and grid zone.

Provides the ``power`` source (``power.sample`` events from RAPL, Kepler/Scaphandre-style
exporters, MQTT smart plugs and meters, CSV/JSON-lines replays; ``alcyon ingest power -i URI``),
the ``emissions`` processor (``power.sample`` in; ``emissions.record`` per device and interval,
``emissions.gap`` out) and ``alcyon emissions report`` (from the archive plugin's database).

Configuration (``alcyon.toml``; every key also as ``ALCYON_EMISSIONS__<KEY>``)::

    [plugins.emissions]
    inputs = ["file:trace.csv", "rapl", "mqtt://host:1883/shellies/#", "http://host:9102/metrics"]
    site = ""                   # site of samples that name none
    zone = ""                   # grid zone (ISO 3166 alpha-2/3) of samples that name none
    max_gap_s = 60              # power readings further apart: an emissions.gap, not interpolated
    metrics_device_label = false
    [plugins.emissions.sites.par-2]
    pue = 1.16
    [plugins.emissions.zones.FR]           # default: the bundled country table (lifecycle)
    series = "eco2mix.csv"                 # or g_per_kwh = 44; with basis, source, year
    [plugins.emissions.mqtt]               # JSON field mapping of MQTT payloads (see mqtt.py)
    [plugins.emissions.scrape]             # metric names and labels of scraped exporters (see scrape.py)
"""

from __future__ import annotations

from typing import Any, Mapping

from alcyon import ConfigError, EventType, Option, Processor, Source, hookimpl

from .co2e import Sites
from .intensity import Intensities
from .metrics import EmissionsMeter
from .processor import GAP_EVENT, RECORD_EVENT, Emissions, Settings
from .samples import SAMPLE_EVENT, SAMPLE_TYPE
from .sources import input_kind, run_source


@hookimpl
def alcyon_config_options() -> list[Option]:
    return [
        Option("inputs", list, [], "power inputs: demo (the bundled trace), file:PATH, rapl, mqtt://HOST:PORT/TOPIC, http://HOST:PORT/metrics"),
        Option("site", str, "", "site of samples that name none (PUE from sites.<site>)"),
        Option("zone", str, "", "grid zone of samples that name none (ISO 3166 alpha-2 or alpha-3)"),
        Option("max_gap_s", (int, float), 60, "power readings further apart make a gap (not interpolated)"),
        Option("sites", dict, {}, "per site: pue (e.g. sites.par-2.pue = 1.16); unknown sites: PUE 1.0"),
        Option("zones", dict, {}, "per grid zone: g_per_kwh or series (CSV time,g_per_kwh), basis, source, year"),
        Option("metrics_device_label", bool, False, "add a device label to the energy and CO2e metrics"),
        Option("mqtt", dict, {}, "MQTT payload mapping: device, power, energy, energy_unit, time, site, zone, "
                                 "username, password"),
        Option("scrape", dict, {}, "exporter scrape: counters, gauges, device_labels, site_label, zone_label, "
                                   "interval_s"),
        Option("rapl", dict, {}, "RAPL: root (default /sys/class/powercap), interval_s, device prefix"),
    ]


def _record_check(event: Any) -> None:
    from alcyon import InvalidEvent

    if event.data["end"] <= event.data["start"]:
        raise InvalidEvent(f"{RECORD_EVENT} event {event.id}: end must be after start")


@hookimpl
def alcyon_event_types() -> list[EventType]:
    span: dict[str, type | tuple[type, ...]] = {
        "device": str, "site": str, "zone": str, "start": (int, float), "end": (int, float)}
    return [
        SAMPLE_TYPE,
        EventType(RECORD_EVENT, "energy and CO2e of one device over one interval; subject = device",
                  fields={**span, "energy_j": (int, float), "co2e_g": (int, float), "pue": (int, float),
                          "g_per_kwh": (int, float), "basis": str, "method": str}, check=_record_check),
        EventType(GAP_EVENT, "power readings of a device further apart than max_gap_s (not counted)",
                  fields={**span, "seconds": (int, float), "max_gap_s": (int, float)}),
    ]


def settings(config: Mapping[str, Any]) -> Settings:
    """The processor's validated settings (a ConfigError names the bad key)."""
    gap = config["max_gap_s"]
    if not gap > 0:
        raise ConfigError(f"[plugins.emissions] max_gap_s: a positive number of seconds, got {gap!r}")
    return Settings(float(gap), Sites(config["sites"]), Intensities(config["zones"]))


@hookimpl
def alcyon_processors(config: Mapping[str, Any]) -> list[Processor]:
    for uri in config["inputs"]:
        input_kind(uri)  # a malformed input is a configuration error here; a missing file or device when
        # the source starts (the worker may run on another machine than the source)
    handler = Emissions(settings(config), EmissionsMeter(config["metrics_device_label"]))
    return [Processor(
        name="emissions", subscribe=(SAMPLE_EVENT,), handle_batch=handler.handle_batch,
        description="power samples -> energy and CO2e records per device and interval",
        stateful=True, state_remember="none", state_ttl_s=30 * 86400, max_retries=8, ordered=True,
    )]


@hookimpl
def alcyon_sources(config: Mapping[str, Any]) -> list[Source]:
    return [Source(name="power", publishes=(SAMPLE_EVENT,), run=run_source,
                   description="power samples from RAPL, exporters, MQTT plugs and meters, CSV/JSON replays")]


@hookimpl
def alcyon_cli_commands(subparsers: Any) -> None:
    from .report import add_report_command

    add_report_command(subparsers)
