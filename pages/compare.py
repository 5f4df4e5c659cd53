"""Compare 2 to 6 living labs from any networks: table, charts, same-scale maps, figure-ground
small multiples and street-orientation roses, each exportable."""

from functools import partial

import streamlit as st

from workbench import compare as cmp
from workbench import indicators as ind
from workbench import maps, mapview, twin
from workbench.errors import WorkbenchError
from workbench.i18n import has_key
from workbench.opendata.files import load_upload
from workbench.opendata.sources import lab_sources
from workbench.settings import MAX_COMPARED_SITES, MIN_COMPARED_SITES, OSM_ATTRIBUTION, public_url
from workbench.ui import (
    html_block,
    lab_label,
    lang,
    md_escape,
    plain,
    show_error,
    show_map,
    store,
    t,
    t_md,
)

PICK_KEY = "compare_labs"
MAP_W, MAP_H = 420, 340
#: The same OSM themes on every map (when cached), so the maps read alike.
MAP_THEMES = ["green", "buildings", "transit"]

s = store()
cities = {c.id: c for c in s.list_cities()}
networks = {n.id: n for n in s.list_networks()}
labs = {lab.id: lab for lab in s.list_labs()}

st.title(t("indicators.page.title"))
st.write(t("indicators.page.intro"))


def option_label(lab_id: str) -> str:
    lab = labs[lab_id]
    city = cities.get(lab.city_id)
    country = f" ({city.country})" if city else ""
    return f"{lab_label(lab, cities)}{country} · {networks[lab.network_id].name}"


if PICK_KEY not in st.session_state:
    current = st.session_state.get("lab_id")
    linked = [i for i in str(st.query_params.get("labs", "")).split(",") if i in labs]
    st.session_state[PICK_KEY] = linked[:MAX_COMPARED_SITES] or (
        [current] if current in labs else []
    )
st.session_state[PICK_KEY] = [i for i in st.session_state[PICK_KEY] if i in labs]
chosen = st.multiselect(
    t("indicators.page.pick"),
    sorted(labs, key=option_label),
    key=PICK_KEY,
    format_func=option_label,
    max_selections=MAX_COMPARED_SITES,
    placeholder=t("common.choose_options"),
)
if len(chosen) < MIN_COMPARED_SITES:
    st.info(t("indicators.page.need_two"), icon="ℹ️")
    st.stop()


# ---- population layers: an uploaded layer with a population column weights the figures ------
def population_layers(lab_id: str) -> dict[str, tuple[str, str]]:
    """Upload layer id → (layer name, population column) of the lab's uploads that have one."""
    out = {}
    for layer in s.list_layers(lab_id, kind="upload"):
        try:
            column = ind.population_column(load_upload(s, layer))
        except (OSError, ValueError):
            continue  # a layer whose file went missing is not offered
        if column:
            out[layer.id] = (layer.name, column)
    return out


def population_option(candidates: dict[str, tuple[str, str]], layer_id: str | None) -> str:
    """The label of a choice in a lab's population select box (``None``: no layer)."""
    if layer_id is None:
        return t("indicators.page.population_proxy")
    name, column = candidates[layer_id]
    return t("indicators.page.population_option", name=name, column=column)


populations: dict[str, tuple] = {}  # lab id → (frame, column) chosen for it
with st.expander(t("indicators.page.population")):
    st.caption(t("indicators.page.population_help"))
    offered = False
    for lab_id in chosen:
        candidates = population_layers(lab_id)
        if not candidates:
            continue
        offered = True
        options: list[str | None] = [None, *candidates]  # None: no layer, the proxy
        pick = st.selectbox(
            md_escape(option_label(lab_id)),
            options,
            key=f"compare_pop_{lab_id}",
            format_func=partial(population_option, candidates),
        )
        if pick is not None:
            populations[lab_id] = (load_upload(s, s.get_layer(pick)), candidates[pick][1])
    if not offered:
        st.info(t("indicators.page.population_none"), icon="ℹ️")

