"""Saving and reading one OSM theme as a workspace feature set (``workbench.store.features``).

Data: the buildings of the Munich extract imported for the Munich demo lab (the shared geodata;
375 buildings) and, for scale, 20,000 synthetic squares. Peers, in the same run: on SQLite
workspaces, plain ``GeoDataFrame.to_parquet``/``geopandas.read_parquet`` of the same frame;
on PostgreSQL, ``GeoDataFrame.to_postgis``/``geopandas.read_postgis`` (GeoAlchemy2) into a
table of the same database. ratio = peer seconds ÷ our seconds (> 1: faster than the peer).
Our read is timed cold (a new process's first read) and memoised (a page's rerun).
"""

from __future__ import annotations

import os
import tempfile
import time

import geopandas as gpd
import shapely

MUNICH_LAB = "e6dccaee-317d-4c62-995e-99f99acfc2b5"


def _timed(fn):  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def _munich() -> gpd.GeoDataFrame | None:
    from workbench.settings import SHARED_GEODATA

    path = SHARED_GEODATA / "germany_muenchen_milbertshofen.osm"
    if path.exists():
        from workbench.access import SYSTEM
        from workbench.demo import ensure_demo
        from workbench.opendata.cache import load_theme
        from workbench.opendata.osm import import_extract

        store = ensure_demo(on_purpose=True)
        import_extract(
            store, path, store.get_lab(MUNICH_LAB), themes=["buildings"], buffer_m=500, by=SYSTEM
        )
        frame = load_theme(store, MUNICH_LAB, "buildings")
        store.close()
        return frame
    return None


def _synthetic() -> gpd.GeoDataFrame:
    boxes = [
        shapely.box(
            11.5 + i % 200 * 1e-4,
            48.1 + i // 200 * 1e-4,
            11.5 + i % 200 * 1e-4 + 5e-5,
            48.1 + i // 200 * 1e-4 + 5e-5,
        )
        for i in range(20_000)
    ]
    return gpd.GeoDataFrame(
        {"osm_id": [f"way/{i}" for i in range(len(boxes))], "levels": [2.0] * len(boxes)},
        geometry=boxes,
        crs=4326,
    )


def _rows(label: str, sets, frame, peer_write, peer_read, peer: str) -> list[dict]:  # type: ignore[no-untyped-def]
    from workbench.store import features

    _, ours_w = _timed(lambda: sets.write("osm", "bench", "buildings", frame, {"n": len(frame)}))
    features._MEMO.clear()
    back, ours_cold = _timed(lambda: sets.read("osm", "bench", "buildings"))
    _, ours_warm = _timed(lambda: sets.read("osm", "bench", "buildings"))
    assert len(back) == len(frame)
    _, peer_w = _timed(peer_write)
    peer_back, peer_r = _timed(peer_read)
    assert len(peer_back) == len(frame)
    n = f"{len(frame):,} buildings"
    return [
        {
            "name": f"save a theme ({n}), {label}",
            "value": round(ours_w, 3),
            "unit": "s",
            "peer": f"{peer} write",
            "peer_value": round(peer_w, 3),
            "ratio": round(peer_w / ours_w, 2),
        },
        {
            "name": f"read a theme, first time ({n}), {label}",
            "value": round(ours_cold, 3),
            "unit": "s",
            "peer": f"{peer} read",
            "peer_value": round(peer_r, 3),
            "ratio": round(peer_r / ours_cold, 2),
        },
        {
            "name": f"read a theme again, unchanged ({n}), {label}",
            "value": round(ours_warm, 4),
            "unit": "s",
            "peer": f"{peer} read",
            "peer_value": round(peer_r, 3),
            "ratio": round(peer_r / max(ours_warm, 1e-6), 1),
        },
    ]


def run() -> list[dict]:
    os.environ["WORKBENCH_DATA_DIR"] = tempfile.mkdtemp(prefix="wb-bench-features-")
    os.environ.pop("WORKBENCH_DATABASE_URL", None)
    frames = [f for f in (_munich(), _synthetic()) if f is not None]
    from benchmarks.scratch_postgres import scratch_database
    from workbench.store import open_store

    rows: list[dict] = []
    store = open_store("bench", create=True)
    peer_file = os.path.join(os.environ["WORKBENCH_DATA_DIR"], "peer.parquet")
    for frame in frames:
        rows += _rows(
            "SQLite workspace (GeoParquet)",
            store.features,
            frame,
            lambda f=frame: f.to_parquet(peer_file, index=False),
            lambda: gpd.read_parquet(peer_file),
            "GeoParquet",
        )
    store.close()
    with scratch_database() as database:
        if database is None:
            return rows
        os.environ["WORKBENCH_DATABASE_URL"] = database
        try:
            store = open_store("bench", create=True)
            engine = store.engine
            for frame in frames:
                rows += _rows(
                    "PostgreSQL workspace (PostGIS)",
                    store.features,
                    frame,
                    lambda f=frame: f.to_postgis("peer_buildings", engine, if_exists="replace"),
                    lambda: gpd.read_postgis(
                        "SELECT * FROM peer_buildings", engine, geom_col="geometry"
                    ),
                    "geopandas to_postgis/read_postgis",
                )
            store.close()
        finally:
            os.environ.pop("WORKBENCH_DATABASE_URL", None)
    return rows
