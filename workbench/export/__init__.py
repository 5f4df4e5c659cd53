"""Exports of a living lab: PNG map snapshots, the PDF workshop sheet, an interactive HTML map, and
the data (GeoPackage, GeoJSON, CSV with WKT, indicators CSV); named snapshots.

Typical use::

    content = gather(store, lab_id, lang="de")            # what the map shows
    png = render_png(content, page_size("a4-landscape", 300))
    data = export_bytes(content, "gpkg")

or in one call ``export_lab(store, lab_id, "pdf")``. No Streamlit here, and no write to the
store but a snapshot through ``Store.add_snapshot`` (which judges the writer).
"""

from __future__ import annotations

import re

from workbench.errors import ValidationError
from workbench.export.content import (
    Comment,
    LayerData,
    MapContent,
    NumberedAnnotation,
    add_indicators,
    category_colours,
    category_label,
    gather,
)
from workbench.export.data import (
    csv_bytes,
    geojson_bytes,
    geopackage_bytes,
    import_geopackage,
    indicators_csv_bytes,
    read_geopackage,
    write_geopackage,
)
from workbench.export.layout import SIZE_NAMES, PageSize, page_size
from workbench.export.render import RENDERERS, render_png
from workbench.export.snapshots import (
    SnapshotDiff,
    diff_snapshot,
    snapshot_content,
    snapshot_settings,
    take_snapshot,
)
from workbench.store import Store

FORMATS = ("png", "pdf", "html", "gpkg", "geojson", "csv", "indicators-csv")
MIME = {
    "png": "image/png",
    "pdf": "application/pdf",
    "html": "text/html",
    "gpkg": "application/geopackage+sqlite3",
    "geojson": "application/geo+json",
    "csv": "text/csv",
    "indicators-csv": "text/csv",
}
EXTENSION = {
    "png": "png",
    "pdf": "pdf",
    "html": "html",
    "gpkg": "gpkg",
    "geojson": "geojson",
    "csv": "csv",
    "indicators-csv": "csv",
}


def export_bytes(
    content: MapContent, fmt: str, size: PageSize | None = None, renderer: str = "auto"
) -> bytes:
    """``content`` in one of :data:`FORMATS` (the PDF and the indicators CSV add the lab's
    indicators to ``content`` when it has none yet)."""
    if fmt in ("pdf", "indicators-csv"):
        add_indicators(content)
    if fmt == "png":
        return render_png(content, size, renderer)
    if fmt == "pdf":
        from workbench.export.pdf import pdf_bytes

        png = render_png(content, page_size("a4-landscape", 150), renderer)
        return pdf_bytes(content, png)
    if fmt == "html":
        from workbench.export.web import html_document

        return html_document(content).encode("utf-8")
    if fmt == "gpkg":
        return geopackage_bytes(content)
    if fmt == "geojson":
        return geojson_bytes(content)
    if fmt == "csv":
        return csv_bytes(content)
    if fmt == "indicators-csv":
        return indicators_csv_bytes(content)
    raise ValidationError("export.bad_format", value=fmt, choices=", ".join(FORMATS))


def export_lab(
    store: Store,
    lab_id: str,
    fmt: str,
    *,
    lang: str = "en",
    size: PageSize | None = None,
    renderer: str = "auto",
    bounds: tuple[float, float, float, float] | None = None,
    themes: list[str] | None = None,
) -> bytes:
    """Gather ``lab_id`` from ``store`` and export it in ``fmt``; ``themes`` are the cached OSM
    themes shown (all when None)."""
    if fmt not in FORMATS:
        raise ValidationError("export.bad_format", value=fmt, choices=", ".join(FORMATS))
    content = gather(
        store,
        lab_id,
        lang=lang,
        bounds=bounds,
        themes=themes,
        with_indicators=fmt in ("pdf", "indicators-csv"),
    )
    return export_bytes(content, fmt, size, renderer)


def file_name(content: MapContent, fmt: str) -> str:
    """A file name for a download: the lab's title made safe, the date, the extension."""
    stem = re.sub(r"[^\w-]+", "_", content.title, flags=re.UNICODE).strip("_")[:60] or "lab"
    suffix = "_indicators" if fmt == "indicators-csv" else ""
    return f"{stem}_{content.created_at:%Y-%m-%d}{suffix}.{EXTENSION[fmt]}"


__all__ = [
    "FORMATS",
    "MIME",
    "SIZE_NAMES",
    "RENDERERS",
    "Comment",
    "LayerData",
    "MapContent",
    "NumberedAnnotation",
    "PageSize",
    "SnapshotDiff",
    "add_indicators",
    "category_colours",
    "category_label",
    "csv_bytes",
    "diff_snapshot",
    "export_bytes",
    "export_lab",
    "file_name",
    "gather",
    "geojson_bytes",
    "geopackage_bytes",
    "import_geopackage",
    "indicators_csv_bytes",
    "page_size",
    "read_geopackage",
    "render_png",
    "snapshot_content",
    "snapshot_settings",
    "take_snapshot",
    "write_geopackage",
]
