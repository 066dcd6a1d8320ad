"""What the app's access gate asks the store: is login required, who is this user now, did the data change.

Streamlit-free so it is testable and so pages never query: the app calls these with the store path,
each opens a short-lived connection and closes it again. Users and the audit log are not data:
`data_version` ignores them, so that recording a view does not make every cached result stale.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

import duckdb

from analytics import audit, auth, sessions, snapshots, store, write_queue
from analytics.auth import LoginRefused, User, auth_required, authenticate
from analytics.errors import UserError
from analytics.secrets_store import store_secret
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
    """A fingerprint of the assessment and survey data (not of users or the audit log): analytics.snapshots."""
    if not Path(db).exists():
        return ()
    if store.is_shared():  # the app: its latest snapshot's, checked once per change of the store
        return snapshots.current(db).fingerprint
    con = store.connect(db, read_only=True)
    try:
        return snapshots.data_fingerprint(con)
    finally:
        con.close()


def _user_row(con, user_name: str) -> User | None:
    row = con.execute("SELECT role, units, disabled FROM users WHERE user_name = ?", [user_name]).fetchone()
    if row is None or row[2]:
        return None
    return User(user_name, row[0], frozenset(json.loads(row[1])) if row[1] else None)


def current_user(db: str | os.PathLike, user_name: str) -> User | None:
    """The user as the store has them now; None when removed or disabled (their session ends)."""
    if not Path(db).exists():
        return None
    con = store.connect(db, read_only=True)
    try:
        return _user_row(con, user_name)
    finally:
        con.close()


def sso_user(db: str | os.PathLike, identity: str | None) -> User:
    """The app user for a single-sign-on identity (the provider's e-mail or name = a user_name in the store).

    The provider proves who someone is; the users table still decides their role and units, so an
    identity without an enabled account gets nothing. Both outcomes are audited; a sign-on whose audit
    row cannot be written is refused.
    """
    user = current_user(db, identity) if identity else None
    try:
        if user is None:
            record(db, identity, "login_failed", identity, {"how": "sso"})
        else:
            record(db, user.user_name, "login", user.user_name, {"role": user.role, "how": "sso"})
    except duckdb.Error:
        raise LoginRefused(auth.NOT_AUDITED) from None
    if user is None:
        raise LoginRefused("单点登录账号未在本系统登记或已停用 / this sign-on identity has no enabled account here")
    return user


def record(
    db: str | os.PathLike, user_name: str | None, action: str, target: str | None = None, detail: dict | None = None
) -> None:
    """Append one audit event; in the app, queued while a CLI import or undo holds the store (no page waits)."""
    if store.is_shared():
        write_queue.write_soon(db, lambda con: audit.record(con, user_name, action, target, detail))
        return
    con = store.connect(db)
    try:
        audit.record(con, user_name, action, target, detail)
    finally:
        con.close()


def login(db: str | os.PathLike, user_name: str, password: str, settings: Settings) -> User:
    """analytics.auth.authenticate on a short-lived connection (it counts, locks and audits every attempt)."""
    if not Path(db).exists():
        raise LoginRefused(auth.REFUSED)
    con = store.connect(db)
    try:
        return authenticate(con, user_name, password, settings)
    finally:
        con.close()


def _session_key(db: str | os.PathLike) -> bytes:
    """The store's session-signing secret; its failure is told without the server path (the app shows it)."""
    try:
        return bytes.fromhex(store_secret(db, "session"))
    except UserError:
        raise UserError(
            "会话密钥无法读取或创建，请管理员检查数据库所在文件夹的权限 / the session key cannot be read or made: "
            "an administrator should check the permissions of the store's folder"
        ) from None


def start_session(db: str | os.PathLike, user: User, settings: Settings) -> str:
    """A signed session token for the browser's cookie (analytics.sessions), valid for auth.session_minutes."""
    key = _session_key(db)
    try:
        con = store.connect(db)
        try:
            return sessions.issue(con, key, user.user_name, settings.auth.session_minutes, datetime.now())
        finally:
            con.close()
    except duckdb.Error as exc:
        raise UserError(f"会话未能写入数据库，未登录 / the session could not be stored: {type(exc).__name__}") from None


def resume_session(db: str | os.PathLike, token: str | None) -> tuple[User, datetime] | None:
    """The user and login time behind a token from a cookie (a reload, a new tab), audited as a login.

    None when the token is forged, expired or revoked, the account is disabled or removed, or the
    audit row cannot be written.
    """
    if not token or not Path(db).exists():
        return None
    key = _session_key(db)
    con = store.connect(db)
    try:
        found = sessions.check(con, key, token, datetime.now())
        user = _user_row(con, found[0]) if found else None
        if user is None:
            return None
        audit.record(con, user.user_name, "login", user.user_name, {"role": user.role, "how": "session"})
    except duckdb.Error:
        return None
    finally:
        con.close()
    return user, found[1]


def session_alive(db: str | os.PathLike, token: str | None) -> bool:
    """Whether the token is still good (a logout elsewhere, disabling or a new password end it)."""
    if not token or not Path(db).exists():
        return False
    con = store.connect(db, read_only=True, fresh=True)  # sessions now (the app's snapshot does not follow them)
    try:
        return sessions.check(con, _session_key(db), token, datetime.now()) is not None
    finally:
        con.close()


def end_session(db: str | os.PathLike, token: str | None, user_name: str, why: str) -> None:
    """Revoke the session's token and audit the logout, in one transaction (UserError when the store cannot)."""
    key = _session_key(db) if token else b""

    def work(c):
        if token:
            sessions.revoke(c, key, token, why, datetime.now())
        audit.record(c, user_name, "logout", user_name, {"reason": why})

    try:
        con = store.connect(db)
        try:
            auth.atomically(con, work)
        finally:
            con.close()
    except duckdb.Error as exc:
        raise UserError(f"注销未能写入数据库 / the logout could not be recorded: {type(exc).__name__}") from None


_FIRST_ADMIN = threading.Lock()  # the app is one process; other processes are kept out by DuckDB's file lock


def create_first_admin(db: str | os.PathLike, user_name: str, password: str, settings: Settings) -> User:
    """The store's first account, an administrator, made from the app of an open store before its first import.

    Refused once any account exists, so a visitor can never take over a store someone already runs.
    The new admin is logged in at once (the login is counted and audited like any other).
    """
    with _FIRST_ADMIN:
        con = store.connect(db)
        try:
            if con.execute("SELECT count(*) FROM users").fetchone()[0]:
                raise UserError("本数据库已有账号，请登录 / this store has accounts already: log in instead")
            auth.add_user(con, user_name, "admin", password, actor="first admin (app)")
            return authenticate(con, user_name, password, settings)
        finally:
            con.close()


def list_users(db: str | os.PathLike):
    """Every account without password hashes (analytics.auth.list_users on a short-lived connection)."""
    con = store.connect(db, read_only=True, fresh=True)
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
    *,
    actor: str | None = None,
) -> None:
    """add | disable | enable | passwd one account, audited as `actor` in the same transaction."""
    con = store.connect(db)
    try:
        if action == "add":
            auth.add_user(con, user_name, role or "", password or "", units or None, actor=actor)
        elif action == "passwd":
            auth.set_password(con, user_name, password or "", actor=actor)
        elif action in ("disable", "enable"):
            auth.set_disabled(con, user_name, action == "disable", actor=actor)
        else:
            raise ValueError(f"unknown user change {action!r}")
    finally:
        con.close()


def read_audit(db: str | os.PathLike, user_name: str | None = None, action: str | None = None, limit: int = 10_000):
    """The audit log, newest first (analytics.audit.read_log on a short-lived connection)."""
    con = store.connect(db, read_only=True, fresh=True)
    try:
        return audit.read_log(con, user_name, action, limit)
    finally:
        con.close()
