"""The comparison page with three living labs from three countries (AppTest), the comparison
helpers, and the CLI."""

from __future__ import annotations

import io
import json
import math
import re

import numpy as np
import pytest
from shapely.geometry import Point, box
from streamlit.testing.v1 import AppTest

from tests import synthetic as syn
from tests.conftest import PROJECT_ROOT
from tests.helpers import KHARKIV_LAB, MUNICH_LAB, SEATTLE_LAB
from workbench import compare as cmp
from workbench import indicators as ind
from workbench.geometry import local_crs, to_crs

MUENCHEN = MUNICH_LAB  # DE


def town(boundary, buildings: bool = True, blocks: int = 8, spacing: float = 120.0) -> dict:
    """A street grid over the site (+ buffer) with houses, a park and a bus stop, in the site's
    own UTM zone."""
    crs = local_crs(boundary)
    epsg = f"EPSG:{crs.to_epsg()}"
    c = to_crs(boundary.centroid, crs)
    x0, y0 = c.x - blocks * spacing / 2, c.y - blocks * spacing / 2
    themes = {th: syn.empty(epsg) for th in ind.THEMES}
    themes["streets"] = syn.grid(blocks, spacing, x0, y0, crs=epsg)
    if buildings:
        houses = [
            box(
                x0 + i * spacing + 20,
                y0 + j * spacing + 20,
                x0 + i * spacing + 70,
                y0 + j * spacing + 60,
            )
            for i in range(blocks)
            for j in range(blocks)
        ]
        themes["buildings"] = syn.frame(
            syn.features("building", "house", houses), epsg, extra=("levels",)
        )
        themes["green"] = syn.frame(
            syn.features("leisure", "park", [box(c.x + 5, c.y + 5, c.x + 115, c.y + 115)]),
            epsg,
            extra=("access",),
        )
        themes["transit"] = syn.frame(
            syn.features("highway", "bus_stop", [Point(c.x + 2, c.y + 30)]), epsg
        )
        themes["landuse"] = syn.frame(
            syn.features("landuse", "residential", [boundary.buffer(0)]),
            "EPSG:4326",
            extra=("access",),
        )
    return themes


@pytest.fixture
def fake_cache(demo_store, monkeypatch):
    labs = {lab_id: demo_store.get_lab(lab_id) for lab_id in (MUENCHEN, SEATTLE_LAB, KHARKIV_LAB)}
    cache = syn.FakeCache(
        {
            MUENCHEN: town(labs[MUENCHEN].boundary),
            SEATTLE_LAB: town(labs[SEATTLE_LAB].boundary),
            KHARKIV_LAB: town(labs[KHARKIV_LAB].boundary, buildings=False, blocks=2, spacing=80),
        }
    )
    ind.clear_memory_cache()
    yield syn.install(monkeypatch, cache)
    ind.clear_memory_cache()


def _app(labs: list[str], lang: str = "en") -> AppTest:
    at = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=120)
    at.session_state["lang"] = lang
    at.switch_page("pages/compare.py")
    at.session_state["compare_labs"] = labs
    return at.run()


def test_compare_page_three_countries(fake_cache):
    at = _app([MUENCHEN, SEATTLE_LAB, KHARKIV_LAB])
    assert not at.exception, at.exception
    assert at.title[0].value == "Compare living labs"
    # one table with a row per indicator and a column per site (plus name and unit)
    df = at.dataframe[0].value
    assert len(df) == len(ind.INDICATORS) and df.shape[1] == 2 + 3
    gsi = df.iloc[0]
    assert gsi.iloc[0] == "Building coverage (GSI)" and gsi.iloc[1] == "%"
    # Kharkiv has no buildings: its figure is greyed with a footnote, not a zero
    kharkiv_col = "Kharkiv (UA)"
    assert list(df.columns[2:]) == ["München (DE)", "Seattle (US)", "Kharkiv (UA)"]
    assert gsi[kharkiv_col].startswith("— †")
    # transit access: best and worst marked among comparable figures
    row = df[df.iloc[:, 0] == "Intersection density"].iloc[0]
    assert any(str(v).startswith("▲") for v in row.iloc[2:])
    text = (" ".join(m.value for m in at.markdown) + " ".join(c.value for c in at.caption)).replace(
        "\\", ""
    )
    assert "No buildings mapped in the site." in text
    # coverage caveats for the three countries, stated plainly
    assert "Germany:" in text and "USA:" in text and "Ukraine:" in text
    assert "© OpenStreetMap contributors" in text
    found = elements(at.main)
    assert found["download_button"] == 7  # CSV, charts ×2, figure-ground, rose, twin PDF+PNG
    assert found["image"] == 4  # bars, profile, figure-ground, roses
    # three maps side by side at the same metric scale: zoom differs with latitude
    maps_ = found["component_instance"]
    assert len(maps_) == 3
    mpp = []
    for m in maps_:
        script = json.loads(m.proto.json_args)["script"]
        zoom = float(re.search(r'"zoom": ([0-9.]+)', script).group(1))
        lat = float(re.search(r"center: \[([-0-9.]+),", script).group(1))
        assert '"zoomSnap": 0' in script  # fractional zoom, so the scale is exact
        mpp.append(cmp.MPP_ZOOM0 * math.cos(math.radians(lat)) / 2**zoom)
    assert max(mpp) == pytest.approx(min(mpp), rel=1e-6)


