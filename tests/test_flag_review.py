"""The flag workflow: reviews keyed by flag_key, carried across recomputation, reopened on later data."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import datetime

import polars as pl
import pytest

from analytics import flag_review, store
from analytics.errors import UserError


def flags(*keys: str) -> pl.DataFrame:
    return pl.DataFrame(
        {"flag_key": list(keys), "flag_id": [f"id-{k}" for k in keys], "kind": ["leniency"] * len(keys),
         "subject": [f"评鉴人{k}" for k in keys], "unit": ["甲局"] * len(keys)}
    )  # fmt: skip


def test_status_words_in_both_languages_and_bad_ones_refused():
    assert flag_review.parse_status("核实") == "confirmed"
    assert flag_review.parse_status("已整改") == "resolved"
    assert flag_review.parse_status("Dismissed") == "dismissed"
    with pytest.raises(UserError, match="待核查、核实、误报、已整改"):
        flag_review.parse_status("closed")


def test_latest_review_is_the_status_and_history_is_kept(tmp_db):
    con = store.connect(tmp_db)
    flag = flags("k1").row(0, named=True)
    flag_review.record_review(con, flag, "核实", "v1", assignee="张科长", note="约谈", by="督查甲",
                              at=datetime(2026, 1, 5, 9))  # fmt: skip
    flag_review.record_review(con, flag, "已整改", "v1", note="已重评", by="督查甲", at=datetime(2026, 2, 1, 9))
    latest = flag_review.latest_reviews(con)
    assert latest.height == 1 and latest.row(0, named=True)["status"] == "resolved"
    assert latest["assignee"][0] == "张科长" and latest["note"][0] == "已重评"  # the assignee carries forward
    assert flag_review.history(con, "k1")["status"].to_list() == ["resolved", "confirmed"]
    audit = con.execute("SELECT user_name, target, detail FROM audit_log WHERE action = 'review_flag'").fetchall()
    assert [a[:2] for a in audit] == [("督查甲", "k1"), ("督查甲", "k1")]
    assert json.loads(audit[0][2])["status"] == "confirmed"
    con.close()


def test_status_follows_the_finding_across_recomputation_and_reopens_on_later_data(tmp_db):
    con = store.connect(tmp_db)
    flag_review.record_review(con, flags("k1").row(0, named=True), "误报", "v1", at=datetime(2026, 1, 1))
    flag_review.record_review(con, flags("k2").row(0, named=True), "已整改", "v1", at=datetime(2026, 1, 1))
    reviews = flag_review.latest_reviews(con)
    con.close()
    # Recomputed on the same data: new run, same keys, same statuses; k3 is new, hence open.
    same = flag_review.with_status(flags("k3", "k2", "k1"), reviews, "v1")
    assert dict(zip(same["flag_key"], same["status"], strict=True)) == {
        "k1": "dismissed",
        "k2": "resolved",
        "k3": "open",
    }
    assert not same["reopened"].any()
    # On later data the resolved finding is found again: open, marked reopened; the dismissed one stays dismissed.
    later = flag_review.with_status(flags("k1", "k2"), reviews, "v2")
    k2 = later.filter(pl.col("flag_key") == "k2").row(0, named=True)
    assert (k2["status"], k2["reopened"]) == ("open", True)
    assert later.filter(pl.col("flag_key") == "k1")["status"].to_list() == ["dismissed"]
    assert flag_review.open_count(later) == 1
    assert flag_review.status_counts(later) == {"open": 1, "confirmed": 0, "dismissed": 1, "resolved": 0}
    assert flag_review.select_status(later, ["误报"])["flag_key"].to_list() == ["k1"]
    assert flag_review.labelled(later, "zh").sort("flag_key")["status"].to_list() == ["误报", "待核查（重新打开）"]
    assert flag_review.labelled(later, "en").sort("flag_key")["status"].to_list() == ["dismissed", "open (reopened)"]


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "analytics", *args], capture_output=True, text=True, timeout=600)


def test_cli_reviews_a_flag_and_lists_by_status(demo_db, tmp_path):
    db = tmp_path / "demo.duckdb"
    shutil.copy(demo_db, db)
    listed = _cli("flags", "list", "--db", str(db), "--kinds", "rotation", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert rows and {r["status"] for r in rows} == {"open"}
    key = rows[0]["flag_key"]
    done = _cli("flags", "review", key, "--db", str(db), "--status", "核实", "--assignee", "张科长", "--note", "约谈")
    assert done.returncode == 0, done.stderr
    assert "核实" in done.stdout
    confirmed = json.loads(_cli("flags", "list", "--db", str(db), "--kinds", "rotation", "--status", "核实",
                                "--format", "json").stdout)  # fmt: skip
    assert [(r["flag_key"], r["assignee"], r["note"]) for r in confirmed] == [(key, "张科长", "约谈")]
    bad = _cli("flags", "review", "nosuchkey", "--db", str(db), "--status", "核实")
    assert bad.returncode == 2 and "nosuchkey" in bad.stderr and "Traceback" not in bad.stderr
    bad_status = _cli("flags", "review", key, "--db", str(db), "--status", "closed")
    assert bad_status.returncode == 2 and "已整改" in bad_status.stderr
