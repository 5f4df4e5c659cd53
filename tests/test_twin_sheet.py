"""The twin sheet for a conference: rendered for München, Baltimore and Kharkiv from their real
extracts, then read back (PDF text, PNG pixels)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from pypdf import PdfReader

from tests.conftest import shared_geodata
from tests.helpers import BALTIMORE_LAB, KHARKIV_LAB, MUNICH_LAB
from workbench import indicators as ind
from workbench import twin
from workbench.errors import ValidationError
from workbench.opendata import osm

pytestmark = [pytest.mark.realdata, pytest.mark.slow]

LABS = {
    MUNICH_LAB: "germany_muenchen_milbertshofen.osm",
    BALTIMORE_LAB: "usa_baltimore.osm.pbf",
    KHARKIV_LAB: "ukraine_kharkiv_linkroad.osm",
}


@pytest.fixture
def sheet(demo_store):
    for lab_id, name in LABS.items():
        osm.import_extract(
            demo_store, shared_geodata(name), demo_store.get_lab(lab_id), buffer_m=500
        )
    ind.clear_memory_cache()
    return twin.sheet_labs(demo_store, list(LABS), "en")


def test_pdf_has_titles_footnotes_dates_and_attribution(sheet, demo_store):
    url = twin.compare_url("http://example.org", list(LABS))
    data = twin.twin_sheet(sheet, "en", "pdf", url)
    reader = PdfReader(io.BytesIO(data))
    assert len(reader.pages) == 1
    box = reader.pages[0].mediabox
    assert (float(box.width), float(box.height)) == pytest.approx(
        (420 / 25.4 * 72, 297 / 25.4 * 72), abs=1
    )
    text = " ".join(reader.pages[0].extract_text().split())
    for lab_id in LABS:
        assert twin.cmp.shorten(demo_store.get_lab(lab_id).title, 60)[:30] in text
    assert "© OpenStreetMap contributors" in text
    assert "†1 " in text  # footnotes, numbered, with their reasons
    reasons = {
        i.reason.text("en")
        for lab in sheet
        for i in lab.site.result.indicators
        if i.code in twin.CARD_CODES and not i.comparable and i.reason
    }
    assert any(r[:40] in text for r in reasons)
    for lab in sheet:  # each lab's data date
        assert twin.cmp.data_dates(lab.site.result, "en") in text
    assert "not comparable" in text and "thin data" in text


def test_png_slide_has_three_maps_at_equal_metres_per_pixel(sheet):
    data, layout = twin.render(sheet, "de", "png", twin.compare_url("http://x", list(LABS)))
    img = Image.open(io.BytesIO(data)).convert("L")
    assert img.size == (1920, 1080)
    assert len(layout.maps) == 3
    mpp = layout.metres_per_pixel()
    assert max(mpp) - min(mpp) < 1e-6 * mpp[0]
    pixels = np.asarray(img)
    for x0, y0, x1, y1 in layout.maps:  # buildings drawn black inside every map
        inner = pixels[int(y0) + 3 : int(y1) - 3, int(x0) + 3 : int(x1) - 3]
        assert (inner < 40).mean() > 0.001


def test_marks_say_thin_or_not_comparable(sheet):
    kharkiv = sheet[2].site.result
    assert twin.status(kharkiv.get("gsi")) == "thin"  # two buildings mapped
    assert twin.status(kharkiv.get("fifteen_min_mean")) == "not_comparable"
    assert twin.status(sheet[0].site.result.get("street_density")) == "comparable"


def test_two_to_four_labs_only(sheet):
    with pytest.raises(ValidationError):
        twin.twin_sheet(sheet[:1], "en", "pdf", "http://x")
    with pytest.raises(ValidationError):
        twin.twin_sheet(sheet, "en", "svg", "http://x")


def test_cli_compare_writes_the_sheet(sheet, tmp_path, capsys):
    from workbench.cli import main

    out = tmp_path / "twin.png"
    assert main(["compare", "--labs", ",".join(LABS), "--format", "png", "-o", str(out)]) == 0
    assert Image.open(out).size == (1920, 1080)
    assert (
        main(
            [
                "compare",
                "--labs",
                next(iter(LABS)),
                "--format",
                "pdf",
                "-o",
                str(tmp_path / "x.pdf"),
            ]
        )
        == 2
    )
    assert "2 to 4" in capsys.readouterr().err
