"""Demo appeals (申诉/复核): drawn from the city's stored grades, more of them on the planted lenient reviewers.

Who appeals: people graded below 好 (rarely), much more often those graded 一般 or 较差, people under a
planted lenient reviewer who did not get the 好 nearly everyone around them got, people in planted
rotation units, people with 称职 despite two or more 好, and people given a negative outcome. The planted
reviewers and units are read from demo_truth when the appeals are drawn, so replanting the city replants
the appeals. Decisions: mostly kept, some changed, a few not accepted or withdrawn; the latest ones pending.
"""

from __future__ import annotations

import duckdb
import numpy as np
import polars as pl

from analytics.appeals.records import reason_kinds
from analytics.vocab import AVERAGE, COMPETENT, GOOD, POOR

BASE_RATE = 0.003  # per person-quarter below 好
LOW_GRADE_RATE = 0.08  # per person-quarter at 一般 / 较差
LENIENT_RATE = 0.06  # below 好 under a planted lenient reviewer
ROTATION_RATE = 0.012  # below 好 in a planted rotation unit
ANNUAL_RATE = 0.02  # 称职 with 2+ 好 in the year
OUTCOME_RATE = 0.05  # negative outcomes

REASONS = {
    "reviewer": ("评鉴人打分不公，对个别同志偏袒", "科室负责人评价带有人情因素", "评鉴人未听取本人陈述即定等次"),
    "quota": ("好等次名额有限，本人业绩不低于获好人员",),
    "rotation": ("科室内好等次轮流坐庄，未按实绩评定",),
    "facts": ("本季度承担重点任务，工作实绩未被充分认定", "加班完成专项工作未计入实绩"),
    "procedure": ("考核结果未经公示即确定", "未当面反馈考核结果"),
}
DECISION_TEXT = {
    "kept": "维持原等次",
    "changed": "予以变更",
    "not_accepted": "不予受理",
    "withdrawn": "本人撤回",
    "pending": None,
}
_DECISION_P = {"kept": 0.62, "changed": 0.2, "not_accepted": 0.1, "withdrawn": 0.08}
SUBJECT_TEXT = {
    "quarterly_grade": "{y}年第{q}季度平时考核等次",
    "annual_grade": "{y}年度考核等次",
    "outcome": "{y}年度{o}",
}


