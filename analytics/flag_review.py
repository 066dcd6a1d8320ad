"""Working a flag to a close: status (待核查 · 核实 · 误报 · 已整改), assignee, note and date.

Reviews are keyed by `flag_key` (analytics.detectors.base), which names the *finding*, not one run,
so a review survives recomputation and new quarters: whatever computed the flags (the detectors on
the fly, or a stored `flags` table), the status is joined on flag_key. The `flag_reviews` table is
append-only; the latest row per flag_key is the status, the earlier rows are its history, and every
review is also written to the audit log.

A finding marked 已整改 (resolved) that is found again on *later data* (another store version than
the one it was resolved on) reopens: it reads 待核查 again, `reopened` says why. Nothing is written
for that; it follows from the review and the data.
"""

from __future__ import annotations

import hashlib
import os
from datetime import datetime
from pathlib import Path

import duckdb
import polars as pl

from analytics import access, audit, store
from analytics.errors import UserError

OPEN, CONFIRMED, DISMISSED, RESOLVED = "open", "confirmed", "dismissed", "resolved"
STATUSES = (OPEN, CONFIRMED, DISMISSED, RESOLVED)
STATUS_LABELS = {
    OPEN: ("待核查", "open"),
    CONFIRMED: ("核实", "confirmed"),
    DISMISSED: ("误报", "dismissed"),
    RESOLVED: ("已整改", "resolved"),
}
_SPELLINGS = {
    **{s: s for s in STATUSES},
    **{zh: code for code, (zh, _) in STATUS_LABELS.items()},
    "待核实": OPEN,
    "已核实": CONFIRMED,
    "确认": CONFIRMED,
    "整改": RESOLVED,
}
REVIEW_COLUMNS = {
    "status": pl.Utf8,
    "assignee": pl.Utf8,
    "note": pl.Utf8,
    "reviewed_at": pl.Datetime("us"),
    "reviewed_by": pl.Utf8,
    "reopened": pl.Boolean,
}


def parse_status(text: str) -> str:
    """'核实' / 'confirmed' / … -> the stored code; UserError naming the four choices otherwise."""
    code = _SPELLINGS.get(str(text).strip().lower()) or _SPELLINGS.get(str(text).strip())
    if code is None:
        choices = "、".join(zh for zh, _ in STATUS_LABELS.values())
        raise UserError(
            f"状态“{text}”无法识别，可用：{choices} / unknown status {text!r}; use one of {', '.join(STATUSES)}"
        )
    return code


def store_version(db: str | os.PathLike) -> str:
    """A short name for the data in the store now (changes with every import or undo, not with reviews)."""
    return hashlib.sha1(repr(access.data_version(db)).encode()).hexdigest()[:12]


def record_review(
    con: duckdb.DuckDBPyConnection,
    flag: dict,
    status: str,
    version: str,
    assignee: str | None = None,
    note: str | None = None,
    by: str | None = None,
    at: datetime | None = None,
) -> dict:
    """Append one review of `flag` (a row with flag_key, kind, subject, unit) and audit it; returns the row."""
    if not flag.get("flag_key"):
        raise UserError("预警缺少 flag_key，无法登记核查结果 / the flag has no flag_key")
    row = {
        "flag_key": flag["flag_key"],
        "status": parse_status(status),
        "assignee": (assignee or "").strip() or None,
        "note": (note or "").strip() or None,
        "reviewed_at": at or datetime.now(),
        "reviewed_by": by or "cli",
        "store_version": version,
        "kind": flag.get("kind"),
        "subject": flag.get("subject"),
        "unit": flag.get("unit"),
    }
    with store.transaction(con):
        store.insert_frame(
            con, "flag_reviews", pl.DataFrame([row], schema_overrides={"reviewed_at": pl.Datetime("us")})
        )
        audit.record(
            con, row["reviewed_by"], "review_flag", row["flag_key"], {k: row[k] for k in ("status", "assignee", "note")}
        )
    return row


