"""Streamlit helpers shared by the pages (the only place besides pages/ that imports streamlit).

It must not hold a rule of the library: the store judges every write, the pages only show what
it allows and its refusals.
"""

from __future__ import annotations

import copy
import re
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import streamlit as st

from workbench import i18n
from workbench.errors import WorkbenchError
from workbench.model import City, LivingLab
from workbench.settings import DEFAULT_LANGUAGE, DEMO_WORKSPACE, database_url
from workbench.store import Store, workspace_exists

if TYPE_CHECKING:
    import folium
    from streamlit.components.v2.types import ComponentRenderer

LANG_KEY = "lang"
WORKSPACE_KEY = "workspace"
LAB_KEY = "lab_id"


def lang() -> str:
    code: str = st.session_state.get(LANG_KEY, DEFAULT_LANGUAGE)
    return code


def t(key: str, **params: Any) -> str:
    """Translate into the language chosen in the sidebar."""
    return i18n.t(key, lang(), **params)


def fmt_number(value: float | int | None, digits: int = 0) -> str:
    return i18n.fmt_number(value, lang(), digits)


def fmt_datetime(value: datetime | str | None) -> str:
    return i18n.fmt_datetime(value, lang())


@st.cache_resource(show_spinner=False)
def _store(workspace: str, url: str) -> Store:
    from workbench.demo import open_workspace

    return open_workspace(workspace)


def store() -> Store:
    """The store of the workspace chosen in the sidebar (opened once per process and URL); a
    name that is not an existing workspace falls back to the demo (never creates one)."""
    workspace = st.session_state.get(WORKSPACE_KEY, DEMO_WORKSPACE)
    if workspace != DEMO_WORKSPACE and not workspace_exists(workspace):
        workspace = st.session_state[WORKSPACE_KEY] = DEMO_WORKSPACE
    return _store(workspace, database_url(workspace))


#: Request headers that a reverse proxy adds: such a request may come from anywhere.
_PROXY_HEADERS = ("x-forwarded-for", "forwarded", "x-real-ip")


def server_host() -> str | None:
    """The address this server listens on (``server.address``), as ``workbench.hosting``
    judges open set-up by it; None (treated as public) when it listens on every interface or
    this session's request came through a reverse proxy."""
    try:
        headers = {k.lower() for k in (st.context.headers or {}).keys()}
    except Exception:  # noqa: BLE001 - no request context (tests, scripts)
        headers = set()
    if headers & set(_PROXY_HEADERS):
        return None
    return st.get_option("server.address") or None


def room_base() -> tuple[str, bool]:
    """The address for this server's join links and QR codes, and whether other devices can
    reach it (``workbench.workshop.room_base`` over this request and the server's settings)."""
    from streamlit import net_util

    from workbench.settings import public_url
    from workbench.workshop import room_base as decide

    try:
        browser = st.context.url
    except Exception:  # noqa: BLE001 - no request context (tests, scripts)
        browser = None
    listen = st.get_option("server.address")
    ip = None if listen and listen not in ("0.0.0.0", "::") else net_util.get_internal_ip()
    return decide(browser, listen, st.get_option("server.port"), public_url(), ip)


# Everything Streamlit's markdown (CommonMark + GFM, plus its own ``:red[…]``, ``:emoji:``,
# ``$math$`` and, in labels, links and images) may read as syntax; "&" so that no entity is read.
_MD_SPECIAL = frozenset("\\`*_{}[]()#+-.!|<>~:$&=^\"'")


def md_escape(text: object) -> str:
    """User text made literal for Streamlit markdown: ``st.markdown``/``write``/``caption``,
    alerts, toasts, and every label or help text (no links, images, HTML or formatting).

    The one helper for this job: every user string that reaches markdown goes through it
    (or through :func:`t_md` when it is a parameter of a translated message)."""
    out = []
    for line in str(text).splitlines() or [""]:
        body = line.lstrip(" \t")
        indent = "&nbsp;" * (len(line) - len(body)) if body else ""  # no indented code blocks
        out.append(indent + "".join("\\" + ch if ch in _MD_SPECIAL else ch for ch in body))
    return "  \n".join(out)


def t_md(key: str, **params: Any) -> str:
    """A translated message for markdown, its text parameters (user text) escaped."""
    return t(key, **{k: md_escape(v) if isinstance(v, str) else v for k, v in params.items()})


def error_text(exc: WorkbenchError) -> str:
    """An error's translated message for markdown, its text parameters escaped."""
    shown = copy.copy(exc)
    shown.params = {
        k: v if k == "field" or not isinstance(v, str) else md_escape(v)
        for k, v in exc.params.items()
    }
    return shown.message(lang())


def plain(text: str, caption: bool = False) -> None:
    """Show user text as plain text in the page's normal font."""
    (st.caption if caption else st.markdown)(md_escape(text))


# kept as they are in html_block: whole style/script elements, tags, character references
_TAG_OR_RAW = re.compile(r"(<(style|script)\b.*?</\2\s*>|<[^>]*>|&#?\w+;)", re.S | re.I)


#: Between tags, the characters that could start a link, image, emphasis or formula.
_HTML_MD = frozenset("\\`*_[]()!~$")


def html_block(markup: str) -> None:
    """Show HTML built by ``workbench.maps``/``export`` (which escape all user text).

    Streamlit still reads markdown between the tags; there every character that could start a
    link, image, emphasis or formula (and the colon of ``://``, an autolink) becomes an HTML
    character reference, which the browser shows as the same character."""
    parts = _TAG_OR_RAW.split(markup)
    out = []
    for i in range(0, len(parts), 3):
        text = parts[i].replace("://", "&#58;//")
        out.append("".join(f"&#{ord(ch)};" if ch in _HTML_MD else ch for ch in text))
        if i + 1 < len(parts):
            out.append(parts[i + 1])  # a tag, a whole style/script element, a reference
    st.markdown("".join(out), unsafe_allow_html=True)


