"""Who may create workspaces and give a workspace its first owner passcode: the operator.

The operator is whoever runs the server. In the app they prove it in one of two ways:

* the **set-up token**, printed by ``workbench run`` (and ``workbench setup-token``): one use,
  valid for ``SETUP_TOKEN_HOURS``; only its hash is kept, in ``settings.setup_token_path()``;
* **open set-up** on a private machine: while the server listens on loopback only (the default
  of ``workbench run``) and ``WORKBENCH_OPEN_SETUP`` is not ``0``, whoever reaches the app sits
  at the operator's machine. Bound to any other address (``--host 0.0.0.0``), with
  ``WORKBENCH_PUBLIC_URL`` set, or for a request that came through a proxy (forwarding
  headers, see ``workbench.ui.server_host``) this is off, whatever the setting says.

On the command line the operator acts directly (``workbench passcode set|reset``).

It holds the operator's rules only; it must not serve pages (``ui``/``pages``) nor speak SQL (it
calls the store).
"""

from __future__ import annotations

import hmac
import json
import os
import secrets
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from workbench.access import SYSTEM, Actor, hash_passcode, token_hash
from workbench.errors import PermissionDenied, ValidationError
from workbench.model import utcnow
from workbench.settings import (
    SETUP_TOKEN_HOURS,
    check_workspace_name,
    is_loopback,
    open_setup_wanted,
    public_url,
    setup_token_path,
)

if TYPE_CHECKING:
    from workbench.store import Store


def open_setup(host: str | None) -> bool:
    """Whether set-up needs no token: the server listens on loopback only, no public address
    is configured (``WORKBENCH_PUBLIC_URL``: then a proxy serves it to others) and the operator
    did not switch open set-up off (``WORKBENCH_OPEN_SETUP=0``)."""
    return open_setup_wanted() and is_loopback(host) and public_url() is None


def issue_setup_token(now: datetime | None = None) -> str:
    """A new one-time set-up token (the previous one stops working); only its hash is stored."""
    token = secrets.token_urlsafe(18)
    expires = (now or utcnow()) + timedelta(hours=SETUP_TOKEN_HOURS)
    path = setup_token_path()
    tmp = path.with_name(path.name + f".{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump({"hash": token_hash(token), "expires_at": expires.isoformat()}, fh)
    os.replace(tmp, path)
    return token


def use_setup_token(token: str, now: datetime | None = None) -> None:
    """Use up the set-up token; :class:`PermissionDenied` when it is wrong, used or expired."""
    path = setup_token_path()
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
        digest, expires = str(stored["hash"]), datetime.fromisoformat(stored["expires_at"])
    except (OSError, ValueError, KeyError, TypeError):
        raise PermissionDenied("hosting.error.token_wrong") from None
    if not hmac.compare_digest(digest, token_hash((token or "").strip())):
        raise PermissionDenied("hosting.error.token_wrong")
    if (now or utcnow()) > expires:
        raise PermissionDenied("hosting.error.token_expired")
    try:
        path.unlink()  # the one caller whose unlink succeeds has used it
    except FileNotFoundError:
        raise PermissionDenied("hosting.error.token_wrong") from None


def operator(token: str | None, host: str | None) -> Actor:
    """The operator (``access.SYSTEM``) for a set-up step in the app: granted by open set-up,
    else by the set-up token, which this call uses up. Call it after checking the input, right
    before the step."""
    if open_setup(host):
        return SYSTEM
    if not (token or "").strip():
        raise PermissionDenied("hosting.error.token_needed")
    use_setup_token(token or "")
    return SYSTEM


def create_workspace(name: str, owner_passcode: str, token: str | None, host: str | None) -> Store:
    """Create the workspace ``name`` for the operator (see :func:`operator`), protected by
    ``owner_passcode``; the passcode may be left empty only under open set-up. Returns its
    store."""
    from workbench.store import open_store, workspace_exists

    name = check_workspace_name((name or "").strip())
    if workspace_exists(name):
        raise ValidationError("hosting.error.workspace_exists", name=name)
    if owner_passcode or not open_setup(host):
        hash_passcode(owner_passcode)  # refuses a short passcode before the token is used
    by = operator(token, host)
    store = open_store(name, create=True)
    if owner_passcode:
        store.set_passcode("owner", owner_passcode, by=by)
    return store


def set_first_passcode(store: Store, passcode: str, token: str | None, host: str | None) -> None:
    """Give an unprotected workspace its first owner passcode, for the operator."""
    hash_passcode(passcode)
    if store.is_protected():
        raise PermissionDenied("workshop.denied.owner_only")
    store.set_passcode("owner", passcode, by=operator(token, host))
