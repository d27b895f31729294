"""Scraping a Kepler/Scaphandre-style exporter served over real HTTP."""

from __future__ import annotations

import http.server
import threading

import pytest

from alcyon import ConfigError, SourceContext, get_logger
from alcyon_emissions.energy import Sample, step
from alcyon_emissions.replay import Bad
from alcyon_emissions.scrape import Scrape, scrape_reader

PAGES = [
    """# HELP kepler_node_package_joules_total Aggregated RAPL value in package in joules
# TYPE kepler_node_package_joules_total counter
kepler_node_package_joules_total{instance="node-1",mode="dynamic",package="0"} 1000.5
kepler_node_package_joules_total{instance="node-1",mode="idle",package="0"} 200
# TYPE scaph_host_power_microwatts gauge
scaph_host_power_microwatts 35000000
# TYPE node_cpu_seconds_total counter
node_cpu_seconds_total{cpu="0"} 12
""",
    """# TYPE kepler_node_package_joules_total counter
kepler_node_package_joules_total{instance="node-1",mode="dynamic",package="0"} 1350.5
kepler_node_package_joules_total{instance="node-1",mode="idle",package="0"} 210
# TYPE scaph_host_power_microwatts gauge
scaph_host_power_microwatts 36000000
""",
    "this is { not the text format\n",
]


@pytest.fixture
def exporter():
    served: list[int] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            body = PAGES[min(len(served), len(PAGES) - 1)].encode()
            served.append(1)
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/metrics"
    server.shutdown()


def test_counters_and_gauges_from_an_exporter(exporter) -> None:
    stopping = threading.Event()
    ctx = SourceContext("power", {}, get_logger("test"), lambda e: None, stopping, lambda *a: None)
    config = {"scrape": {"device_labels": ["instance", "mode"], "interval_s": 0.05}, "site": "par-2", "zone": "FR"}
    read = scrape_reader(exporter, config)(ctx)
    items = [next(read) for _ in range(7)]
    stopping.set()
    host = exporter.split("/")[2]
    dyn = f"{host}/kepler_node_package_joules_total{{instance=node-1,mode=dynamic}}"
    first, second, bad = items[:3], items[3:6], items[6]
    assert first[0] == Sample(dyn, first[0].time, "energy_j", 1000.5, None, "par-2", "FR")
    assert [s.value for s in first] == [1000.5, 200, 35.0] and [s.kind for s in first] == ["energy_j"] * 2 + ["watts"]
    assert first[2].device == f"{host}/scaph_host_power_microwatts"
    # through the processor's arithmetic: 350 J from the dynamic counter
    state, _ = step(None, first[0], 60)
    assert step(state, second[0], 60)[1].energy_j == 350
    assert isinstance(bad, Bad) and bad.reason == "decode_error" and "not the Prometheus text format" in bad.error


def test_site_and_zone_from_labels() -> None:
    scrape = Scrape("http://h:9102/metrics", {"scrape": {"site_label": "dc", "zone_label": "grid",
                                                          "device_labels": ["instance"]}, "zone": "FR"})
    text = ('# TYPE kepler_node_package_joules_total counter\n'
            'kepler_node_package_joules_total{instance="n1",dc="par-2",grid="NL"} 5\n'
            'kepler_node_package_joules_total{instance="n2"} 7\n')
    got = [(s.device, s.site, s.zone) for s in scrape.parse(text, 0.0)]
    assert got == [("h:9102/kepler_node_package_joules_total{instance=n1}", "par-2", "NL"),
                   ("h:9102/kepler_node_package_joules_total{instance=n2}", "", "FR")]


def test_scrape_configuration_errors() -> None:
    with pytest.raises(ConfigError, match="scrape\\] counters"):
        Scrape("http://h:9102/metrics", {"scrape": {"counters": {"x": -1}}})
    with pytest.raises(ConfigError, match="unknown key"):
        Scrape("http://h:9102/metrics", {"scrape": {"metric": "x"}})
