"""The demo workspace, seeded from the authored files in ``geodata/demo/``.

It must not run on import: only the operator's code (``workbench demo``, ``workbench run``) and
the tests seed a workspace. It imports no Streamlit.
"""

from __future__ import annotations

import json
from pathlib import Path

from workbench.access import SYSTEM
from workbench.geometry import validate_boundary
from workbench.model import City, LivingLab, Network
from workbench.settings import DEMO_DIR, DEMO_WORKSPACE, configured_database
from workbench.store import Store, drop_workspace, open_store


def seed(store: Store, demo_dir: Path = DEMO_DIR) -> int:
    """Write the demo networks, cities and living labs into ``store``; returns the lab count.

    Seeding is idempotent: records already present (same id) are left as they are. It writes
    as the operator (``access.SYSTEM``), so it works in a passcode-protected workspace too.
    """
    data = json.loads((demo_dir / "networks.json").read_text(encoding="utf-8"))
    for n in data["networks"]:
        store.add_network(
            Network(
                id=n["id"],
                name=n["name"],
                countries=tuple(n["countries"]),
                description=n.get("description", ""),
            ),
            by=SYSTEM,
        )
    for c in data["cities"]:
        store.add_city(
            City(
                id=c["id"],
                name=c["name"],
                country=c["country"],
                lon=c["lon"],
                lat=c["lat"],
                network_ids=tuple(c["networks"]),
                illustrative_only=bool(c.get("illustrative_only", False)),
            ),
            by=SYSTEM,
        )
    sites = json.loads((demo_dir / "labs.geojson").read_text(encoding="utf-8"))
    for feature in sites["features"]:
        p = feature["properties"]
        store.add_lab(
            LivingLab(
                id=p["id"],
                city_id=p["city_id"],
                network_id=p["network_id"],
                title=p["title"],
                boundary=validate_boundary(feature["geometry"]),
                summary=p.get("summary", ""),
                themes=tuple(p.get("themes", ())),
                principles=tuple(p.get("principles", ())),
                sdg_targets=tuple(p.get("sdg_targets", ())),
                status=p.get("status", "planning"),
                illustrative=bool(p.get("illustrative", True)),
            ),
            by=SYSTEM,
        )
    return len(sites["features"])


def ensure_demo(on_purpose: bool = False) -> Store:
    """Open the demo workspace, seeding it on first start.

    Into a configured database (``WORKBENCH_DATABASE_URL``: a deployment's real data) the
    illustrative labs go only ``on_purpose`` (``workbench demo``); otherwise the workspace is
    opened as it is, empty on a new database."""
    store = open_store(DEMO_WORKSPACE, create=True)
    if (on_purpose or configured_database() is None) and not store.list_networks():
        seed(store)
    return store


def open_workspace(name: str) -> Store:
    """The store of workspace ``name``: the demo is opened (and seeded, see :func:`ensure_demo`)
    on first use, any other must exist (``store.open_store``). What the pages and the live
    channel open."""
    return ensure_demo() if name == DEMO_WORKSPACE else open_store(name)


def reset_demo() -> Store:
    """Delete the demo workspace's database (its file or its schema) and seed it anew."""
    drop_workspace(DEMO_WORKSPACE)
    store = open_store(DEMO_WORKSPACE, create=True)
    seed(store)
    return store
