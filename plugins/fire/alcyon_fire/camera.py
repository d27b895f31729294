"""The ``camera`` source: frames from lookout cameras as ``camera.frame`` events.

Inputs (per camera, ``[plugins.fire.cameras.<id>] input``, or ``alcyon ingest camera --input``):

* ``demo`` — the bundled replay (16 frames cut from a real plume photo: forest, plume, forest);
* ``dir:PATH`` — replay a directory's JPEGs in name order (the demo and tests); the capture
  time comes from an ISO-like time in the name (``tower-1_2026-07-14T12-00-00.jpg``,
  Pyronear's naming) or else the file's mtime; ``speed`` > 0 paces them on those times.
* ``http(s)://...`` — a snapshot URL polled every ``interval_s`` (basic or digest auth, secrets
  as ``${env:NAME}`` / ``${file:PATH}``, a timeout, retries, TLS verified, ``ca_file``).
* ``rtsp://...`` — one frame per ``interval_s`` pulled with PyAV, whose wheels bundle their own
  FFmpeg (no system ffmpeg needed), re-encoded as JPEG with Pillow.

Each frame is ``camera.frame``: subject ``camera[/pose]``, time = capture time, data
``{"camera", "pose", "azimuth", "fov", "jpeg": <bytes>}`` (bytes travel raw in msgpack, never
base64).  Health: a camera that does not answer (``unreachable``), serves the same picture
again and again (``stuck``: a 64-bit perceptual hash within ``stuck_distance`` bits for
``stuck_after`` frames, as Pyronear's stuck detector does) or serves undecodable bytes
(``undecodable``, also kept as a dead letter) is reported once per change as a
``camera.alert.<problem>`` event (``camera.alert.recovered`` when it is fine again: alerts, so
that notify tells the operators by default) and in ``alcyon_fire_camera_up`` /
``alcyon_fire_camera_problems_total``.
"""

from __future__ import annotations

import importlib.util
import io
import re
import ssl
import threading
import time
import urllib.request
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator

from alcyon import ConfigError, Event, SourceContext

from .metrics import camera_label, fire_metrics
from .settings import Camera, FireSettings, camera_from_table, parse
from .vision import BadFrame, average_hash, hamming, open_jpeg

FRAME = "camera.frame"
HEALTH = "camera.alert."  # + unreachable, stuck, undecodable, recovered
HEALTH_KINDS = ("unreachable", "stuck", "undecodable", "recovered")
_NAME_TIME = re.compile(r"(\d{4})-(\d{2})-(\d{2})[T_ ](\d{2})[-:](\d{2})[-:](\d{2})")
_IMAGE_SUFFIXES = {".jpg", ".jpeg"}

#: yields (jpeg bytes, capture time) or (None, error text) when the camera did not answer
Frames = Iterator[tuple[bytes | None, "datetime | str"]]


def capture_time(path: Path) -> datetime:
    """The capture time in a frame's file name (UTC), or else its modification time."""
    match = _NAME_TIME.search(path.name)
    if match:
        try:
            # six groups: year to second (mypy cannot count a map's items)
            return datetime(*map(int, match.groups()), tzinfo=timezone.utc)  # type: ignore[arg-type, misc]
        except ValueError:
            pass
    return datetime.fromtimestamp(path.stat().st_mtime, timezone.utc)


def dir_frames(camera: Camera, ctx: SourceContext) -> Frames:
    root = Path(camera.input[4:])
    files = sorted(p for p in root.iterdir() if p.suffix.lower() in _IMAGE_SUFFIXES)
    first: tuple[float, float] | None = None
    for done, path in enumerate(files):
        ctx.progress(done, len(files))
        taken = capture_time(path)
        if camera.speed > 0:
            if first is None:
                first = (taken.timestamp(), time.monotonic())
            delay = first[1] + (taken.timestamp() - first[0]) / camera.speed - time.monotonic()
            if delay > 0 and ctx.stopping.wait(delay):
                return
        yield path.read_bytes(), taken
        if not ctx.running():
            return
    ctx.progress(len(files), len(files))


