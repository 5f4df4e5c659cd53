"""The workshop's data for the GIS office: GeoPackage, GeoJSON (RFC 7946), CSV with WKT.

A GeoPackage holds one layer per kind: ``site`` (the boundary, with the lab, city and network as
attributes, so that the file alone can rebuild them), ``annotations``, ``comments`` (a table without
geometry), ``layers`` (the shown layers' descriptions: OSM themes with their fetch dates, uploaded
layers) and one table per shown layer: ``osm_<theme>`` for an OSM theme (``osm_buildings``), the
layer's own name made a table name for an uploaded layer; each with its human title and source in
``gpkg_contents``. The ``layer_styles`` table holds a QGIS style (QML) and an SLD per map table
(``export.styles``), so that QGIS opens the file looking like the workbench's map.
:func:`import_geopackage` reads such a file into a workspace again.

It owns these three formats both ways: what goes into each table and column, and how an exported
GeoPackage is read back. It must not gather what an export shows (``export.content`` does) nor
draw it (the image formats do). An import must not write before the store's judge has let the
person edit the setup and the layers, nor outside one ``store.batch`` (a refused import leaves
nothing behind), and must not open the file but with the bounded reader of uploads
(``opendata.safe_read``).
"""

from __future__ import annotations

import csv
import io
import json
import re
import tempfile
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import pandas as pd
import pyogrio
import shapely
from shapely.geometry import GeometryCollection, MultiPolygon, Polygon, mapping
from shapely.geometry.base import BaseGeometry
from shapely.geometry.polygon import orient

from workbench.access import Actor
from workbench.errors import ValidationError
from workbench.export.content import Comment, LayerData, MapContent
from workbench.i18n import t
from workbench.maps import spreadsheet_text
from workbench.model import (
    Annotation,
    Category,
    City,
    Layer,
    LivingLab,
    Network,
    clean_id,
    new_id,
    utcnow,
)
from workbench.opendata.safe_read import read_layers
from workbench.settings import COORD_DECIMALS, OSM_ATTRIBUTION
from workbench.store.base import iso

if TYPE_CHECKING:
    from workbench.store import Store

#: A JSON object (GeoJSON geometries, features, properties) as ``json`` reads and writes it.
JsonObject = dict[str, Any]

FORMAT_VERSION = 1
SITE_COLUMNS = {
    "lab_id": "id",
    "title": "title",
    "summary": "summary",
    "status": "status",
    "illustrative": "illustrative",
    "created_at": "created_at",
    "updated_at": "updated_at",
}
#: ``votes``: dots in voting round ``vote_round`` (the current one when exported);
#: ``votes_total``: dots in every round together.
#: ``lang``: the language the note was written in (``text`` is the original);
#: ``translations``: the translations, each marked ``lang (translator): text``.
ANNOTATION_COLUMNS = [
    "id",
    "number",
    "category",
    "text",
    "author",
    "votes",
    "vote_round",
    "votes_total",
    "comments",
    "created_at",
    "updated_at",
    "lang",
    "translations",
]


# ---- frames -------------------------------------------------------------------------------------
def site_frame(content: MapContent) -> gpd.GeoDataFrame:
    lab, city, net = content.lab, content.city, content.network
    row = {
        "lab_id": lab.id,
        "title": lab.title,
        "summary": lab.summary,
        "status": lab.status,
        "themes": json.dumps(list(lab.themes), ensure_ascii=False),
        "principles": json.dumps(list(lab.principles)),
        "sdg_targets": json.dumps(list(lab.sdg_targets)),
        "illustrative": int(lab.illustrative),
        "created_at": iso(lab.created_at),
        "updated_at": iso(lab.updated_at),
        "city_id": city.id,
        "city_name": city.name,
        "city_country": city.country,
        "city_lon": city.lon,
        "city_lat": city.lat,
        "city_illustrative_only": int(city.illustrative_only),
        "city_network_ids": json.dumps(list(city.network_ids)),
        "network_id": net.id,
        "network_name": net.name,
        "network_countries": json.dumps(list(net.countries)),
        "network_description": net.description,
        "network_created_at": iso(net.created_at),
        "attribution": OSM_ATTRIBUTION,
        "format_version": FORMAT_VERSION,
    }
    return gpd.GeoDataFrame([row], geometry=[lab.boundary], crs=4326)


