"""What the map page does with a shape drawn on the map, as a small state machine over the
tab's session state (``st.session_state`` or a plain dict, see ``TabState``, so that it is tested
without Streamlit):

- a finished drawing the map reports becomes *pending* (its form shows beside the map), unless
  it was already handled (saved or discarded: the map keeps reporting its last drawing);
- with a *redraw* asked for (``start_redraw``), the pending drawing replaces that note's shape;
- once handled, the drawing layer is *cleared* on the map (``clear_count`` goes up; the live
  channel tells the map, see ``live_channel.js``).

It must not draw or write: it decides, and the page does.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any, Protocol, overload

from workbench.model import Annotation, new_id

PENDING_KEY = "annotate_pending"  # {id, geometry, fingerprint, redraw, version}
HANDLED_KEY = "annotate_handled"  # fingerprints of drawings already saved or discarded
REDRAW_KEY = "annotate_redraw"  # id of the note whose shape the next drawing replaces
CLEAR_COUNT_KEY = "live_clear_count"  # how often the drawing layer was to be emptied
#: Fingerprints remembered (the newest; a tab draws far fewer in a workshop).
HANDLED_KEPT = 200


class TabState(Protocol):
    """What this module uses of a tab's session state: ``st.session_state`` (whose keys may also
    be ints, so it is no ``MutableMapping[str, Any]``) and a ``dict[str, Any]`` both are one."""

    @overload
    def get(self, key: str, /) -> Any | None: ...
    @overload
    def get(self, key: str, default: Any, /) -> Any: ...
    @overload
    def pop(self, key: str, /) -> Any: ...
    @overload
    def pop(self, key: str, default: Any, /) -> Any: ...
    def __setitem__(self, key: str, value: Any, /) -> None: ...


def fingerprint(geometry: dict[str, Any]) -> str:
    """A short digest of a GeoJSON geometry (the same drawing gives the same one)."""
    return hashlib.sha256(json.dumps(geometry, sort_keys=True).encode()).hexdigest()[:16]


def pending(state: TabState) -> dict[str, Any] | None:
    return state.get(PENDING_KEY)


def redraw_id(state: TabState) -> str | None:
    return state.get(REDRAW_KEY)


def start_redraw(state: TabState, annotation_id: str) -> None:
    """The next drawing replaces the shape of ``annotation_id``."""
    state[REDRAW_KEY] = annotation_id


def take(
    state: TabState,
    geometry: dict[str, Any] | None,
    annotations: Sequence[Annotation],
) -> bool:
    """The map reported ``geometry`` as its last drawing: make it pending if it is new (not
    handled, not already pending); True when it became pending (the page shows its form)."""
    if not geometry:
        return False
    fp = fingerprint(geometry)
    current = state.get(PENDING_KEY)
    if fp in state.get(HANDLED_KEY, ()) or (current and current["fingerprint"] == fp):
        return False
    redraw = state.get(REDRAW_KEY)
    state[PENDING_KEY] = {
        "id": new_id(),
        "geometry": geometry,
        "fingerprint": fp,
        "redraw": redraw,
        "version": next((a.version for a in annotations if a.id == redraw), None),
    }
    return True


def handled(state: TabState) -> None:
    """The pending drawing was saved or discarded: forget it, end a redraw, clear the map's
    drawing layer."""
    done = state.pop(PENDING_KEY, None)
    if done is not None:
        state[HANDLED_KEY] = [*state.get(HANDLED_KEY, ()), done["fingerprint"]][-HANDLED_KEPT:]
    state.pop(REDRAW_KEY, None)
    state[CLEAR_COUNT_KEY] = state.get(CLEAR_COUNT_KEY, 0) + 1
