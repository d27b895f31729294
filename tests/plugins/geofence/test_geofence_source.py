"""The AIS source on real sockets and files, and zones reloaded without a restart."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from alcyon import ConfigError, SourceContext
from alcyon.logs import get_logger
from alcyon_geofence.processor import ZoneSource
from alcyon_geofence.source import reader_for, run_source

from .test_geofence_ais import _encoded, _sentence, _tag


class Collector:
    """A real SourceContext whose publish and reject keep what they get."""

    def __init__(self, inputs, **config):
        self.events, self.rejects = [], []
        self.stopping = threading.Event()
        self.ctx = SourceContext(source="ais", config={"inputs": [], **config}, log=get_logger("test"),
                                 publish=self.events.append, stopping=self.stopping,
                                 reject=lambda raw, reason, error: self.rejects.append((raw, reason)),
                                 inputs=tuple(inputs))
        self.thread = threading.Thread(target=run_source, args=(self.ctx,), daemon=True)

    def wait_for(self, n, timeout=10.0):
        deadline = time.monotonic() + timeout
        while len(self.events) < n and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.events

    def stop(self):
        self.stopping.set()
        self.thread.join(timeout=5)
        assert not self.thread.is_alive()


def free_port(kind=socket.SOCK_STREAM):
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_udp_datagrams_of_several_lines(tmp_path):
    port = free_port(socket.SOCK_DGRAM)
    c = Collector([f"udp://127.0.0.1:{port}"])
    c.thread.start()
    time.sleep(0.3)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(f"{_encoded(mmsi=227006760)}\r\n{_encoded(mmsi=227006761)}\r\n".encode(), ("127.0.0.1", port))
        s.sendto(b"!AIVDM,1,1,,A,garbage*00\n", ("127.0.0.1", port))
    events = c.wait_for(2)
    time.sleep(0.2)
    c.stop()
    assert sorted(e.subject for e in events) == ["227006760", "227006761"]
    assert [reason for _, reason in c.rejects] == ["bad_checksum"]
    assert all(abs(e.timestamp - time.time()) < 30 for e in events)  # untagged: received now


def test_tcp_receiver_is_reconnected_after_it_drops(tmp_path):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    tagged = _tag("s:rx1,c:1750000000") + _encoded(mmsi=227006762)

    def serve():
        for payload in (_encoded(mmsi=227006760) + "\n", tagged + "\n"):
            conn, _ = server.accept()
            conn.sendall(payload.encode())
            time.sleep(0.1)
            conn.close()  # the receiver goes away; the source must come back

    threading.Thread(target=serve, daemon=True).start()
    c = Collector([f"tcp://127.0.0.1:{port}"])
    c.thread.start()
    events = c.wait_for(2, timeout=15)
    c.stop()
    server.close()
    assert [e.subject for e in events] == ["227006760", "227006762"]
    assert events[1].timestamp == 1750000000  # the tag block's receive time


def test_file_replay_at_recorded_speed(tmp_path):
    lines = [_tag(f"s:rx1,c:{1750000000 + i}") + _encoded(mmsi=227006760 + i) for i in range(3)]
    path = tmp_path / "rec.nmea"
    path.write_text("\n".join(lines) + "\n")
    started = time.monotonic()
    c = Collector([f"file:{path}?speed=4"])  # 2 recorded seconds -> 0.5 s
    c.thread.start()
    c.thread.join(timeout=10)
    elapsed = time.monotonic() - started
    assert len(c.events) == 3 and 0.45 <= elapsed < 3
    fast = Collector([f"file:{path}"])
    fast.thread.start()
    fast.thread.join(timeout=10)
    assert [e.id for e in fast.events] == [e.id for e in c.events]  # same lines, same ids


@pytest.mark.parametrize("uri,message", [
    ("udp://:10110", "give a host and a port"),
    ("file:/no/such.nmea", "no such file"),
    ("file:/etc/hostname?speed=fast", "speed must be a number"),
    ("serial:/dev/ttyUSB0", "expected demo, file:PATH"),
])
def test_bad_inputs_are_configuration_errors(uri, message):
    with pytest.raises(ConfigError, match=message):
        reader_for(uri)


SQUARE = ('{"type": "FeatureCollection", "features": [{"type": "Feature", "id": "%s", "properties": {"name": "Sq"},'
          ' "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]]}}]}')


def test_zones_are_reloaded_when_the_file_changes_and_kept_when_it_breaks(tmp_path):
    path = tmp_path / "zones.geojson"
    path.write_text(SQUARE % "first")
    zones = ZoneSource(str(path), {}, "error", reload_s=0.01, log=get_logger("test"))
    assert zones.current().get("first") is not None
    time.sleep(0.05)
    path.write_text(SQUARE % "second")
    time.sleep(0.05)
    assert zones.current().get("second") is not None and zones.current().get("first") is None
    path.write_text('{"type": "FeatureCollection", "features": [{"type": "Feature"}]}')
    time.sleep(0.05)
    assert zones.current().get("second") is not None  # a broken file keeps the zones in force


def _metric(counter, *labels) -> float:
    return (counter.labels(*labels) if labels else counter)._value.get()


def test_a_tcp_receiver_that_sends_no_newline_fills_no_buffer():
    # 8 MB without a newline: once rebuilt on every read (98% CPU, intake falling to 0.8 MB/s), never capped.
    from alcyon_geofence.metrics import geofence_metrics

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]

    def serve():
        conn, _ = server.accept()
        conn.sendall(b"X" * 8_000_000 + b"\n" + _encoded(mmsi=227006760).encode() + b"\n")
        time.sleep(1)
        conn.close()

    threading.Thread(target=serve, daemon=True).start()
    before = _metric(geofence_metrics().rejected, "line_too_long")
    c = Collector([f"tcp://127.0.0.1:{port}"], max_line_bytes=1000)
    started = time.monotonic()
    c.thread.start()
    events = c.wait_for(1, timeout=15)
    elapsed = time.monotonic() - started
    c.stop()
    server.close()
    assert [e.subject for e in events] == ["227006760"] and elapsed < 5
    [(kept, reason)] = c.rejects
    assert reason == "line_too_long" and kept == b"X" * 1000
    time.sleep(1.2)  # counts reach Prometheus once a second
    assert _metric(geofence_metrics().rejected, "line_too_long") == before + 1


def test_plain_text_over_udp_is_counted_and_kernel_drops_are_exported():
    from alcyon_geofence.metrics import geofence_metrics

    m = geofence_metrics()
    port = free_port(socket.SOCK_DGRAM)
    c = Collector([f"udp://127.0.0.1:{port}"])
    c.thread.start()
    time.sleep(0.3)
    not_ais, dropped = _metric(m.ignored, "not_ais"), _metric(m.udp_dropped)
    too_long = _metric(m.rejected, "line_too_long")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(b"hello, this is not AIS\nnor is this\n", ("127.0.0.1", port))
        time.sleep(0.3)
        for _ in range(1000):  # 60 KB each, faster than the source reads: the kernel drops most
            s.sendto(b"Y" * 60_000, ("127.0.0.1", port))
        time.sleep(0.5)
        s.sendto((_encoded(mmsi=227006760) + "\n").encode(), ("127.0.0.1", port))
    c.wait_for(1, timeout=10)

    def read() -> int:
        return sum(1 for _, reason in c.rejects if reason == "line_too_long")

    deadline = time.monotonic() + 15  # counts reach Prometheus through a buffer flushed once a second
    while time.monotonic() < deadline and (_metric(m.ignored, "not_ais") < not_ais + 2
                                           or _metric(m.udp_dropped) - dropped + read() < 1000
                                           or _metric(m.rejected, "line_too_long") - too_long < read()):
        time.sleep(0.1)
    c.stop()
    read = read()
    assert _metric(m.ignored, "not_ais") == not_ais + 2
    assert _metric(m.rejected, "line_too_long") == too_long + read
    assert _metric(m.udp_dropped) - dropped == 1000 - read > 0  # every datagram read or counted as dropped
    assert all(len(raw) == 4096 for raw, reason in c.rejects if reason == "line_too_long")


@pytest.mark.slow
def test_a_million_fragments_of_unique_sources_keep_the_decoder_bounded():
    # Each with its own tag-block s:, they never expired: RSS 110 -> 846 MB for 1 M lines, none counted.
    from alcyon_geofence.ais import AisDecoder

    decoder = AisDecoder(max_pending=10_000)
    part = _sentence("AIVDM,2,1,7,A,55NBjP01mtGIL@CW;SM<D60P5Ld000000000000P0`<3557l0<50@kk@K5h@00000,0")
    overflowed = 0
    for i in range(1_000_000):
        out = decoder.feed(_tag(f"s:r{i},c:{1750000000 + i // 1000}") + part)
        overflowed += len(out)
    assert len(decoder._pending) == 10_000 and len(decoder._next_expiry) <= 20_000
    assert overflowed == decoder.counts["rejected:fragment_overflow"] == 990_000
    left = decoder.flush()
    assert len(left) == 10_000 and {r.reason for r in left} == {"orphan_fragment"}
