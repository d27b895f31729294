"""Scrape a Kepler/Scaphandre-style Prometheus exporter (the ``http://HOST:PORT/metrics`` input).

Which metrics and labels, in ``[plugins.emissions.scrape]``::

    counters = { kepler_node_package_joules_total = 1.0 }   # energy counters: name -> factor to joules
    gauges = { scaph_host_power_microwatts = 1e-6 }          # power gauges: name -> factor to watts
    device_labels = ["instance", "mode"]                     # labels naming the device ([]: all of them)
    site_label = ""                                          # label holding the site ("": the plugin's site)
    zone_label = ""                                          # label holding the grid zone ("": the plugin's)
    interval_s = 5

Defaults: Kepler's node package and DRAM joules counters and Scaphandre's host power gauge.  A
device is ``HOST:PORT/<metric>{label=value,...}``.  Counters go out as ``energy_j`` samples (an
exporter restart is a reset for the processor); gauges as ``watts``.  The text format is read
with prometheus_client's own parser (already a dependency).  A scrape that fails is logged
and retried at the next interval; a page that does not parse is kept as a dead letter.
"""

from __future__ import annotations

import time
import urllib.request
from typing import Any, Iterator, Mapping
from urllib.parse import urlsplit

from alcyon import ConfigError, SourceContext

from .energy import Sample
from .replay import Bad

DEFAULTS: dict[str, Any] = {
    "counters": {"kepler_node_package_joules_total": 1.0, "kepler_node_dram_joules_total": 1.0},
    "gauges": {"scaph_host_power_microwatts": 1e-6},
    "device_labels": [],
    "site_label": "",
    "zone_label": "",
    "interval_s": 5,
}


class Scrape:
    def __init__(self, uri: str, config: Mapping[str, Any]) -> None:
        raw = dict(config.get("scrape") or {})
        unknown = set(raw) - set(DEFAULTS)
        if unknown:
            raise ConfigError(f"[plugins.emissions.scrape]: unknown key(s) {', '.join(sorted(unknown))}; accepted: "
                              f"{', '.join(DEFAULTS)}")
        s = {**DEFAULTS, **raw}
        for key in ("counters", "gauges"):
            if not isinstance(s[key], Mapping) or not all(
                    isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 for v in s[key].values()):
                raise ConfigError(f"[plugins.emissions.scrape] {key}: a table of metric name = positive factor")
        if not isinstance(s["device_labels"], list):
            raise ConfigError("[plugins.emissions.scrape] device_labels: a list of label names")
        if not isinstance(s["interval_s"], (int, float)) or not s["interval_s"] > 0:
            raise ConfigError("[plugins.emissions.scrape] interval_s: a positive number of seconds")
        self.uri = uri
        self.host = urlsplit(uri).netloc
        if not self.host:
            raise ConfigError(f"power input {uri!r}: expected http://HOST:PORT/metrics")
        self.counters, self.gauges = dict(s["counters"]), dict(s["gauges"])
        self.labels = list(s["device_labels"])
        self.interval = float(s["interval_s"])
        self.site, self.zone = config.get("site", ""), config.get("zone", "")
        self.site_label, self.zone_label = str(s["site_label"]), str(s["zone_label"])

    def device(self, name: str, labels: Mapping[str, str]) -> str:
        keys = self.labels or sorted(labels)
        shown = ",".join(f"{k}={labels[k]}" for k in keys if k in labels)
        return f"{self.host}/{name}" + (f"{{{shown}}}" if shown else "")

    def parse(self, text: str, now: float) -> list[Sample]:
        """The configured metrics of one exposition page; ValueError if it does not parse."""
        from prometheus_client.parser import text_string_to_metric_families

        out: list[Sample] = []
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                kind, factor = ("energy_j", self.counters.get(s.name)) if s.name in self.counters \
                    else ("watts", self.gauges.get(s.name))
                if factor is None:
                    continue
                t = float(s.timestamp) if s.timestamp is not None else now
                out.append(Sample(self.device(s.name, s.labels), t, kind, float(s.value) * factor, None,
                                  s.labels.get(self.site_label) or self.site,
                                  s.labels.get(self.zone_label) or self.zone))
        return out


def scrape_reader(uri: str, config: Mapping[str, Any]) -> Any:
    scrape = Scrape(uri, config)

    def read(ctx: SourceContext) -> Iterator[Sample | Bad]:
        while ctx.running():
            started = time.monotonic()
            try:
                with urllib.request.urlopen(uri, timeout=min(10.0, scrape.interval * 2)) as response:
                    body = response.read()
            except OSError as exc:
                ctx.log.warning("scrape_failed", input=uri, error=str(exc), retry_in_s=scrape.interval)
            else:
                try:
                    yield from scrape.parse(body.decode("utf-8", "replace"), time.time())
                except ValueError as exc:
                    yield Bad(body[:65536], "decode_error", f"scrape {uri}: not the Prometheus text format ({exc})")
            ctx.stopping.wait(max(0.0, scrape.interval - (time.monotonic() - started)))

    return read
