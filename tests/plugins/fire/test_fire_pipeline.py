"""The fire pipeline on the real runtime (embedded, and RabbitMQ): frames -> detections -> one alert."""

from __future__ import annotations

import io
import shutil
from datetime import datetime, timezone

import pytest
from PIL import Image

from alcyon import ConfigError
from alcyon_fire.camera import capture_time, frame_event
from alcyon_fire.model import BASELINE_MODEL, Model, resolve_model
from alcyon_fire.settings import parse

from .conftest import FIRE, FRAMES, IMAGES, jpeg_of, validated


def settings(config: dict):
    return parse(validated(config))


def replay(config: dict):
    s = settings(config)
    camera = s.cameras["tower-1"]
    return [frame_event(camera, path.read_bytes(), capture_time(path)) for path in sorted(FRAMES.glob("*.jpg"))]


def test_capture_time_comes_from_the_name_or_the_mtime(tmp_path):
    assert capture_time(FRAMES / "tower-1_2026-07-14T12-01-00.jpg") == datetime(2026, 7, 14, 12, 1, tzinfo=timezone.utc)
    other = tmp_path / "no-time.jpg"
    other.write_bytes(b"x")
    assert abs(capture_time(other).timestamp() - other.stat().st_mtime) < 1e-3


def test_the_replayed_plume_gives_one_alert_then_its_end(alcyon_harness, mode_url, fire_config):
    h = alcyon_harness(FIRE, broker_url=mode_url, threads=2, plugin_config={"fire": fire_config})
    frames = replay(fire_config)
    h.publish(frames)
    h.join(120)
    detections = h.published("fire.detection")
    assert len(detections) == len(frames) == 16
    assert sum(1 for d in detections if d.data["scores"]) >= 6
    alerts = h.published("fire.alert")
    assert len(alerts) == 1
    alert = alerts[0]
    assert alert.subject == "tower-1" and alert.data["camera"] == "tower-1"
    assert alert.data["azimuth"] == 135.0 and alert.data["fov"] == 54.2
    assert 135.0 - 27.1 <= alert.data["bearing"] <= 135.0 + 27.1
    assert alert.data["started"] == "2026-07-14T12:01:00Z"   # the first plume frame names the sequence
    # the third plume frame triggers it (3 overlapping boxes), or a later one if detections came out of order
    assert "2026-07-14T12:02:00Z" <= alert.data["time"] <= "2026-07-14T12:03:30Z"
    assert Image.open(io.BytesIO(alert.data["image"])).format == "JPEG"
    assert 3 <= len(alert.data["window"]) <= 6 and alert.data["boxes"]
    ends = h.published("fire.alert.end")
    assert len(ends) == 1 and ends[0].data["sequence"] == alert.data["sequence"]
    # replaying the whole directory again: duplicates, never a second alert (a redelivered cause
    # re-publishes the SAME alert, same id, which sinks deduplicate)
    h.publish(frames)
    h.join(120)
    assert {e.id for e in h.published("fire.alert")} == {alert.id}
    assert {e.id for e in h.published("fire.alert.end")} == {ends[0].id}
    assert h.dead_letters("fire-detect") == [] and h.dead_letters("fire-alert") == []


