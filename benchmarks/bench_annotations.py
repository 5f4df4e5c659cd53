"""Annotation map and store: build time and HTML bytes of the annotation layer for 100, 1,000 and
5,000 annotations against ``GeoDataFrame.explore()`` of the same annotations, the live
channel's deltas against the periodic map refresh they replaced, and store writes per second
against plain sqlite3 inserts.

Ratios follow ``benchmarks/run.py``: durations peer / ours (> 1: faster than the peer),
bytes ours / peer (< 1: smaller)."""

from __future__ import annotations

import os
import random
import sqlite3
import tempfile
import time
from pathlib import Path

import geopandas as gpd
from shapely.geometry import LineString, Point, Polygon
from shapely.geometry.base import BaseGeometry

from workbench import maps
from workbench.live import changes_since
from workbench.model import ANNOTATION_CATEGORIES, Annotation, new_id, utcnow

SIZES = (100, 1000, 5000)
WRITES = 300
LAB = "e6dccaee-317d-4c62-995e-99f99acfc2b5"  # demo: Munich, Milbertshofen
WORDS = (
    "shade",
    "bench",
    "crossing",
    "parking",
    "market",
    "tram",
    "trees",
    "noise",
    "school",
    "light",
    "bike",
    "square",
    "rent",
    "shops",
    "flooding",
    "playground",
)


def make_annotations(n: int, seed: int = 1) -> list[Annotation]:
    """A site's worth of annotations: 60 % points, 20 % lines, 20 % areas, short texts."""
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        x, y = 11.546 + rnd.random() * 0.011, 48.182 + rnd.random() * 0.007
        kind = i % 5
        geom: BaseGeometry
        if kind < 3:
            geom = Point(x, y)
        elif kind == 3:
            geom = LineString([(x, y), (x + 0.0008, y + 0.0003), (x + 0.0012, y - 0.0002)])
        else:
            d = 0.0003
            geom = Polygon([(x, y), (x + d, y), (x + d, y + d), (x + d / 2, y + 1.4 * d)])
        text = " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(5, 40)))
        out.append(
            Annotation(
                id=new_id(),
                lab_id=LAB,
                geometry=geom,
                category=ANNOTATION_CATEGORIES[i % 5],
                text=text,
                author=f"Group {i % 7 + 1}",
                created_at=utcnow(),
            )
        )
    return out


def _timed(fn):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def ours(annotations: list[Annotation]) -> tuple[float, int]:
    """Build the annotation layer on the base map and render the HTML, as the page and the
    export do."""

    def build() -> str:
        m = maps.base_map()
        maps.annotation_layer(annotations, votes={a.id: 1 for a in annotations[::3]}).add_to(m)
        return m.get_root().render()

    seconds, html = _timed(build)
    return seconds, len(html.encode())


def peer(annotations: list[Annotation]) -> tuple[float, int]:
    """The same annotations drawn with ``GeoDataFrame.explore()`` (tooltips and popups)."""

    def build() -> str:
        gdf = gpd.GeoDataFrame(
            {
                "category": [a.category for a in annotations],
                "text": [a.text for a in annotations],
                "author": [a.author for a in annotations],
                "created": [a.created_at.isoformat() for a in annotations],
            },
            geometry=[a.geometry for a in annotations],
            crs="EPSG:4326",
        )
        m = gdf.explore(
            column="category",
            # the geopandas stubs type tooltip/popup as bool; explore() takes a list of columns too
            tooltip=["category", "text"],  # type: ignore[arg-type]
            popup=["category", "text", "author", "created"],  # type: ignore[arg-type]
        )
        return m.get_root().render()

    seconds, html = _timed(build)
    return seconds, len(html.encode())


