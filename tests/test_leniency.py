"""Quota (L1) and score-adjusted leniency (L3) on tiny hand-built units whose answers are obvious."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest
from scipy.stats import betabinom

from analytics.dataset import frames
from analytics.detectors.base import FLAG_SCHEMA
from analytics.detectors.leniency import DETECTORS, LeniencyDetector, QuotaDetector, funnel_data, reviewer_mix
from analytics.settings import Quota, Settings

SETTINGS = Settings()


def unit_rows(
    unit: str, people: int, goods: list[int], lane: str = "综合管理·一般干部", negatives: int = 0
) -> list[dict]:
    """`people` persons over len(goods) quarters of 2023-2024; goods[t] of them get 好, `negatives` get 一般, rest 较好."""
    rows = []
    for t, good in enumerate(goods):
        year, quarter = 2023 + t // 4, t % 4 + 1
        for i in range(people):
            slot = (i - t * good) % people
            grade = "好" if slot < good else ("一般" if slot >= people - negatives else "较好")
            rows.append(
                dict(
                    person_id=f"{unit}-{i}",
                    name=f"{unit}{i}",
                    unit=unit,
                    lane=lane,
                    year=year,
                    quarter=quarter,
                    grade=grade,
                )
            )
    return rows


def quota_flags(rows: list[dict], settings: Settings = SETTINGS, annual: pl.DataFrame | None = None) -> pl.DataFrame:
    return QuotaDetector().detect(frames(quarterly=pl.DataFrame(rows), annual=annual), settings)


def test_unit_at_sixty_percent_good_is_flagged_and_forty_percent_is_not():
    rows = []
    for u in range(6):
        rows += unit_rows(f"单位{u}", 10, [4] * 8)
    rows += unit_rows("宽松局", 10, [6] * 8)
    flags = quota_flags(rows)
    assert flags["subject"].to_list() == ["宽松局"]
    flag = flags.row(0, named=True)
    stats = json.loads(flag["statistics"])
    assert stats["quarters_over"] == 8 and stats["worst_share"] == pytest.approx(0.6)
    assert 0 < flag["severity"] <= 1 and flag["n"] == 80
    assert "40%" in flag["evidence_zh"] and "60%" in flag["evidence_zh"] and "8 个季度" in flag["evidence_zh"]
    assert "cap" in flag["evidence_en"]
    assert list(flags.schema.items()) == list(FLAG_SCHEMA.items())


def test_beta_binomial_p_matches_scipy_for_a_hand_case():
    # Ten units of 10 people x 8 quarters around 20% 好, and one at 40% (inside the cap, high for its lane).
    totals = {f"单位{i}": k for i, k in enumerate([10, 12, 14, 16, 18, 20, 22, 14, 18, 16])} | {"高": 32}
    rows = [r for unit, k in totals.items() for r in unit_rows(unit, 10, [k // 8 + (t < k % 8) for t in range(8)])]
    flags = quota_flags(rows)
    k = np.array([k for unit, k in totals.items() if unit != "高"], dtype=float)  # the rest of the lane
    m = 80.0
    p = k / m
    mu = k.sum() / (m * len(k))
    rho = (m * p.var(ddof=1) / (mu * (1 - mu)) - 1) / (m - 1)  # the equal-n moment estimator
    assert rho > 0  # over-dispersed, as real lanes are
    a, b = mu * (1 / rho - 1), (1 - mu) * (1 / rho - 1)
    expected = betabinom.sf(32 - 1, 80, a, b)
    flag = flags.filter(pl.col("subject") == "高").row(0, named=True)
    assert flag["p_value"] == pytest.approx(expected, rel=1e-9)
    assert flag["q_value"] < 0.05
    assert json.loads(flag["statistics"])["quarters_over"] == 0  # flagged by the lane test, not the cap
    assert set(flags["subject"]) == {"高"}


def test_small_units_are_not_tested_against_their_lane():
    rows = []
    for u in range(6):
        rows += unit_rows(f"大{u}", 20, [6] * 8)  # 30%
    rows += unit_rows("小", 3, [1] * 8)  # quota floor: 1 of 3 = 33% every quarter, inside the rules
    assert quota_flags(rows).height == 0


def test_annual_excellent_above_cap_and_approved_units():
    rows = [r for u in range(6) for r in unit_rows(f"单位{u}", 10, [4] * 4)]
    annual = pl.DataFrame(
        [
            dict(person_id=f"单位0-{i}", unit="单位0", year=2023, annual_grade="优秀" if i < 3 else "称职")
            for i in range(10)
        ]
    )
    flags = quota_flags(rows, annual=annual)
    assert flags["subject"].to_list() == ["单位0"]
    stats = json.loads(flags["statistics"][0])
    assert stats["years_over"] == 1 and stats["worst_eshare"] == pytest.approx(0.3)
    assert "优秀" in flags["evidence_zh"][0]
    approved = SETTINGS.replace(quota=Quota(excellent_cap_approved=0.30, approved_units=("单位0",)))
    assert quota_flags(rows, approved, annual=annual).height == 0


def test_quota_is_quiet_on_empty_and_honest_data():
    assert quota_flags([]).height == 0
    rows = [r for u in range(8) for r in unit_rows(f"单位{u}", 12, [4, 4, 3, 4, 4, 4, 3, 4])]
    assert quota_flags(rows).height == 0


# ---------------------------------------------------------------- L3


def scored_rows(
    unit: str,
    reviewer: str,
    people: int,
    quarters: int,
    shift: float,
    rng: np.random.Generator,
    lane: str = "综合管理·一般干部",
) -> list[dict]:
    """Scores ~ U(60, 100); grade from the score band (好 >= 90, 较好 >= 80, 一般 >= 65), `shift` points generous."""
    rows = []
    for t in range(quarters):
        scores = rng.uniform(60, 100, people)
        for i, s in enumerate(scores):
            s_seen = s + shift
            grade = "好" if s_seen >= 90 else "较好" if s_seen >= 80 else "一般" if s_seen >= 65 else "较差"
            rows.append(
                dict(
                    person_id=f"{unit}-{reviewer}-{i}",
                    unit=unit,
                    lane=lane,
                    reviewer=reviewer,
                    year=2023 + t // 4,
                    quarter=t % 4 + 1,
                    grade=grade,
                    score=round(float(s), 1),
                )
            )
    return rows


def leniency_flags(rows: list[dict]) -> pl.DataFrame:
    return LeniencyDetector().detect(frames(quarterly=pl.DataFrame(rows)), SETTINGS)


def test_lenient_reviewer_with_honest_scores_is_flagged_and_honest_one_is_not():
    rng = np.random.default_rng(3)
    rows = []
    for r in range(6):
        rows += scored_rows(f"单位{r}", f"评鉴人{r}", 10, 8, 0.0, rng)
    rows += scored_rows("单位L", "老好人", 10, 8, 8.0, rng)
    rows += scored_rows("单位L", "严格人", 10, 8, 0.0, rng)
    flags = leniency_flags(rows)
    assert flags["subject"].to_list() == ["老好人"]
    flag = flags.row(0, named=True)
    assert flag["subject_type"] == "reviewer" and flag["unit"] == "单位L"
    assert flag["statistic_value"] > 0.15 and flag["q_value"] < 0.05 and 0 < flag["severity"] <= 1
    stats = json.loads(flag["statistics"])
    assert stats["basis"] == "unit" and stats["l_alpha"] > 0.15  # against the unit's other reviewer, and the lane
    # compared with the unit's other reviewer, the unit's own standard is taken out: no nesting caveat
    assert flag["caveat_zh"] is None
    assert (
        "老好人" in flag["evidence_zh"] and "本单位其他评鉴人" in flag["evidence_zh"] and "z =" in flag["evidence_en"]
    )


def test_sole_reviewer_carries_the_nesting_caveat_and_one_across_units_does_not():
    rng = np.random.default_rng(5)
    rows = []
    for r in range(6):
        rows += scored_rows(f"单位{r}", f"评鉴人{r}", 10, 8, 0.0, rng)
    rows += scored_rows("单位S", "独评人", 10, 8, 8.0, rng)
    rows += scored_rows("单位A", "跨单位", 8, 8, 8.0, rng) + scored_rows("单位B", "跨单位", 8, 8, 8.0, rng)
    flags = leniency_flags(rows).sort("subject")
    assert flags["subject"].to_list() == ["独评人", "跨单位"]
    sole, across = flags.row(0, named=True), flags.row(1, named=True)
    assert sole["subject_type"] == "reviewer" and json.loads(sole["statistics"])["basis"] == "lane"
    assert sole["caveat_zh"].startswith("评鉴人与单位无法区分") and "cannot be separated" in sole["caveat_en"]
    assert across["caveat_zh"] is None and json.loads(across["statistics"])["units_graded"] == 2


def test_namesakes_in_two_units_give_one_flag_compared_where_the_name_grades_most():
    rng = np.random.default_rng(8)
    rows = []
    for r in range(6):
        rows += scored_rows(f"单位{r}", f"评鉴人{r}", 10, 8, 0.0, rng)
    rows += scored_rows("单位A", "王伟", 10, 8, 8.0, rng) + scored_rows("单位A", "甲", 10, 8, 0.0, rng)
    rows += scored_rows("单位B", "王伟", 6, 8, 0.0, rng) + scored_rows("单位B", "乙", 6, 8, 0.0, rng)
    # 李强 without scores in 单位C and 单位D, giving everyone 好 in both: still one flag, in the larger unit.
    for unit, people in (("单位C", 8), ("单位D", 6)):
        for reviewer, good in (("李强", True), (f"{unit}科长", False)):
            rows += [
                dict(r, score=None, grade="好" if good or int(r["person_id"][-1]) < 2 else "较好")
                for r in scored_rows(unit, reviewer, people, 8, 0.0, rng)
            ]
    flags = leniency_flags(rows)
    assert flags["flag_id"].is_unique().all()
    assert sorted(flags["subject"]) == ["李强", "王伟"]
    wang, li = (
        flags.filter(pl.col("subject") == "王伟").row(0, named=True),
        flags.filter(pl.col("subject") == "李强").row(0, named=True),
    )
    assert wang["unit"] == "单位A" and json.loads(wang["statistics"])["basis"] == "unit"
    assert li["unit"] == "单位C" and json.loads(li["statistics"])["basis"] == "unit_unscored"


def test_unscored_reviewer_is_compared_person_by_person_with_a_caveat():
    rows = []
    for r in range(4):  # four sections of 6 people; the first head gives 好 to everyone, the rest to 2 of 6 in turn
        for t in range(8):
            for i in range(6):
                good = r == 0 or (i + t) % 6 < 2
                rows.append(
                    dict(
                        person_id=f"p{r}-{i}",
                        unit="无分局",
                        lane="综合管理·一般干部",
                        reviewer=f"科长{r}",
                        year=2023 + t // 4,
                        quarter=t % 4 + 1,
                        grade="好" if good else "较好",
                    )
                )
    flags = leniency_flags(rows)
    assert flags["subject"].to_list() == ["科长0"]
    flag = flags.row(0, named=True)
    assert json.loads(flag["statistics"])["basis"] == "unit_unscored"
    assert flag["caveat_zh"].startswith("未按得分调整") and "100%" in flag["evidence_zh"]


def test_leniency_without_scores_or_reviewers():
    rows = [r for u in range(6) for r in unit_rows(f"单位{u}", 10, [4] * 8)]
    assert leniency_flags(rows).height == 0  # no scores, no reviewers: nothing to adjust for, no claim
    rng = np.random.default_rng(9)
    rows = [dict(r, reviewer=None) for u in range(6) for r in scored_rows(f"单位{u}", "x", 10, 8, 0.0, rng)]
    rows += [dict(r, reviewer=None) for r in scored_rows("宽松单位", "x", 10, 8, 8.0, rng)]
    flags = leniency_flags(rows)
    assert flags["subject"].to_list() == ["宽松单位"] and flags["subject_type"][0] == "unit"
    assert "未记录评鉴人" in flags["caveat_zh"][0]


def test_registry_exposes_both_kinds():
    assert [d.kind for d in DETECTORS] == ["quota", "leniency"]


# ---------------------------------------------------------------- evidence views


def test_funnel_limits_around_lane_mean():
    rows = [r for u in range(4) for r in unit_rows(f"单位{u}", 10, [4] * 4)] + unit_rows("小", 5, [1] * 4)
    funnel = funnel_data(frames(quarterly=pl.DataFrame(rows)), SETTINGS)
    assert funnel.columns[:10] == ["unit", "lane", "n", "good", "share", "lane_mean", "lo95", "hi95", "lo998", "hi998"]
    small = funnel.filter(pl.col("unit") == "小").row(0, named=True)
    assert small["n"] == 20 and small["share"] == pytest.approx(0.2)
    assert small["lane_mean"] == pytest.approx(68 / 180)
    assert small["lo998"] < small["lo95"] < small["lane_mean"] < small["hi95"] < small["hi998"]
    big = funnel.filter(pl.col("unit") == "单位0").row(0, named=True)
    assert big["hi95"] - big["lo95"] < small["hi95"] - small["lo95"]  # the funnel narrows with n
    one_quarter = funnel_data(frames(quarterly=pl.DataFrame(rows)), SETTINGS, year=2023, quarter=1)
    assert one_quarter.filter(pl.col("unit") == "单位0")["n"].item() == 10


def test_reviewer_mix_beside_lane():
    rng = np.random.default_rng(1)
    rows = scored_rows("单位A", "甲", 10, 4, 15.0, rng) + scored_rows("单位B", "乙", 10, 4, 0.0, rng)
    mix = reviewer_mix(frames(quarterly=pl.DataFrame(rows)), reviewer="甲")
    assert mix.columns == ["group", "name", "grade", "grade_en", "n", "share"]
    assert mix.filter(pl.col("group") == "subject")["grade"].to_list() == ["好", "较好", "一般", "较差"]
    assert mix.group_by("group").agg(pl.col("share").sum())["share"].to_list() == pytest.approx([1.0, 1.0])
    mine = mix.filter((pl.col("group") == "subject") & (pl.col("grade") == "好"))["share"].item()
    lane = mix.filter((pl.col("group") == "lane") & (pl.col("grade") == "好"))["share"].item()
    assert mine > lane
    by_unit = reviewer_mix(frames(quarterly=pl.DataFrame(rows)), unit="单位B")
    assert by_unit.group_by("group").agg(pl.col("n").sum()).sort("group")["n"].to_list() == [80, 40]
    with pytest.raises(ValueError):
        reviewer_mix(frames(quarterly=pl.DataFrame(rows)))


# ---------------------------------------------------------------- the demo city (planted truth)


@pytest.mark.slow
def test_demo_city_recall_and_honest_flag_rate(demo_db):
    from analytics import store
    from analytics.dataset import load_dataset
    from analytics.detectors import compression, outliers, silent_negatives

    con = store.connect(demo_db, read_only=True)
    try:
        data = load_dataset(con, SETTINGS)
        truth = con.execute("SELECT pattern, subject, unit FROM demo_truth").pl()
    finally:
        con.close()
    honest = set(data.quarterly["unit"].unique()) - set(truth["unit"])
    flags = {
        d.kind: d.detect(data, SETTINGS, seed=0)
        for d in (*DETECTORS, compression.DETECTOR, silent_negatives.DETECTOR, outliers.DETECTOR)
    }
    for kind, frame in flags.items():
        rate = len(set(frame["unit"]) & honest) / len(honest)
        assert rate <= 0.05, f"{kind}: {rate:.1%} of honest units flagged"
    lenient = truth.filter(pl.col("pattern") == "lenient_reviewer")["subject"]
    assert lenient.is_in(flags["leniency"]["subject"].to_list()).mean() >= 0.9
    compressed = truth.filter(pl.col("pattern") == "compression")["unit"]
    assert compressed.is_in(flags["compression"]["unit"].to_list()).mean() >= 0.9
