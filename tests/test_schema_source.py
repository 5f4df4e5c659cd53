"""One schema source: a database built by the migrations (``store.schema.MIGRATIONS``) has exactly
the tables, columns, types, nullability and keys of the ``Table`` metadata the queries use, on
SQLite and on PostgreSQL (every workspace a schema of its own there).

A table the migrations create without a ``Table`` object must be listed in ``SQL_ONLY`` with the
reason, so a new table written in SQL alone fails here until someone says why.
"""

from __future__ import annotations

from typing import Any

import pytest
from geoalchemy2 import Geometry
from sqlalchemy import Connection, Engine, inspect, text
from sqlalchemy import types as sqltypes
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.engine.interfaces import ReflectedColumn
from sqlalchemy.engine.reflection import Inspector
from sqlalchemy.exc import IntegrityError

from workbench.store.engine import workspace_schema
from workbench.store.schema import metadata

pytestmark = pytest.mark.usefixtures("backend")

#: Tables the migrations make that have no ``Table`` object, by dialect, and why.
SQL_ONLY: dict[str, dict[str, str]] = {
    "sqlite": {
        "schema_version": "the migrations' own record (engine.schema_version), never queried",
    },
    "postgresql": {
        "schema_version": "the migrations' own record (engine.schema_version), never queried",
        # migration 10: the feature sets of a PostgreSQL workspace (SQLite keeps GeoParquet
        # files); store/features.py reads and writes them in SQL (COPY, jsonb, ST_AsBinary)
        "layer_sets": "feature-set versions of store.features (PostgreSQL only), SQL there",
        "layer_features": "features of store.features (PostgreSQL only), SQL there",
    },
}

#: Views the migrations make (QGIS reads them; nothing in the workbench queries them).
VIEWS: dict[str, set[str]] = {
    "sqlite": {"live_annotations"},  # migration 8
    "postgresql": {"live_annotations", "osm_layers", "uploaded_layers"},  # migrations 8 and 10
}


def _kind(type_: sqltypes.TypeEngine[Any], dialect: Dialect) -> str:
    """What a column holds, as the database stores it: the ``Table``'s type through the
    dialect (``store.types``' decorators are text, integer, timestamptz, jsonb, boolean or
    geometry by dialect), or a reflected type. Widths are one kind (INTEGER and BIGINT, TEXT and
    VARCHAR, REAL and DOUBLE PRECISION)."""
    if isinstance(type_, sqltypes.TypeDecorator):
        type_ = type_.load_dialect_impl(dialect)
    if isinstance(type_, Geometry):
        return f"geometry({type_.geometry_type}, {type_.srid})"
    if isinstance(type_, sqltypes.DateTime):
        return "timestamptz" if type_.timezone else "timestamp"
    if isinstance(type_, postgresql.JSONB):
        return "jsonb"
    if isinstance(type_, sqltypes.JSON):
        return "json"
    kinds: tuple[tuple[type[sqltypes.TypeEngine[Any]], str], ...] = (
        (sqltypes.Boolean, "boolean"),
        (sqltypes.Float, "float"),
        (sqltypes.Integer, "integer"),
        (sqltypes.String, "text"),
    )
    for cls, name in kinds:
        if isinstance(type_, cls):
            return name
    return repr(type_)  # an unknown type: shown as it is, equal to nothing expected


def _reflected(inspector: Inspector, table: str, schema: str | None) -> dict[str, ReflectedColumn]:
    return {c["name"]: c for c in inspector.get_columns(table, schema=schema)}


#: A foreign key as compared: (columns, referred table, referred columns, ON DELETE).
ForeignKey = tuple[tuple[str, ...], str, tuple[str, ...], str]


def _foreign_keys(conn: Connection, table: str, schema: str | None) -> set[ForeignKey]:
    """The foreign keys of ``table`` in the database. SQLite through its own pragma:
    SQLAlchemy's reflection reads ON DELETE only from table-level FOREIGN KEY clauses, and the
    migrations write column-level REFERENCES."""
    if conn.dialect.name == "sqlite":
        by_id: dict[int, list[Any]] = {}
        for row in conn.execute(text(f"PRAGMA foreign_key_list({table})")):
            by_id.setdefault(row.id, []).append(row)
        return {
            (
                tuple(r._mapping["from"] for r in rows),
                rows[0].table,
                tuple(r.to for r in rows),
                rows[0].on_delete.upper(),
            )
            for rows in (sorted(rs, key=lambda r: r.seq) for rs in by_id.values())
        }
    return {
        (
            tuple(fk["constrained_columns"]),
            fk["referred_table"],
            tuple(fk["referred_columns"]),
            (fk.get("options", {}).get("ondelete") or "NO ACTION").upper(),
        )
        for fk in inspect(conn).get_foreign_keys(table, schema=schema)
    }


def _workspace(store: Any) -> tuple[Engine, str | None]:
    return store.engine, workspace_schema(store.engine)


