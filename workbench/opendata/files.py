"""The city's own files: GeoJSON, GeoPackage, zipped Shapefile, KML/KMZ, GPX and CSV.

:func:`read_user_file` checks and reads an uploaded file into a :class:`UserLayer` (WGS84, valid
geometries, attributes kept); :func:`save_upload` stores it as a living lab's layer. Every refusal
is a :class:`~workbench.errors.ValidationError` with a locale key; nothing is written until a file
has been read whole. Reading happens in a bounded child process with GDAL locked down to the one
driver of the file's format (:mod:`workbench.opendata.safe_read`).
"""

from __future__ import annotations

import csv
import io
import math
import tempfile
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray
from pyproj import CRS
from pyproj.exceptions import CRSError

from workbench.access import Actor
from workbench.errors import ValidationError
from workbench.model import Layer, new_id
from workbench.opendata.safe_read import (
    DRIVERS,
    check_content,
    check_geojson_crs,
    gpkg_layers,
    open_checked,
    run_bounded,
)
from workbench.settings import (
    DEFAULT_LAYER_COLOUR,
    MAX_FEATURE_VERTICES,
    MAX_LAYER_VERTICES,
    MAX_UNZIP_RATIO,
    MAX_UNZIPPED_MB,
    MAX_UPLOAD_FEATURES,
    MAX_UPLOAD_MB,
    data_dir,
)

if TYPE_CHECKING:
    from workbench.store import Store

#: File name endings accepted, and the format each stands for.
FORMATS = {
    ".geojson": "geojson",
    ".json": "geojson",
    ".gpkg": "gpkg",
    ".zip": "shapefile",
    ".kml": "kml",
    ".kmz": "kmz",
    ".gpx": "gpx",
    ".csv": "csv",
}
#: Upload widget types (without dots).
UPLOAD_TYPES = sorted(k.lstrip(".") for k in FORMATS)

_LON_NAMES = ("lon", "lng", "long", "longitude", "x", "laenge", "länge", "довгота")
_LAT_NAMES = ("lat", "latitude", "y", "breite", "широта")
_WKT_NAMES = ("wkt", "geometry", "geom", "the_geom", "shape")
_GPX_LAYERS = ("waypoints", "routes", "tracks")


@dataclass
class UserLayer:
    """An uploaded file, read and checked, not yet stored."""

    name: str
    gdf: gpd.GeoDataFrame
    format: str
    source_crs: str = "EPSG:4326"
    layer: str | None = None
    layers: list[str] = field(default_factory=list)
    repaired: int = 0
    dropped: int = 0
    flattened: bool = False

    @property
    def feature_count(self) -> int:
        return len(self.gdf)


def _fail(key: str, **params: Any) -> ValidationError:
    return ValidationError(f"opendata.file.{key}", **params)


def file_format(filename: str) -> str:
    """The format code of a file name (``"gpkg"``), or a ValidationError for unknown endings."""
    suffix = Path(filename or "").suffix.lower()
    if suffix not in FORMATS:
        raise _fail("unknown_type", name=filename, types=", ".join(UPLOAD_TYPES))
    return FORMATS[suffix]


def list_layers(filename: str, data: bytes) -> list[str]:
    """Layer names of a GeoPackage or GPX upload (an empty list for single-layer formats), read
    like :func:`read_user_file` by the locked-down bounded reader."""
    fmt = file_format(filename)
    if fmt not in ("gpkg", "gpx"):
        return []
    _check_bytes(filename, fmt, data)
    with tempfile.TemporaryDirectory(prefix="wb-upload-") as tmp:
        path = _write(tmp, filename, data)
        meta, _frames = run_bounded(_layers_child, str(path), fmt, filename, driver=DRIVERS[fmt])
    return list(meta["layers"])


