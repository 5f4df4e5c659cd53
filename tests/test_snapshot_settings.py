"""A snapshot whose saved map settings cannot be read is drawn with the lab's current ones, and
says so: in its content's notes (so in every file exported from it) and on the export page
(issue 16: no swallowed errors)."""

from __future__ import annotations

import dataclasses
import json

import pytest

from workbench import export, mapview
from workbench.errors import ValidationError
from workbench.i18n import t
from workbench.mapview import MapSettings
from workbench.model import Snapshot, new_id
from workbench.store import Store


def _unreadable(store: Store, lab_id: str) -> Snapshot:
    """A stored snapshot whose ``map`` names a basemap the workbench does not offer."""
    snap = export.take_snapshot(store, lab_id, "Runde 1")
    bad = dataclasses.replace(
        snap, id=new_id(), state={**snap.state, "map": {"basemap": "no-such-map"}}
    )
    return store.add_snapshot(bad)


def test_unreadable_saved_settings_give_the_labs_current_ones_and_a_note(demo_store):
    lab = demo_store.list_labs()[0]
    mapview.save_map_settings(demo_store, lab.id, MapSettings(basemap="light"))
    snap = _unreadable(demo_store, lab.id)
    for lang in ("en", "de", "uk"):
        content = export.snapshot_content(demo_store, snap, lang)
        assert content.settings.basemap == "light"  # the lab's current settings
        reason = t("mapview.error.basemap", lang, value="no-such-map")
        note = t("export.note.snapshot_settings", lang, reason=reason)
        assert note in content.notes
    en = export.snapshot_content(demo_store, snap)
    assert any("could not be read" in n and "no-such-map" in n for n in en.notes)
    # the files exported from it carry the note too
    assert any("no-such-map" in n for n in json.loads(export.geojson_bytes(en))["notes"])
    with pytest.raises(ValidationError) as raised:  # what the page shows beside the snapshot
        export.snapshot_settings(snap)
    assert raised.value.key == "mapview.error.basemap"


def test_readable_saved_settings_give_no_note(demo_store):
    lab = demo_store.list_labs()[0]
    mapview.save_map_settings(demo_store, lab.id, MapSettings(basemap="topo"))
    snap = export.take_snapshot(demo_store, lab.id, "Runde 1")
    mapview.save_map_settings(demo_store, lab.id, MapSettings(basemap="light"))
    content = export.snapshot_content(demo_store, snap)
    assert content.settings.basemap == "topo"
    assert not any("could not be read" in n for n in content.notes)
    assert export.snapshot_settings(snap) == MapSettings(basemap="topo")
    # a snapshot made before map settings were kept: the lab's, without a note
    old = dataclasses.replace(snap, state={k: v for k, v in snap.state.items() if k != "map"})
    assert export.snapshot_settings(old) is None
    content = export.snapshot_content(demo_store, old)
    assert content.settings.basemap == "light"
    assert not any("could not be read" in n for n in content.notes)


def test_the_export_page_warns_beside_such_a_snapshot(demo_store):
    from tests.test_export_page import _page

    lab = demo_store.list_labs()[0]
    _unreadable(demo_store, lab.id)
    at = _page(lab.id)
    assert not at.exception
    warnings = [w.value.replace("\\", "") for w in at.warning]  # markdown escapes dropped
    assert any("could not be read" in w and "no-such-map" in w for w in warnings), warnings
    assert len(warnings) == 1  # the readable snapshot beside it has none
