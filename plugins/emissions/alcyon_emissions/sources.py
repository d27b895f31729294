"""The ``power`` source: inputs as URIs, each read in its own thread, samples published as events.

* ``file:PATH`` — replay a CSV or JSON-lines file (:mod:`.replay`); ``demo``: the bundled
  synthetic trace (``data/demo_trace.csv``, whatever the working directory);
* ``rapl`` — Linux RAPL counters under ``/sys/class/powercap`` (:mod:`.rapl`);
* ``mqtt://HOST:PORT/TOPIC/#`` — readings of smart plugs and meters (:mod:`.mqtt`);
* ``http://HOST:PORT/metrics`` — scrape a Kepler/Scaphandre-style exporter (:mod:`.scrape`).

Every bad input is kept as a dead letter of the source with a bounded reason; the rest flows.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping
from urllib.parse import urlsplit

from alcyon import ConfigError, CounterBuffer, SourceContext

from .energy import Sample
from .replay import Bad, read_file
from .samples import sample_event

#: ``demo``: the bundled synthetic one-hour trace (see make_trace.py).
DEMO_TRACE = Path(__file__).parent / "data" / "demo_trace.csv"

Reader = Callable[[SourceContext], Iterator["Sample | Bad"]]


_KINDS = {"file": "file", "rapl": "rapl", "mqtt": "mqtt", "mqtts": "mqtt", "http": "http", "https": "http"}


def input_kind(uri: str) -> str:
    """``file``, ``rapl``, ``mqtt`` or ``http``, from the form of ``uri`` alone (nothing opened or read:
    a worker on another machine than the source validates the same configuration)."""
    kind = "file" if uri == "demo" else _KINDS.get("rapl" if uri == "rapl" else urlsplit(uri).scheme)
    if kind is None:
        raise ConfigError(f"power input {uri!r}: expected demo, file:PATH, rapl, mqtt://HOST:PORT/TOPIC or "
                          "http://HOST:PORT/metrics")
    return kind


def reader_for(uri: str, config: Mapping[str, Any]) -> Reader:
    """The reader of ``uri``, or a ConfigError saying what is wrong (a missing file, RAPL not readable)."""
    kind = input_kind(uri)
    if kind == "file":
        parts = urlsplit(uri)
        path = DEMO_TRACE if uri == "demo" else Path(parts.netloc + parts.path if parts.netloc else parts.path)
        if not path.is_file():
            raise ConfigError(f"power input {uri!r}: no such file {path}")
        site, zone = config.get("site", ""), config.get("zone", "")
        return lambda ctx: read_file(path, site, zone, ctx.progress)
    if kind == "rapl":
        from .rapl import rapl_reader

        return rapl_reader(uri, config)
    if kind == "mqtt":
        from .mqtt import mqtt_reader

        return mqtt_reader(uri, config)
    from .scrape import scrape_reader

    return scrape_reader(uri, config)


def run_source(ctx: SourceContext) -> None:
    """Run every input until it ends (files) or ``ctx.stopping`` is set; raise if one failed."""
    inputs = ctx.inputs if ctx.inputs is not None else tuple(ctx.config["inputs"])
    readers = [reader_for(uri, ctx.config) for uri in inputs]  # validate them all before starting any
    failures = ctx.run_each({f"power-{uri}": functools.partial(_pump, ctx, uri, reader)
                             for uri, reader in zip(inputs, readers)})
    if failures:
        raise failures[0]


def _pump(ctx: SourceContext, uri: str, reader: Reader) -> None:
    from .metrics import source_counts

    source = f"power/{uri.partition('?')[0]}"
    counts = CounterBuffer()
    read, rejected = source_counts()
    try:
        for item in reader(ctx):
            if isinstance(item, Sample):
                ctx.publish(sample_event(item, source))
                counts.add(read)
            else:
                counts.add(rejected.labels(item.reason))
                ctx.reject(item.raw, item.reason, item.error)
            if not ctx.running():
                break
    except Exception as exc:
        ctx.log.error("power_input_failed", input=uri, error=str(exc))
        raise
    finally:
        counts.flush()