# ---- figures (computed once per lab and data version, then read from the cache) -----------
results = {}
own = {lab_id: lab_sources(s, lab_id) for lab_id in chosen}  # the cities' own source layers
for lab_id in chosen:
    lab = labs[lab_id]
    population, column = populations.get(lab_id, (None, None))
    try:
        hit = ind.cached_indicators(s, lab, population, own[lab_id])
        if hit is None:
            bar = st.progress(0.0, text=t_md("indicators.page.computing", title=lab.title))

            def report(fraction: float, key: str, bar=bar, lab=lab) -> None:
                bar.progress(
                    min(max(fraction, 0.0), 1.0),
                    text=f"{t_md('indicators.page.computing', title=lab.title)} {t(key)}",
                )

            hit = ind.lab_indicators(
                s,
                lab,
                progress=report,
                population=population,
                population_column=column,
                sources=own[lab_id],
            )
            bar.empty()
        results[lab_id] = hit
    except WorkbenchError as exc:
        show_error(exc)
        st.stop()


def short_label(lab_id: str) -> str:
    """City and country as the column head; the title is added when a city appears twice."""
    lab = labs[lab_id]
    city = cities.get(lab.city_id)
    head = f"{city.name} ({city.country})" if city else lab.title
    twins = [i for i in chosen if labs[i].city_id == lab.city_id]
    return head if len(twins) == 1 else f"{head} · {cmp.shorten(lab.title, 24)}"


sites = [
    cmp.Site(
        short_label(i),
        cities[labs[i].city_id].country if labs[i].city_id in cities else "",
        results[i],
    )
    for i in chosen
]
cache_token = tuple((i, results[i].data_version, results[i].computed_at) for i in chosen)

# ---- coverage caveats -----------------------------------------------------------------------
countries = sorted({site.country for site in sites if site.country})
with st.container(border=True):
    st.markdown(f"**{t('indicators.page.coverage_title')}**")
    st.write(t("indicators.page.coverage_intro"))
    for code in countries:
        key = f"indicators.page.coverage.{code}"
        text = t(key) if has_key(key) else t("indicators.page.coverage.other", country=code)
        st.markdown(f"- {md_escape(text)}")
    st.caption(t("indicators.page.coverage_general"))

# ---- table ----------------------------------------------------------------------------------
st.subheader(t("indicators.page.table"))
cells, styles, reasons = cmp.table(sites, lang())
st.dataframe(
    cells.style.apply(lambda _df: styles, axis=None),
    hide_index=True,
    width="stretch",
    height=36 * (len(cells) + 1) + 4,
)
st.caption(t("indicators.page.legend"))
if reasons:
    st.markdown(f"**{t('indicators.page.reasons')}**")
    for k, reason in enumerate(reasons, start=1):
        plain(f"†{k} {reason}", caption=True)
for lab_id, site in zip(chosen, sites, strict=True):
    when = t("comparison.data_as_of", date=cmp.data_dates(site.result, lang()))
    plain(f"{site.label}: {labs[lab_id].title} · {when} · {OSM_ATTRIBUTION}", caption=True)
with st.expander(t("indicators.page.notes")):
    for site in sites:
        st.markdown(f"**{md_escape(site.label)}**")
        for note in site.result.notes:
            plain(f"• {note.text(lang())}", caption=True)
        for i in site.result.indicators:
            for note in i.notes:
                plain(f"{i.label(lang())}: {note.text(lang())}", caption=True)
st.download_button(
    t("indicators.page.download_csv"),
    data=lambda: cmp.table_csv(sites, lang()),
    file_name="living-lab-indicators.csv",
    mime="text/csv",
    key="compare_csv",
)

# ---- the twin sheet for a conference (2 to 4 labs) -----------------------------------------
if len(chosen) <= twin.MAX_LABS:
    twin_url = twin.compare_url(
        public_url() or (st.context.url or "http://localhost:8501").split("/compare")[0], chosen
    )

    def twin_bytes(fmt: str) -> bytes:
        sheet = [
            twin.SheetLab(
                site,
                labs[i].title,
                labs[i].boundary,
                own[i]["buildings"].frame
                if "buildings" in own[i]
                else ind.load_theme(s, i, "buildings"),
                tuple(src.name for src in own[i].values()),
            )
            for i, site in zip(chosen, sites, strict=True)
        ]
        return twin.twin_sheet(sheet, lang(), fmt, twin_url)

    st.caption(t("comparison.twin.help"))
    t1, t2 = st.columns(2)
    t1.download_button(
        t("comparison.twin.download_pdf"),
        data=lambda: twin_bytes("pdf"),
        file_name="living-labs-twin-sheet.pdf",
        mime="application/pdf",
        key="compare_twin_pdf",
    )
    t2.download_button(
        t("comparison.twin.download_png"),
        data=lambda: twin_bytes("png"),
        file_name="living-labs-twin-slide.png",
        mime="image/png",
        key="compare_twin_png",
    )


