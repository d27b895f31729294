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

from .test_geofence_ais import _encoded, _tag


class Collector:
    """A real SourceContext whose publish and reject keep what they get."""

    def __init__(self, inputs):
        self.events, self.rejects = [], []
        self.stopping = threading.Event()
        self.ctx = SourceContext(source="ais", config={"inputs": []}, log=get_logger("test"),
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
