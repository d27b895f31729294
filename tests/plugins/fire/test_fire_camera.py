"""The camera source against real HTTP servers (basic and digest auth), a real video file, a directory."""

from __future__ import annotations

import hashlib
import io
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

import pytest
from PIL import Image

from alcyon import ConfigError, SourceContext, get_logger
from alcyon_fire.camera import rtsp_frames, run_source
from alcyon_fire.settings import Camera

from .conftest import FRAMES, IMAGES, validated

REALM, NONCE = "camera", "5f1c0ffee"


class Snapshots:
    """A camera's snapshot endpoint on 127.0.0.1: serves ``pictures`` in turn (the last one for ever)."""

    def __init__(self, pictures: list[bytes], auth: str = "", user: str = "admin", password: str = "s3cret") -> None:
        self.pictures, self.auth, self.user, self.password = pictures, auth, user, password
        self.served = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if not owner.authorised(self.headers.get("Authorization", ""), self.path):
                    self.send_response(401)
                    challenge = (f'Basic realm="{REALM}"' if owner.auth == "basic" else
                                 f'Digest realm="{REALM}", nonce="{NONCE}", qop="auth", algorithm=MD5')
                    self.send_header("WWW-Authenticate", challenge)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = owner.pictures[min(owner.served, len(owner.pictures) - 1)]
                owner.served += 1
                self.send_response(200)
                self.send_header("Content-Type", "image/jpeg")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/snapshot.jpg"

    def authorised(self, header: str, path: str) -> bool:
        if not self.auth:
            return True
        if self.auth == "basic":
            import base64

            return header == "Basic " + base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        fields = dict(re.findall(r'(\w+)="?([^",]+)"?', header))
        if not header.startswith("Digest ") or fields.get("username") != self.user:
            return False
        md5 = lambda text: hashlib.md5(text.encode()).hexdigest()  # noqa: E731
        ha1, ha2 = md5(f"{self.user}:{REALM}:{self.password}"), md5(f"GET:{path}")
        expected = md5(f"{ha1}:{NONCE}:{fields['nc']}:{fields['cnonce']}:auth:{ha2}")
        return fields.get("response") == expected

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def picture(seed: int) -> bytes:
    """A distinct real picture: a different crop of the real wildfire photo."""
    image = Image.open(IMAGES / "wildfire_example.jpg").convert("RGB")
    out = io.BytesIO()
    image.crop((seed * 60, (seed % 3) * 100, seed * 60 + 400, (seed % 3) * 100 + 300)).save(out, "JPEG")
    return out.getvalue()


def run_camera(config: dict, until: Callable[[list, list], bool], timeout: float = 20.0,
               inputs: tuple[str, ...] | None = None) -> tuple[list, list]:
    published: list = []
    rejected: list = []
    stopping = threading.Event()

    def publish(event: Any) -> None:
        published.append(event)
        if until(published, rejected):
            stopping.set()

    def reject(raw: bytes, reason: str, error: str) -> None:
        rejected.append((raw, reason, error))
        if until(published, rejected):
            stopping.set()

    ctx = SourceContext(source="camera", config=validated(config), log=get_logger("test"), publish=publish,
                        stopping=stopping, reject=reject, inputs=inputs)
    thread = threading.Thread(target=run_source, args=(ctx,), daemon=True)
    thread.start()
    thread.join(timeout)
    stopping.set()
    thread.join(5)
    return published, rejected


def frames_of(events: list) -> list:
    return [e for e in events if e.type == "camera.frame"]


def health_of(events: list) -> list[str]:
    statuses = [e.data["status"] for e in events if e.type.startswith("camera.alert.")]
    assert all(e.type == f"camera.alert.{e.data['status']}" for e in events if e.type != "camera.frame")
    return statuses


@pytest.mark.parametrize("auth", ["basic", "digest"])
def test_http_snapshots_with_auth_from_a_secret(auth, monkeypatch, tmp_path):
    server = Snapshots([picture(i) for i in range(4)], auth=auth)
    monkeypatch.setenv("TOWER_CAM_PASSWORD", "s3cret")
    try:
        config = {"cameras": {"tower-2": {"input": server.url, "username": "admin", "auth": auth,
                                          "password": "${env:TOWER_CAM_PASSWORD}", "interval_s": 0.05,
                                          "pose": "p1", "azimuth": 90.0, "fov": 60.0}}}
        published, rejected = run_camera(config, lambda p, r: len(frames_of(p)) >= 3)
    finally:
        server.close()
    frames = frames_of(published)
    assert len(frames) >= 3 and rejected == []
    assert frames[0].subject == "tower-2/p1" and frames[0].data["azimuth"] == 90.0
    assert frames[0].data["jpeg"] == picture(0) and frames[1].data["jpeg"] == picture(1)
    assert health_of(published) == []  # fine from the start: nothing to tell


