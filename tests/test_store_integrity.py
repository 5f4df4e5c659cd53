"""The store's integrity against hostile files and hostile text (issue 15, items 4, 8, 9, 11):
crafted GeoPackage imports (traversal ids, CSS in colours, failures half way), categories carried
along, control characters, version conflicts of networks/cities/labs, a newer-schema file left
untouched, a full disk."""

from __future__ import annotations

import hashlib
import http.server
import json
import sqlite3
import threading
from dataclasses import replace
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
from shapely.geometry import Point

from tests.helpers import MUNICH_LAB
from workbench import export
from workbench.errors import ConflictError, SchemaError, StorageError, ValidationError
from workbench.i18n import t
from workbench.model import (
    Annotation,
    Category,
    Layer,
    clean_colour,
    isolate,
    new_id,
    strip_controls,
)
from workbench.settings import LANGUAGES, data_dir
from workbench.store import SCHEMA_VERSION, open_store

#: every store rule here must hold on SQLite and on PostgreSQL alike
pytestmark = pytest.mark.usefixtures("backend")


# ---- helpers ------------------------------------------------------------------------------------
@pytest.fixture
def beacon():
    """A local HTTP server that records every request it gets (nothing may reach it)."""
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.end_headers()

        def log_message(self, *args):  # type: ignore[no-untyped-def]
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", hits
    server.shutdown()
    server.server_close()


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()} if root.exists() else set()


def _exported(demo_store, tmp_path: Path, with_category: bool = False) -> tuple[Path, str]:
    """A demo lab with an uploaded layer (and a note in a workspace category), exported."""
    lab = demo_store.list_labs()[0]
    c = lab.boundary.centroid
    frame = gpd.GeoDataFrame({"name": ["Kiosk"]}, geometry=[Point(c.x, c.y)], crs=4326)
    layer_id = new_id()
    path = data_dir() / "uploads" / lab.id / f"{layer_id}.parquet"  # as older versions kept it
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(path, index=False)
    demo_store.add_layer(
        Layer(
            id=layer_id,
            lab_id=lab.id,
            name="Kiosks",
            kind="upload",
            style={"color": "#56B4E9"},
            path=path.relative_to(data_dir()).as_posix(),
            feature_count=1,
        )
    )
    category = "market"
    if with_category:
        demo_store.save_category(
            Category(code=category, colour="#F0E442", labels={"en": "Market", "de": "Markt"})
        )
    demo_store.add_annotation(
        Annotation(
            id=new_id(),
            lab_id=lab.id,
            geometry=Point(c.x, c.y),
            category=category if with_category else "idea",
            text="A market here",
            author="A",
        )
    )
    out = tmp_path / "lab.gpkg"
    out.write_bytes(export.export_lab(demo_store, lab.id, "gpkg"))
    return out, lab.id


def _rewrite(src: Path, dst: Path, **changes) -> Path:  # type: ignore[no-untyped-def]
    """A copy of an exported GeoPackage with some of its tables changed (name -> function)."""
    tables = export.read_geopackage(src)
    dst.unlink(missing_ok=True)
    for name, frame in tables.items():
        frame = changes.get(name, lambda f: f)(frame.copy())
        spatial = isinstance(frame, gpd.GeoDataFrame)
        pyogrio.write_dataframe(
            frame if spatial or not frame.empty else frame.astype(str),
            dst,
            layer=name,
            driver="GPKG",
            geometry_type="Unknown" if spatial else None,
        )
    return dst


def _set(column: str, value):  # type: ignore[no-untyped-def]
    def change(frame):  # type: ignore[no-untyped-def]
        frame[column] = value
        return frame

    return change


def _elsewhere(monkeypatch, tmp_path: Path) -> Path:
    """From now on, the data folder of another machine (the import's target)."""
    other = tmp_path / "elsewhere"
    monkeypatch.setenv("WORKBENCH_DATA_DIR", str(other))
    return other


