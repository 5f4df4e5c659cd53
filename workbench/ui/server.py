"""The ASGI application ``workbench run`` serves: Streamlit's own ``st.App`` with the entry
script ``app.py``, plus the live channel's routes and its watcher (``workbench.live``) and the
venue's stored basemap tiles (``workbench.opendata.venue``).

``streamlit run workbench/ui/server.py`` finds ``app`` below and serves it with uvicorn, with
the flags and settings of ``workbench run`` (``workbench.ui.launch.serve``).
It holds no page and no library rule: only the wiring of the server."""

import streamlit as st

from workbench import live
from workbench.opendata import venue
from workbench.settings import APP_SCRIPT

app = st.App(str(APP_SCRIPT), routes=[*live.routes, *venue.routes], lifespan=live.lifespan)
