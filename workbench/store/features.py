"""The feature sets of one workspace: its living labs' OSM themes and uploaded layers.

A feature set is a GeoDataFrame in EPSG:4326 with a metadata dict, named by ``(kind, lab_id,
name)`` (``kind``: ``osm`` with a theme code as name, or ``upload`` with a layer id). Each has a
current version and keeps the one it replaced, so that a save can be undone (``restore``).
Sets belong to their workspace: the same lab id in two workspaces names two sets.

Where they live:

- a SQLite workspace keeps them as GeoParquet files in a folder beside its database file
  (``<workspace>.layers/<kind>/<lab_id>/<name>.parquet``, the metadata inside the file), each
  replaced by one atomic rename;
- a PostgreSQL workspace keeps them in PostGIS tables of its own schema (``layer_sets``,
  ``layer_features`` with a GiST index; the views ``osm_layers`` and ``uploaded_layers`` are what
  QGIS reads), so that app processes on several machines share them without a shared folder.
  A save is one transaction, serialised per living lab by an advisory lock of its own (not the
  workspace's writer lock: an import must not hold up the room's notes).

Reads are memoised per process and read again only when the set changed. This module judges
nobody (callers ask the store's judge first) and knows no theme catalogue.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import shapely
from sqlalchemy import Connection, Engine, text

from workbench.errors import ValidationError
from workbench.store.engine import LOCK_SPACE, transaction, workspace_schema

if TYPE_CHECKING:
    import psycopg

KINDS = ("osm", "upload")
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
#: Key of the metadata inside a GeoParquet file's pandas attributes.
META_ATTR = "workbench_osm"
#: Sets read in this process: (backend, kind, lab, name) -> (signature, features). Pages rebuild
#: their maps on every rerun; reading a set again only when it changed keeps that cheap.
_MEMO: dict[tuple[str, str, str, str], tuple[Any, gpd.GeoDataFrame]] = {}
_MEMO_MAX = 64


def _check(kind: str, lab_id: str, name: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown feature set kind {kind!r}")
    if not isinstance(lab_id, str) or not _NAME.match(lab_id):
        raise ValidationError("opendata.lab_id", value=str(lab_id)[:80])
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValidationError("store.feature_set_name", value=str(name)[:80])


class FeatureSets:
    """The feature sets of one workspace (see the module text); made by the store."""

    def __init__(self, ident: str) -> None:
        self.ident = ident  # names the backend in the process's memo

    # the backend's part
    def _signature(self, kind: str, lab_id: str, name: str) -> Any | None:
        raise NotImplementedError

    def _read(self, kind: str, lab_id: str, name: str) -> gpd.GeoDataFrame | None:
        raise NotImplementedError

    def meta(
        self, kind: str, lab_id: str, name: str, previous: bool = False
    ) -> dict[str, Any] | None:
        """The metadata of a set (of the version it replaced with ``previous``), or None."""
        raise NotImplementedError

    def names(self, kind: str, lab_id: str) -> list[str]:
        """Names of a lab's sets of ``kind``, sorted."""
        raise NotImplementedError

    def version(self, kind: str, lab_id: str) -> str:
        """A token that changes whenever any set of ``kind`` of the living lab changes."""
        raise NotImplementedError

    def write(
        self, kind: str, lab_id: str, name: str, gdf: gpd.GeoDataFrame, meta: dict[str, Any]
    ) -> None:
        """Replace a set (EPSG:4326) with ``gdf`` and ``meta`` at once; the version it replaces
        becomes the previous one."""
        raise NotImplementedError

    def restore(self, kind: str, lab_id: str, name: str) -> dict[str, Any] | None:
        """Swap a set's current and previous versions (so a restore can be undone); returns the
        restored metadata, or None (nothing changed) when there is no previous version."""
        raise NotImplementedError

    def delete(self, kind: str, lab_id: str, name: str) -> None:
        """Remove a set and its previous version (nothing happens when there is none)."""
        raise NotImplementedError

    # shared
    def read(self, kind: str, lab_id: str, name: str) -> gpd.GeoDataFrame | None:
        """The features of a set (a copy the caller may change), or None when there is none."""
        _check(kind, lab_id, name)
        key = (self.ident, kind, lab_id, name)
        signature = self._signature(kind, lab_id, name)
        if signature is None:
            _MEMO.pop(key, None)
            return None
        hit = _MEMO.get(key)
        if hit is None or hit[0] != signature:
            gdf = self._read(kind, lab_id, name)
            if gdf is None:
                return None
            if len(_MEMO) >= _MEMO_MAX:
                _MEMO.pop(next(iter(_MEMO)))
            hit = _MEMO[key] = (signature, gdf)
        return hit[1].copy()

    @staticmethod
    def _checked_frame(gdf: gpd.GeoDataFrame) -> None:
        if gdf.crs is None or gdf.crs.to_epsg() != 4326:
            raise ValueError("feature sets must be in EPSG:4326")


