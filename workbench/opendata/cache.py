"""The cache of OSM themes of a workspace's living labs, one feature set per lab and theme.

Themes are feature sets of kind ``osm`` of the workspace's store (:mod:`workbench.store.features`:
GeoParquet files beside a SQLite workspace, PostGIS tables of a PostgreSQL one), so that the
same lab id in two workspaces has two caches. Each theme's metadata (``fetched_at``, ``source``,
``attribution``, ``feature_count``, ``buffer_m``, the data date and coverage) is kept with its
features and replaced with them at once; the version a save replaced is kept for a restore.

Every write is judged by the store's judge first (``layers.edit``), like the store's own writes.
Caches written before workspaces had their own (``<cache_dir>/osm/<lab_id>/``) are copied into
a workspace the first time one of its labs' themes is looked at there.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd

from workbench.errors import ValidationError
from workbench.opendata.themes import THEMES
from workbench.settings import OSM_ATTRIBUTION, cache_dir
from workbench.store.features import FileFeatureSets, read_file_meta

if TYPE_CHECKING:
    from workbench.access import Actor
    from workbench.store import Store

KIND = "osm"


def _theme(theme: str) -> str:
    if theme not in THEMES:
        raise ValidationError(
            "opendata.theme_unknown", codes=str(theme)[:80], known=", ".join(THEMES)
        )
    return theme


def load_theme(store: Store, lab_id: str, theme: str) -> gpd.GeoDataFrame | None:
    """The cached features of ``theme`` for a living lab (EPSG:4326), or None when not cached.

    Returns a copy the caller may change; the data are read again only when they changed.
    """
    _adopt_legacy(store, lab_id)
    return store.features.read(KIND, lab_id, _theme(theme))


def theme_meta(store: Store, lab_id: str, theme: str) -> dict[str, Any] | None:
    """Metadata of a cached theme (read without loading its features), or None."""
    _adopt_legacy(store, lab_id)
    return store.features.meta(KIND, lab_id, _theme(theme))


def previous_meta(store: Store, lab_id: str, theme: str) -> dict[str, Any] | None:
    """Metadata of the version a theme had before its last save, or None."""
    return store.features.meta(KIND, lab_id, _theme(theme), previous=True)


def cached_themes(store: Store, lab_id: str) -> list[str]:
    """Codes of the themes cached for a living lab, in catalogue order."""
    _adopt_legacy(store, lab_id)
    names = set(store.features.names(KIND, lab_id))
    return [code for code in THEMES if code in names]


def cache_version(store: Store, lab_id: str) -> str:
    """A token that changes whenever any cached theme of the living lab changes."""
    _adopt_legacy(store, lab_id)
    return store.features.version(KIND, lab_id)


def save_theme(
    store: Store,
    lab_id: str,
    theme: str,
    gdf: gpd.GeoDataFrame,
    meta: dict[str, Any],
    by: Actor | None = None,
) -> None:
    """Replace a cached theme (its previous version is kept), once the store's judge lets
    ``by`` edit the lab's layers (else :class:`PermissionDenied`, nothing written).

    ``meta`` must hold ``fetched_at`` and ``source``; ``attribution`` defaults to the OSM
    attribution, ``feature_count`` is taken from ``gdf``, ``buffer_m`` defaults to 0.
    """
    _theme(theme)
    if gdf.crs is None or gdf.crs.to_epsg() != 4326:
        raise ValueError("cached themes must be in EPSG:4326")
    missing = {"fetched_at", "source"} - meta.keys()
    if missing:
        raise ValueError(f"theme metadata lacks {sorted(missing)}")
    store.require_permission(by, "layers.edit", lab_id)
    _adopt_legacy(store, lab_id)
    full = {
        "attribution": OSM_ATTRIBUTION,
        "buffer_m": 0,
        **meta,
        "feature_count": int(len(gdf)),
        "theme": theme,
    }
    store.features.write(KIND, lab_id, theme, gdf, full)


def restore_theme(store: Store, lab_id: str, theme: str, by: Actor | None = None) -> dict[str, Any]:
    """Put a theme's previous version back (the replaced one becomes the previous version, so
    a restore can be undone); returns the restored metadata.

    Raises
    ------
    ValidationError
        There is no previous version of this theme.
    PermissionDenied
        ``by`` may not edit the lab's layers now.
    """
    _theme(theme)
    store.require_permission(by, "layers.edit", lab_id)
    meta = store.features.restore(KIND, lab_id, theme)
    if meta is None:
        raise ValidationError("comparison.restore_none", theme=theme)
    return meta


def delete_theme(store: Store, lab_id: str, theme: str, by: Actor | None = None) -> None:
    """Remove a cached theme and its previous version (nothing happens when not cached)."""
    _theme(theme)
    store.require_permission(by, "layers.edit", lab_id)
    store.features.delete(KIND, lab_id, theme)


# ---- caches from before workspaces had their own ---------------------------------------------

_ADOPTED: set[tuple[str, str]] = set()


def legacy_folder(lab_id: str) -> Path:
    """Where a lab's themes were cached before each workspace had its own cache."""
    return cache_dir() / "osm" / lab_id


def _adopt_legacy(store: Store, lab_id: str) -> None:
    """Copy a lab's themes from the cache shared by all workspaces (older versions) into this
    workspace's, the first time they are looked at here and only when it has none of its own.
    The shared files stay for other workspaces with the same lab id."""
    seen = (store.features.ident, lab_id)
    if seen in _ADOPTED:
        return
    _ADOPTED.add(seen)
    if not isinstance(lab_id, str) or not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", lab_id):
        return  # not a lab id: the feature sets refuse it with their message
    folder = legacy_folder(lab_id)
    if not folder.is_dir():
        return
    sets = store.features
    if sets.names(KIND, lab_id):
        return
    for code in THEMES:
        for previous in (True, False):  # the previous version first, so that it stays previous
            path = folder / (code + (".previous" if previous else "") + ".parquet")
            meta = read_file_meta(path)
            if meta is None:
                continue
            if isinstance(sets, FileFeatureSets):
                target = sets.path(KIND, lab_id, code, previous)
                target.parent.mkdir(parents=True, exist_ok=True)
                _copy(path, target)
            else:
                gdf = gpd.read_parquet(path)
                gdf.attrs.clear()
                sets.write(KIND, lab_id, code, gdf, meta)


def _copy(source: Path, target: Path) -> None:
    tmp = target.with_name("." + target.name + ".adopt")
    try:
        os.link(source, tmp)
    except OSError:
        shutil.copy2(source, tmp)
    os.replace(tmp, target)
