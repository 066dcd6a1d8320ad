"""Privacy: small groups blanked, pseudonyms stable, keyed and not the original."""

from __future__ import annotations

import re

import duckdb
import polars as pl

from analytics.privacy import pseudonymise, pseudonymise_people, suppress_small


def test_a_group_of_four_is_blanked_at_k5():
    table = pl.DataFrame({"unit": ["财政局", "辉埠镇"], "n": [4, 12], "share_good": [0.5, 0.25], "year": [2024, 2024]})
    out = suppress_small(table, "n", k=5, keep=["year"])
    assert out.rows() == [("财政局", None, None, 2024, True), ("辉埠镇", 12, 0.25, 2024, False)]
    assert table["n"].to_list() == [4, 12]  # input unchanged


def test_exactly_k_is_shown_and_null_counts_are_suppressed():
    out = suppress_small(pl.DataFrame({"g": ["a", "b"], "n": [5, None]}), "n", k=5)
    assert out["suppressed"].to_list() == [False, True]


def test_suppression_accumulates_over_passes():
    table = pl.DataFrame({"g": ["a", "b"], "n": [3, 10], "m": [10, 2]})
    out = suppress_small(suppress_small(table, "n", k=5, derived=[]), "m", k=5, derived=[])
    assert out["suppressed"].to_list() == [True, True]
    assert out["n"].to_list() == [None, 10]


def test_pseudonyms_are_stable_distinct_and_keyed():
    frame = pl.DataFrame({"person_id": ["p1", "p2", "p1", None], "name": ["张三", "李四", "张三", "王五"]})
    once = pseudonymise(frame, ["person_id", "name"], salt="s1")
    again = pseudonymise(frame, ["person_id", "name"], salt="s1")
    other = pseudonymise(frame, ["person_id", "name"], salt="s2")
    assert once.equals(again)
    ids = once["person_id"].to_list()
    assert ids[0] == ids[2] != ids[1] and ids[3] is None
    assert all(re.fullmatch(r"P-[0-9a-f]{10}", v) for v in ids if v)
    assert not any("p1" in v or "张三" in v for v in once["name"].to_list() + ids if v)
    assert other["person_id"][0] != ids[0]
    # A person's id and name do not share a pseudonym (one cannot be matched to the other).
    assert pseudonymise(pl.DataFrame({"person_id": ["x"], "name": ["x"]}), ["person_id", "name"], salt="s").row(0)[0] != \
        pseudonymise(pl.DataFrame({"person_id": ["x"], "name": ["x"]}), ["person_id", "name"], salt="s").row(0)[1]  # fmt: skip


def test_reviewer_pseudonym_matches_the_same_persons_name():
    frame = pl.DataFrame({"name": ["周主任", "李四"], "reviewer": ["吴镇长", "周主任"]})
    out = pseudonymise_people(frame, salt="s")
    assert out["name"][0] == out["reviewer"][1]


# ---------------------------------------------------------------- the store's pseudonym secret


def test_store_secret_is_made_once_private_and_per_store(tmp_path):
    import stat

    from analytics.secrets_store import secrets_dir, store_secret

    a, b = tmp_path / "a.duckdb", tmp_path / "b.duckdb"
    first = store_secret(a, "pseudonym")
    assert re.fullmatch(r"[0-9a-f]{64}", first)
    assert store_secret(a, "pseudonym") == first  # stable
    assert store_secret(a, "session") != first  # one per purpose
    assert store_secret(b, "pseudonym") != first  # one per store
    key_file = secrets_dir(a) / "pseudonym.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(secrets_dir(a).stat().st_mode) == 0o700
    assert not [p for p in secrets_dir(a).iterdir() if p.suffix == ".tmp"]


def test_the_old_public_salt_no_longer_reverses_pseudonyms(demo_db):
    """The attack: hash every person id with the published default salt and match the researcher's pseudonyms."""
    import duckdb

    from analytics.dataset import Scope
    from analytics.sql_workspace import run_query

    researcher = Scope(units=None, pseudonymise=True)
    seen = set(run_query(demo_db, "SELECT DISTINCT person_id FROM quarterly", scope=researcher)["person_id"])
    con = duckdb.connect(str(demo_db), read_only=True)
    ids = con.execute("SELECT DISTINCT person_id FROM quarterly").pl()
    con.close()
    guessed = pseudonymise(ids, ["person_id"], salt="kaohe")["person_id"]
    assert len(seen) > 100
    assert not set(guessed) & seen


def test_researcher_sql_cannot_read_the_secret_file(tmp_db):
    import pytest

    from analytics import store
    from analytics.dataset import Scope
    from analytics.errors import UserError
    from analytics.privacy import pseudonym_key
    from analytics.secrets_store import secrets_dir
    from analytics.sql_workspace import _sandbox, run_query

    store.connect(tmp_db).close()
    key = pseudonym_key(tmp_db)
    key_file = str(secrets_dir(tmp_db) / "pseudonym.key")
    researcher = Scope(units=None, pseudonymise=True)
    for sql in (f"SELECT * FROM read_text('{key_file}')", f"SELECT * FROM '{key_file}'",
                f"SELECT * FROM read_csv('{key_file}', header=false)"):  # fmt: skip
        with pytest.raises(UserError):
            run_query(tmp_db, sql, scope=researcher)
    # Even past the statement checks, the sandbox cannot open files.
    sandbox = _sandbox({})
    with pytest.raises(duckdb.Error):
        sandbox.execute(f"SELECT * FROM read_text('{key_file}')").fetchall()
    sandbox.close()
    tables = run_query(
        tmp_db,
        "SELECT table_name FROM duckdb_tables() UNION ALL SELECT view_name FROM duckdb_views()",
        scope=researcher,
    )
    assert not any("secret" in t or t == "users" for t in tables["table_name"])
    assert key not in str(run_query(tmp_db, "SELECT * FROM duckdb_settings()", scope=researcher).rows())
