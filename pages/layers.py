"""Data layers: OSM themes (fetch, refresh, import an extract), the city's own files, basemaps
and WMS, previewed on the living lab's map.

Changing the layers is for owners and facilitators (``layers.edit``). Uploads and their removal
are judged by the store; the OSM cache is files outside the store, so before fetching or
importing the page asks the store's judge (``store.require_permission``). Buttons are disabled
for everyone else as a courtesy only."""

import tempfile
from pathlib import Path

import folium
import streamlit as st

from workbench.errors import WorkbenchError
from workbench.maps import context_layers, context_legend_html, context_map, wms_layer
from workbench.model import SOURCE_THEMES
from workbench.opendata import cache
from workbench.opendata.basemaps import BASEMAPS, validate_wms
from workbench.opendata.files import (
    UPLOAD_TYPES,
    delete_upload,
    list_layers,
    read_user_file,
    save_upload,
)
from workbench.opendata.osm import (
    EmptyFetch,
    EmptyImport,
    ImportReport,
    fetch_themes,
    import_extract,
)
from workbench.opendata.themes import THEMES
from workbench.ui import (
    fmt_datetime,
    fmt_number,
    html_block,
    lang,
    md_escape,
    plain,
    require_lab,
    show_error,
    show_map,
    store,
    t,
    t_md,
)
from workbench.ui.access import allowed, current_actor

THEMES_KEY = "layers_themes"
WMS_KEY = "layers_wms"
MAP_KEY = "layers_map"
EMPTY_KEY = "layers_empty_fetch"
CONFIRM_KEY = "layers_empty_confirmed"
IMPORT_EMPTY_KEY = "layers_empty_import"
IMPORT_CONFIRM_KEY = "layers_empty_import_confirmed"

lab = require_lab()
s = store()
actor = current_actor(s, lab.id)
can_edit = allowed(actor, "layers.edit", s.phase(lab.id))
st.title(t("opendata.page.title"))
st.caption(t("opendata.page.intro"))
if not can_edit:
    st.info(t("guard.read_only.layers"), icon="🔒")


def theme_label(code: str) -> str:
    meta = cache.theme_meta(lab.id, code)
    label = t(THEMES[code].label_key)
    if meta is None:
        return label
    return t("opendata.page.theme_cached", theme=label, count=meta["feature_count"])


def show_report(report: ImportReport) -> None:
    st.success(t("opendata.page.report", total=report.total, themes=len(report.counts),
                 seconds=report.elapsed_s), icon="✅")
    if report.skipped_ways or report.skipped_relations:
        st.info(t("opendata.page.skipped", ways=report.skipped_ways,
                  relations=report.skipped_relations), icon="ℹ️")
    st.caption(t("comparison.page.report_date",
                 date=(report.data_date or "")[:10] or t("comparison.date_unknown"),
                 source=t(f"comparison.date_source.{report.data_date_source}"),
                 share=100 * (report.covered_share if report.covered_share is not None else 1)))


def progress_bar():  # type: ignore[no-untyped-def]
    bar = st.progress(0.0, text=t("opendata.stage.read"))

    def update(fraction: float, stage: str) -> None:
        bar.progress(fraction, text=t(f"opendata.stage.{stage}"))

    return update


controls, preview = st.columns([2, 3], gap="large")

