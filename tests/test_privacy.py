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


# ---------------------------------------------------------------- k-anonymous research tables


def test_k_anonymise_generalises_the_most_specific_attribute_first_then_suppresses():
    from analytics.k_anonymity import k_anonymise

    frame = pl.DataFrame(
        {
            "p": ["a", "b", "c", "d", "e", "f", "g"],
            "unit": ["财政局"] * 6 + ["小镇"],
            "sex": ["男", "男", "男", "女", "女", "女", "女"],
            "age": ["30", "30", "40", "30", "30", "30", "50"],
        }
    )
    out = k_anonymise(frame, ["p"], ["age", "sex", "unit"], k=3)
    # The three men (two aged 30, one 40) lose their age and together make a group of three; the women
    # aged 30 keep theirs; g is alone in 小镇 even with everything generalised -> dropped.
    assert sorted(out["p"]) == ["a", "b", "c", "d", "e", "f"]
    assert out.filter(pl.col("sex") == "男")["age"].null_count() == 3
    assert out.filter(pl.col("sex") == "女")["age"].to_list() == ["30"] * 3
    groups = out.group_by("unit", "sex", "age").agg(pl.col("p").n_unique().alias("n"))
    assert groups["n"].min() >= 3


def test_people_not_rows_are_counted():
    from analytics.k_anonymity import k_anonymise

    # One person with six quarters is still one person.
    frame = pl.DataFrame({"p": ["a"] * 6 + ["b", "c"], "unit": ["x"] * 6 + ["y", "y"]})
    assert k_anonymise(frame, ["p"], ["unit"], k=2)["p"].to_list() == ["b", "c"]


def test_respondent_attributes_are_generalised_inside_the_json():
    from analytics.k_anonymity import respondents

    rows = [("男", "30-39")] * 3 + [("女", "30-39")] * 2 + [("女", "50+")]
    frame = pl.DataFrame(
        {
            "import_id": [1] * 6,
            "respondent_id": [f"r{i}" for i in range(6)],
            "unit": ["财政局"] * 6,
            "attributes": [f'{{"性别":"{s}","年龄段":"{a}"}}' for s, a in rows],
            "source_row": list(range(2, 8)),
        }
    )
    out = respondents(frame, k=3)
    decoded = out["attributes"].str.json_decode(infer_schema_length=None).struct.unnest()
    assert out.height == 6  # the three women make one group once their attributes are generalised
    assert decoded.group_by("性别", "年龄段").len()["len"].min() >= 3
    assert decoded.head(3).rows() == [("男", "30-39")] * 3  # the men's group was big enough
    assert decoded.tail(3)["年龄段"].null_count() == 3


def test_attack_small_groups_and_free_text_in_researcher_sql(demo_db):
    """The attack: group respondents by unit x 性别 x 年龄段 x 职级 and join 意见建议 to its author's attributes."""
    from analytics.dataset import Scope
    from analytics.sql_workspace import run_query, snapshot

    researcher = Scope(units=None, pseudonymise=True)
    attrs = ", ".join(f"json_extract_string(attributes, '$.{a}') AS {a}" for a in ("性别", "年龄段", "职级"))
    grouped = f"SELECT unit, {attrs}, count(*) AS n FROM survey_respondents GROUP BY ALL"
    admin = run_query(demo_db, grouped)
    assert admin.filter(pl.col("n") < 3).height > 50  # the store does hold small groups
    seen = run_query(demo_db, grouped, scope=researcher)
    assert seen.height > 0 and seen["n"].min() >= 5
    # The microdata itself: every combination of quasi-identifiers holds >= 5 respondents.
    micro = run_query(demo_db, f"SELECT respondent_id, unit, {attrs} FROM survey_respondents", scope=researcher)
    assert micro.group_by("unit", "性别", "年龄段", "职级").len()["len"].min() >= 5
    # An aggregate without any count column is guarded too, at any depth.
    hidden = run_query(
        demo_db,
        "WITH g AS (SELECT unit, section, rank, avg(score) AS s FROM quarterly GROUP BY ALL) SELECT * FROM g",
        scope=researcher,
    )
    people = run_query(
        demo_db, "SELECT unit, section, rank, count(DISTINCT person_id) AS n FROM quarterly GROUP BY ALL"
    )
    assert people.filter(pl.col("n") < 5).height > 0
    small = people.filter(pl.col("n") < 5).select("unit", "section", "rank")
    assert hidden.join(small, on=["unit", "section", "rank"], nulls_equal=True).height == 0
    one = run_query(demo_db, "SELECT avg(score) AS s FROM quarterly WHERE person_id = (SELECT min(person_id) FROM quarterly)",
                    scope=researcher)  # fmt: skip
    assert one.height == 0
    # Free text sits in survey_comments, with no respondent id; survey_answers holds no open answers.
    tables = snapshot(demo_db, researcher)
    assert tables["survey_comments"].num_rows > 0
    assert tables["survey_comments"].column_names == ["import_id", "item_id", "answer"]
    texts = set(run_query(demo_db, "SELECT answer FROM survey_comments", scope=researcher, row_limit=100_000)["answer"])
    joined = run_query(demo_db, "SELECT answer FROM survey_answers", scope=researcher, row_limit=100_000)
    assert not texts & set(joined["answer"])
