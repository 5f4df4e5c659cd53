"""Named snapshots: the state of a living lab's map and annotations at one moment, kept in the
workspace (``store.add_snapshot``), reopened, compared with the current state, exported again.

A snapshot's ``state`` is plain JSON: the view (``bounds``), the visible layers (ids and names),
every annotation with its geometry (WKT), text, category, author, times, votes and comments, and
the lab's map settings (``map``: basemap, WMS, opacities; ``mapview.MapSettings``).

It must not write but through ``Store.add_snapshot``/``Store.close_round``, which judge the
writer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import shapely

from workbench.access import Actor
from workbench.errors import ValidationError
from workbench.export.content import (
    Comment,
    MapContent,
    NumberedAnnotation,
    gather,
    lab_layers,
    store_discussion,
)
from workbench.i18n import t
from workbench.mapview import MapSettings, parse_settings
from workbench.model import Annotation, Snapshot, new_id, utcnow
from workbench.settings import COORD_DECIMALS
from workbench.store import Store
from workbench.store.base import from_iso, iso

STATE_VERSION = 1

#: A snapshot's ``state``, or one annotation's in it: JSON as ``json`` reads and writes it.
State = dict[str, Any]


def snapshot_state(content: MapContent, visible_layer_ids: list[str] | None = None) -> State:
    """The JSON state of what ``content`` shows."""
    return {
        "version": STATE_VERSION,
        "bounds": list(content.bounds) if content.bounds else None,
        "layers": [
            {"id": layer.layer_id, "name": layer.name}
            for layer in content.layers
            if visible_layer_ids is None or layer.layer_id in visible_layer_ids
        ],
        "annotations": [_annotation_state(n) for n in content.annotations],
        "vote_round": content.vote_round,
        "map": content.settings.to_json(),  # basemap, WMS and opacities as they were
    }


def _annotation_state(n: NumberedAnnotation) -> State:
    a = n.annotation
    return {
        "id": a.id,
        "number": n.number,
        "category": a.category,
        "text": a.text,
        "author": a.author,
        "wkt": shapely.to_wkt(a.geometry, rounding_precision=COORD_DECIMALS),
        "created_at": iso(a.created_at),
        "updated_at": iso(a.updated_at),
        "votes": n.votes,
        "votes_total": n.all_votes,
        "comments": [
            {"author": c.author, "text": c.text, "created_at": iso(c.created_at)}
            for c in n.comments
        ],
    }


def make_snapshot(
    store: Store,
    lab_id: str,
    name: str,
    created_by: str = "",
    bounds: tuple[float, float, float, float] | None = None,
    visible_layer_ids: list[str] | None = None,
    snapshot_id: str | None = None,
) -> Snapshot:
    """The lab's current map and annotations as a named snapshot, not stored yet."""
    content = gather(store, lab_id, bounds=bounds)
    state = snapshot_state(content, visible_layer_ids)
    return Snapshot(
        id=snapshot_id or new_id(),
        lab_id=lab_id,
        name=name,
        state=state,
        created_by=created_by,
        created_at=utcnow(),
    )


def take_snapshot(
    store: Store,
    lab_id: str,
    name: str,
    created_by: str = "",
    bounds: tuple[float, float, float, float] | None = None,
    visible_layer_ids: list[str] | None = None,
    snapshot_id: str | None = None,
    by: Actor | None = None,
) -> Snapshot:
    """Save the lab's current map and annotations as a named snapshot (idempotent per id).

    ``by`` is the acting person; the store refuses anyone without ``snapshot.manage``."""
    return store.add_snapshot(
        make_snapshot(store, lab_id, name, created_by, bounds, visible_layer_ids, snapshot_id),
        by=by,
    )


