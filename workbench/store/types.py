"""Column types that keep one Python face on both databases.

The store's code reads and writes plain values: WKT strings for geometry, ISO 8601 strings for
times, JSON text, 0/1 for flags. SQLite stores them as they are. On PostgreSQL the columns are
real types — ``geometry(Geometry, 4326)`` through GeoAlchemy2, ``timestamptz``, ``jsonb`` and
``boolean`` (migration 8) — and these decorators convert at the boundary, so a query written once
runs on both and QGIS sees real spatial layers.

It must not hold queries or rules: only the conversion of values at the column boundary.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Boolean, Integer, Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

#: Every geometry the workbench stores is in this reference system (WGS 84 lon/lat).
SRID = 4326


def _postgres(dialect: Dialect | None) -> bool:
    return dialect is not None and dialect.name == "postgresql"


class Geom(TypeDecorator[str]):
    """A geometry as WKT text (SQLite) or ``geometry(Geometry, 4326)`` (PostgreSQL)."""

    impl = Text
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if _postgres(dialect):
            from geoalchemy2 import Geometry

            return dialect.type_descriptor(Geometry("GEOMETRY", srid=SRID, spatial_index=False))
        return dialect.type_descriptor(Text())

    def process_bind_param(self, value: str | None, dialect: Dialect) -> object:
        if value is not None and _postgres(dialect):
            from geoalchemy2 import WKTElement

            return WKTElement(value, srid=SRID)
        return value

    def process_result_value(self, value: object, dialect: Dialect) -> str | None:
        if value is None or isinstance(value, str):
            return value
        import shapely

        # the driver's WKB (bytes or memoryview), as GeoAlchemy2's WKBElement's ``data``
        data = cast("bytes | memoryview", getattr(value, "data", value))
        return shapely.to_wkt(shapely.from_wkb(bytes(data)), rounding_precision=-1)


class Stamp(TypeDecorator[str]):
    """A moment as ISO 8601 text (SQLite) or ``timestamptz`` (PostgreSQL); read back as the
    same ISO text in UTC on both."""

    impl = Text
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if _postgres(dialect):
            from sqlalchemy.dialects.postgresql import TIMESTAMP

            return dialect.type_descriptor(TIMESTAMP(timezone=True))
        return dialect.type_descriptor(Text())

    def process_bind_param(
        self, value: str | datetime | None, dialect: Dialect
    ) -> str | datetime | None:
        if value is None or not _postgres(dialect):
            return value.isoformat() if isinstance(value, datetime) else value
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

    def process_result_value(self, value: object, dialect: Dialect) -> str | None:
        if isinstance(value, datetime):
            return value.astimezone(UTC).isoformat()
        return cast("str | None", value)  # SQLite: the ISO text as stored in the TEXT column


class Json(TypeDecorator[str]):
    """JSON as text (SQLite) or ``jsonb`` (PostgreSQL); written and read as JSON text."""

    impl = Text
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if _postgres(dialect):
            from sqlalchemy.dialects.postgresql import JSONB

            return dialect.type_descriptor(JSONB())
        return dialect.type_descriptor(Text())

    def process_bind_param(self, value: str | None, dialect: Dialect) -> object:
        if isinstance(value, str) and _postgres(dialect):
            return json.loads(value)
        return value

    def process_result_value(self, value: object, dialect: Dialect) -> str | None:
        if value is None or not _postgres(dialect):
            return cast("str | None", value)  # SQLite: the JSON text as stored
        # psycopg has parsed the jsonb already (a JSON string arrives as a str, too)
        return json.dumps(value, ensure_ascii=False, sort_keys=True)


class Flag(TypeDecorator[int]):
    """A yes/no as 0/1 (SQLite) or ``boolean`` (PostgreSQL); read back as 0 or 1."""

    impl = Integer
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        return dialect.type_descriptor(Boolean() if _postgres(dialect) else Integer())

    def process_bind_param(self, value: object, dialect: Dialect) -> bool | int | None:
        if value is None:
            return None
        return bool(value) if _postgres(dialect) else int(bool(value))

    def process_result_value(self, value: object, dialect: Dialect) -> int | None:
        return None if value is None else int(bool(value))
