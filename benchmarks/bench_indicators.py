"""Benchmark: the full indicator set for the demo Bayreuth living lab (~2 km²).

Ours: the extract is imported once into the OSM cache (``workbench.opendata.osm.import_extract``,
timed apart); then the indicators are computed cold (cache files read, graph built, all
figures) and cached (the stored result looked up again).

Peer, in the same run: a plain osmnx + networkx pipeline computing the same indicators from an
OSM XML cut of the site plus 500 m (the cut itself is prepared untimed, since osmnx cannot read
a clipped extract): ``features_from_xml`` + ``graph_from_xml``, then geopandas overlays,
``nearest_nodes``, ``multi_source_dijkstra_path_length`` per destination set,
``consolidate_intersections``, ``add_edge_bearings`` + ``orientation_entropy``.

Run: ``/work/venv/bin/python benchmarks/bench_indicators.py`` (or through ``benchmarks/run.py``).
"""

from __future__ import annotations

import math
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

LAB_ID = "67a05de9-1f0e-4ad9-81aa-a2e2a4d1a955"
EXTRACT = "germany_bayreuth_north.osm.gz"
BUFFER_M = 500
REPEATS = 3


def _cut_xml(src: Path, bbox: tuple[float, float, float, float], out: Path) -> None:
    """The extract's objects touching ``bbox`` (with every node they reference) as OSM XML."""
    import osmium

    x0, y0, x1, y1 = bbox
    inside = lambda loc: x0 <= loc.lon <= x1 and y0 <= loc.lat <= y1  # noqa: E731
    ways: set[int] = set()
    with osmium.BackReferenceWriter(str(out), ref_src=str(src), overwrite=True) as writer:
        for obj in osmium.FileProcessor(str(src)).with_locations():
            if obj.is_node():
                if inside(obj.location):
                    writer.add_node(obj)
            elif obj.is_way():
                if any(n.location.valid() and inside(n.location) for n in obj.nodes):
                    ways.add(obj.id)
                    writer.add_way(obj)
            elif obj.is_relation() and obj.tags.get("type") == "multipolygon":
                if any(m.type == "w" and m.ref in ways for m in obj.members):
                    writer.add_relation(obj)