def elements(root) -> dict:
    """Every element below ``root`` by type (lists of components, counts of the rest)."""
    from collections import Counter

    counts: Counter = Counter()
    components = []

    def walk(node) -> None:
        children = getattr(node, "children", None)
        if children is None:
            return
        for child in children.values() if isinstance(children, dict) else children:
            kind = getattr(child, "type", "")
            counts[kind] += 1
            if kind == "component_instance":
                components.append(child)
            walk(child)

    walk(root)
    return {**counts, "component_instance": components}


def test_compare_page_needs_two_and_other_language(fake_cache):
    at = _app([MUENCHEN], lang="de")
    assert not at.exception
    assert any("mindestens zwei" in i.value for i in at.info)
    at = _app([MUENCHEN, KHARKIV_LAB], lang="uk")
    assert not at.exception
    df = at.dataframe[0].value
    assert df.iloc[0, 0] == "Щільність забудови (GSI)"


def test_compare_page_progress_then_cache(fake_cache, monkeypatch):
    computed = []
    compute = ind.compute_indicators
    monkeypatch.setattr(
        ind,
        "compute_indicators",
        lambda data, *a, **k: computed.append(data) or compute(data, *a, **k),
    )
    _app([MUENCHEN, SEATTLE_LAB])
    assert len(computed) == 2 and fake_cache.loads > 0
    at = _app([MUENCHEN, SEATTLE_LAB])  # same data version: nothing is computed again
    assert not at.exception
    assert len(computed) == 2


def test_same_scale_zoom_levels():
    # equal metres per pixel: at 60° N a map needs one zoom level less than at the equator
    assert cmp.zoom_for(0.0, 1.0) - cmp.zoom_for(60.0, 1.0) == pytest.approx(1.0)
    assert cmp.zoom_for(0.0, cmp.MPP_ZOOM0) == pytest.approx(0.0)
    lat = 48.18
    z = cmp.zoom_for(lat, 2.5)
    assert cmp.MPP_ZOOM0 * np.cos(np.radians(lat)) / 2**z == pytest.approx(2.5)


def test_marks_best_worst():
    assert cmp.marks([1, 3, 2], [True] * 3, True) == ["worst", "best", ""]
    assert cmp.marks([1, 3, 2], [True] * 3, False) == ["best", "worst", ""]
    assert cmp.marks([1, 3, 2], [True, False, True], True) == ["worst", "", "best"]
    assert cmp.marks([1, 3], [True, True], None) == ["", ""]
    assert cmp.marks([2, 2], [True, True], True) == ["", ""]
    assert cmp.marks([None, 2], [False, True], True) == ["", ""]


def test_exports_csv_and_png(fake_cache, demo_store):
    sets = [ind.lab_indicators(demo_store, demo_store.get_lab(i)) for i in (MUENCHEN, KHARKIV_LAB)]
    sites = [cmp.Site("München", "DE", sets[0]), cmp.Site("Kharkiv", "UA", sets[1])]
    raw = cmp.table_csv(sites, "de").decode("utf-8-sig")
    assert "© OpenStreetMap contributors" in raw
    import pandas as pd

    df = pd.read_csv(io.StringIO(raw), comment="#")
    assert len(df) == 2 * len(ind.INDICATORS)
    assert set(df["Vergleichbar"]) == {"ja", "nein"}
    for fig in (
        cmp.bar_charts(sites, "en"),
        cmp.profile(sites, "en"),
        cmp.rose_diagrams(sites, "en"),
    ):
        assert cmp.png(fig).startswith(b"\x89PNG")
    buildings = [fake_cache.load_theme(demo_store, MUENCHEN, "buildings"), None]
    boundaries = [demo_store.get_lab(i).boundary for i in (MUENCHEN, KHARKIV_LAB)]
    fig = cmp.figure_ground(sites, buildings, boundaries, "en")
    ax0, ax1 = fig.axes
    # identical scale: both panels are exactly 1 km wide and high
    for ax in (ax0, ax1):
        assert np.ptp(ax.get_xlim()) == pytest.approx(1000) and np.ptp(
            ax.get_ylim()
        ) == pytest.approx(1000)
    assert "no buildings mapped" in ax1.get_title()
    assert cmp.png(fig).startswith(b"\x89PNG")


