"""The map as the browser shows it: the folium map of an export, the self-contained HTML file, and
the PNG snapshot rendered by headless Chromium inside the cartographic frame.

The machine may be offline: Leaflet's files come from the local web assets
(``settings.WEB_ASSETS_DIR``, written by ``scripts/fetch_web_assets.py``); every other request of
the browser is refused, so basemap tiles are missing and the image says so.

It must not fetch anything while rendering: the browser gets the page's assets from
``webassets`` (their CDN addresses are answered locally).
"""

from __future__ import annotations

import base64
import logging
import mimetypes
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict
from urllib.parse import urljoin

import folium
from branca.element import Figure
from folium.features import DivIcon

from workbench.export.content import MapContent, category_colours
from workbench.export.layout import LegendEntry, PageSize, frame_text, legend_entries, page_size
from workbench.i18n import t
from workbench.maps import ANNOTATION_POPUP_CSS, bdi_text, escape_text
from workbench.mapview import drawn_sources, lab_map
from workbench.settings import (
    CHROMIUM_ARGS,
    EXPORT_RENDER_TIMEOUT_S,
    USER_AGENT,
    WEB_ASSETS_DIR,
    chromium_path,
    export_fetch_tiles,
)
from workbench.webassets import local_files

if TYPE_CHECKING:
    from playwright.sync_api import Route, ViewportSize


class RenderReport(TypedDict, total=False):
    """What a Chromium snapshot says of its sources (:func:`render_png_chromium`)."""

    drawn: list[str]  # the tile sources of which tiles were drawn (mapview.tile_sources keys)
    attribution: str  # the footer's text


log = logging.getLogger(__name__)

LEAFLET_JS = "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js"
LEAFLET_CSS = "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.css"
#: The made-up origin the PNG renderer serves its own pages from (never resolved).
ORIGIN = "http://workbench-export.invalid/"


# ---- the folium map ------------------------------------------------------------------------------
def build_map(content: MapContent, numbered: bool = True, controls: bool = True) -> folium.Map:
    """The lab's map as the living-lab map draws it (``mapview.lab_map``: its saved basemap and
    WMS, the site, the visible layers in their styles, the notes from
    ``maps.annotation_features``), with the annotations' numbers of the sheet."""
    m = lab_map(
        content.lab,
        content.layers,
        content.settings,
        content.lang,
        notes=content.annotation_features(),
        controls=False,
        bounds=content.extent(),
        zoom_snap=0.1,
    )
    m.default_js = [("leaflet", LEAFLET_JS)]  # nothing else is needed: fewer files to inline
    m.default_css = [("leaflet_css", LEAFLET_CSS)]
    document(m).header.add_child(folium.Element(f"<style>{ANNOTATION_POPUP_CSS}</style>"))
    if content.annotations and numbered:
        number_markers(content).add_to(m)
    if controls:  # last: the control lists the layers defined before it
        folium.LayerControl(collapsed=True).add_to(m)
    return m


def document(m: folium.Map) -> Figure:
    """The HTML document a map is drawn in (folium gives every map one)."""
    root = m.get_root()
    assert isinstance(root, Figure)
    return root


NUMBER_CSS = (
    "font:bold 12px/20px sans-serif;text-align:center;width:22px;height:22px;"
    "border-radius:11px;background:#fff;color:#111;box-sizing:border-box;"
)


def number_markers(content: MapContent) -> folium.FeatureGroup:
    """The annotations' numbers (the same as in the sheet's table) at a point of each shape."""
    colours = category_colours(content)
    group = folium.FeatureGroup(name=escape_text(t("export.numbers", content.lang)))
    for n in content.annotations:
        p = n.anchor
        colour = escape_text(colours[n.annotation.category])
        html = (
            f'<div class="wb-num" style="{NUMBER_CSS}border:2px solid {colour}">'
            f"{int(n.number)}</div>"
        )
        folium.Marker(
            (p.y, p.x),
            icon=DivIcon(
                html=html, icon_size=(22, 22), icon_anchor=(11, 11), class_name="wb-num-icon"
            ),
            interactive=False,  # a click on a number opens the annotation beneath
        ).add_to(group)
    return group


# ---- local web assets ----------------------------------------------------------------------------
def web_assets(assets_dir: Path | None = None) -> dict[str, Path]:
    """CDN URL → local file (``workbench.webassets``; empty when there are none)."""
    return local_files(assets_dir)


def _data_uri(path: Path) -> str:
    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode()}"


