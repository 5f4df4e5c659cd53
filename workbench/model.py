"""The domain: networks, cities, living labs, annotations, layers and snapshots.

Plain dataclasses; geometry is a shapely object in WGS84 (EPSG:4326). Ids are UUID strings made by
the caller, so that a retried write is idempotent. Times are timezone-aware UTC datetimes.

Plain records and their value checks; it must not speak SQL, read files or import the store.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from shapely.geometry import Polygon
from shapely.geometry.base import BaseGeometry

from workbench import palette, settings

#: New Leipzig Charter (2020): the four key principles of good urban governance.
PRINCIPLES = ("public_good", "participation", "multilevel_governance", "place_based")
#: New Leipzig Charter: the three dimensions of the transformative city.
DIMENSIONS = ("just", "green", "productive")
#: SDG targets a living lab may name: all of SDG 11 (11.a–c are the means of implementation)
#: and the targets of other goals that living labs in these networks most often touch.
SDG_TARGETS = (
    "11.1",
    "11.2",
    "11.3",
    "11.4",
    "11.5",
    "11.6",
    "11.7",
    "11.a",
    "11.b",
    "11.c",
    "1.4",
    "3.6",
    "5.5",
    "6.1",
    "7.1",
    "9.1",
    "10.2",
    "10.3",
    "13.1",
    "15.1",
    "16.1",
    "16.7",
    "17.17",
)
LAB_STATUSES = ("planning", "active", "completed")
#: Built-in annotation categories (stable codes; labels are translated in the locales).
ANNOTATION_CATEGORIES = ("strength", "problem", "idea", "question", "next_step")
#: Their colours (``palette.ANNOTATION_CATEGORY_COLOURS``).
ANNOTATION_CATEGORY_COLOURS = palette.ANNOTATION_CATEGORY_COLOURS
#: Dot-votes each participant may give per round unless the facilitator sets another limit.
DEFAULT_VOTE_LIMIT = settings.DEFAULT_VOTE_LIMIT


def new_id() -> str:
    """A fresh identifier (UUID4 string)."""
    return str(uuid.uuid4())


def clean_id(value: object, column: str = "id") -> str:
    """An id read from outside (a file, a form): must be a UUID; returned in canonical form.

    Ids name files (``uploads/<lab>/<layer id>.parquet``), so anything else is refused."""
    from workbench.errors import ValidationError

    text = value if isinstance(value, str) else ""
    try:
        parsed = uuid.UUID(text.strip())
    except ValueError:
        raise ValidationError(
            "integrity.bad_id", column=column, value=strip_controls(str(value))[:60]
        ) from None
    return str(parsed)


#: CSS colour values a style may carry: #rgb, #rrggbb or #rrggbbaa (nothing that CSS could
#: resolve to a URL, a function or another property).
_COLOUR = re.compile(r"#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})")


def clean_colour(value: object) -> str:
    """A style colour (of a category, a layer or a group): only a hex colour value passes."""
    from workbench.errors import ValidationError

    text = value.strip() if isinstance(value, str) else ""
    if not _COLOUR.fullmatch(text):
        raise ValidationError("integrity.bad_colour", value=strip_controls(str(value))[:60])
    return text


#: Bidi embedding/override (U+202A–U+202E) and isolate (U+2066–U+2069) controls: user text may
#: not reorder the text around it.
_BIDI_CONTROLS = frozenset(chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A)))


def strip_controls(value: str, keep_lines: bool = False) -> str:
    """``value`` without control characters (Unicode category Cc: NUL, ESC, BEL, …) and without
    bidi embedding/override/isolate controls; ``keep_lines`` keeps newlines and tabs (long
    texts). Applied by the store to every name and text it accepts."""
    kept = "\n\t" if keep_lines else ""
    return "".join(
        ch
        for ch in value
        if ch in kept or not (ch in _BIDI_CONTROLS or unicodedata.category(ch) == "Cc")
    )


def isolate(text: object) -> str:
    """User text wrapped in FSI…PDI (U+2068, U+2069) for plain-text outputs (command line,
    PNG/PDF labels), so that right-to-left text does not reorder the system text beside it."""
    return f"\u2068{'' if text is None else text}\u2069"


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Network:
    id: str
    name: str
    countries: tuple[str, ...]
    description: str = ""
    created_at: datetime = field(default_factory=utcnow)
    #: Bumped by every change; an edit may name the version it started from (as annotations).
    version: int = 1


@dataclass(frozen=True)
class City:
    id: str
    name: str
    country: str  # ISO 3166-1 alpha-2
    lon: float
    lat: float
    network_ids: tuple[str, ...] = ()
    illustrative_only: bool = False
    version: int = 1  # see Network.version


@dataclass(frozen=True)
class LivingLab:
    id: str
    city_id: str
    network_id: str
    title: str
    boundary: Polygon
    summary: str = ""
    themes: tuple[str, ...] = ()
    principles: tuple[str, ...] = ()
    sdg_targets: tuple[str, ...] = ()
    status: str = "planning"
    illustrative: bool = False
    created_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)
    version: int = 1  # see Network.version


@dataclass(frozen=True)
class Annotation:
    id: str
    lab_id: str
    geometry: BaseGeometry
    category: str
    text: str
    author: str
    created_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)
    deleted_at: datetime | None = None
    #: Bumped by every change; an edit names the version it started from (optimistic locking).
    version: int = 1
    #: Who made the last change (the author until someone edits it).
    updated_by: str = ""
    #: The language the note was written in (an ISO 639 code; "" when not known).
    lang: str = ""


#: What a note can be for the network: a lesson others may learn from, or a question to peers.
MARK_KINDS = ("lesson", "question")
MARK_STATUSES = ("open", "answered")
SESSION_KINDS = ("workshop", "consultation")


@dataclass(frozen=True)
class NoteMark:
    """A note marked for the whole network, tagged with principles and SDG targets."""

    annotation_id: str
    kind: str  # lesson | question
    principles: tuple[str, ...] = ()
    sdg_targets: tuple[str, ...] = ()
    status: str = "open"  # a question is open until someone marks it answered
    marked_by: str = ""
    marked_at: datetime = field(default_factory=utcnow)


@dataclass(frozen=True)
class NoteLink:
    """Two notes on different living labs linked: "tried here" (``from_id``) ↔ "relevant there"
    (``to_id``). Seen from one note: the other note, its lab and whether it was deleted."""

    id: str
    from_id: str
    to_id: str
    created_by: str = ""
    created_at: datetime = field(default_factory=utcnow)


@dataclass(frozen=True)
class Translation:
    """A note's text in another language, added by someone (marked as a translation)."""

    id: str
    annotation_id: str
    lang: str
    text: str
    author: str = ""
    created_at: datetime = field(default_factory=utcnow)