with controls:
    # ---- OSM themes -----------------------------------------------------------------------
    st.subheader(t("opendata.page.osm"))
    cached = cache.cached_themes(lab.id)
    if THEMES_KEY not in st.session_state:
        st.session_state[THEMES_KEY] = cached or ["buildings", "green", "streets"]
    chosen = st.multiselect(t("opendata.page.themes"), list(THEMES), key=THEMES_KEY,
                            format_func=theme_label, placeholder=t("common.choose_options"))
    buffer_m = st.number_input(t("opendata.page.buffer"), min_value=0, max_value=2000,
                               value=500, step=100, key="layers_buffer")
    if cached:
        metas = [cache.theme_meta(lab.id, c) for c in cached]
        newest = max(m["fetched_at"] for m in metas if m)
        sources = sorted({m["source"] for m in metas if m})
        st.caption(t("opendata.page.cache_state", when=fmt_datetime(newest),
                     sources=", ".join(sources)))
    else:
        st.caption(t("opendata.page.nothing_cached"))
    fetch_now = st.button(t("opendata.page.fetch"), type="primary",
                          disabled=not chosen or not can_edit, key="layers_fetch",
                          help=t("opendata.page.fetch_help"))
    replace_empty = bool(st.session_state.pop(CONFIRM_KEY, None))  # set by the button below
    emptied = st.session_state.get(EMPTY_KEY)  # themes an empty reply would have emptied
    if emptied and not (fetch_now or replace_empty):
        st.warning(t("fetch_safety.page.empty_warning",
                     themes=", ".join(t(THEMES[c].label_key) for c in emptied)), icon="⚠️")
        st.button(t("fetch_safety.page.replace_empty"), key="layers_fetch_empty",
                  disabled=not can_edit, help=t("fetch_safety.page.replace_empty_help"),
                  on_click=lambda: st.session_state.update({CONFIRM_KEY: True}))
    if fetch_now or replace_empty:
        st.session_state.pop(EMPTY_KEY, None)
        try:
            s.require_permission(actor, "layers.edit", lab.id)
            with st.spinner(t("opendata.stage.download")):
                show_report(fetch_themes(lab, chosen, buffer_m=float(buffer_m),
                                         progress=progress_bar(), allow_empty=replace_empty))
        except EmptyFetch as exc:  # nothing replaced; ask before emptying cached themes
            st.session_state[EMPTY_KEY] = exc.themes
            st.rerun()
        except WorkbenchError as exc:
            show_error(exc)
            if cached:
                st.info(t("opendata.page.kept_cache"), icon="💾")

    with st.expander(t("opendata.page.import")):
        st.caption(t("opendata.page.import_help"))
        extract = st.file_uploader(t("opendata.page.import_file"),
                                   type=["osm", "pbf", "gz", "bz2", "xml"], key="layers_extract")
        import_now = st.button(t("opendata.page.import_go"),
                               disabled=extract is None or not can_edit, key="layers_import")
        import_empty = bool(st.session_state.pop(IMPORT_CONFIRM_KEY, None)) and extract is not None
        refused = st.session_state.get(IMPORT_EMPTY_KEY)  # (file name, themes) last refused
        if refused and not (import_now or import_empty):
            st.warning(t("comparison.import_empty", name=refused[0], themes=", ".join(
                t(THEMES[c].label_key) for c in refused[1])), icon="⚠️")
            st.button(t("fetch_safety.page.replace_empty"), key="layers_import_empty",
                      disabled=not can_edit or extract is None,
                      on_click=lambda: st.session_state.update({IMPORT_CONFIRM_KEY: True}))
        if import_now or import_empty:
            st.session_state.pop(IMPORT_EMPTY_KEY, None)
            try:
                s.require_permission(actor, "layers.edit", lab.id)
                with tempfile.TemporaryDirectory(prefix="wb-extract-") as tmp:
                    path = Path(tmp) / Path(extract.name).name
                    path.write_bytes(extract.getvalue())
                    show_report(import_extract(path, lab, buffer_m=float(buffer_m),
                                               themes=chosen or None, progress=progress_bar(),
                                               allow_empty=import_empty))
            except EmptyImport as exc:  # nothing replaced; ask before emptying cached themes
                st.session_state[IMPORT_EMPTY_KEY] = (extract.name, exc.themes)
                st.rerun()
            except WorkbenchError as exc:
                show_error(exc)
    earlier = [c for c in cached if cache.previous_meta(lab.id, c)]
    if earlier:
        with st.expander(t("comparison.page.earlier")):
            pick = st.selectbox(t("comparison.page.earlier_theme"), earlier, key="layers_restore",
                                format_func=theme_label)
            before = cache.previous_meta(lab.id, pick) or {}
            st.caption(t("comparison.page.earlier_state", count=before.get("feature_count", 0),
                         when=fmt_datetime(before.get("fetched_at")),
                         date=(before.get("data_date") or "")[:10]
                         or t("comparison.date_unknown")))
            if st.button(t("comparison.page.restore"), key="layers_restore_go",
                         disabled=not can_edit):
                try:
                    s.require_permission(actor, "layers.edit", lab.id)
                    meta = cache.restore_theme(lab.id, pick)
                    st.success(t("comparison.restored", theme=theme_label(pick),
                                 count=meta["feature_count"],
                                 date=(meta.get("data_date") or "")[:10]
                                 or t("comparison.date_unknown")))
                except WorkbenchError as exc:
                    show_error(exc)

    # ---- the city's own files ---------------------------------------------------------------
    st.subheader(t("opendata.page.uploads"))
    st.caption(t("comparison.clip_rule"))
    upload = st.file_uploader(t("opendata.page.upload_file"), type=UPLOAD_TYPES,
                              key="layers_upload", help=t("opendata.page.upload_help"))
    if upload is not None:
        data = upload.getvalue()
        layer_name = None
        try:
            names = list_layers(upload.name, data)
        except WorkbenchError as exc:
            names = []
            show_error(exc)
        if len(names) > 1:
            layer_name = st.selectbox(t("opendata.page.upload_layer"), names,
                                      key="layers_upload_layer")
        with st.form("layers_upload_form"):
            title = st.text_input(t("opendata.page.upload_name"),
                                  value=Path(upload.name).stem[:120])
            colour = st.color_picker(t("opendata.page.upload_colour"), "#0072B2")
            if st.form_submit_button(t("opendata.page.upload_go"), type="primary",
                                     disabled=not can_edit):
                try:
                    user_layer = read_user_file(upload.name, data, layer=layer_name)
                    saved = save_upload(s, lab.id, user_layer, name=title or None,
                                        style={"color": colour}, by=actor)
                    st.success(t_md("opendata.page.upload_done", name=saved.name,
                                 count=saved.feature_count), icon="✅")
                    if user_layer.repaired or user_layer.dropped:
                        st.info(t("opendata.page.upload_repaired", repaired=user_layer.repaired,
                                  dropped=user_layer.dropped), icon="🛠️")
                    if user_layer.flattened:
                        st.info(t("opendata.page.upload_flattened"), icon="ℹ️")
                except WorkbenchError as exc:
                    show_error(exc)
    uploads = s.list_layers(lab.id, kind="upload")
    for layer in uploads:
        c1, c2 = st.columns([4, 1])
        with c1:
            plain(f"{layer.name} · {fmt_number(layer.feature_count)}")
            choice = st.selectbox(
                t("comparison.page.source_for"), ["", *SOURCE_THEMES],
                index=(["", *SOURCE_THEMES]).index(layer.source_for or ""),
                key=f"layers_source_{layer.id}", disabled=not can_edit,
                help=t("comparison.page.source_help"),
                format_func=lambda c: t(f"comparison.source.{c}") if c
                else t("comparison.page.source_none"))
            if choice != (layer.source_for or ""):
                try:
                    s.set_layer_source(layer.id, choice, by=actor)
                    st.rerun()
                except WorkbenchError as exc:
                    show_error(exc)
        if c2.button("🗑️", key=f"layers_delete_{layer.id}", help=t("opendata.page.delete"),
                     disabled=not can_edit):
            try:
                delete_upload(s, layer, by=actor)
                st.rerun()
            except WorkbenchError as exc:
                show_error(exc)

    # ---- basemaps and WMS -------------------------------------------------------------------
    st.subheader(t("opendata.page.basemap"))
    basemap = st.selectbox(t("opendata.page.basemap"), list(BASEMAPS), key="layers_basemap",
                           format_func=lambda c: t(BASEMAPS[c].label_key),
                           label_visibility="collapsed")
    with st.expander(t("opendata.page.wms")):
        with st.form("layers_wms_form"):
            wms_url = st.text_input(t("opendata.page.wms_url"), placeholder="https://…/wms")
            wms_name = st.text_input(t("opendata.page.wms_layer"))
            if st.form_submit_button(t("opendata.page.wms_add")):
                try:
                    url, name = validate_wms(wms_url, wms_name)
                    st.session_state.setdefault(WMS_KEY, [])
                    if (url, name) not in st.session_state[WMS_KEY]:
                        st.session_state[WMS_KEY].append((url, name))
                except WorkbenchError as exc:
                    show_error(exc)
        for url, name in st.session_state.get(WMS_KEY, []):
            plain(f"{name} · {url}", caption=True)
        if st.session_state.get(WMS_KEY) and st.button(t("opendata.page.wms_clear")):
            st.session_state[WMS_KEY] = []
            st.rerun()

