"""The network report, read back as its readers would: pypdf for the PDF, python-docx for the
DOCX. Every living lab of the network with its title, lessons, open questions (translations
marked), indicators with comparability marks, and the attribution; hostile text literal."""

from __future__ import annotations

import io

import pytest
from shapely.geometry import Point

from tests.helpers import BALTIMORE_LAB, MUNICH_LAB
from workbench.access import SYSTEM, Actor
from workbench.i18n import t
from workbench.model import Annotation, new_id
from workbench.settings import OSM_ATTRIBUTION

MUNICH = MUNICH_LAB
HOSTILE = "<b>bold</b> **x** {count} \\n"


@pytest.fixture
def marked(demo_store):  # type: ignore[no-untyped-def]
    s = demo_store
    for lab, text, kind, lang in (
        (MUNICH, f"Parklets worked {HOSTILE}", "lesson", "en"),
        (BALTIMORE_LAB, "Wie finanziert man Bänke?", "question", "de"),
    ):
        p = s.get_lab(lab).boundary.representative_point()
        a = s.add_annotation(
            Annotation(
                id=new_id(),
                lab_id=lab,
                geometry=Point(p.x, p.y),
                category="idea",
                text=text,
                author="Group A",
                lang=lang,
            ),
            by=SYSTEM,
        )
        s.mark_note(a.id, kind, principles=("participation",), sdg_targets=("11.7",), by=SYSTEM)
        if kind == "question":
            s.add_translation(a.id, "uk", "Як фінансувати лавки?", actor="Olena", by=SYSTEM)
    owner = Actor("owner", "Host")
    session = s.create_session(
        MUNICH, "Consultation on the forecourt", by=owner, kind="consultation"
    )
    s.join_session(s.join_token(session.id), "Kharkiv", "#0072B2")
    s.end_session(session.id, by=owner)
    return s


@pytest.mark.parametrize("fmt", ["pdf", "docx"])
def test_the_report_names_every_lab_its_lessons_questions_and_marks(marked, fmt):
    from workbench import report

    s = marked
    network = s.get_lab(MUNICH).network_id
    labs = [lab for lab in s.list_labs() if lab.network_id == network]
    data = report.write(report.gather(s, network, "uk"), fmt)
    if fmt == "pdf":
        from pypdf import PdfReader

        text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)
    else:
        from docx import Document

        doc = Document(io.BytesIO(data))
        text = " ".join(
            [p.text for p in doc.paragraphs]
            + [c.text for tb in doc.tables for row in tb.rows for c in row.cells]
        )
        assert len(doc.inline_shapes) == len(labs)  # one site map per living lab
    flat = " ".join(text.split())
    for lab in labs:
        assert " ".join(lab.title.split()) in flat
    assert "Parklets worked <b>bold</b> **x** {count}" in flat  # literal, not markup
    assert "Wie finanziert man Bänke?" in flat
    assert t("network.report.translation", "uk", text="Як фінансувати лавки?") in flat
    assert t("network.report.lessons", "uk") in flat
    assert t("network.report.mark.not_comparable", "uk") in flat  # demo labs: no OSM data
    assert " ".join(OSM_ATTRIBUTION.split()) in flat
    assert t("network.report.consultations", "uk") in flat
    assert "Consultation on the forecourt" in flat and "Kharkiv" in flat  # held, with guests


def test_an_answered_question_leaves_the_open_questions(marked):
    from workbench import report

    s = marked
    [question] = s.network_notes(kind="question")
    s.set_question_status(question.annotation.id, "answered", by=SYSTEM)
    r = report.gather(s, s.get_lab(BALTIMORE_LAB).network_id, "en", indicators=False)
    assert all(not lab.questions for lab in r.labs)


def test_the_command_writes_the_report_and_refuses_an_unknown_network(marked, tmp_path, capsys):
    from workbench import cli

    out = tmp_path / "report.docx"
    network = marked.get_lab(MUNICH).network_id
    assert (
        cli.main(
            ["report", "--network", network, "--format", "docx", "--no-indicators", "-o", str(out)]
        )
        == 0
    )
    assert out.read_bytes()[:2] == b"PK"
    assert (
        cli.main(["report", "--network", "nope", "--format", "pdf", "-o", str(tmp_path / "x.pdf")])
        == 2
    )
    assert "no network" in capsys.readouterr().err
    assert not (tmp_path / "x.pdf").exists()


def test_exports_carry_the_original_and_its_translations_marked(marked):
    """CSV, GeoPackage and the workshop PDF: the original text, its language, and each
    translation marked with its language and translator."""
    import csv

    import pyogrio
    from pypdf import PdfReader

    from workbench.export import export_bytes, gather

    s = marked
    [question] = s.network_notes(kind="question")
    lab = question.lab_id
    table = export_bytes(gather(s, lab), "csv").decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(table)))
    [row] = [r for r in rows if r["id"] == question.annotation.id]
    assert (row["text"], row["lang"]) == ("Wie finanziert man Bänke?", "de")
    assert row["translations"] == "uk (Olena): Як фінансувати лавки?"
    gpkg = export_bytes(gather(s, lab), "gpkg")
    path = io.BytesIO(gpkg)
    frame = pyogrio.read_dataframe(path, layer="annotations")
    assert (
        frame.loc[frame["id"] == question.annotation.id, "translations"].item()
        == "uk (Olena): Як фінансувати лавки?"
    )
    pdf = export_bytes(gather(s, lab, lang="en"), "pdf", renderer="static")
    text = " ".join(" ".join(p.extract_text().split()) for p in PdfReader(io.BytesIO(pdf)).pages)
    assert "Translation (uk, by Olena): Як фінансувати лавки?" in text