def _opener(camera: Camera) -> urllib.request.OpenerDirector:
    context = ssl.create_default_context(cafile=camera.ca_file or None)
    handlers: list[urllib.request.BaseHandler] = [urllib.request.HTTPSHandler(context=context)]
    if camera.username:
        passwords = urllib.request.HTTPPasswordMgrWithDefaultRealm()
        passwords.add_password(None, camera.input, camera.username, camera.password)
        handlers.append(urllib.request.HTTPDigestAuthHandler(passwords) if camera.auth == "digest"
                        else urllib.request.HTTPBasicAuthHandler(passwords))
    return urllib.request.build_opener(*handlers)


def http_frames(camera: Camera, ctx: SourceContext) -> Frames:
    opener = _opener(camera)
    while ctx.running():
        started = time.monotonic()
        error = ""
        for attempt in range(camera.retries + 1):
            try:
                with opener.open(camera.input, timeout=camera.timeout_s) as response:
                    body = response.read()
                yield body, datetime.now(timezone.utc)
                error = ""
                break
            except (OSError, ValueError) as exc:  # URLError, HTTPError, timeouts, TLS failures
                error = f"{type(exc).__name__}: {exc}"
                if attempt < camera.retries and ctx.stopping.wait(min(2.0 ** attempt, camera.interval_s or 1)):
                    return
        if error:
            yield None, error
        if camera.interval_s <= 0 or ctx.stopping.wait(max(0.0, camera.interval_s - (time.monotonic() - started))):
            return


def rtsp_frames(camera: Camera, ctx: SourceContext) -> Frames:
    import av  # PyAV: wheels bundle FFmpeg's decoders, no system ffmpeg

    while ctx.running():
        started = time.monotonic()
        try:
            with av.open(camera.input, options={"rtsp_transport": "tcp", "stimeout": str(int(camera.timeout_s * 1e6))},
                         timeout=camera.timeout_s) as container:
                frame = next(container.decode(video=0))
                out = io.BytesIO()
                frame.to_image().save(out, "JPEG", quality=90)
            yield out.getvalue(), datetime.now(timezone.utc)
        except (OSError, StopIteration, av.error.FFmpegError) as exc:  # type: ignore[attr-defined]
            yield None, f"{type(exc).__name__}: {exc}"
        if camera.interval_s <= 0 or ctx.stopping.wait(max(0.0, camera.interval_s - (time.monotonic() - started))):
            return


def reader_for(camera: Camera) -> Callable[[Camera, SourceContext], Frames]:
    if camera.input.startswith("dir:"):
        if not Path(camera.input[4:]).is_dir():
            raise ConfigError(f"[plugins.fire.cameras.{camera.id}] input: no such directory {camera.input[4:]}")
        return dir_frames
    if camera.input.startswith(("http://", "https://")):
        return http_frames
    if importlib.util.find_spec("av") is None:
        raise ConfigError(f"[plugins.fire.cameras.{camera.id}] input: RTSP needs PyAV, from the fire extra: "
                          "pip install 'alcyon[fire]'")
    return rtsp_frames