# ---- SQLite workspaces: GeoParquet files beside the database -----------------------------------


class FileFeatureSets(FeatureSets):
    """Feature sets as GeoParquet files below ``root`` (see the module text)."""

    def __init__(self, root: Path) -> None:
        super().__init__(str(root))
        self.root = root

    def path(self, kind: str, lab_id: str, name: str, previous: bool = False) -> Path:
        _check(kind, lab_id, name)
        return self.root / kind / lab_id / (name + (".previous" if previous else "") + ".parquet")

    def _signature(self, kind: str, lab_id: str, name: str) -> Any | None:
        try:
            st = self.path(kind, lab_id, name).stat()
        except FileNotFoundError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def _read(self, kind: str, lab_id: str, name: str) -> gpd.GeoDataFrame | None:
        try:
            gdf = gpd.read_parquet(self.path(kind, lab_id, name))
        except FileNotFoundError:
            return None
        gdf.attrs.pop(META_ATTR, None)
        return gdf

    def meta(
        self, kind: str, lab_id: str, name: str, previous: bool = False
    ) -> dict[str, Any] | None:
        return read_file_meta(self.path(kind, lab_id, name, previous))

    def names(self, kind: str, lab_id: str) -> list[str]:
        folder = self.path(kind, lab_id, "x").parent
        if not folder.is_dir():
            return []
        return sorted(
            p.name.removesuffix(".parquet")
            for p in folder.glob("*.parquet")
            if not p.name.endswith(".previous.parquet")
            and _NAME.match(p.name.removesuffix(".parquet"))
        )

    def version(self, kind: str, lab_id: str) -> str:
        digest = hashlib.sha1(f"{kind}/{lab_id}".encode())
        for name in self.names(kind, lab_id):
            digest.update(f"{name}:{self._signature(kind, lab_id, name)};".encode())
        return digest.hexdigest()[:16]

    def write(
        self, kind: str, lab_id: str, name: str, gdf: gpd.GeoDataFrame, meta: dict[str, Any]
    ) -> None:
        self._checked_frame(gdf)
        path = self.path(kind, lab_id, name)
        out = gdf.copy()
        out.attrs = {META_ATTR: meta}
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{name}-", suffix=".tmp", dir=path.parent)
        os.close(fd)
        try:
            out.to_parquet(tmp, index=False)
            if path.is_file():  # the current file becomes the previous one (a hard link, so the
                # set itself is never missing while it is replaced)
                os.replace(_linked_copy(path), self.path(kind, lab_id, name, previous=True))
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def restore(self, kind: str, lab_id: str, name: str) -> dict[str, Any] | None:
        path, keep = self.path(kind, lab_id, name), self.path(kind, lab_id, name, previous=True)
        meta = read_file_meta(keep)
        if meta is None:
            return None
        if not path.is_file():
            os.replace(keep, path)
            return meta
        tmp = _linked_copy(keep)
        os.replace(path, keep)  # the current version becomes the previous one
        os.replace(tmp, path)  # and the previous one is back
        return meta

    def delete(self, kind: str, lab_id: str, name: str) -> None:
        self.path(kind, lab_id, name).unlink(missing_ok=True)
        self.path(kind, lab_id, name, previous=True).unlink(missing_ok=True)


def read_file_meta(path: Path) -> dict[str, Any] | None:
    """The metadata kept inside a feature set's GeoParquet file, or None when there is no file."""
    try:
        metadata = pq.read_schema(path).metadata or {}
    except FileNotFoundError:
        return None
    attrs = json.loads(metadata.get(b"PANDAS_ATTRS", b"{}"))
    found = attrs.get(META_ATTR)
    return found if isinstance(found, dict) else {}


def _linked_copy(path: Path) -> str:
    """A new name in the same folder for the file at ``path`` (a hard link, else a copy)."""
    fd, tmp = tempfile.mkstemp(prefix=".keep-", suffix=".tmp", dir=path.parent)
    os.close(fd)
    os.unlink(tmp)
    try:
        os.link(path, tmp)
    except OSError:
        shutil.copy2(path, tmp)
    return tmp


