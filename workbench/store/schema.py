"""Tables of the workspace database, and the migrations that build them.

``MIGRATIONS`` is the history of the schema: migration *n* (1-based) brings a database from version
*n - 1* to *n*. Migrations are plain SQL that SQLite and PostgreSQL both understand, or one SQL
per dialect where one cannot say it for both (migration 8: real types on PostgreSQL), never edited
once released; a change to the schema is a new migration appended here plus the matching change to
the ``Table`` objects below, which describe the newest version and are what queries use.
"""

from sqlalchemy import Column, Float, ForeignKey, Integer, MetaData, Table, Text

from workbench.store.types import Flag, Geom, Json, Stamp

metadata = MetaData()

networks = Table(
    "networks",
    metadata,
    Column("id", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("countries", Json, nullable=False),  # JSON list of ISO codes
    Column("description", Text, nullable=False, default=""),
    Column("created_at", Stamp, nullable=False),
    Column("version", Integer, nullable=False, default=1),  # v5: optimistic locking
)

cities = Table(
    "cities",
    metadata,
    Column("id", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("country", Text, nullable=False),
    Column("lon", Float, nullable=False),
    Column("lat", Float, nullable=False),
    Column("illustrative_only", Flag, nullable=False, default=0),
    Column("version", Integer, nullable=False, default=1),  # v5
)

network_cities = Table(
    "network_cities",
    metadata,
    Column("network_id", Text, ForeignKey("networks.id", ondelete="CASCADE"), primary_key=True),
    Column("city_id", Text, ForeignKey("cities.id", ondelete="CASCADE"), primary_key=True),
)

labs = Table(
    "labs",
    metadata,
    Column("id", Text, primary_key=True),
    Column("city_id", Text, ForeignKey("cities.id"), nullable=False),
    Column("network_id", Text, ForeignKey("networks.id"), nullable=False),
    Column("title", Text, nullable=False),
    Column("summary", Text, nullable=False, default=""),
    Column("themes", Json, nullable=False, default="[]"),
    Column("principles", Json, nullable=False, default="[]"),
    Column("sdg_targets", Json, nullable=False, default="[]"),
    Column("status", Text, nullable=False, default="planning"),
    Column("boundary", Geom, nullable=False),  # v8: was boundary_wkt
    Column("illustrative", Flag, nullable=False, default=0),
    Column("created_at", Stamp, nullable=False),
    Column("updated_at", Stamp, nullable=False),
    Column("version", Integer, nullable=False, default=1),  # v5
    # v6: live updates. ``revision`` is bumped by every write that changes what the lab's map,
    # list or presenter shows; ``session_rev`` is the revision of the last session/round change.
    Column("revision", Integer, nullable=False, default=0),
    Column("session_rev", Integer, nullable=False, default=0),
)

layers = Table(
    "layers",
    metadata,
    Column("id", Text, primary_key=True),
    Column("lab_id", Text, ForeignKey("labs.id", ondelete="CASCADE"), nullable=False),
    Column("name", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("source", Text, nullable=False, default=""),
    Column("attribution", Text, nullable=False, default=""),
    Column("style", Json, nullable=False, default="{}"),
    Column("path", Text, nullable=False, default=""),
    Column("feature_count", Integer, nullable=False, default=0),
    Column("created_at", Stamp, nullable=False),
    # the indicator theme an uploaded layer stands in for ("buildings", "population" ...) or ""
    Column("source_for", Text, nullable=False, default=""),
)

snapshots = Table(
    "snapshots",
    metadata,
    Column("id", Text, primary_key=True),
    Column("lab_id", Text, ForeignKey("labs.id", ondelete="CASCADE"), nullable=False),
    Column("name", Text, nullable=False),
    Column("state", Json, nullable=False, default="{}"),
    Column("created_by", Text, nullable=False, default=""),
    Column("created_at", Stamp, nullable=False),
)

annotations = Table(
    "annotations",
    metadata,
    Column("id", Text, primary_key=True),
    Column("lab_id", Text, ForeignKey("labs.id", ondelete="CASCADE"), nullable=False),
    Column("geom", Geom, nullable=False),  # v8: was geom_wkt
    Column("geom_type", Text, nullable=False),
    Column("minx", Float, nullable=False),
    Column("miny", Float, nullable=False),
    Column("maxx", Float, nullable=False),
    Column("maxy", Float, nullable=False),
    Column("category", Text, nullable=False),
    Column("text", Text, nullable=False, default=""),
    Column("author", Text, nullable=False, default=""),
    Column("created_at", Stamp, nullable=False),
    Column("updated_at", Stamp, nullable=False),
    Column("deleted_at", Stamp, nullable=True),
    Column("version", Integer, nullable=False, default=1),  # v3: optimistic locking
    Column("updated_by", Text, nullable=False, default=""),  # v3
    # v6: the lab revision of the last change of the annotation, its comments, votes or
    # moderation; ``hidden``: deleted by a moderator (a facilitator's delete of another's note)
    Column("rev", Integer, nullable=False, default=0),
    Column("hidden", Flag, nullable=False, default=0),
    # v9: the language the note was written in ("" when not known: notes before v9)
    Column("lang", Text, nullable=False, default=""),
)

annotation_history = Table(
    "annotation_history",
    metadata,
    Column("id", Text, primary_key=True),
    Column("annotation_id", Text, ForeignKey("annotations.id", ondelete="CASCADE"), nullable=False),
    Column("action", Text, nullable=False),  # created | edited | deleted | restored
    Column("actor", Text, nullable=False, default=""),
    Column("at", Stamp, nullable=False),
    Column("data", Json, nullable=False, default="{}"),  # JSON: the row after the change
)

annotation_comments = Table(
    "annotation_comments",
    metadata,
    Column("id", Text, primary_key=True),
    Column("annotation_id", Text, ForeignKey("annotations.id", ondelete="CASCADE"), nullable=False),
    Column("author", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("created_at", Stamp, nullable=False),
    Column("deleted_at", Stamp, nullable=True),
)

annotation_votes = Table(
    "annotation_votes",
    metadata,
    Column("id", Text, primary_key=True),
    Column("annotation_id", Text, ForeignKey("annotations.id", ondelete="CASCADE"), nullable=False),
    Column("lab_id", Text, ForeignKey("labs.id", ondelete="CASCADE"), nullable=False),
    Column("voter", Text, nullable=False),
    Column("round", Integer, nullable=False),
    Column("created_at", Stamp, nullable=False),
)

annotation_categories = Table(
    "annotation_categories",
    metadata,
    Column("code", Text, primary_key=True),
    Column("colour", Text, nullable=False),
    Column("labels", Json, nullable=False, default="{}"),  # JSON: language code -> label
    Column("position", Integer, nullable=False, default=0),
    Column("created_at", Stamp, nullable=False),
)

lab_settings = Table(
    "lab_settings",
    metadata,
    Column("lab_id", Text, ForeignKey("labs.id", ondelete="CASCADE"), primary_key=True),
    Column("key", Text, primary_key=True),
    Column("value", Json, nullable=False),
)

# ---- v9: lessons, questions, links and translations ------------------------------------------
note_marks = Table(
    "note_marks",
    metadata,
    Column(
        "annotation_id", Text, ForeignKey("annotations.id", ondelete="CASCADE"), primary_key=True
    ),
    Column("kind", Text, nullable=False),  # lesson | question
    Column("principles", Json, nullable=False, default="[]"),  # New Leipzig Charter codes
    Column("sdg_targets", Json, nullable=False, default="[]"),
    Column("status", Text, nullable=False, default="open"),  # open | answered
    Column("marked_by", Text, nullable=False, default=""),
    Column("marked_at", Stamp, nullable=False),
)

note_links = Table(
    "note_links",
    metadata,
    Column("id", Text, primary_key=True),
    Column("from_id", Text, ForeignKey("annotations.id", ondelete="CASCADE"), nullable=False),
    Column("to_id", Text, ForeignKey("annotations.id", ondelete="CASCADE"), nullable=False),
    Column("created_by", Text, nullable=False, default=""),
    Column("created_at", Stamp, nullable=False),
)

note_translations = Table(
    "note_translations",
    metadata,
    Column("id", Text, primary_key=True),
    Column("annotation_id", Text, ForeignKey("annotations.id", ondelete="CASCADE"), nullable=False),
    Column("lang", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("author", Text, nullable=False, default=""),
    Column("created_at", Stamp, nullable=False),
)

# ---- v4: workshops (sessions, rounds, members), access (passcodes, roles, rate limits) -------
workspace_settings = Table(
    "workspace_settings",
    metadata,
    Column("key", Text, primary_key=True),  # join_secret, passcode.owner, passcode.facilitator
    Column("value", Text, nullable=False),
)

workspace_roles = Table(
    "workspace_roles",
    metadata,
    Column("email", Text, primary_key=True),  # single sign-on identity (lower case)
    Column("role", Text, nullable=False),
    Column("created_at", Stamp, nullable=False),
)

access_attempts = Table(
    "access_attempts",
    metadata,
    Column("client", Text, primary_key=True),  # hashed client address (an IPv6 client by its /64)
    Column("failures", Integer, nullable=False, default=0),
    Column("last_failure_at", Stamp, nullable=True),
    Column("locked_until", Stamp, nullable=True),
)

workshop_sessions = Table(
    "workshop_sessions",
    metadata,
    Column("id", Text, primary_key=True),
    Column("lab_id", Text, ForeignKey("labs.id", ondelete="CASCADE"), nullable=False),
    Column("title", Text, nullable=False),
    Column("status", Text, nullable=False, default="active"),  # active | ended
    # v9: a workshop, or a peer consultation (guests from other cities answer the host's
    # questions; group = city)
    Column("kind", Text, nullable=False, default="workshop"),
    Column("created_by", Text, nullable=False, default=""),
    Column("created_at", Stamp, nullable=False),
    Column("expires_at", Stamp, nullable=False),
    Column("ended_at", Stamp, nullable=True),
)

workshop_rounds = Table(
    "workshop_rounds",
    metadata,
    Column("id", Text, primary_key=True),
    Column(
        "session_id", Text, ForeignKey("workshop_sessions.id", ondelete="CASCADE"), nullable=False
    ),
    Column("number", Integer, nullable=False),
    Column("kind", Text, nullable=False),  # collect | discuss | vote
    Column("status", Text, nullable=False),  # running | paused | ended
    Column("minutes", Integer, nullable=False, default=0),
    Column("lock_edits", Flag, nullable=False, default=0),
    Column("started_at", Stamp, nullable=False),
    Column("paused_at", Stamp, nullable=True),
    Column("paused_seconds", Float, nullable=False, default=0),
    Column("ended_at", Stamp, nullable=True),
    Column("snapshot_id", Text, nullable=True),
)

workshop_members = Table(
    "workshop_members",
    metadata,
    Column("id", Text, primary_key=True),
    Column(
        "session_id", Text, ForeignKey("workshop_sessions.id", ondelete="CASCADE"), nullable=False
    ),
    Column("group_name", Text, nullable=False),
    Column("colour", Text, nullable=False),
    Column("token_hash", Text, nullable=False, unique=True),  # sha256 of the member's token
    Column("created_at", Stamp, nullable=False),
    Column("last_seen", Stamp, nullable=False),
)


_V1_CORE = """
CREATE TABLE networks (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    countries TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL
);
CREATE TABLE cities (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    country TEXT NOT NULL,
    lon REAL NOT NULL,
    lat REAL NOT NULL,
    illustrative_only INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE network_cities (
    network_id TEXT NOT NULL REFERENCES networks(id) ON DELETE CASCADE,
    city_id TEXT NOT NULL REFERENCES cities(id) ON DELETE CASCADE,
    PRIMARY KEY (network_id, city_id)
);
CREATE TABLE labs (
    id TEXT PRIMARY KEY,
    city_id TEXT NOT NULL REFERENCES cities(id),
    network_id TEXT NOT NULL REFERENCES networks(id),
    title TEXT NOT NULL,
    summary TEXT NOT NULL DEFAULT '',
    themes TEXT NOT NULL DEFAULT '[]',
    principles TEXT NOT NULL DEFAULT '[]',
    sdg_targets TEXT NOT NULL DEFAULT '[]',
    status TEXT NOT NULL DEFAULT 'planning',
    boundary_wkt TEXT NOT NULL,
    illustrative INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX labs_city ON labs(city_id);
CREATE TABLE layers (
    id TEXT PRIMARY KEY,
    lab_id TEXT NOT NULL REFERENCES labs(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    source TEXT NOT NULL DEFAULT '',
    attribution TEXT NOT NULL DEFAULT '',
    style TEXT NOT NULL DEFAULT '{}',
    path TEXT NOT NULL DEFAULT '',
    feature_count INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
);
CREATE INDEX layers_lab ON layers(lab_id);
CREATE TABLE snapshots (
    id TEXT PRIMARY KEY,
    lab_id TEXT NOT NULL REFERENCES labs(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT '{}',
    created_by TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL
);
CREATE INDEX snapshots_lab ON snapshots(lab_id);
"""

_V2_ANNOTATIONS = """
CREATE TABLE annotations (
    id TEXT PRIMARY KEY,
    lab_id TEXT NOT NULL REFERENCES labs(id) ON DELETE CASCADE,
    geom_wkt TEXT NOT NULL,
    geom_type TEXT NOT NULL,
    minx REAL NOT NULL,
    miny REAL NOT NULL,
    maxx REAL NOT NULL,
    maxy REAL NOT NULL,
    category TEXT NOT NULL,
    text TEXT NOT NULL DEFAULT '',
    author TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    deleted_at TEXT
);
CREATE INDEX annotations_lab ON annotations(lab_id, updated_at);
CREATE TABLE annotation_history (
    id TEXT PRIMARY KEY,
    annotation_id TEXT NOT NULL REFERENCES annotations(id) ON DELETE CASCADE,
    action TEXT NOT NULL,
    actor TEXT NOT NULL DEFAULT '',
    at TEXT NOT NULL,
    data TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX annotation_history_annotation ON annotation_history(annotation_id);
"""

_V3_ANNOTATION_WORK = """
ALTER TABLE annotations ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE annotations ADD COLUMN updated_by TEXT NOT NULL DEFAULT '';
CREATE INDEX annotations_lab_category ON annotations(lab_id, category);
CREATE TABLE annotation_comments (
    id TEXT PRIMARY KEY,
    annotation_id TEXT NOT NULL REFERENCES annotations(id) ON DELETE CASCADE,
    author TEXT NOT NULL,
    text TEXT NOT NULL,
    created_at TEXT NOT NULL,
    deleted_at TEXT
);
CREATE INDEX annotation_comments_annotation ON annotation_comments(annotation_id, created_at);
CREATE TABLE annotation_votes (
    id TEXT PRIMARY KEY,
    annotation_id TEXT NOT NULL REFERENCES annotations(id) ON DELETE CASCADE,
    lab_id TEXT NOT NULL REFERENCES labs(id) ON DELETE CASCADE,
    voter TEXT NOT NULL,
    round INTEGER NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX annotation_votes_voter ON annotation_votes(lab_id, round, voter);
CREATE INDEX annotation_votes_annotation ON annotation_votes(annotation_id);
CREATE TABLE annotation_categories (
    code TEXT PRIMARY KEY,
    colour TEXT NOT NULL,
    labels TEXT NOT NULL DEFAULT '{}',
    position INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
);
CREATE TABLE lab_settings (
    lab_id TEXT NOT NULL REFERENCES labs(id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (lab_id, key)
);
"""

_V4_WORKSHOP = """
CREATE TABLE workspace_settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE workspace_roles (
    email TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE access_attempts (
    client TEXT PRIMARY KEY,
    failures INTEGER NOT NULL DEFAULT 0,
    last_failure_at TEXT,
    locked_until TEXT
);
CREATE TABLE workshop_sessions (
    id TEXT PRIMARY KEY,
    lab_id TEXT NOT NULL REFERENCES labs(id) ON DELETE CASCADE,
    title TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'active',
    created_by TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    ended_at TEXT
);
CREATE INDEX workshop_sessions_lab ON workshop_sessions(lab_id, status);
CREATE TABLE workshop_rounds (
    id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES workshop_sessions(id) ON DELETE CASCADE,
    number INTEGER NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    minutes INTEGER NOT NULL DEFAULT 0,
    lock_edits INTEGER NOT NULL DEFAULT 0,
    started_at TEXT NOT NULL,
    paused_at TEXT,
    paused_seconds REAL NOT NULL DEFAULT 0,
    ended_at TEXT,
    snapshot_id TEXT
);
CREATE INDEX workshop_rounds_session ON workshop_rounds(session_id, number);
CREATE TABLE workshop_members (
    id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES workshop_sessions(id) ON DELETE CASCADE,
    group_name TEXT NOT NULL,
    colour TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    last_seen TEXT NOT NULL
);
CREATE INDEX workshop_members_session ON workshop_members(session_id);
"""

_V5_SETUP_VERSIONS = """
ALTER TABLE networks ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE cities ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE labs ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
"""

_V6_LIVE_REVISIONS = """
ALTER TABLE labs ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;
ALTER TABLE labs ADD COLUMN session_rev INTEGER NOT NULL DEFAULT 0;
ALTER TABLE annotations ADD COLUMN rev INTEGER NOT NULL DEFAULT 0;
ALTER TABLE annotations ADD COLUMN hidden INTEGER NOT NULL DEFAULT 0;
CREATE INDEX annotations_lab_rev ON annotations(lab_id, rev);
"""

_V7_LAYER_SOURCE_FOR = """
ALTER TABLE layers ADD COLUMN source_for TEXT NOT NULL DEFAULT '';
"""

# ---- v8: rules the database itself keeps, and real types on PostgreSQL ------------------------
# Both: geometry columns named as what they hold; one active session per living lab, unique
# round numbers and one open round per session as unique indexes (what older versions' races
# left doubled is ended first); the view of live annotations that QGIS reads.
_V8_COMMON_TAIL = """
UPDATE workshop_sessions SET status = 'ended', ended_at = COALESCE(ended_at, expires_at)
 WHERE status = 'active' AND EXISTS (
    SELECT 1 FROM workshop_sessions s2 WHERE s2.lab_id = workshop_sessions.lab_id
       AND s2.status = 'active' AND (s2.created_at > workshop_sessions.created_at
        OR (s2.created_at = workshop_sessions.created_at AND s2.id > workshop_sessions.id)));
CREATE UNIQUE INDEX workshop_sessions_one_active ON workshop_sessions(lab_id)
 WHERE status = 'active';
CREATE UNIQUE INDEX workshop_rounds_number ON workshop_rounds(session_id, number);
UPDATE workshop_rounds SET status = 'ended', ended_at = COALESCE(ended_at, started_at)
 WHERE status <> 'ended' AND EXISTS (
    SELECT 1 FROM workshop_rounds r2 WHERE r2.session_id = workshop_rounds.session_id
       AND r2.status <> 'ended' AND r2.number > workshop_rounds.number);
CREATE UNIQUE INDEX workshop_rounds_one_open ON workshop_rounds(session_id)
 WHERE status <> 'ended';
CREATE VIEW live_annotations AS
 SELECT id, lab_id, geom, geom_type, category, text, author, created_at, updated_at, version,
        updated_by, rev
   FROM annotations WHERE deleted_at IS NULL AND NOT hidden;
"""

_V8_SQLITE = (
    """
ALTER TABLE annotations RENAME COLUMN geom_wkt TO geom;
ALTER TABLE labs RENAME COLUMN boundary_wkt TO boundary;
"""
    + _V8_COMMON_TAIL
)

#: Columns migration 8 gives real types on PostgreSQL (frozen with the migration).
_V8_PG_TIMES = {
    "networks": ("created_at",),
    "labs": ("created_at", "updated_at"),
    "layers": ("created_at",),
    "snapshots": ("created_at",),
    "annotations": ("created_at", "updated_at", "deleted_at"),
    "annotation_history": ("at",),
    "annotation_comments": ("created_at", "deleted_at"),
    "annotation_votes": ("created_at",),
    "annotation_categories": ("created_at",),
    "workspace_roles": ("created_at",),
    "access_attempts": ("last_failure_at", "locked_until"),
    "workshop_sessions": ("created_at", "expires_at", "ended_at"),
    "workshop_rounds": ("started_at", "paused_at", "ended_at"),
    "workshop_members": ("created_at", "last_seen"),
}
_V8_PG_JSON = {
    "networks": (("countries", None),),
    "labs": (("themes", "'[]'"), ("principles", "'[]'"), ("sdg_targets", "'[]'")),
    "layers": (("style", "'{}'"),),
    "snapshots": (("state", "'{}'"),),
    "annotation_history": (("data", "'{}'"),),
    "annotation_categories": (("labels", "'{}'"),),
    "lab_settings": (("value", None),),
}
_V8_PG_FLAGS = {
    "cities": ("illustrative_only",),
    "labs": ("illustrative",),
    "annotations": ("hidden",),
    "workshop_rounds": ("lock_edits",),
}
_V8_PG_DOUBLES = {
    "cities": ("lon", "lat"),
    "annotations": ("minx", "miny", "maxx", "maxy"),
    "workshop_rounds": ("paused_seconds",),
}
_V8_PG_CHECKS = (
    ("workshop_sessions", "workshop_sessions_status", "status IN ('active', 'ended')"),
    ("workshop_rounds", "workshop_rounds_kind", "kind IN ('collect', 'discuss', 'vote')"),
    ("workshop_rounds", "workshop_rounds_status", "status IN ('running', 'paused', 'ended')"),
    (
        "workspace_roles",
        "workspace_roles_role",
        "role IN ('owner', 'facilitator', 'participant', 'viewer')",
    ),
    (
        "annotation_history",
        "annotation_history_action",
        "action IN ('created', 'edited', 'deleted', 'restored')",
    ),
    ("labs", "labs_status", "status IN ('planning', 'active', 'completed')"),
)


def _v8_postgres() -> str:
    """Migration 8 on PostgreSQL: the text, REAL and 0/1 columns of versions 1-7 become
    geometry, double precision, timestamptz, jsonb and boolean, converted in place."""
    out = [
        "ALTER TABLE annotations RENAME COLUMN geom_wkt TO geom",
        "ALTER TABLE labs RENAME COLUMN boundary_wkt TO boundary",
        "ALTER TABLE annotations ALTER COLUMN geom TYPE geometry(Geometry, 4326)"
        " USING ST_GeomFromText(geom, 4326)",
        "ALTER TABLE labs ALTER COLUMN boundary TYPE geometry(Geometry, 4326)"
        " USING ST_GeomFromText(boundary, 4326)",
        "CREATE INDEX annotations_geom ON annotations USING GIST (geom)",
        "CREATE INDEX labs_boundary ON labs USING GIST (boundary)",
    ]
    for table, columns in _V8_PG_DOUBLES.items():
        out.append(
            f"ALTER TABLE {table} "
            + ", ".join(f"ALTER COLUMN {c} TYPE double precision" for c in columns)
        )
    # the bounding boxes again from the geometry: REAL had kept them to about 0.3 m
    out.append(
        "UPDATE annotations SET minx = ST_XMin(geom), miny = ST_YMin(geom),"
        " maxx = ST_XMax(geom), maxy = ST_YMax(geom)"
    )
    for table, columns in _V8_PG_TIMES.items():
        out.append(
            f"ALTER TABLE {table} "
            + ", ".join(
                f"ALTER COLUMN {c} TYPE timestamptz USING {c}::timestamptz" for c in columns
            )
        )
    for table, json_columns in _V8_PG_JSON.items():
        parts = []
        for c, default in json_columns:
            parts += [
                f"ALTER COLUMN {c} DROP DEFAULT",
                f"ALTER COLUMN {c} TYPE jsonb USING {c}::jsonb",
            ]
            if default:
                parts.append(f"ALTER COLUMN {c} SET DEFAULT {default}::jsonb")
        out.append(f"ALTER TABLE {table} " + ", ".join(parts))
    for table, columns in _V8_PG_FLAGS.items():
        out.append(
            f"ALTER TABLE {table} "
            + ", ".join(
                f"ALTER COLUMN {c} DROP DEFAULT, ALTER COLUMN {c} TYPE boolean USING {c} <> 0,"
                f" ALTER COLUMN {c} SET DEFAULT false"
                for c in columns
            )
        )
    for table, name, rule in _V8_PG_CHECKS:
        out.append(f"ALTER TABLE {table} ADD CONSTRAINT {name} CHECK ({rule})")
    # rounds numbered twice by concurrent starts of an older version: number them again
    out.append(
        "UPDATE workshop_rounds r SET number = n.number FROM ("
        "SELECT id, row_number() OVER (PARTITION BY session_id ORDER BY number, started_at,"
        " id) AS number FROM workshop_rounds) n WHERE n.id = r.id AND n.number <> r.number"
    )
    return ";\n".join(out) + ";\n" + _V8_COMMON_TAIL


# ---- v9: learning across the network: lessons and questions, links between labs' notes,
# translations, and the language a note was written in ----------------------------------------
_V9_NETWORK = """
ALTER TABLE annotations ADD COLUMN lang TEXT NOT NULL DEFAULT '';
ALTER TABLE workshop_sessions ADD COLUMN kind TEXT NOT NULL DEFAULT 'workshop'
    CHECK (kind IN ('workshop', 'consultation'));
CREATE TABLE note_marks (
    annotation_id TEXT NOT NULL PRIMARY KEY REFERENCES annotations(id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('lesson', 'question')),
    principles {json} NOT NULL DEFAULT '[]',
    sdg_targets {json} NOT NULL DEFAULT '[]',
    status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'answered')),
    marked_by TEXT NOT NULL DEFAULT '',
    marked_at {time} NOT NULL
);
CREATE INDEX note_marks_kind ON note_marks(kind, status);
CREATE TABLE note_links (
    id TEXT NOT NULL PRIMARY KEY,
    from_id TEXT NOT NULL REFERENCES annotations(id) ON DELETE CASCADE,
    to_id TEXT NOT NULL REFERENCES annotations(id) ON DELETE CASCADE,
    created_by TEXT NOT NULL DEFAULT '',
    created_at {time} NOT NULL,
    CHECK (from_id <> to_id)
);
CREATE UNIQUE INDEX note_links_pair ON note_links(from_id, to_id);
CREATE INDEX note_links_to ON note_links(to_id);
CREATE TABLE note_translations (
    id TEXT NOT NULL PRIMARY KEY,
    annotation_id TEXT NOT NULL REFERENCES annotations(id) ON DELETE CASCADE,
    lang TEXT NOT NULL,
    text TEXT NOT NULL,
    author TEXT NOT NULL DEFAULT '',
    created_at {time} NOT NULL
);
CREATE UNIQUE INDEX note_translations_lang ON note_translations(annotation_id, lang);
"""

#: A migration is SQL that both databases run, or one SQL per dialect (``conn.dialect.name``).
Migration = str | dict[str, str]

#: The schema's history; never edit a released entry, append a new one.
# ---- v10: the feature sets of PostgreSQL workspaces (store.features); SQLite keeps files ----

_V10_POSTGRES = """
CREATE SEQUENCE layer_generation;
CREATE TABLE layer_sets (
    kind text NOT NULL CHECK (kind IN ('osm', 'upload')),
    lab_id text NOT NULL,
    name text NOT NULL,
    slot text NOT NULL CHECK (slot IN ('current', 'previous', 'swap')),
    meta jsonb NOT NULL,
    columns jsonb NOT NULL,
    generation bigint NOT NULL,
    saved_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, lab_id, name, slot)
);
CREATE TABLE layer_features (
    kind text NOT NULL,
    lab_id text NOT NULL,
    name text NOT NULL,
    slot text NOT NULL,
    fid integer NOT NULL,
    props jsonb NOT NULL,
    geom geometry(Geometry, 4326),
    PRIMARY KEY (kind, lab_id, name, slot, fid),
    FOREIGN KEY (kind, lab_id, name, slot) REFERENCES layer_sets (kind, lab_id, name, slot)
        ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE INDEX layer_features_geom ON layer_features USING GIST (geom);
CREATE VIEW osm_layers AS
 SELECT lab_id, name AS theme, fid, props, geom
   FROM layer_features WHERE kind = 'osm' AND slot = 'current';
CREATE VIEW uploaded_layers AS
 SELECT f.lab_id, f.name AS layer_id, l.name AS layer_name, f.fid, f.props, f.geom
   FROM layer_features f LEFT JOIN layers l ON l.id = f.name
  WHERE f.kind = 'upload' AND f.slot = 'current';
"""


# ---- v11: NOT NULL on the text primary keys of versions 1-4 (SQLite) -------------------------
# SQLite, unlike PostgreSQL, lets a PRIMARY KEY that is not an INTEGER PRIMARY KEY hold NULL, so
# ``id TEXT PRIMARY KEY`` took a row without an id. SQLite cannot add NOT NULL to a column: each
# table is built again as the SQLite manual says (https://www.sqlite.org/lang_altertable.html,
# "other kinds of table schema changes"): a new table with the same columns in the same order,
# the rows copied, the old table dropped, the new one renamed, its indexes made again. It runs
# with foreign keys off (``engine.migrate``), so dropping a table cascades nowhere, and the view
# that reads ``annotations`` is dropped first and made again. PostgreSQL: a PRIMARY KEY is NOT
# NULL already, nothing to do.
_V11_SQLITE_TABLES = (
    (
        "networks",
        """
    id TEXT NOT NULL PRIMARY KEY,
    name TEXT NOT NULL,
    countries TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 1""",
        (),
    ),
    (
        "cities",
        """
    id TEXT NOT NULL PRIMARY KEY,
    name TEXT NOT NULL,
    country TEXT NOT NULL,
    lon REAL NOT NULL,
    lat REAL NOT NULL,
    illustrative_only INTEGER NOT NULL DEFAULT 0,
    version INTEGER NOT NULL DEFAULT 1""",
        (),
    ),
    (
        "labs",
        """
    id TEXT NOT NULL PRIMARY KEY,
    city_id TEXT NOT NULL REFERENCES cities(id),
    network_id TEXT NOT NULL REFERENCES networks(id),
    title TEXT NOT NULL,
    summary TEXT NOT NULL DEFAULT '',
    themes TEXT NOT NULL DEFAULT '[]',
    principles TEXT NOT NULL DEFAULT '[]',
    sdg_targets TEXT NOT NULL DEFAULT '[]',
    status TEXT NOT NULL DEFAULT 'planning',
    boundary TEXT NOT NULL,
    illustrative INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    revision INTEGER NOT NULL DEFAULT 0,
    session_rev INTEGER NOT NULL DEFAULT 0""",
        ("CREATE INDEX labs_city ON labs(city_id)",),
    ),
    (
        "layers",
        """
    id TEXT NOT NULL PRIMARY KEY,
    lab_id TEXT NOT NULL REFERENCES labs(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    source TEXT NOT NULL DEFAULT '',
    attribution TEXT NOT NULL DEFAULT '',
    style TEXT NOT NULL DEFAULT '{}',
    path TEXT NOT NULL DEFAULT '',
    feature_count INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    source_for TEXT NOT NULL DEFAULT ''""",
        ("CREATE INDEX layers_lab ON layers(lab_id)",),
    ),
    (
        "snapshots",
        """
    id TEXT NOT NULL PRIMARY KEY,
    lab_id TEXT NOT NULL REFERENCES labs(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT '{}',
    created_by TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL""",
        ("CREATE INDEX snapshots_lab ON snapshots(lab_id)",),
    ),
    (
        "annotations",
        """
    id TEXT NOT NULL PRIMARY KEY,
    lab_id TEXT NOT NULL REFERENCES labs(id) ON DELETE CASCADE,
    geom TEXT NOT NULL,
    geom_type TEXT NOT NULL,
    minx REAL NOT NULL,
    miny REAL NOT NULL,
    maxx REAL NOT NULL,
    maxy REAL NOT NULL,
    category TEXT NOT NULL,
    text TEXT NOT NULL DEFAULT '',
    author TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    deleted_at TEXT,
    version INTEGER NOT NULL DEFAULT 1,
    updated_by TEXT NOT NULL DEFAULT '',
    rev INTEGER NOT NULL DEFAULT 0,
    hidden INTEGER NOT NULL DEFAULT 0,
    lang TEXT NOT NULL DEFAULT ''""",
        (
            "CREATE INDEX annotations_lab ON annotations(lab_id, updated_at)",
            "CREATE INDEX annotations_lab_category ON annotations(lab_id, category)",
            "CREATE INDEX annotations_lab_rev ON annotations(lab_id, rev)",
        ),
    ),
    (
        "annotation_history",
        """
    id TEXT NOT NULL PRIMARY KEY,
    annotation_id TEXT NOT NULL REFERENCES annotations(id) ON DELETE CASCADE,
    action TEXT NOT NULL,
    actor TEXT NOT NULL DEFAULT '',
    at TEXT NOT NULL,
    data TEXT NOT NULL DEFAULT '{}'""",
        ("CREATE INDEX annotation_history_annotation ON annotation_history(annotation_id)",),
    ),
    (
        "annotation_comments",
        """
    id TEXT NOT NULL PRIMARY KEY,
    annotation_id TEXT NOT NULL REFERENCES annotations(id) ON DELETE CASCADE,
    author TEXT NOT NULL,
    text TEXT NOT NULL,
    created_at TEXT NOT NULL,
    deleted_at TEXT""",
        (
            "CREATE INDEX annotation_comments_annotation"
            " ON annotation_comments(annotation_id, created_at)",
        ),
    ),
    (
        "annotation_votes",
        """
    id TEXT NOT NULL PRIMARY KEY,
    annotation_id TEXT NOT NULL REFERENCES annotations(id) ON DELETE CASCADE,
    lab_id TEXT NOT NULL REFERENCES labs(id) ON DELETE CASCADE,
    voter TEXT NOT NULL,
    round INTEGER NOT NULL,
    created_at TEXT NOT NULL""",
        (
            "CREATE INDEX annotation_votes_voter ON annotation_votes(lab_id, round, voter)",
            "CREATE INDEX annotation_votes_annotation ON annotation_votes(annotation_id)",
        ),
    ),
    (
        "annotation_categories",
        """
    code TEXT NOT NULL PRIMARY KEY,
    colour TEXT NOT NULL,
    labels TEXT NOT NULL DEFAULT '{}',
    position INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL""",
        (),
    ),
    (
        "workspace_settings",
        """
    key TEXT NOT NULL PRIMARY KEY,
    value TEXT NOT NULL""",
        (),
    ),
    (
        "workspace_roles",
        """
    email TEXT NOT NULL PRIMARY KEY,
    role TEXT NOT NULL,
    created_at TEXT NOT NULL""",
        (),
    ),
    (
        "access_attempts",
        """
    client TEXT NOT NULL PRIMARY KEY,
    failures INTEGER NOT NULL DEFAULT 0,
    last_failure_at TEXT,
    locked_until TEXT""",
        (),
    ),
    (
        "workshop_sessions",
        """
    id TEXT NOT NULL PRIMARY KEY,
    lab_id TEXT NOT NULL REFERENCES labs(id) ON DELETE CASCADE,
    title TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'active',
    created_by TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    ended_at TEXT,
    kind TEXT NOT NULL DEFAULT 'workshop' CHECK (kind IN ('workshop', 'consultation'))""",
        (
            "CREATE INDEX workshop_sessions_lab ON workshop_sessions(lab_id, status)",
            "CREATE UNIQUE INDEX workshop_sessions_one_active ON workshop_sessions(lab_id)"
            " WHERE status = 'active'",
        ),
    ),
    (
        "workshop_rounds",
        """
    id TEXT NOT NULL PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES workshop_sessions(id) ON DELETE CASCADE,
    number INTEGER NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    minutes INTEGER NOT NULL DEFAULT 0,
    lock_edits INTEGER NOT NULL DEFAULT 0,
    started_at TEXT NOT NULL,
    paused_at TEXT,
    paused_seconds REAL NOT NULL DEFAULT 0,
    ended_at TEXT,
    snapshot_id TEXT""",
        (
            "CREATE INDEX workshop_rounds_session ON workshop_rounds(session_id, number)",
            "CREATE UNIQUE INDEX workshop_rounds_number ON workshop_rounds(session_id, number)",
            "CREATE UNIQUE INDEX workshop_rounds_one_open ON workshop_rounds(session_id)"
            " WHERE status <> 'ended'",
        ),
    ),
    (
        "workshop_members",
        """
    id TEXT NOT NULL PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES workshop_sessions(id) ON DELETE CASCADE,
    group_name TEXT NOT NULL,
    colour TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    last_seen TEXT NOT NULL""",
        ("CREATE INDEX workshop_members_session ON workshop_members(session_id)",),
    ),
)

#: The view of migration 8, made again over the new ``annotations``.
_V11_LIVE_ANNOTATIONS = """
CREATE VIEW live_annotations AS
 SELECT id, lab_id, geom, geom_type, category, text, author, created_at, updated_at, version,
        updated_by, rev
   FROM annotations WHERE deleted_at IS NULL AND NOT hidden"""


def _v11_sqlite() -> str:
    """Migration 11 on SQLite: every table of ``_V11_SQLITE_TABLES`` built again."""
    out = ["DROP VIEW live_annotations"]
    for table, columns, indexes in _V11_SQLITE_TABLES:
        out += [
            f"CREATE TABLE _v11_{table} ({columns}\n)",
            f"INSERT INTO _v11_{table} SELECT * FROM {table}",
            f"DROP TABLE {table}",
            f"ALTER TABLE _v11_{table} RENAME TO {table}",
            *indexes,
        ]
    out.append(_V11_LIVE_ANNOTATIONS)
    return ";\n".join(out) + ";\n"


MIGRATIONS: tuple[Migration, ...] = (
    _V1_CORE,
    _V2_ANNOTATIONS,
    _V3_ANNOTATION_WORK,
    _V4_WORKSHOP,
    _V5_SETUP_VERSIONS,
    _V6_LIVE_REVISIONS,
    _V7_LAYER_SOURCE_FOR,
    {"sqlite": _V8_SQLITE, "postgresql": _v8_postgres()},
    {
        "sqlite": _V9_NETWORK.format(json="TEXT", time="TEXT"),
        "postgresql": _V9_NETWORK.format(json="jsonb", time="timestamptz"),
    },
    {"sqlite": "", "postgresql": _V10_POSTGRES},
    {"sqlite": _v11_sqlite(), "postgresql": ""},
)
SCHEMA_VERSION = len(MIGRATIONS)


def migration_sql(version: int, dialect: str) -> str:
    """The SQL of migration ``version`` (1-based) for ``dialect``."""
    step = MIGRATIONS[version - 1]
    return step if isinstance(step, str) else step[dialect]
