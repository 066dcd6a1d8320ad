"""Users, roles and logins: who may see which units' people.

Roles: admin (imports, undo, users; all units), head (listed units), inspector (listed units
or all), researcher (pseudonymised, small groups suppressed; all units). Passwords are hashed
with argon2id (memory-hard). Failed logins count up; after `auth.max_failed_logins` the
account locks for `auth.lock_minutes`. Scope is enforced in analytics (dataset.Scope), not by
hiding widgets: every page loads data through the user's scope.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

import duckdb
import polars as pl
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

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
MIN_PASSWORD = 8


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


def _check_role(role: str, units: list[str] | None) -> None:
    if role not in ROLES:
        raise UserError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
    if role == "head" and not units:
        raise UserError("a head must be given the units they lead (--units 单位A,单位B)")


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise UserError(f"password too short: at least {MIN_PASSWORD} characters")


def add_user(
    con: duckdb.DuckDBPyConnection, user_name: str, role: str, password: str, units: list[str] | None = None
) -> User:
    """Create a user; names are unique."""
    _check_role(role, units)
    _check_password(password)
    if con.execute("SELECT 1 FROM users WHERE user_name = ?", [user_name]).fetchone():
        raise UserError(f"user {user_name!r} exists already")
    con.execute(
        "INSERT INTO users VALUES (?, ?, ?, ?, false, 0, NULL, ?)",
        [user_name, role, json.dumps(units, ensure_ascii=False) if units else None, _HASHER.hash(password), _now()],
    )
    return User(user_name, role, frozenset(units) if units else None)


def list_users(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Every user without the password hash."""
    return con.execute(
        "SELECT user_name, role, units, disabled, failed_logins, locked_until, created_at FROM users ORDER BY user_name"
    ).pl()


def _require(con: duckdb.DuckDBPyConnection, user_name: str) -> tuple:
    row = con.execute(
        "SELECT user_name, role, units, password_hash, disabled, failed_logins, locked_until FROM users WHERE user_name = ?",
        [user_name],
    ).fetchone()
    if row is None:
        raise UserError(f"no user {user_name!r}")
    return row


def set_disabled(con: duckdb.DuckDBPyConnection, user_name: str, disabled: bool = True) -> None:
    _require(con, user_name)
    con.execute("UPDATE users SET disabled = ? WHERE user_name = ?", [disabled, user_name])


def set_password(con: duckdb.DuckDBPyConnection, user_name: str, password: str) -> None:
    """New password; also clears failures and any lock."""
    _require(con, user_name)
    _check_password(password)
    con.execute(
        "UPDATE users SET password_hash = ?, failed_logins = 0, locked_until = NULL WHERE user_name = ?",
        [_HASHER.hash(password), user_name],
    )


def authenticate(
    con: duckdb.DuckDBPyConnection, user_name: str, password: str, settings: Settings, now: datetime | None = None
) -> User:
    """The user when name and password match and the account is usable; LoginRefused otherwise."""
    now = now or _now()
    row = con.execute(
        "SELECT role, units, password_hash, disabled, failed_logins, locked_until FROM users WHERE user_name = ?",
        [user_name],
    ).fetchone()
    if row is None:
        _HASHER.hash(password)  # same work as a real check, so timing does not reveal names
        raise LoginRefused("用户名或密码错误 wrong user name or password")
    role, units, hashed, disabled, failures, locked_until = row
    if disabled:
        raise LoginRefused("账号已停用 account disabled")
    if locked_until is not None and locked_until > now:
        raise LoginRefused(f"账号已锁定至 {locked_until:%H:%M} account locked until {locked_until:%H:%M}")
    try:
        _HASHER.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        failures += 1
        lock = (
            now + timedelta(minutes=settings.auth.lock_minutes) if failures >= settings.auth.max_failed_logins else None
        )
        con.execute(
            "UPDATE users SET failed_logins = ?, locked_until = ? WHERE user_name = ?",
            [0 if lock else failures, lock, user_name],
        )
        raise LoginRefused("用户名或密码错误 wrong user name or password") from None
    con.execute("UPDATE users SET failed_logins = 0, locked_until = NULL WHERE user_name = ?", [user_name])
    return User(user_name, role, frozenset(json.loads(units)) if units else None)


def auth_required(con: duckdb.DuckDBPyConnection, settings: Settings) -> bool:
    """Login is required whenever the store holds imported data, unless settings say otherwise.

    The built-in demo city is generated, not imported, so it opens without login.
    """
    if settings.auth.required is not None:
        return settings.auth.required
    return con.execute("SELECT count(*) FROM imports WHERE status <> 'undone'").fetchone()[0] > 0


def session_expired(started_at: datetime, settings: Settings, now: datetime | None = None) -> bool:
    return (now or _now()) - started_at > timedelta(minutes=settings.auth.session_minutes)