def _only_workspace_files(root: Path) -> bool:
    return {p.relative_to(root).parts[0] for p in _files(root)} <= {"workspaces"}


def _state(store) -> tuple:  # type: ignore[no-untyped-def]
    return (
        store.list_networks(),
        store.list_cities(),
        store.list_labs(),
        [c.code for c in store.list_categories()],
    )


# ---- item 4: import -----------------------------------------------------------------------------
def test_traversal_layer_id_is_refused_and_writes_nothing(demo_store, tmp_path, monkeypatch):
    src, _ = _exported(demo_store, tmp_path)
    crafted = _rewrite(src, tmp_path / "crafted.gpkg", layers=_set("layer_id", "../../../evil"))
    before = _files(tmp_path)
    other = _elsewhere(monkeypatch, tmp_path)
    target = open_store("target", create=True)
    with pytest.raises(ValidationError) as err:
        export.import_geopackage(target, crafted)
    assert err.value.key == "integrity.bad_id"
    assert _state(target)[:3] == ([], [], [])  # the network, city and lab came before: gone
    assert _only_workspace_files(other)
    assert _files(tmp_path) - before == _files(other)
    assert not list(tmp_path.rglob("evil*"))
    for lang in LANGUAGES:
        assert "{" not in err.value.message(lang)
    target.close()


def test_cli_import_of_a_traversal_id_writes_nothing_outside(
    demo_store, tmp_path, monkeypatch, capsys
):
    from workbench import cli

    src, _ = _exported(demo_store, tmp_path)
    escape = tmp_path / "escaped"
    crafted = _rewrite(
        src, tmp_path / "crafted.gpkg", layers=_set("layer_id", f"../../../../../../{escape}/owned")
    )
    other = _elsewhere(monkeypatch, tmp_path)
    assert cli.main(["import", "--workspace", "target", str(crafted)]) == 2
    assert "not a valid identifier" in capsys.readouterr().err
    assert not escape.exists() and not list(tmp_path.rglob("owned*"))
    assert _only_workspace_files(other)


@pytest.mark.parametrize(
    "column,value",
    [("lab_id", "../x"), ("city_id", "/etc/passwd"), ("network_id", "'; DROP TABLE labs; --")],
)
def test_every_id_read_from_the_file_is_a_uuid(demo_store, tmp_path, column, value):
    src, _ = _exported(demo_store, tmp_path)
    crafted = _rewrite(src, tmp_path / "crafted.gpkg", site=_set(column, value))
    target = open_store("target", create=True)
    with pytest.raises(ValidationError) as err:
        export.import_geopackage(target, crafted)
    assert err.value.key == "integrity.bad_id"
    assert _state(target)[:3] == ([], [], [])
    target.close()


def test_css_in_a_style_colour_is_refused(demo_store, tmp_path, beacon):
    url, hits = beacon
    src, _ = _exported(demo_store, tmp_path)
    crafted = _rewrite(
        src,
        tmp_path / "crafted.gpkg",
        layers=_set("style", json.dumps({"color": f"red;background:url({url}/x)"})),
    )
    target = open_store("target", create=True)
    with pytest.raises(ValidationError) as err:
        export.import_geopackage(target, crafted)
    assert err.value.key == "integrity.bad_colour"
    assert _state(target)[:3] == ([], [], [])
    # the same colour through the store's other doors
    lab = demo_store.list_labs()[0]
    layer = demo_store.add_layer(Layer(id=new_id(), lab_id=lab.id, name="L", kind="upload"))
    for bad in (f"url({url}/x)", "#fff;x:y", "expression(alert(1))", "", None, 12):
        with pytest.raises(ValidationError):
            demo_store.update_layer_style(layer.id, {"color": bad})
        with pytest.raises(ValidationError):
            demo_store.save_category(Category(code="evil", colour=bad, labels={"en": "E"}))
    with pytest.raises(ValidationError) as err:
        demo_store.update_layer_style(layer.id, {"background": f"url({url}/x)"})
    assert err.value.key == "integrity.bad_style"
    assert demo_store.update_layer_style(layer.id, {"color": "#abc", "weight": 2}).style == {
        "color": "#abc",
        "weight": 2,
    }
    assert [clean_colour(c) for c in ("#abc", "#A0B1C2", "#a0b1c2ff")]
    assert hits == []
    target.close()


