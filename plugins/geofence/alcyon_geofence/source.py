"""The AIS source: NMEA lines from files, UDP and TCP receivers, decoded into events.

Inputs are URIs:

* ``demo`` — the bundled recording (synthetic tracks over the real MPAs, plus real sentences);
* ``file:PATH`` — a recording, replayed as fast as possible, or ``file:PATH?speed=1`` at the
  recorded pace (``speed=10``: ten times faster), pacing on the tag-block times;
* ``udp://HOST:PORT`` — listen for datagrams (AIS-catcher, rtl-ais), one or more lines each;
* ``tcp://HOST:PORT`` — connect to a receiver and read lines, reconnecting with backoff.

Each input has its own decoder (multi-part messages are reassembled per receiver).  Every
rejected line is counted by reason and kept as a dead letter of the source.
"""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import Callable, Iterator
from urllib.parse import parse_qs, urlsplit

from alcyon import ConfigError, CounterBuffer, SourceContext

from .ais import AisDecoder, Position, Result, StaticData, position_event, static_event
from .metrics import geofence_metrics

DEMO_FILE = Path(__file__).parent / "data" / "demo_tracks.nmea"


def run_source(ctx: SourceContext) -> None:
    """Run every input in its own thread until they end (files) or ``ctx.stopping`` is set."""
    inputs = ctx.inputs if ctx.inputs is not None else tuple(ctx.config["inputs"])
    readers = [reader_for(uri) for uri in inputs]  # validate them all before starting any
    threads = [threading.Thread(target=_pump, args=(ctx, uri, reader), name=f"ais-{uri}", daemon=True)
               for uri, reader in zip(inputs, readers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        while thread.is_alive() and ctx.running():
            thread.join(0.2)


LineReader = Callable[[SourceContext], Iterator[tuple[bytes, float | None]]]


def reader_for(uri: str) -> LineReader:
    """The reader of ``uri``, or a ConfigError saying which forms are accepted."""
    if uri == "demo":
        return lambda ctx: _file_lines(DEMO_FILE, 0.0, ctx)
    parts = urlsplit(uri)
    if parts.scheme == "file":
        path = Path(parts.netloc + parts.path if parts.netloc else parts.path)
        if not path.is_file():
            raise ConfigError(f"AIS input {uri!r}: no such file {path}")
        speed = _speed(uri, parts.query)
        return lambda ctx: _file_lines(path, speed, ctx)
    if parts.scheme in ("udp", "tcp"):
        if not parts.hostname or not parts.port:
            raise ConfigError(f"AIS input {uri!r}: give a host and a port, e.g. {parts.scheme}://0.0.0.0:10110")
        host, port = parts.hostname, parts.port
        return (lambda ctx: _udp_lines(host, port, ctx)) if parts.scheme == "udp" \
            else (lambda ctx: _tcp_lines(host, port, ctx))
    raise ConfigError(f"AIS input {uri!r}: expected demo, file:PATH[?speed=N], udp://HOST:PORT or tcp://HOST:PORT")


def _speed(uri: str, query: str) -> float:
    values = parse_qs(query).get("speed", ["0"])
    try:
        speed = float(values[0])
    except ValueError:
        raise ConfigError(f"AIS input {uri!r}: speed must be a number (0: as fast as possible)") from None
    if speed < 0:
        raise ConfigError(f"AIS input {uri!r}: speed must be >= 0")
    return speed


def _pump(ctx: SourceContext, uri: str, reader: LineReader) -> None:
    decoder = AisDecoder()
    source = f"ais/{uri.partition('?')[0]}"  # a replay's pace is not part of its identity (nor its ids)
    m = geofence_metrics()
    counts = CounterBuffer()  # counted per line here, added to Prometheus once a second
    positions, statics = m.decoded.labels("position"), m.decoded.labels("static")
    publish, reject, count = ctx.publish, ctx.reject, counts.add

    def emit(results: list[Result]) -> None:
        for result in results:
            kind = type(result)
            if kind is Position:
                publish(position_event(result, source))  # type: ignore[arg-type]
                count(positions)
            elif kind is StaticData:
                publish(static_event(result, source))  # type: ignore[arg-type]
                count(statics)
            else:
                count(m.rejected.labels(result.reason))  # type: ignore[union-attr]
                reject(result.line.encode("utf-8", "replace"), result.reason,  # type: ignore[union-attr]
                       result.detail or result.reason)  # type: ignore[union-attr]

    try:
        for line, received_at in reader(ctx):
            emit(decoder.feed(line, received_at))
            if not ctx.running():
                break
        emit(decoder.flush())
    except ConfigError:
        raise
    except Exception:
        ctx.log.exception("ais_input_failed", input=uri)
        raise
    finally:
        counts.flush()
        ctx.log.info("ais_input_done", input=uri, **{k.replace(":", "_"): v for k, v in decoder.counts.items()})


def _file_lines(path: Path, speed: float, ctx: SourceContext) -> Iterator[tuple[bytes, float | None]]:
    """Lines of a recording; with ``speed`` > 0, paced on the ``c:`` times of its tag blocks.

    Tagged lines carry their receive time; untagged ones get the wall clock when read.
    """
    first: tuple[float, float] | None = None  # (recorded time, wall clock) of the first tagged line
    size = path.stat().st_size
    with path.open("rb") as stream:
        for number, line in enumerate(stream):
            if number % 256 == 0:
                ctx.progress(stream.tell(), size)
            if speed > 0:
                recorded = _tag_time(line)
                if recorded is not None:
                    if first is None:
                        first = (recorded, time.monotonic())
                    delay = first[1] + (recorded - first[0]) / speed - time.monotonic()
                    if delay > 0 and ctx.stopping.wait(delay):
                        return
            yield line, None
        ctx.progress(size, size)


def _tag_time(line: bytes) -> float | None:
    if not line.startswith(b"\\"):
        return None
    for field in line[1:line.find(b"*")].split(b","):
        if field.startswith(b"c:"):
            try:
                value = float(field[2:])
            except ValueError:
                return None
            return value / 1000 if value > 1e11 else value
    return None


def _udp_lines(host: str, port: int, ctx: SourceContext) -> Iterator[tuple[bytes, float | None]]:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.settimeout(0.5)
        ctx.log.info("ais_udp_listening", host=host, port=port)
        while ctx.running():
            try:
                datagram, _ = sock.recvfrom(65535)
            except socket.timeout:
                continue
            now = time.time()
            for line in datagram.splitlines():
                yield line, now


def _tcp_lines(host: str, port: int, ctx: SourceContext) -> Iterator[tuple[bytes, float | None]]:
    backoff = 0.5
    while ctx.running():
        try:
            with socket.create_connection((host, port), timeout=10) as sock:
                sock.settimeout(0.5)
                ctx.log.info("ais_tcp_connected", host=host, port=port)
                backoff = 0.5
                buffer = b""
                while ctx.running():
                    try:
                        chunk = sock.recv(65536)
                    except socket.timeout:
                        continue
                    if not chunk:
                        raise ConnectionError("the receiver closed the connection")
                    now = time.time()
                    *lines, buffer = (buffer + chunk).split(b"\n")
                    for line in lines:
                        yield line, now
        except OSError as exc:
            ctx.log.warning("ais_tcp_reconnecting", host=host, port=port, in_s=backoff, error=str(exc))
            if ctx.stopping.wait(backoff):
                return
            backoff = min(backoff * 2, 30.0)
