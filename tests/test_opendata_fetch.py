"""Online fetching from Overpass, against a local stand-in server on 127.0.0.1 (no network).

The stand-in answers the way Overpass does (JSON elements), or slowly, or with 429/500, or with
garbage; the tests check the cache afterwards.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest

from tests.opendata_helpers import LAT0, LON0, STEP, make_lab
from workbench.errors import ValidationError
from workbench.opendata import cache, osm
from workbench.opendata.osm import FetchError, fetch_themes


def _node(nid, lon, lat, tags=None):
    out = {"type": "node", "id": nid, "lon": lon, "lat": lat}
    if tags:
        out["tags"] = tags
    return out


def streets_response():
    nodes = [
        _node(r * 3 + c + 1, LON0 + c * STEP, LAT0 + r * STEP) for r in range(3) for c in range(3)
    ]
    ways = [
        {
            "type": "way",
            "id": 101,
            "nodes": [1, 2, 3],
            "tags": {"highway": "residential", "name": "Шевченка"},
        },
        {"type": "way", "id": 104, "nodes": [1, 4, 7], "tags": {"highway": "footway"}},
        {"type": "way", "id": 105, "nodes": [2, 5, 8], "tags": {"highway": "motorway"}},
    ]
    return {
        "version": 0.6,
        "osm3s": {"timestamp_osm_base": "2024-05-06T07:08:09Z"},
        "elements": nodes + ways,
    }


def features_response():
    sq = [(0.0002, 0.0002), (0.0006, 0.0002), (0.0006, 0.0006), (0.0002, 0.0006)]
    nodes = [_node(20 + i, LON0 + x, LAT0 + y) for i, (x, y) in enumerate(sq)]
    nodes.append(
        _node(50, LON0 + 0.0015, LAT0 + 0.0005, {"amenity": "school", "name": "School <one>"})
    )
    nodes.append(_node(51, LON0 + 0.0016, LAT0 + 0.0004, {"shop": "bakery", "name": "Bäcker"}))
    way = {
        "type": "way",
        "id": 109,
        "nodes": [20, 21, 22, 23, 20],
        "tags": {"building": "yes", "building:levels": "4"},
    }
    return {
        "version": 0.6,
        "osm3s": {"timestamp_osm_base": "2024-05-06T07:08:00Z"},
        "elements": [*nodes, way],
    }


class Overpass(BaseHTTPRequestHandler):
    mode = "ok"
    queries: list[str] = []
    drip_ended = threading.Event()  # set when a dripping reply's reader went away

    def log_message(self, *args):  # keep test output quiet
        pass

    def do_POST(self):  # noqa: N802 - http.server's naming
        length = int(self.headers.get("Content-Length") or 0)
        query = parse_qs(self.rfile.read(length).decode())["data"][0]
        Overpass.queries.append(query)
        Overpass.agents.append(self.headers.get("User-Agent", ""))
        if Overpass.mode == "slow":
            time.sleep(2.5)
        if Overpass.mode in ("429", "500", "504"):
            self._send(int(Overpass.mode), b"<html>busy</html>", "text/html")
            return
        if Overpass.mode == "garbage":
            self._send(200, b"<html>not json</html>", "text/html")
            return
        if Overpass.mode == "empty":  # a valid answer with nothing in the area, padded big
            body = json.dumps({"version": 0.6, "remark": " " * 200_000, "elements": []})
            self._send(200, body.encode(), "application/json")
            return
        if Overpass.mode == "drip":  # headers at once, then one byte every 0.2 s, never done
            self._drip()
            return
        doc = streets_response() if 'way["highway"](poly:' in query else features_response()
        if Overpass.mode == "unsized":  # no Content-Length: the size shows only while reading
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(json.dumps(doc).encode())
            return
        doc = streets_response() if 'way["highway"](poly:' in query else features_response()
        self._send(200, json.dumps(doc).encode(), "application/json")

    def _drip(self):
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "100000")
            self.end_headers()
            self.wfile.write(b'{"elements": [')
            for _ in range(300):  # at most a minute, should nobody hang up
                time.sleep(0.2)
                self.wfile.write(b" ")
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            Overpass.drip_ended.set()

    def _send(self, status, body, ctype):
        try:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass


@pytest.fixture
def overpass(monkeypatch):
    server = ThreadingHTTPServer(("127.0.0.1", 0), Overpass)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Overpass.mode, Overpass.queries, Overpass.agents = "ok", [], []
    Overpass.drip_ended.clear()
    monkeypatch.setenv("WORKBENCH_OVERPASS_URL", f"http://127.0.0.1:{server.server_port}/api")
    yield Overpass
    server.shutdown()
    server.server_close()
    # a timed-out worker finishes on its own (its HTTP timeout); wait for it before the next test
    assert osm._FETCH_LOCK.acquire(timeout=10)
    osm._FETCH_LOCK.release()


def test_fetch_fills_the_cache(store, overpass):
    lab = make_lab()
    stages = []
    report = fetch_themes(
        store,
        lab,
        ["buildings", "streets", "schools", "shops", "health"],
        buffer_m=0,
        timeout_s=10,
        progress=lambda f, s: stages.append(s),
    )
    # node 2 is shared only with the motorway, which is not walkable: no split there
    assert report.counts == {"buildings": 1, "streets": 2, "schools": 1, "shops": 1, "health": 0}
    streets = cache.load_theme(store, lab.id, "streets")
    assert sorted(zip(streets["u"], streets["v"], strict=True)) == [(1, 3), (1, 7)]
    assert "Шевченка" in set(streets["name"])
    b = cache.load_theme(store, lab.id, "buildings")
    assert b.loc[0, "osm_id"] == "way/109" and b.loc[0, "levels"] == 4.0
    assert b.geom_type[0] == "Polygon"
    assert cache.load_theme(store, lab.id, "schools").loc[0, "name"] == "School <one>"
    meta = cache.theme_meta(store, lab.id, "shops")
    assert meta["source"] == "overpass" and meta["feature_count"] == 1
    assert meta["attribution"] == "© OpenStreetMap contributors"
    assert len(overpass.queries) == 2  # one features query, one streets query
    assert all(a.startswith("LivingLabWorkbench/") for a in overpass.agents)
    assert "download" in stages and stages[-1] == "done"
    # osmnx's process-global settings are put back
    import osmnx as ox
    from osmnx import _overpass

    assert _overpass._overpass_request.__module__ == "osmnx._overpass"
    assert ox.settings.use_cache is True


def test_fetch_dates_the_data_by_the_overpass_database_state(store, overpass):
    """The date is Overpass's ``timestamp_osm_base`` (the older of the two replies), not the
    fetch time; the data cover the area asked for."""
    lab = make_lab()
    report = fetch_themes(store, lab, ["buildings", "streets"], buffer_m=0, timeout_s=10)
    assert report.data_date == "2024-05-06T07:08:00+00:00"
    assert report.data_date_source == "osm_base"
    meta = cache.theme_meta(store, lab.id, "streets")
    assert meta["data_date"] == report.data_date and meta["coverage_source"] == "query_area"
    assert not meta["fetched_at"].startswith("2024-05-06")


@pytest.mark.parametrize(
    "mode, key",
    [
        ("429", "opendata.fetch.busy"),
        ("504", "opendata.fetch.busy"),
        ("500", "opendata.fetch.failed"),
        ("garbage", "opendata.fetch.bad_response"),
    ],
)
def test_failing_server_keeps_the_cache(store, overpass, mode, key):
    lab = make_lab()
    fetch_themes(store, lab, ["buildings", "streets"], buffer_m=0, timeout_s=10)
    version = cache.cache_version(store, lab.id)
    overpass.mode = mode
    started = time.perf_counter()
    with pytest.raises(FetchError) as err:
        fetch_themes(store, lab, ["buildings", "streets"], buffer_m=0, timeout_s=10)
    assert err.value.key == key
    assert time.perf_counter() - started < 5  # no sleeping and retrying on 429/504
    assert cache.cache_version(store, lab.id) == version
    assert err.value.message("de") != err.value.message("en")


def test_slow_server_times_out_and_keeps_the_cache(store, overpass):
    lab = make_lab()
    fetch_themes(store, lab, ["schools"], buffer_m=0, timeout_s=10)
    version = cache.cache_version(store, lab.id)
    overpass.mode = "slow"
    started = time.perf_counter()
    with pytest.raises(FetchError) as err:
        fetch_themes(store, lab, ["schools"], buffer_m=0, timeout_s=1)
    assert err.value.key == "opendata.fetch.timeout"
    assert time.perf_counter() - started < 2.5
    assert cache.cache_version(store, lab.id) == version
    assert "1" in err.value.message("uk")


def test_unreachable_server(store, monkeypatch):
    import socket

    with socket.socket() as s:  # a port on which nothing listens
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("WORKBENCH_OVERPASS_URL", f"http://127.0.0.1:{port}/api")
    with pytest.raises(FetchError) as err:
        fetch_themes(store, make_lab(), ["streets"], buffer_m=0, timeout_s=5)
    assert err.value.key == "opendata.fetch.unreachable"


def test_too_large_area_is_refused_before_any_request(store, overpass):
    big = make_lab("lab-big", (11.0, 49.0, 11.1, 49.05))  # about 7 km × 5.5 km
    with pytest.raises(ValidationError) as err:
        fetch_themes(store, big, ["streets"], buffer_m=500)
    assert err.value.key == "opendata.fetch.too_large"
    assert "25" in err.value.message("de")
    assert overpass.queries == []
    assert cache.cached_themes(store, big.id) == []


def test_empty_reply_keeps_the_cache_until_confirmed(store, overpass):
    lab = make_lab()
    fetch_themes(store, lab, ["buildings", "streets", "health"], buffer_m=0, timeout_s=10)
    version = cache.cache_version(store, lab.id)
    overpass.mode = "empty"
    with pytest.raises(osm.EmptyFetch) as err:
        fetch_themes(store, lab, ["buildings", "streets", "health"], buffer_m=0, timeout_s=10)
    # health had nothing cached: only the themes that would lose features need confirming
    assert err.value.themes == ["buildings", "streets"]
    assert "buildings, streets" in err.value.message("uk")
    assert err.value.message("de") != err.value.message("en")
    assert cache.cache_version(store, lab.id) == version
    assert len(cache.load_theme(store, lab.id, "buildings")) == 1
    report = fetch_themes(
        store, lab, ["buildings", "streets", "health"], buffer_m=0, timeout_s=10, allow_empty=True
    )
    assert report.counts == {"buildings": 0, "streets": 0, "health": 0}
    assert len(cache.load_theme(store, lab.id, "buildings")) == 0


def test_empty_reply_for_themes_never_cached_needs_no_confirmation(store, overpass):
    lab = make_lab()
    overpass.mode = "empty"
    report = fetch_themes(store, lab, ["schools"], buffer_m=0, timeout_s=10)
    assert report.counts == {"schools": 0}
    assert cache.theme_meta(store, lab.id, "schools")["feature_count"] == 0


def test_dripping_server_is_cut_at_the_deadline_and_frees_the_next_fetch(
    store, overpass, monkeypatch
):
    lab = make_lab()
    fetch_themes(store, lab, ["schools", "streets"], buffer_m=0, timeout_s=10)
    version = cache.cache_version(store, lab.id)
    overpass.mode = "drip"
    monkeypatch.setenv("WORKBENCH_OVERPASS_TIMEOUT_S", "2")  # the default deadline, shortened
    with pytest.raises(FetchError) as err:
        fetch_themes(store, lab, ["schools", "streets"], buffer_m=0)
    assert err.value.key == "opendata.fetch.timeout"
    assert "2" in err.value.message("en")
    assert cache.cache_version(store, lab.id) == version
    # the next fetch is not refused as "still running", even while the cut worker unwinds
    overpass.mode = "ok"
    report = fetch_themes(store, lab, ["streets"], buffer_m=0, timeout_s=10)
    assert report.counts == {"streets": 2}
    # and the dripping connection was hung up by the workbench, not left open
    assert overpass.drip_ended.wait(15)


@pytest.mark.parametrize("mode", ["ok", "unsized"])
def test_reply_over_the_size_cap_is_refused(store, overpass, monkeypatch, mode):
    lab = make_lab()
    fetch_themes(store, lab, ["streets"], buffer_m=0, timeout_s=10)
    version = cache.cache_version(store, lab.id)
    overpass.mode = mode
    monkeypatch.setenv("WORKBENCH_OVERPASS_MAX_MB", "0.0005")  # 500 bytes; the reply is ~1.2 kB
    with pytest.raises(FetchError) as err:
        fetch_themes(store, lab, ["streets"], buffer_m=0, timeout_s=10)
    assert err.value.key == "fetch_safety.too_big"
    assert cache.cache_version(store, lab.id) == version
    monkeypatch.setenv("WORKBENCH_OVERPASS_MAX_MB", "1")
    assert fetch_themes(store, lab, ["streets"], buffer_m=0, timeout_s=10).counts == {"streets": 2}


def test_cli_fetch_refuses_an_empty_reply_unless_allowed(store, overpass, capsys, data_dir):
    from workbench import cli
    from workbench.demo import ensure_demo

    demo = ensure_demo()
    lab = demo.list_labs()[0]
    lab_id = lab.id
    small = make_lab(lab_id)  # the demo lab's id, on the synthetic site the stand-in knows
    fetch_themes(demo, small, ["streets"], buffer_m=0, timeout_s=10)
    overpass.mode = "empty"
    args = ["osm", "fetch", "--lab", lab_id, "--themes", "streets", "--buffer", "0"]
    assert cli.main(args) == 2
    assert "streets" in capsys.readouterr().err
    assert len(cache.load_theme(demo, lab_id, "streets")) == 2
    assert cli.main([*args, "--allow-empty"]) == 0
    assert len(cache.load_theme(demo, lab_id, "streets")) == 0