def test_the_migrated_database_has_the_tables_of_the_metadata_and_no_other(store):
    engine, schema = _workspace(store)
    dialect = engine.dialect.name
    with engine.connect() as conn:
        inspector = inspect(conn)
        tables = set(inspector.get_table_names(schema=schema))
        views = set(inspector.get_view_names(schema=schema))
    expected = set(metadata.tables)
    sql_only = set(SQL_ONLY[dialect])
    assert not expected & sql_only, "a table listed as SQL-only has a Table object now"
    assert tables - sql_only == expected, (
        f"tables the migrations make but the metadata lacks: "
        f"{sorted(tables - expected - sql_only)}; "
        f"tables of the metadata no migration makes: {sorted(expected - tables)}"
    )
    assert sql_only <= tables, "an SQL-only table is listed that is not there"
    assert views == VIEWS[dialect]


def test_every_column_has_the_type_and_nullability_of_the_metadata(store):
    engine, schema = _workspace(store)
    dialect = engine.dialect
    problems: list[str] = []
    with engine.connect() as conn:
        inspector = inspect(conn)
        for name, table in metadata.tables.items():
            found = _reflected(inspector, name, schema)
            # the same columns; their order may differ (ADD COLUMN appends)
            if {c.name for c in table.columns} != set(found):
                problems.append(
                    f"{name}: columns {sorted(found)} in the database, "
                    f"{sorted(c.name for c in table.columns)} in the metadata"
                )
                continue
            for column in table.columns:
                got = found[column.name]
                want_kind, got_kind = _kind(column.type, dialect), _kind(got["type"], dialect)
                if want_kind != got_kind:
                    problems.append(f"{name}.{column.name}: {got_kind}, metadata {want_kind}")
                if bool(got["nullable"]) != bool(column.nullable):
                    problems.append(
                        f"{name}.{column.name}: "
                        f"{'NULL' if got['nullable'] else 'NOT NULL'} in the database, "
                        f"{'NULL' if column.nullable else 'NOT NULL'} in the metadata"
                    )
    assert not problems, "\n".join(problems)


def test_every_table_has_the_keys_of_the_metadata(store):
    engine, schema = _workspace(store)
    problems: list[str] = []
    with engine.connect() as conn:
        inspector = inspect(conn)
        for name, table in metadata.tables.items():
            pk = inspector.get_pk_constraint(name, schema=schema)["constrained_columns"]
            if sorted(pk) != sorted(c.name for c in table.primary_key.columns):
                problems.append(f"{name}: primary key {pk}, metadata {table.primary_key.columns}")
            got_fks = _foreign_keys(conn, name, schema)
            want_fks = {
                (
                    tuple(c.name for c in fk.columns),
                    fk.referred_table.name,
                    tuple(e.column.name for e in fk.elements),
                    (fk.ondelete or "NO ACTION").upper(),
                )
                for fk in table.foreign_key_constraints
            }
            if got_fks != want_fks:
                problems.append(
                    f"{name}: foreign keys {sorted(got_fks)} in the database, "
                    f"{sorted(want_fks)} in the metadata"
                )
            got_unique = {
                tuple(sorted(u["column_names"]))
                for u in inspector.get_unique_constraints(name, schema=schema)
            }
            want_unique = {(c.name,) for c in table.columns if c.unique}
            if got_unique != want_unique:
                problems.append(
                    f"{name}: unique constraints {sorted(got_unique)} in the database, "
                    f"{sorted(want_unique)} in the metadata"
                )
    assert not problems, "\n".join(problems)


def _fill(store: Any) -> None:
    """A row in every table migration 11 builds again (the demo has the labs and notes)."""
    from shapely.geometry import Point

    from tests.helpers import MUNICH_LAB, OWNER
    from workbench.access import GROUP_COLOURS, SYSTEM
    from workbench.model import Annotation, Category, Comment, Layer, Snapshot, Vote, new_id

    store.set_passcode("owner", "a long passcode", by=SYSTEM)
    store.set_member_role("someone@example.org", "facilitator", by=OWNER)
    store.count_code_attempt("client-1")
    store.save_category(Category(code="tree", colour="#009e73", labels={"en": "Tree"}), by=OWNER)
    store.add_snapshot(Snapshot(id=new_id(), lab_id=MUNICH_LAB, name="Before"), by=OWNER)
    store.add_layer(Layer(id=new_id(), lab_id=MUNICH_LAB, name="Trees", kind="upload"), by=OWNER)
    session = store.create_session(MUNICH_LAB, "Workshop", by=OWNER)
    member, _token = store.join_session(
        store.join_token(session.id), "Group A", GROUP_COLOURS["blue"]
    )
    note = store.add_annotation(
        Annotation(
            id=new_id(),
            lab_id=MUNICH_LAB,
            geometry=Point(11.5531, 48.1862),
            category="idea",
            text="A bench here",
            author="Group A",
        ),
        by=member,
    )
    store.add_comment(
        Comment(id=new_id(), annotation_id=note.id, author="Group A", text="yes"), by=member
    )
    store.start_round(session.id, "vote", by=OWNER)
    store.cast_vote(Vote(id=new_id(), annotation_id=note.id, voter="Group A"), by=member)


