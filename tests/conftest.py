"""Shared fixtures: every test gets its own data directory, so nothing touches a real workspace."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from workbench.settings import SHARED_GEODATA

PROJECT_ROOT = Path(__file__).resolve().parent.parent


#: every message the tests meet must exist and fill (``workbench.i18n.STRICT_ENV``); set for the
#: whole run, so servers the browser tests start inherit it
os.environ["WORKBENCH_I18N_STRICT"] = "1"


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "data"
    monkeypatch.setenv("WORKBENCH_DATA_DIR", str(path))
    monkeypatch.delenv("WORKBENCH_DATABASE_URL", raising=False)
    monkeypatch.delenv("WORKBENCH_CACHE_DIR", raising=False)
    return path


@pytest.fixture(autouse=True)
def _served_on_this_machine_only():
    """Pages run as under `workbench run` without --host: bound to loopback (open set-up, see
    workbench.hosting). Tests of a server reachable from elsewhere set server.address again."""
    from streamlit import config

    before = config.get_option("server.address")
    config.set_option("server.address", "127.0.0.1")
    yield
    config.set_option("server.address", before)


@pytest.fixture
def store():
    from workbench.store import open_store

    s = open_store("test", create=True)
    yield s
    s.close()


@pytest.fixture
def demo_store():
    from workbench.demo import ensure_demo

    s = ensure_demo(on_purpose=True)  # seeded also into a configured (PostgreSQL) database
    yield s
    s.close()


def shared_geodata(name: str) -> Path:
    """Path of an extract in ../shared/geodata; skips (or fails in CI) when it is missing."""
    path = SHARED_GEODATA / name
    if not path.exists():
        reason = f"real-data test needs {path} (the shared OSM extracts beside the project)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return path


@pytest.fixture(autouse=True)
def _pages_left_to_st_navigation(monkeypatch):
    """AppTest decides anew on every run whether pages/ is Streamlit's old multipage folder (it
    is not: app.py navigates with st.navigation); decide it as `workbench run` does."""
    from streamlit.runtime.pages_manager import PagesManager

    original = PagesManager.__init__

    def init(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        original(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    monkeypatch.setattr(PagesManager, "__init__", init)


# ---- both databases -------------------------------------------------------------------------
#: Where the PostgreSQL/PostGIS half of the suite connects: a role that may create databases,
#: and a template database with PostGIS (``scripts/test_postgres.sh`` makes both; `.ci/run`
#: runs it).
TEST_DATABASE_URL = os.environ.get(
    "WORKBENCH_TEST_DATABASE_URL",
    "postgresql+psycopg://workbench:workbench@127.0.0.1:5432/workbench_test",
)
TEST_TEMPLATE = os.environ.get("WORKBENCH_TEST_TEMPLATE", "workbench_template")
_pg_state: dict[str, object] = {}


def _pg_admin():  # type: ignore[no-untyped-def]
    """An autocommit psycopg connection for creating and dropping test databases, or the reason
    there is none."""
    if "reason" in _pg_state:
        return None
    try:
        import psycopg

        from workbench.store.engine import postgres_url

        url = postgres_url(TEST_DATABASE_URL)
        conn = psycopg.connect(
            url.set(drivername="postgresql").render_as_string(hide_password=False),
            autocommit=True,
            connect_timeout=3,
        )
        if (
            conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (TEST_TEMPLATE,)
            ).fetchone()
            is None
        ):
            raise RuntimeError(f"template database {TEST_TEMPLATE} is missing")
        return conn
    except Exception as exc:  # noqa: BLE001 - any reason means: no PostgreSQL here
        _pg_state["reason"] = f"{type(exc).__name__}: {exc}".splitlines()[0]
        return None


def postgres_database() -> str:
    """A new, empty PostgreSQL/PostGIS database for one test, as a store URL base; skipped
    without a server (failed in CI, where `.ci/run` starts one)."""
    import uuid

    admin = _pg_admin()
    if admin is None:
        reason = (
            "PostgreSQL tests need a server at WORKBENCH_TEST_DATABASE_URL "
            f"({_pg_state['reason']}); scripts/test_postgres.sh starts one"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    import time

    import psycopg

    name = f"wbtest_{uuid.uuid4().hex[:12]}"
    for attempt in range(50):  # a template is copied by one CREATE DATABASE at a time
        try:
            admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{TEST_TEMPLATE}"')
            break
        except psycopg.errors.ObjectInUse:
            time.sleep(0.1 + attempt * 0.02)
    admin.close()
    from workbench.store.engine import postgres_url

    return postgres_url(TEST_DATABASE_URL).set(database=name).render_as_string(hide_password=False)


def drop_postgres_database(url: str) -> None:
    import time

    import psycopg
    from sqlalchemy.engine import make_url

    admin = _pg_admin()
    if admin is None:
        return
    for attempt in range(20):  # autovacuum may be at work in it for a moment
        try:
            admin.execute(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')
            break
        except (psycopg.errors.InsufficientPrivilege, psycopg.errors.ObjectInUse):
            time.sleep(0.2 + attempt * 0.1)
    admin.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request, monkeypatch, data_dir) -> str:
    """Runs a test once on SQLite files and once on a fresh PostgreSQL/PostGIS database
    (``WORKBENCH_DATABASE_URL``: every workspace a schema there). Modules whose store rules must
    hold on both use it with ``pytestmark = pytest.mark.usefixtures("backend")``; a test about
    SQLite files only is marked ``sqlite_only``."""
    if request.param == "postgresql":
        if request.node.get_closest_marker("sqlite_only"):
            pytest.skip("about SQLite files")
        url = postgres_database()
        monkeypatch.setenv("WORKBENCH_DATABASE_URL", url)
        request.addfinalizer(lambda: _drop_after(url))
    return request.param


def _drop_after(url: str) -> None:
    from workbench.store import _catalog_engines

    for engine in _catalog_engines.values():
        engine.dispose()
    _catalog_engines.clear()
    drop_postgres_database(url)


@pytest.fixture
def pg_url(request, monkeypatch, data_dir) -> str:
    """A fresh PostgreSQL/PostGIS database configured as ``WORKBENCH_DATABASE_URL``, for tests
    about PostgreSQL itself (skipped without a server, failed in CI)."""
    url = postgres_database()
    monkeypatch.setenv("WORKBENCH_DATABASE_URL", url)
    request.addfinalizer(lambda: _drop_after(url))
    return url
