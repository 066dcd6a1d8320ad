"""The audit log: who did what, when (logins, profiles viewed, flags opened, exports, imports, undos, user changes).

Append-only from the product: this module only inserts and reads; nothing updates or deletes.
"""

from __future__ import annotations

import getpass
import json
import os
from datetime import datetime

import duckdb
import polars as pl

ACTIONS = (
    "login",
    "login_failed",
    "logout",
    "view_person",
    "open_flag",
    "review_flag",
    "export",
    "import",
    "undo",
    "user_change",
    "sql",
)


def os_actor() -> str:
    """Who runs a command-line write: 'cli:<OS user>' (the uid where the system has no name for it)."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return f"cli:uid{os.getuid()}"


def record(
    con: duckdb.DuckDBPyConnection,
    user_name: str | None,
    action: str,
    target: str | None = None,
    detail: dict | None = None,
) -> None:
    """Append one event."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    con.execute(
        "INSERT INTO audit_log VALUES (?, ?, ?, ?, ?)",
        [
            datetime.now(),
            user_name or "anonymous",
            action,
            target,
            json.dumps(detail, ensure_ascii=False, default=str) if detail else None,
        ],
    )


def read_log(
    con: duckdb.DuckDBPyConnection, user_name: str | None = None, action: str | None = None, limit: int = 10_000
) -> pl.DataFrame:
    """Newest first, optionally for one user or action."""
    cond, params = ["TRUE"], []
    if user_name:
        cond.append("user_name = ?")
        params.append(user_name)
    if action:
        cond.append("action = ?")
        params.append(action)
    return con.execute(
        f'SELECT * FROM audit_log WHERE {" AND ".join(cond)} ORDER BY "at" DESC, rowid DESC LIMIT ?', [*params, limit]
    ).pl()
