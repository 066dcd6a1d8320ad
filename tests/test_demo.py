"""The demo city: size and coverage, calibration to DOMAIN.md, the 40% cap, and every planted pattern's shape."""

from __future__ import annotations

import json
import time
from pathlib import Path

import duckdb
import polars as pl
import pytest

from analytics.demo import build_demo, generate
from analytics.vocab import OUTCOME_KINDS


@pytest.fixture(scope="module")
def con(demo_db: Path):
    c = duckdb.connect(str(demo_db), read_only=True)
    yield c
    c.close()


def q(con, sql: str, *params) -> pl.DataFrame:
    return con.execute(sql, list(params)).pl()


def shares(con, table: str, column: str) -> dict[str, float]:
    frame = q(con, f"SELECT {column} AS g, count(*) AS n FROM {table} GROUP BY 1")
    total = frame["n"].sum()
    return {g: n / total for g, n in frame.iter_rows()}


def test_size_and_coverage(con):
    people = q(
        con, "SELECT count(DISTINCT person_id) p, count(DISTINCT unit) u, count(DISTINCT unit_type) t FROM quarterly"
    )
    assert people["p"][0] >= 2000 and people["u"][0] >= 80
    assert set(q(con, "SELECT DISTINCT unit_type FROM quarterly")["unit_type"]) == {
        "综合管理",
        "行政执法",
        "窗口服务",
        "乡镇街道",
        "法检",
    }
    assert set(q(con, "SELECT DISTINCT position_level FROM quarterly")["position_level"]) == {
        "领导班子成员",
        "中层正职",
        "中层副职",
        "一般干部",
    }
    sizes = q(con, "SELECT unit, count(DISTINCT person_id) n FROM quarterly GROUP BY 1")["n"]
    assert sizes.min() >= 4 and sizes.max() >= 100 and sizes.median() < 30
    periods = q(con, "SELECT DISTINCT year, quarter FROM quarterly ORDER BY 1, 2").rows()
    assert periods[0] == (2023, 1) and periods[-1] == (2025, 4) and len(periods) == 12
    assert q(con, "SELECT count(*) n FROM quarterly WHERE person_id NOT SIMILAR TO 'P[0-9]{6}'")["n"][0] == 0
    assert {"城关镇", "政务服务中心", "常山县财政局"} <= set(q(con, "SELECT DISTINCT unit FROM quarterly")["unit"])


def test_sections_have_one_reviewer_and_3_to_10_people(con):
    per = q(
        con,
        """SELECT unit, section, count(DISTINCT reviewer) r, count(DISTINCT person_id) n FROM quarterly
                    WHERE section <> '领导班子' GROUP BY 1, 2""",
    )
    assert per["r"].max() == 1
    assert per["n"].quantile(0.05) >= 3 and per["n"].max() <= 14  # 3-10 when formed, plus replacements over 3 years
    leaders = q(con, "SELECT unit, count(DISTINCT reviewer) r FROM quarterly WHERE section = '领导班子' GROUP BY 1")
    assert leaders["r"].max() == 1


def test_names_realistic_and_namesakes_rare(con):
    names = q(con, "SELECT DISTINCT person_id, name FROM quarterly")
    assert names["name"].str.len_chars().is_between(2, 3).all()
    assert names["name"].is_duplicated().mean() < 0.08


def test_quarterly_calibration(con):
    s = shares(con, "quarterly", "grade")
    assert 0.36 <= s["好"] <= 0.40
    assert 0.55 <= s["较好"] <= 0.60
    assert 0.01 <= s["一般"] <= 0.04
    assert s["较差"] <= 0.005
    assert 0.005 <= s["不确定等次"] <= 0.02


def test_annual_calibration(con):
    s = shares(con, "annual", "annual_grade")
    assert 0.18 <= s["优秀"] <= 0.20
    assert 0.77 <= s["称职"] <= 0.80
    assert s.get("基本称职", 0) <= 0.01
    assert s.get("不称职", 0) <= 0.003
    assert 0.01 <= s["不确定等次"] <= 0.03