def test_a_wrong_password_and_a_dead_camera_are_unreachable(tmp_path):
    server = Snapshots([picture(0)], auth="basic")
    try:
        config = {"cameras": {"c1": {"input": server.url, "username": "admin", "password": "wrong",
                                     "interval_s": 0.05, "retries": 0, "timeout_s": 1}}}
        published, _ = run_camera(config, lambda p, r: bool(health_of(p)))
    finally:
        server.close()
    assert health_of(published) == ["unreachable"] and frames_of(published) == []
    (status,) = [e for e in published if e.type == "camera.alert.unreachable"]
    assert "401" in status.data["detail"] and "wrong" not in status.data["detail"]

    config = {"cameras": {"c2": {"input": server.url, "interval_s": 0.05, "retries": 1, "timeout_s": 0.5}}}
    published, _ = run_camera(config, lambda p, r: bool(health_of(p)))
    assert health_of(published) == ["unreachable"]


def test_a_camera_that_comes_back_is_recovered():
    server = Snapshots([b"not yet", picture(0), picture(1)])
    try:
        config = {"cameras": {"c1": {"input": server.url, "interval_s": 0.02}}}
        published, rejected = run_camera(config, lambda p, r: "recovered" in health_of(p))
    finally:
        server.close()
    assert health_of(published) == ["undecodable", "recovered"] and len(rejected) == 1


def test_the_same_picture_again_and_again_is_stuck_and_garbage_is_undecodable():
    server = Snapshots([picture(0), picture(1)])  # picture(1) for ever after the first
    try:
        config = {"stuck_after": 3, "cameras": {"c1": {"input": server.url, "interval_s": 0.02}}}
        published, _ = run_camera(config, lambda p, r: "stuck" in health_of(p))
    finally:
        server.close()
    assert health_of(published) == ["stuck"]
    assert len(frames_of(published)) >= 3  # stuck frames still flow: the processors decide

    server = Snapshots([b"<html>camera booting</html>"])
    try:
        config = {"cameras": {"c1": {"input": server.url, "interval_s": 0.02}}}
        published, rejected = run_camera(config, lambda p, r: len(r) >= 2)
    finally:
        server.close()
    assert health_of(published) == ["undecodable"] and frames_of(published) == []
    assert rejected[0][0] == b"<html>camera booting</html>" and rejected[0][1] == "decode_error"


def test_directory_replay_in_name_order_with_capture_times_from_the_names():
    config = {"cameras": {"tower-1": {"input": "demo", "azimuth": 135.0, "fov": 54.2}}}  # = dir:FRAMES
    published, rejected = run_camera(config, lambda p, r: False)
    frames = frames_of(published)
    assert len(frames) == 16 and rejected == []
    assert [f.time for f in frames] == sorted(f.time for f in frames)
    assert frames[0].time.isoformat() == "2026-07-14T12:00:00+00:00"
    assert frames[0].data["jpeg"] == sorted(FRAMES.glob("*.jpg"))[0].read_bytes()
    # from the command line: --input ID=URI takes the camera's pose and bearing from the configuration
    published, _ = run_camera(config, lambda p, r: False, inputs=(f"tower-1=dir:{FRAMES}",))
    assert len(frames_of(published)) == 16 and frames_of(published)[0].data["azimuth"] == 135.0
    with pytest.raises(ConfigError, match="no such directory"):
        run_source(SourceContext(source="camera", config=validated({"cameras": {"x": {"input": "dir:/nonexistent"}}}),
                                 log=get_logger("test"), publish=print, stopping=threading.Event(),
                                 reject=print))


def test_one_frame_from_a_video_stream_with_pyav(tmp_path):
    import av

    video = tmp_path / "stream.mp4"
    source = Image.open(IMAGES / "wildfire_example.jpg").convert("RGB").resize((320, 240))
    with av.open(str(video), "w") as container:
        stream = container.add_stream("mpeg4", rate=5)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        for _ in range(5):
            for packet in stream.encode(av.VideoFrame.from_image(source)):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    camera = Camera(id="v", input=str(video), interval_s=0)
    ctx = SourceContext(source="camera", config={}, log=get_logger("test"), publish=print,
                        stopping=threading.Event(), reject=print)
    (jpeg, taken), = list(rtsp_frames(camera, ctx))
    assert Image.open(io.BytesIO(jpeg)).size == (320, 240)

    broken = Camera(id="v", input=str(tmp_path / "missing.mp4"), interval_s=0)
    (nothing, error), = list(rtsp_frames(broken, ctx))
    assert nothing is None and ("missing.mp4" in error or "No such file" in error)


@pytest.mark.parametrize("enabled, label", [(False, "all"), (True, "tower-9")])
def test_a_camera_id_is_a_metric_label_only_when_enabled(enabled, label):
    from prometheus_client import REGISTRY

    server = Snapshots([b"garbage"])
    before = REGISTRY.get_sample_value("alcyon_fire_camera_problems_total",
                                       {"camera": label, "kind": "undecodable"}) or 0
    try:
        config = {"camera_label": enabled, "cameras": {"tower-9": {"input": server.url, "interval_s": 0.02}}}
        run_camera(config, lambda p, r: len(r) >= 2)
    finally:
        server.close()
    after = REGISTRY.get_sample_value("alcyon_fire_camera_problems_total", {"camera": label, "kind": "undecodable"})
    assert after is not None and after >= before + 2
    assert REGISTRY.get_sample_value("alcyon_fire_camera_up", {"camera": label}) == 0
