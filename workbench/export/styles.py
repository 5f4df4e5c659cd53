"""The workbench's map styles for GIS programs: a QGIS style (QML) and an OGC Styled Layer
Descriptor (SLD 1.0) per table of an exported GeoPackage, stored in the ``layer_styles`` table
QGIS reads when it opens the file, so the layers look as on the workbench's map.

Areas are drawn with a light fill and a strong outline; annotations are coloured by category
(``maps.category_colours``). A QGIS layer has one geometry type: a table that mixes kinds is
styled for the kind most of its features have.

Text only: it must not read the store or the caches.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from matplotlib.colors import to_rgba

#: CSS pixels in millimetres (QGIS sizes are in mm; 96 px per inch).
MM_PER_PX = 25.4 / 96
QGIS_VERSION = "3.34.0-Prizren"


@dataclass(frozen=True)
class Symbol:
    """How one kind of feature is drawn: ``kind`` is ``fill``, ``line`` or ``marker``."""

    kind: str
    colour: str
    fill_opacity: float = 0.12
    width_px: float = 2.5
    radius_px: float = 5.0
    dashed: bool = False
    outline: str | None = None  # a marker's outline colour (default: ``colour``)


def symbol_kind(geom_types: Sequence[str]) -> str:
    """The QGIS symbol type for a table whose features have ``geom_types`` (most common)."""
    counts = {"fill": 0, "line": 0, "marker": 0}
    for g in geom_types:
        if "Polygon" in g:
            counts["fill"] += 1
        elif "LineString" in g:
            counts["line"] += 1
        elif "Point" in g:
            counts["marker"] += 1
    if not any(counts.values()):
        return "fill"
    return max(counts, key=lambda k: (counts[k], k == "fill"))


def _rgba(colour: str, alpha: float = 1.0) -> str:
    r, g, b, _a = to_rgba(colour)
    return f"{round(r * 255)},{round(g * 255)},{round(b * 255)},{round(alpha * 255)}"


def _options(values: dict[str, str]) -> str:
    items = "".join(
        f'<Option name={quoteattr(k)} type="QString" value={quoteattr(v)}/>'
        for k, v in values.items()
    )
    return f'<Option type="Map">{items}</Option>'


def _symbol_xml(symbol: Symbol, name: str) -> str:
    width = f"{symbol.width_px * MM_PER_PX:.3f}"
    if symbol.kind == "fill":
        layer = (
            '<layer class="SimpleFill" enabled="1" locked="0" pass="0">'
            + _options(
                {
                    "color": _rgba(symbol.colour, symbol.fill_opacity),
                    "outline_color": _rgba(symbol.colour),
                    "outline_width": width,
                    "outline_width_unit": "MM",
                    "style": "no" if symbol.fill_opacity == 0 else "solid",
                    "outline_style": "dash" if symbol.dashed else "solid",
                    "joinstyle": "round",
                }
            )
            + "</layer>"
        )
    elif symbol.kind == "line":
        layer = (
            '<layer class="SimpleLine" enabled="1" locked="0" pass="0">'
            + _options(
                {
                    "line_color": _rgba(symbol.colour),
                    "line_width": width,
                    "line_width_unit": "MM",
                    "line_style": "dash" if symbol.dashed else "solid",
                    "capstyle": "round",
                    "joinstyle": "round",
                }
            )
            + "</layer>"
        )
    else:
        layer = (
            '<layer class="SimpleMarker" enabled="1" locked="0" pass="0">'
            + _options(
                {
                    "name": "circle",
                    "color": _rgba(symbol.colour, max(symbol.fill_opacity, 0.9)),
                    "outline_color": _rgba(symbol.outline or "#ffffff"),
                    "outline_width": f"{1 * MM_PER_PX:.3f}",
                    "outline_width_unit": "MM",
                    "size": f"{2 * symbol.radius_px * MM_PER_PX:.3f}",
                    "size_unit": "MM",
                }
            )
            + "</layer>"
        )
    return (
        f'<symbol type="{symbol.kind}" name={quoteattr(name)} alpha="1" '
        f'clip_to_extent="1" force_rhr="0">{layer}</symbol>'
    )


def _qml(renderer: str) -> str:
    return (
        "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
        f'<qgis version="{QGIS_VERSION}" styleCategories="Symbology">{renderer}</qgis>\n'
    )


def single_qml(symbol: Symbol) -> str:
    """A QGIS style drawing every feature with ``symbol``."""
    return _qml(
        '<renderer-v2 type="singleSymbol" symbollevels="0" forceraster="0" '
        f'enableorderby="0"><symbols>{_symbol_xml(symbol, "0")}</symbols>'
        "</renderer-v2>"
    )


def categorized_qml(field: str, categories: Sequence[tuple[str, str, Symbol]]) -> str:
    """A QGIS style colouring features by the value of ``field``: ``(value, label, symbol)``."""
    cats = "".join(
        f'<category render="true" symbol="{i}" value={quoteattr(value)} label={quoteattr(label)}/>'
        for i, (value, label, _s) in enumerate(categories)
    )
    symbols = "".join(_symbol_xml(s, str(i)) for i, (_v, _l, s) in enumerate(categories))
    return _qml(
        f'<renderer-v2 type="categorizedSymbol" attr={quoteattr(field)} '
        'symbollevels="0" forceraster="0" enableorderby="0">'
        f"<categories>{cats}</categories><symbols>{symbols}</symbols></renderer-v2>"
    )


def _sld_symbolizers(symbol: Symbol) -> str:
    """Symbolizers for every kind (an SLD reader applies those fitting each feature)."""
    width = f"{symbol.width_px:.2f}"
    dash = '<CssParameter name="stroke-dasharray">6 4</CssParameter>' if symbol.dashed else ""
    stroke = (
        f'<Stroke><CssParameter name="stroke">{escape(symbol.colour)}</CssParameter>'
        f'<CssParameter name="stroke-width">{width}</CssParameter>{dash}</Stroke>'
    )
    polygon = (
        "<PolygonSymbolizer><Fill>"
        f'<CssParameter name="fill">{escape(symbol.colour)}</CssParameter>'
        f'<CssParameter name="fill-opacity">{symbol.fill_opacity:.2f}</CssParameter>'
        f"</Fill>{stroke}</PolygonSymbolizer>"
    )
    point = (
        "<PointSymbolizer><Graphic><Mark><WellKnownName>circle</WellKnownName>"
        f'<Fill><CssParameter name="fill">{escape(symbol.colour)}</CssParameter></Fill>'
        f'<Stroke><CssParameter name="stroke">{escape(symbol.outline or "#ffffff")}'
        "</CssParameter></Stroke></Mark>"
        f"<Size>{2 * symbol.radius_px:.1f}</Size></Graphic></PointSymbolizer>"
    )
    return {"fill": polygon, "line": f"<LineSymbolizer>{stroke}</LineSymbolizer>", "marker": point}[
        symbol.kind
    ]


def sld(name: str, rules: Sequence[tuple[str | None, str, Symbol]], field: str = "") -> str:
    """An SLD 1.0 document: one rule per ``(value or None for all, title, symbol)``."""
    parts = []
    for value, title, symbol in rules:
        condition = (
            ""
            if value is None
            else (
                "<ogc:Filter><ogc:PropertyIsEqualTo>"
                f"<ogc:PropertyName>{escape(field)}</ogc:PropertyName>"
                f"<ogc:Literal>{escape(value)}</ogc:Literal></ogc:PropertyIsEqualTo></ogc:Filter>"
            )
        )
        parts.append(
            f"<Rule><Name>{escape(title)}</Name><Title>{escape(title)}</Title>"
            f"{condition}{_sld_symbolizers(symbol)}</Rule>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<StyledLayerDescriptor version="1.0.0" xmlns="http://www.opengis.net/sld" '
        'xmlns:ogc="http://www.opengis.net/ogc">'
        f"<NamedLayer><Name>{escape(name)}</Name><UserStyle><Title>{escape(name)}</Title>"
        f"<FeatureTypeStyle>{''.join(parts)}</FeatureTypeStyle></UserStyle></NamedLayer>"
        "</StyledLayerDescriptor>\n"
    )
