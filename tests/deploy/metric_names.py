"""The metric names alcyon, its notify, emissions and fire plugins and dramatiq expose, and those a PromQL text uses."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from functools import cache
from pathlib import Path

import promql_parser

# Built in a fresh interpreter: no multiprocess directory, no metric objects left by other tests.
_EXPOSED = r"""
import json, os
os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
os.environ.pop("prometheus_multiproc_dir", None)
import prometheus_client
from alcyon.metrics import metrics
from alcyon_geofence.metrics import geofence_metrics
from alcyon_notify.metrics import metrics as notify_metrics
from alcyon_emissions.metrics import emissions_metrics, power_source_metrics
from alcyon_fire.metrics import fire_metrics
metrics(); notify_metrics(); geofence_metrics(); emissions_metrics(); power_source_metrics(); fire_metrics()
names = set()
for family in prometheus_client.REGISTRY.collect():
    if not family.name.startswith(("alcyon_", "process_")):  # process_*: alcyon.metrics.registry() adds them
        continue
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}[family.type]
    names.update(family.name + s for s in suffixes)
print(json.dumps(sorted(names)))
"""


#: dramatiq's series that are wrong on alcyon's brokers and not exported (see alcyon.metrics.DramatiqMetrics).
NOT_EXPORTED = {"dramatiq_message_retries_total", "dramatiq_message_rejects_total",
                "dramatiq_delayed_messages_inprogress"}


@cache
def exposed_names() -> frozenset[str]:
    """Every series name alcyon's workers can expose (alcyon, notify, dramatiq's middleware)."""
    out = subprocess.run([sys.executable, "-c", _EXPOSED], capture_output=True, text=True, check=True).stdout
    names = set(json.loads(out))
    import dramatiq.middleware.prometheus as dramatiq_prometheus

    source = Path(dramatiq_prometheus.__file__).read_text()
    for name in re.findall(r'"(dramatiq_[a-z_]+)"', source):
        if name.startswith("dramatiq_prom_") or name in NOT_EXPORTED:
            continue  # environment variable names, not metrics; series alcyon.metrics.DramatiqMetrics drops
        if name.endswith("_milliseconds"):
            names.update(name + s for s in ("_bucket", "_sum", "_count"))
        else:
            names.add(name)
    return frozenset(names)


GRAFANA_VARIABLES = re.compile(r"\$__(rate_interval|interval|range)|\$\{(\w+)(?::\w+)?\}|\$(\w+)")


def grafana_to_promql(expr: str) -> str:
    """Replace Grafana's variables with values PromQL accepts (durations, a label value)."""
    def sub(m: re.Match[str]) -> str:
        return "5m" if m.group(1) else "x"
    return GRAFANA_VARIABLES.sub(sub, expr)


def selected_metrics(expr: str) -> set[str]:
    """Names of the metrics an expression selects (vector and matrix selectors)."""
    names: set[str] = set()

    def visit(node: object) -> None:
        selector = getattr(node, "vector_selector", None) or node
        if isinstance(selector, promql_parser.VectorSelector) and selector.name:
            names.add(selector.name)

    promql_parser.walk(promql_parser.parse(expr), pre_visit=visit)
    return names
