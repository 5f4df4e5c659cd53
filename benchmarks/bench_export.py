"""Time to export a living lab with 500 annotations and the OSM layers of Bayreuth north in each
format.

The lab is the demo lab in Bayreuth; the real extract ``../shared/geodata/germany_bayreuth_north
.osm.gz`` is imported into its OSM cache first (site + 500 m), so every export carries its
buildings, streets, green, water and land use (when the extract is missing the rows say so and
only the annotations are exported). The lab's indicators are computed before the timings (the
PDF's indicator page then reads them from the cache; ``bench_indicators`` times the engine).

Peer: the plain pipeline for the same features in the same run, without frame, legend, escaping or
numbering: ``GeoDataFrame.plot`` + ``savefig`` (PNG), ``folium.GeoJson(...).save`` (HTML),
``GeoDataFrame.to_file`` (GeoPackage, GeoJSON) and ``to_csv`` with WKT (CSV).
ratio = peer time ÷ our time (> 1: faster than the peer).
"""

from __future__ import annotations

import os
import random
import tempfile
import time
from pathlib import Path

N_ANNOTATIONS = 500
BAYREUTH = (
    Path(__file__).resolve().parents[1].parent
    / "shared"
    / "geodata"
    / "germany_bayreuth_north.osm.gz"
)


def _seed(lab_id: str):  # type: ignore[no-untyped-def]
    from shapely.geometry import LineString, Point

    from workbench.demo import ensure_demo
    from workbench.model import ANNOTATION_CATEGORIES, Annotation, new_id

    store = ensure_demo()
    lab = store.get_lab(lab_id) if lab_id else store.list_labs()[0]
    minx, miny, maxx, maxy = lab.boundary.bounds
    rnd = random.Random(7)
    for i in range(N_ANNOTATIONS):
        x, y = rnd.uniform(minx, maxx), rnd.uniform(miny, maxy)
        geom = [
            Point(x, y),
            LineString([(x, y), (x + 2e-4, y + 1e-4)]),
            Point(x, y).buffer(1e-4, quad_segs=4),
        ][i % 3]
        store.add_annotation(
            Annotation(
                id=new_id(),
                lab_id=lab.id,
                geometry=geom,
                category=ANNOTATION_CATEGORIES[i % 5],
                text=f"Note {i}: Grünfläche <b>fehlt</b> — вулиця",
                author=f"Group {i % 6}",
            )
        )
    return store, lab


def _timed(fn) -> float:  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def run() -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["WORKBENCH_DATA_DIR"] = tmp
        import geopandas as gpd
        import pandas as pd

        from workbench import export
        from workbench.export.web import chromium_available

        store, lab = _seed("67a05de9-1f0e-4ad9-81aa-a2e2a4d1a955")  # Bayreuth north
        what = f"{N_ANNOTATIONS} annotations"
        if BAYREUTH.exists():
            from workbench.opendata.osm import import_extract

            import_extract(store, BAYREUTH, lab)
        content = export.gather(store, lab.id)
        export.add_indicators(content)
        n_osm = sum(len(x.frame) for x in content.layers if x.kind == "osm")
        what += f" + {n_osm} OSM features" if n_osm else " (no Bayreuth extract: no OSM layers)"
        frame = gpd.GeoDataFrame(
            {
                "text": [n.annotation.text for n in content.annotations],
                "category": [n.annotation.category for n in content.annotations],
            },
            geometry=[n.annotation.geometry for n in content.annotations],
            crs=4326,
        )
        frame = pd.concat(
            [frame]
            + [
                gpd.GeoDataFrame(
                    {"category": x.name},
                    geometry=x.frame.geometry.values,
                    crs=4326,
                    index=range(len(x.frame)),
                )
                for x in content.layers
            ],
            ignore_index=True,
        )
        out = Path(tmp)

        def peer_png() -> None:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt

            ax = frame.to_crs(3857).plot(column="category", figsize=(16, 9))
            ax.figure.savefig(out / "peer.png", dpi=120)
            plt.close(ax.figure)

        def peer_html() -> None:
            import folium

            m = folium.Map(tiles=None)
            folium.GeoJson(frame.to_json()).add_to(m)
            m.save(out / "peer.html")

        peers = {
            "png": ("geopandas plot + savefig", peer_png),
            "html": ("folium.GeoJson + save", peer_html),
            "gpkg": (
                "GeoDataFrame.to_file GPKG",
                lambda: frame.to_file(out / "peer.gpkg", driver="GPKG"),
            ),
            "geojson": (
                "GeoDataFrame.to_file GeoJSON",
                lambda: frame.to_file(out / "peer.geojson", driver="GeoJSON"),
            ),
            "csv": (
                "to_csv with WKT",
                lambda: (
                    frame.assign(wkt=frame.geometry.to_wkt())
                    .drop(columns="geometry")
                    .to_csv(out / "p.csv")
                ),
            ),
        }
        rows = []
        browser = "Chromium" if chromium_available() is None else "static: no Chromium"
        jobs = [
            (f"png (slide, {browser}, first call)", "png", "auto"),
            (f"png (slide, {browser}, again)", "png", "auto"),
            ("png (slide, static)", "png", "static"),
            ("pdf (A4 sheet)", "pdf", "auto"),
            ("html", "html", None),
            ("gpkg", "gpkg", None),
            ("geojson", "geojson", None),
            ("csv", "csv", None),
        ]
        for label, fmt, renderer in jobs:
            ours = _timed(
                lambda fmt=fmt, renderer=renderer: export.export_bytes(
                    content, fmt, renderer=renderer or "auto"
                )
            )
            row = {"name": f"{label}, {what}", "value": ours, "unit": "s"}
            if fmt in peers and (fmt != "png" or renderer == "static"):
                peer_name, peer_fn = peers[fmt]
                peer = _timed(peer_fn)
                row.update(peer=peer_name, peer_value=peer, ratio=peer / ours)
            rows.append(row)
        store.close()
        return rows


if __name__ == "__main__":
    for r in run():
        print(r)