# ---- charts ---------------------------------------------------------------------------------
@st.cache_data(show_spinner=False, max_entries=16)
def chart_png(kind: str, token: tuple, language: str, _sites: list) -> bytes:
    figure = {"bars": cmp.bar_charts, "profile": cmp.profile, "rose": cmp.rose_diagrams}[kind]
    return cmp.png(figure(_sites, language))


@st.cache_data(show_spinner=False, max_entries=16)
def figure_ground_png(token: tuple, language: str, _sites: list) -> bytes:
    buildings = [
        own[lab_id]["buildings"].frame
        if "buildings" in own[lab_id]
        else ind.load_theme(s, lab_id, "buildings")
        for lab_id, _v, _c in token
    ]
    boundaries = [labs[lab_id].boundary for lab_id, _v, _c in token]
    return cmp.png(cmp.figure_ground(_sites, buildings, boundaries, language))


st.subheader(t("indicators.page.charts"))
bars_png = chart_png("bars", cache_token, lang(), sites)
profile_png = chart_png("profile", cache_token, lang(), sites)
tab_bars, tab_profile = st.tabs([t("indicators.page.bars"), t("indicators.page.profile")])
tab_bars.image(bars_png, width="stretch")
tab_profile.image(profile_png, width="stretch")
c1, c2 = st.columns(2)
c1.download_button(
    t("indicators.page.download_charts") + " · 1",
    data=lambda: bars_png,
    file_name="living-lab-indicators.png",
    mime="image/png",
    key="compare_bars_png",
)
c2.download_button(
    t("indicators.page.download_charts") + " · 2",
    data=lambda: profile_png,
    file_name="living-lab-profile.png",
    mime="image/png",
    key="compare_profile_png",
)

# ---- maps at the same metric scale ----------------------------------------------------------
st.subheader(t("indicators.page.maps"))
boundaries = [labs[i].boundary for i in chosen]
mpp = cmp.common_mpp(boundaries, MAP_W, MAP_H)
st.caption(t("indicators.page.scale", mpp=mpp))
per_row = 3
for start in range(0, len(chosen), per_row):
    cols = st.columns(per_row)
    for col, lab_id in zip(cols, chosen[start : start + per_row], strict=False):
        lab = labs[lab_id]
        c = lab.boundary.centroid
        m = maps.base_map(
            center=(c.y, c.x), zoom=cmp.zoom_for(c.y, mpp), zoom_snap=0, zoom_delta=0.25
        )
        for layer in mapview.context_layers(s, lab.id, themes=MAP_THEMES, lang=lang()):
            layer.add_to(m)
        maps.site_layer(lab, t("map.site")).add_to(m)
        with col:
            plain(option_label(lab_id), caption=True)
            show_map(m, key=f"compare_map_{lab_id}", width=MAP_W, height=MAP_H, returned_objects=[])

# ---- figure-ground and orientation ----------------------------------------------------------
st.subheader(t("indicators.page.figure_ground"))
fg_png = figure_ground_png(cache_token, lang(), sites)
st.image(fg_png, width="stretch")
st.download_button(
    t("indicators.page.download_figure_ground"),
    data=lambda: fg_png,
    file_name="living-lab-figure-ground.png",
    mime="image/png",
    key="compare_fg_png",
)

st.subheader(t("indicators.page.rose"))
rose_png = chart_png("rose", cache_token, lang(), sites)
st.image(rose_png, width="stretch")
st.download_button(
    t("indicators.page.download_rose"),
    data=lambda: rose_png,
    file_name="living-lab-street-orientation.png",
    mime="image/png",
    key="compare_rose_png",
)
html_block(f'<div style="font-size:0.8rem;color:#666">{maps.escape_text(OSM_ATTRIBUTION)}</div>')