def test_honest_units_respect_cap_and_keep_stable_performers(con):
    over = q(
        con,
        """SELECT count(*) n FROM (
        SELECT unit, year, quarter, count(*) FILTER (grade = '好') g, count(*) FILTER (grade <> '不确定等次') n
        FROM quarterly WHERE unit NOT IN (SELECT unit FROM demo_truth WHERE pattern NOT LIKE 'honest%') GROUP BY ALL)
        WHERE g > greatest(1, floor(0.4 * n))""",
    )
    assert over["n"][0] == 0
    never = q(
        con,
        """SELECT avg((g = 0)::int) AS share FROM (SELECT person_id, year, count(*) FILTER (grade = '好') g
        FROM quarterly WHERE unit NOT IN (SELECT unit FROM demo_truth WHERE pattern NOT LIKE 'honest%') GROUP BY ALL)""",
    )["share"][0]
    assert 0.25 <= never <= 0.40


def test_honest_units_of_every_size_remain(con):
    sizes = q(
        con,
        """SELECT unit, count(DISTINCT person_id) n FROM quarterly
                      WHERE unit NOT IN (SELECT unit FROM demo_truth WHERE pattern NOT LIKE 'honest%') GROUP BY 1""",
    )["n"]
    assert sizes.len() > 40
    assert (sizes <= 8).sum() >= 5 and (sizes >= 40).sum() >= 3


def test_annual_excellent_follows_the_gate_and_unit_cap_outside_breaks(con):
    bad = q(
        con,
        """WITH rec AS (SELECT person_id, year, count(*) FILTER (grade = '好') g,
                       count(*) FILTER (grade IN ('一般', '较差')) neg FROM quarterly GROUP BY ALL)
        SELECT a.person_id FROM annual a JOIN rec USING (person_id, year)
        WHERE a.annual_grade = '优秀' AND (g < 2 OR neg > 0)""",
    )["person_id"]
    planted = set(q(con, "SELECT subject FROM demo_truth WHERE pattern = 'outcome_rule'")["subject"])
    assert set(bad) <= planted and len(bad) > 0
    over = q(
        con,
        """SELECT count(*) n FROM (SELECT unit, year, count(*) FILTER (annual_grade = '优秀') k,
        count(*) FILTER (annual_grade <> '不确定等次') n FROM annual GROUP BY ALL) WHERE k > floor(0.2 * n + 1e-9)""",
    )
    assert over["n"][0] == 0


def test_subscores_agree_with_score(con):
    rows = q(con, "SELECT score, extra FROM quarterly WHERE extra LIKE '%工作实绩%' LIMIT 500")
    assert rows.height > 100
    for score, extra in rows.iter_rows():
        sub = json.loads(extra)
        assert abs(0.6 * sub["工作实绩"] + 0.4 * sub["工作作风"] - score) < 0.011
    assert q(con, "SELECT count(*) n FROM quarterly WHERE score < 0 OR score > 100")["n"][0] == 0


def test_special_groups_kept_in_extra(con):
    groups = q(
        con, "SELECT DISTINCT json_extract_string(extra, '$.特殊群体') g FROM quarterly WHERE extra LIKE '%特殊群体%'"
    )
    assert {"选调生", "挂职干部"} <= set(groups["g"])


# --- planted patterns -------------------------------------------------------------------------------------------


def truth(con, pattern: str) -> pl.DataFrame:
    return q(con, "SELECT * FROM demo_truth WHERE pattern = ?", pattern)


def good_counts(con, unit: str) -> pl.DataFrame:
    return q(
        con,
        """SELECT person_id, count(*) FILTER (grade = '好') c, count(*) t FROM quarterly
                     WHERE unit = ? GROUP BY 1""",
        unit,
    )


