"""Appeals analysis: attribution to reviewers, counts, time to decision, and the flagged-reviewer test."""

from __future__ import annotations

from datetime import date

import polars as pl

from analytics import store
from analytics.appeals import analysis
from analytics.appeals.store import load_appeals
from analytics.dataset import Scope, load_dataset
from analytics.schema import APPEALS
from analytics.settings import load_settings


def quarterly(reviewers: dict[str, int]) -> pl.DataFrame:
    """Each reviewer grades `n` person-quarters (較好) in unit U, people named <reviewer>-<i>, 2024 Q1-Q4."""
    rows = [
        {"person_id": f"{r}-{i // 4}", "unit": "U", "year": 2024, "quarter": i % 4 + 1, "grade": "较好", "reviewer": r}
        for r, n in reviewers.items()
        for i in range(n)
    ]
    return pl.DataFrame(rows, schema_overrides={"year": pl.Int32, "quarter": pl.Int32})


def appeals(rows: list[dict]) -> pl.DataFrame:
    schema = APPEALS.polars_schema()
    full = [{c: r.get(c) for c in schema} for r in rows]
    return pl.DataFrame(full, schema=schema)


def one(person: str, quarter: int | None = 1, reviewer: str | None = None, **more) -> dict:
    return {"person_id": person, "unit": "U", "year": 2024, "quarter": quarter, "reviewer": reviewer,
            "appeal_subject": "quarterly_grade" if quarter else "annual_grade", "decision": "kept", **more}  # fmt: skip


def test_attribution_named_then_quarter_then_year():
    q = quarterly({"甲": 8, "乙": 8})
    a = appeals([one("甲-0", 1, reviewer="乙"), one("甲-0", 2), one("乙-1", None), one("nobody", 1)])
    out = analysis.attributed(a, q)
    assert out["attributed_reviewer"].to_list() == ["乙", "甲", "乙", None]
    assert out["attribution"].to_list() == ["named", "quarter", "year", None]


def test_flagged_reviewers_drawing_many_more_appeals_is_found():
    q = quarterly({"A": 100, "B": 100, "C": 100, "D": 100, "E": 100, "F": 100})
    rows = [one(f"{r}-{i}") for r in ("A", "B") for i in range(10)] + [one(f"{r}-0") for r in ("C", "D", "E", "F")]
    flagged = pl.DataFrame({"unit": ["U", "U"], "reviewer": ["A", "B"]})
    table = analysis.reviewer_table(appeals(rows), q, flagged)
    assert table.filter(pl.col("flagged"))["appeals"].to_list() == [10, 10]
    assert table.filter(pl.col("reviewer") == "C")["per_100"].item() == 1.0
    test = analysis.flag_test(table, draws=2000)
    assert (test.appeals_flagged, test.appeals_other, test.exposure_flagged, test.exposure_other) == (20, 4, 200, 400)
    assert test.rate_ratio == 10.0 and test.ci_low > 2
    assert test.p_exact < 0.001
    # With 6 reviewers only C(6,2) = 15 labelings exist: the permutation p cannot go below 1/15 and says so.
    assert 1 / 16 < test.p_permutation < 0.1
    assert test.sufficient and not test.significant
    assert "未见" in test.sentence("zh") and "p = 0.0" in test.sentence("en")


def test_many_reviewers_make_the_permutation_test_decisive():
    q = quarterly({f"R{i}": 40 for i in range(30)})
    rows = [one(f"R{i}-{k}") for i in range(3) for k in range(6)] + [one(f"R{i}-0") for i in range(3, 30, 3)]
    flagged = pl.DataFrame({"unit": ["U"] * 3, "reviewer": ["R0", "R1", "R2"]})
    test = analysis.flag_test(analysis.reviewer_table(appeals(rows), q, flagged), draws=4000)
    assert test.significant and test.p_permutation < 0.01
    assert "明显更多" in test.sentence("zh")


def test_equal_rates_are_not_called_more():
    q = quarterly({f"R{i}": 40 for i in range(12)})
    rows = [one(f"R{i}-{k}") for i in range(12) for k in range(2)]
    flagged = pl.DataFrame({"unit": ["U"] * 3, "reviewer": ["R0", "R1", "R2"]})
    test = analysis.flag_test(analysis.reviewer_table(appeals(rows), q, flagged))
    assert test.rate_ratio == 1.0 and not test.significant and test.p_permutation > 0.2


def test_thin_evidence_is_quiet():
    q = quarterly({"A": 40, "B": 40, "C": 40})
    flagged = pl.DataFrame({"unit": ["U"], "reviewer": ["A"]})
    test = analysis.flag_test(analysis.reviewer_table(appeals([one("A-0"), one("A-1"), one("B-0")]), q, flagged))
    assert not test.sufficient and test.p_permutation is None and test.rate_ratio is None
    assert test.sentence("zh").startswith("证据不足") and test.sentence("en").startswith("Insufficient evidence")


def test_counts_and_time_to_decision():
    a = appeals(
        [
            one("p1", reason_kind="reviewer", decision="changed", appeal_date=date(2024, 4, 10), decision_date=date(2024, 4, 20)),
            one("p1", 2, reason_kind="reviewer", appeal_date=date(2024, 7, 10), decision_date=date(2024, 8, 9)),
            one("p2", reason_kind="quota", decision="pending", appeal_date=date(2024, 4, 12)),
        ]
    )  # fmt: skip
    by_reason = analysis.counts_by(a, "reason_kind")
    assert by_reason.rows() == [("reviewer", 2, 1, 2, 1, 0.5), ("quota", 1, 1, 0, 0, None)]
    timing = {r["decision"]: r for r in analysis.time_to_decision(a).iter_rows(named=True)}
    assert (timing["changed"]["median_days"], timing["kept"]["max_days"], timing["pending"]["dated"]) == (10, 30, 0)


def test_demo_city_has_appeals_and_flagged_reviewers_draw_more(demo_db):
    con = store.connect(demo_db, read_only=True)
    try:
        settings = load_settings()
        data = load_dataset(con, settings)
        stored = load_appeals(con)
        truth = con.sql("SELECT unit, subject AS reviewer FROM demo_truth WHERE pattern LIKE 'lenient%'").pl()
        assert load_appeals(con, Scope(pseudonymise=True)).height == 0  # researchers see no appeals
    finally:
        con.close()
    assert stored.height >= 50
    table = analysis.reviewer_table(stored, data.quarterly, truth)
    on_planted = table.filter(pl.col("flagged"))
    assert on_planted.height == truth.height and on_planted["appeals"].sum() > 0
    test = analysis.flag_test(table)
    assert test.sufficient and test.rate_ratio > 1.5
