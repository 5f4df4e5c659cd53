"""Using the map pages with the keyboard alone (and a phone without the drawing toolbar).

- :class:`AddHere`: the living-lab map's "Add a note here" button (``add_here.js``), a point at
  the centre of the current view, reported as a drawing is;
- :func:`skip_link`: "Skip the map", before a map, to what follows it (``skip.js``);
- :data:`MAP_FOCUS_CSS` and :data:`PAGE_FOCUS_CSS`: a focus outline that is always visible,
  inside the maps (Leaflet's controls, the map itself, which pans with the arrow keys) and on
  the page.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import folium
import streamlit as st
from branca.element import Figure, MacroElement
from jinja2 import Template

HERE = Path(__file__).parent
FOCUS = "3px solid #0b57d0"  # 7.3:1 against white, 3:1 and more against the basemaps

#: Inside a map's iframe: the focused control or map outlined; the "Add a note here" button.
MAP_FOCUS_CSS = f"""<style>
.leaflet-container :focus-visible {{outline: {FOCUS} !important; outline-offset: 1px;}}
.leaflet-container:focus-visible {{outline: {FOCUS} !important; outline-offset: -3px;}}
.wb-add-here {{position: absolute; left: 50%; bottom: 28px; transform: translateX(-50%);
  z-index: 800; display: flex; flex-direction: column; align-items: center;
  pointer-events: none;}}
.wb-add-here-button {{pointer-events: auto; font: 600 15px/1.2 system-ui, sans-serif;
  color: #fff; background: #0b57d0; border: 2px solid #fff; border-radius: 8px;
  padding: 8px 14px; box-shadow: 0 1px 5px rgba(0,0,0,0.45); cursor: pointer;
  white-space: nowrap;}}
.wb-add-here-button:hover {{background: #0842a0;}}
.wb-add-here-button:focus-visible {{outline: 3px solid #000 !important; outline-offset: 2px;}}
.wb-add-here-cross {{display: none; position: absolute; left: 50%; top: 50%; z-index: 800;
  width: 28px; height: 28px; transform: translate(-50%, -50%); pointer-events: none; background:
  linear-gradient(#000, #000) center / 2px 100% no-repeat,
  linear-gradient(#000, #000) center / 100% 2px no-repeat;
  filter: drop-shadow(0 0 1px #fff) drop-shadow(0 0 1px #fff);}}
.leaflet-container:has(.wb-add-here-button:hover, .wb-add-here-button:focus)
  .wb-add-here-cross {{display: block;}}
@media (max-width: 480px), (pointer: coarse) {{
  .wb-add-here {{bottom: auto; top: calc(50% + 22px);}}
  .wb-add-here-button {{font-size: 18px; min-height: 48px; padding: 10px 20px;}}
  .wb-add-here-cross {{display: block;}}
}}
</style>"""

#: On the page: the focused element outlined (Streamlit's own rings are faint on some widgets).
PAGE_FOCUS_CSS = f"""<style>
a:focus-visible, button:focus-visible, summary:focus-visible, [tabindex]:focus-visible,
iframe:focus-visible {{outline: {FOCUS} !important; outline-offset: 2px;}}
</style>"""

#: The skip link (in its component): shown only while it has the focus.
SKIP_CSS = f"""
a.wb-skip {{position: absolute; left: -10000px; top: auto; width: 1px; height: 1px;
  overflow: hidden;}}
a.wb-skip:focus {{position: static; width: auto; height: auto; display: inline-block;
  margin: 0.2rem 0; padding: 0.4rem 0.8rem; background: #fff; color: #0b57d0;
  font: 600 1rem/1.4 "Source Sans", sans-serif; border-radius: 0.4rem;
  outline: {FOCUS}; outline-offset: 0;}}
"""


class AddHere(MacroElement):
    """The "Add a note here" button of a map that has the drawing tools; its look is in
    :data:`MAP_FOCUS_CSS` (add it with :func:`map_focus`)."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        {{ this.js }}
        wbAddHere({{ this._parent.get_name() }}, {{ this.texts|tojson }});
        {% endmacro %}
    """)

    def __init__(self, label: str, title: str) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # branca has no type hints
        self._name = "AddHere"
        self.texts = {"label": label, "title": title}  # set as text, never as HTML
        self.js = _add_here_js()


class FillFrame(MacroElement):
    """The map as high as its frame once the frame has its height: st_folium gives the map a
    fixed height, and where the page's CSS makes the frame lower (a phone) the map's lower
    part, its scale bar and attribution are cut off, and the centre of the view (where "Add a
    note here" puts the point) is not the middle of what one sees. The map keeps its centre."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        (function (map) {
            var fit = function () {
                var box = map.getContainer(), h = window.innerHeight;
                if (h < 100 || box.offsetHeight === h) { return; }  // not laid out yet
                box.style.height = h + "px";
                map.invalidateSize({pan: true});
            };
            window.addEventListener("resize", fit);
            map.whenReady(fit);
        })({{ this._parent.get_name() }});
        {% endmacro %}
    """)

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # branca has no type hints
        self._name = "FillFrame"


@cache
def _add_here_js() -> str:
    return (HERE / "add_here.js").read_text(encoding="utf-8")


def map_focus(m: folium.Map) -> folium.Map:
    """A visible focus outline inside ``m`` (its controls and the map itself)."""
    root = m.get_root()
    assert isinstance(root, Figure)  # a folium map's root is its HTML figure
    root.header.add_child(folium.Element(MAP_FOCUS_CSS), name="wb_focus_css")
    return m


def skip_link(label: str, target: str) -> None:
    """A "Skip the map" link here: Enter moves the focus to the element ``target`` (a CSS
    selector) on the page. Visible while it has the focus (``PAGE_FOCUS_CSS``)."""
    name = re.sub(r"[^A-Za-z0-9]+", "-", target).strip("-")
    _skip_component()(key=f"skip-{name}", data={"label": label, "target": target})


@cache
def _skip_component():  # type: ignore[no-untyped-def]
    js = (HERE / "skip.js").read_text(encoding="utf-8")
    return st.components.v2.component("workbench_skip", js=js, css=SKIP_CSS)