def test_truth_counts_and_distinct_units(con):
    counts = dict(q(con, "SELECT pattern, count(*) FROM demo_truth GROUP BY 1").rows())
    for pattern in ("rotation_strict", "rotation_norepeat", "rotation_partial", "silent_negatives"):
        assert 4 <= counts[pattern] <= 6, pattern
    for pattern in (
        "compression",
        "compression_year",
        "lenient_scored",
        "lenient_sole",
        "honest_star",
        "honest_seasonal",
    ):
        assert 2 <= counts[pattern] <= 4, pattern
    assert 4 <= counts["lenient_reviewer"] <= 10
    assert 15 <= counts["outcome_rule"] <= 25
    assert counts["honest_small"] >= 5 and counts["honest_sole_low"] >= 2 and counts["honest_turnover"] >= 2
    per_unit = q(con, "SELECT unit, count(DISTINCT pattern) k FROM demo_truth GROUP BY 1")
    assert per_unit["k"].max() == 1
    units = set(q(con, "SELECT DISTINCT unit FROM quarterly")["unit"])
    assert set(q(con, "SELECT unit FROM demo_truth")["unit"]) <= units


def test_truth_names_the_people_and_quarters_of_every_plant(con):
    truth = q(con, "SELECT * FROM demo_truth")
    assert truth["people"].null_count() == 0 and truth["period_from"].null_count() == 0
    people = truth.select("unit", pl.col("people").str.split(",")).explode("people", empty_as_null=True)
    present = q(con, "SELECT DISTINCT unit, person_id AS people FROM quarterly")
    assert people.join(present, on=["unit", "people"], how="anti").height == 0  # everyone named is in that unit
    year = truth.filter(pl.col("pattern") == "compression_year")
    assert (year["period_from"].str.slice(0, 4) == year["period_to"].str.slice(0, 4)).all()


def test_one_year_compression_and_sole_and_scored_leniency_hold_in_the_data(con):
    for unit, start in truth(con, "compression_year").select("unit", "period_from").iter_rows():
        y = int(start[:4])
        s = q(con, """SELECT year = ? AS inside, avg((grade = '较好')::int) fg FROM quarterly
                      WHERE unit = ? AND grade <> '不确定等次' GROUP BY 1 ORDER BY 1""", y, unit)  # fmt: skip
        assert s["fg"][1] >= 0.85 and s["fg"][0] < 0.8
    for reviewer, unit in truth(con, "lenient_sole").select("subject", "unit").iter_rows():
        s = q(con, """SELECT count(DISTINCT reviewer) r, any_value(reviewer) who, avg((grade = '好')::int) g
                      FROM quarterly WHERE unit = ? AND grade <> '不确定等次'""", unit)  # fmt: skip
        assert s["r"][0] == 1 and s["who"][0] == reviewer and s["g"][0] >= 0.5
    for reviewer, unit in truth(con, "lenient_scored").select("subject", "unit").iter_rows():
        s = q(con, """SELECT reviewer = ? AS mine, avg((grade = '好')::int) g, avg(score) sc FROM quarterly
                      WHERE unit = ? AND grade <> '不确定等次' GROUP BY 1 ORDER BY 1""", reviewer, unit)  # fmt: skip
        assert s["g"][1] >= 0.6 and s["sc"][1] > s["sc"][0] + 2
    for unit in truth(con, "honest_sole_low")["unit"]:
        s = q(con, "SELECT count(DISTINCT reviewer) r, avg(score) sc FROM quarterly WHERE unit = ?", unit)
        assert s["r"][0] == 1 and s["sc"][0] < 82


def test_strict_rotation_counts_within_one(con):
    rows = truth(con, "rotation_strict")
    assert (
        rows.height >= 4 and rows["detail"].str.contains("edited").any() and rows["detail"].str.contains("honest").any()
    )
    for unit in rows["unit"]:
        counts = good_counts(con, unit)
        assert 6 <= counts.height <= 30
        assert counts["c"].max() - counts["c"].min() <= 1 and counts["c"].min() >= 1