def writes_per_second(tmp: Path) -> tuple[float, float]:
    """Our ``add_annotation`` (validation, history, WAL, BEGIN IMMEDIATE) against plain sqlite3
    inserts of the same rows, one transaction each."""
    os.environ["WORKBENCH_DATA_DIR"] = str(tmp)
    from workbench.demo import ensure_demo

    store = ensure_demo()
    notes = make_annotations(WRITES, seed=2)
    seconds, _ = _timed(lambda: [store.add_annotation(a) for a in notes])
    store.close()
    ours_rate = WRITES / seconds

    conn = sqlite3.connect(tmp / "plain.sqlite", isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute(
        "CREATE TABLE a (id TEXT PRIMARY KEY, lab_id TEXT, wkt TEXT, category TEXT, "
        "text TEXT, author TEXT, created_at TEXT)"
    )

    def plain() -> None:
        for a in notes:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(
                "INSERT INTO a VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    a.id,
                    a.lab_id,
                    a.geometry.wkt,
                    a.category,
                    a.text,
                    a.author,
                    a.created_at.isoformat(),
                ),
            )
            conn.execute("COMMIT")

    peer_seconds, _ = _timed(plain)
    conn.close()
    return ours_rate, WRITES / peer_seconds


def refresh_seconds(tmp: Path, n: int = 1000) -> tuple[float, float, float]:
    """With ``n`` annotations: the live channel's full state (``changes_since(0)``, what a
    page gets when it connects) and its delta after one edit, against one periodic refresh of
    the former polling map (read the notes, vote and comment counts, build and render the
    feature group that the page handed to st_folium every 3 s)."""
    os.environ["WORKBENCH_DATA_DIR"] = str(tmp)
    from workbench.demo import ensure_demo

    store = ensure_demo()
    for a in make_annotations(n, seed=3):
        store.add_annotation(a)

    def cycle() -> str:
        notes = store.list_annotations(LAB)
        layer = maps.annotation_layer(
            notes, votes=store.vote_totals(LAB), comments=store.comment_counts(LAB)
        )
        m = maps.base_map()
        layer.add_to(m)
        return m.get_root().render()

    cycle()  # warm
    seconds, _ = _timed(cycle)
    changes_since(store, LAB, 0)  # warm, as the refresh was
    full, _ = _timed(lambda: changes_since(store, LAB, 0))
    note = store.list_annotations(LAB)[0]
    before = store.lab_revision(LAB)
    store.update_annotation(note.id, name="", expected_version=note.version, text="edited")
    one, _ = _timed(lambda: changes_since(store, LAB, before))
    store.close()
    return full, one, seconds


def run() -> list[dict]:
    rows: list[dict] = []
    for n in SIZES:
        notes = make_annotations(n)
        ours(notes[:10])  # warm imports and templates (both pipelines)
        peer(notes[:10])
        t_ours, b_ours = ours(notes)
        t_peer, b_peer = peer(notes)
        rows.append(
            {
                "name": f"annotation map build, {n:,} annotations",
                "value": t_ours,
                "unit": "s",
                "peer": "GeoDataFrame.explore()",
                "peer_value": t_peer,
                "ratio": t_peer / t_ours,
            }
        )
        rows.append(
            {
                "name": f"annotation map HTML, {n:,} annotations",
                "value": b_ours / 1e6,
                "unit": "MB",
                "peer": "GeoDataFrame.explore()",
                "peer_value": b_peer / 1e6,
                "ratio": b_ours / b_peer,
            }
        )
    old = os.environ.get("WORKBENCH_DATA_DIR")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            rate, plain_rate = writes_per_second(Path(tmp))
        rows.append(
            {
                "name": f"store writes ({WRITES} add_annotation, one process)",
                "value": rate,
                "unit": "writes/s",
                "peer": "plain sqlite3 INSERT",
                "peer_value": plain_rate,
                "ratio": rate / plain_rate,
            }
        )
        with tempfile.TemporaryDirectory() as tmp:
            full, one, refresh = refresh_seconds(Path(tmp))
        peer_name = "polling map refresh (read + build + render)"
        rows.append(
            {
                "name": "live full state, 1,000 annotations (changes_since 0)",
                "value": full,
                "unit": "s",
                "peer": peer_name,
                "peer_value": refresh,
                "ratio": refresh / full,
            }
        )
        rows.append(
            {
                "name": "live delta after one edit, 1,000 annotations",
                "value": one,
                "unit": "s",
                "peer": peer_name,
                "peer_value": refresh,
                "ratio": refresh / one,
            }
        )
    finally:
        if old is None:
            os.environ.pop("WORKBENCH_DATA_DIR", None)
        else:
            os.environ["WORKBENCH_DATA_DIR"] = old
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