def snapshot_annotations(snapshot: Snapshot) -> list[NumberedAnnotation]:
    """The annotations as the snapshot saw them, with their numbers, comments and votes."""
    out = []
    for s in snapshot.state.get("annotations", []):
        # the times were written by iso() from the annotation's (never missing) times
        a = Annotation(
            id=s["id"],
            lab_id=snapshot.lab_id,
            geometry=shapely.from_wkt(s["wkt"]),
            category=s["category"],
            text=s["text"],
            author=s["author"],
            created_at=datetime.fromisoformat(s["created_at"]),
            updated_at=datetime.fromisoformat(s["updated_at"]),
        )
        comments = tuple(
            Comment(c["author"], c["text"], from_iso(c.get("created_at")))
            for c in s.get("comments", [])
        )
        total = s.get("votes_total")
        out.append(
            NumberedAnnotation(
                int(s["number"]),
                a,
                comments,
                int(s.get("votes", 0)),
                None if total is None else int(total),
            )
        )
    return out


def snapshot_settings(snapshot: Snapshot) -> MapSettings | None:
    """The map settings (basemap, WMS overlays, opacities) the snapshot saw, or None for a
    snapshot made before they were kept.

    Raises :class:`ValidationError` when they cannot be read; the snapshot is then drawn with
    the lab's current settings, and :func:`snapshot_content` notes it
    (``export.note.snapshot_settings``, as the export page does beside the snapshot)."""
    raw = snapshot.state.get("map")
    return None if raw is None else parse_settings(raw, check_wms=False)


def snapshot_content(store: Store, snapshot: Snapshot, lang: str = "en") -> MapContent:
    """Reopen a snapshot: the content to draw or export, as it was (layers still stored)."""
    saved_ids = {layer["id"] for layer in snapshot.state.get("layers", [])}
    layers, _missing = lab_layers(store, snapshot.lab_id, lang=lang)
    layers = [layer for layer in layers if layer.layer_id in saved_ids]
    bounds = snapshot.state.get("bounds")
    content = gather(
        store,
        snapshot.lab_id,
        lang=lang,
        layers=layers,
        annotations=[],
        bounds=tuple(bounds) if bounds else None,
    )
    content.annotations = snapshot_annotations(snapshot)
    content.vote_round = snapshot.state.get("vote_round")  # None in snapshots made before
    content.notes = [n for n in content.notes if n != t("export.note.no_annotations", lang)]
    if not content.annotations:
        content.notes.append(t("export.note.no_annotations", lang))
    try:
        saved = snapshot_settings(snapshot)
    except ValidationError as exc:  # drawn with the lab's current settings, and said so
        saved = None
        content.notes.append(t("export.note.snapshot_settings", lang, reason=exc.message(lang)))
    if saved is not None:
        content.settings = saved
    content.subtitle = t("export.snapshot_of", lang, name=snapshot.name)
    content.created_at = snapshot.created_at
    missing = [
        layer["name"]
        for layer in snapshot.state.get("layers", [])
        if layer["id"] not in {x.layer_id for x in layers}
    ]
    content.notes += [t("export.note.layer_missing", lang, name=name) for name in missing]
    return content


@dataclass
class SnapshotDiff:
    """What changed between a snapshot and now (annotation ids, and the fields that changed)."""

    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: dict[str, list[str]] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)


COMPARED = ("category", "text", "author", "wkt", "votes", "comments")


def diff_snapshot(store: Store, snapshot: Snapshot) -> SnapshotDiff:
    """Compare a snapshot with the lab's current annotations."""
    then = {s["id"]: s for s in snapshot.state.get("annotations", [])}
    current = store.list_annotations(snapshot.lab_id)
    discussion = store_discussion(store, snapshot.lab_id, [a.id for a in current])
    now: dict[str, State] = {}
    for a in current:
        comments, votes, total = discussion[a.id]
        now[a.id] = _annotation_state(NumberedAnnotation(0, a, tuple(comments), votes, total))
    diff = SnapshotDiff(
        added=[i for i in now if i not in then], removed=[i for i in then if i not in now]
    )
    for aid in then.keys() & now.keys():
        fields = [k for k in COMPARED if _cmp(k, then[aid].get(k)) != _cmp(k, now[aid].get(k))]
        if fields:
            diff.changed[aid] = fields
    return diff


def _cmp(key: str, value: Any) -> Any:
    if key == "wkt" and value:
        return shapely.normalize(shapely.from_wkt(value)).wkt
    if key == "comments":
        return [(c["author"], c["text"]) for c in value or []]
    return value
