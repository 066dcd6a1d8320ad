"""Users, roles and logins: who may see which units' people.

Roles: admin (imports, undo, users; all units), head (listed units), inspector (listed units
or all), researcher (pseudonymised, small groups suppressed; all units). Passwords are hashed
with argon2id (memory-hard) and must pass analytics.passwords. Each login attempt is one
transaction: it is counted (and the account locked at `auth.max_failed_logins`, for
`auth.lock_minutes`) in a single UPDATE before the password is checked, then audited, so parallel
guesses cannot read a stale count and no attempt goes unrecorded. Account changes are audited in
their own transaction too. Scope is enforced in analytics (dataset.Scope), not by hiding widgets:
every page loads data through the user's scope.
"""

from __future__ import annotations

import contextlib
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import TypeVar

import duckdb
import polars as pl
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from analytics import audit, passwords, sessions
from analytics.dataset import Scope
from analytics.errors import UserError
from analytics.settings import Settings

ROLES = ("admin", "head", "inspector", "researcher")
ROLE_LABELS = {
    "admin": ("管理员", "Administrator"),
    "head": ("部门负责人", "Department head"),
    "inspector": ("督查巡察", "Inspector"),
    "researcher": ("研究人员", "Researcher"),
}
_HASHER = PasswordHasher()  # argon2id, library defaults (64 MiB, 3 passes)
MIN_PASSWORD = passwords.MIN_LENGTH
# One answer for every refusal (unknown name, wrong password, locked, disabled): none reveals that a name exists.
REFUSED = "用户名或密码错误，或账号已锁定、停用 / wrong user name or password, or the account is locked or disabled"
NOT_AUDITED = "登录未能写入审计日志，未登录；请联系管理员 / the login could not be audited, so it was refused"
T = TypeVar("T")
_CONFLICT_TRIES = 200  # concurrent logins to one account retry DuckDB's write-write conflicts this often


@dataclass(frozen=True)
class User:
    user_name: str
    role: str
    units: frozenset[str] | None  # None = every unit

    @property
    def scope(self) -> Scope:
        units = None if self.role in ("admin", "researcher") else self.units
        if self.role == "head" and units is None:
            units = frozenset()  # a head with no units listed sees nothing, never everything
        return Scope(units=units, pseudonymise=self.role == "researcher")

    @property
    def can_import(self) -> bool:
        return self.role == "admin"


class LoginRefused(UserError):
    """Wrong name/password, disabled or locked account (the message never says which of name/password)."""


def _now() -> datetime:
    return datetime.now()


def _rollback(con: duckdb.DuckDBPyConnection) -> None:
    with contextlib.suppress(duckdb.Error):  # a failed COMMIT has already ended the transaction
        con.execute("ROLLBACK")