def test_a_failing_import_leaves_no_record_and_no_file(demo_store, tmp_path, monkeypatch):
    """The last row of the layers table is broken: everything before it (network, city, lab,
    notes, the first layer's file, the OSM theme) is rolled back and removed."""
    src, _ = _exported(demo_store, tmp_path)

    def broken_second(frame):  # type: ignore[no-untyped-def]
        extra = frame.iloc[[0]].copy()
        extra["layer_id"] = new_id()
        extra["style"] = json.dumps({"color": "javascript:alert(1)"})
        return pd.concat([frame, extra], ignore_index=True)

    crafted = _rewrite(src, tmp_path / "crafted.gpkg", layers=broken_second)
    demo_title = demo_store.list_labs()[0].title
    other = _elsewhere(monkeypatch, tmp_path)
    target = open_store("target", create=True)
    with pytest.raises(ValidationError) as err:
        export.import_geopackage(target, crafted)
    assert err.value.key == "integrity.bad_colour"
    assert _state(target)[:3] == ([], [], [])
    with target.read() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM annotations").scalar() == 0
        assert conn.exec_driver_sql("SELECT count(*) FROM layers").scalar() == 0
    assert _only_workspace_files(other)
    assert not [p for p in _files(other) if p.suffix == ".parquet"]  # no layer's features
    assert target.features.names("upload", demo_store.list_labs()[0].id) == []
    # the good file still imports afterwards, and that one does write the layer's features
    lab_id = export.import_geopackage(target, src)
    assert target.get_lab(lab_id).title == demo_title
    [layer] = target.list_layers(lab_id)
    assert target.features.names("upload", lab_id) == [layer.id]
    target.close()


def test_only_a_local_sqlite_geopackage_is_opened(store, tmp_path, beacon):
    url, hits = beacon
    vrt = tmp_path / "x.gpkg"
    vrt.write_text(
        f'<OGRVRTDataSource><OGRVRTLayer name="site"><SrcDataSource>'
        f"/vsicurl/{url}/v.csv</SrcDataSource></OGRVRTLayer></OGRVRTDataSource>"
    )
    shapefile_db = tmp_path / "plain.sqlite"
    sqlite3.connect(shapefile_db).executescript("CREATE TABLE site (lab_id TEXT);")
    for path in (vrt, shapefile_db, Path(f"/vsicurl/{url}/x.gpkg"), tmp_path / "missing.gpkg"):
        with pytest.raises(ValidationError) as err:
            export.import_geopackage(store, path)
        assert err.value.key == "export.import_unreadable"
    assert hits == []
    assert store.list_labs() == []


def test_reimport_carries_the_workspaces_own_categories(demo_store, tmp_path):
    src, lab_id = _exported(demo_store, tmp_path, with_category=True)
    target = open_store("target", create=True)
    assert "market" not in target.annotation_categories()
    assert export.import_geopackage(target, src) == lab_id
    [market] = [c for c in target.list_categories() if c.code == "market"]
    assert (market.colour, market.labels) == ("#F0E442", {"en": "Market", "de": "Markt"})
    assert [a.category for a in target.list_annotations(lab_id) if a.text == "A market here"] == [
        "market"
    ]
    # importing again changes nothing; a workspace's own category of that code is kept
    target.save_category(Category(code="market", colour="#000000", labels={"en": "Mine"}))
    export.import_geopackage(target, src)
    [market] = [c for c in target.list_categories() if c.code == "market"]
    assert market.colour == "#000000"
    target.close()


# ---- item 8: control characters ---------------------------------------------------------------
HOSTILE_NAME = "Park\x00hidden \x1b[31mred\x07 \u202egnp.exe\u202c \u2066x\u2069"