def _inline_css(url: str, assets: dict[str, Path]) -> str:
    css = assets[url].read_text(encoding="utf-8")

    def repl(match: re.Match[str]) -> str:
        ref: str = match.group(2)
        if ref.startswith("data:"):
            return match[0]
        target = urljoin(url, ref.split("#")[0].split("?")[0])
        return f'url("{_data_uri(assets[target])}")' if target in assets else match[0]

    return re.sub(r"url\((['\"]?)([^)'\"]+)\1\)", repl, css)


def self_contained(html: str, assets: dict[str, Path]) -> tuple[str, bool]:
    """Inline the page's CDN scripts and style sheets; returns the HTML and whether all were."""
    complete = True

    def script(match: re.Match[str]) -> str:
        nonlocal complete
        url: str = match.group(1)
        if url not in assets:
            complete = False
            return match[0]
        code = assets[url].read_text(encoding="utf-8").replace("</script", "<\\/script")
        return f"<script>/* {escape_text(url)} */\n{code}\n</script>"

    def link(match: re.Match[str]) -> str:
        nonlocal complete
        url: str = match.group(1)
        if url not in assets:
            complete = False
            return match[0]
        return f"<style>/* {escape_text(url)} */\n{_inline_css(url, assets)}\n</style>"

    html = re.sub(r'<script src="([^"]+)"></script>', script, html)
    html = re.sub(r'<link rel="stylesheet" href="([^"]+)"\s*/?>', link, html)
    return html, complete


# ---- the interactive HTML file -------------------------------------------------------------------
def html_document(content: MapContent, assets_dir: Path | None = None) -> str:
    """One HTML file with the map, title, legend and attribution; opens without the workbench."""
    lang = content.lang
    m = build_map(content)
    root = document(m)
    root.header.add_child(folium.Element(f"<title>{escape_text(content.title)}</title>"))
    root.html.add_child(folium.Element(_overlay_html(content)))
    html, complete = self_contained(root.render(), web_assets(assets_dir))
    if not complete:
        note = escape_text(t("export.html_needs_internet", lang))
        html = html.replace(
            "<body>",
            '<body>\n<div id="wb-offline-note" style="position:fixed;'
            "z-index:2000;top:0;left:0;right:0;background:#fff3cd;padding:6px;"
            f'font:14px sans-serif">{note}</div>\n'
            "<script>window.addEventListener('load',function(){if(window.L)"
            "{document.getElementById('wb-offline-note').remove();}});</script>",
            1,
        )
    return html


def _overlay_html(content: MapContent) -> str:
    """Title, legend and attribution floating over the interactive map (all text escaped)."""
    ft = frame_text(content)
    legend = "".join(_legend_item_html(e) for e in legend_entries(content))
    notes = "".join(f"<div>{escape_text(n)}</div>" for n in ft.notes)
    box = (
        "position:fixed;z-index:1000;background:rgba(255,255,255,.92);padding:8px 12px;"
        "border-radius:6px;box-shadow:0 1px 4px rgba(0,0,0,.3);font:13px sans-serif;"
    )
    return (
        f'<div id="wb-title" style="{box}top:10px;left:60px;max-width:50%">'
        f'<div style="font-size:18px;font-weight:bold">{bdi_text(ft.title)}</div>'
        f"<div>{escape_text(ft.subtitle)}</div><div>{escape_text(ft.date)}</div></div>"
        f'<div id="wb-legend" style="{box}bottom:30px;right:10px;max-width:30%">'
        f"{legend}</div>"
        f'<div id="wb-attribution" style="{box}bottom:30px;left:10px;max-width:55%;'
        f'font-size:11px">{escape_text(ft.attribution)}{notes}</div>'
    )


def _legend_item_html(e: LegendEntry) -> str:
    colour = escape_text(e.colour)
    if e.kind == "site":
        swatch = f"border:2px dashed {colour};background:transparent"
    elif e.kind == "layer":
        swatch = f"background:{colour}59;border:2px solid {colour}"
    else:
        swatch = f"background:{colour};border-radius:50%;border:1px solid #333"
    return (
        f'<div class="wb-legend-item" style="display:flex;align-items:center;margin:2px 0">'
        f'<span style="display:inline-block;width:14px;height:14px;margin-right:8px;'
        f'flex:none;{swatch}"></span>{bdi_text(e.label)}</div>'
    )


# ---- PNG through Chromium ------------------------------------------------------------------------
def chromium_available() -> str | None:
    """Why Chromium cannot render here, or None when it can."""
    missing = chromium_missing()
    return None if missing is None else missing[1]


