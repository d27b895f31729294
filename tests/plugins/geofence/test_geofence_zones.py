"""Zone loading, rules and the vectorised ZoneIndex against the real French MPAs."""

from __future__ import annotations

import json

import numpy as np
import pytest
import shapely
from shapely.geometry import LineString, Point, shape

from alcyon.errors import ConfigError
from alcyon_geofence.zones import (
    BUNDLED_MPAS,
    ZoneError,
    ZoneIndex,
    ZoneRules,
    load_zones,
    load_zones_from_url,
    parse_rules,
    zones_from_geojson,
)

SQUARE = [[[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0], [0.0, 0.0]]]


def _collection(*features):
    return {"type": "FeatureCollection", "features": list(features)}


def _feature(fid, coordinates=SQUARE, kind="Polygon", name="Test zone", **props):
    return {"type": "Feature", "id": fid, "properties": {"name": name, **props},
            "geometry": {"type": kind, "coordinates": coordinates}}


def test_the_published_invalid_feature_is_named_with_the_fix():
    with pytest.raises(ZoneError) as error:
        load_zones(BUNDLED_MPAS)
    message = str(error.value)
    for part in ("feature #16", "id 8", "Falasorma - Dui Sevi", "Self-intersection", "invalid='repair'"):
        assert part in message


def test_repair_changes_only_the_invalid_feature(zones):
    raw = json.loads(BUNDLED_MPAS.read_text(encoding="utf-8"))["features"]
    assert len(zones) == 20
    assert [z.id for z in zones if z.repaired] == ["8"]
    for zone, feature in zip(zones, raw):
        original = shape(feature["geometry"])
        if zone.id == "8":
            assert zone.geometry.is_valid and abs(zone.geometry.area - original.area) < 1e-9
        else:
            assert shapely.equals_exact(zone.geometry, original, tolerance=0.0), zone.id
    assert {z.name for z in zones} >= {"baie de Quiberon", "îles Houat-Hoëdic", "Calanques - aire d'adhésion"}


@pytest.mark.parametrize("feature, expected", [
    ({**_feature(7), "id": None}, ["feature #0", "no id"]),
    (_feature(7, [1.0, 2.0], kind="Point"), ["feature #0", "id 7", "'Point'", "Polygon or MultiPolygon"]),
    (_feature(7, [], kind="Polygon"), ["id 7", "empty geometry"]),
    (_feature(7, [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]), ["id 7", "'Test zone'", "invalid geometry",
                                                               "Self-intersection", "invalid='repair'"]),
    (_feature(7, [[[300000, 6000000], [300100, 6000000], [300100, 6000100], [300000, 6000000]]]),
     ["id 7", "EPSG:4326"]),
    (_feature(7, [[[0, 0], [1, 0]]]), ["id 7", "unreadable coordinates"]),
    ({"type": "Feature", "id": 7, "properties": {}, "geometry": None}, ["id 7", "None"]),
])
def test_bad_features_raise_a_named_zone_error(feature, expected):
    with pytest.raises(ZoneError) as error:
        zones_from_geojson(_collection(feature), origin="zones.geojson")
    for part in expected:
        assert part in str(error.value)
    assert str(error.value).startswith("zones.geojson: ")


def test_bad_files_raise_zone_error(tmp_path):
    path = tmp_path / "zones.geojson"
    path.write_text("{not json")
    with pytest.raises(ZoneError, match="is not JSON: .* line 1"):
        load_zones(path)
    path.write_text(json.dumps({"type": "Feature"}))
    with pytest.raises(ZoneError, match="FeatureCollection"):
        load_zones(path)
    path.write_text(json.dumps(_collection(_feature(1), _feature(1))))
    with pytest.raises(ZoneError, match="zone id.* 1 used by several features"):
        load_zones(path)
    with pytest.raises(ZoneError, match="cannot read zone file"):
        load_zones(tmp_path / "missing.geojson")
    doc = {**_collection(_feature(1)), "crs": {"type": "name", "properties": {"name": "EPSG:2154"}}}
    with pytest.raises(ZoneError, match="EPSG:2154"):
        zones_from_geojson(doc)


def test_repair_of_a_bow_tie_keeps_its_area():
    bow_tie = _feature("b", [[[0, 0], [2, 2], [2, 0], [0, 2], [0, 0]]])
    (zone,) = zones_from_geojson(_collection(bow_tie), invalid="repair")
    assert zone.repaired.startswith("Self-intersection") and zone.geometry.is_valid
    assert zone.geometry.area == pytest.approx(2.0)


