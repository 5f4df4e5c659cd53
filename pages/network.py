"""Network: the lessons and questions of every living lab, where they sit, what links them, and
each note in the reader's language where someone translated it."""

import folium
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from workbench.errors import WorkbenchError
from workbench.i18n import LANGUAGE_NAMES
from workbench.maps import WorldOutline, base_map, escape_text, fit_to
from workbench.model import MARK_KINDS, MARK_STATUSES, PRINCIPLES, SDG_TARGETS
from workbench.settings import LANGUAGES, NOTE_KIND_COLOURS
from workbench.translate import suggest
from workbench.ui import (
    lang,
    md_escape,
    plain,
    select_lab,
    show_error,
    show_map,
    store,
    t,
)
from workbench.ui.access import current_actor

SELECTED_KEY = "annotate_selected"  # the map page's chosen note (pages/map.py)

s = store()
LANG = lang()
networks = {n.id: n for n in s.list_networks()}
cities = {c.id: c for c in s.list_cities()}
labs = {lab.id: lab for lab in s.list_labs()}

st.title(t("network.title"))
st.write(t("network.intro"))

f1, f2, f3 = st.columns(3)
network_id = f1.selectbox(
    t("network.filter.network"),
    [None, *networks],
    format_func=lambda i: networks[i].name if i else t("network.all"),
)
kind = f2.selectbox(
    t("network.filter.kind"),
    [None, *MARK_KINDS],
    format_func=lambda k: t(f"network.kind.{k}") if k else t("network.all"),
)
status = f3.selectbox(
    t("network.filter.status"),
    [None, *MARK_STATUSES],
    format_func=lambda k: t(f"network.status.{k}") if k else t("network.all"),
)
more = st.expander(t("network.filter.more"))  # closed: on a phone the list stays in view
f4, f5, f6 = more.columns(3)
countries = sorted({c.country for c in cities.values()})
country = f4.selectbox(
    t("network.filter.country"), [None, *countries], format_func=lambda c: c or t("network.all")
)
principle = f5.selectbox(
    t("network.filter.principle"),
    [None, *PRINCIPLES],
    format_func=lambda p: t(f"principle.{p}") if p else t("network.all"),
)
sdg = f6.selectbox(
    t("network.filter.sdg"), [None, *SDG_TARGETS], format_func=lambda g: g or t("network.all")
)

items = s.network_notes(
    network_id, kind=kind, status=status, country=country, principle=principle, sdg=sdg
)
st.subheader(t("network.count", count=len(items)))

if items:
    m = base_map()
    WorldOutline().add_to(m)  # a venue without internet: countries instead of grey
    points = []
    for item in items:
        p = item.annotation.geometry.representative_point()
        points.append(p)
        folium.CircleMarker(
            (p.y, p.x),
            radius=7,
            color="#222",
            weight=1,
            fill=True,
            fill_opacity=0.95,
            fill_color=NOTE_KIND_COLOURS[item.mark.kind],
            tooltip=escape_text(
                f"{t(f'network.kind.{item.mark.kind}')} · {item.city_name}: "
                f"{item.annotation.text[:80]}"
            ),
        ).add_to(m)
    from shapely.geometry import MultiPoint

    fit_to(m, MultiPoint(points).buffer(0.01))
    show_map(m, key="network_map", height=320, use_container_width=True, returned_objects=[])
else:
    st.info(t("network.empty"), icon="ℹ️")

