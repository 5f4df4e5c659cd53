"""What the map page does with a drawing (workbench.ui.drawing), without Streamlit: a new
drawing becomes pending once; a handled one is never offered again; a redraw carries the note's
version; handling clears the drawing layer."""

from shapely.geometry import Point

from workbench.model import Annotation
from workbench.ui import drawing

SQUARE = {
    "type": "Polygon",
    "coordinates": [[[11.55, 48.18], [11.56, 48.18], [11.56, 48.19], [11.55, 48.18]]],
}
POINT = {"type": "Point", "coordinates": [11.551, 48.186]}


def test_a_drawing_becomes_pending_once_and_never_again_after_it_was_handled():
    state: dict = {}
    assert not drawing.take(state, None, [])
    assert drawing.take(state, SQUARE, [])
    first = drawing.pending(state)
    assert first["geometry"] == SQUARE and first["redraw"] is None and first["id"]
    assert not drawing.take(state, SQUARE, [])  # the map reports it again: still the same
    assert drawing.pending(state)["id"] == first["id"]
    drawing.handled(state)
    assert drawing.pending(state) is None and state[drawing.CLEAR_COUNT_KEY] == 1
    assert not drawing.take(state, SQUARE, [])  # saved: the map's last drawing is not new
    assert drawing.take(state, POINT, [])  # another drawing is
    assert drawing.pending(state)["id"] != first["id"]
    drawing.handled(state)
    assert state[drawing.CLEAR_COUNT_KEY] == 2


def test_a_redraw_carries_the_notes_version_and_ends_when_handled():
    note = Annotation(
        id="n1",
        lab_id="lab",
        geometry=Point(11.55, 48.18),
        category="idea",
        text="x",
        author="A",
        version=4,
    )
    state: dict = {}
    drawing.start_redraw(state, "n1")
    assert drawing.redraw_id(state) == "n1"
    assert drawing.take(state, SQUARE, [note])
    assert (drawing.pending(state)["redraw"], drawing.pending(state)["version"]) == ("n1", 4)
    drawing.handled(state)
    assert drawing.redraw_id(state) is None


def test_the_handled_list_stays_bounded():
    state: dict = {}
    for k in range(drawing.HANDLED_KEPT + 20):
        assert drawing.take(state, {"type": "Point", "coordinates": [11.5, 48.0 + k * 1e-4]}, [])
        drawing.handled(state)
    assert len(state[drawing.HANDLED_KEY]) == drawing.HANDLED_KEPT
    assert drawing.fingerprint(SQUARE) == drawing.fingerprint(dict(SQUARE))