with preview:
    shown = [c for c in chosen if c in cache.cached_themes(lab.id)]
    opacities: dict[str, float] = {}
    with st.expander(t("opendata.page.opacity")):
        for code in shown:
            opacities[code] = st.slider(t(THEMES[code].label_key), 0.0, 1.0, 1.0, 0.1,
                                        key=f"layers_opacity_{code}")
        for layer in uploads:
            opacities[layer.id] = st.slider(md_escape(layer.name), 0.0, 1.0, 1.0, 0.1,
                                            key=f"layers_opacity_{layer.id}")
    groups = context_layers(lab.id, shown, lang(), store=s, opacities=opacities)
    for url, name in st.session_state.get(WMS_KEY, []):
        group = folium.FeatureGroup(name=f"WMS: {name}")
        wms_layer(url, name, name).add_to(group)
        groups.append(group)
    m = context_map(lab, lang(), basemap, t("map.site"))
    show_map(m, key=MAP_KEY, height=560, use_container_width=True, returned_objects=[],
              feature_group_to_add=groups, layer_control=folium.LayerControl(collapsed=True))
    legend = context_legend_html(lab.id, shown, lang())
    if legend:
        html_block(legend)
    missing = [c for c in chosen if c not in shown]
    if missing:
        st.caption(t("opendata.page.not_cached",
                     themes=", ".join(t(THEMES[c].label_key) for c in missing)))