for item in items:
    a, mark = item.annotation, item.mark
    with st.container(border=True):
        head = [t(f"network.kind.{mark.kind}")]
        if mark.kind == "question":
            head.append(t(f"network.status.{mark.status}"))
        head.append(f"{item.city_name} ({item.country}) — {item.lab_title}")
        st.markdown("**" + md_escape(" · ".join(head)) + "**")
        text, translation = s.text_for(a, LANG)
        plain(text)
        if translation is not None:
            st.caption(
                t(
                    "network.translated",
                    lang=translation.lang,
                    author=translation.author,
                    original=a.lang or "?",
                )
            )
            with st.expander(t("network.original", lang=a.lang or "?")):
                plain(a.text)
        tags = [t(f"principle.{p}") for p in mark.principles] + list(mark.sdg_targets)
        if tags:
            st.caption(" · ".join(tags))
        for link in s.linked_notes(a.id):
            where = labs[link.lab_id].title if link.lab_id in labs else link.lab_title
            label = t(f"network.link.{link.direction}", lab=where)
            plain(
                f"↔ {label}: {link.text[:120]}"
                + (f" ({t('network.link.deleted')})" if link.deleted else ""),
                caption=True,
            )
        b1, b2 = st.columns(2)
        if b1.button(t("network.open_on_map"), key=f"network_open_{a.id}"):
            select_lab(item.lab_id)
            st.session_state[SELECTED_KEY] = a.id
            st.switch_page("pages/map.py")
        actor = current_actor(s, item.lab_id)
        if mark.kind == "question":
            done = mark.status == "answered"
            if b2.button(
                t("network.reopen") if done else t("network.answered"), key=f"network_status_{a.id}"
            ):
                try:
                    s.set_question_status(a.id, "open" if done else "answered", by=actor)
                    st.rerun()
                except WorkbenchError as exc:
                    show_error(exc)
        with st.expander(t("network.translate")):
            with st.form(f"network_tr_{a.id}"):
                other_langs = [code for code in LANGUAGES if code != a.lang]
                code = st.selectbox(
                    t("network.translate.lang"),
                    other_langs,
                    format_func=lambda c: LANGUAGE_NAMES.get(c, c),
                )
                other = st.text_input(t("network.translate.other"), max_chars=3)
                new_text = st.text_area(
                    t("network.translate.text"), value=suggest(a.text, a.lang, code)
                )
                name = st.text_input(t("network.translate.author"))
                if st.form_submit_button(t("network.translate.save")):
                    try:
                        s.add_translation(
                            a.id, other.strip() or code, new_text, by=actor, actor=name
                        )
                        st.rerun()
                    except WorkbenchError as exc:
                        show_error(exc)

if network_id:
    r1, r2 = st.columns(2)
    for column, fmt in ((r1, "pdf"), (r2, "docx")):
        if column.button(
            t("network.report.download", format=fmt.upper()),
            key=f"network_report_{fmt}",
            use_container_width=True,
        ):
            from workbench import report

            bar = st.progress(0.0)

            def report_progress(f: float, what: str, bar: DeltaGenerator = bar) -> None:
                bar.progress(f, t("network.report.making", lab=what))

            try:
                data = report.write(
                    report.gather(
                        s,
                        network_id,
                        LANG,
                        progress=report_progress,
                    ),
                    fmt,
                )
                st.session_state["network_report"] = (network_id, fmt, data)
            except WorkbenchError as exc:
                show_error(exc)
            bar.empty()
    kept = st.session_state.get("network_report")
    if kept and kept[0] == network_id:
        mime = (
            "application/pdf"
            if kept[1] == "pdf"
            else "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
        )
        st.download_button(
            t("network.report.download", format=kept[1].upper()),
            kept[2],
            file_name=f"network-report.{kept[1]}",
            mime=mime,
            type="primary",
        )

st.divider()
st.subheader(t("network.mark.title"))
st.caption(t("network.mark.intro"))
if not labs:
    st.stop()
lab_id = st.selectbox(
    t("network.mark.lab"),
    list(labs),
    format_func=lambda i: (
        f"{cities[labs[i].city_id].name} — {labs[i].title}"
        if labs[i].city_id in cities
        else labs[i].title
    ),
    key="network_mark_lab",
)
notes = s.list_annotations(lab_id)
if not notes:
    st.info(t("network.mark.no_notes"), icon="ℹ️")
    st.stop()
by_id = {n.id: n for n in notes}
with st.form("network_mark"):
    note_id = st.selectbox(
        t("network.mark.note"),
        list(by_id),
        format_func=lambda i: f"{by_id[i].author}: {by_id[i].text[:70]}",
    )
    what = st.radio(
        t("network.filter.kind"),
        MARK_KINDS,
        horizontal=True,
        format_func=lambda k: t(f"network.kind.{k}"),
    )
    chosen_p = st.multiselect(
        t("network.filter.principle"),
        PRINCIPLES,
        format_func=lambda p: t(f"principle.{p}"),
        placeholder=t("network.choose"),
    )
    chosen_g = st.multiselect(t("network.filter.sdg"), SDG_TARGETS, placeholder=t("network.choose"))
    other_notes = [n for n in s.network_notes() if n.lab_id != lab_id]
    link_options: list[str | None] = [None, *[n.annotation.id for n in other_notes]]
    link_to = st.selectbox(
        t("network.mark.link"),
        link_options,
        format_func=lambda i: (
            t("network.mark.no_link")
            if i is None
            else next(
                f"{n.city_name}: {n.annotation.text[:60]}"
                for n in other_notes
                if n.annotation.id == i
            )
        ),
    )
    if st.form_submit_button(t("network.mark.save")):
        actor = current_actor(s, lab_id)
        try:
            s.mark_note(
                note_id, what, principles=tuple(chosen_p), sdg_targets=tuple(chosen_g), by=actor
            )
            if link_to:
                s.link_notes(note_id, link_to, by=actor)
            st.rerun()
        except WorkbenchError as exc:
            show_error(exc)
