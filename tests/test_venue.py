"""A venue without internet: `workbench venue prepare` stores a lab's basemap tiles in one
MBTiles archive within the tile server's usage policy, and the app serves them itself."""

from __future__ import annotations

import io
import sqlite3

import pytest
from PIL import Image

from workbench import mapview
from workbench.cli import main
from workbench.errors import ValidationError
from workbench.opendata import venue

SOURCE = "https://tiles.example.org/{z}/{x}/{y}.png"


def _png(colour: str = "#77aa55") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (256, 256), colour).save(buf, format="PNG")
    return buf.getvalue()


class Tiles:
    """A tile server in the test: answers every URL with a PNG, and remembers the URLs."""

    def __init__(self, body: bytes | None = None) -> None:
        self.urls: list[str] = []
        self.body = _png() if body is None else body

    def __call__(self, url: str) -> bytes:
        self.urls.append(url)
        return self.body


@pytest.fixture
def site(demo_store):  # type: ignore[no-untyped-def]
    return demo_store.list_labs()[0]


def test_tile_maths():
    assert venue.tile_xy(0.0, 0.0, 1) == (1, 1)
    assert venue.tile_xy(-180.0, 85.0, 3) == (0, 0)
    assert venue.tile_xy(11.5755, 48.1374, 12) == (2179, 1421)  # Munich, as osm.org numbers it
    tiles = venue.tiles_for((11.57, 48.13, 11.58, 48.14), (15, 16))
    assert {z for z, _x, _y in tiles} == {15, 16}
    assert venue.parse_zooms("12-17") == (12, 17) and venue.parse_zooms("15") == (15, 15)
    for bad in ("17-12", "x", "12-30"):
        with pytest.raises(ValidationError):
            venue.parse_zooms(bad)


def test_prepare_stores_the_site_tiles_and_the_app_serves_them(site):
    from starlette.applications import Starlette
    from starlette.testclient import TestClient

    server = Tiles()
    path = venue.prepare_venue(site, (14, 15), SOURCE, fetch=server, interval_s=0)
    expected = venue.tiles_for(venue.site_bounds(site), (14, 15))
    assert len(server.urls) == len(expected) > 4  # one request per tile, each once
    assert server.urls[0].startswith("https://tiles.example.org/14/")
    info = venue.venue_info(site.id)
    assert info["tiles"] == len(expected) and info["minzoom"] == "14" and info["maxzoom"] == "15"
    assert info["format"] == "png" and "OpenStreetMap" in info["attribution"]
    with sqlite3.connect(path) as db:  # MBTiles 1.3: TMS rows
        z, x, row = db.execute("SELECT zoom_level, tile_column, tile_row FROM tiles").fetchone()
    assert venue.read_tile(site.id, z, x, 2**z - 1 - row) == server.body
    client = TestClient(Starlette(routes=venue.routes))
    z, x, y = expected[0]
    answer = client.get(f"/api/venue/{site.id}/{z}/{x}/{y}.png")
    assert answer.status_code == 200 and answer.headers["content-type"] == "image/png"
    assert answer.content == server.body
    assert client.get(f"/api/venue/{site.id}/3/0/0.png").status_code == 404  # not stored
    assert client.get("/api/venue/..%2F..%2Fetc/1/0/0.png").status_code == 404
    # the lab's maps draw the stored tiles instead of the internet's
    settings = mapview.MapSettings()
    html = (
        mapview.lab_map(
            site, [], settings, venue=(f"/api/venue/{site.id}/{{z}}/{{x}}/{{y}}.png", 15)
        )
        .get_root()
        .render()
    )
    assert f"/api/venue/{site.id}/" in html and "tile.openstreetmap.org" not in html
    assert '"maxNativeZoom": 15' in html


def test_the_usage_policy_and_limits_are_kept_before_any_request(site):
    server = Tiles()
    with pytest.raises(ValidationError) as err:
        venue.prepare_venue(site, (12, 18), fetch=server)  # the public OSM server, zoom 18
    assert err.value.key == "venue.zoom_osm"
    with pytest.raises(ValidationError) as err:
        venue.prepare_venue(site, (12, 17), SOURCE, fetch=server, max_tiles=20)
    assert err.value.key == "venue.too_many" and "20" in err.value.message("en")
    assert server.urls == []
    assert not venue.archive_path(site.id).exists()
    for lang in ("de", "uk"):
        assert not err.value.message(lang).startswith("venue.")


def test_a_failed_or_wrong_tile_saves_nothing(site):
    venue.prepare_venue(site, (13, 13), SOURCE, fetch=Tiles(), interval_s=0)
    before = venue.archive_path(site.id).read_bytes()
    with pytest.raises(ValidationError) as err:
        venue.prepare_venue(
            site, (14, 14), SOURCE, fetch=Tiles(b"<html>blocked</html>"), interval_s=0
        )
    assert err.value.key == "venue.not_png"

    def broken(url: str) -> bytes:
        raise TimeoutError(url)

    with pytest.raises(ValidationError) as err:
        venue.prepare_venue(site, (14, 14), SOURCE, fetch=broken, interval_s=0)
    assert err.value.key == "venue.fetch_failed"
    assert venue.archive_path(site.id).read_bytes() == before  # the earlier archive is kept
    assert not list(venue.venue_dir().glob(".venue-*"))  # no half-written file left


def test_a_corrupt_archive_is_refused_with_a_message(site):
    venue.archive_path(site.id).write_bytes(b"SQLite format 3\x00" + b"\x07" * 4000)
    with pytest.raises(ValidationError) as err:
        venue.venue_info(site.id)
    assert err.value.key == "venue.corrupt" and "venue prepare" in err.value.message("en")
    venue.archive_path(site.id).write_bytes(b"not an archive at all")
    with pytest.raises(ValidationError):
        venue.read_tile(site.id, 14, 0, 0)
    from starlette.applications import Starlette
    from starlette.testclient import TestClient

    client = TestClient(Starlette(routes=venue.routes))
    assert client.get(f"/api/venue/{site.id}/14/0/0.png").status_code == 404  # never half


def test_cli_venue_prepare(site, monkeypatch, capsys):
    monkeypatch.setattr(venue, "_http_fetch", Tiles())
    monkeypatch.setattr(venue, "VENUE_REQUEST_INTERVAL_S", 0)
    assert main(["venue", "prepare", "--lab", site.id, "--zoom", "13-14", "--tiles", SOURCE]) == 0
    out = capsys.readouterr().out
    assert site.id in out and "tiles" in out and ".mbtiles" in out
    assert main(["venue", "prepare", "--lab", site.id, "--zoom", "12-18"]) == 2
    assert "zoom 17" in capsys.readouterr().err