def test_bad_frames_are_dead_lettered_with_their_reason_and_the_rest_flows(alcyon_harness, mode_url, fire_config):
    h = alcyon_harness(FIRE, broker_url=mode_url, threads=1, plugin_config={"fire": fire_config})
    camera = settings(fire_config).cameras["tower-1"]
    good = (IMAGES / "wildfire_example.jpg").read_bytes()
    t = datetime(2026, 7, 14, 13, 0, tzinfo=timezone.utc)
    bad = {
        "corrupt": b"\xff\xd8\xff\xe0 not really a jpeg",
        "truncated": good[: len(good) // 3],
        "huge": jpeg_of(8000, 5000),
    }
    events = [frame_event(camera, good, t.replace(second=0))]
    events += [frame_event(camera, data, t.replace(second=i + 1)) for i, data in enumerate(bad.values())]
    events.append(frame_event(camera, good, t.replace(second=10)))
    h.publish(events)
    h.join(60)
    letters = sorted((d.reason, d.error[:40]) for d in h.dead_letters("fire-detect"))
    assert [r for r, _ in letters] == ["decode_error", "decode_error", "too_large"]
    assert any("not a decodable image" in e for _, e in letters)
    assert len(h.published("fire.detection")) == 2   # the good frames around them


def test_night_frames_are_skipped(alcyon_harness, fire_config):
    h = alcyon_harness(FIRE, threads=1, plugin_config={"fire": fire_config})
    camera = settings(fire_config).cameras["tower-1"]
    grey = io.BytesIO()
    Image.open(IMAGES / "wildfire_example.jpg").convert("L").convert("RGB").save(grey, "JPEG")
    h.publish(frame_event(camera, grey.getvalue(), datetime(2026, 7, 14, 22, tzinfo=timezone.utc)))
    h.join(30)
    assert h.published("fire.detection") == [] and h.dead_letters("fire-detect") == []


def test_model_errors_are_clear(tmp_path):
    with pytest.raises(ConfigError, match="has sha256 .* the configuration pins 0000"):
        resolve_model(str(BASELINE_MODEL), "0" * 64, tmp_path)
    with pytest.raises(ConfigError, match=r"model_sha256: a model URL needs its pinned sha256"):
        resolve_model("https://example.org/smoke.onnx", "", tmp_path)
    with pytest.raises(ConfigError, match=r"input_size: the model takes \['batch', 3, 640, 640\].*\[N,3,1024,1024\]"):
        Model.load(BASELINE_MODEL, 1024, ["smoke"])
    with pytest.raises(ConfigError, match=r"classes: the model's output is \['batch', 5, \d+\].*\[N, 6, anchors\]"):
        Model.load(BASELINE_MODEL, 640, ["smoke", "fire"])
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not onnx")
    with pytest.raises(ConfigError, match="is not a loadable ONNX model"):
        Model.load(broken, 640, ["smoke"])


def test_a_cached_download_is_verified_and_reused(tmp_path):
    sha = __import__("hashlib").sha256(BASELINE_MODEL.read_bytes()).hexdigest()
    shutil.copy(BASELINE_MODEL, tmp_path / f"{sha}.onnx")
    # no network: the cached, verified copy is used
    assert resolve_model("https://models.example.org/smoke.onnx", sha, tmp_path) == tmp_path / f"{sha}.onnx"


def test_configuration_errors_name_the_key(fire_config):
    with pytest.raises(ConfigError, match=r"\[plugins.fire.cameras.tower-1\].input: expected demo, dir:PATH"):
        settings({"cameras": {"tower-1": {"input": "ftp://x"}}})
    with pytest.raises(ConfigError, match=r"masks\[0\]: expected \[x1, y1, x2, y2\]"):
        settings({"cameras": {"tower-1": {"input": "dir:.", "masks": [[0.5, 0, 0.2, 1]]}}})
    with pytest.raises(ConfigError, match="min_boxes: 7 cannot exceed window"):
        settings({"min_boxes": 7})
    with pytest.raises(ConfigError, match=r"unknown key\(s\) zoom"):
        settings({"cameras": {"tower-1": {"input": "dir:.", "zoom": 2}}})


def test_a_model_that_is_not_a_yolo_detector_is_refused_at_load(tmp_path):
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    # a classifier: [N,3,640,640] -> [N,10] (global average pool, then a linear layer)
    weights = numpy_helper.from_array(np.ones((3, 10), np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("GlobalAveragePool", ["images"], ["pooled"]),
         helper.make_node("Flatten", ["pooled"], ["flat"]),
         helper.make_node("MatMul", ["flat", "w"], ["logits"])],
        "classifier", [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["batch", 3, 640, 640])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 10])], [weights])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = tmp_path / "classifier.onnx"
    onnx.save(model, str(path))
    with pytest.raises(ConfigError, match=r"classes: the model's output is \['batch', 10\] \(logits\); a YOLO "
                                          r"detector with 1 class\(es\) \['smoke'\] outputs \[N, 5, anchors\]"):
        Model.load(path, 640, ["smoke"])


def test_batched_inference_gives_the_same_alerts(alcyon_harness, fire_config):
    alerts = []
    for batch_size in (1, 4):
        h = alcyon_harness(FIRE, threads=2, plugin_config={"fire": {**fire_config, "batch_size": batch_size}})
        h.publish(replay(fire_config))
        h.join(120)
        alerts.append(sorted((e.type, e.id) for e in h.published("fire.alert.#")))
        detections = {e.data["frame"]: e.data["scores"] for e in h.published("fire.detection")}
        if batch_size == 1:
            single = detections
        h.close()
    assert alerts[0] == alerts[1] and len(alerts[0]) == 2
    assert detections.keys() == single.keys()
    for frame, scores in detections.items():
        assert scores == pytest.approx(single[frame], abs=1e-3)
