"""The on-disk cache of OSM themes, per living lab and theme.

Each cached theme is one GeoParquet file ``<cache_dir>/osm/<lab_id>/<theme>.parquet`` in EPSG:4326
whose metadata (``fetched_at``, ``source``, ``attribution``, ``feature_count``,
``buffer_m``) is stored inside the same file, so that data and metadata are replaced together
by one atomic rename.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import geopandas as gpd
import pyarrow.parquet as pq

from workbench.errors import ValidationError
from workbench.opendata.themes import THEMES
from workbench.settings import OSM_ATTRIBUTION, cache_dir

_META_ATTR = "workbench_osm"
_LAB_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
#: Keys every theme's metadata carries.
META_KEYS = ("fetched_at", "source", "attribution", "feature_count", "buffer_m")


def _lab_dir(lab_id: str) -> Path:
    if not isinstance(lab_id, str) or not _LAB_ID.match(lab_id):
        raise ValidationError("opendata.lab_id", value=str(lab_id)[:80])
    return cache_dir() / "osm" / lab_id


def theme_path(lab_id: str, theme: str) -> Path:
    """Where a lab's theme is cached (whether or not it exists yet)."""
    if theme not in THEMES:
        raise ValidationError("opendata.theme_unknown", codes=str(theme)[:80],
                              known=", ".join(THEMES))
    return _lab_dir(lab_id) / f"{theme}.parquet"


#: Themes read in this process, by path: (file signature, features). Pages rebuild their maps on
#: every rerun; reading a file again only when it changed keeps that cheap.
_MEMO: dict[Path, tuple[tuple[int, int, int], gpd.GeoDataFrame]] = {}
_MEMO_MAX = 64


def load_theme(lab_id: str, theme: str) -> gpd.GeoDataFrame | None:
    """The cached features of ``theme`` for a living lab (EPSG:4326), or None when not cached.

    Returns a copy the caller may change; the file is read again only when it changed.
    """
    path = theme_path(lab_id, theme)
    try:
        st = path.stat()
    except FileNotFoundError:
        _MEMO.pop(path, None)
        return None
    signature = (st.st_mtime_ns, st.st_size, st.st_ino)
    hit = _MEMO.get(path)
    if hit is None or hit[0] != signature:
        try:
            gdf = gpd.read_parquet(path)
        except FileNotFoundError:
            return None
        gdf.attrs.pop(_META_ATTR, None)
        if len(_MEMO) >= _MEMO_MAX:
            _MEMO.pop(next(iter(_MEMO)))
        hit = _MEMO[path] = (signature, gdf)
    return hit[1].copy()


def theme_meta(lab_id: str, theme: str) -> dict[str, Any] | None:
    """Metadata of a cached theme (read without loading its features), or None."""
    return _read_meta(theme_path(lab_id, theme))


def _read_meta(path: Path) -> dict[str, Any] | None:
    try:
        metadata = pq.read_schema(path).metadata or {}
    except FileNotFoundError:
        return None
    attrs = json.loads(metadata.get(b"PANDAS_ATTRS", b"{}"))
    return attrs.get(_META_ATTR)


def cached_themes(lab_id: str) -> list[str]:
    """Codes of the themes cached for a living lab, in catalogue order."""
    folder = _lab_dir(lab_id)
    return [code for code in THEMES if (folder / f"{code}.parquet").is_file()]


def cache_version(lab_id: str) -> str:
    """A token that changes whenever any cached theme of the living lab changes."""
    folder = _lab_dir(lab_id)
    digest = hashlib.sha1(lab_id.encode())
    for code in THEMES:
        try:
            st = (folder / f"{code}.parquet").stat()
        except FileNotFoundError:
            continue
        digest.update(f"{code}:{st.st_mtime_ns}:{st.st_size}:{st.st_ino};".encode())
    return digest.hexdigest()[:16]


def save_theme(lab_id: str, theme: str, gdf: gpd.GeoDataFrame, meta: dict[str, Any]) -> Path:
    """Write a theme to the cache atomically (temp file + rename); returns its path.

    ``meta`` must hold ``fetched_at`` and ``source``; ``attribution`` defaults to the OSM
    attribution, ``feature_count`` is taken from ``gdf``, ``buffer_m`` defaults to 0.
    """
    path = theme_path(lab_id, theme)
    if gdf.crs is None or gdf.crs.to_epsg() != 4326:
        raise ValueError("cached themes must be in EPSG:4326")
    missing = {"fetched_at", "source"} - meta.keys()
    if missing:
        raise ValueError(f"theme metadata lacks {sorted(missing)}")
    full = {"attribution": OSM_ATTRIBUTION, "buffer_m": 0, **meta,
            "feature_count": int(len(gdf)), "theme": theme}
    out = gdf.copy()
    out.attrs = {_META_ATTR: full}
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{theme}-", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        out.to_parquet(tmp, index=False)
        _keep_previous(path)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def previous_path(lab_id: str, theme: str) -> Path:
    """Where the version a theme had before its last save is kept."""
    return theme_path(lab_id, theme).with_suffix(".previous.parquet")


def _keep_previous(path: Path) -> None:
    """Keep the current file of a theme as its previous version (a hard link, so the theme
    itself is never missing while it is replaced)."""
    if not path.is_file():
        return
    os.replace(_linked_copy(path), path.with_suffix(".previous.parquet"))


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


def previous_meta(lab_id: str, theme: str) -> dict[str, Any] | None:
    """Metadata of the version a theme had before its last save, or None."""
    return _read_meta(previous_path(lab_id, theme))


def restore_theme(lab_id: str, theme: str) -> dict[str, Any]:
    """Put a theme's previous version back (the replaced one becomes the previous version, so
    a restore can be undone); returns the restored metadata.

    Raises
    ------
    ValidationError
        There is no previous version of this theme.
    """
    path, keep = theme_path(lab_id, theme), previous_path(lab_id, theme)
    meta = previous_meta(lab_id, theme)
    if meta is None:
        raise ValidationError("comparison.restore_none", theme=theme)
    if not path.is_file():
        os.replace(keep, path)
        return meta
    tmp = _linked_copy(keep)
    os.replace(path, keep)  # the current version becomes the previous one
    os.replace(tmp, path)   # and the previous one is back
    return meta


def delete_theme(lab_id: str, theme: str) -> None:
    """Remove a cached theme and its previous version (nothing happens when not cached)."""
    theme_path(lab_id, theme).unlink(missing_ok=True)
    previous_path(lab_id, theme).unlink(missing_ok=True)