def test_control_characters_are_stripped_at_the_store(demo_store, tmp_path):
    lab = demo_store.list_labs()[0]
    city = demo_store.get_city(lab.city_id)
    net = demo_store.get_network(lab.network_id)
    saved = [
        demo_store.update_network(replace(net, name=HOSTILE_NAME, description=HOSTILE_NAME)),
        demo_store.update_city(replace(city, name=HOSTILE_NAME)),
        demo_store.update_lab(replace(lab, title=HOSTILE_NAME, summary="a\nb\tc\x1b\u202e")),
        demo_store.add_layer(
            Layer(
                id=new_id(),
                lab_id=lab.id,
                name=HOSTILE_NAME,
                kind="upload",
                attribution=HOSTILE_NAME,
            )
        ),
        demo_store.add_annotation(
            Annotation(
                id=new_id(),
                lab_id=lab.id,
                category="idea",
                geometry=lab.boundary.centroid,
                text="line 1\nline 2\x00\x1b\u202e",
                author=HOSTILE_NAME,
            )
        ),
    ]
    from workbench.model import Comment, Snapshot

    saved.append(demo_store.add_snapshot(Snapshot(id=new_id(), lab_id=lab.id, name=HOSTILE_NAME)))
    saved.append(
        demo_store.add_comment(
            Comment(id=new_id(), annotation_id=saved[4].id, author=HOSTILE_NAME, text=HOSTILE_NAME)
        )
    )
    saved.append(
        demo_store.save_category(
            Category(code="own", colour="#123456", labels={"en": HOSTILE_NAME})
        )
    )
    values = [json.dumps(s.__dict__, default=str, ensure_ascii=False) for s in saved]
    for text in values:
        for bad in (
            "\x00",
            "\x1b",
            "\x07",
            "\u202e",
            "\u202c",
            "\u2066",
            "\u2069",
            "\\u0000",
            "\\u001b",
        ):
            assert bad not in text
    assert demo_store.get_lab(lab.id).title == "Parkhidden [31mred gnp.exe x"
    assert demo_store.get_lab(lab.id).summary == "a\nb\tc"
    assert saved[4].text == "line 1\nline 2"
    # GeoPackage export keeps the whole name (NUL no longer truncates it)
    out = tmp_path / "x.gpkg"
    out.write_bytes(export.export_lab(demo_store, lab.id, "gpkg"))
    assert pyogrio.read_dataframe(out, layer="site")["title"][0] == "Parkhidden [31mred gnp.exe x"
    assert strip_controls("a\tb\nc") == "abc" and strip_controls("a\tb\n", True) == "a\tb\n"