def peer(xml: Path, boundary_wgs) -> dict[str, float]:  # noqa: C901 - one plain pipeline
    """The same indicators with osmnx + networkx, as a planner would script them."""
    import geopandas as gpd
    import networkx as nx
    import numpy as np
    import osmnx as ox
    import pandas as pd

    warnings.filterwarnings("ignore")
    walk = {
        "primary",
        "primary_link",
        "secondary",
        "secondary_link",
        "tertiary",
        "tertiary_link",
        "unclassified",
        "residential",
        "living_street",
        "service",
        "pedestrian",
        "footway",
        "path",
        "steps",
        "track",
        "cycleway",
        "bridleway",
        "road",
    }
    feats = ox.features_from_xml(str(xml))
    G = ox.graph_from_xml(str(xml), simplify=False, retain_all=True)
    drop = [
        (u, v, k)
        for u, v, k, d in G.edges(keys=True, data=True)
        if (d.get("highway") if isinstance(d.get("highway"), str) else "") not in walk
    ]
    G.remove_edges_from(drop)
    G.remove_nodes_from(list(nx.isolates(G)))
    G = ox.truncate.largest_component(G, strongly=False)
    nx.set_node_attributes(G, ox.stats.count_streets_per_node(G), "street_count")
    G = ox.simplify_graph(G)
    site_gs = gpd.GeoSeries([boundary_wgs], crs=4326)
    crs = site_gs.estimate_utm_crs()
    site = site_gs.to_crs(crs).iloc[0]
    area = site.area
    feats = feats.to_crs(crs)
    Gd = ox.project_graph(G, to_crs=crs)
    Gp = ox.convert.to_undirected(Gd)
    nodes, edges = ox.graph_to_gdfs(Gp)
    out: dict[str, float] = {}

    def col(name):
        return feats[name] if name in feats.columns else pd.Series(np.nan, index=feats.index)

    polys = feats[feats.geom_type.isin(["Polygon", "MultiPolygon"])]
    b = polys[
        polys.index.get_level_values(0).isin(["way", "relation"])
        & col("building").loc[polys.index].notna()
    ]
    out["gsi"] = gpd.clip(b, site).union_all().area / area
    pcol = lambda name: col(name).loc[polys.index]  # noqa: E731
    public = ~pcol("access").isin(["private", "no"])
    open_mask = (
        pcol("leisure").isin(["park", "playground", "garden", "common"])
        | pcol("landuse").isin(["recreation_ground", "village_green"])
    ) & public
    out["open_space_share"] = gpd.clip(polys[open_mask], site).union_all().area / area
    widths = {
        "primary": 14,
        "secondary": 12,
        "tertiary": 10,
        "residential": 8,
        "unclassified": 7,
        "living_street": 7,
        "service": 5,
        "pedestrian": 8,
        "footway": 2.5,
        "path": 2,
        "cycleway": 2.5,
        "steps": 2.5,
        "track": 3.5,
    }
    hw = edges["highway"].map(lambda h: h if isinstance(h, str) else h[0])
    buf = edges.geometry.buffer(hw.map(widths).fillna(6).to_numpy() / 2, cap_style="flat")
    out["street_area_share"] = buf.union_all().intersection(site).area / area
    # Residential footprints and green spaces.
    b_in = b[b.representative_point().within(site)]
    lu = polys[pcol("landuse").notna()]
    res_zone = lu[lu["landuse"] == "residential"].union_all()
    homes = b_in[
        b_in["building"].isin(
            [
                "house",
                "residential",
                "apartments",
                "detached",
                "semidetached_house",
                "terrace",
                "dormitory",
                "bungalow",
                "farm",
                "cabin",
                "static_caravan",
            ]
        )
        | (b_in["building"].isin(["yes"]) & b_in.representative_point().intersects(res_zone))
    ]
    w = homes.area.to_numpy()
    hp = homes.representative_point()
    green_mask = (
        pcol("leisure").isin(["park", "garden", "nature_reserve"])
        | pcol("landuse").isin(["recreation_ground", "village_green", "forest"])
        | (pcol("natural") == "wood")
    ) & public
    green = gpd.GeoSeries(polys[green_mask].union_all(), crs=crs).explode()
    green = green[green.area >= 5000]
    d = np.array([green.distance(p).min() if len(green) else np.inf for p in hp])
    out["green_300m"] = w[d <= 300].sum() / w.sum()
    home_nodes = ox.distance.nearest_nodes(Gp, hp.x.to_numpy(), hp.y.to_numpy())

    def reach(sources, cutoff):
        if not sources:
            return {}
        return nx.multi_source_dijkstra_path_length(
            Gp, set(sources), cutoff=cutoff, weight="length"
        )

    def entry_nodes(geoms):
        near = gpd.sjoin(
            nodes[["geometry"]], gpd.GeoDataFrame(geometry=geoms.buffer(30)), predicate="within"
        )
        pts = geoms.representative_point()
        return set(near.index) | set(
            ox.distance.nearest_nodes(Gp, pts.x.to_numpy(), pts.y.to_numpy())
        )

    lengths = reach(entry_nodes(green), 300)
    out["green_300m_walk"] = w[[n in lengths for n in home_nodes]].sum() / w.sum()
    pts_all = feats.copy()
    pts_all["geometry"] = feats.representative_point()

    def tagged(spec):
        m = pd.Series(False, index=pts_all.index)
        for key, values in spec.items():
            m |= col(key).isin(values)
        return pts_all[m].geometry

    bus = tagged(
        {
            "highway": ["bus_stop"],
            "public_transport": ["platform", "stop_position", "station"],
            "railway": ["tram_stop"],
            "amenity": ["bus_station"],
        }
    )
    rail = tagged(
        {"railway": ["station", "halt", "subway_entrance"], "amenity": ["ferry_terminal"]}
    )
    ok = np.zeros(len(homes), bool)
    for stops, cut in ((bus, 500), (rail, 1000)):
        if len(stops):
            r = reach(
                set(ox.distance.nearest_nodes(Gp, stops.x.to_numpy(), stops.y.to_numpy())), cut
            )
            ok |= np.array([n in r for n in home_nodes])
    out["transit_access"] = w[ok].sum() / w.sum()
    cats = {
        "food": {"shop": ["supermarket", "convenience", "bakery"]},
        "school": {"amenity": ["school", "kindergarten"]},
        "health": {"amenity": ["doctors", "clinic", "pharmacy"]},
        "eating": {"amenity": ["restaurant", "cafe"]},
        "culture": {"amenity": ["library", "community_centre"]},
        "bank_post": {"amenity": ["bank", "post_office"]},
        "transit": None,
    }
    c = site.centroid
    c_node = ox.distance.nearest_nodes(Gp, c.x, c.y)
    from_c = nx.single_source_dijkstra_path_length(Gp, c_node, cutoff=1200, weight="length")
    at_c, per_home = 0, np.zeros(len(homes))
    parks = polys[(pcol("leisure") == "park")]
    for cat, spec in list(cats.items()) + [("park", "park")]:
        if cat == "park":
            srcs = entry_nodes(parks.geometry) if len(parks) else set()
        else:
            geo = pd.concat([bus, rail]) if spec is None else tagged(spec)
            srcs = (
                set(ox.distance.nearest_nodes(Gp, geo.x.to_numpy(), geo.y.to_numpy()))
                if len(geo)
                else set()
            )
            in_site = geo[geo.within(site)]
            out[f"amenity_{cat}"] = len(in_site) / (area / 1e6)
        if not srcs:
            continue
        at_c += any(s in from_c for s in srcs)
        r = reach(srcs, 1200)
        per_home += np.array([n in r for n in home_nodes])
    out["fifteen_min_centroid"] = at_c
    out["fifteen_min_mean"] = float(np.average(per_home, weights=w))
    # Street network.
    in_site = gpd.clip(edges, site)
    out["street_density"] = in_site.length.sum() / 1000 / (area / 1e6)
    Gc = ox.consolidate_intersections(Gd, tolerance=12, rebuild_graph=False, dead_ends=False)
    out["intersection_density"] = int(Gc.within(site).sum()) / (area / 1e6)
    Gs = G.subgraph(nodes.index[nodes.geometry.within(site)]).copy()
    Gs = ox.bearing.add_edge_bearings(Gs)
    h = ox.bearing.orientation_entropy(ox.convert.to_undirected(Gs), num_bins=36, weight="length")
    out["orientation_order"] = 1 - ((h - math.log(4)) / (math.log(36) - math.log(4))) ** 2
    # Land-use mix.
    lu_in = gpd.clip(lu, site)
    shares = lu_in.area.groupby(lu_in["landuse"]).sum()
    p = shares / shares.sum()
    out["landuse_mix"] = float(-(p * np.log(p)).sum() / math.log(len(p))) if len(p) > 1 else 0.0
    return out