def _candidates(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Quarterly rows below 好 with the rate each draws, from the stored grades and the planted truth."""
    sql = f"""
    WITH lenient AS (SELECT subject AS reviewer, unit FROM demo_truth WHERE pattern LIKE 'lenient%'),
         rotation AS (SELECT DISTINCT unit FROM demo_truth WHERE pattern LIKE 'rotation%')
    SELECT q.person_id, q.name, q.unit, q.section, q.year, q.quarter, q.grade, q.reviewer,
           l.reviewer IS NOT NULL AS lenient, r.unit IS NOT NULL AS rotation
    FROM quarterly q
    LEFT JOIN lenient l ON l.reviewer = q.reviewer AND l.unit = q.unit
    LEFT JOIN rotation r ON r.unit = q.unit
    WHERE q.grade IN ('{AVERAGE}', '{POOR}', '较好')
    ORDER BY q.year, q.quarter, q.person_id
    """
    rows = con.sql(sql).pl()
    low = pl.col("grade").is_in([AVERAGE, POOR])
    rate = (
        pl.when(low)
        .then(LOW_GRADE_RATE)
        .when(pl.col("lenient"))
        .then(LENIENT_RATE)
        .when(pl.col("rotation"))
        .then(ROTATION_RATE)
        .otherwise(BASE_RATE)
    )
    reason = (
        pl.when(pl.col("lenient"))
        .then(pl.lit("reviewer"))
        .when(pl.col("rotation"))
        .then(pl.lit("rotation"))
        .otherwise(pl.lit(None))
    )
    return rows.with_columns(rate.alias("rate"), reason.alias("leaning"), pl.lit("quarterly_grade").alias("subject"))


def _annual_candidates(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    sql = f"""
    SELECT a.person_id, a.name, a.unit, a.section, a.year, NULL::INTEGER AS quarter, a.annual_grade AS grade,
           NULL::VARCHAR AS reviewer
    FROM annual a JOIN (SELECT person_id, year FROM quarterly WHERE grade = '{GOOD}' GROUP BY ALL HAVING count(*) >= 2)
      g USING (person_id, year)
    WHERE a.annual_grade = '{COMPETENT}' ORDER BY a.year, a.person_id
    """
    return (
        con.sql(sql)
        .pl()
        .with_columns(
            pl.lit(ANNUAL_RATE).alias("rate"), pl.lit("quota").alias("leaning"), pl.lit("annual_grade").alias("subject")
        )
    )


def _outcome_candidates(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    sql = """
    SELECT o.person_id, o.name, o.unit, NULL::VARCHAR AS section, o.year, NULL::INTEGER AS quarter,
           o.outcome_raw AS grade, NULL::VARCHAR AS reviewer
    FROM outcomes o WHERE o.outcome IN ('award_withdrawn', 'bonus_cut', 'reminder') AND o.year IS NOT NULL
    ORDER BY o.year, o.person_id, o.outcome_raw
    """
    return (
        con.sql(sql)
        .pl()
        .with_columns(
            pl.lit(OUTCOME_RATE).alias("rate"), pl.lit("facts").alias("leaning"), pl.lit("outcome").alias("subject")
        )
    )


def demo_appeals(con: duckdb.DuckDBPyConnection, seed: int) -> pl.DataFrame:
    """The demo's appeals as rows of the `appeals` table (without import_id), deterministic for a seed."""
    rng = np.random.default_rng([seed, 16])
    parts = [_candidates(con), _annual_candidates(con), _outcome_candidates(con)]
    pool = pl.concat(parts, how="diagonal_relaxed")
    if pool.height == 0:
        return pl.DataFrame()
    drawn = pool.filter(pl.Series(rng.random(pool.height) < pool["rate"].to_numpy()))
    n = drawn.height
    kinds = list(REASONS)
    # Reasons: the planted leaning most of the time, otherwise any reason.
    leaning = drawn["leaning"].to_numpy()
    any_kind = np.array(kinds)[rng.integers(0, len(kinds), n)]
    lean_on = (rng.random(n) < 0.7) & (leaning != None)  # noqa: E711 (numpy object array)
    kind = np.where(lean_on, leaning, any_kind)
    reason = [REASONS[k][i % len(REASONS[k])] for k, i in zip(kind, rng.integers(0, 6, n), strict=True)]
    # Filed 10-40 days after the period ends (a quarter's end, or the year's for annual and outcome appeals).
    year = drawn["year"].to_numpy().astype(int)
    quarter = drawn["quarter"].fill_null(4).to_numpy().astype(int)
    period_end = (year - 1970) * 12 + quarter * 3  # months since 1970-01 of the month after the period
    filed = np.array(period_end, dtype="datetime64[M]").astype("datetime64[D]") + rng.integers(10, 41, n)
    decision = rng.choice(list(_DECISION_P), n, p=list(_DECISION_P.values()))
    last = filed.max() if n else None
    pending = filed > (last - np.timedelta64(45, "D")) if n else np.zeros(0, bool)
    decision = np.where(pending & (rng.random(n) < 0.8), "pending", decision)
    decided = filed + rng.integers(7, 46, n)
    subject = drawn["subject"].to_list()
    text = [
        SUBJECT_TEXT[s].format(y=y, q=q, o=o or "")
        for s, y, q, o in zip(subject, year, quarter, drawn["grade"].to_list(), strict=True)
    ]
    frame = drawn.select("person_id", "name", "unit", "section", pl.col("year").cast(pl.Int32)).with_columns(
        pl.Series("appeal_date", filed).cast(pl.Date),
        drawn["quarter"].cast(pl.Int32).alias("quarter"),
        pl.Series("appeal_subject", subject),
        pl.Series("appeal_subject_raw", text),
        pl.when(pl.Series(subject) != "outcome").then(drawn["grade"]).otherwise(None).alias("appealed_grade"),
        pl.Series("appeal_reason", reason),
        # Only appeals about a reviewer name one; the others leave the column empty, as real registers do.
        pl.when(pl.Series(kind) == "reviewer").then(drawn["reviewer"]).otherwise(None).alias("reviewer"),
        pl.Series("decision", decision),
        pl.Series("decision_raw", [DECISION_TEXT[d] for d in decision], dtype=pl.Utf8),
        pl.when(pl.Series(decision).is_in(["pending", "withdrawn"]))
        .then(None)
        .otherwise(pl.Series(decided).cast(pl.Date))
        .alias("decision_date"),
    )
    frame = frame.with_columns(
        reason_kinds(frame["appeal_reason"]).alias("reason_kind"),
        pl.when(pl.col("decision") == "changed")
        .then(pl.when(pl.col("appeal_subject") == "annual_grade").then(pl.lit("优秀")).otherwise(pl.lit(GOOD)))
        .alias("revised_grade"),
    )
    return frame.sort("appeal_date", "person_id")


def insert_demo_appeals(con: duckdb.DuckDBPyConnection, seed: int) -> int:
    """Draw the demo appeals from what is already stored and insert them; returns the rows added."""
    from analytics import store

    frame = demo_appeals(con, seed)
    return store.insert_frame(con, "appeals", frame) if frame.height else 0