def latest_reviews(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """The latest review of every flag_key (its status now), with the version it was made on.

    Assignee and note are the latest ones given: a review that only changes the status keeps them."""
    present = con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'flag_reviews'").fetchone()[0]
    if not present:  # a store made before reviews existed, opened read-only
        return _no_reviews()
    return con.execute(
        """SELECT flag_key, arg_max(status, reviewed_at) AS status, arg_max(assignee, reviewed_at) AS assignee,
                  arg_max(note, reviewed_at) AS note, max(reviewed_at) AS reviewed_at,
                  arg_max(reviewed_by, reviewed_at) AS reviewed_by,
                  arg_max(store_version, reviewed_at) AS store_version
           FROM flag_reviews GROUP BY flag_key"""
    ).pl()


def history(con: duckdb.DuckDBPyConnection, flag_key: str) -> pl.DataFrame:
    """Every review of one finding, newest first."""
    return con.execute(
        """SELECT reviewed_at, status, assignee, note, reviewed_by FROM flag_reviews
           WHERE flag_key = ? ORDER BY reviewed_at DESC""",
        [flag_key],
    ).pl()


def read_reviews(db: str | os.PathLike) -> tuple[pl.DataFrame, str]:
    """(latest reviews, the store's version now) on a short-lived connection; empty when there is no store."""
    if not Path(db).exists():
        return _no_reviews(), ""
    con = store.connect(db)
    try:
        return latest_reviews(con), store_version(db)
    finally:
        con.close()


def _no_reviews() -> pl.DataFrame:
    return pl.DataFrame(
        schema={"flag_key": pl.Utf8, **{k: v for k, v in REVIEW_COLUMNS.items() if k != "reopened"},
                "store_version": pl.Utf8}
    )  # fmt: skip


def review(
    db: str | os.PathLike,
    flag: dict,
    status: str,
    assignee: str | None = None,
    note: str | None = None,
    by: str | None = None,
) -> dict:
    """record_review on a short-lived connection to the store at `db`, on the store's current version."""
    version = store_version(db)
    con = store.connect(db)
    try:
        return record_review(con, flag, status, version, assignee, note, by)
    finally:
        con.close()


def with_status(flags: pl.DataFrame, reviews: pl.DataFrame, version: str) -> pl.DataFrame:
    """The flags with their review (status, assignee, note, reviewed_at, reviewed_by, reopened), joined on flag_key.

    Unreviewed flags are open; a resolved finding present on another store version than the one it was
    resolved on reads open again with reopened = true (its last note and assignee kept).
    """
    reviews = reviews if reviews.height else _no_reviews()
    joined = flags.drop([c for c in REVIEW_COLUMNS if c in flags.columns]).join(
        reviews.select("flag_key", *[c for c in REVIEW_COLUMNS if c != "reopened"], "store_version"),
        on="flag_key",
        how="left",
    )
    reopened = (pl.col("status") == RESOLVED) & (pl.col("store_version") != pl.lit(version))
    return joined.with_columns(
        reopened.fill_null(False).alias("reopened"),
        pl.when(reopened).then(pl.lit(OPEN)).otherwise(pl.col("status").fill_null(OPEN)).alias("status"),
    ).drop("store_version")


def select_status(flags: pl.DataFrame, statuses: tuple[str, ...] | list[str] | None) -> pl.DataFrame:
    """Flags whose status is one of `statuses` (codes or Chinese words); all when none given."""
    if not statuses:
        return flags
    return flags.filter(pl.col("status").is_in([parse_status(s) for s in statuses]))


def open_count(flags: pl.DataFrame) -> int:
    """Flags still waiting for a look (待核查), for the overview's count."""
    return flags.height if "status" not in flags.columns else int((flags["status"] == OPEN).sum())


def status_counts(flags: pl.DataFrame) -> dict[str, int]:
    """Flags per status, every status present (0 when none)."""
    counts = dict.fromkeys(STATUSES, 0)
    if "status" in flags.columns and flags.height:
        counts |= dict(flags.group_by("status").len().iter_rows())
    return counts


def status_label(code: str | None, lang: str) -> str:
    zh, en = STATUS_LABELS.get(code or OPEN, (code, code))
    return en if lang == "en" else zh


def labelled(flags: pl.DataFrame, lang: str) -> pl.DataFrame:
    """`status` as the reader's word (待核查 …), with '（重新打开）' / ' (reopened)' on reopened findings."""
    words = {code: status_label(code, lang) for code in STATUSES}
    again = "（重新打开）" if lang == "zh" else " (reopened)"
    word = pl.col("status").replace_strict(words, default=pl.col("status"))
    return flags.with_columns(pl.when(pl.col("reopened")).then(word + pl.lit(again)).otherwise(word).alias("status"))