def test_cli_indicators(fake_cache, capsys):
    from workbench.cli import main

    assert main(["indicators", "--lab", MUENCHEN, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["attribution"] == "© OpenStreetMap contributors"
    gsi = doc["indicators"][0]
    assert gsi["code"] == "gsi" and gsi["unit"] == "share" and 0 < gsi["value"] < 1
    assert gsi["data_date"] == "2025-01-15"
    assert main(["indicators", "--lab", KHARKIV_LAB, "--lang", "de"]) == 0
    out = capsys.readouterr()
    assert "Überbauungsgrad (GRZ): —  †" in out.out
    assert "OpenStreetMap-Daten, Stand 2025-01-15" in out.out
    assert "Im Gebiet sind keine Gebäude erfasst." in out.out
    assert main(["indicators", "--lab", "no-such-lab"]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_lab_indicators_cached_per_version(fake_cache, demo_store):
    lab = demo_store.get_lab(MUENCHEN)
    steps = []
    first = ind.lab_indicators(demo_store, lab, progress=lambda f, k: steps.append((f, k)))
    assert steps[0] == (0.0, "indicators.progress.prepare") and steps[-1][0] == 1.0
    loads = fake_cache.loads
    steps.clear()
    assert ind.lab_indicators(demo_store, lab, progress=lambda f, k: steps.append(k)) is first
    assert steps == [] and fake_cache.loads == loads
    ind.clear_memory_cache()  # from disk
    again = ind.lab_indicators(demo_store, lab)
    assert again == first and fake_cache.loads == loads
    fake_cache.version = "v2"  # the data changed: computed anew
    ind.lab_indicators(demo_store, lab, progress=lambda f, k: steps.append(k))
    assert steps and fake_cache.loads > loads


def test_pending_layers_not_cached(demo_store, monkeypatch):
    lab = demo_store.get_lab(MUENCHEN)
    themes = town(lab.boundary)
    cache = syn.install(
        monkeypatch, syn.FakeCache({MUENCHEN: themes}, pending={MUENCHEN: {"buildings"}})
    )
    ind.clear_memory_cache()
    res = ind.lab_indicators(demo_store, lab)
    assert res.get("gsi").reason.key == "indicators.note.theme_pending"
    assert ind.cached_indicators(demo_store, lab) is None  # computed again once the layer is in
    cache.pending = {}
    assert ind.lab_indicators(demo_store, lab).get("gsi").comparable


def test_compare_page_population_layer_weights_the_figures(fake_cache, demo_store):
    """An uploaded layer with a population column can replace the footprint proxy for a site."""
    import geopandas as gpd

    from workbench.opendata.files import UserLayer, save_upload

    at = _app([MUENCHEN, SEATTLE_LAB])
    assert not at.exception
    assert not at.main.selectbox  # no population layer yet: the page says how to get one
    assert any("population column" in i.value for i in at.info)
    lab = demo_store.get_lab(MUENCHEN)
    c = lab.boundary.centroid
    people = gpd.GeoDataFrame(
        {"Einwohner": [120, 80], "name": ["Block A", "Block B"]},
        geometry=[c, c.buffer(2e-4).exterior.interpolate(0)],
        crs=4326,
    )
    save_upload(demo_store, MUENCHEN, UserLayer("zensus.gpkg", people, "gpkg"), name="Zensus 2022")
    other = gpd.GeoDataFrame({"name": ["no counts"]}, geometry=[c], crs=4326)
    save_upload(demo_store, MUENCHEN, UserLayer("poi.geojson", other, "geojson"))
    at = _app([MUENCHEN, SEATTLE_LAB])
    [pick] = at.main.selectbox  # only München has one; only the layer with counts is offered
    assert pick.options == ["Residential footprint (proxy)", "Zensus 2022 (column “Einwohner”)"]
    text = " ".join(c.value for c in at.caption)
    assert "Weighted by the uploaded population layer" not in text
    at = pick.select_index(1).run()
    assert not at.exception
    text = " ".join(c.value for c in at.caption).replace("\\", "")
    assert "Weighted by the uploaded population layer (200 people in the site)" in text
    assert "Weighted by the footprint" in text  # Seattle keeps the proxy