# ---- PostgreSQL workspaces: PostGIS tables of the workspace's schema ---------------------------

#: Second key space of the feature sets' advisory locks (per workspace schema and living lab).
_FEATURES_LOCK = LOCK_SPACE + 1


class PostgisFeatureSets(FeatureSets):
    """Feature sets in the ``layer_sets``/``layer_features`` tables of the workspace's schema
    (migration 10): one row per set version, one row per feature with its attributes as jsonb
    and its geometry as ``geometry(Geometry, 4326)``."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(
            f"{engine.url.render_as_string(hide_password=True)}#{workspace_schema(engine)}"
        )
        self.engine = engine

    @contextmanager
    def _conn(self, lab_id: str | None = None) -> Iterator[Connection]:
        with transaction(self.engine, write=False) as conn:
            if lab_id is not None:  # writers to one lab's sets take turns
                conn.execute(
                    text(
                        "SELECT pg_advisory_xact_lock(:space, hashtext("
                        "current_schema() || '/' || :lab))"
                    ),
                    {"space": _FEATURES_LOCK, "lab": lab_id},
                )
            yield conn

    def _signature(self, kind: str, lab_id: str, name: str) -> Any | None:
        with self._conn() as conn:
            return conn.execute(
                text(
                    "SELECT generation FROM layer_sets"
                    " WHERE kind = :k AND lab_id = :l AND name = :n AND slot = 'current'"
                ),
                {"k": kind, "l": lab_id, "n": name},
            ).scalar()

    def _read(self, kind: str, lab_id: str, name: str) -> gpd.GeoDataFrame | None:
        key = {"k": kind, "l": lab_id, "n": name}
        with self._conn() as conn:
            columns = conn.execute(
                text(
                    "SELECT columns FROM layer_sets WHERE kind = :k AND lab_id = :l AND name = :n"
                    " AND slot = 'current'"
                ),
                key,
            ).scalar()
            if columns is None:
                return None
            rows = conn.execute(
                text(
                    "SELECT props, ST_AsBinary(geom) FROM layer_features WHERE kind = :k"
                    " AND lab_id = :l AND name = :n AND slot = 'current' ORDER BY fid"
                ),
                key,
            ).all()
        return _frame(columns, rows)

    def meta(
        self, kind: str, lab_id: str, name: str, previous: bool = False
    ) -> dict[str, Any] | None:
        _check(kind, lab_id, name)
        with self._conn() as conn:
            found = conn.execute(
                text(
                    "SELECT meta FROM layer_sets WHERE kind = :k AND lab_id = :l AND name = :n"
                    " AND slot = :s"
                ),
                {"k": kind, "l": lab_id, "n": name, "s": "previous" if previous else "current"},
            ).scalar()
        return dict(found) if found is not None else None

    def names(self, kind: str, lab_id: str) -> list[str]:
        with self._conn() as conn:
            return list(
                conn.execute(
                    text(
                        "SELECT name FROM layer_sets"
                        " WHERE kind = :k AND lab_id = :l AND slot = 'current' ORDER BY name"
                    ),
                    {"k": kind, "l": lab_id},
                ).scalars()
            )

    def version(self, kind: str, lab_id: str) -> str:
        with self._conn() as conn:
            rows = conn.execute(
                text(
                    "SELECT name, generation FROM layer_sets WHERE kind = :k AND lab_id = :l"
                    " AND slot = 'current' ORDER BY name"
                ),
                {"k": kind, "l": lab_id},
            ).all()
        digest = hashlib.sha1(f"{kind}/{lab_id}".encode())
        for name, generation in rows:
            digest.update(f"{name}:{generation};".encode())
        return digest.hexdigest()[:16]

    def write(
        self, kind: str, lab_id: str, name: str, gdf: gpd.GeoDataFrame, meta: dict[str, Any]
    ) -> None:
        _check(kind, lab_id, name)
        self._checked_frame(gdf)
        columns, records = _records(gdf)
        key = {"k": kind, "l": lab_id, "n": name}
        with self._conn(lab_id) as conn:
            conn.execute(
                text(
                    "DELETE FROM layer_sets WHERE kind = :k AND lab_id = :l"
                    " AND name = :n AND slot = 'previous'"
                ),
                key,
            )
            conn.execute(
                text(
                    "UPDATE layer_sets SET slot = 'previous' WHERE kind = :k"
                    " AND lab_id = :l AND name = :n AND slot = 'current'"
                ),
                key,
            )
            conn.execute(
                text(
                    "INSERT INTO layer_sets (kind, lab_id, name, slot, meta, columns, generation)"
                    " VALUES (:k, :l, :n, 'current', CAST(:meta AS jsonb), CAST(:cols AS jsonb),"
                    " nextval('layer_generation'))"
                ),
                {
                    **key,
                    "meta": json.dumps(meta, ensure_ascii=False, default=str),
                    "cols": json.dumps(columns),
                },
            )
            # COPY is psycopg's own (the DBAPI connection of a PostgreSQL engine is psycopg's)
            raw = cast("psycopg.Connection[tuple[Any, ...]]", conn.connection.dbapi_connection)
            cursor = raw.cursor()
            with cursor.copy(
                "COPY layer_features (kind, lab_id, name, slot, fid, props, geom) FROM STDIN"
            ) as copy:
                for fid, (props, wkb) in enumerate(records):
                    copy.write_row((kind, lab_id, name, "current", fid, props, wkb))

    def restore(self, kind: str, lab_id: str, name: str) -> dict[str, Any] | None:
        _check(kind, lab_id, name)
        key = {"k": kind, "l": lab_id, "n": name}
        with self._conn(lab_id) as conn:
            meta = conn.execute(
                text(
                    "SELECT meta FROM layer_sets WHERE kind = :k AND lab_id = :l AND name = :n"
                    " AND slot = 'previous'"
                ),
                key,
            ).scalar()
            if meta is None:
                return None
            for old, new in (("current", "swap"), ("previous", "current"), ("swap", "previous")):
                conn.execute(
                    text(
                        "UPDATE layer_sets"
                        " SET slot = :new, generation = nextval('layer_generation')"
                        " WHERE kind = :k AND lab_id = :l AND name = :n AND slot = :old"
                    ),
                    {**key, "old": old, "new": new},
                )
        return dict(meta)

    def delete(self, kind: str, lab_id: str, name: str) -> None:
        _check(kind, lab_id, name)
        with self._conn(lab_id) as conn:
            conn.execute(
                text("DELETE FROM layer_sets WHERE kind = :k AND lab_id = :l AND name = :n"),
                {"k": kind, "l": lab_id, "n": name},
            )


def _plain(value: Any) -> Any:
    """A cell as JSON: numbers, booleans and text as they are, missing values as null."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if hasattr(value, "item"):  # numpy scalars
        return _plain(value.item())
    if isinstance(value, (bool, int, float, str)):
        return value
    if value is pd.NaT or (not isinstance(value, (list, dict)) and pd.isna(value)):
        return None
    return str(value)