def annotations_frame(content: MapContent) -> gpd.GeoDataFrame:
    rows = [
        {
            "id": n.annotation.id,
            "number": n.number,
            "category": n.annotation.category,
            "text": n.annotation.text,
            "author": n.annotation.author,
            "votes": n.votes,
            "vote_round": content.vote_round,
            "votes_total": n.all_votes,
            "comments": len(n.comments),
            "created_at": iso(n.annotation.created_at),
            "updated_at": iso(n.annotation.updated_at),
            "lang": n.annotation.lang,
            "translations": n.translations_text,
        }
        for n in content.annotations
    ]
    frame = pd.DataFrame(rows, columns=ANNOTATION_COLUMNS).astype(
        {
            "number": "int64",
            "votes": "int64",
            "votes_total": "int64",
            "comments": "int64",
            "vote_round": "Int64",
        }
    )
    geoms = [n.annotation.geometry for n in content.annotations]
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, crs=4326), crs=4326)


def comments_frame(content: MapContent) -> pd.DataFrame:
    rows = [
        {
            "annotation_id": n.annotation.id,
            "number": n.number,
            "author": c.author,
            "text": c.text,
            "created_at": iso(c.created_at),
        }
        for n in content.annotations
        for c in n.comments
    ]
    return pd.DataFrame(rows, columns=["annotation_id", "number", "author", "text", "created_at"])


def layers_table(content: MapContent) -> pd.DataFrame:
    names = layer_table_names(content)
    rows = [
        {
            "table": names[i - 1],
            "layer_id": layer.layer_id or "",
            "name": layer.name,
            "kind": layer.kind,
            "theme": layer.theme or "",
            "attribution": layer.attribution,
            "fetched_at": iso(layer.fetched_at) if layer.fetched_at else "",
            "style": json.dumps(layer.own_style or layer.style, ensure_ascii=False, sort_keys=True),
            "feature_count": len(layer.frame),
            "data_date": layer.data_date or "",
            "coverage": layer.coverage or "",
        }
        for i, layer in enumerate(content.layers, start=1)
    ]
    return pd.DataFrame(
        rows,
        columns=[
            "table",
            "layer_id",
            "name",
            "kind",
            "theme",
            "attribution",
            "fetched_at",
            "style",
            "feature_count",
            "data_date",
            "coverage",
        ],
    )


def categories_table(content: MapContent) -> pd.DataFrame:
    """The workspace's own categories the lab's annotations use (built-in ones need no row), so
    that the file can be imported into a workspace that does not have them."""
    used = {n.annotation.category for n in content.annotations}
    rows = [
        {
            "code": c.code,
            "colour": c.colour,
            "labels": json.dumps(c.labels, ensure_ascii=False, sort_keys=True),
        }
        for c in content.category_defs
        if not c.builtin and c.code in used
    ]
    return pd.DataFrame(rows, columns=["code", "colour", "labels"])


#: Tables of the export itself, and prefixes SQLite and GeoPackage keep for their own.
RESERVED_TABLES = frozenset(
    {"site", "annotations", "comments", "layers", "categories", "notes", "layer_styles"}
)
_RESERVED_PREFIXES = ("gpkg_", "rtree_", "sqlite_")


def layer_table_names(content: MapContent) -> list[str]:
    """The table of each shown layer: ``osm_<theme code>`` (language-neutral) for an OSM
    theme, the layer's name as a table name for an uploaded layer (``Bäume 2024`` →
    ``bäume_2024``); each unique, none of the export's own."""
    names: list[str] = []
    for layer in content.layers:
        if layer.kind == "osm" and layer.theme:
            base = f"osm_{layer.theme}"
        else:
            base = re.sub(r"\W+", "_", layer.name.casefold()).strip("_")[:60] or "layer"
            if base[0].isdigit():
                base = f"layer_{base}"
        name, n = base, 2
        while name in RESERVED_TABLES or name in names or name.startswith(_RESERVED_PREFIXES):
            name, n = f"{base}_{n}", n + 1
        names.append(name)
    return names


def _geometry_type(frame: gpd.GeoDataFrame) -> tuple[str, bool]:
    """The table's geometry type (the Multi type when all features are of one kind, so QGIS
    opens one layer) and whether to promote single parts to it."""
    kinds = {str(g).replace("Multi", "") for g in frame.geom_type.dropna().unique()}
    if len(kinds) == 1 and kinds <= {"Point", "LineString", "Polygon"}:
        return "Multi" + kinds.pop(), True
    return "Unknown", False


