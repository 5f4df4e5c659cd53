"""Living Lab Workbench: the Streamlit entry script (page navigation and the shared sidebar)."""

import streamlit as st

from workbench.errors import WorkbenchError
from workbench.ui import show_error, sidebar, t

st.set_page_config(page_title="Living Lab Workbench", page_icon="🗺️", layout="wide")
sidebar.init_state()

pages = [
    st.Page("pages/home.py", title=t("nav.home"), icon="🌍", default=True, url_path="home"),
    st.Page("pages/setup.py", title=t("nav.setup"), icon="🛠️", url_path="setup"),
    st.Page("pages/map.py", title=t("annotate.nav"), icon="📍", url_path="map"),
    st.Page("pages/layers.py", title=t("opendata.nav"), icon="🗂️", url_path="layers"),
    st.Page("pages/compare.py", title=t("indicators.nav"), icon="⚖️", url_path="compare"),
    st.Page("pages/network.py", title=t("network.nav"), icon="🔗", url_path="network"),
    st.Page("pages/export.py", title=t("export.nav"), icon="📤", url_path="export"),
    st.Page("pages/workshop.py", title=t("workshop.nav"), icon="🧑‍🏫", url_path="workshop"),
    st.Page("pages/present.py", title=t("workshop.present_nav"), icon="🖥️", url_path="present"),
    st.Page("pages/join.py", title=t("workshop.join_nav"), icon="🙋", url_path="join"),
]
navigation = st.navigation(pages)
try:
    sidebar.render()
    navigation.run()
except WorkbenchError as exc:
    # The store's own errors (a workspace of a newer version, a full disk) that no page caught:
    # translated, instead of Streamlit's generic error. The sidebar's choices stay usable.
    show_error(exc)
