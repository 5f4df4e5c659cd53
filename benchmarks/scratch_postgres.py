"""A scratch PostgreSQL/PostGIS database for a benchmark: copied from the tests' template,
dropped afterwards. The server: ``WORKBENCH_BENCH_DATABASE_URL``, else the tests'
``WORKBENCH_TEST_DATABASE_URL`` default; None when there is none (the benchmark then measures
SQLite only)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

DEFAULT = "postgresql+psycopg://workbench:workbench@127.0.0.1:5432/workbench_test"


@contextmanager
def scratch_database() -> Iterator[str | None]:
    """Yield the SQLAlchemy URL of a new database (None without a server)."""
    try:
        import psycopg

        from workbench.store.engine import postgres_url

        base = postgres_url(
            os.environ.get(
                "WORKBENCH_BENCH_DATABASE_URL",
                os.environ.get("WORKBENCH_TEST_DATABASE_URL", DEFAULT),
            )
        )
        admin = psycopg.connect(
            base.set(drivername="postgresql").render_as_string(hide_password=False),
            autocommit=True,
            connect_timeout=3,
        )
    except Exception as exc:  # noqa: BLE001 - no server: SQLite only
        print(f"benchmarks: no PostgreSQL ({exc}); SQLite only")
        yield None
        return
    name = f"wbbench_{uuid.uuid4().hex[:8]}"
    template = os.environ.get("WORKBENCH_TEST_TEMPLATE", "workbench_template")
    admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
