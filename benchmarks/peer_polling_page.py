"""The peer of ``bench_live.py``: the living-lab map as it was before the live channel (a
Streamlit fragment that reruns every 3 s, re-reads the notes, votes and comments and rebuilds
the whole map with its OSM context layers). Served by ``bench_live.py`` only, never by the app.
"""

import streamlit as st

from workbench import maps, mapview
from workbench.demo import ensure_demo
from workbench.ui import show_map

LAB = st.query_params.get("lab", "e6dccaee-317d-4c62-995e-99f99acfc2b5")


@st.cache_resource
def store():  # type: ignore[no-untyped-def]
    return ensure_demo()


@st.fragment(run_every=3)
def polled_map() -> None:
    s = store()
    lab = s.get_lab(LAB)
    m = maps.base_map()
    maps.site_layer(lab).add_to(m)
    maps.fit_to(m, lab.boundary)
    for layer in mapview.context_layers(s, LAB):
        layer.add_to(m)
    notes = maps.annotation_layer(
        s.list_annotations(LAB),
        votes=s.vote_totals(LAB),
        comments=s.comment_counts(LAB),
        categories=s.list_categories(),
    )
    show_map(
        m,
        key="map",
        height=560,
        feature_group_to_add=notes,
        returned_objects=["last_active_drawing"],
    )


polled_map()
