"""The AIS source: NMEA lines from files, UDP and TCP receivers, decoded into events.

Inputs are URIs:

* ``demo`` — the bundled recording (synthetic tracks over the real MPAs, plus real sentences);
* ``file:PATH`` — a recording, replayed as fast as possible, or ``file:PATH?speed=1`` at the
  recorded pace (``speed=10``: ten times faster), pacing on the tag-block times;
* ``udp://HOST:PORT`` — listen for datagrams (AIS-catcher, rtl-ais), one or more lines each;
* ``tcp://HOST:PORT`` — connect to a receiver and read lines, reconnecting with backoff.

Each input has its own decoder (multi-part messages are reassembled per receiver).  Every
rejected line is counted by reason and kept as a dead letter of the source; lines that are
not AIS are counted (``alcyon_ais_ignored_total``).  Memory is bounded: a line is at most
``max_line_bytes`` (a TCP receiver that never sends a newline fills no buffer), at most
``max_pending_fragments`` incomplete messages wait, and a UDP datagram the kernel dropped
(a full receive buffer) is counted from the socket's own counter (``SO_RXQ_OVFL``).
"""

from __future__ import annotations

import functools
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Callable, Iterator, Sequence
from urllib.parse import parse_qs, urlsplit

from alcyon import ConfigError, CounterBuffer, SourceContext

from .ais import AisDecoder, Position, Result, StaticData, position_event, static_event
from .metrics import geofence_metrics

DEMO_FILE = Path(__file__).parent / "data" / "demo_tracks.nmea"


def run_source(ctx: SourceContext) -> None:
    """Run every input in its own thread until they end (files) or ``ctx.stopping`` is set."""
    inputs = ctx.inputs if ctx.inputs is not None else tuple(ctx.config["inputs"])
    readers = [reader_for(uri) for uri in inputs]  # validate them all before starting any
    # an input that fails was logged (ais_input_failed); the others go on
    ctx.run_each({f"ais-{uri}": functools.partial(_pump, ctx, uri, reader) for uri, reader in zip(inputs, readers)})


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


#: Decoder counts of lines that are not AIS (or of a type not decoded), exported as alcyon_ais_ignored_total.
IGNORED = ("not_ais", "comment", "blank", "ignored_type")


class _CountsWith(CounterBuffer):
    """A source's counter buffer that first adds what ``export`` finds new (the decoder's counts
    of ignored lines), at each flush: once a second while the source waits for input, and at its end."""

    def __init__(self, export: Callable[[], None]) -> None:
        super().__init__()
        self._export = export

    def flush(self) -> None:
        self._export()
        super().flush()


def _pump(ctx: SourceContext, uri: str, reader: LineReader) -> None:
    decoder = AisDecoder(max_pending=ctx.config.get("max_pending_fragments", 10_000))
    max_line = ctx.config.get("max_line_bytes", 4096)
    source = f"ais/{uri.partition('?')[0]}"  # a replay's pace is not part of its identity (nor its ids)
    m = geofence_metrics()
    exported = dict.fromkeys(IGNORED, 0)
    exporting = threading.Lock()

    def export_ignored() -> None:
        with exporting:  # the flusher thread and this one, at the end
            for key in IGNORED:
                now = decoder.counts[key]
                if now > exported[key]:
                    count(m.ignored.labels(key), now - exported[key])
                    exported[key] = now

    counts = _CountsWith(export_ignored)  # counted per line here, added to Prometheus once a second
    positions, statics = m.decoded.labels("position"), m.decoded.labels("static")
    too_long = m.rejected.labels("line_too_long")
    publish, reject, count = ctx.publish, ctx.reject, counts.add

    def emit(results: Sequence[Result]) -> None:
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
            if len(line) > max_line:
                count(too_long)
                reject(line[:max_line], "line_too_long", f"a line of {len(line)} bytes (max_line_bytes {max_line})")
            else:
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


#: Linux's SO_RXQ_OVFL (socket.h): each datagram then carries the socket's count of dropped datagrams.
SO_RXQ_OVFL = getattr(socket, "SO_RXQ_OVFL", 40)


def _udp_lines(host: str, port: int, ctx: SourceContext) -> Iterator[tuple[bytes, float | None]]:
    dropped = geofence_metrics().udp_dropped
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.setsockopt(socket.SOL_SOCKET, SO_RXQ_OVFL, 1)
            ancillary = socket.CMSG_SPACE(4)
        except OSError:  # not Linux: drops are not counted (say so once)
            ancillary = 0
            ctx.log.warning("ais_udp_drops_not_counted", host=host, port=port, why="no SO_RXQ_OVFL on this system")
        sock.bind((host, port))
        sock.settimeout(0.5)
        ctx.log.info("ais_udp_listening", host=host, port=port)
        seen = 0  # the kernel's cumulative drop count when last read
        while ctx.running():
            try:
                datagram, cmsgs, _, _ = sock.recvmsg(65535, ancillary)
            except socket.timeout:
                continue
            for level, kind, value in cmsgs:
                if level == socket.SOL_SOCKET and kind == SO_RXQ_OVFL and len(value) >= 4:
                    total = int.from_bytes(value[:4], sys.byteorder)
                    if total > seen:
                        dropped.inc(total - seen)
                        seen = total
            now = time.time()
            for line in datagram.splitlines():
                yield line, now


def _tcp_lines(host: str, port: int, ctx: SourceContext) -> Iterator[tuple[bytes, float | None]]:
    max_line = ctx.config.get("max_line_bytes", 4096)
    backoff = 0.5
    while ctx.running():
        try:
            with socket.create_connection((host, port), timeout=10) as sock:
                sock.settimeout(0.5)
                ctx.log.info("ais_tcp_connected", host=host, port=port)
                backoff = 0.5
                buffer = b""  # the start of a line, never more than max_line + 1 bytes
                while ctx.running():
                    try:
                        chunk = sock.recv(65536)
                    except socket.timeout:
                        continue
                    if not chunk:
                        raise ConnectionError("the receiver closed the connection")
                    now = time.time()
                    if b"\n" not in chunk:  # no line ends here: keep at most the start of an over-long one
                        if len(buffer) <= max_line:
                            buffer = (buffer + chunk)[:max_line + 1]  # still over max_line: rejected at its end
                        continue
                    *lines, rest = chunk.split(b"\n")
                    lines[0] = buffer + lines[0]
                    buffer = rest[:max_line + 1]
                    for line in lines:
                        yield line, now
        except OSError as exc:
            ctx.log.warning("ais_tcp_reconnecting", host=host, port=port, in_s=backoff, error=str(exc))
            if ctx.stopping.wait(backoff):
                return
            backoff = min(backoff * 2, 30.0)
