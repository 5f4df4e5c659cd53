"""The workshop sheet (PDF): the numbered map, the numbered annotations with comments and votes,
and the living lab's indicators. Text is embedded with DejaVu Sans (shipped with matplotlib), so
umlauts, Cyrillic and Hebrew/Arabic letters print; user text is written as plain text, never as
markup.
"""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib
from fpdf import FPDF
from fpdf.enums import XPos, YPos

from workbench.export.content import MapContent, category_colours, category_label
from workbench.export.layout import frame_text, page_size
from workbench.export.render import render_png
from workbench.i18n import fmt_datetime, t
from workbench.maps import vote_counts_text
from workbench.settings import OSM_ATTRIBUTION

FONT_DIR = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
FONT = "DejaVu"


class Sheet(FPDF):
    def __init__(self, content: MapContent) -> None:
        super().__init__(orientation="landscape", unit="mm", format="A4")
        self.content = content
        self.add_font(FONT, "", str(FONT_DIR / "DejaVuSans.ttf"))
        self.add_font(FONT, "B", str(FONT_DIR / "DejaVuSans-Bold.ttf"))
        self.set_auto_page_break(auto=True, margin=14)
        self.set_margins(12, 12, 12)
        ft = frame_text(content)
        self.set_title(content.title)
        self.set_subject(ft.subtitle)
        self.set_creator("Living Lab Workbench")

    def footer(self) -> None:
        self.set_y(-10)
        self.set_font(FONT, "", 7)
        self.set_text_color(90)
        lang = self.content.lang
        text = f"{self.content.title} · {t('export.page', lang, n=self.page_no())}"
        self.cell(0, 4, text, align="R")
        self.set_text_color(0)


def _rgb(colour: str) -> tuple[int, int, int]:
    colour = colour.lstrip("#")
    return int(colour[0:2], 16), int(colour[2:4], 16), int(colour[4:6], 16)


def pdf_bytes(content: MapContent, map_png: bytes | None = None) -> bytes:
    """The sheet; ``map_png`` is the page-one image (rendered here at A4 landscape when None)."""
    lang = content.lang
    if map_png is None:
        map_png = render_png(content, page_size("a4-landscape", 150), numbered=True)
    pdf = Sheet(content)
    # Page 1: the map (the image carries title, legend, scale bar, north arrow, attribution).
    pdf.add_page()
    pdf.image(io.BytesIO(map_png), x=12, y=12, w=pdf.epw, h=pdf.eph - 2, keep_aspect_ratio=True)
    _annotation_pages(pdf, content)
    _indicator_pages(pdf, content)
    pdf.set_lang({"de": "de", "uk": "uk"}.get(lang, "en"))
    return bytes(pdf.output())


