"""Open geodata on the largest extract (Bayreuth north, OSM XML gzip, ~11 MB unpacked).

1. Import: ``opendata.osm.import_extract`` (osmium; all ten themes, streets split at shared
   nodes, clipped, written to the cache; best of two runs) against ``osmnx.features_from_xml`` on
   the same file with the same tags (features only: no splitting, clipping or writing).
   ratio = peer s ÷ our s.
2. Map: bytes and build time of a folium map with ``mapview.context_layers`` (display precision,
   popup property only) against ``GeoDataFrame.explore()`` of the features osmnx returned, and
   of our own cached features. ratio = our bytes ÷ peer bytes (smaller is
   better); for time peer ÷ ours.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

EXTRACT = "germany_bayreuth_north.osm.gz"


def _timed(fn, repeat: int = 2):  # type: ignore[no-untyped-def]
    """The result of ``fn`` and the best of ``repeat`` wall-clock times (the machine is shared)."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - started)
    return value, best


def run() -> list[dict]:
    os.environ["WORKBENCH_DATA_DIR"] = tempfile.mkdtemp(prefix="wb-bench-opendata-")
    import folium
    import geopandas as gpd
    import osmnx as ox
    import pandas as pd
    from shapely.geometry import box

    from workbench.mapview import context_layers
    from workbench.model import LivingLab
    from workbench.opendata import cache
    from workbench.opendata.osm import extract_bounds, import_extract
    from workbench.opendata.themes import THEMES, union_tags
    from workbench.settings import SHARED_GEODATA

    path = SHARED_GEODATA / EXTRACT
    if not path.exists():
        raise SystemExit(f"benchmark needs {path}")
    # a living lab covering the whole extract, so that both sides read every feature
    lab = LivingLab(
        id="bench-bayreuth",
        city_id="c",
        network_id="n",
        title="Bayreuth",
        boundary=box(*extract_bounds(path)),
    )
    from workbench.store import open_store

    store = open_store("bench", create=True)
    report, ours_s = _timed(lambda: import_extract(store, path, lab, buffer_m=0))
    ox.settings.use_cache = False
    ox.settings.log_console = False
    peer_gdf, peer_s = _timed(
        lambda: ox.features_from_xml(str(path), tags=union_tags(list(THEMES)))
    )
    rows = [
        {
            "name": "import Bayreuth (all themes)",
            "value": round(ours_s, 2),
            "unit": "s",
            "peer": "osmnx.features_from_xml",
            "peer_value": round(peer_s, 2),
            "ratio": round(peer_s / ours_s, 2),
        },
        {
            "name": "features imported",
            "value": report.total,
            "unit": "features",
            "peer": "osmnx features",
            "peer_value": len(peer_gdf),
            "ratio": None,
        },
    ]

    def our_map() -> str:
        m = folium.Map(location=(50.01, 11.54), zoom_start=13, tiles=None)
        for group in context_layers(store, lab.id):
            group.add_to(m)
        return m.get_root().render()

    ours_html, ours_map_s = _timed(our_map)
    peer_html, peer_map_s = _timed(lambda: peer_gdf.explore().get_root().render())
    ours_cached = pd.concat(
        [cache.load_theme(store, lab.id, c) for c in cache.cached_themes(store, lab.id)],
        ignore_index=True,
    )
    ours_cached = gpd.GeoDataFrame(ours_cached, geometry="geometry", crs=4326)
    own_html, own_map_s = _timed(lambda: ours_cached.explore().get_root().render())
    ours_mb = len(ours_html.encode()) / 1e6
    for label, html, secs in (
        ("explore() of osmnx features", peer_html, peer_map_s),
        ("explore() of our cached features", own_html, own_map_s),
    ):
        peer_mb = len(html.encode()) / 1e6
        rows.append(
            {
                "name": "map bytes",
                "value": round(ours_mb, 2),
                "unit": "MB",
                "peer": label,
                "peer_value": round(peer_mb, 2),
                "ratio": round(ours_mb / peer_mb, 3),
            }
        )
        rows.append(
            {
                "name": "map build + render",
                "value": round(ours_map_s, 2),
                "unit": "s",
                "peer": label,
                "peer_value": round(secs, 2),
                "ratio": round(secs / ours_map_s, 2),
            }
        )
    return rows


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    for row in run():
        print(row)
