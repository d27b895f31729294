"""Cut the bundled replay sequence ``alcyon_fire/data/frames/tower-1/`` from the real wildfire image.

Real pixels, invented timeline: 2 frames of forest only, 6 frames panning slightly over the
plume, 8 frames of forest only, 30 s apart, named like Pyronear's captures
(``tower-1_2026-07-14T12-00-00.jpg``).  Reproducible (no randomness)::

    python plugins/fire/tools/make_frames.py
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from PIL import Image

DATA = Path(__file__).resolve().parents[1] / "alcyon_fire" / "data"
SIZE = (400, 225)


def main() -> None:
    image = Image.open(DATA / "images" / "wildfire_example.jpg").convert("RGB")
    out = DATA / "frames" / "tower-1"
    out.mkdir(parents=True, exist_ok=True)
    forest = [(40 * i, 455) for i in range(10)]              # 400x225 crops below the horizon: trees only
    plume = [(250 + 10 * i, 170 + 5 * i) for i in range(6)]  # 400x225 crops over the plume
    crops = forest[:2] + plume + forest[2:]
    start = datetime(2026, 7, 14, 12, 0, 0)
    for index, (x, y) in enumerate(crops):
        name = f"tower-1_{(start + timedelta(seconds=30 * index)).strftime('%Y-%m-%dT%H-%M-%S')}.jpg"
        image.crop((x, y, x + SIZE[0], y + SIZE[1])).save(out / name, "JPEG", quality=85)
    print(f"wrote {len(crops)} frames to {out}")


if __name__ == "__main__":
    main()