def _clean_layer(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """A layer's features ready for a file: WGS84, column names GeoPackage accepts."""
    frame = frame.to_crs(4326) if frame.crs is not None else frame.set_crs(4326)
    # Columns of Python objects (lists, dicts from OSM) become JSON text.
    for col in frame.columns:
        if col != frame.geometry.name and frame[col].dtype == object:
            frame[col] = frame[col].map(
                lambda v: v if v is None or isinstance(v, str) else json.dumps(v, default=str)
            )
    return frame


# ---- GeoPackage ----------------------------------------------------------------------------------
def write_geopackage(content: MapContent, path: str | Path) -> Path:
    """One GeoPackage, one layer per kind; an empty lab gives empty layers and a note."""
    path = Path(path)
    path.unlink(missing_ok=True)
    lang = content.lang
    pyogrio.write_dataframe(
        site_frame(content),
        path,
        layer="site",
        driver="GPKG",
        geometry_type="Polygon" if content.lab.boundary.geom_type == "Polygon" else "MultiPolygon",
        layer_options={"IDENTIFIER": t("map.site", lang), "DESCRIPTION": content.lab.title[:200]},
    )
    pyogrio.write_dataframe(
        annotations_frame(content),
        path,
        layer="annotations",
        driver="GPKG",
        geometry_type="Unknown",
        append=False,
        layer_options={"IDENTIFIER": t("export.annotations", lang)},
    )
    _write_table(comments_frame(content), path, "comments")
    _write_table(layers_table(content), path, "layers")
    _write_table(categories_table(content), path, "categories")
    titles = _unique(
        [layer.name for layer in content.layers],
        {t("map.site", content.lang), t("export.annotations", content.lang)},
    )
    for name, layer, title in zip(layer_table_names(content), content.layers, titles, strict=True):
        frame = _clean_layer(layer.frame)
        geometry_type, promote = _geometry_type(frame)
        pyogrio.write_dataframe(
            frame,
            path,
            layer=name,
            driver="GPKG",
            geometry_type=geometry_type,
            promote_to_multi=promote,
            layer_options={"IDENTIFIER": title, "DESCRIPTION": _description(layer, content)},
        )
    write_layer_styles(content, path)
    notes = pd.DataFrame({"note": content.notes or [""]})
    _write_table(notes, path, "notes")
    return path


def _unique(titles: list[str], taken: set[str]) -> list[str]:
    """``titles`` made unique (``gpkg_contents.identifier`` is): a repeat gets " (2)" …"""
    out: list[str] = []
    for title in titles:
        candidate, n = title, 2
        while candidate in taken or candidate in out:
            candidate, n = f"{title} ({n})", n + 1
        out.append(candidate)
    return out


def _description(layer: LayerData, content: MapContent) -> str:
    """A table's description in ``gpkg_contents``: kind, source and the data's date."""
    when = (layer.data_date or "")[:10] or t("comparison.date_unknown", content.lang)
    if layer.kind == "osm":
        return t(
            "export.gpkg.osm_description",
            content.lang,
            theme=layer.theme or "",
            date=when,
            attribution=layer.attribution or OSM_ATTRIBUTION,
        )
    return t(
        "export.gpkg.upload_description",
        content.lang,
        date=when,
        attribution=layer.attribution or "—",
    )


def write_layer_styles(content: MapContent, path: Path) -> None:
    """The ``layer_styles`` table QGIS reads: a QML and an SLD per map table, as default."""
    from workbench.export.content import category_colours, category_label
    from workbench.export.styles import (
        Symbol,
        categorized_qml,
        single_qml,
        sld,
        symbol_kind,
    )
    from workbench.settings import SITE_COLOUR

    rows = []

    def add(table: str, qml: str, sld_text: str, title: str) -> None:
        geometry = pyogrio.read_info(path, layer=table).get("geometry_name") or "geom"
        rows.append(
            {
                "f_table_catalog": "",
                "f_table_schema": "",
                "f_table_name": table,
                "f_geometry_column": geometry,
                "styleName": table[:30],
                "styleQML": qml,
                "styleSLD": sld_text,
                "useAsDefault": True,
                "description": title,
                "owner": "",
                "ui": "",
                "update_time": iso(content.created_at),
            }
        )

    site = Symbol("fill", SITE_COLOUR, fill_opacity=0.05, width_px=3, dashed=True)
    site_title = t("map.site", content.lang)
    add("site", single_qml(site), sld("site", [(None, site_title, site)]), site_title)
    kind = symbol_kind([n.annotation.geometry.geom_type for n in content.annotations])
    colours = category_colours(content)
    cats = [
        (
            code,
            category_label(code, content.lang, content),
            Symbol(
                kind,
                colours[code],
                fill_opacity=0.9 if kind == "marker" else 0.12,
                width_px=3,
                radius_px=8,
            ),
        )
        for code in content.categories()
    ]
    if cats:
        add(
            "annotations",
            categorized_qml("category", cats),
            sld("annotations", cats, field="category"),
            t("export.annotations", content.lang),
        )
    for table, layer in zip(layer_table_names(content), content.layers, strict=True):
        kind = symbol_kind(list(layer.frame.geom_type.dropna()))
        own = layer.own_style or {}
        symbol = Symbol(
            kind,
            layer.colour,
            fill_opacity=float(own.get("fillOpacity", 0.12)) if layer.kind == "osm" else 0.12,
            width_px=max(float(own.get("weight", 2.5)), 0.5) if layer.kind == "osm" else 2.5,
            radius_px=layer.radius,
        )
        add(table, single_qml(symbol), sld(table, [(None, layer.name, symbol)]), layer.name)
    frame = pd.DataFrame(
        rows,
        columns=[
            "f_table_catalog",
            "f_table_schema",
            "f_table_name",
            "f_geometry_column",
            "styleName",
            "styleQML",
            "styleSLD",
            "useAsDefault",
            "description",
            "owner",
            "ui",
            "update_time",
        ],
    )
    pyogrio.write_dataframe(
        frame, path, layer="layer_styles", driver="GPKG", layer_options={"FID": "id"}
    )


def _write_table(frame: pd.DataFrame, path: Path, layer: str) -> None:
    """A table without geometry (GeoPackage "attributes" table)."""
    if frame.empty:  # GDAL needs at least the columns' types: give every column text
        frame = frame.astype(str)
    pyogrio.write_dataframe(frame, path, layer=layer, driver="GPKG")


def geopackage_bytes(content: MapContent) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        return write_geopackage(content, Path(tmp) / "export.gpkg").read_bytes()


def read_geopackage(path: str | Path) -> dict[str, pd.DataFrame]:
    """Every layer of an exported GeoPackage by name."""
    return {
        name: pyogrio.read_dataframe(path, layer=name) for name, _kind in pyogrio.list_layers(path)
    }


# ---- GeoJSON (RFC 7946) --------------------------------------------------------------------------
def rfc7946_geometry(geom: BaseGeometry, precision: int = COORD_DECIMALS) -> JsonObject:
    """GeoJSON geometry: WGS84 lon/lat, polygons with counter-clockwise exterior rings
    (the right-hand rule of RFC 7946 §3.1.6), coordinates rounded to ``precision`` decimals."""
    if isinstance(geom, GeometryCollection):
        geom = GeometryCollection([_oriented(g) for g in geom.geoms])
    else:
        geom = _oriented(geom)
    rounded: JsonObject = _rounded(mapping(geom), precision)
    return rounded


def _rounded(value: Any, precision: int) -> Any:
    if isinstance(value, float):
        return round(value, precision)
    if isinstance(value, dict):
        return {k: _rounded(v, precision) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_rounded(v, precision) for v in value]
    return value


def _oriented(g: BaseGeometry) -> BaseGeometry:
    if isinstance(g, Polygon):
        return orient(g, sign=1.0)
    if isinstance(g, MultiPolygon):
        return MultiPolygon([orient(p, sign=1.0) for p in g.geoms])
    return g


def _json_value(v: Any) -> Any:
    if v is None or isinstance(v, str | int | float | bool):
        if isinstance(v, float) and v != v:  # NaN is not JSON
            return None
        return v
    if hasattr(v, "isoformat"):
        return v.isoformat()
    if hasattr(v, "item"):
        return _json_value(v.item())
    return str(v)


def features(content: MapContent) -> list[JsonObject]:
    """All features of an export, each with ``kind`` (site, annotation, layer) and ``layer``."""
    out = []
    site_row = site_frame(content).drop(columns="geometry").iloc[0].to_dict()
    site = {str(k): v for k, v in site_row.items()}
    out.append(_feature(content.lab.boundary, {"kind": "site", "layer": "site", **site}))
    for _, row in annotations_frame(content).iterrows():
        props = {k: _json_value(row[k]) for k in ANNOTATION_COLUMNS}
        out.append(_feature(row.geometry, {"kind": "annotation", "layer": "annotations", **props}))
    for layer in content.layers:
        frame = _clean_layer(layer.frame)
        cols = [c for c in frame.columns if c != frame.geometry.name]
        for geom, values in zip(frame.geometry, frame[cols].itertuples(index=False), strict=True):
            if geom is None or geom.is_empty:
                continue
            props = {c: _json_value(v) for c, v in zip(cols, values, strict=True)}
            out.append(_feature(geom, {**props, "kind": "layer", "layer": layer.name}))
    return out


def _feature(geom: BaseGeometry, props: JsonObject) -> JsonObject:
    return {
        "type": "Feature",
        "geometry": rfc7946_geometry(geom),
        "properties": {k: _json_value(v) for k, v in props.items()},
    }


def geojson_bytes(content: MapContent) -> bytes:
    """One RFC 7946 FeatureCollection (no ``crs`` member; lon/lat WGS84)."""
    doc: JsonObject = {"type": "FeatureCollection", "features": features(content)}
    minx, miny, maxx, maxy = content.extent()
    doc["bbox"] = [round(v, COORD_DECIMALS) for v in (minx, miny, maxx, maxy)]
    if content.notes:  # a foreign member (RFC 7946 §6.1): what the file does not hold
        doc["notes"] = content.notes
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


# ---- CSV -----------------------------------------------------------------------------------------
CSV_COLUMNS = [
    "kind",
    "layer",
    "id",
    "number",
    "category",
    "text",
    "author",
    "votes",
    "vote_round",
    "votes_total",
    "comments",
    "created_at",
    "updated_at",
    "lang",
    "translations",
    "wkt",
]


def csv_bytes(content: MapContent) -> bytes:
    """Site, annotations and layers' features, one row each, geometry as WKT (UTF-8 with BOM so
    spreadsheet programs read umlauts and Cyrillic right)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    lab = content.lab
    safe = spreadsheet_text
    writer.writerow(
        {
            "kind": "site",
            "layer": "site",
            "id": lab.id,
            "text": safe(lab.title),
            "created_at": iso(lab.created_at),
            "updated_at": iso(lab.updated_at),
            "wkt": shapely.to_wkt(lab.boundary, rounding_precision=COORD_DECIMALS),
        }
    )
    for n in content.annotations:
        a = n.annotation
        writer.writerow(
            {
                "kind": "annotation",
                "layer": "annotations",
                "id": a.id,
                "number": n.number,
                "category": a.category,
                "text": safe(a.text),
                "author": safe(a.author),
                "votes": n.votes,
                "vote_round": content.vote_round,
                "votes_total": n.all_votes,
                "comments": len(n.comments),
                "created_at": iso(a.created_at),
                "updated_at": iso(a.updated_at),
                "lang": a.lang,
                "translations": safe(n.translations_text),
                "wkt": shapely.to_wkt(a.geometry, rounding_precision=COORD_DECIMALS),
            }
        )
    for layer in content.layers:
        for i, geom in enumerate(layer.frame.to_crs(4326).geometry):
            if geom is not None and not geom.is_empty:
                writer.writerow(
                    {
                        "kind": "layer",
                        "layer": safe(layer.name),
                        "id": str(i),
                        "wkt": shapely.to_wkt(geom, rounding_precision=COORD_DECIMALS),
                    }
                )
    for note in content.notes:
        writer.writerow({"kind": "note", "text": safe(note)})
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def indicators_csv_bytes(content: MapContent) -> bytes:
    """The lab's indicators as the comparison page writes them (``compare.table_csv``): one row
    per indicator with raw value, unit, data date, comparability, reason and notes."""
    from workbench.compare import Site, table_csv

    if content.indicators is None:
        buf = io.StringIO()
        csv.writer(buf).writerow([t("export.note.no_indicators", content.lang)])
        return ("\ufeff" + buf.getvalue()).encode("utf-8")
    site = Site(label=content.title, country=content.city.country, result=content.indicators)
    return table_csv([site], content.lang)


# ---- import -------------------------------------------------------------------------------------
def _text(v: Any) -> str:
    return "" if v is None or (isinstance(v, float) and v != v) else str(v)


def read_import_layers(path: str | Path) -> dict[str, pd.DataFrame]:
    """Every layer of a GeoPackage to import, read into memory: the one place the import opens
    the file. Only a local, regular file is opened, by the same locked-down, bounded reader as
    uploads (:func:`workbench.opendata.safe_read.read_layers`: SQLite header, GPKG driver only,
    no views, no network, no other file)."""
    path = Path(path)
    text = str(path)
    if text.startswith("/vsi") or "://" in text or not path.is_file():
        raise ValidationError("export.import_unreadable")
    try:
        return read_layers(path, "gpkg")
    except ValidationError as exc:
        raise ValidationError("export.import_unreadable") from exc


def _json_list(v: Any) -> tuple[str, ...]:
    """A column holding a JSON list of texts (``themes``, ``city_network_ids`` ...)."""
    value = json.loads(_text(v) or "[]")
    if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
        raise ValidationError("export.import_not_export")
    return tuple(value)


def _time(v: Any) -> datetime:
    """A column holding a time (ISO 8601, as :func:`iso` writes it); the export writes every
    record's times, so a missing or unreadable one means the file is not an export."""
    try:
        return datetime.fromisoformat(_text(v))
    except ValueError as exc:
        raise ValidationError("export.import_not_export") from exc


def import_geopackage(store: Store, path: str | Path, by: Actor | None = None) -> str:
    """Rebuild the living lab of an exported GeoPackage in ``store``; returns the lab's id.

    Network, city, lab, the workspace categories it uses, annotations (same ids and times),
    uploaded layers (stored as uploads again) and OSM themes (into the OSM cache, when not
    cached yet) are added; records already there are kept. Every id read from the file must be
    a UUID (``model.clean_id``), style colours colour values. All of it is one transaction
    (``store.batch``): when anything is refused, no record and no file of the import remains.
    ``by`` (the command line passes ``access.SYSTEM``) needs ``setup.edit`` and ``layers.edit``;
    both are checked before anything is written.
    """
    path = Path(path)
    tables = read_import_layers(path)
    if not {"site", "annotations"} <= tables.keys() or len(tables["site"]) != 1:
        raise ValidationError("export.import_not_export")
    written: list[tuple[str, str, str]] = []
    try:
        with store.batch():
            lab_id = _import_records(store, path, tables, by, written)
    except BaseException:
        for kind, lab, name in written:  # the feature sets it wrote
            store.features.delete(kind, lab, name)
        raise
    return lab_id


def _import_records(
    store: Store,
    path: Path,
    tables: dict[str, pd.DataFrame],
    by: Actor | None,
    written: list[tuple[str, str, str]],
) -> str:
    """The writes of :func:`import_geopackage`, inside its transaction; feature sets it writes
    are listed in ``written`` (removed by the caller when the import fails)."""
    s = tables["site"].iloc[0]
    lab_id = clean_id(s["lab_id"], "site.lab_id")
    network_id = clean_id(s["network_id"], "site.network_id")
    city_id = clean_id(s["city_id"], "site.city_id")
    city_networks = tuple(
        clean_id(n, "site.city_network_ids") for n in _json_list(s["city_network_ids"])
    )
    for action in ("setup.edit", "layers.edit"):
        store.require_permission(by, action, lab_id)
    store.add_network(
        Network(
            id=network_id,
            name=_text(s["network_name"]),
            countries=_json_list(s["network_countries"]),
            description=_text(s["network_description"]),
            created_at=_time(s["network_created_at"]),
        ),
        by=by,
    )
    store.add_city(
        City(
            id=city_id,
            name=_text(s["city_name"]),
            country=_text(s["city_country"]),
            lon=float(s["city_lon"]),
            lat=float(s["city_lat"]),
            network_ids=city_networks,
            illustrative_only=bool(s["city_illustrative_only"]),
        ),
        by=by,
    )
    store.add_lab(
        LivingLab(
            id=lab_id,
            city_id=city_id,
            network_id=network_id,
            title=_text(s["title"]),
            boundary=s.geometry,
            summary=_text(s["summary"]),
            themes=_json_list(s["themes"]),
            principles=_json_list(s["principles"]),
            sdg_targets=_json_list(s["sdg_targets"]),
            status=_text(s["status"]),
            illustrative=bool(s["illustrative"]),
            created_at=_time(s["created_at"]),
            updated_at=_time(s["updated_at"]),
        ),
        by=by,
    )
    if "categories" in tables:
        _import_categories(store, tables["categories"], by)
    for _, r in tables["annotations"].iterrows():
        store.add_annotation(
            Annotation(
                id=clean_id(r["id"], "annotations.id"),
                lab_id=lab_id,
                geometry=r.geometry,
                category=_text(r["category"]),
                text=_text(r["text"]),
                author=_text(r["author"]),
                created_at=_time(r["created_at"]),
                updated_at=_time(r["updated_at"]),
            ),
            by=by,
        )
    for _, r in tables.get("layers", pd.DataFrame()).iterrows():
        _import_layer(store, lab_id, path, tables, r, by, written)
    return lab_id


def _import_categories(store: Store, frame: pd.DataFrame, by: Actor | None) -> None:
    """The file's own categories that the workspace lacks are added (a workspace's own
    category of the same code is kept as it is)."""
    known = set(store.annotation_categories())
    for _, r in frame.iterrows():
        code = _text(r["code"])
        if code in known:
            continue
        labels = json.loads(_text(r["labels"]) or "{}")
        if not isinstance(labels, dict):
            raise ValidationError("export.import_not_export")
        store.save_category(
            Category(
                code=code,
                colour=_text(r["colour"]),
                labels={str(k): _text(v) for k, v in labels.items()},
            ),
            by=by,
        )
        known.add(code)


def _import_layer(
    store: Store,
    lab_id: str,
    path: Path,
    tables: dict[str, pd.DataFrame],
    r: pd.Series,
    by: Actor | None,
    written: list[tuple[str, str, str]],
) -> None:
    """An exported OSM theme goes back into the workspace's OSM cache (with its fetch date)
    unless it is cached already; an uploaded layer becomes an upload of the lab again (same
    id, its features a feature set of the workspace)."""
    from workbench.opendata.cache import KIND, save_theme, theme_meta
    from workbench.opendata.files import IN_STORE
    from workbench.opendata.themes import THEMES

    frame = tables.get(_text(r["table"]))
    if not isinstance(frame, gpd.GeoDataFrame):  # missing, or a table without geometry
        raise ValidationError("export.import_not_export")
    frame = frame.set_crs(4326) if frame.crs is None else frame.to_crs(4326)
    theme = _text(r.get("theme"))
    if _text(r["kind"]) == "osm":
        if theme in THEMES and theme_meta(store, lab_id, theme) is None:
            written.append((KIND, lab_id, theme))
            extra = {k: _text(r.get(k)) for k in ("data_date", "coverage") if _text(r.get(k))}
            save_theme(
                store,
                lab_id,
                theme,
                frame,
                {
                    "fetched_at": _text(r.get("fetched_at")) or iso(utcnow()),
                    "source": f"import:{path.name}",
                    "attribution": _text(r["attribution"]) or OSM_ATTRIBUTION,
                    **extra,
                },
                by=by,
            )
        return
    layer_id = clean_id(_text(r["layer_id"]) or new_id(), "layers.layer_id")
    style = json.loads(_text(r["style"]) or "{}")
    if not isinstance(style, dict):
        raise ValidationError("export.import_not_export")
    layer = store.add_layer(
        Layer(
            id=layer_id,
            lab_id=lab_id,
            name=_text(r["name"]),
            kind="upload",
            source=f"import:{path.name}",
            attribution=_text(r["attribution"]),
            style=style,
            path=IN_STORE,
            feature_count=len(frame),
        ),
        by=by,
    )
    kept = layer.lab_id == lab_id and store.features.meta("upload", lab_id, layer_id)
    if layer.lab_id == lab_id and not kept:  # a layer kept as it was keeps its features
        written.append(("upload", lab_id, layer_id))
        store.features.write(
            "upload", lab_id, layer_id, frame, {"name": layer.name, "feature_count": len(frame)}
        )


__all__ = [
    "write_geopackage",
    "geopackage_bytes",
    "read_geopackage",
    "geojson_bytes",
    "csv_bytes",
    "indicators_csv_bytes",
    "import_geopackage",
    "features",
    "rfc7946_geometry",
    "Comment",
    "LayerData",
]