def chromium_missing() -> tuple[str, str] | None:
    """What the PNG renderer through Chromium lacks here, as ``(key, reason)``: ``browser``
    (no Chromium at ``settings.chromium_path()``), ``playwright`` (the Python package is not
    installed), ``assets`` (no local Leaflet); None when nothing is missing."""
    path = chromium_path()
    if not os.access(path, os.X_OK):
        return "browser", f"no Chromium at {path}"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright", "Playwright for Python is not installed"
    if LEAFLET_JS not in web_assets():
        return "assets", f"no local Leaflet in {WEB_ASSETS_DIR} (run scripts/fetch_web_assets.py)"
    return None


def renderer_help(lang: str = "en") -> str | None:
    """What the export page says when snapshots are drawn without a browser: why, and how to
    enable Chromium here; None when Chromium renders."""
    missing = chromium_missing()
    if missing is None:
        return None
    return t(
        f"export.renderer_enable.{missing[0]}",
        lang,
        path=chromium_path(),
        assets=str(WEB_ASSETS_DIR),
    )


NORTH_ARROW_SVG = (
    '<svg viewBox="0 0 40 60" width="34" height="51" aria-label="N">'
    '<polygon points="20,4 34,44 20,36 6,44" fill="#111" stroke="#fff" stroke-width="1.5"/>'
    '<polygon points="20,4 20,36 6,44" fill="#fff" stroke="#111" stroke-width="1"/>'
    '<text x="20" y="58" text-anchor="middle" font-family="sans-serif" font-weight="bold" '
    'font-size="14" fill="#111">N</text></svg>'
)


def frame_html(content: MapContent, size: PageSize, map_url: str) -> str:
    """The cartographic frame around the map: header, legend, north arrow, attribution, notes."""
    ft = frame_text(content)
    legend = "".join(_legend_item_html(e) for e in legend_entries(content))
    direction = "row" if size.landscape else "column"
    aside = "width:22%;min-width:200px;" if size.landscape else "max-height:24%;"
    notes = "".join(f"<div>⚠ {escape_text(n)}</div>" for n in ft.notes)
    legend_title = escape_text(t("export.legend", content.lang))
    return f"""<!DOCTYPE html><html><head><meta charset="utf-8"><style>
html,body{{margin:0;height:100%;font-family:"DejaVu Sans",sans-serif;color:#111;background:#fff}}
body{{display:flex;flex-direction:column;padding:18px 24px;box-sizing:border-box}}
header{{display:flex;justify-content:space-between;align-items:flex-end;
  border-bottom:2px solid #111;padding-bottom:6px;margin-bottom:10px}}
h1{{font-size:28px;margin:0 0 2px 0}} .sub{{font-size:15px}}
.date{{font-size:14px;white-space:nowrap}}
main{{flex:1;display:flex;flex-direction:{direction};gap:14px;min-height:0}}
.map{{flex:1;position:relative;border:1px solid #555;min-height:0}}
.map iframe{{width:100%;height:100%;border:0;display:block}}
.north{{position:absolute;top:10px;right:10px;background:rgba(255,255,255,.85);
  border-radius:4px;padding:4px 6px 2px}}
aside{{{aside}overflow:hidden;font-size:14px}} aside h2{{font-size:16px;margin:0 0 6px}}
footer{{font-size:11px;margin-top:8px;color:#333}} #notes{{color:#8a3b00;font-size:13px}}
</style></head><body>
<header><div><h1>{bdi_text(ft.title)}</h1><div class="sub">{escape_text(ft.subtitle)}</div></div>
<div class="date">{escape_text(ft.date)}</div></header>
<main><div class="map"><iframe id="map" src="{escape_text(map_url)}"></iframe>
<div class="north">{NORTH_ARROW_SVG}</div></div>
<aside><h2>{legend_title}</h2>{legend}</aside></main>
<footer><div id="attribution">{escape_text(ft.attribution)}</div><div id="notes">{notes}</div>
</footer></body></html>"""


def render_png_chromium(
    content: MapContent,
    size: PageSize | None = None,
    numbered: bool = True,
    report: RenderReport | None = None,
) -> bytes:
    """The PNG snapshot as Chromium draws the map (exactly ``size`` pixels).

    ``report``, when given, receives what the image says of its sources: ``drawn`` (the tile
    sources of which tiles were drawn, ``mapview.tile_sources`` keys) and ``attribution`` (the
    footer's text).

    Runs in a thread of its own: Playwright's sync API refuses a thread with a running event loop
    (Streamlit's, or another Playwright session's).
    """
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(
            _render_png_chromium, content, size, numbered, report if report is not None else {}
        ).result()


