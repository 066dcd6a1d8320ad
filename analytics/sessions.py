"""Login sessions that survive a reload: a signed, expiring token the browser keeps in a cookie.

Token: `v1.<user name, base64url>.<random id>.<expiry, unix seconds>.<HMAC-SHA256, base64url>`, signed with
the store's own "session" secret (analytics.secrets_store: a 0600 file beside the store, out of every
query's reach). The `sessions` table keeps only the sha256 of each random id with its expiry and, once it
ends, when and why: logout, disabling the account or a new password revoke it there, so a copied cookie
stops working at once. A token is good only while its signature, its expiry and its row all agree.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import duckdb

VERSION = "v1"
COOKIE = "kaohe_session"


@dataclass(frozen=True)
class Claims:
    user_name: str
    session_id: str  # sha256 of the token's random id, as the sessions table keys it
    expires: datetime


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, payload: str) -> str:
    return _b64(hmac.new(key, payload.encode("ascii"), hashlib.sha256).digest())


def _session_id(random_id: str) -> str:
    return hashlib.sha256(random_id.encode("ascii")).hexdigest()


def issue(con: duckdb.DuckDBPyConnection, key: bytes, user_name: str, minutes: int, now: datetime) -> str:
    """A new token for `user_name`, valid `minutes` from `now`, recorded in the sessions table."""
    random_id = secrets.token_urlsafe(24)
    expires = (now + timedelta(minutes=minutes)).replace(microsecond=0)
    payload = f"{VERSION}.{_b64(user_name.encode('utf-8'))}.{random_id}.{int(expires.timestamp())}"
    con.execute(
        "INSERT INTO sessions VALUES (?, ?, ?, ?, NULL, NULL)", [_session_id(random_id), user_name, now, expires]
    )
    return f"{payload}.{_mac(key, payload)}"


def read(key: bytes, token: str | None) -> Claims | None:
    """The token's claims when its signature holds (expiry and revocation are `check`'s business)."""
    try:
        version, name, random_id, expires, mac = (token or "").split(".")
        payload = f"{version}.{name}.{random_id}.{expires}"
        if version != VERSION or not hmac.compare_digest(mac, _mac(key, payload)):
            return None
        return Claims(_unb64(name).decode("utf-8"), _session_id(random_id), datetime.fromtimestamp(int(expires)))
    except (ValueError, UnicodeError):  # wrong shape, bad base64, bad number: not our token
        return None


def check(con: duckdb.DuckDBPyConnection, key: bytes, token: str | None, now: datetime) -> tuple[str, datetime] | None:
    """(user name, login time) while the token is signed, unexpired and not revoked; None otherwise."""
    claims = read(key, token)
    if claims is None or claims.expires <= now:
        return None
    row = con.execute(
        """SELECT issued_at FROM sessions WHERE session_id = ? AND user_name = ? AND revoked_at IS NULL
           AND expires_at > ?""",
        [claims.session_id, claims.user_name, now],
    ).fetchone()
    return (claims.user_name, row[0]) if row else None


def revoke(con: duckdb.DuckDBPyConnection, key: bytes, token: str | None, why: str, now: datetime) -> bool:
    """End one session (logout); False when the token is not one of ours or already ended."""
    claims = read(key, token)
    if claims is None:
        return False
    ended = con.execute(
        "UPDATE sessions SET revoked_at = ?, revoked_why = ? WHERE session_id = ? AND revoked_at IS NULL RETURNING 1",
        [now, why, claims.session_id],
    ).fetchall()
    return bool(ended)


def revoke_user(con: duckdb.DuckDBPyConnection, user_name: str, why: str, now: datetime | None = None) -> int:
    """End every open session of `user_name` (account disabled, password changed); how many ended."""
    return len(
        con.execute(
            "UPDATE sessions SET revoked_at = ?, revoked_why = ? WHERE user_name = ? AND revoked_at IS NULL RETURNING 1",
            [now or datetime.now(), why, user_name],
        ).fetchall()
    )