def test_norepeat_rotation_has_no_consecutive_good(con):
    for unit in truth(con, "rotation_norepeat")["unit"]:
        repeats = q(
            con,
            """SELECT count(*) n FROM quarterly a JOIN quarterly b USING (person_id)
            WHERE a.unit = ? AND a.grade = '好' AND b.grade = '好' AND b.year * 4 + b.quarter = a.year * 4 + a.quarter + 1""",
            unit,
        )
        assert repeats["n"][0] == 0
        assert good_counts(con, unit)["c"].max() <= 6


def test_partial_rotation_is_even_only_where_planted(con):
    rows = truth(con, "rotation_partial")
    assert rows["detail"].str.contains("first year").any() and rows["detail"].str.contains("subset").any()
    for unit, detail in rows.select("unit", "detail").iter_rows():
        if "first year" in detail:
            later = q(
                con,
                """SELECT person_id, count(*) FILTER (grade = '好') c FROM quarterly
                              WHERE unit = ? AND year > 2023 GROUP BY 1""",
                unit,
            )
            assert later["c"].max() - later["c"].min() <= 1


def test_lenient_reviewers_grade_most_of_their_section_good(con):
    rows = truth(con, "lenient_reviewer")
    for reviewer, unit in rows.select("subject", "unit").iter_rows():
        mine = q(
            con,
            """SELECT avg((grade = '好')::int) s, count(DISTINCT section) k FROM quarterly
                         WHERE reviewer = ? AND grade <> '不确定等次'""",
            reviewer,
        )
        assert 0.6 <= mine["s"][0] <= 0.85
        assert set(q(con, "SELECT DISTINCT unit FROM quarterly WHERE reviewer = ?", reviewer)["unit"]) == {unit}
    sections = q(
        con,
        """SELECT reviewer, count(DISTINCT section) k FROM quarterly
                         WHERE reviewer IN (SELECT subject FROM demo_truth WHERE pattern = 'lenient_reviewer') GROUP BY 1""",
    )
    assert (sections["k"] == 2).sum() >= 2 and (sections["k"] == 1).sum() >= 3


def test_compression_units(con):
    for unit in truth(con, "compression")["unit"]:
        s = q(
            con,
            """SELECT avg((grade = '较好')::int) fg, avg((grade = '好')::int) g,
                      count(*) FILTER (grade IN ('一般', '较差')) neg FROM quarterly WHERE unit = ?""",
            unit,
        )
        assert s["fg"][0] >= 0.85 and s["g"][0] <= 0.12 and s["neg"][0] == 0


def test_silent_units_record_no_negatives_while_lane_does(con):
    negative = [k for k, (_, _, v) in OUTCOME_KINDS.items() if v < 0]
    for unit in truth(con, "silent_negatives")["unit"]:
        assert q(con, "SELECT count(DISTINCT person_id) n FROM quarterly WHERE unit = ?", unit)["n"][0] >= 15
        assert (
            q(con, "SELECT count(*) n FROM quarterly WHERE unit = ? AND grade IN ('一般', '较差')", unit)["n"][0] == 0
        )
        neg = q(con, "SELECT count(*) n FROM outcomes WHERE unit = ? AND list_contains(?, outcome)", unit, negative)
        assert neg["n"][0] == 0
    honest_neg = q(
        con,
        """SELECT count(*) n FROM outcomes WHERE list_contains(?, outcome)
                          AND unit NOT IN (SELECT unit FROM demo_truth)""",
        negative,
    )
    rewards = q(con, "SELECT count(*) n FROM outcomes WHERE outcome IN ('award', 'commendation', 'bonus')")
    assert 0 < honest_neg["n"][0] < rewards["n"][0] / 10  # rare but present