def test_load_from_file_url(tmp_path):
    path = tmp_path / "z.geojson"
    path.write_text(json.dumps(_collection(_feature("a"))))
    (zone,) = load_zones_from_url(path.as_uri())
    assert (zone.id, zone.name, zone.bounds) == ("a", "Test zone", (0.0, 0.0, 1.0, 1.0))
    with pytest.raises(ZoneError, match="only http"):
        load_zones_from_url("ftp://example.org/z.geojson")
    with pytest.raises(ZoneError, match="cannot fetch"):
        load_zones_from_url((tmp_path / "nope.geojson").as_uri())


def test_rules_defaults_and_overrides():
    default, per_zone = parse_rules({
        "dwell_minutes": 20,
        "zones": {"3": {"vessels": {"ship_types": [30, [60, 69]], "include_unknown_type": False},
                        "fishing_speed_knots": [0.5, 5], "dwell_minutes": False},
                  "10": {"vessels": {"mmsi": ["227006760"]}}},
    }, ["3", "10", "4"])
    assert default == ZoneRules(dwell_minutes=20.0)
    assert per_zone["3"] == ZoneRules(ship_types=((30, 30), (60, 69)), include_unknown_type=False,
                                      dwell_minutes=None, fishing_speed_knots=(0.5, 5.0))
    assert per_zone["10"].mmsi == frozenset({"227006760"}) and per_zone["10"].dwell_minutes == 20.0
    rules = per_zone["3"]
    assert rules.concerns("1", 30) and rules.concerns("1", 65) and not rules.concerns("1", 70)
    assert not rules.concerns("1", None)
    assert per_zone["10"].concerns("227006760", 70) and not per_zone["10"].concerns("227006761", None)


def test_zone_rules_reach_the_zones():
    doc = _collection(_feature("a"), _feature("b", [[[2, 2], [3, 2], [3, 3], [2, 2]]]))
    a, b = zones_from_geojson(doc, {"dwell_minutes": 5, "zones": {"b": {"dwell_minutes": 1}}})
    assert (a.rules.dwell_minutes, b.rules.dwell_minutes) == (5.0, 1.0)


@pytest.mark.parametrize("raw, message", [
    ({"dwell_minute": 3}, "rules: unknown key.* dwell_minute"),
    ({"dwell_minutes": -1}, "rules.dwell_minutes must be a number >= 0"),
    ({"dwell_minutes": True}, "rules.dwell_minutes"),
    ({"fishing_speed_knots": [5, 1]}, "rules.fishing_speed_knots must be"),
    ({"vessels": "some"}, 'rules.vessels must be "all"'),
    ({"vessels": {}}, "rules.vessels selects no vessel"),
    ({"vessels": {"ship_type": [30]}}, "rules.vessels: unknown key.* ship_type"),
    ({"vessels": {"ship_types": [30, [70, 60]]}}, r"rules.vessels.ship_types\[1\]"),
    ({"vessels": {"ship_types": 30}}, "rules.vessels.ship_types must be a list"),
    ({"vessels": {"mmsi": ["22700676"]}}, r"rules.vessels.mmsi\[0\] must be a 9-digit MMSI"),
    ({"zones": {"99": {}}}, "rules.zones.99: no zone has id '99'"),
    ({"zones": {"3": {"dwell": 5}}}, "rules.zones.3: unknown key.* dwell"),
    ({"zones": ["3"]}, "rules.zones must be a table"),
])
def test_bad_rules_name_the_key(raw, message):
    with pytest.raises(ConfigError, match=message):
        parse_rules(raw, ["3", "10"])


def test_dwell_rule_semantics():
    assert ZoneRules(dwell_minutes=10).dwell_due(600, None)
    assert not ZoneRules(dwell_minutes=10).dwell_due(599, 1.0)
    band = ZoneRules(dwell_minutes=None, fishing_speed_knots=(0.5, 5.0))
    assert band.dwell_due(0, 3.0) and not band.dwell_due(9999, 6.0) and not band.dwell_due(9999, None)
    both = ZoneRules(dwell_minutes=10, fishing_speed_knots=(0.5, 5.0))
    assert both.dwell_due(600, 3.0) and not both.dwell_due(599, 3.0) and not both.dwell_due(600, 8.0)
    assert not ZoneRules(dwell_minutes=None).dwell_due(1e9, 1.0)


