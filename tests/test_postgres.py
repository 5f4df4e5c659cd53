"""PostgreSQL/PostGIS as a deployment's one database: real types, every workspace a schema,
the demo only on purpose, announcements of every commit, QGIS (through GDAL) reading the
workshop, an old database upgraded, a newer one refused untouched, an unreachable one named."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from shapely.geometry import Point
from sqlalchemy import text

from tests.helpers import MUNICH_LAB
from workbench.access import SYSTEM
from workbench.errors import SchemaError, StorageError
from workbench.model import Annotation, new_id

MUNICH = MUNICH_LAB


def _note(store, text_: str = "A bench here") -> Annotation:  # type: ignore[no-untyped-def]
    return store.add_annotation(
        Annotation(
            id=new_id(),
            lab_id=MUNICH,
            geometry=Point(11.5531, 48.1862),
            category="idea",
            text=text_,
            author="Group A",
        ),
        by=SYSTEM,
    )


def _psql(url: str):  # type: ignore[no-untyped-def]
    import psycopg

    from workbench.store.engine import postgres_url

    return psycopg.connect(
        postgres_url(url).set(drivername="postgresql").render_as_string(hide_password=False),
        autocommit=True,
    )


def test_columns_have_real_types_indexes_and_checks(pg_url):
    from workbench.demo import ensure_demo

    store = ensure_demo(on_purpose=True)
    note = _note(store)
    with _psql(pg_url) as conn:
        types = dict(
            conn.execute(
                "SELECT table_name || '.' || column_name, udt_name FROM information_schema.columns"
                " WHERE table_schema = 'wb_demo'"
            ).fetchall()
        )
        assert types["annotations.geom"] == types["labs.boundary"] == "geometry"
        assert (
            types["annotations.created_at"] == types["workshop_rounds.started_at"] == "timestamptz"
        )
        assert types["labs.themes"] == types["lab_settings.value"] == "jsonb"
        assert types["annotations.hidden"] == types["cities.illustrative_only"] == "bool"
        assert types["cities.lon"] == types["annotations.minx"] == "float8"
        srids = dict(
            conn.execute(
                "SELECT f_table_name, srid FROM geometry_columns WHERE f_table_schema = 'wb_demo'"
            ).fetchall()
        )
        assert srids == {
            "annotations": 4326,
            "labs": 4326,
            "live_annotations": 4326,
            "layer_features": 4326,  # the OSM themes and uploads (store.features)
            "osm_layers": 4326,
            "uploaded_layers": 4326,
        }
        gist = {
            r[0]
            for r in conn.execute(
                "SELECT indexname FROM pg_indexes WHERE schemaname = 'wb_demo' "
                "AND indexdef LIKE '%USING gist%'"
            )
        }
        assert gist == {"annotations_geom", "labs_boundary", "layer_features_geom"}
        # the database keeps its rules even against SQL that bypasses the store
        with pytest.raises(Exception, match="workshop_rounds_kind"):
            conn.execute(
                "INSERT INTO wb_demo.workshop_sessions (id, lab_id, title, status, "
                "created_at, expires_at) VALUES ('s', %s, 'W', 'active', now(), "
                "now() + interval '1 hour')",
                (MUNICH,),
            )
            conn.execute(
                "INSERT INTO wb_demo.workshop_rounds (id, session_id, number, kind, "
                "status, started_at) VALUES ('r', 's', 1, 'party', 'running', now())"
            )
        with pytest.raises(Exception, match="workshop_sessions_one_active"):
            conn.execute(
                "INSERT INTO wb_demo.workshop_sessions (id, lab_id, title, status, "
                "created_at, expires_at) VALUES ('s2', %s, 'W', 'active', now(), "
                "now() + interval '1 hour')",
                (MUNICH,),
            )
        stored = conn.execute(
            "SELECT ST_AsText(geom), ST_SRID(geom), minx FROM wb_demo.annotations WHERE id = %s",
            (note.id,),
        ).fetchone()
    assert stored == ("POINT(11.5531 48.1862)", 4326, 11.5531)  # double precision, not float4
    again = store.get_annotation(note.id)  # and the store reads back what it wrote
    assert again.geometry.equals(note.geometry) and again.created_at == note.created_at
    with _psql(pg_url) as conn:  # a jsonb array in the database, the same tuple in Python
        themes = conn.execute(
            "SELECT themes FROM wb_demo.labs WHERE id = %s", (MUNICH,)
        ).fetchone()[0]
    assert themes == list(store.get_lab(MUNICH).themes) and themes


def test_every_workspace_is_a_schema_listed_and_created_from_the_cli(pg_url, data_dir, capsys):
    from workbench import cli
    from workbench.hosting import create_workspace
    from workbench.store import list_workspaces, open_store, workspace_exists

    assert list_workspaces() == []
    create_workspace("berlin-2027", "", None, "127.0.0.1").close()
    open_store("kharkiv", create=True).close()
    assert list_workspaces() == ["berlin-2027", "kharkiv"]
    assert workspace_exists("berlin-2027") and not workspace_exists("nowhere")
    assert (
        not list((data_dir / "workspaces").glob("*.sqlite"))
        if (data_dir / "workspaces").exists()
        else True
    )  # no SQLite file anywhere
    assert cli.main(["workspaces"]) == 0
    out = capsys.readouterr().out
    assert "berlin-2027" in out and "kharkiv" in out
    with _psql(pg_url) as conn:
        schemas = {
            r[0]
            for r in conn.execute(
                "SELECT schema_name FROM information_schema.schemata"
                " WHERE schema_name LIKE 'wb\\_%'"
            )
        }
    assert schemas == {"wb_berlin-2027", "wb_kharkiv"}


def test_the_demo_goes_into_a_configured_database_only_on_purpose(pg_url, capsys):
    from workbench import cli
    from workbench.demo import ensure_demo, open_workspace

    assert open_workspace("demo").list_labs() == []  # the app's first contact seeds nothing
    assert ensure_demo().list_labs() == []
    assert cli.main(["demo"]) == 0  # on purpose
    assert len(open_workspace("demo").list_labs()) == 9
    store = open_workspace("demo")
    _note(store)
    assert cli.main(["demo", "--reset"]) == 0  # reset: the schema dropped and seeded anew
    assert open_workspace("demo").list_annotations(MUNICH) == []


def test_each_commit_is_announced_and_a_rolled_back_write_is_not(pg_url):
    from workbench.demo import ensure_demo
    from workbench.store.revision import NOTIFY_CHANNEL, QGIS_CHANNEL

    store = ensure_demo(on_purpose=True)
    with _psql(pg_url) as listener:
        listener.execute(f"LISTEN {NOTIFY_CHANNEL}")
        listener.execute(f"LISTEN {QGIS_CHANNEL}")
        note = _note(store)
        with pytest.raises(RuntimeError), store.write() as conn:
            from workbench.store.revision import bump_revision

            bump_revision(conn, MUNICH)
            raise RuntimeError("rolled back")
        heard = [(n.channel, n.payload) for n in listener.notifies(timeout=1.0)]
    revision = store.lab_revisions([MUNICH])[MUNICH]
    assert heard == [
        (NOTIFY_CHANNEL, f"wb_demo|{MUNICH}|{revision}"),
        (QGIS_CHANNEL, f"wb_demo|{MUNICH}|{revision}"),
    ]
    assert store.get_annotation(note.id).text == "A bench here"


@pytest.mark.skipif(shutil.which("ogrinfo") is None, reason="GDAL's ogrinfo is not installed")
def test_ogrinfo_lists_the_live_annotations_in_epsg_4326(pg_url):
    from workbench.demo import ensure_demo
    from workbench.store.engine import postgres_url

    store = ensure_demo(on_purpose=True)
    kept = [_note(store, f"note {i}") for i in range(3)]
    gone = _note(store, "deleted")
    store.delete_annotation(gone.id, name="Group A", by=SYSTEM)
    u = postgres_url(pg_url)
    source = (
        f"PG:host={u.host} port={u.port or 5432} dbname={u.database} user={u.username} "
        f"password={u.password} schemas=wb_demo"
    )
    listing = subprocess.run(
        ["ogrinfo", "-ro", "-q", source], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    assert {"annotations", "labs", "live_annotations"} <= {
        line.split(":", 1)[1].split("(")[0].strip() for line in listing.splitlines() if ":" in line
    }
    info = subprocess.run(
        ["ogrinfo", "-ro", "-so", source, "live_annotations"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert f"Feature Count: {len(kept)}" in info  # the deleted note is not in the view
    assert 'ID["EPSG",4326]' in info
    extent = re.search(r"Extent: \(([-\d.]+), ([-\d.]+)\)", info)
    assert extent and (float(extent[1]), float(extent[2])) == pytest.approx((11.5531, 48.1862))
    # the cached OSM themes too, as one EPSG:4326 layer (issue 11: no files beside the database)
    import geopandas as gpd
    import shapely

    from workbench.opendata.cache import save_theme

    lab = store.list_labs()[0]
    c = lab.boundary.centroid
    save_theme(
        store,
        lab.id,
        "schools",
        gpd.GeoDataFrame(
            {"osm_id": ["node/1", "node/2"], "name": ["A", "B"]},
            geometry=[shapely.Point(c.x, c.y), shapely.Point(c.x + 0.001, c.y)],
            crs=4326,
        ),
        {"fetched_at": "2026-01-01", "source": "test"},
        by=SYSTEM,
    )
    info = subprocess.run(
        ["ogrinfo", "-ro", "-so", source, "osm_layers"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert "Feature Count: 2" in info and 'ID["EPSG",4326]' in info


def test_a_database_of_schema_7_in_public_is_upgraded_not_wiped(pg_url):
    """Until schema 8 the demo workspace lived in ``public`` with text columns."""
    from workbench.demo import ensure_demo
    from workbench.store.engine import make_engine, migrate

    old = make_engine(pg_url)  # no workspace schema: ``public``, as the old version did
    assert migrate(old, target=7) == 7
    with old.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO networks (id, name, countries, created_at) VALUES "
                "('n', 'Net', '[\"DE\"]', '2026-01-01T00:00:00+00:00');"
                "INSERT INTO cities (id, name, country, lon, lat) VALUES ('c', 'München', 'DE', "
                "11.57, 48.14);"
                "INSERT INTO labs (id, city_id, network_id, title, boundary_wkt, created_at, "
                "updated_at) VALUES ('l', 'c', 'n', 'Lab', 'POLYGON ((11.55 48.18, 11.56 48.18, "
                "11.56 48.19, 11.55 48.18))', '2026-01-01T00:00:00+00:00', "
                "'2026-01-01T00:00:00+00:00');"
                "INSERT INTO annotations (id, lab_id, geom_wkt, geom_type, minx, miny, maxx, maxy, "
                "category, text, author, created_at, updated_at, hidden) VALUES ('a', 'l', "
                "'POINT (11.555 48.185)', 'Point', 11.555, 48.185, 11.555, 48.185, 'idea', "
                "'old note', 'G', '2026-01-01T00:00:00+00:00', '2026-01-01T00:00:00+00:00', 0)"
            )
        )
    old.dispose()
    store = ensure_demo()  # what `workbench run` and the pages open first
    assert [lab.id for lab in store.list_labs()] == ["l"]  # adopted, nothing seeded over it
    assert store.get_annotation("a").text == "old note"
    assert store.get_lab("l").boundary.area > 0
    with _psql(pg_url) as conn:
        left = conn.execute(
            "SELECT count(*) FROM information_schema.tables "
            "WHERE table_schema = 'public' AND table_name = 'annotations'"
        )
        assert left.fetchone()[0] == 0  # moved into wb_demo, not copied
        assert (
            conn.execute("SELECT max(version) FROM wb_demo.schema_version").fetchone()[0]
            == store.version
        )


def test_a_newer_schema_is_refused_untouched(pg_url):
    from workbench.store import open_store

    open_store("future", create=True).close()
    with _psql(pg_url) as conn:
        conn.execute('INSERT INTO "wb_future".schema_version VALUES (99)')
        before = conn.execute(
            "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'wb_future'"
        ).fetchone()
    with pytest.raises(SchemaError) as err:
        open_store("future")
    assert err.value.key == "store.schema_too_new"
    with _psql(pg_url) as conn:
        assert (
            conn.execute(
                "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'wb_future'"
            ).fetchone()
            == before
        )


@pytest.mark.parametrize("problem", ["port", "password"])
def test_an_unreachable_database_is_one_clear_message(pg_url, monkeypatch, problem):
    from workbench.i18n import t
    from workbench.store import Store
    from workbench.store.engine import postgres_url

    u = postgres_url(pg_url)
    bad = u.set(port=1) if problem == "port" else u.set(password="wrong")
    with pytest.raises(StorageError) as err:
        Store(bad.render_as_string(hide_password=False))
    assert err.value.key == "store.unreachable"
    message = err.value.message("de")
    assert f"{u.host}:{bad.port or 5432}/{u.database}" in message
    assert "wrong" not in message and "workbench:" not in message  # never the password
    assert message != t("store.unreachable", "de")  # the host filled in


@pytest.mark.parametrize("lang", ["en", "de", "uk"])
def test_the_app_names_an_unreachable_database_instead_of_a_traceback(pg_url, monkeypatch, lang):
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    from workbench.i18n import t
    from workbench.store.engine import postgres_url

    u = postgres_url(pg_url).set(port=1)
    monkeypatch.setenv("WORKBENCH_DATABASE_URL", u.render_as_string(hide_password=False))
    at = AppTest.from_file(
        str(Path(__file__).resolve().parent.parent / "app.py"), default_timeout=60
    )
    at.query_params["lang"] = lang
    at.run()
    assert not at.exception
    shown = " ".join(e.value for e in at.error).replace("\\", "")  # shown markdown-escaped
    assert t("store.unreachable", lang, host=f"{u.host}:1/{u.database}") in shown


def test_a_lost_connection_fails_one_action_and_the_next_connects_again(pg_url):
    """The server drops the store's connections mid-workshop (a restart, a network cut): the
    next action connects again by itself, and what was acknowledged before is all there."""
    from workbench.demo import ensure_demo

    store = ensure_demo(on_purpose=True)
    before = _note(store, "acknowledged before the cut")
    with _psql(pg_url) as admin:
        cut = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchone()[0]
    assert cut >= 1  # the store's pooled connection was among them
    after = _note(store, "written after the cut")  # pre-ping: a fresh connection
    assert [a.id for a in store.list_annotations(MUNICH)] == [before.id, after.id]


@pytest.mark.usefixtures("backend")
@pytest.mark.parametrize("value", ["a plain string", 3, 2.5, True, None, [1, "x"], {"k": "ü"}])
def test_any_json_value_comes_back_as_it_was_written(store, value):
    """jsonb hands back parsed values; the store gives the same as SQLite's text (a null
    reads as unset on both)."""
    from workbench.demo import seed

    seed(store)
    store.set_lab_setting(MUNICH, "probe", value, by=SYSTEM)
    assert store.lab_setting(MUNICH, "probe", "default") == ("default" if value is None else value)