def test_outcome_rule_breaks_hold_in_the_data(con):
    rows = truth(con, "outcome_rule")
    kinds = rows["detail"].str.extract(r": (\w+);", 1)
    assert set(kinds) == {"excellent_min_good", "excellent_with_average", "reward_after_average"}
    for pid, detail in rows.select("subject", "detail").iter_rows():
        year = int(detail[:4])
        rec = q(
            con,
            """SELECT count(*) FILTER (grade = '好') g, count(*) FILTER (grade IN ('一般', '较差')) neg
                        FROM quarterly WHERE person_id = ? AND year = ?""",
            pid,
            year,
        )
        annual = q(con, "SELECT annual_grade FROM annual WHERE person_id = ? AND year = ?", pid, year)["annual_grade"][
            0
        ]
        if "excellent_min_good" in detail:
            assert annual == "优秀" and rec["g"][0] < 2 and rec["neg"][0] == 0
        elif "excellent_with_average" in detail:
            assert annual == "优秀" and rec["neg"][0] >= 1
        else:
            assert rec["neg"][0] >= 1
            got = q(
                con,
                """SELECT count(*) n FROM outcomes WHERE person_id = ? AND year = ?
                            AND outcome IN ('promotion', 'award')""",
                pid,
                year,
            )
            assert got["n"][0] >= 1


def test_honest_rewards_never_follow_a_negative_year(con):
    bad = q(
        con,
        """WITH neg AS (SELECT DISTINCT person_id, year FROM quarterly WHERE grade IN ('一般', '较差'))
        SELECT DISTINCT o.person_id FROM outcomes o JOIN neg ON o.person_id = neg.person_id
          AND coalesce(o.year, year(o.date) - 1) = neg.year
        WHERE o.outcome IN ('promotion', 'rank_promotion', 'award', 'merit')""",
    )["person_id"]
    planted = set(truth(con, "outcome_rule")["subject"])
    assert set(bad) <= planted


def test_outcomes_shape(con):
    o = q(con, "SELECT * FROM outcomes")
    assert set(o["outcome"]) <= set(OUTCOME_KINDS)
    assert 0.05 <= o["year"].is_null().mean() <= 0.2
    assert (o.filter(pl.col("year").is_null())["date"].dt.month() <= 6).all()
    first_half = (
        o.filter(pl.col("year").is_not_null()).select((pl.col("date").dt.year() == pl.col("year") + 1).mean()).item()
    )
    assert first_half > 0.95
    bonus = q(con, """SELECT max(amount) - min(amount) d FROM outcomes WHERE outcome = 'bonus' GROUP BY unit, year""")
    assert bonus["d"].max() == pytest.approx(1300)


# --- determinism and timing -------------------------------------------------------------------------------------


def test_same_seed_same_city_other_seed_differs():
    def digest(seed: int) -> tuple:
        city, plan, grid, record, outcomes, truth_rows = generate(persons=300, seed=seed)
        return (
            city.people.hash_rows().sum(),
            int(grid.grade.sum()),
            float(grid.score[~(grid.score != grid.score)].sum()),
            record.hash_rows().sum(),
            outcomes.hash_rows().sum(),
            truth_rows.hash_rows().sum(),
        )

    assert digest(3) == digest(3)
    assert digest(3) != digest(4)


def test_build_is_deterministic_on_disk(tmp_path: Path):
    a, b = tmp_path / "a.duckdb", tmp_path / "b.duckdb"
    build_demo(a, persons=300, seed=11)
    build_demo(b, persons=300, seed=11)
    b.touch()
    build_demo(b, persons=300, seed=11)  # replaces the existing file
    for table in ("quarterly", "annual", "outcomes", "demo_truth"):
        with duckdb.connect(str(a), read_only=True) as ca, duckdb.connect(str(b), read_only=True) as cb:
            fa, fb = ca.sql(f"SELECT * FROM {table}").pl(), cb.sql(f"SELECT * FROM {table}").pl()
        assert fa.equals(fb), table


def test_small_city_still_builds(tmp_path: Path):
    summary = build_demo(tmp_path / "s.duckdb", persons=40, seed=1, quarters=6)
    assert summary["persons"] == 40 and summary["quarterly"] > 0 and summary["annual"] > 0


def test_default_build_time_reported(tmp_path: Path, capsys):
    started = time.perf_counter()
    summary = build_demo(tmp_path / "t.duckdb", seed=7)
    with capsys.disabled():
        print(
            f"\n[demo] default city ({summary['persons']} people, {summary['units']} units): "
            f"{time.perf_counter() - started:.2f} s"
        )
    assert summary["quarterly"] > 20_000


