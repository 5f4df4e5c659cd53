"""The map of an export as a PNG image: headless Chromium where it can run, else matplotlib.

It owns the choice of renderer and the fallback; the drawing itself is ``export.web``'s
(Chromium) and ``export.static``'s (matplotlib). It must not import the ``export`` package
itself (``export.pdf`` uses it, and the package uses ``export.pdf``).
"""

from __future__ import annotations

import logging

from workbench.errors import ValidationError, WorkbenchError
from workbench.export.content import MapContent
from workbench.export.layout import PageSize, page_size

log = logging.getLogger(__name__)

RENDERERS = ("auto", "chromium", "static")


def render_png(
    content: MapContent, size: PageSize | None = None, renderer: str = "auto", numbered: bool = True
) -> bytes:
    """The map snapshot as PNG bytes of exactly ``size``.

    ``auto`` uses headless Chromium where it can run (and falls back when it fails),
    ``chromium`` insists on it, ``static`` draws with matplotlib (no tiles, said on the image).
    """
    from workbench.export.static import render_png_static
    from workbench.export.web import chromium_available, render_png_chromium

    size = size or page_size()
    if renderer not in RENDERERS:
        raise ValidationError("export.bad_renderer", value=renderer)
    if renderer != "static":
        reason = chromium_available()
        if reason is None:
            try:
                return render_png_chromium(content, size, numbered=numbered)
            except Exception as exc:  # noqa: BLE001 - a broken browser must not stop the export
                if renderer == "chromium":
                    raise WorkbenchError("export.browser_failed", reason=str(exc)) from exc
                log.warning("Chromium snapshot failed, drawing without a browser: %s", exc)
        elif renderer == "chromium":
            raise WorkbenchError("export.browser_failed", reason=reason)
    return render_png_static(content, size, numbered=numbered)
