from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

import alcyon_fire.plugin

from ..notify.conftest import webhooks  # noqa: F401 - notify's fixture, for test_fire_notify

FIRE = ("fire", alcyon_fire.plugin)
DATA = Path(alcyon_fire.plugin.__file__).parent / "data"
FRAMES = DATA / "frames" / "tower-1"
IMAGES = DATA / "images"


def jpeg_of(width: int, height: int, colour=(90, 140, 60)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, "JPEG")
    return out.getvalue()


def validated(config: dict) -> dict:
    """The plugin's table with its defaults, validated as at start-up."""
    from alcyon.config import load_config
    from alcyon.plugins import plugin_config

    base = load_config(env={})
    base = type(base)(settings=base.settings, plugins={"fire": config}, disabled=base.disabled, path=None)
    return plugin_config(base, "fire", alcyon_fire.plugin.alcyon_config_options())


@pytest.fixture
def fire_config(tmp_path) -> dict:
    return {"end_after": 3, "model_cache_dir": str(tmp_path / "models"),
            "cameras": {"tower-1": {"input": f"dir:{FRAMES}", "azimuth": 135.0, "fov": 54.2}}}