def _render_png_chromium(
    content: MapContent, size: PageSize | None, numbered: bool, report: RenderReport
) -> bytes:
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    size = size or page_size()
    lang = content.lang
    assets = web_assets()
    map_html = build_map(content, numbered=numbered, controls=False).get_root().render()
    # Leaflet's own attribution box repeats the footer; the scale bar stays.
    map_html = map_html.replace(
        "</head>",
        "<style>.leaflet-control-attribution,.leaflet-control-zoom{display:none}</style></head>",
        1,
    )
    pages = {ORIGIN + "frame.html": ("", "text/html"), ORIGIN + "map.html": (map_html, "text/html")}
    tiles_refused: list[str] = []
    tiles_failed: list[str] = []
    tiles_loaded: list[str] = []
    fetch_tiles = export_fetch_tiles()

    def handle(route: Route) -> None:
        url = route.request.url
        if url in pages:
            body, mime = pages[url]
            route.fulfill(status=200, content_type=mime + "; charset=utf-8", body=body)
        elif url in assets:
            route.fulfill(status=200, path=str(assets[url]))
        elif fetch_tiles and route.request.resource_type == "image":
            _fetch_tile(route, tiles_loaded, tiles_failed)
        else:
            tiles_refused.append(url)
            route.abort()

    scale = size.scale
    viewport: ViewportSize = {
        "width": round(size.width / scale),
        "height": round(size.height / scale),
    }
    extra: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=chromium_path(), headless=True, args=list(CHROMIUM_ARGS)
        )
        try:
            page = browser.new_page(viewport=viewport, device_scale_factor=scale)
            page.on("requestfailed", lambda r: tiles_failed.append(r.url))
            page.route("**/*", handle)
            pages[ORIGIN + "frame.html"] = (
                frame_html(content, size, ORIGIN + "map.html"),
                "text/html",
            )
            timeout_ms = EXPORT_RENDER_TIMEOUT_S * 1000
            # the frame's own page only: its map and tiles are waited for below, where a map
            # still loading gives a note on the image instead of failing the export
            page.goto(ORIGIN + "frame.html", wait_until="domcontentloaded", timeout=timeout_ms)
            frame = page.frame_locator("#map")
            try:
                frame.locator(".leaflet-container").wait_for(timeout=timeout_ms)
                page.wait_for_load_state("networkidle", timeout=timeout_ms)
            except PlaywrightError:
                extra.append(t("export.note.still_loading", lang))
            if tiles_refused or tiles_failed:
                extra.append(t("export.note.tiles_unavailable", lang))
            # credit exactly the tiles drawn (none offline), with the layers' data dates
            drawn = drawn_sources(content.settings, tiles_loaded)
            report["drawn"] = sorted(drawn)
            report["attribution"] = frame_text(content, drawn=drawn).attribution
            page.evaluate(
                "(text) => { document.getElementById('attribution').textContent = text; }",
                report["attribution"],
            )
            if extra:
                page.evaluate(
                    "(notes) => { const box = document.getElementById('notes');"
                    " for (const n of notes) { const d = document.createElement('div');"
                    " d.textContent = '⚠ ' + n; box.appendChild(d); } }",
                    extra,
                )
            page.wait_for_timeout(150)  # let the canvas finish its last frame
            png = page.screenshot(type="png")
        finally:
            browser.close()
    return _exact_size(png, size)


def _fetch_tile(route: Route, loaded: list[str], failed: list[str]) -> None:
    """Fetch a tile for the page (by Playwright, with the workbench's user agent, as the tile
    servers' usage policies ask) and hand it on; keep its URL in ``loaded`` when it came, so
    that the image credits the sources really drawn."""
    from playwright.sync_api import Error as PlaywrightError

    headers = {**route.request.headers, "user-agent": USER_AGENT}
    try:
        response = route.fetch(headers=headers, timeout=EXPORT_RENDER_TIMEOUT_S * 1000)
    except PlaywrightError:
        failed.append(route.request.url)
        route.abort()
        return
    if response.ok:
        loaded.append(route.request.url)
    else:
        failed.append(route.request.url)
    route.fulfill(response=response)


def _exact_size(png: bytes, size: PageSize) -> bytes:
    """The screenshot at exactly the requested pixels (viewport rounding may differ by one)."""
    import io

    from PIL import Image

    img = Image.open(io.BytesIO(png)).convert("RGB")
    if img.size != (size.width, size.height):
        img = img.resize((size.width, size.height), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    img.save(out, format="PNG", dpi=(size.dpi, size.dpi))
    return out.getvalue()