@dataclass(frozen=True)
class AnnotationChange:
    """One entry of an annotation's history: who did what, when, and the row after the change."""

    annotation_id: str
    action: str  # created | edited | deleted | restored
    actor: str
    at: datetime
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Comment:
    id: str
    annotation_id: str
    author: str
    text: str
    created_at: datetime = field(default_factory=utcnow)


@dataclass(frozen=True)
class Vote:
    """One dot a participant put on an annotation in a voting round."""

    id: str
    annotation_id: str
    voter: str
    round: int = 1
    created_at: datetime = field(default_factory=utcnow)


@dataclass(frozen=True)
class Category:
    """An annotation category: a built-in one (labels in the locales) or a workspace's own."""

    code: str
    colour: str
    labels: dict[str, str] = field(default_factory=dict)  # language code -> label
    builtin: bool = False


#: Indicator themes an uploaded layer (the city's own data) can be the source for.
SOURCE_THEMES = ("buildings", "streets", "green", "transit", "population")


@dataclass(frozen=True)
class Layer:
    """A layer the living lab carries: a user's uploaded file or an OSM theme."""

    id: str
    lab_id: str
    name: str
    kind: str  # "upload" | "osm"
    source: str = ""
    attribution: str = ""
    style: dict[str, Any] = field(default_factory=dict)
    path: str = ""  # where the layer's data lives (relative to the data dir)
    feature_count: int = 0
    created_at: datetime = field(default_factory=utcnow)
    #: The indicator theme this uploaded layer is the source for (see
    #: ``workbench.opendata.sources.SOURCE_THEMES``), or "" when the OSM theme counts.
    source_for: str = ""


@dataclass(frozen=True)
class Snapshot:
    """The saved state of a living lab's map at one moment."""

    id: str
    lab_id: str
    name: str
    state: dict[str, Any] = field(default_factory=dict)
    created_by: str = ""
    created_at: datetime = field(default_factory=utcnow)


@dataclass(frozen=True)
class WorkshopSession:
    """A workshop on one living lab: participants join it through its link until it ends."""

    id: str
    lab_id: str
    title: str
    expires_at: datetime
    status: str = "active"  # active | ended
    created_by: str = ""
    created_at: datetime = field(default_factory=utcnow)
    ended_at: datetime | None = None
    #: ``workshop``, or ``consultation``: a peer consultation, whose guests join as their city
    kind: str = "workshop"


@dataclass(frozen=True)
class WorkshopRound:
    """One round of a session (collect, discuss, vote) with its timer."""

    id: str
    session_id: str
    number: int
    kind: str  # collect | discuss | vote
    status: str  # running | paused | ended
    started_at: datetime
    minutes: int = 0  # planned length; 0 = no timer
    lock_edits: bool = False  # discuss: participants may not add or change annotations
    paused_at: datetime | None = None
    paused_seconds: float = 0.0
    ended_at: datetime | None = None
    snapshot_id: str | None = None

    def elapsed_seconds(self, now: datetime) -> float:
        """Running time so far, pauses left out."""
        until = self.ended_at or self.paused_at or now
        return max(0.0, (until - self.started_at).total_seconds() - self.paused_seconds)

    def remaining_seconds(self, now: datetime) -> float | None:
        """Time left on the timer (negative when over time), or None without a timer."""
        if not self.minutes:
            return None
        return self.minutes * 60 - self.elapsed_seconds(now)


@dataclass(frozen=True)
class WorkshopMember:
    """A group that joined a session (several people may join under one group name)."""

    id: str
    session_id: str
    group: str
    colour: str
    created_at: datetime = field(default_factory=utcnow)


@dataclass(frozen=True)
class Delta:
    """What changed on a living lab's map since a revision (``Store.changes_since``).

    ``revision``: the lab's revision the delta brings the reader to (ask for the next one
    ``since`` it); ``features``: GeoJSON Features (with the map's popup, tooltip and style
    properties) of the notes to add or replace, by feature ``id``; ``removed``: ids of notes to
    take off the map (deleted, or hidden for this reader); ``session``: the workshop state
    (session, round, phase, timer, voting round) when it changed, else None; ``reset``: the
    delta is the full state, so the reader drops everything it has first (``since`` was 0, or
    newer than the lab's revision, a client from before a database restore).
    """

    revision: int
    features: tuple[dict[str, Any], ...] = ()
    removed: tuple[str, ...] = ()
    session: dict[str, Any] | None = None
    reset: bool = False
