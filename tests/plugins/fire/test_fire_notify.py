"""notify delivers fire alerts with their image: base64 or a link in webhooks, a digest + the JPEG beside the file."""

from __future__ import annotations

import base64
import hashlib
import io
import json

from PIL import Image

import alcyon_notify.plugin

from .conftest import FIRE
from .test_fire_pipeline import replay

NOTIFY = ("notify", alcyon_notify.plugin)


def test_fire_alerts_reach_webhooks_and_the_file_with_their_image(alcyon_harness, fire_config, tmp_path, webhooks):
    webhooks.route("/inline")
    webhooks.route("/linked")
    notify = {
        "jsonl_path": str(tmp_path / "alerts.jsonl"),
        "webhooks": {"inline": {"url": webhooks.url("/inline")},
                     "linked": {"url": webhooks.url("/linked"), "binary": "link",
                                "link_base": "https://alerts.example.org/evidence/"}},
    }
    h = alcyon_harness(FIRE, NOTIFY, threads=2, plugin_config={"fire": fire_config, "notify": notify})
    h.publish(replay(fire_config))
    h.join(120)
    alert = h.published("fire.alert")[0]
    image = alert.data["image"]
    digest = hashlib.sha256(image).hexdigest()

    inline = {r.json()["type"]: r.json() for r in webhooks.delivered("/inline")}
    assert set(inline) == {"fire.alert", "fire.alert.end"}
    sent = inline["fire.alert"]["data"]
    assert base64.b64decode(sent["image"]["$binary"]["base64"]) == image
    assert sent["camera"] == "tower-1" and isinstance(sent["bearing"], float) and sent["boxes"]

    linked = {r.json()["type"]: r.json() for r in webhooks.delivered("/linked")}
    described = linked["fire.alert"]["data"]["image"]["$binary"]
    assert described == {"size": len(image), "sha256": digest,
                         "href": f"https://alerts.example.org/evidence/{digest}.jpg"}

    lines = {e["type"]: e for e in map(json.loads, (tmp_path / "alerts.jsonl").read_text().splitlines())}
    assert lines["fire.alert"]["data"]["image"] == {"$binary": {"size": len(image), "sha256": digest}}
    kept = tmp_path / "alerts-evidence" / f"{digest}.jpg"
    assert kept.read_bytes() == image and Image.open(io.BytesIO(kept.read_bytes())).format == "JPEG"
