"""Who may do what: roles, the acting person (:class:`Actor`), the permission matrix, round
phases, passcode hashing and signed join links.

Pure functions (no SQL, no Streamlit). The store calls :func:`check` inside its write
transactions, so every rule holds whichever page or script writes.

Roles per workspace, from most to least rights:

* ``owner``: everything, including the workspace's passcodes and the members' roles;
* ``facilitator``: runs workshop sessions (rounds, timer, vote limit, presenter view) and
  moderates (hides and restores any annotation or comment);
* ``participant``: joined a session through its link under a group name; adds, and edits,
  deletes and restores only their own group's annotations and comments; votes;
* ``viewer``: reads; every write is refused.

Setting the workspace up (networks, cities, living labs: ``setup.edit``; uploaded layers,
their styles and the OSM cache: ``layers.edit``; saving and deleting snapshots:
``snapshot.manage``) is for owners and facilitators only.

Writes without an actor (``by=None``) are the local single-user mode: allowed as the owner only
while the workspace has NO passcode (and the living lab no active workshop session). Once a
passcode protects the workspace, every write must name its actor, else it is refused. Code that
runs with file-system access to the database (the ``workbench`` command line, the demo seeding,
scripts) is the workspace's operator and passes :data:`SYSTEM` explicitly; it never relies on
``by=None``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime

from workbench import palette
from workbench.errors import PermissionDenied, ValidationError
from workbench.settings import FREE_ATTEMPTS, MAX_BACKOFF_S, MIN_PASSCODE_CHARS

ROLES = ("owner", "facilitator", "participant", "viewer")

#: Every write the store guards, by name.
ACTIONS = (
    "annotation.add",  # a new annotation
    "annotation.edit",  # text, category or shape of one's own group's annotation
    "annotation.delete",  # soft delete of one's own group's annotation
    "annotation.restore",  # undo of that delete
    "annotation.moderate",  # hide or restore ANY annotation, edit any
    "comment.add",
    "comment.delete",  # hide one's own group's comment
    "comment.moderate",  # hide or restore ANY comment
    "vote.cast",
    "vote.retract",
    "lab.settings",  # vote limit, voting round, presenter view, categories
    "session.run",  # create/end sessions, start/pause/end rounds
    "workspace.admin",  # passcodes and members' roles
    "setup.edit",  # add, edit, delete networks, cities and living labs
    "layers.edit",  # uploaded layers (add, style, delete) and the OSM cache (fetch, import)
    "snapshot.manage",  # save and delete named snapshots (round ends save them for the runner)
)

_PARTICIPANT = frozenset(
    {
        "annotation.add",
        "annotation.edit",
        "annotation.delete",
        "annotation.restore",
        "comment.add",
        "comment.delete",
        "vote.cast",
        "vote.retract",
    }
)
#: The permission matrix: role -> the actions it may take.
PERMISSIONS: dict[str, frozenset[str]] = {
    "owner": frozenset(ACTIONS),
    "facilitator": frozenset(ACTIONS) - {"workspace.admin"},
    "participant": _PARTICIPANT,
    "viewer": frozenset(),
}

#: Kinds of rounds a facilitator runs, in their usual order.
ROUND_KINDS = ("collect", "discuss", "vote")
#: What participants may NOT do in each phase (owners and facilitators keep moderating).
_PHASE_REFUSED_PARTICIPANT = {
    "vote": _PARTICIPANT - {"vote.cast", "vote.retract"},
    "paused": _PARTICIPANT,
    "discuss_locked": {
        "annotation.add",
        "annotation.edit",
        "annotation.delete",
        "annotation.restore",
    },
}
#: What nobody may do in a phase: while voting the set of annotations stays fixed.
_PHASE_REFUSED_ALL = {"vote": {"annotation.add"}}

#: Group colours offered when joining: Okabe & Ito (2008), told apart with colour-vision
#: deficiency; each has a name (``workshop.colour.<name>``) so it is never colour alone.
GROUP_COLOURS = palette.GROUP_COLOURS


@dataclass(frozen=True)
class Actor:
    """The person a write is done for.

    ``group`` is the participant's group name (for owners and facilitators the name shown in
    the history); ``session_id`` the workshop session a participant joined (None for the
    workspace's owners and facilitators); ``member_id`` the participant's membership.
    """

    role: str
    group: str = ""
    session_id: str | None = None
    member_id: str | None = None

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"unknown role {self.role!r}")

    @property
    def can_moderate(self) -> bool:
        return "annotation.moderate" in PERMISSIONS[self.role]

    def may(self, action: str) -> bool:
        return action in PERMISSIONS[self.role]


#: The operator: whoever runs the ``workbench`` command line, the demo seeding or a script. They
#: open the database file directly, so they act as the workspace's owner; pass ``by=SYSTEM``
#: (never ``by=None``, which a passcode-protected workspace refuses).
SYSTEM = Actor("owner")


#: Cyrillic and Greek letters that look like Latin ones (after NFKC and case folding), mapped to
#: them: a small explicit part of Unicode's confusables (UTS #39), enough that "Group В" with a
#: Cyrillic В is Group B. No kept library offers the skeleton without a large dependency.
_LOOK_ALIKES = str.maketrans(
    {
        # Cyrillic
        "а": "a",
        "в": "b",
        "с": "c",
        "ԁ": "d",
        "е": "e",
        "ё": "e",
        "һ": "h",
        "і": "i",
        "ї": "i",
        "ј": "j",
        "к": "k",
        "ӏ": "l",
        "м": "m",
        "н": "h",
        "о": "o",
        "р": "p",
        "ԛ": "q",
        "ѕ": "s",
        "т": "t",
        "ѵ": "v",
        "ԝ": "w",
        "х": "x",
        "у": "y",
        "ү": "y",
        "з": "3",
        "ь": "b",
        # Greek
        "α": "a",
        "β": "b",
        "ε": "e",
        "η": "n",
        "ι": "i",
        "κ": "k",
        "ν": "v",
        "ο": "o",
        "ρ": "p",
        "τ": "t",
        "υ": "u",
        "χ": "x",
        "γ": "y",
        "ζ": "z",
        "μ": "u",
        "ω": "w",
        "σ": "o",
        "ς": "c",
    }
)


def group_key(name: str) -> str:
    """The form in which group names are compared: NFKC, case folded, format characters
    (zero-width spaces and joiners, bidi controls, soft hyphens) removed, Cyrillic and Greek
    look-alikes of Latin letters mapped to them, whitespace collapsed. "Group B", "group b",
    "Group B\u200b" and "Group В" (Cyrillic) have one key. The one normaliser of group names."""
    text = unicodedata.normalize("NFKC", name or "")
    text = "".join(ch for ch in text if unicodedata.category(ch) not in ("Cf", "Cc"))
    text = unicodedata.normalize("NFKC", text.casefold()).translate(_LOOK_ALIKES)
    return " ".join(text.split())


def same_group(a: str, b: str) -> bool:
    """Whether two group names name the same group (see :func:`group_key`)."""
    return group_key(a) == group_key(b)


def check(
    actor: Actor,
    action: str,
    *,
    phase: str = "open",
    owner: str | None = None,
    lock_edits: bool = False,
) -> None:
    """Raise :class:`PermissionDenied` unless ``actor`` may take ``action`` now.

    ``phase`` is the session's phase on the living lab (``open`` without a session);
    ``owner`` the group that wrote the item acted on (for a participant's own-item actions);
    ``lock_edits`` whether the running discuss round locks editing.
    """
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    if not actor.may(action):
        raise PermissionDenied(f"workshop.denied.{actor.role}", action=action)
    if action in _PHASE_REFUSED_ALL.get(phase, ()):
        raise PermissionDenied(f"workshop.denied.phase_{phase}")
    if actor.role != "participant":
        return
    key = "discuss_locked" if phase == "discuss" and lock_edits else phase
    if action in _PHASE_REFUSED_PARTICIPANT.get(key, ()):
        raise PermissionDenied(f"workshop.denied.phase_{key}")
    if owner is not None and action in (
        "annotation.edit",
        "annotation.delete",
        "annotation.restore",
        "comment.delete",
    ):
        if not same_group(owner, actor.group):
            raise PermissionDenied("workshop.denied.not_own")


# ---- passcodes --------------------------------------------------------------------------------
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


def hash_passcode(passcode: str) -> str:
    """A salted scrypt hash of ``passcode`` as ``scrypt$n$r$p$salt$hash`` (base64)."""
    if len(passcode or "") < MIN_PASSCODE_CHARS:
        raise ValidationError("workshop.error.passcode_short", limit=MIN_PASSCODE_CHARS)
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(passcode.encode(), salt=salt, dklen=32, **_SCRYPT)
    return "$".join(
        [
            "scrypt",
            str(_SCRYPT["n"]),
            str(_SCRYPT["r"]),
            str(_SCRYPT["p"]),
            _b64(salt),
            _b64(digest),
        ]
    )


def verify_passcode(passcode: str, stored: str) -> bool:
    """Whether ``passcode`` matches ``stored`` (constant-time comparison)."""
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        got = hashlib.scrypt(
            (passcode or "").encode(), salt=_unb64(salt), dklen=32, n=int(n), r=int(r), p=int(p)
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, _unb64(digest))


def backoff_seconds(failures: int, free: int = FREE_ATTEMPTS) -> int:
    """Seconds to wait after ``failures`` failed attempts: 0 for the first ``free`` ones, then
    doubling from 2 s up to ``MAX_BACKOFF_S``."""
    if failures < free:
        return 0
    return min(MAX_BACKOFF_S, int(2 ** (failures - free + 1)))  # int: a power of 2 here


def client_key(raw: str | None) -> str:
    """How a client is counted for the rate limit: a hash of its address (not stored plain).
    An IPv6 address counts by its /64 network, which one household or phone is given whole,
    so that walking through its addresses does not give fresh free attempts."""
    text = (raw or "unknown").strip()
    try:
        address = ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        address = None
    if isinstance(address, ipaddress.IPv6Address):
        text = str(address.ipv4_mapped or ipaddress.ip_network(f"{address}/64", strict=False))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


# ---- join links -------------------------------------------------------------------------------
def sign_join_token(secret: bytes, session_id: str, expires_at: datetime) -> str:
    """A join token: the session id and expiry, signed with the workspace's secret (HMAC)."""
    payload = _b64(
        json.dumps(
            {"s": session_id, "e": int(expires_at.timestamp())}, separators=(",", ":")
        ).encode()
    )
    return payload + "." + _b64(hmac.new(secret, payload.encode(), hashlib.sha256).digest())


#: Letters and digits of join codes: none that look alike (0/O/D, 1/I/L, 2/Z, 5/S, 6/G, 8/B,
#: U/V), so a code read off a projector is typed right.
JOIN_CODE_ALPHABET = "ACEFHJKMNPRTWXY3479"
JOIN_CODE_LENGTH = 6


def join_code(secret: bytes, session_id: str) -> str:
    """The session's short join code (``JOIN_CODE_LENGTH`` characters of
    ``JOIN_CODE_ALPHABET``), derived from the workspace's secret: the same while the session
    runs, nothing to store, worthless once it ended (only active sessions are looked up)."""
    digest = int.from_bytes(
        hmac.new(secret, b"join-code:" + session_id.encode(), hashlib.sha256).digest(), "big"
    )
    letters = []
    for _ in range(JOIN_CODE_LENGTH):
        digest, k = divmod(digest, len(JOIN_CODE_ALPHABET))
        letters.append(JOIN_CODE_ALPHABET[k])
    return "".join(letters)


def clean_join_code(text: object) -> str:
    """What someone typed as a join code, as the code is written: upper case, without spaces
    or dashes (``"ac3 9-xy"`` is ``"AC39XY"``)."""
    return "".join(ch for ch in str(text or "").upper() if ch.isalnum())[:20]


def read_join_token(secret: bytes, token: str, now: datetime) -> str:
    """The session id of a valid, unexpired token; :class:`PermissionDenied` otherwise."""
    try:
        payload, signature = (token or "").strip().split(".")
        expected = hmac.new(secret, payload.encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(expected, _unb64(signature)):
            raise ValueError("signature")
        data = json.loads(_unb64(payload))
        session_id, expires = str(data["s"]), int(data["e"])
    except (ValueError, KeyError, TypeError):
        raise PermissionDenied("workshop.error.link_invalid") from None
    if now.timestamp() > expires:
        raise PermissionDenied("workshop.error.link_expired")
    return session_id


def new_member_token() -> str:
    """The secret a participant's browser keeps (in the URL) to come back as their group."""
    return secrets.token_urlsafe(24)


def token_hash(token: str) -> str:
    return hashlib.sha256((token or "").encode()).hexdigest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