def test_labs_output_isolates_user_text(demo_store, capsys):
    from workbench import cli

    lab = demo_store.list_labs()[0]
    demo_store.update_lab(replace(lab, title="\u05e9\u05dc\u05d5\u05dd \x1b]0;pwn\x07"))
    assert cli.main(["labs"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out
    line = next(x for x in out.splitlines() if x.startswith(lab.id))
    assert isolate("\u05e9\u05dc\u05d5\u05dd ]0;pwn") in line


def test_user_text_is_bidi_isolated_in_maps_and_exports(demo_store):
    """Right-to-left names stay inside their own run: ``<bdi>`` in HTML, FSI…PDI in plain text
    (the frame's subtitle, which the PNG and the HTML frame show)."""
    from workbench import maps
    from workbench.export.layout import frame_text, page_size
    from workbench.export.web import frame_html, html_document

    lab = demo_store.list_labs()[0]
    city = demo_store.update_city(
        replace(demo_store.get_city(lab.city_id), name="\u202e\u05d7\u05d9\u05e4\u05d4")
    )
    lab = demo_store.update_lab(replace(lab, title="\u0645\u062e\u062a\u0628\u0631"))
    assert city.name == "\u05d7\u05d9\u05e4\u05d4"  # the override itself is gone
    content = export.gather(demo_store, lab.id)
    ft = frame_text(content)
    assert ft.subtitle.startswith(isolate(city.name) + f" ({city.country})")
    frame = frame_html(content, page_size("slide"), "about:blank")
    assert f"<h1>{maps.bdi_text(lab.title)}</h1>" in frame
    assert isolate(city.name) in frame
    assert f">{maps.bdi_text(lab.title)}</div>" in html_document(content)
    overview = (
        maps.overview_map([lab], {city.id: city}, {n.id: n for n in demo_store.list_networks()})
        .get_root()
        .render()
    )
    assert f"<b>{maps.bdi_text(lab.title)}</b>" in overview
    note = demo_store.add_annotation(
        Annotation(
            id=new_id(),
            lab_id=lab.id,
            category="idea",
            geometry=lab.boundary.centroid,
            text="x",
            author="\u05e7\u05d1\u05d5\u05e6\u05d4",
        )
    )
    popup = maps.annotation_popup_html(note, "#0072B2", "Idee")
    assert isolate(note.author) in popup and "<bdi>Idee</bdi>" in popup


# ---- item 9: versions ---------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["network", "city", "lab"])
def test_stale_edit_of_network_city_lab_is_a_conflict(demo_store, kind):
    lab = demo_store.list_labs()[0]
    record, update, field = {
        "network": (demo_store.get_network(lab.network_id), demo_store.update_network, "name"),
        "city": (demo_store.get_city(lab.city_id), demo_store.update_city, "name"),
        "lab": (lab, demo_store.update_lab, "title"),
    }[kind]
    seen = record.version
    first = update(replace(record, **{field: "Edit of Anna"}), expected_version=seen)
    assert first.version == seen + 1
    with pytest.raises(ConflictError) as err:
        update(replace(record, **{field: "Edit of Ben"}), expected_version=seen)
    assert err.value.key == f"integrity.conflict_{kind}"
    assert err.value.current.version == seen + 1  # the record as it is now
    assert getattr(err.value.current, field) == "Edit of Anna"
    assert (
        getattr(
            {
                "network": demo_store.get_network,
                "city": demo_store.get_city,
                "lab": demo_store.get_lab,
            }[kind](record.id),
            field,
        )
        == "Edit of Anna"
    )
    for lang in LANGUAGES:
        assert str(seen + 1) in err.value.message(lang)
    # with the version now shown, Ben's edit goes through
    assert (
        update(replace(record, **{field: "Edit of Ben"}), expected_version=seen + 1).version
        == seen + 2
    )


def test_older_workspace_gets_versions(tmp_path):
    from sqlalchemy import create_engine

    from workbench.store.engine import migrate

    path = tmp_path / "old.sqlite"
    engine = create_engine(f"sqlite:///{path}")
    migrate(engine, target=4)
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO networks VALUES ('n', 'Net', '[]', '', '2026-01-01')")
    engine.dispose()
    store = open_store("old", f"sqlite:///{path}")
    assert store.version == SCHEMA_VERSION
    assert store.get_network("n").version == 1
    store.close()


# ---- item 11: newer schema, full disk ------------------------------------------------------------
def test_newer_schema_in_rollback_journal_mode_is_refused_untouched(tmp_path):
    path = tmp_path / "newer.sqlite"
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode = DELETE")
    db.executescript(f"""CREATE TABLE schema_version (version INTEGER NOT NULL);
        INSERT INTO schema_version VALUES ({SCHEMA_VERSION + 1});
        CREATE TABLE future (x TEXT);""")
    db.commit()
    db.close()
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(SchemaError) as err:
        open_store("newer", f"sqlite:///{path}")
    assert err.value.key == "store.schema_too_new"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["newer.sqlite"]
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "delete"


@pytest.mark.sqlite_only
def test_full_disk_is_the_stores_own_error_and_keeps_nothing(store):
    from sqlalchemy import event

    from workbench.model import Network

    with store.read() as conn:
        pages = conn.exec_driver_sql("PRAGMA page_count").scalar()

    @event.listens_for(store.engine, "connect")
    def _tiny(dbapi_conn, _record):  # type: ignore[no-untyped-def]
        dbapi_conn.execute(f"PRAGMA max_page_count = {pages}")

    store.engine.dispose()  # new connections get the limit
    with pytest.raises(StorageError) as err:
        store.add_network(
            Network(id=new_id(), name="Big", countries=("DE",), description="x" * 4900)
        )  # needs a new page
    assert err.value.key == "store.disk_full"
    assert store.list_networks() == []
    for lang in LANGUAGES:
        assert err.value.message(lang) == t("store.disk_full", lang)
        assert "{" not in err.value.message(lang)


def _newer_workspace(name: str) -> Path:
    from workbench.settings import workspaces_dir

    path = workspaces_dir() / f"{name}.sqlite"
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path)
    db.executescript(f"""CREATE TABLE schema_version (version INTEGER NOT NULL);
        INSERT INTO schema_version VALUES ({SCHEMA_VERSION + 1});""")
    db.commit()
    db.close()
    return path


@pytest.mark.sqlite_only
@pytest.mark.parametrize("lang", LANGUAGES)
def test_app_shows_the_stores_message_for_a_newer_workspace(lang):
    from streamlit.testing.v1 import AppTest

    path = _newer_workspace("future")
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    at = AppTest.from_file(
        str(Path(__file__).resolve().parent.parent / "app.py"), default_timeout=60
    )
    at.session_state["lang"] = lang
    at.session_state["workspace"] = "future"
    at.run()
    assert not at.exception
    expected = SchemaError(
        "store.schema_too_new", found=SCHEMA_VERSION + 1, supported=SCHEMA_VERSION
    ).message(lang)
    assert expected in [e.value for e in at.error]
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
    # the sidebar still offers the other workspaces
    assert at.sidebar.selectbox[1].options


def test_app_shows_the_stores_message_when_the_disk_is_full(monkeypatch):
    """A write no page catches (here: the demo's first opening) that meets a full disk."""
    from streamlit.testing.v1 import AppTest

    import workbench.store.base as base

    real = base.migrate

    def full(engine):  # type: ignore[no-untyped-def]
        raise StorageError("store.disk_full")

    monkeypatch.setattr(base, "migrate", full)
    at = AppTest.from_file(
        str(Path(__file__).resolve().parent.parent / "app.py"), default_timeout=60
    ).run()
    assert not at.exception
    assert t("store.disk_full", "en") in [e.value for e in at.error]
    monkeypatch.setattr(base, "migrate", real)


def test_setup_page_refuses_a_save_over_someone_elses_edit():
    from streamlit.testing.v1 import AppTest

    from workbench.demo import ensure_demo

    munich = MUNICH_LAB
    ensure_demo(on_purpose=True).close()
    at = AppTest.from_file(
        str(Path(__file__).resolve().parent.parent / "app.py"), default_timeout=60
    )
    at.session_state["lab_id"] = munich
    at.switch_page("pages/setup.py").run()
    assert not at.exception
    shown = ensure_demo(on_purpose=True).get_lab(munich)
    # meanwhile someone else saves the lab
    other = ensure_demo(on_purpose=True).update_lab(
        replace(shown, title="Edit of the other facilitator")
    )
    at.text_input[0].input("My edit")
    at.button(key="FormSubmitter:lab_form_edit-Save").click().run()
    assert not at.exception
    message = ConflictError("integrity.conflict_lab", version=other.version).message("en")
    assert message in [e.value for e in at.error]
    assert ensure_demo(on_purpose=True).get_lab(munich).title == "Edit of the other facilitator"
    # the page now shows the current lab; a save from there goes through
    assert at.text_input[0].value == "Edit of the other facilitator"
    at.text_input[0].input("My edit")
    at.button(key="FormSubmitter:lab_form_edit-Save").click().run()
    assert not at.exception and at.success, [e.value for e in at.error]
    assert ensure_demo(on_purpose=True).get_lab(munich).title == "My edit"
