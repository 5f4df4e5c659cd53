"""The demo workspace, seeded from the authored files in ``geodata/demo/``."""

from __future__ import annotations

import json
from pathlib import Path

from shapely.geometry import shape

from workbench.access import SYSTEM
from workbench.model import City, LivingLab, Network
from workbench.settings import DEMO_DIR, DEMO_WORKSPACE, database_url
from workbench.store import Store, open_store


def seed(store: Store, demo_dir: Path = DEMO_DIR) -> int:
    """Write the demo networks, cities and living labs into ``store``; returns the lab count.

    Seeding is idempotent: records already present (same id) are left as they are. It writes
    as the operator (``access.SYSTEM``), so it works in a passcode-protected workspace too.
    """
    data = json.loads((demo_dir / "networks.json").read_text(encoding="utf-8"))
    for n in data["networks"]:
        store.add_network(Network(id=n["id"], name=n["name"], countries=tuple(n["countries"]),
                                  description=n.get("description", "")), by=SYSTEM)
    for c in data["cities"]:
        store.add_city(City(id=c["id"], name=c["name"], country=c["country"], lon=c["lon"],
                            lat=c["lat"], network_ids=tuple(c["networks"]),
                            illustrative_only=bool(c.get("illustrative_only", False))), by=SYSTEM)
    sites = json.loads((demo_dir / "labs.geojson").read_text(encoding="utf-8"))
    for feature in sites["features"]:
        p = feature["properties"]
        store.add_lab(LivingLab(
            id=p["id"], city_id=p["city_id"], network_id=p["network_id"], title=p["title"],
            boundary=shape(feature["geometry"]), summary=p.get("summary", ""),
            themes=tuple(p.get("themes", ())), principles=tuple(p.get("principles", ())),
            sdg_targets=tuple(p.get("sdg_targets", ())), status=p.get("status", "planning"),
            illustrative=bool(p.get("illustrative", True))), by=SYSTEM)
    return len(sites["features"])


def ensure_demo() -> Store:
    """Open the demo workspace, seeding it on first start."""
    store = open_store(DEMO_WORKSPACE, create=True)
    if not store.list_networks():
        seed(store)
    return store


def open_workspace(name: str) -> Store:
    """The store of workspace ``name``: the demo is seeded on first use, any other must exist
    (``store.open_store``). What the pages and the live channel open."""
    return ensure_demo() if name == DEMO_WORKSPACE else open_store(name)


def reset_demo() -> Store:
    """Delete the demo workspace's database and seed it anew."""
    url = database_url(DEMO_WORKSPACE)
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
    store = open_store(DEMO_WORKSPACE, create=True)
    seed(store)
    return store