def _rows(conn: Connection) -> dict[str, list[tuple[Any, ...]]]:
    return {
        name: sorted(tuple(r) for r in conn.exec_driver_sql(f"SELECT * FROM {name}"))
        for name in metadata.tables
    }


@pytest.mark.sqlite_only
def test_migration_11_keeps_every_row_and_key_and_refuses_a_null_id(demo_store, tmp_path):
    """A workspace of schema 10 (the demo with a workshop), upgraded: every row as it was, the
    foreign keys still cascading, and a text primary key that no longer takes NULL."""
    import sqlite3

    from tests.helpers import MUNICH_LAB, OWNER
    from workbench.store import Store
    from workbench.store.engine import make_engine, migrate
    from workbench.store.schema import _V11_SQLITE_TABLES, SCHEMA_VERSION

    _fill(demo_store)
    with demo_store.read() as conn:
        before = _rows(conn)
    empty = [name for name, _, _ in _V11_SQLITE_TABLES if not before[name]]
    assert not empty, f"tables built again without a row to keep: {empty}"
    source = demo_store.engine.url.database
    old = tmp_path / "v10.sqlite"
    engine = make_engine(f"sqlite:///{old}")
    assert migrate(engine, target=10) == 10
    engine.dispose()
    with sqlite3.connect(old) as raw:  # the same rows in a database of schema 10
        raw.execute("PRAGMA foreign_keys = OFF")
        raw.execute("ATTACH DATABASE ? AS src", (source,))
        for name in before:
            raw.execute(f"INSERT INTO {name} SELECT * FROM src.{name}")
        raw.commit()
        raw.execute("DETACH DATABASE src")
        raw.execute(
            "INSERT INTO networks (id, name, countries, created_at) VALUES (NULL, 'x', '[]', '')"
        )
        raw.execute("DELETE FROM networks WHERE id IS NULL")  # schema 10 took a NULL id
    upgraded = Store(f"sqlite:///{old}")
    try:
        assert upgraded.version == SCHEMA_VERSION
        with upgraded.read() as conn:
            assert _rows(conn) == before
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA foreign_key_check").all() == []
            assert conn.exec_driver_sql("SELECT count(*) FROM live_annotations").scalar() > 0
        with pytest.raises(IntegrityError, match="NOT NULL"), upgraded.write() as conn:
            conn.exec_driver_sql(
                "INSERT INTO networks (id, name, countries, created_at)"
                " VALUES (NULL, 'x', '[]', '')"
            )
        of_munich = ("annotations", "annotation_votes", "layers", "snapshots", "workshop_sessions")

        def munich_rows() -> list[int]:
            with upgraded.read() as conn:
                return [
                    conn.execute(
                        text(f"SELECT count(*) FROM {name} WHERE lab_id = :lab"),
                        {"lab": MUNICH_LAB},
                    ).scalar_one()
                    for name in of_munich
                ]

        assert all(munich_rows())
        upgraded.delete_lab(MUNICH_LAB, by=OWNER)  # ON DELETE CASCADE holds on the new tables
        assert munich_rows() == [0] * len(of_munich)
        with upgraded.read() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_key_check").all() == []
    finally:
        upgraded.close()


@pytest.mark.sqlite_only
def test_an_upgrade_that_finds_broken_keys_is_refused_whole(tmp_path):
    """A schema-10 file holding a comment on a note that does not exist (foreign keys are enforced
    by the workbench, but a file may have been edited by hand): the upgrade says so with its
    own message and leaves the file at schema 10, the comment still in it."""
    import sqlite3

    from workbench.errors import SchemaError
    from workbench.store.engine import make_engine, migrate

    old = tmp_path / "v10.sqlite"
    engine = make_engine(f"sqlite:///{old}")
    assert migrate(engine, target=10) == 10
    engine.dispose()
    with sqlite3.connect(old) as raw:
        raw.execute("PRAGMA foreign_keys = OFF")
        raw.execute(
            "INSERT INTO annotation_comments (id, annotation_id, author, text, created_at)"
            " VALUES ('c1', 'no-such-note', 'g', 'x', '2026-01-01T00:00:00')"
        )
    engine = make_engine(f"sqlite:///{old}")
    try:
        with pytest.raises(SchemaError) as caught:
            migrate(engine)
        assert caught.value.key == "store.upgrade_broken_keys"
        assert caught.value.params["table"] == "annotation_comments"
    finally:
        engine.dispose()
    with sqlite3.connect(old) as raw:
        assert raw.execute("SELECT max(version) FROM schema_version").fetchone() == (10,)
        assert raw.execute("SELECT id FROM annotation_comments").fetchall() == [("c1",)]
