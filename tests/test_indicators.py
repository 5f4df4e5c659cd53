"""The indicator engine on synthetic geometry whose answers are known by hand."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import LineString, Point, box

from tests import synthetic as syn
from tests.synthetic import X0, Y0
from workbench import indicators as ind
from workbench.indicators import LabData, compute_indicators


def lab_data(boundary, coverage=None, **themes) -> LabData:
    """Themes as the cache gives them: imported from data whose own date is 2025-01-15 and
    that cover ``coverage`` (WGS84; default: the site and 2 km around it)."""
    if coverage is None:
        coverage = syn.to_wgs(syn.to_utm(boundary).buffer(2000))
    meta = {
        th: {
            "fetched_at": "2026-03-01T10:00:00+00:00",
            "data_date": "2025-01-15",
            "buffer_m": 1500,
            "coverage": coverage.wkt,
        }
        for th in themes
    }
    return LabData(lab_id="lab", boundary=boundary, themes=themes, meta=meta, version="v")


def all_themes(**given) -> dict:
    themes = {th: syn.empty() for th in ind.THEMES}
    themes["streets"] = syn.streets([])
    themes.update(given)
    return themes


def test_grid_intersections_and_street_density():
    grid = syn.grid(3, 100.0)
    g = ind._Graph(grid.to_crs(syn.UTM))
    assert (g.degree == 4).sum() == 4  # the 3×3 block grid's interior 4-way crossings
    assert (g.degree == 3).sum() == 8 and (g.degree == 2).sum() == 4
    boundary = syn.site(X0 - 1, Y0 - 1, 302)
    res = compute_indicators(lab_data(boundary, **all_themes(streets=grid)))
    area_km2 = res.area_m2 / 1e6
    assert res.area_m2 == pytest.approx(302**2, rel=1e-3)
    # 12 nodes with ≥ 3 streets, 100 m apart, so none merge.
    assert res.get("intersection_density").value == pytest.approx(12 / area_km2, rel=1e-6)
    # 8 streets of 300 m each.
    assert res.get("street_density").value == pytest.approx(2.4 / area_km2, rel=1e-3)
    assert res.get("street_density").unit == "km_per_km2"


def test_consolidation_merges_nearby_nodes():
    site = box(-100, -100, 100, 100)
    xy = np.array([[0, 0], [8, 0], [50, 0], [50, 30]])
    assert ind.consolidated_intersections(xy, site, tolerance=6) == 3  # 0 and 8 m merge
    assert ind.consolidated_intersections(xy, site, tolerance=3) == 4
    assert ind.consolidated_intersections(xy, box(40, -10, 60, 40), tolerance=6) == 2


def test_site_half_covered_by_buildings():
    boundary = syn.site(X0, Y0, 100)
    strips = [box(X0 + i * 20, Y0, X0 + i * 20 + 10, Y0 + 100) for i in range(5)]
    strips.append(box(X0, Y0, X0 + 10, Y0 + 50))  # overlaps a strip: counted once
    buildings = syn.frame(syn.features("building", "house", strips), extra=("levels",))
    res = compute_indicators(lab_data(boundary, **all_themes(buildings=buildings)))
    gsi = res.get("gsi")
    assert gsi.value == pytest.approx(0.5, abs=1e-3)
    assert gsi.comparable, gsi.notes
    assert gsi.data_date == "2025-01-15"


def test_orientation_order_of_grid_is_one():
    # a 5×5 grid, the site around its inner 3×3 blocks: every edge runs north-south or east-west
    grid = syn.grid(5, 100.0, X0 - 100, Y0 - 100)
    boundary = syn.site(X0 - 10, Y0 - 10, 320)
    res = compute_indicators(lab_data(boundary, **all_themes(streets=grid)))
    phi = res.get("orientation_order")
    assert phi.value == pytest.approx(1.0, abs=1e-9)
    network = next(n for n in phi.notes if n.key == "comparison.note.orientation_network")
    assert network.params["count"] == 24  # 4×3 north-south and 4×3 east-west edges


def test_orientation_order_takes_edges_between_intersections():
    """Boeing (2019) / osmnx: a grid's corner node has two neighbours, so its two segments are
    one edge, binned by its endpoint-to-endpoint bearing (45°, 135° …), not per segment.

    3×3 blocks of 100 m: 16 axis segments of 100 m and 4 corner edges of 200 m; counted both
    ways, 4 axis bins hold 800 each and 4 diagonal bins 400 each (of 4,800)."""
    boundary = syn.site(X0 - 10, Y0 - 10, 320)
    res = compute_indicators(lab_data(boundary, **all_themes(streets=syn.grid(3, 100.0))))
    p = np.array([1 / 6] * 4 + [1 / 12] * 4)
    h = -(p * np.log(p)).sum()
    expected = 1 - ((h - math.log(4)) / (math.log(36) - math.log(4))) ** 2
    assert res.get("orientation_order").value == pytest.approx(expected, abs=1e-6)
    hist = np.asarray(res.bearings)
    assert hist[[0, 9, 18, 27]] == pytest.approx([1 / 6] * 4, abs=1e-9)
    assert hist.sum() - hist[[0, 9, 18, 27]].sum() == pytest.approx(1 / 3, abs=1e-9)


def test_orientation_order_of_uniform_bearings_is_zero():
    bearings = np.arange(0.0, 180.0, 1.0)
    assert ind.orientation_order(bearings) == pytest.approx(0.0, abs=1e-9)
    # and a single direction (north-south only) is less ordered than a grid
    assert ind.orientation_order(np.array([0.0, 180.0])) == pytest.approx(
        1 - ((math.log(2) - math.log(4)) / (math.log(36) - math.log(4))) ** 2
    )


def test_bearing_compass_directions():
    b = ind.bearing(
        np.array([50.0, 50, 50]),
        np.array([9.0, 9, 9]),
        np.array([50.1, 50, 49.9]),
        np.array([9.0, 9.1, 9.0]),
    )
    assert b[0] == pytest.approx(0) and b[2] == pytest.approx(180)
    assert b[1] == pytest.approx(90, abs=0.1)


def _park_world(park_x: float):
    """A house at the west end of a 600 m street; a 1 ha park whose west edge is at park_x."""
    boundary = syn.site(X0 - 20, Y0 - 20, 60)
    house = box(X0 - 5, Y0 + 5, X0 + 5, Y0 + 15)  # centroid 10 m north of node 0
    edges = [
        (i, i + 1, LineString([(X0 + 50 * i, Y0), (X0 + 50 * (i + 1), Y0)])) for i in range(12)
    ]
    park = box(X0 + park_x, Y0 - 50, X0 + park_x + 100, Y0 + 50)
    return lab_data(
        boundary,
        **all_themes(
            streets=syn.streets(edges, "footway"),
            buildings=syn.frame(syn.features("building", "house", [house]), extra=("levels",)),
            green=syn.frame(syn.features("leisure", "park", [park]), extra=("access",)),
        ),
    )


def test_green_within_300m_straight_and_walking():
    near = compute_indicators(_park_world(250.0))
    far = compute_indicators(_park_world(350.0))
    assert near.get("green_300m").value == 1.0
    assert far.get("green_300m").value == 0.0
    # walking: 10 m to the street, then 250 m (in) or 350 m (out) along it
    assert near.get("green_300m_walk").value == 1.0
    assert far.get("green_300m_walk").value == 0.0


def test_small_or_private_green_does_not_count():
    data = _park_world(100.0)
    small = box(X0 + 100, Y0 - 30, X0 + 160, Y0 + 30)  # 0.36 ha
    data.themes["green"] = syn.frame(syn.features("leisure", "park", [small]), extra=("access",))
    assert compute_indicators(data).get("green_300m").value == 0.0
    big = box(X0 + 100, Y0 - 50, X0 + 200, Y0 + 50)
    data.themes["green"] = syn.frame(
        syn.features("leisure", "park", [big], access="private"), extra=("access",)
    )
    assert compute_indicators(data).get("green_300m").value == 0.0


def test_population_layer_replaces_footprint_proxy():
    data = _park_world(250.0)
    far_house = box(X0 + 590, Y0 + 900, X0 + 640, Y0 + 950)  # big, 900 m from anything green
    data.boundary = syn.site(X0 - 20, Y0 - 20, 700, 1000)
    houses = [box(X0 - 5, Y0 + 5, X0 + 5, Y0 + 15), far_house]
    data.themes["buildings"] = syn.frame(
        syn.features("building", "house", houses), extra=("levels",)
    )
    proxy = compute_indicators(data).get("green_300m")
    assert proxy.value == pytest.approx(100 / (100 + 2500))
    assert any(n.key == "indicators.note.weight_footprint" for n in proxy.notes)
    pop = gpd.GeoDataFrame(
        {"Einwohner": [120, 0]},
        geometry=[Point(X0, Y0 + 10), Point(X0 + 615, Y0 + 925)],
        crs=syn.UTM,
    ).to_crs(4326)
    data.population = pop
    weighted = compute_indicators(data).get("green_300m")
    assert weighted.value == pytest.approx(1.0)
    assert any(n.key == "indicators.note.weight_population" for n in weighted.notes)
    assert ind.population_column(pop) == "Einwohner"


def test_transit_access_bus_500_rail_1000():
    data = _park_world(250.0)

    def stops(kind_x):
        rows = []
        for (key, value), x in kind_x:
            rows += syn.features(key, value, [Point(X0 + x, Y0 + 5)])
        return syn.frame(rows)

    data.themes["transit"] = stops([(("highway", "bus_stop"), 480)])
    assert compute_indicators(data).get("transit_access").value == 1.0
    data.themes["transit"] = stops([(("highway", "bus_stop"), 560)])
    assert compute_indicators(data).get("transit_access").value == 0.0
    data.themes["transit"] = stops([(("railway", "station"), 560)])
    assert compute_indicators(data).get("transit_access").value == 1.0
    data.themes["transit"] = syn.empty()
    res = compute_indicators(data).get("transit_access")
    assert not res.comparable and res.reason.key == "indicators.note.no_stops"


def test_fifteen_minute_categories():
    # a 1.5 km street; house A at its west end, house B (4× the footprint) near its east end
    edges = [
        (i, i + 1, LineString([(X0 + 50 * i, Y0), (X0 + 50 * (i + 1), Y0)])) for i in range(30)
    ]
    houses = [box(X0 - 5, Y0 + 5, X0 + 5, Y0 + 15), box(X0 + 1390, Y0 + 5, X0 + 1410, Y0 + 25)]
    pois = (
        syn.features("shop", "supermarket", [Point(X0 + 100, Y0 + 5)])  # A, centre
        + syn.features("amenity", "library", [Point(X0 + 50, Y0 + 5)])  # A, centre
        + syn.features("amenity", "cafe", [Point(X0 + 1450, Y0 + 5)])  # B, centre
        + syn.features("amenity", "pharmacy", [Point(X0 + 700, Y0 + 1300)])
    )  # nobody
    park = box(X0 + 250, Y0 - 50, X0 + 350, Y0 + 50)  # A, B (1,050 m), centre
    data = lab_data(
        syn.site(X0 - 20, Y0 - 20, 1500, 60),
        **all_themes(
            streets=syn.streets(edges, "footway"),
            buildings=syn.frame(syn.features("building", "house", houses)),
            green=syn.frame(syn.features("leisure", "park", [park]), extra=("access",)),
            shops=syn.frame(pois),
        ),
    )
    res = compute_indicators(data)
    centre = res.get("fifteen_min_centroid")
    assert centre.value == 4.0 and centre.unit == "categories"
    # A reaches park, food, culture (3); B reaches park, eating out (2); weighted by footprint
    assert res.get("fifteen_min_mean").value == pytest.approx((3 * 100 + 2 * 400) / 500)
    absent = next(n for n in centre.notes if n.key == "indicators.note.categories_absent")
    assert absent.params["count"] == 3  # school, transit, bank/post
    assert "school or childcare" in absent.text("en") and "банк або пошта" in absent.text("uk")


def test_land_use_mix_hand_values():
    assert ind.land_use_mix(np.array([5.0])) == 0.0
    for k in (2, 3, 5):
        assert ind.land_use_mix(np.full(k, 7.0)) == pytest.approx(1.0)
    assert ind.land_use_mix(np.array([])) is None


def test_land_use_mix_on_site():
    boundary = syn.site(X0, Y0, 300, 100)
    one = syn.frame(
        syn.features("landuse", "residential", [box(X0, Y0, X0 + 300, Y0 + 100)]), extra=("access",)
    )
    res = compute_indicators(lab_data(boundary, **all_themes(landuse=one))).get("landuse_mix")
    assert res.value == 0.0 and res.comparable
    three = syn.frame(
        syn.features("landuse", "residential", [box(X0, Y0, X0 + 100, Y0 + 100)])
        + syn.features("landuse", "retail", [box(X0 + 100, Y0, X0 + 200, Y0 + 100)])
        + syn.features("landuse", "industrial", [box(X0 + 200, Y0, X0 + 300, Y0 + 100)]),
        extra=("access",),
    )
    res = compute_indicators(lab_data(boundary, **all_themes(landuse=three))).get("landuse_mix")
    assert res.value == pytest.approx(1.0, abs=1e-3)
    half = syn.frame(
        syn.features("landuse", "residential", [box(X0, Y0, X0 + 100, Y0 + 100)]), extra=("access",)
    )
    res = compute_indicators(lab_data(boundary, **all_themes(landuse=half))).get("landuse_mix")
    assert not res.comparable
    assert res.reason.key == "indicators.note.landuse_coverage"
    assert res.reason.params["share"] == pytest.approx(33.33, abs=0.1)
    assert "33.3 %" in res.reason.text("en") and "33,3 %" in res.reason.text("de")


def test_open_space_share_and_street_area():
    boundary = syn.site(X0, Y0, 200, 100)
    green = syn.frame(
        syn.features("leisure", "playground", [box(X0, Y0, X0 + 50, Y0 + 100)])
        + syn.features(
            "leisure", "garden", [box(X0 + 50, Y0, X0 + 100, Y0 + 100)], access="private"
        ),
        extra=("access",),
    )
    street = syn.streets([(1, 2, LineString([(X0, Y0 + 50), (X0 + 200, Y0 + 50)]))])
    res = compute_indicators(lab_data(boundary, **all_themes(green=green, streets=street)))
    assert res.get("open_space_share").value == pytest.approx(0.25, abs=1e-3)
    # a residential street is taken as 8 m wide: 200 m × 8 m of a 2 ha site
    assert res.get("street_area_share").value == pytest.approx(1600 / 20000, rel=1e-3)


# ---- thin data and bad input -------------------------------------------------------------
def test_no_data_at_all_gives_notes_not_zeros():
    res = compute_indicators(LabData("lab", syn.site(X0, Y0, 300)))
    assert len(res.indicators) == len(ind.INDICATORS)
    assert all(i.value is None and not i.comparable for i in res.indicators)
    assert any(n.key == "indicators.note.no_data" for n in res.notes)
    for i in res.indicators:
        assert i.reason is not None and i.reason.text("uk") != i.reason.key


def test_fetched_but_empty_layers_give_notes_not_zeros():
    res = compute_indicators(lab_data(syn.site(X0, Y0, 300), **all_themes()))
    assert all(i.value is None for i in res.indicators)
    assert all(i.reason.key == "indicators.note.no_data" for i in res.indicators)


def test_site_of_100_m2():
    boundary = syn.site(X0 + 95, Y0 + 145, 10)  # on a street of the grid
    house = syn.frame(
        syn.features("building", "house", [box(X0 + 90, Y0 + 140, X0 + 100, Y0 + 160)])
    )
    res = compute_indicators(lab_data(boundary, **all_themes(streets=syn.grid(3), buildings=house)))
    assert res.area_m2 == pytest.approx(100, rel=1e-3)
    assert res.get("gsi").value == pytest.approx(0.5, abs=1e-3)
    dens = res.get("intersection_density")
    assert dens.value is None and dens.reason.key == "indicators.note.too_small_for_density"
    assert res.get("amenity_food").value is None
    assert any(n.key == "indicators.note.small_site" for n in res.notes)


def test_site_crossing_utm_zone_border():
    # zone 32 ends at 12°E: draw the site in zone 33's CRS around the border
    x, y = 284_800.0, 5_542_800.0  # 12°E, 50°N is at 285,016 / 5,542,944 in zone 33
    boundary = syn.site(x - 10, y - 10, 620, 320, crs="EPSG:32633")
    assert boundary.bounds[0] < 12.0 < boundary.bounds[2]
    grid = syn.grid(3, 100.0, x, y, crs="EPSG:32633")
    res = compute_indicators(lab_data(boundary, **all_themes(streets=grid)))
    assert any(n.key == "indicators.note.utm_border" for n in res.notes)
    # measured in the centroid's zone, lengths are still metric: the 300 m grid lies inside
    assert res.get("street_density").value == pytest.approx(2.4 / (res.area_m2 / 1e6), rel=2e-3)
    assert res.get("orientation_order").value > 0.9


def test_layers_still_being_fetched():
    data = lab_data(syn.site(X0, Y0, 300), streets=syn.grid(3))
    data.pending = ("buildings", "green")
    res = compute_indicators(data)
    gsi = res.get("gsi")
    assert gsi.value is None and gsi.reason.key == "indicators.note.theme_pending"
    assert "Buildings" in gsi.reason.text("en") and "Gebäude" in gsi.reason.text("de")
    # every figure is marked: a half-fetched lab is not compared
    assert all(not i.comparable for i in res.indicators)
    assert res.get("street_density").value is not None


def test_serialisation_round_trip():
    res = compute_indicators(
        lab_data(syn.site(X0 - 1, Y0 - 1, 302), **all_themes(streets=syn.grid(3)))
    )
    again = ind.IndicatorSet.from_dict(res.to_dict())
    assert again == res
    doc = res.to_dict("de")
    assert doc["indicators"][0]["name"] == "Überbauungsgrad (GRZ)"