def _heading(pdf: Sheet, text: str) -> None:
    pdf.set_font(FONT, "B", 14)
    pdf.multi_cell(0, 8, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(1)


def _annotation_pages(pdf: Sheet, content: MapContent) -> None:
    lang = content.lang
    pdf.add_page()
    _heading(pdf, t("export.pdf.annotations", lang, count=len(content.annotations)))
    pdf.set_font(FONT, "", 9)
    ft = frame_text(content)
    # fpdf2 draws text in the order stored (no bidi reordering) and the font has no glyph for
    # the isolates of frame_text: leave them out here
    subtitle = ft.subtitle.replace("\u2068", "").replace("\u2069", "")
    pdf.multi_cell(0, 5, f"{subtitle} · {ft.date}", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(2)
    if not content.annotations:
        pdf.set_font(FONT, "", 11)
        pdf.multi_cell(
            0, 6, t("export.note.no_annotations", lang), new_x=XPos.LMARGIN, new_y=YPos.NEXT
        )
        return
    colours = category_colours(content)
    widths = (12, 38, 0)  # number, category, text (the rest)
    pdf.set_font(FONT, "B", 9)
    pdf.set_fill_color(230)
    pdf.cell(widths[0], 6, "#", border="B", fill=True)
    pdf.cell(widths[1], 6, t("export.col.category", lang), border="B", fill=True)
    pdf.cell(
        0,
        6,
        f"{t('export.col.text', lang)} · {t('export.col.author', lang)} · "
        f"{t('export.col.votes', lang)}",
        border="B",
        fill=True,
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    text_x = pdf.l_margin + widths[0] + widths[1]
    text_w = pdf.epw - widths[0] - widths[1]
    for n in content.annotations:
        a = n.annotation
        if pdf.will_page_break(14):
            pdf.add_page()
        y = pdf.get_y() + 1
        pdf.set_xy(pdf.l_margin, y)
        pdf.set_draw_color(*_rgb(colours[a.category]))
        pdf.set_line_width(0.6)
        pdf.set_font(FONT, "B", 10)
        pdf.cell(widths[0] - 2, 6, str(n.number), border=1, align="C")
        pdf.set_line_width(0.2)
        pdf.set_draw_color(0)
        pdf.set_xy(pdf.l_margin + widths[0], y)
        pdf.set_font(FONT, "", 9)
        pdf.set_text_color(*_rgb(colours[a.category]))
        pdf.cell(widths[1], 6, category_label(a.category, lang, content))
        pdf.set_text_color(0)
        pdf.set_xy(text_x, y)
        pdf.multi_cell(text_w, 5, a.text or "—", new_x=XPos.LEFT, new_y=YPos.NEXT)
        pdf.set_x(text_x)
        pdf.set_font(FONT, "", 8)
        pdf.set_text_color(80)
        meta = (
            f"{a.author} · {fmt_datetime(a.created_at, lang)} · "
            f"{vote_counts_text(n.votes, n.all_votes, content.vote_round, lang)}"
        )
        pdf.multi_cell(text_w, 4.5, meta, new_x=XPos.LEFT, new_y=YPos.NEXT)
        for tr in n.translations:  # marked as translations, the original stays above
            pdf.set_x(text_x + 5)
            pdf.multi_cell(
                text_w - 5,
                4.5,
                t("export.translation", lang, lang_code=tr.lang, author=tr.author, text=tr.text),
                new_x=XPos.LEFT,
                new_y=YPos.NEXT,
            )
        for c in n.comments:
            pdf.set_x(text_x + 5)
            pdf.multi_cell(
                text_w - 5, 4.5, f"↳ {c.author}: {c.text}", new_x=XPos.LEFT, new_y=YPos.NEXT
            )
        pdf.set_text_color(0)
        pdf.set_draw_color(200)
        pdf.line(pdf.l_margin, pdf.get_y() + 1, pdf.l_margin + pdf.epw, pdf.get_y() + 1)
        pdf.set_draw_color(0)
        pdf.set_y(pdf.get_y() + 1.5)


def _indicator_pages(pdf: Sheet, content: MapContent) -> None:
    """The lab's indicators: name, value, unit, and why a figure is missing or not comparable
    (else its notes); the site-level notes, the data date and the OSM attribution below."""
    result = content.indicators
    if result is None:
        return
    lang = content.lang
    pdf.add_page()
    _heading(pdf, t("export.pdf.indicators", lang))
    pdf.set_font(FONT, "", 9)
    with pdf.table(col_widths=(60, 25, 30, 130), text_align="LEFT") as table:
        header = table.row()
        for key in ("indicator", "value", "unit", "note"):
            header.cell(t(f"export.col.{key}", lang))
        for ind in result.indicators:
            row = table.row()
            row.cell(ind.label(lang))
            row.cell(ind.display_value(lang))
            row.cell(ind.unit_label(lang))
            why = (
                ind.reason.text(lang) if ind.reason else " · ".join(n.text(lang) for n in ind.notes)
            )
            row.cell(("⚠ " if not ind.comparable else "") + why)
    pdf.ln(2)
    for note in result.notes:
        pdf.multi_cell(0, 5, f"⚠ {note.text(lang)}", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    dates = sorted({i.data_date for i in result.indicators if i.data_date})
    source = t(
        "export.pdf.indicator_source",
        lang,
        dates=", ".join(dates) or t("comparison.date_unknown", lang),
        attribution=OSM_ATTRIBUTION,
    )
    pdf.set_font(FONT, "", 8)
    pdf.multi_cell(0, 4.5, source, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