def _records(gdf: gpd.GeoDataFrame) -> tuple[list[list[str]], Iterator[tuple[str, str | None]]]:
    """The columns (name and dtype) of a frame and its rows as (jsonb text, hex EWKB)."""
    geometry = gdf.geometry.name
    attrs = [c for c in gdf.columns if c != geometry]
    columns = [[str(c), str(gdf[c].dtype)] for c in attrs]
    geoms = shapely.set_srid(gdf.geometry.values.to_numpy(), 4326)
    wkbs = shapely.to_wkb(geoms, hex=True, include_srid=True)
    values = gdf[attrs].to_numpy(dtype=object) if attrs else None

    def rows() -> Iterator[tuple[str, str | None]]:
        for i, wkb in enumerate(wkbs):
            props = (
                {}
                if values is None
                else {str(c): _plain(v) for c, v in zip(attrs, values[i], strict=True)}
            )
            yield json.dumps(props, ensure_ascii=False), wkb

    return columns, rows()


def _frame(columns: list[list[str]], rows: Sequence[Any]) -> gpd.GeoDataFrame:
    """A GeoDataFrame back from its columns and (props, WKB) rows, with the columns' dtypes."""
    names = [c for c, _ in columns]
    data = (
        pd.DataFrame([r[0] for r in rows], columns=names)
        if names
        else pd.DataFrame(index=range(len(rows)))
    )
    for col, dtype in columns:
        if dtype in ("int64", "int32", "float64", "float32", "bool"):
            try:
                data[col] = data[col].astype(np.dtype(dtype))
            except (TypeError, ValueError):  # a missing value in an integer column
                data[col] = data[col].astype("float64")
        elif dtype == "object" or dtype.startswith("str"):
            data[col] = data[col].astype(object)
    geoms = shapely.from_wkb([None if r[1] is None else bytes(r[1]) for r in rows])
    return gpd.GeoDataFrame(data, geometry=gpd.GeoSeries(geoms, crs=4326), crs=4326)
