from pathlib import Path

import pytest

from alcyon_geofence.zones import BUNDLED_MPAS, ZoneIndex, load_zones


@pytest.fixture(scope="session")
def ais_data() -> Path:
    """Copies of the real AIS sample files (see data/ATTRIBUTION.md)."""
    return Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def zones():
    """The 20 real French MPAs (feature id 8, invalid as published, repaired)."""
    return load_zones(BUNDLED_MPAS, invalid="repair")


@pytest.fixture(scope="session")
def index(zones):
    return ZoneIndex(zones)


@pytest.fixture(scope="session")
def zone(zones):
    """Look a real zone up by id."""
    return {z.id: z for z in zones}.__getitem__