def read_user_file(filename: str, data: bytes, layer: str | None = None) -> UserLayer:
    """Read an uploaded file into a checked layer in WGS84.

    The file's first bytes must fit its ending; it is then read in a separate process with one
    GDAL driver, no network and no other files, within a time and memory limit (see
    :mod:`workbench.opendata.safe_read`).

    Parameters
    ----------
    filename
        The uploaded file's name; its ending chooses the format.
    data
        The file's bytes.
    layer
        For GeoPackage and GPX: the layer to read (default: the first layer with features).

    Raises
    ------
    ValidationError
        With a key ``opendata.file.*`` naming the problem: too big, unknown type, content not
        matching the ending, references to other files or URLs, GeoPackage views, corrupt,
        unsafe or oversized ZIP, no .shp in a ZIP, no or unknown CRS, 3D or measured
        coordinates, CSV without coordinates, no features, too many features or vertices,
        reading took too long or too much memory.
    """
    fmt = file_format(filename)
    _check_bytes(filename, fmt, data)
    with tempfile.TemporaryDirectory(prefix="wb-upload-") as tmp:
        path = _write(tmp, filename, data)
        limits = {
            "features": MAX_UPLOAD_FEATURES,
            "feature_vertices": MAX_FEATURE_VERTICES,
            "layer_vertices": MAX_LAYER_VERTICES,
        }
        meta, frames = run_bounded(
            _read_child, str(path), filename, fmt, layer, limits, driver=DRIVERS.get(fmt, ())
        )
    return UserLayer(gdf=frames["layer"], **meta)


def _check_bytes(filename: str, fmt: str, data: bytes) -> None:
    if len(data) > MAX_UPLOAD_MB * 1024 * 1024:
        raise _fail("too_big", size=len(data) / 1024 / 1024, limit=MAX_UPLOAD_MB)
    if not data:
        raise _fail("empty", name=filename)
    check_content(fmt, data[:4096], filename)


# ---- reading (in the bounded child) -------------------------------------------------------------


def _layers_child(path: str, fmt: str, filename: str) -> tuple[dict[str, Any], dict[str, Any]]:
    return {"layers": _layers(Path(path), fmt, filename)}, {}