def _naive(zones, lon, lat):
    return [frozenset(z.id for z in zones if z.geometry.contains(Point(x, y))) for x, y in zip(lon, lat)]


@pytest.mark.parametrize("box", [
    (-180, 180, -90, 90),  # the world (hits Terres australes)
    (5.19, 5.6, 43.0, 43.3),  # Calanques and Cassidaigne: 19 + 1 polygons, 19k vertices
    (-3.4, -2.5, 47.2, 47.8),  # Quiberon, Houat-Hoëdic, Lorient, Gâvres (overlapping), Pénerf
    (-149.95, -149.7, -17.65, -17.45),  # Moorea and its neighbours
])
def test_containing_agrees_with_shapely_point_by_point(zones, index, box):
    rng = np.random.default_rng(7)
    lon, lat = rng.uniform(box[0], box[1], 2500), rng.uniform(box[2], box[3], 2500)
    found = index.containing(lon, lat)
    assert found == _naive(zones, lon, lat)
    assert sum(1 for f in found if f) >= 5  # not vacuous (seeded: 7 hits for the world box)
    chunked = ZoneIndex(zones)
    chunked.MAX_PAIRS = 1000  # 9 points per chunk against the 103 polygons
    assert chunked.containing(lon, lat) == found


def test_overlapping_zones_are_all_reported(index, zone):
    inside_both = zone("9").geometry.representative_point()  # Gâvres lies inside rade de Lorient's area
    assert index.containing([inside_both.x], [inside_both.y]) == [frozenset({"9", "17"})]


def test_terres_australes_multipolygon(index, zone):
    parts = shapely.get_parts(zone("19").geometry)
    assert len(parts) == 7
    points = [p.representative_point() for p in parts]
    assert index.containing([p.x for p in points], [p.y for p in points]) == [frozenset({"19"})] * 7
    # Inside the multipolygon's bounding box but in no part: between Kerguelen and Amsterdam.
    assert index.containing([70.0], [-42.0]) == [frozenset()]
    assert not zone("19").geometry.contains(Point(70.0, -42.0))


def test_poles_antimeridian_and_odd_values_do_not_crash(index):
    lon = [180.0, -180.0, 0.0, 0.0, 179.999999, np.nan, 45.0]
    lat = [0.0, 0.0, 90.0, -90.0, -89.9, 10.0, np.nan]
    assert index.containing(lon, lat) == [frozenset()] * 7
    assert index.containing([], []) == []
    assert index.crossing([179.5, 0.0], [89.9, -90.0], [-179.5, 0.0], [89.9, 90.0]) == [frozenset()] * 2


def test_a_leg_through_a_small_zone_crosses_it(index, zone):
    nuarei = zone("16").geometry  # 1.4 x 0.7 km, French Polynesia
    centre = nuarei.representative_point()
    legs = index.crossing([centre.x], [centre.y + 0.01], [centre.x], [centre.y - 0.01])
    assert legs == [frozenset({"16"})]
    assert not nuarei.contains(Point(centre.x, centre.y + 0.01))
    assert not nuarei.contains(Point(centre.x, centre.y - 0.01))
    assert index.crossing([centre.x + 0.05], [centre.y + 0.01], [centre.x + 0.05], [centre.y - 0.01]) == [
        frozenset()]


def test_crossing_agrees_with_shapely_leg_by_leg(zones, index):
    rng = np.random.default_rng(11)
    lon1, lat1 = rng.uniform(-3.4, -2.5, 3000), rng.uniform(47.2, 47.8, 3000)
    lon2, lat2 = lon1 + rng.normal(0, 0.03, 3000), lat1 + rng.normal(0, 0.03, 3000)
    found = index.crossing(lon1, lat1, lon2, lat2)
    expected = [frozenset(z.id for z in zones if z.geometry.intersects(LineString([(a, b), (c, d)])))
                for a, b, c, d in zip(lon1, lat1, lon2, lat2)]
    assert found == expected and sum(1 for f in found if f) > 100
    chunked = ZoneIndex(zones)
    chunked.MAX_PAIRS = 1000  # 9 legs per chunk against the 103 polygons
    assert chunked.crossing(lon1, lat1, lon2, lat2) == expected


