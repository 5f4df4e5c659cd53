"""The network report: for each living lab of a network its site map, its lessons for the
network and its open questions to peers, and its indicators with comparability marks; the
document a coordinator takes to a national-policy meeting. One description of the report
(:func:`gather`) is written as PDF (fpdf2) or as DOCX (python-docx, so people can edit it).
User text is written as plain text, never as markup. No Streamlit here.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from workbench.errors import ValidationError
from workbench.i18n import fmt_datetime, t
from workbench.model import utcnow
from workbench.settings import NOTE_KIND_COLOURS, OSM_ATTRIBUTION, SITE_COLOUR

if TYPE_CHECKING:
    from workbench.model import LivingLab
    from workbench.store import Store
    from workbench.store.network import ConsultationRecord, NetworkNote


FORMATS = ("pdf", "docx")
#: The indicators each lab's page lists (those of the twin sheet), in order.
REPORT_INDICATORS = (
    "gsi",
    "open_space_share",
    "green_300m_walk",
    "transit_access",
    "intersection_density",
    "street_density",
    "orientation_order",
)
MARK_SYMBOLS = {"comparable": "●", "thin": "◐", "not_comparable": "○"}


@dataclass(frozen=True)
class ReportNote:
    text: str
    author: str
    tags: tuple[str, ...] = ()
    status: str = ""  # questions: open | answered
    translation: str = ""  # the reader's language, where someone translated it


@dataclass(frozen=True)
class ReportLab:
    title: str
    place: str
    summary: str
    map_png: bytes
    lessons: tuple[ReportNote, ...]
    questions: tuple[ReportNote, ...]
    indicators: tuple[tuple[str, str, str], ...]  # (name, value with unit, mark)
    #: The peer consultations held: (title, when, the guest cities)
    consultations: tuple[tuple[str, str, str], ...] = ()


@dataclass(frozen=True)
class NetworkReport:
    network: str
    lang: str
    labs: tuple[ReportLab, ...]
    made_at: datetime = field(default_factory=utcnow)
    attribution: str = OSM_ATTRIBUTION


def gather(
    store: Store,
    network_id: str,
    lang: str,
    *,
    indicators: bool = True,
    progress: Callable[[float, str], None] | None = None,
) -> NetworkReport:
    """Everything the report shows for every living lab of ``network_id``."""
    network = next((n for n in store.list_networks() if n.id == network_id), None)
    if network is None:
        raise ValidationError("network.error.network_unknown", value=str(network_id)[:40])
    cities = {c.id: c for c in store.list_cities()}
    labs = [lab for lab in store.list_labs() if lab.network_id == network_id]
    marked = store.network_notes(network_id)
    out = []
    for i, lab in enumerate(labs):
        if progress:
            progress(i / max(len(labs), 1), lab.title)
        city = cities.get(lab.city_id)
        mine = [n for n in marked if n.lab_id == lab.id]
        out.append(
            ReportLab(
                title=lab.title,
                place=f"{city.name} ({city.country})" if city else "",
                summary=lab.summary,
                map_png=_site_map(lab, mine),
                lessons=tuple(_note(store, n, lang) for n in mine if n.mark.kind == "lesson"),
                questions=tuple(
                    _note(store, n, lang)
                    for n in mine
                    if n.mark.kind == "question" and n.mark.status == "open"
                ),
                indicators=_indicators(store, lab, lang) if indicators else (),
                consultations=tuple(
                    (
                        c.title,
                        fmt_datetime(c.created_at, lang),
                        ", ".join(sorted(store.session_groups(c.id))) or "—",
                    )
                    for c in store.consultations(lab.id)
                ),
            )
        )
    if progress:
        progress(1.0, network.name)
    return NetworkReport(network=network.name, lang=lang, labs=tuple(out))


def _note(store: Store, item: NetworkNote, lang: str) -> ReportNote:
    text, translation = store.text_for(item.annotation, lang)
    tags = tuple(t(f"principle.{p}", lang) for p in item.mark.principles) + tuple(
        f"SDG {g}" for g in item.mark.sdg_targets
    )
    return ReportNote(
        text=item.annotation.text,
        author=item.annotation.author,
        tags=tags,
        status=item.mark.status,
        translation=text if translation is not None else "",
    )


def _indicators(store: Store, lab: LivingLab, lang: str) -> tuple[tuple[str, str, str], ...]:
    from workbench import indicators as ind
    from workbench.opendata.sources import lab_sources
    from workbench.twin import status

    result = ind.lab_indicators(store, lab, sources=lab_sources(store, lab.id))
    rows = []
    for code in REPORT_INDICATORS:
        figure = result.get(code)
        unit = figure.unit_label(lang) if figure.value is not None else ""
        rows.append(
            (figure.label(lang), f"{figure.display_value(lang)} {unit}".strip(), status(figure))
        )
    return tuple(rows)


def _site_map(lab: LivingLab, notes: Sequence[NetworkNote]) -> bytes:
    """The site outline with its lessons (green) and questions (pink), north up."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(3.2, 3.2), dpi=150)
    try:
        geoms = getattr(lab.boundary, "geoms", [lab.boundary])
        for poly in geoms:
            x, y = poly.exterior.xy
            ax.fill(x, y, color="#eeeeee", zorder=1)
            ax.plot(x, y, color=SITE_COLOUR, lw=1.4, zorder=2)
        for n in notes:
            p = n.annotation.geometry.representative_point()
            ax.scatter(
                [p.x],
                [p.y],
                s=40,
                zorder=3,
                edgecolors="#222",
                linewidths=0.6,
                color=NOTE_KIND_COLOURS[n.mark.kind],
            )
        ax.set_aspect(1 / max(0.2, math.cos(math.radians(lab.boundary.centroid.y))))
        ax.set_axis_off()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", bbox_inches="tight")
        return buf.getvalue()
    finally:
        plt.close(fig)