def _read_child(
    path_text: str, filename: str, fmt: str, layer: str | None, limits: dict[str, int]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The body of :func:`read_user_file`, run by the bounded child: a UserLayer's fields as
    ``meta`` and its GeoDataFrame as the frame ``layer``. ``limits`` are the server's
    ``features``, ``feature_vertices`` and ``layer_vertices`` caps."""
    path = Path(path_text)
    tmp = path.parent
    stem = Path(filename).stem[:120] or "layer"
    layers: list[str] = []
    flatten = fmt in ("kml", "kmz", "gpx")  # altitude is part of these formats
    if fmt == "csv":
        gdf = _read_csv(path.read_bytes())
    else:
        if fmt == "shapefile":
            path = _unzip_shapefile(path, tmp / "unzipped")
            _check_head(path, "shp", filename)
            _check_prj(path, filename)
        elif fmt == "geojson":
            check_geojson_crs(path, filename)
        elif fmt == "kmz":
            path = _unzip_member(path, tmp / "unzipped", (".kml",), "no_kml")
            _check_head(path, "kml", filename)
        if fmt in ("gpkg", "gpx"):
            layers = _layers(path, fmt, filename)
            if layer is None:
                layer = _first_layer(path, layers)
            elif layer not in layers:
                raise _fail("layer_unknown", layer=layer, layers=", ".join(layers))
        gdf = _read_vector(path, layer, fmt, filename, limits["features"])
    if gdf.crs is None:
        raise _fail("no_crs", name=filename)
    source_crs = gdf.crs.to_string()
    if len(gdf) > limits["features"]:
        raise _fail("too_many", count=len(gdf), limit=limits["features"])
    _check_vertices(gdf, limits["feature_vertices"], limits["layer_vertices"])
    gdf, repaired, dropped, flattened = _clean(gdf, flatten)
    if gdf.empty:
        raise _fail("empty", name=filename)
    name = layer[:120] if layer else stem  # a GeoPackage's layer keeps its own name
    meta = {
        "name": name,
        "format": fmt,
        "source_crs": source_crs,
        "layer": layer,
        "layers": layers,
        "repaired": repaired,
        "dropped": dropped,
        "flattened": flattened,
    }
    return meta, {"layer": gdf}


def _write(tmp: str, filename: str, data: bytes) -> Path:
    path = Path(tmp) / ("upload" + Path(filename).suffix.lower())
    path.write_bytes(data)
    return path


def _check_head(path: Path, fmt: str, filename: str) -> None:
    with open(path, "rb") as fh:
        check_content(fmt, fh.read(4096), filename)


def _layers(path: Path, fmt: str, filename: str) -> list[str]:
    if fmt == "gpkg":
        names = gpkg_layers(path, filename)
    else:
        import pyogrio

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                open_checked(path, DRIVERS[fmt], filename)
                names = [str(row[0]) for row in pyogrio.list_layers(path)]
        except ValidationError:
            raise
        except Exception as exc:  # pyogrio raises several DataSourceError kinds
            raise _fail("corrupt", reason=_reason(exc)) from exc
        names = [n for n in names if n in _GPX_LAYERS]
    if not names:
        raise _fail("empty", name=filename)
    return names


def _first_layer(path: Path, layers: list[str]) -> str:
    import pyogrio

    for name in layers:
        try:
            if pyogrio.read_info(path, layer=name).get("features", 0):
                return name
        except Exception:  # noqa: BLE001 - an unreadable layer is skipped here, reported later
            continue
    return layers[0]


def _read_vector(
    path: Path, layer: str | None, fmt: str, filename: str, max_features: int
) -> gpd.GeoDataFrame:
    import pyogrio

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if fmt != "gpkg":
                open_checked(path, DRIVERS[fmt], filename)
            info = pyogrio.read_info(path, layer=layer)
            if info.get("driver") != DRIVERS[fmt]:
                raise _fail("wrong_content", name=filename, expected=DRIVERS[fmt])
            if int(info.get("features") or 0) > max_features:  # counted before reading
                raise _fail("too_many", count=int(info["features"]), limit=max_features)
            geom_type = str(info.get("geometry_type") or "")
            if geom_type.endswith("M"):  # "Point M", "LineString ZM"
                raise _fail("measured")
            crs_text = info.get("crs")
            gdf = pyogrio.read_dataframe(path, layer=layer)
    except ValidationError:
        raise
    except CRSError as exc:
        raise _fail("unknown_crs", reason=_reason(exc)) from exc
    except Exception as exc:  # noqa: BLE001 - GDAL errors come in many classes
        raise _fail("corrupt", reason=_reason(exc)) from exc
    if fmt == "shapefile" and gdf.crs is None and path.with_suffix(".prj").exists():
        raise _fail("unknown_crs", reason=path.with_suffix(".prj").read_text(errors="replace")[:80])
    if gdf.crs is None and crs_text:
        raise _fail("unknown_crs", reason=str(crs_text)[:80])
    return gdf


def _check_vertices(gdf: gpd.GeoDataFrame, per_feature: int, per_layer: int) -> None:
    """Refuse a layer with a feature of more than ``per_feature`` vertices, or more than
    ``per_layer`` in all (counted before any repair, which costs by vertex)."""
    counts = shapely.get_num_coordinates(gdf.geometry.values)
    if len(counts) and int(counts.max()) > per_feature:
        raise _fail("too_many_vertices", count=int(counts.max()), limit=per_feature)
    if int(counts.sum()) > per_layer:
        raise _fail("layer_too_many_vertices", count=int(counts.sum()), limit=per_layer)


def _check_prj(shp: Path, filename: str) -> None:
    """A Shapefile needs a .prj that the projection library understands."""
    prj = shp.with_suffix(".prj")
    if not prj.exists():
        raise _fail("no_crs", name=filename)
    text = prj.read_text(errors="replace").strip()
    try:
        CRS.from_wkt(text)
    except CRSError as exc:
        raise _fail("unknown_crs", reason=text[:80] or "—") from exc


def _reason(exc: BaseException) -> str:
    text = str(exc).replace(str(tempfile.gettempdir()), "…")
    return " ".join(text.split())[:160]


def _read_csv(data: bytes) -> gpd.GeoDataFrame:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t|")
        sep = dialect.delimiter
    except csv.Error:
        sep = ","
    try:
        df = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        raise _fail("corrupt", reason=_reason(exc)) from exc
    cols = {c.strip().lower(): c for c in df.columns}
    lon = next((cols[n] for n in _LON_NAMES if n in cols), None)
    lat = next((cols[n] for n in _LAT_NAMES if n in cols), None)
    wkt = next((cols[n] for n in _WKT_NAMES if n in cols), None)
    if lon and lat:
        x = pd.to_numeric(df[lon].str.replace(",", ".", regex=False), errors="coerce")
        y = pd.to_numeric(df[lat].str.replace(",", ".", regex=False), errors="coerce")
        ok = x.notna() & y.notna()
        if not ok.any():
            raise _fail("csv_no_coords", columns=", ".join(map(str, df.columns))[:200])
        if not (x[ok].between(-180, 180).all() and y[ok].between(-90, 90).all()):
            raise _fail("csv_range")
        geoms: NDArray[np.object_] = np.asarray(shapely.points(x.where(ok), y.where(ok)))
        geoms[~ok.to_numpy()] = None
        rest = df.drop(columns=[lon, lat])
    elif wkt:
        try:
            geoms = np.asarray(shapely.from_wkt(df[wkt].replace("", None), on_invalid="raise"))
        except shapely.errors.GEOSException as exc:
            raise _fail("csv_bad_wkt", reason=_reason(exc)) from exc
        rest = df.drop(columns=[wkt])
    else:
        raise _fail("csv_no_coords", columns=", ".join(map(str, df.columns))[:200])
    return gpd.GeoDataFrame(rest, geometry=gpd.GeoSeries(geoms, crs=4326), crs=4326)


# ---- archives ----------------------------------------------------------------------------------


def _safe_members(archive: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    """The archive's file members, after refusing unsafe names and bombs."""
    total = 0
    members = []
    for info in archive.infolist():
        name = info.filename.replace("\\", "/")
        parts = PurePosixPath(name).parts
        if name.startswith("/") or ".." in parts or (parts and ":" in parts[0]):
            raise _fail("zip_unsafe", member=info.filename[:120])
        if info.is_dir():
            continue
        total += info.file_size
        ratio = info.file_size / max(info.compress_size, 1)
        if total > MAX_UNZIPPED_MB * 1024 * 1024 or (
            ratio > MAX_UNZIP_RATIO and info.file_size > 1024 * 1024
        ):
            raise _fail("zip_bomb", limit=MAX_UNZIPPED_MB)
        members.append(info)
    return members


def _open_zip(path: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise _fail("corrupt", reason=_reason(exc)) from exc


def _extract(archive: zipfile.ZipFile, members: list[zipfile.ZipInfo], target: Path) -> None:
    """Extract members flat into ``target`` (names reduced to their last part), with a hard cap
    on the bytes written in case a member lies about its size."""
    target.mkdir(parents=True, exist_ok=True)
    budget = MAX_UNZIPPED_MB * 1024 * 1024
    for info in members:
        out = target / PurePosixPath(info.filename.replace("\\", "/")).name
        try:
            with archive.open(info) as src, open(out, "wb") as dst:
                while chunk := src.read(1 << 20):
                    budget -= len(chunk)
                    if budget < 0:
                        raise _fail("zip_bomb", limit=MAX_UNZIPPED_MB)
                    dst.write(chunk)
        except (zipfile.BadZipFile, OSError, EOFError, RuntimeError) as exc:
            raise _fail("corrupt", reason=_reason(exc)) from exc


def _unzip_shapefile(path: Path, target: Path) -> Path:
    with _open_zip(path) as archive:
        members = _safe_members(archive)
        shps = [
            m
            for m in members
            if m.filename.lower().endswith(".shp")
            and not PurePosixPath(m.filename).name.startswith(".")
        ]
        if not shps:
            raise _fail("no_shp")
        stem = PurePosixPath(shps[0].filename).with_suffix("")
        wanted = [m for m in members if PurePosixPath(m.filename).with_suffix("") == stem]
        _extract(archive, wanted, target)
    shp = target / PurePosixPath(shps[0].filename).name
    # GDAL looks up the side files by the .shp's exact stem: normalise their suffix case
    for side in target.iterdir():
        side.rename(side.with_name(shp.stem + side.suffix.lower()))
    return shp.with_name(shp.stem + ".shp")


def _unzip_member(path: Path, target: Path, suffixes: tuple[str, ...], missing: str) -> Path:
    with _open_zip(path) as archive:
        members = _safe_members(archive)
        found = [m for m in members if m.filename.lower().endswith(suffixes)]
        if not found:
            raise _fail(missing)
        _extract(archive, found[:1], target)
    return target / PurePosixPath(found[0].filename.replace("\\", "/")).name


# ---- cleaning ----------------------------------------------------------------------------------


def _clean(gdf: gpd.GeoDataFrame, flatten: bool) -> tuple[gpd.GeoDataFrame, int, int, bool]:
    """Reproject to WGS84, refuse or flatten 3D/M, repair invalid polygons, drop empties."""
    try:
        crs = CRS.from_user_input(gdf.crs)
        if crs.to_epsg() != 4326:
            gdf = gdf.to_crs(4326)
    except (CRSError, ValueError) as exc:
        raise _fail("unknown_crs", reason=_reason(exc)) from exc
    geoms: NDArray[np.object_] = np.asarray(gdf.geometry.values)
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    flattened = False
    if shapely.has_m(geoms[present]).any():
        raise _fail("measured")
    if shapely.has_z(geoms[present]).any():
        if not flatten:
            raise _fail("has_z")
        geoms = shapely.force_2d(geoms)
        flattened = True
    if present.any():
        coords = shapely.get_coordinates(geoms[present])
        if not (
            len(coords)
            and pd.notna(coords).all()
            and (abs(coords[:, 0]) <= 180).all()
            and (abs(coords[:, 1]) <= 90).all()
        ):
            raise _fail("out_of_range")
    invalid = present & ~shapely.is_valid(geoms)
    repaired = 0
    geoms = geoms.copy()
    for i in invalid.nonzero()[0]:
        fixed = _repair(geoms[i])
        geoms[i] = fixed
        repaired += fixed is not None
    keep = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    dropped = int(len(geoms) - keep.sum())
    out = gpd.GeoDataFrame(
        gdf.drop(columns=gdf.geometry.name),
        geometry=gpd.GeoSeries(geoms, index=gdf.index, crs=4326),
        crs=4326,
    )
    out = out[keep].reset_index(drop=True)
    return _plain_columns(out), repaired, dropped, flattened


def _repair(geom: shapely.Geometry) -> shapely.Geometry | None:
    """make_valid, keeping only parts of the same dimension (a polygon stays polygonal)."""
    fixed = shapely.make_valid(geom)
    dim = shapely.get_dimensions(geom)
    parts = [
        g
        for g in getattr(fixed, "geoms", [fixed])
        if not g.is_empty and shapely.get_dimensions(g) == dim
    ]
    if not parts:
        return None
    return shapely.union_all(parts) if len(parts) > 1 else parts[0]


def _plain_columns(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Attribute columns as numbers, booleans or text (dates and lists become text)."""
    for col in gdf.columns:
        if col == gdf.geometry.name:
            continue
        series = gdf[col]
        if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
            continue
        gdf[col] = series.map(
            lambda v: "" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)
        )
    gdf.columns = [str(c)[:60] for c in gdf.columns]
    return gdf


# ---- storing ----------------------------------------------------------------------------------

#: ``Layer.path`` of an upload whose features are a feature set of the workspace's store
#: (``store.features``, kind ``upload``, named by the layer's id); any other non-empty path is a
#: file below the data folder written by an older version.
IN_STORE = "store:upload"


def save_upload(
    store: Store,
    lab_id: str,
    layer: UserLayer,
    name: str | None = None,
    style: dict[str, Any] | None = None,
    attribution: str = "",
    by: Actor | None = None,
    layer_id: str | None = None,
    source: str | None = None,
) -> Layer:
    """Store an uploaded layer for a living lab: its features first (a feature set of the
    workspace), then its record; if the record cannot be written the features are removed
    again. ``by`` is judged before anything is written (:class:`PermissionDenied`)."""
    store.require_permission(by, "layers.edit", lab_id)  # before writing anything
    layer_id = layer_id or new_id()
    store.features.write(
        "upload",
        lab_id,
        layer_id,
        layer.gdf,
        {"name": name or layer.name, "feature_count": layer.feature_count},
    )
    try:
        record = Layer(
            id=layer_id,
            lab_id=lab_id,
            name=name or layer.name,
            kind="upload",
            source=source or f"file:{layer.name}",
            attribution=attribution,
            style=style or {"color": DEFAULT_LAYER_COLOUR},
            path=IN_STORE,
            feature_count=layer.feature_count,
        )
        return store.add_layer(record, by=by)
    except BaseException:
        store.features.delete("upload", lab_id, layer_id)
        raise


def load_upload(store: Store, layer: Layer) -> gpd.GeoDataFrame:
    """The features of a stored upload layer (EPSG:4326); :class:`FileNotFoundError` when they
    are missing."""
    if layer.path == IN_STORE:
        gdf = store.features.read("upload", layer.lab_id, layer.id)
        if gdf is None:
            raise FileNotFoundError(f"the features of layer {layer.id}")
        return gdf
    path = (data_dir() / layer.path).resolve()  # written by an older version
    if data_dir().resolve() not in path.parents:
        raise _fail("corrupt", reason=layer.path)
    return gpd.read_parquet(path)


def delete_upload(store: Store, layer: Layer, by: Actor | None = None) -> None:
    """Remove an upload layer's record and its features (they stay when the store refuses
    ``by``)."""
    store.delete_layer(layer.id, by=by)
    if layer.path == IN_STORE:
        store.features.delete("upload", layer.lab_id, layer.id)
    elif layer.path:
        (data_dir() / layer.path).unlink(missing_ok=True)
