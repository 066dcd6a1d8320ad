"""What the app's access gate asks the store: is login required, who is this user now, did the data change.

Streamlit-free so it is testable and so pages never query: the app calls these with the store path,
each opens a short-lived connection and closes it again. Users and the audit log are not data:
`data_version` ignores them, so that recording a view does not make every cached result stale.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, replace
from pathlib import Path

from analytics import audit, auth, store
from analytics.auth import LoginRefused, User, auth_required, authenticate
from analytics.settings import Settings


@dataclass(frozen=True)
class StoreFacts:
    required: bool  # login needed (settings, else: imported data present)
    imported: bool  # the store holds data that came in through an import (not only the demo city)
    users: int  # accounts in the store (0: the first admin must be made with the CLI)


def store_facts(db: str | os.PathLike, settings: Settings) -> StoreFacts:
    """Whether login is required for the store at `db` (a missing store needs none)."""
    if not Path(db).exists():
        return StoreFacts(required=bool(settings.auth.required), imported=False, users=0)
    con = store.connect(db, read_only=True)
    try:
        imported = auth_required(con, replace(settings, auth=replace(settings.auth, required=None)))
        users = con.execute("SELECT count(*) FROM users").fetchone()[0]
        return StoreFacts(required=auth_required(con, settings), imported=imported, users=users)
    finally:
        con.close()


def data_version(db: str | os.PathLike) -> tuple:
    """A fingerprint of the assessment and survey data (not of users or the audit log).

    Row counts of every data table, the imports' ids and statuses, and a hash over the quarterly
    rows (so a rebuilt demo city with the same size still reads as new data).
    """
    if not Path(db).exists():
        return ()
    con = store.connect(db, read_only=True)
    try:
        return con.execute(
            """SELECT
                 (SELECT count(*) FROM quarterly),
                 (SELECT coalesce(sum(hash(person_id, name, unit, year, quarter, grade, score, reviewer)), 0)
                    FROM quarterly),
                 (SELECT count(*) FROM annual), (SELECT count(*) FROM outcomes),
                 (SELECT count(*) FROM survey_items), (SELECT count(*) FROM survey_respondents),
                 (SELECT count(*) FROM survey_answers), (SELECT count(*) FROM demo_truth),
                 (SELECT count(*) FROM rejected_rows),
                 (SELECT count(*) FROM imports), (SELECT max(import_id) FROM imports),
                 (SELECT count(*) FILTER (WHERE status = 'undone') FROM imports)"""
        ).fetchone()
    finally:
        con.close()


def current_user(db: str | os.PathLike, user_name: str) -> User | None:
    """The user as the store has them now; None when removed or disabled (their session ends)."""
    if not Path(db).exists():
        return None
    con = store.connect(db, read_only=True)
    try:
        row = con.execute("SELECT role, units, disabled FROM users WHERE user_name = ?", [user_name]).fetchone()
    finally:
        con.close()
    if row is None or row[2]:
        return None
    return User(user_name, row[0], frozenset(json.loads(row[1])) if row[1] else None)


def sso_user(db: str | os.PathLike, identity: str | None) -> User:
    """The app user for a single-sign-on identity (the provider's e-mail or name = a user_name in the store).

    The provider proves who someone is; the users table still decides their role and units, so an
    identity without an enabled account gets nothing.
    """
    user = current_user(db, identity) if identity else None
    if user is None:
        raise LoginRefused("单点登录账号未在本系统登记或已停用 / this sign-on identity has no enabled account here")
    return user


def record(
    db: str | os.PathLike, user_name: str | None, action: str, target: str | None = None, detail: dict | None = None
) -> None:
    """Append one audit event on a short-lived connection."""
    con = store.connect(db)
    try:
        audit.record(con, user_name, action, target, detail)
    finally:
        con.close()


def login(db: str | os.PathLike, user_name: str, password: str, settings: Settings) -> User:
    """analytics.auth.authenticate on a short-lived connection (it counts failures and locks accounts)."""
    if not user_name or not Path(db).exists():
        raise LoginRefused("用户名或密码错误 wrong user name or password")
    con = store.connect(db)
    try:
        return authenticate(con, user_name, password, settings)
    finally:
        con.close()


def list_users(db: str | os.PathLike):
    """Every account without password hashes (analytics.auth.list_users on a short-lived connection)."""
    con = store.connect(db, read_only=True)
    try:
        return auth.list_users(con)
    finally:
        con.close()


def change_user(
    db: str | os.PathLike,
    action: str,
    user_name: str,
    role: str | None = None,
    password: str | None = None,
    units: list[str] | None = None,
) -> None:
    """add | disable | enable | passwd one account (the caller audits the change)."""
    con = store.connect(db)
    try:
        if action == "add":
            auth.add_user(con, user_name, role or "", password or "", units or None)
        elif action == "passwd":
            auth.set_password(con, user_name, password or "")
        elif action in ("disable", "enable"):
            auth.set_disabled(con, user_name, action == "disable")
        else:
            raise ValueError(f"unknown user change {action!r}")
    finally:
        con.close()


def read_audit(db: str | os.PathLike, user_name: str | None = None, action: str | None = None, limit: int = 10_000):
    """The audit log, newest first (analytics.audit.read_log on a short-lived connection)."""
    con = store.connect(db, read_only=True)
    try:
        return audit.read_log(con, user_name, action, limit)
    finally:
        con.close()