class Health:
    """One camera's health: state changes become ``camera.health`` events and metrics."""

    def __init__(self, camera: Camera, settings: FireSettings, ctx: SourceContext) -> None:
        self.camera, self.settings, self.ctx = camera, settings, ctx
        self.label = camera_label(camera.id, settings.camera_label)
        for kind in ("unreachable", "stuck", "undecodable"):  # at 0: a healthy camera shows 0, not "No data"
            fire_metrics().camera_problems.labels(self.label, kind)
        self.status = "unknown"
        self.last_hash: int | None = None
        self.same = 0

    def report(self, status: str, detail: str = "") -> None:
        m = fire_metrics()
        m.camera_up.labels(self.label).set(1 if status == "ok" else 0)
        if status != "ok":
            m.camera_problems.labels(self.label, status).inc()
        if status == self.status:
            return
        previous, self.status = self.status, status
        if status == "ok":
            self.ctx.log.info("camera_health", camera=self.camera.id, status=status)
            if previous == "unknown":
                return
            status = "recovered"
        else:
            self.ctx.log.warning("camera_health", camera=self.camera.id, status=status, detail=detail[:300])
        self.ctx.publish(Event(type=HEALTH + status, source=f"camera/{self.camera.id}", subject=self.camera.subject,
                               data={"camera": self.camera.id, "pose": self.camera.pose, "status": status,
                                     "detail": detail[:300]}))

    def check(self, jpeg: bytes) -> bool:
        """Whether the frame is usable; reports undecodable and stuck pictures."""
        try:
            open_jpeg(jpeg, self.settings.max_frame_pixels).verify()
            digest = average_hash(jpeg)
        except BadFrame as error:
            self.report("undecodable", str(error))
            self.ctx.reject(jpeg, error.reason, str(error))
            return False
        except (OSError, SyntaxError, ValueError) as error:
            self.report("undecodable", str(error))
            self.ctx.reject(jpeg, "decode_error", f"camera {self.camera.id}: {type(error).__name__}: {error}")
            return False
        if self.last_hash is not None and hamming(digest, self.last_hash) <= self.settings.stuck_distance:
            self.same += 1
        else:
            self.same = 0
        self.last_hash = digest
        if self.same + 1 >= self.settings.stuck_after:
            self.report("stuck", f"the same picture {self.same + 1} times in a row")
        else:
            self.report("ok")
        return True


def frame_event(camera: Camera, jpeg: bytes, taken: datetime) -> Event:
    return Event(type=FRAME, source=f"camera/{camera.id}", subject=camera.subject, time=taken,
                 id=f"{camera.subject}@{taken.isoformat()}",
                 data={"camera": camera.id, "pose": camera.pose, "azimuth": camera.azimuth, "fov": camera.fov,
                       "jpeg": jpeg})


def _pump(camera: Camera, settings: FireSettings, ctx: SourceContext) -> None:
    health, m = Health(camera, settings, ctx), fire_metrics()
    for jpeg, taken in reader_for(camera)(camera, ctx):
        if jpeg is None:
            health.report("unreachable", str(taken))
            continue
        if health.check(jpeg):
            ctx.publish(frame_event(camera, jpeg, taken))  # type: ignore[arg-type]
            m.frames.labels("captured").inc()
        if not ctx.running():
            break
    ctx.log.info("camera_input_done", camera=camera.id)


def cameras_for(ctx: SourceContext, settings: FireSettings) -> list[Camera]:
    """The configured cameras, or those given as ``--input [ID=]URI`` on the command line."""
    if ctx.inputs is None:
        return list(settings.cameras.values())
    cameras = []
    for index, uri in enumerate(ctx.inputs):
        camera_id, _, target = uri.partition("=") if "=" in uri.split(":", 1)[0] else (f"camera{index + 1}", "", uri)
        base = settings.cameras.get(camera_id)
        table: dict[str, object] = {"input": target}
        if base is not None:
            table.update(pose=base.pose, azimuth=base.azimuth, fov=base.fov, interval_s=base.interval_s)
        cameras.append(camera_from_table(camera_id, table))
    return cameras


def run_source(ctx: SourceContext) -> None:
    """Each camera in its own thread, until they end (a directory) or ``ctx.stopping`` is set."""
    settings = parse(ctx.config)
    cameras = cameras_for(ctx, settings)
    for camera in cameras:
        reader_for(camera)  # fail on a bad input before starting any
    threads = [threading.Thread(target=_pump, args=(c, settings, ctx), name=f"camera-{c.id}", daemon=True)
               for c in cameras]
    for thread in threads:
        thread.start()
    for thread in threads:
        while thread.is_alive() and ctx.running():
            thread.join(0.2)