# --- survey ---------------------------------------------------------------------------------------------------


def test_survey_size_items_and_overall_objectivity(con):
    n = q(con, "SELECT count(*) n FROM survey_respondents")["n"][0]
    people = q(con, "SELECT count(DISTINCT person_id) n FROM quarterly")["n"][0]
    assert 0.4 * people <= n <= 0.6 * people and 900 <= n <= 1100
    types = dict(q(con, "SELECT item_text, item_type FROM survey_items").rows())
    assert sum(t == "likert" for t in types.values()) == 5
    assert types["6.您认为存在的问题（多选）"] == "multiple_choice" and types["7.意见建议"] == "text"
    assert {"单位", "性别", "年龄段", "职级", "工作年限"} <= {k for k, t in types.items() if t == "attribute"}
    not_objective = q(
        con,
        """SELECT avg((value <= 2)::int) s FROM survey_answers a JOIN survey_items i USING (item_id)
                              WHERE i.item_text LIKE '1.%客观公正'""",
    )["s"][0]
    assert 0.10 <= not_objective <= 0.18
    units = set(q(con, "SELECT DISTINCT unit FROM quarterly")["unit"])
    assert set(q(con, "SELECT DISTINCT unit FROM survey_respondents")["unit"]) <= units


def test_survey_trust_lower_where_patterns_were_planted(con):
    trust = q(
        con,
        """SELECT coalesce(t.kind, 'honest') kind, avg(a.value) m FROM survey_answers a
        JOIN survey_respondents r USING (respondent_id) JOIN survey_items i USING (item_id)
        LEFT JOIN (SELECT DISTINCT unit, CASE WHEN pattern LIKE 'rotation%' THEN 'rotation' ELSE pattern END kind
                   FROM demo_truth) t USING (unit)
        WHERE i.item_text LIKE '2.%' GROUP BY 1""",
    )
    m = dict(trust.rows())
    assert m["rotation"] < m["honest"] - 0.3 and m["lenient_reviewer"] < m["honest"] - 0.2
    rotation_named = q(
        con,
        """SELECT avg((a.answer = '好等次轮流坐庄')::int) FILTER (t.unit IS NOT NULL) r,
        avg((a.answer = '好等次轮流坐庄')::int) FILTER (t.unit IS NULL) h
        FROM survey_answers a JOIN survey_respondents r USING (respondent_id) JOIN survey_items i USING (item_id)
        LEFT JOIN (SELECT DISTINCT unit FROM demo_truth WHERE pattern LIKE 'rotation%') t USING (unit)
        WHERE i.item_type = 'multiple_choice'""",
    )
    assert rotation_named["r"][0] > 2 * rotation_named["h"][0]


# --- command line ---------------------------------------------------------------------------------------------


def test_cli_demo_builds_and_reports(tmp_path: Path, capsys):
    from analytics.cli import main

    target = tmp_path / "cli.duckdb"
    assert main(["demo", "--db", str(target), "--persons", "120", "--seed", "5", "--quarters", "8"]) == 0
    out = capsys.readouterr().out
    assert "120 people" in out and "quarterly" in out and "planted:" in out
    with duckdb.connect(str(target), read_only=True) as c:
        assert c.sql("SELECT count(DISTINCT person_id) FROM quarterly").fetchone()[0] == 120
        assert c.sql("SELECT max(year) FROM quarterly").fetchone()[0] == 2024


def test_cli_demo_refuses_bad_arguments(capsys):
    from analytics.cli import main

    assert main(["demo", "--persons", "2", "--db", "unused.duckdb"]) == 2
    assert "--persons" in capsys.readouterr().err


def test_cli_demo_help_names_the_default_store():
    from analytics.cli import build_parser

    parser = build_parser()
    demo = next(a for a in parser._subparsers._group_actions if a.dest == "command").choices["demo"]
    text = demo.format_help()
    assert "data/demo.duckdb" in text and "--persons" in text and "--exports" in text
