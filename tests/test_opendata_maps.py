"""Basemaps, WMS checks and the context layers on the map."""

from __future__ import annotations

import folium
import pytest

from tests.opendata_helpers import grid_osm, make_lab
from workbench.errors import ValidationError
from workbench.maps import basemap_layers, wms_layer
from workbench.mapview import context_layers, context_legend_html
from workbench.opendata.basemaps import BASEMAPS, validate_wms
from workbench.opendata.cache import load_theme
from workbench.opendata.osm import import_extract

PUBLIC = lambda host: ["93.184.216.34"]  # noqa: E731 - a stand-in resolver


def test_four_keyless_basemaps_with_attribution():
    assert set(BASEMAPS) == {"street", "light", "satellite", "topo"}
    for b in BASEMAPS.values():
        assert b.url.startswith("https://") and "{z}" in b.url and "apikey" not in b.url.lower()
        assert b.attribution
    layers = basemap_layers("de", chosen="satellite")
    assert layers[0].tile_name == "Satellitenbild" and layers[0].show
    assert "OpenStreetMap contributors" in BASEMAPS["street"].attribution


@pytest.mark.parametrize(
    "url, key",
    [
        ("ftp://example.org/wms", "opendata.wms.scheme"),
        ("file:///etc/passwd", "opendata.wms.scheme"),
        ("javascript:alert(1)", "opendata.wms.scheme"),
        ("http://127.0.0.1/wms", "opendata.wms.private"),
        ("http://[::1]/wms", "opendata.wms.private"),
        ("http://10.0.0.8/wms", "opendata.wms.private"),
        ("http://169.254.169.254/latest", "opendata.wms.private"),
        ("http://user:pw@example.org/wms", "opendata.wms.bad_url"),
        ("https://example.org:22/wms", "opendata.wms.port"),
    ],
)
def test_wms_url_checks(url, key):
    with pytest.raises(ValidationError) as err:
        validate_wms(url, "layer", resolve=PUBLIC)
    assert err.value.key == key
    assert err.value.message("uk") != err.value.key


@pytest.mark.parametrize(
    "host",
    [
        "[64:ff9b::7f00:1]",  # NAT64 well-known prefix → 127.0.0.1
        "[64:ff9b::a00:8]",  # NAT64 → 10.0.0.8
        "[64:ff9b:1::7f00:1]",  # NAT64 local-use prefix
        "[2002:7f00:1::]",  # 6to4 → 127.0.0.1
        "[2002:a9fe:a9fe::1]",  # 6to4 → 169.254.169.254
        "[::ffff:127.0.0.1]",  # IPv4-mapped
        "[::ffff:0:7f00:1]",  # IPv4-translated
        "[::127.0.0.1]",  # IPv4-compatible
        "[2001:0:4136:e378:8000:63bf:80ff:fffe]",  # Teredo, client 127.0.0.1
        "2130706433",
        "0x7f.1",
        "0177.0.0.1",
        "127.1",
        "0x7f000001",
        "012.0.0.8",
    ],
)
def test_wms_loopback_and_private_in_other_spellings_are_refused(host):
    asked = []
    with pytest.raises(ValidationError) as err:
        validate_wms(
            f"http://{host}/wms", "layer", resolve=lambda h: asked.append(h) or ["93.184.216.34"]
        )
    assert err.value.key == "opendata.wms.private"
    assert asked == []  # an address literal is judged itself, never looked up


@pytest.mark.parametrize("host", ["[2002:808:808::]", "[64:ff9b::808:808]", "134744072"])
def test_wms_public_addresses_in_other_spellings_pass(host):
    url, _ = validate_wms(f"http://{host}/wms", "layer", resolve=PUBLIC)
    assert url == f"http://{host}/wms"


def test_wms_name_resolving_to_embedded_loopback_is_refused():
    with pytest.raises(ValidationError) as err:
        validate_wms("https://sneaky.example/wms", "a", resolve=lambda h: ["64:ff9b::7f00:1"])
    assert err.value.key == "opendata.wms.private"


