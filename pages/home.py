"""Home: all living labs across countries on one map, and cards to pick one."""

import streamlit as st

from workbench.maps import legend_html, network_colours, overview_map
from workbench.ui import html_block, lab_label, md_escape, plain, select_lab, show_map, store, t

s = store()
networks = {n.id: n for n in s.list_networks()}
cities = {c.id: c for c in s.list_cities()}
labs = s.list_labs()

st.title(t("home.title"))
st.write(t("home.intro"))

c1, c2, c3 = st.columns(3)
c1.metric(t("home.networks"), len(networks))
c2.metric(t("home.cities"), len(cities))
c3.metric(t("home.labs"), len(labs))

if not labs:
    st.info(t("home.empty"), icon="ℹ️")
    st.stop()

# the network filter applies to the map's markers and to the cards below
choice = st.selectbox(
    t("home.filter_network"),
    [None, *sorted(networks, key=lambda i: networks[i].name)],
    format_func=lambda i: networks[i].name if i else t("home.all_networks"),
    key="home_network_filter",
)
shown = sorted(
    (lab for lab in labs if choice is None or lab.network_id == choice),
    key=lambda lab: lab_label(lab, cities),
)
show_map(
    overview_map(shown, cities, networks),
    key=f"overview_map_{choice or 'all'}",
    height=420,
    use_container_width=True,
    returned_objects=[],
)
colours = network_colours(networks)
html_block(
    legend_html(
        [(colours[i], n.name) for i, n in networks.items() if choice is None or i == choice]
    )
)

columns = st.columns(3)
for i, lab in enumerate(shown):
    city = cities[lab.city_id]
    with columns[i % 3].container(border=True):
        st.markdown(f"**{md_escape(lab.title)}**")
        plain(f"{city.name} ({city.country}) · {networks[lab.network_id].name}", caption=True)
        badges = [t(f"status.{lab.status}")]
        if lab.illustrative:
            badges.append(t("home.illustrative"))
        st.caption(" · ".join(badges))
        summary = lab.summary if len(lab.summary) < 220 else lab.summary[:217] + "…"
        plain(summary)
        if lab.sdg_targets:
            st.caption(t("home.sdg") + ": " + ", ".join(lab.sdg_targets))
        if st.button(t("home.choose"), key=f"choose_{lab.id}", use_container_width=True):
            select_lab(lab.id)  # and open its map
            st.switch_page("pages/map.py", query_params={"lab": lab.id})