def atomically(con: duckdb.DuckDBPyConnection, work: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
    """`work(con)` in one transaction, all or nothing, retried when a concurrent transaction changed the same row.

    DuckDB refuses the later of two writes to one row ("Conflict on tuple ..."); the retry then reads the row
    as the winner left it, so parallel logins to one account count every failure exactly once.
    """
    for attempt in range(_CONFLICT_TRIES):
        con.execute("BEGIN TRANSACTION")
        try:
            result = work(con)
            con.execute("COMMIT")
            return result
        except duckdb.TransactionException:
            _rollback(con)
            time.sleep(random.uniform(0.001, 0.004) * min(attempt + 1, 25))  # jitter: the retries spread out
        except BaseException:
            _rollback(con)
            raise
    raise UserError("数据库繁忙，请稍后再试 / the store is busy; try again in a moment")


def known_units(con: duckdb.DuckDBPyConnection) -> set[str]:
    """Every unit named anywhere in the store's assessment and survey data."""
    rows = con.execute(
        """SELECT unit FROM quarterly UNION SELECT unit FROM annual UNION SELECT unit FROM outcomes
           UNION SELECT unit FROM survey_respondents"""
    ).fetchall()
    return {r[0] for r in rows if r[0] is not None}


def _check_role(role: str | None, units: list[str] | None) -> None:
    if role not in ROLES:
        raise UserError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
    if role == "head" and not units:
        raise UserError("a head must be given the units they lead (--units 单位A,单位B)")


def _check_units(con: duckdb.DuckDBPyConnection, units: list[str], allow_unknown: bool) -> None:
    """A scope naming a unit the store does not hold is a typo that would silently show nothing."""
    unknown = sorted(set(units) - known_units(con))
    if unknown and not allow_unknown:
        shown = "、".join(unknown[:5]) + (f" …（共 {len(unknown)} 个）" if len(unknown) > 5 else "")
        raise UserError(
            f"库中没有这些单位：{shown}；请核对名称，或加 --allow-unknown-unit"
            f" / the store holds no unit named {', '.join(unknown[:5])}: check the spelling, or pass --allow-unknown-unit"
        )


def _audit_change(
    con: duckdb.DuckDBPyConnection, actor: str | None, action: str, user_name: str, **detail: object
) -> None:
    audit.record(con, actor or audit.os_actor(), "user_change", user_name,
                 {"action": action, **{k: v for k, v in detail.items() if v}})  # fmt: skip


def add_user(
    con: duckdb.DuckDBPyConnection,
    user_name: str,
    role: str,
    password: str,
    units: list[str] | None = None,
    *,
    allow_unknown_units: bool = False,
    actor: str | None = None,
) -> User:
    """Create a user (names trimmed and unique ignoring case) and audit it in the same transaction."""
    name = passwords.check_name(user_name)
    units = sorted({u.strip() for u in units or [] if u and u.strip()}) or None
    _check_role(role, units)
    if units:
        _check_units(con, units, allow_unknown_units)
    passwords.check_password(name, password)
    hashed = _HASHER.hash(password)

    def work(c: duckdb.DuckDBPyConnection) -> None:
        if c.execute("SELECT 1 FROM users WHERE lower(user_name) = lower(?)", [name]).fetchone():
            raise UserError(f"user {name!r} exists already")
        c.execute(
            "INSERT INTO users VALUES (?, ?, ?, ?, false, 0, NULL, ?)",
            [name, role, json.dumps(units, ensure_ascii=False) if units else None, hashed, _now()],
        )
        _audit_change(c, actor, "add", name, role=role, units=units)

    atomically(con, work)
    return User(name, role, frozenset(units) if units else None)


def list_users(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Every user without the password hash."""
    return con.execute(
        "SELECT user_name, role, units, disabled, failed_logins, locked_until, created_at FROM users ORDER BY user_name"
    ).pl()


def _require(con: duckdb.DuckDBPyConnection, user_name: str) -> str:
    name = passwords.clean_name(user_name)
    if con.execute("SELECT 1 FROM users WHERE user_name = ?", [name]).fetchone() is None:
        raise UserError(f"no user {name!r}")
    return name


def set_disabled(
    con: duckdb.DuckDBPyConnection, user_name: str, disabled: bool = True, *, actor: str | None = None
) -> None:
    """Disable (every open session of theirs ends) or enable an account."""
    name = _require(con, user_name)

    def work(c: duckdb.DuckDBPyConnection) -> None:
        c.execute("UPDATE users SET disabled = ? WHERE user_name = ?", [disabled, name])
        if disabled:
            sessions.revoke_user(c, name, "disabled")
        _audit_change(c, actor, "disable" if disabled else "enable", name)

    atomically(con, work)


def set_password(con: duckdb.DuckDBPyConnection, user_name: str, password: str, *, actor: str | None = None) -> None:
    """New password; also clears failures and any lock, and ends the account's open sessions."""
    name = _require(con, user_name)
    passwords.check_password(name, password)
    hashed = _HASHER.hash(password)

    def work(c: duckdb.DuckDBPyConnection) -> None:
        c.execute(
            "UPDATE users SET password_hash = ?, failed_logins = 0, locked_until = NULL WHERE user_name = ?",
            [hashed, name],
        )
        sessions.revoke_user(c, name, "password changed")
        _audit_change(c, actor, "passwd", name)

    atomically(con, work)


# Count this attempt and lock at the limit in one statement, before the password is checked: parallel
# guesses each take one of the `max` tries a lock window allows, and none can read a stale count.
# An expired lock starts a fresh window. No row comes back for unknown, disabled and locked names.
_CLAIM = """
UPDATE users SET
  failed_logins = CASE WHEN locked_until <= $now THEN 1 ELSE failed_logins + 1 END,
  locked_until = CASE WHEN (CASE WHEN locked_until <= $now THEN 1 ELSE failed_logins + 1 END) >= $max
                      THEN $until WHEN locked_until <= $now THEN NULL ELSE locked_until END
WHERE user_name = $name AND NOT disabled AND (locked_until IS NULL OR locked_until <= $now)
RETURNING role, units, password_hash, failed_logins, locked_until
"""


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _HASHER.hash("not-a-password-of-anyone")


def _verified(hashed: str, password: str) -> bool:
    try:
        return _HASHER.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return False


def _why_refused(con: duckdb.DuckDBPyConnection, name: str) -> dict:
    row = con.execute("SELECT disabled, locked_until FROM users WHERE user_name = ?", [name]).fetchone()
    if row is None:
        return {"reason": "unknown"}
    return {"reason": "disabled"} if row[0] else {"reason": "locked", "locked_until": row[1]}


def _attempt(
    con: duckdb.DuckDBPyConnection, name: str, password: str, settings: Settings, now: datetime, how: str
) -> User | None:
    """One login attempt as one transaction: count, check, reset on success, audit either way."""
    limit = settings.auth.max_failed_logins
    until = now + timedelta(minutes=settings.auth.lock_minutes)
    claim = con.execute(_CLAIM, {"now": now, "max": limit, "until": until, "name": name}).fetchone()
    if claim is None:
        _verified(_dummy_hash(), password)  # the same work as a real check: timing tells nothing either
        audit.record(con, name or None, "login_failed", name, {"how": how, **_why_refused(con, name)})
        return None
    role, units, hashed, failures, locked_until = claim
    if not _verified(hashed, password):
        detail = {"how": how, "reason": "wrong password", "failures": failures, "locked_until": locked_until}
        audit.record(con, name, "login_failed", name, detail)
        return None
    con.execute("UPDATE users SET failed_logins = 0, locked_until = NULL WHERE user_name = ?", [name])
    audit.record(con, name, "login", name, {"role": role, "how": how})
    return User(name, role, frozenset(json.loads(units)) if units else None)


def authenticate(
    con: duckdb.DuckDBPyConnection,
    user_name: str,
    password: str,
    settings: Settings,
    now: datetime | None = None,
    how: str = "password",
) -> User:
    """The user when name and password match and the account is usable; LoginRefused otherwise.

    Every attempt is audited in the transaction that counts it: when the audit row cannot be written the
    attempt is undone and refused (NOT_AUDITED, whatever the password), so no session starts unrecorded.
    """
    name = passwords.clean_name(user_name)[: 2 * passwords.MAX_NAME]
    try:
        user = atomically(con, lambda c: _attempt(c, name, password or "", settings, now or _now(), how))
    except duckdb.Error:
        raise LoginRefused(NOT_AUDITED) from None
    except UserError as exc:  # the store stayed busy
        raise LoginRefused(str(exc)) from None
    if user is None:
        raise LoginRefused(REFUSED)
    return user


def auth_required(con: duckdb.DuckDBPyConnection, settings: Settings) -> bool:
    """Login is required whenever the store holds imported data, unless settings say otherwise.

    The built-in demo city is generated, not imported, so it opens without login.
    """
    if settings.auth.required is not None:
        return settings.auth.required
    return con.execute("SELECT count(*) FROM imports WHERE status <> 'undone'").fetchone()[0] > 0


def session_expired(started_at: datetime, settings: Settings, now: datetime | None = None) -> bool:
    return (now or _now()) - started_at > timedelta(minutes=settings.auth.session_minutes)