# ---- PDF ------------------------------------------------------------------------------------
def to_pdf(report: NetworkReport) -> bytes:
    from fpdf import FPDF
    from fpdf.enums import XPos, YPos

    from workbench.export.pdf import FONT, FONT_DIR

    lang = report.lang
    pdf = FPDF(orientation="portrait", unit="mm", format="A4")
    pdf.add_font(FONT, "", str(FONT_DIR / "DejaVuSans.ttf"))
    pdf.add_font(FONT, "B", str(FONT_DIR / "DejaVuSans-Bold.ttf"))
    pdf.set_title(t("network.report.title", lang, network=report.network))
    pdf.set_creator("Living Lab Workbench")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()

    def line(text: str, size: float = 10, bold: bool = False, gap: float = 1.5) -> None:
        pdf.set_font(FONT, "B" if bold else "", size)
        pdf.multi_cell(0, size * 0.5, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(gap)

    line(t("network.report.title", lang, network=report.network), 18, True)
    line(t("network.report.made", lang, at=fmt_datetime(report.made_at, lang)), 9)
    for lab in report.labs:
        pdf.ln(3)
        line(lab.title, 14, True, 0.5)
        line(lab.place, 10)
        if lab.summary:
            line(lab.summary, 9)
        pdf.image(io.BytesIO(lab.map_png), w=60)
        pdf.ln(2)
        for heading, notes in (
            (t("network.report.lessons", lang), lab.lessons),
            (t("network.report.questions", lang), lab.questions),
        ):
            line(heading, 11, True, 0.5)
            if not notes:
                line(t("network.report.none", lang), 9)
            for n in notes:
                line(f"• {n.text} ({n.author})", 9.5, gap=0.3)
                if n.translation:
                    line(t("network.report.translation", lang, text=n.translation), 8.5, gap=0.3)
                if n.tags:
                    line("   " + " · ".join(n.tags), 8, gap=0.8)
        line(t("network.report.consultations", lang), 11, True, 0.5)
        for title, when, guests in lab.consultations or ():
            line(f"• {title} ({when}): {guests}", 9.5, gap=0.3)
        if not lab.consultations:
            line(t("network.report.none", lang), 9)
        if lab.indicators:
            line(t("network.report.indicators", lang), 11, True, 0.5)
            for name, value, mark in lab.indicators:
                label = t(f"network.report.mark.{mark}", lang)
                line(f"{MARK_SYMBOLS[mark]} {name}: {value} ({label})", 9, gap=0.3)
    pdf.ln(4)
    line(report.attribution, 8)
    return bytes(pdf.output())


# ---- DOCX -----------------------------------------------------------------------------------
def to_docx(report: NetworkReport) -> bytes:
    from docx import Document
    from docx.shared import Cm, Pt

    lang = report.lang
    doc = Document()
    doc.core_properties.title = t("network.report.title", lang, network=report.network)
    doc.core_properties.author = "Living Lab Workbench"
    doc.add_heading(t("network.report.title", lang, network=report.network), 0)
    doc.add_paragraph(t("network.report.made", lang, at=fmt_datetime(report.made_at, lang)))
    for lab in report.labs:
        doc.add_heading(lab.title, 1)
        doc.add_paragraph(lab.place)
        if lab.summary:
            doc.add_paragraph(lab.summary)
        doc.add_picture(io.BytesIO(lab.map_png), width=Cm(7))
        for heading, notes in (
            (t("network.report.lessons", lang), lab.lessons),
            (t("network.report.questions", lang), lab.questions),
        ):
            doc.add_heading(heading, 2)
            if not notes:
                doc.add_paragraph(t("network.report.none", lang))
            for n in notes:
                p = doc.add_paragraph(style="List Bullet")
                p.add_run(n.text)
                p.add_run(f" ({n.author})").italic = True
                if n.translation:
                    doc.add_paragraph(t("network.report.translation", lang, text=n.translation))
                if n.tags:
                    tags = doc.add_paragraph(" · ".join(n.tags))
                    tags.runs[0].font.size = Pt(8)
        doc.add_heading(t("network.report.consultations", lang), 2)
        for title, when, guests in lab.consultations:
            doc.add_paragraph(f"{title} ({when}): {guests}", style="List Bullet")
        if not lab.consultations:
            doc.add_paragraph(t("network.report.none", lang))
        if lab.indicators:
            doc.add_heading(t("network.report.indicators", lang), 2)
            table = doc.add_table(rows=1, cols=3)
            head = table.rows[0].cells
            for cell, key in zip(head, ("name", "value", "mark"), strict=True):
                cell.text = t(f"network.report.col.{key}", lang)
            for name, value, mark in lab.indicators:
                row = table.add_row().cells
                row[0].text, row[1].text = name, value
                label = t(f"network.report.mark.{mark}", lang)
                row[2].text = f"{MARK_SYMBOLS[mark]} {label}"
    doc.add_paragraph(report.attribution)
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def consultation_pdf(record: ConsultationRecord, lang: str) -> bytes:
    """The record of a peer consultation as one PDF sheet: the host's questions, each guest
    city's answers, the dots given and who took part."""
    from fpdf import FPDF
    from fpdf.enums import XPos, YPos

    from workbench.export.pdf import FONT, FONT_DIR

    pdf = FPDF(orientation="portrait", unit="mm", format="A4")
    pdf.add_font(FONT, "", str(FONT_DIR / "DejaVuSans.ttf"))
    pdf.add_font(FONT, "B", str(FONT_DIR / "DejaVuSans-Bold.ttf"))
    pdf.set_title(t("network.consultation.sheet", lang, title=record.session.title))
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()

    def line(text: str, size: float = 10, bold: bool = False, gap: float = 1.0) -> None:
        pdf.set_font(FONT, "B" if bold else "", size)
        pdf.multi_cell(0, size * 0.5, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(gap)

    session = record.session
    line(t("network.consultation.sheet", lang, title=session.title), 16, True)
    line(
        t(
            "network.consultation.when",
            lang,
            lab=record.lab_title,
            start=fmt_datetime(session.created_at, lang),
            end=fmt_datetime(session.ended_at, lang) if session.ended_at else "…",
        ),
        9,
        gap=3,
    )
    sections = (
        (
            t("network.consultation.questions", lang),
            [f"• {q.text} ({q.author})" for q in record.questions],
        ),
        (
            t("network.consultation.answers", lang),
            [
                f"• {city}: {text}"
                + (f" ({t('network.consultation.comment', lang)})" if what == "comment" else "")
                for city, what, text in record.answers
            ],
        ),
        (t("network.consultation.votes", lang), [f"• {n} × {text}" for text, n in record.votes]),
        (
            t("network.consultation.cities", lang),
            [
                f"• {city}: {t('network.consultation.contributions', lang, count=n)}"
                for city, n in record.cities
            ],
        ),
    )
    for heading, rows in sections:
        line(heading, 12, True, 0.5)
        for row in rows or [t("network.report.none", lang)]:
            line(row, 9.5, gap=0.4)
        pdf.ln(2)
    return bytes(pdf.output())


def write(report: NetworkReport, fmt: str) -> bytes:
    if fmt not in FORMATS:
        raise ValidationError("network.error.report_format", value=str(fmt)[:10])
    return to_pdf(report) if fmt == "pdf" else to_docx(report)
