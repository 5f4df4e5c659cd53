"""Starting Streamlit in this process for ``workbench run``: the one place outside the pages
where the command line touches Streamlit. It must not hold settings (``workbench.cli`` builds
the arguments) nor import the app (Streamlit loads ``workbench/ui/server.py`` itself)."""

from __future__ import annotations

from collections.abc import Sequence


def serve(args: Sequence[str]) -> int:
    """Run Streamlit in this process with ``args`` (as after ``streamlit``).

    ``pages/`` sits beside ``app.py``, but navigation is ``st.navigation``'s. Streamlit decides
    on the first run of a process whether ``pages/`` is its old multipage folder; left alone, a
    fresh server opened at ``/map?lab=…`` would run ``pages/map.py`` without ``app.py`` (no
    sidebar, the link's living lab ignored). Deciding it here, before any session, prevents that.
    """
    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.web import cli as streamlit_cli

    PagesManager.uses_pages_directory = False
    try:
        streamlit_cli.main(args=list(args), prog_name="streamlit", standalone_mode=False)
    except KeyboardInterrupt:
        pass
    return 0