def show_error(exc: WorkbenchError) -> None:
    st.error(error_text(exc), icon="⚠️")


def current_lab() -> LivingLab | None:
    """The living lab chosen in the sidebar, or None."""
    lab_id = st.session_state.get(LAB_KEY)
    if not lab_id:
        return None
    try:
        return store().get_lab(lab_id)
    except WorkbenchError:
        return None


def select_lab(lab_id: str | None) -> None:
    st.session_state[LAB_KEY] = lab_id
    if lab_id:
        st.query_params["lab"] = lab_id
    elif "lab" in st.query_params:
        del st.query_params["lab"]


def lab_label(lab: LivingLab, cities: dict[str, City]) -> str:
    city = cities.get(lab.city_id)
    return f"{city.name} — {lab.title}" if city else lab.title


def require_lab() -> LivingLab:
    """The chosen living lab; stops the page with a hint when none is chosen."""
    lab = current_lab()
    if lab is None:
        st.info(t("common.choose_lab"), icon="👈")
        st.stop()
    return lab


#: Streamlit's own English texts that ``builtins.js`` translates (``builtin.<name>`` keys).
BUILTIN_TEXTS = (
    "upload",
    "add_files",
    "drop",
    "per_file",
    "enter_apply",
    "enter_submit",
    "ctrl_enter_apply",
    "ctrl_enter_submit",
    "no_results",
    "choose_options",
    "choose_option",
    "not_allowed",
)


def translate_builtins() -> None:
    """Put Streamlit's own texts (the file uploader's "Upload" and "200MB per file", "Press
    Enter to apply", "No results") into the page's language: Streamlit writes them in English
    and offers no parameter (``builtins.js``). Called once per run, from the sidebar. Lists'
    "Choose options" is the ``placeholder`` the pages pass."""
    texts = {name: t(f"builtin.{name}") for name in BUILTIN_TEXTS}
    _builtins_component()(key="workbench_builtins", height=0, data={"texts": texts})


@cache
def _builtins_component() -> ComponentRenderer:
    js = (Path(__file__).parent / "builtins.js").read_text(encoding="utf-8")
    return st.components.v2.component("workbench_builtins", js=js)


def scroll_into_view(
    selector: str,
    token: str,
    *,
    block: str = "start",
    only_if_hidden: bool = False,
    focus: str | None = None,
) -> None:
    """Scroll the page element ``selector`` into view, once per ``token`` (a new token scrolls
    again), unless it already is in view (``only_if_hidden``: unless any of it is); ``focus``:
    then give the focus to the first element inside it that matches this CSS selector."""
    name = re.sub(r"[^A-Za-z0-9]+", "-", selector).strip("-")
    _scroll_component()(
        key=f"scroll-{name}",
        height=0,
        data={
            "selector": selector,
            "token": token,
            "block": block,
            "onlyIfHidden": only_if_hidden,
            "focus": focus,
        },
    )


@cache
def _scroll_component() -> ComponentRenderer:
    js = (Path(__file__).parent / "scroll.js").read_text(encoding="utf-8")
    return st.components.v2.component("workbench_scroll", js=js)


#: Colours of the app's small print with a contrast of at least 4.5:1 (WCAG 2.2 AA, 1.4.3):
#: Streamlit's captions (#828180 on white: 3.9:1; in the sidebar faded further) and the labels
#: of disabled widgets (#acabaa: 2.3:1) are too faint. Added to every page by the sidebar.
CONTRAST_CSS = """
<style>
[data-testid="stCaptionContainer"], [data-testid="stCaptionContainer"] p {color: #5c5b5a !important;
  opacity: 1 !important;}
label[data-testid="stWidgetLabel"][disabled] {color: #6b6a69 !important;}
</style>
"""

#: The map's height on a phone: by the viewport, leaving room for the form below it (the map
#: page's CSS; st_folium takes only a height in pixels).
PHONE_MAP_CSS = """
<style>
@media (max-width: 640px) {
  .st-key-annotate_map_box iframe[title="streamlit_folium.st_folium"] {
    height: clamp(240px, 52vh, 560px) !important;
  }
}
</style>
"""


def venue_tiles(lab_id: str) -> tuple[str, int] | None:
    """The URL template and highest zoom of the lab's venue tiles on this app's own server
    (``workbench venue prepare``), or None when it has none (or it cannot be read)."""
    from workbench.errors import ValidationError
    from workbench.opendata.venue import TILE_PATH, venue_info

    try:
        info = venue_info(lab_id)
    except ValidationError:
        return None
    if not info or not info.get("tiles"):
        return None
    base = (st.get_option("server.baseUrlPath") or "").strip("/")
    path = TILE_PATH.replace("{lab}", lab_id)
    return "/" + "/".join(p for p in (base, path) if p), int(info.get("maxzoom") or 17)


def show_map(m: folium.Map, key: str, **kwargs: Any) -> dict[str, Any]:
    """``st_folium`` for every map of the app: Leaflet & co. come from the app's own server
    where their local copies exist (``workbench.webassets``), so maps show without internet."""
    from streamlit_folium import st_folium

    from workbench.settings import WEB_ASSETS_URL
    from workbench.webassets import use_local_assets

    if st.get_option("server.enableStaticServing"):
        base = (st.get_option("server.baseUrlPath") or "").strip("/")
        use_local_assets(m, "/" + "/".join(p for p in (base, WEB_ASSETS_URL) if p))
    state: dict[str, Any] = st_folium(m, key=key, **kwargs)  # what the map reported
    return state