def run() -> list[dict]:
    os.environ.setdefault("WORKBENCH_DATA_DIR", tempfile.mkdtemp(prefix="wb-bench-"))
    from shapely.geometry import box

    from workbench import indicators as ind
    from workbench.demo import ensure_demo
    from workbench.opendata.osm import import_extract
    from workbench.settings import SHARED_GEODATA

    src = SHARED_GEODATA / EXTRACT
    store = ensure_demo()
    lab = store.get_lab(LAB_ID)
    t0 = time.perf_counter()
    import_extract(store, src, lab, buffer_m=BUFFER_M)
    import_s = time.perf_counter() - t0

    cold, cached = [], []
    result = None
    for _ in range(REPEATS):
        # a new boundary-independent cold run: drop memory and disk results
        ind.clear_memory_cache()
        for f in (ind.cache_dir() / "indicators").rglob("*.json"):
            f.unlink()
        t0 = time.perf_counter()
        result = ind.lab_indicators(store, lab)
        cold.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        ind.lab_indicators(store, lab)
        cached.append(time.perf_counter() - t0)
    ind.clear_memory_cache()
    t0 = time.perf_counter()
    ind.lab_indicators(store, lab)
    disk_s = time.perf_counter() - t0

    # Peer: cut the extract to the site + 500 m (untimed), then the osmnx pipeline (timed).
    from workbench.geometry import WGS84, local_crs, to_crs

    crs = local_crs(lab.boundary)
    area = to_crs(to_crs(lab.boundary, crs).buffer(BUFFER_M), WGS84, src=crs)
    with tempfile.TemporaryDirectory() as tmp:
        xml = Path(tmp) / "cut.osm"
        _cut_xml(src, box(*area.bounds).bounds, xml)
        peer_times, peer_values = [], {}
        for _ in range(max(1, REPEATS - 1)):
            t0 = time.perf_counter()
            peer_values = peer(xml, lab.boundary)
            peer_times.append(time.perf_counter() - t0)

    ours_cold = statistics.median(cold)
    peer_s = statistics.median(peer_times)
    rows = [
        {
            "name": "indicators: import extract into the cache (once per data version)",
            "value": round(import_s, 3),
            "unit": "s",
            "peer": "",
            "peer_value": None,
            "ratio": None,
        },
        {
            "name": "indicators: full set, cold (read cache, build graph, compute)",
            "value": round(ours_cold, 3),
            "unit": "s",
            "peer": "osmnx + networkx pipeline",
            "peer_value": round(peer_s, 3),
            "ratio": round(peer_s / ours_cold, 1),
        },
        {
            "name": "indicators: full set, cold incl. import",
            "value": round(ours_cold + import_s, 3),
            "unit": "s",
            "peer": "osmnx + networkx pipeline",
            "peer_value": round(peer_s, 3),
            "ratio": round(peer_s / (ours_cold + import_s), 1),
        },
        {
            "name": "indicators: cached (memory)",
            "value": round(1000 * min(cached), 3),
            "unit": "ms",
            "peer": "osmnx + networkx pipeline",
            "peer_value": round(1000 * peer_s),
            "ratio": round(peer_s / min(cached)),
        },
        {
            "name": "indicators: cached (disk, memory cleared)",
            "value": round(1000 * disk_s, 3),
            "unit": "ms",
            "peer": "",
            "peer_value": None,
            "ratio": None,
        },
    ]
    assert result is not None
    for code, peer_value in sorted(peer_values.items()):
        mine = result.get(code).value
        rows.append(
            {
                "name": f"value {code}",
                "value": None if mine is None else round(mine, 4),
                "unit": result.get(code).unit,
                "peer": "osmnx value",
                "peer_value": round(float(peer_value), 4),
                "ratio": None,
            }
        )
    return rows


if __name__ == "__main__":
    for row in run():
        ratio = "" if row["ratio"] is None else f"  ({row['ratio']}×)"
        peer_txt = "" if row["peer_value"] is None else f"  peer {row['peer_value']}"
        print(f"{row['name']:70s} {row['value']} {row['unit']}{peer_txt}{ratio}")
