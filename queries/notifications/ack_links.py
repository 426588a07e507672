"""Remote acknowledgement: the link an excursion's message carries (/ack/<token>).

A link is issued when the message is sent (not when it is queued, so no token sits in the outbox), one per
message, valid for ATMP_ACK_LINK_HOURS and usable once. It grants nothing by itself: opening it asks the
reader to sign in, and acknowledging asks for a comment and the password (electronic signature), with the
same role and site checks as the monitoring page (queries/analyses/monitoring.acknowledge). The link is
marked used in the acknowledgement's own transaction. Only the token's SHA-256 is stored.

A link is bound to the excursion and to the address(es) it was sent to: when an address belongs to a user
(`atmp-hub users set-email`), only that user may use it (`addressed_to`); an address of no user (a shared
mailbox, an alias) leaves it to whoever may acknowledge the excursion, and the signature says who it was.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd

from queries.engine.warehouse import Warehouse
from queries.records import esignature

TOKEN_BYTES = 24
REFUSED = "ack_link_refused"


@dataclass(frozen=True)
class Link:
    excursion_id: str | None
    recipient: str | None
    problem: str | None    # None: usable now
    expires_at: datetime | None = None


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue(wh: Warehouse, *, excursion_id: str, notification_id: str, recipient: str, now: datetime,
          hours: float) -> str:
    token = secrets.token_urlsafe(TOKEN_BYTES)
    with wh.transaction() as conn:
        wh.execute(conn, "notifications/ack_link_insert", {
            "token_hash": _hash(token), "excursion_id": excursion_id, "notification_id": notification_id,
            "recipient": recipient, "created_at": now, "expires_at": now + timedelta(hours=hours)})
    return token


def look_up(wh: Warehouse, token, now: datetime) -> Link:
    """What a token opens; `problem` says why it cannot be used (unknown, used, expired)."""
    if not isinstance(token, str) or not 20 <= len(token) <= 100:
        return Link(None, None, "This link is not valid.")
    found = wh.query("notifications/ack_link_get", {"token_hash": _hash(token)})
    if found.empty:
        return Link(None, None, "This link is not valid.")
    row = found.iloc[0]
    expires = pd.Timestamp(row["expires_at"]).to_pydatetime()
    if not pd.isna(row["used_at"]):
        return Link(row["excursion_id"], row["recipient"],
                    f"This link was used already, by {row['used_by']} at {pd.Timestamp(row['used_at']):%Y-%m-%d %H:%M} UTC.",
                    expires)
    if expires <= now:
        return Link(row["excursion_id"], row["recipient"],
                    f"This link expired at {expires:%Y-%m-%d %H:%M} UTC. Acknowledge the excursion on its site's "
                    "monitoring page instead.", expires)
    return Link(row["excursion_id"], row["recipient"], None, expires)


def refuse(wh: Warehouse, *, user_id: str, token, link: Link) -> None:
    """Audit a use of a link that was refused (unknown, used, expired)."""
    esignature.audit_refusal(wh, user_id=user_id, action=REFUSED, object_type="excursion",
                             object_id=link.excursion_id or (_hash(token)[:16] if isinstance(token, str) else None),
                             reason=link.problem or "")


def mark_used(wh: Warehouse, conn, *, token: str, user_id: str, now: datetime) -> bool:
    """In the acknowledgement's transaction: False if it was used (or expired) a moment ago."""
    return bool(wh.execute(conn, "notifications/ack_link_use", {
        "token_hash": _hash(token), "used_by": user_id, "used_at": now}).fetchall())


def addressed_to(wh: Warehouse, link: Link, user_id: str) -> str | None:
    """Why this user may not use the link (it was sent to other people's addresses), or None."""
    owners = set()
    for address in (link.recipient or "").split(", "):
        owners |= set(wh.query("sql/user_by_email", {"email": address})["user_id"])
    if owners and user_id not in owners:
        return f"This link was sent to {link.recipient}, not to you: only {', '.join(sorted(owners))} may use it."
    return None
