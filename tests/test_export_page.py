"""AppTest of the export page: it renders, offers a download per format, saves snapshots."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tests.conftest import PROJECT_ROOT


def _page(lab_id: str | None, lang: str = "en") -> AppTest:
    from workbench.ui import _store

    _store.clear()  # the cached store may belong to an earlier test's data directory
    at = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=60)
    at.session_state["lang"] = lang
    if lab_id:
        at.session_state["lab_id"] = lab_id
    at.switch_page("pages/export.py")
    return at.run()


def test_page_asks_for_a_lab(demo_store):
    at = _page(None)
    assert not at.exception
    assert any("Choose a living lab" in i.value for i in at.info)


def test_page_renders_downloads_and_saves_snapshot(demo_store):
    lab = demo_store.list_labs()[0]
    german = _page(lab.id, "de")
    assert not german.exception
    assert german.title[0].value == "Karten und Daten exportieren"
    at = _page(lab.id)
    downloads = at.get("download_button")
    labels = [d.proto.label for d in downloads]
    assert any("GeoPackage" in label for label in labels) and len(downloads) == 7
    assert any("No snapshots" in i.value for i in at.info)
    at.text_input[0].set_value("Runde <b>1</b>")
    [save] = [b for b in at.button if b.label == "Save snapshot"]
    at = save.click().run()
    assert not at.exception
    assert not at.error, [e.value for e in at.error]
    assert [s.name for s in demo_store.list_snapshots(lab.id)] == ["Runde <b>1</b>"]
    # shown literally: the label's markdown is escaped (issue 15, item 7)
    assert any("Runde <b>1</b>" in e.proto.label.replace("\\", "") for e in at.expander)
    assert len(at.get("download_button")) == 7 + 4


def test_page_offers_cached_osm_themes_and_exports_the_chosen(demo_store):
    from tests.test_export import _cache_osm

    lab = demo_store.list_labs()[0]
    at = _page(lab.id)
    [choice] = at.multiselect
    assert choice.disabled and any("No OpenStreetMap layers" in c.value for c in at.caption)
    _cache_osm(demo_store, lab)
    at = _page(lab.id)
    [choice] = at.multiselect
    assert choice.label == "OpenStreetMap layers shown"
    assert choice.options == ["Buildings", "Streets (walkable network)"]
    assert choice.value == ["buildings", "streets"]
    at = choice.set_value(["streets"]).run()
    assert not at.exception
    # a snapshot keeps the chosen themes only (downloads get them too; AppTest cannot click one)
    [save] = [b for b in at.button if b.label == "Save snapshot"]
    assert not save.click().run().exception
    [snap] = demo_store.list_snapshots(lab.id)
    assert [x["id"] for x in snap.state["layers"]] == ["osm:streets"]