def test_a_leg_that_only_touches_a_zone_crosses_it():
    far = [[[5.0, 5.0], [6.0, 5.0], [6.0, 6.0], [5.0, 5.0]]]
    index = ZoneIndex(zones_from_geojson(_collection(_feature("sq"), _feature("far", far))))
    # to each edge of the unit square and to a corner, from outside; then along, just above it
    legs = [((0.5, 2.0), (0.5, 1.0)), ((0.5, -1.0), (0.5, 0.0)), ((-1.0, 0.5), (0.0, 0.5)), ((2.0, 0.5), (1.0, 0.5)),
            ((2.0, 2.0), (1.0, 1.0)), ((0.0, 1.0 + 1e-9), (1.0, 1.0 + 1e-9))]
    (lon1, lat1), (lon2, lat2) = zip(*(a for a, _ in legs)), zip(*(b for _, b in legs))
    assert index.crossing(lon1, lat1, lon2, lat2) == [frozenset({"sq"})] * 5 + [frozenset()]


def test_legs_across_the_antimeridian_go_the_short_way():
    east_of_dateline = _feature("fiji", [[[-180.0, -1.0], [-179.8, -1.0], [-179.8, 1.0], [-180.0, 1.0],
                                          [-180.0, -1.0]]])
    greenwich = _feature("gulf", [[[0.0, -5.0], [10.0, -5.0], [10.0, 5.0], [0.0, 5.0], [0.0, -5.0]]])
    west_of_dateline = _feature("tonga", [[[179.0, 5.0], [180.0, 5.0], [180.0, 6.0], [179.0, 6.0], [179.0, 5.0]]])
    index = ZoneIndex(zones_from_geojson(_collection(east_of_dateline, greenwich, west_of_dateline)))
    found = index.crossing(
        [179.5, -179.5, 179.5, 170.0, 179.0],
        [0.0, 0.5, 0.0, 3.0, 5.5],
        [-179.5, 179.5, -179.9, -170.0, -179.0],
        [0.0, 0.5, -10.0, 3.0, 5.5])
    assert found == [
        frozenset({"fiji"}),  # eastbound across 180: through the zone just east of it
        frozenset({"fiji"}),  # westbound
        frozenset(),  # reaches 180 at 8.3 S (interpolated), south of fiji's 1 S
        frozenset(),  # 170 E -> 170 W is 20 degrees across the Pacific, not 340 across Greenwich
        frozenset({"tonga"}),  # starts on tonga's edge, leaves by the antimeridian
    ]


@pytest.fixture
def zone_server():
    """A local HTTP server: /zones (a GeoJSON, any query), /big (over a limit), /to?url=... (a redirect)."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from urllib.parse import parse_qs, urlsplit

    body = json.dumps(_collection(_feature("a"))).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            if parts.path == "/to":
                self.send_response(302)
                self.send_header("Location", parse_qs(parts.query)["url"][0])
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            payload = body if parts.path == "/zones" else b" " * 2_000_000
            self.send_response(200)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_zone_fetches_have_limits(zone_server):
    from urllib.parse import quote

    (zone,) = load_zones_from_url(f"{zone_server}/to?url={quote(zone_server + '/zones')}")  # http -> http: followed
    assert zone.id == "a"
    with pytest.raises(ZoneError, match="over 1000000 bytes"):
        load_zones_from_url(f"{zone_server}/big", max_bytes=1_000_000)
    for target in ("ftp://example.org/z.geojson", "file:///etc/passwd"):
        with pytest.raises(ZoneError, match="only redirects to http|Redirection to url .* is not allowed"):
            load_zones_from_url(f"{zone_server}/to?url={quote(target)}")
    chain = f"{zone_server}/zones"
    for _ in range(5):
        chain = f"{zone_server}/to?url={quote(chain)}"
    with pytest.raises(ZoneError, match="redirect"):
        load_zones_from_url(chain)


def test_a_zone_url_token_is_never_logged(zone_server):
    import io

    from alcyon.logs import configure_logging, get_logger
    from alcyon_geofence.processor import ZoneSource

    stream = io.StringIO()
    configure_logging("info", "json", stream)
    token = "pk.eyJ1IjoiYWxjeW9uIiwiYSI6ImNrMTIzNDU2Nzg5MCJ9"
    source = ZoneSource(f"{zone_server}/zones?access_token={token}", {}, "error", 0, get_logger("test"))
    assert len(source.index) == 1
    with pytest.raises(ZoneError) as refused:
        load_zones_from_url(f"{zone_server}/missing-redirect/zones?access_token={token}", max_bytes=10)
    logged = stream.getvalue()
    assert "zones_loaded" in logged and "access_token=***" in logged
    assert token not in logged and token not in str(refused.value)