def test_wms_host_resolving_to_a_private_network_is_refused():
    with pytest.raises(ValidationError) as err:
        validate_wms("https://intranet.example/wms", "a", resolve=lambda h: ["192.168.1.5"])
    assert err.value.key == "opendata.wms.private"

    def fails(host):
        raise OSError("no such host")

    with pytest.raises(ValidationError) as err:
        validate_wms("https://nowhere.example/wms", "a", resolve=fails)
    assert err.value.key == "opendata.wms.unresolvable"


def test_valid_wms_becomes_a_layer():
    url, layer = validate_wms(
        " https://sgx.geodatenzentrum.de/wms_topplus_open#x ", "web", resolve=PUBLIC
    )
    assert url == "https://sgx.geodatenzentrum.de/wms_topplus_open" and layer == "web"
    with pytest.raises(ValidationError):
        validate_wms(url, "<script>", resolve=PUBLIC)
    m = folium.Map()
    wms_layer(url, layer, "TopPlus").add_to(m)
    html = m.get_root().render()
    assert "wms_topplus_open" in html and '"layers": "web"' in html


def _features(group: folium.FeatureGroup) -> list[dict]:
    from workbench.maps import GeoJsonData

    layer = [c for c in group._children.values() if isinstance(c, folium.GeoJson)][0]
    data = [c for c in layer._children.values() if isinstance(c, GeoJsonData)][0]
    return data.data["features"]


def test_context_layers_are_light_escaped_and_attributed(store, tmp_path):
    lab = make_lab()
    import_extract(store, grid_osm(tmp_path / "grid.osm"), lab, buffer_m=0)
    groups = context_layers(store, lab.id, ["streets", "schools", "water"])
    # the grid has no water: a theme cached without features draws no (empty) layer
    assert (
        load_theme(store, lab.id, "water") is not None and load_theme(store, lab.id, "water").empty
    )
    assert [g.layer_name for g in groups] == ["Streets (walkable network)", "Schools and childcare"]
    feature = _features(groups[1])[0]
    assert list(feature["properties"]) == ["p"]  # only what the popup needs
    assert feature["properties"]["p"] == "Школа №1 &lt;b&gt;&amp; · amenity=school"
    x, y = feature["geometry"]["coordinates"]
    assert len(str(x).split(".")[1]) <= 6 and len(str(y).split(".")[1]) <= 6
    # streets go to the map as one feature per OSM way (6 ways, 12 cached segments)
    assert len(_features(groups[0])) == 6
    m = folium.Map()
    for g in groups:
        g.add_to(m)
    html = m.get_root().render()
    assert html.count("OpenStreetMap contributors") >= 2  # each layer carries the attribution
    assert "\\u003cb\\u003e" not in html and "Школа №1 \\u0026lt;b\\u0026gt;" in html
    assert "layer.feature.properties.p" in html  # the popup
    assert (
        context_layers(store, lab.id, ["schools"], lang="uk")[0].layer_name
        == "Школи та дитячі садки"
    )
    assert context_layers(store, "lab-nothing") == []
    legend = context_legend_html(store, lab.id, ["streets", "schools"], "de")
    assert "Straßen" in legend and "© OpenStreetMap contributors" in legend


def test_opacity_scales_the_style(store, tmp_path):
    lab = make_lab()
    import_extract(store, grid_osm(tmp_path / "grid.osm"), lab, buffer_m=0, themes=["buildings"])
    full = context_layers(store, lab.id, ["buildings"])[0]
    half = context_layers(store, lab.id, ["buildings"], opacities={"buildings": 0.5})[0]

    def style(group):
        gj = [c for c in group._children.values() if isinstance(c, folium.GeoJson)][0]
        return gj.options["style"]

    assert style(half)["fillOpacity"] == pytest.approx(style(full)["fillOpacity"] * 0.5)
