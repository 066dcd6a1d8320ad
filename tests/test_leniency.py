"""Quota (L1) and score-adjusted leniency (L3) on tiny hand-built units whose answers are obvious."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest
from scipy.stats import betabinom

from analytics.dataset import frames
from analytics.detectors.base import FLAG_SCHEMA
from analytics.detectors.leniency import DETECTOR, DETECTORS, LeniencyDetector, QuotaDetector, funnel_data, reviewer_mix
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


def quota_unit(
    unit: str,
    sections: dict[str, int],
    rng: np.random.Generator,
    quarters: int = 8,
    lenient: dict[str, float] | None = None,
    over_cap: bool = False,
    raise_scores: float = 0.0,
    offset: float = 0.0,
    lane: str = "综合管理·一般干部",
    scores: bool = True,
    stronger: dict[str, float] | None = None,
) -> list[dict]:
    """A unit graded by rank under the 40% quota: per quarter the best scores get 好 (ability persists).

    sections: reviewer -> people. lenient: reviewer -> share of its section given 好 (its best scorers), out of the
    unit's quota, or on top of it with over_cap; raise_scores: points added to the scores of those lenient 好.
    offset shifts every score of the unit (a low-scoring unit still hands out its quota); stronger: reviewer ->
    ability added to its section's people (an honestly stronger section).
    """
    lenient = lenient or {}
    who = [(r, i) for r, n in sections.items() for i in range(n)]
    ability = rng.standard_normal(len(who)) + np.array([(stronger or {}).get(w[0], 0.0) for w in who])
    rows = []
    for t in range(quarters):
        score = 84 + offset + 4 * ability + 2.5 * rng.standard_normal(len(who))
        good = np.zeros(len(who), dtype=bool)
        for r, share in lenient.items():
            mine = np.array([w[0] == r for w in who])
            k = int(round(share * mine.sum()))
            good[np.flatnonzero(mine)[np.argsort(-score[mine])[:k]]] = True
        quota = max(1, int(np.floor(0.4 * len(who) + 1e-9)))
        left = quota if over_cap else quota - int(good.sum())
        rest = np.flatnonzero(~good & ~np.array([w[0] in lenient for w in who]))
        good[rest[np.argsort(-score[rest])[: max(left, 0)]]] = True
        written = score + np.where(good & np.array([w[0] in lenient for w in who]), raise_scores, 0.0)
        for j, (r, i) in enumerate(who):
            rows.append(dict(person_id=f"{unit}-{r}-{i}", unit=unit, lane=lane, reviewer=r, year=2023 + t // 4,
                             quarter=t % 4 + 1, grade="好" if good[j] else "较好",
                             score=round(float(written[j]), 1) if scores else None))  # fmt: skip
    return rows


def honest_city(rng: np.random.Generator, units: int = 8) -> list[dict]:
    """Honest units of three sections each (the lane and the spread between reviewers)."""
    rows = []
    for u in range(units):
        rows += quota_unit(f"单位{u}", {f"科长{u}a": 6, f"科长{u}b": 6, f"科长{u}c": 6}, rng)
    return rows


def leniency_flags(rows: list[dict]) -> pl.DataFrame:
    return LeniencyDetector().detect(frames(quarterly=pl.DataFrame(rows)), SETTINGS)


def test_lenient_section_head_is_found_at_equal_score_and_the_others_are_not():
    rng = np.random.default_rng(3)
    rows = honest_city(rng) + quota_unit("宽松局", {"老好人": 6, "甲": 6, "乙": 6}, rng, lenient={"老好人": 0.8})
    flags = leniency_flags(rows)
    assert flags["subject"].to_list() == ["老好人"]
    flag = flags.row(0, named=True)
    assert flag["subject_type"] == "reviewer" and flag["unit"] == "宽松局" and flag["kind"] == "leniency"
    assert flag["statistic_value"] > 0.2 and flag["q_value"] < 0.05 and 0 < flag["severity"] <= 1
    stats = json.loads(flag["statistics"])
    assert stats["basis"] == "within" and stats["people"] == 6 and stats["tau2_adj"] >= 0
    assert flag["caveat_zh"] is None  # the unit's own standard is taken out: nothing to warn about
    assert "五分位" in flag["evidence_zh"] and "Mantel-Haenszel" in flag["evidence_en"] and "q " in flag["evidence_en"]
    assert flag["period_from"] == "2023Q1" and flag["period_to"] == "2024Q4" and flag["n"] == 48


def test_mantel_haenszel_matches_a_hand_computation():
    from analytics.detectors.leniency.within_unit import compare

    # One unit, one quarter, one stratum: 甲 gives 好 to 3 of 4, the others 1 of 6.
    rows = pl.DataFrame(
        {
            "unit": ["u"] * 10,
            "t": [0] * 10,
            "person_id": [str(i) for i in range(10)],
            "reviewer": ["甲"] * 4 + ["乙"] * 6,
            "is_good": [True, True, True, False, True] + [False] * 5,
            "score": [None] * 10,
            "pct": [None] * 10,
        },
        schema_overrides={"score": pl.Float64, "pct": pl.Float64},
    )
    out = compare(rows, by_score=False).filter(pl.col("reviewer") == "甲").row(0, named=True)
    n1, N, M, a = 4, 10, 4, 3
    assert out["o_e"] == pytest.approx(a - n1 * M / N)
    assert out["v"] == pytest.approx(n1 * (N - n1) * M * (N - M) / (N**2 * (N - 1)))
    assert out["rd"] == pytest.approx(3 / 4 - 1 / 6)  # one stratum: the plain difference of shares


def test_sole_reviewer_of_a_low_scoring_unit_is_not_blamed_but_one_over_the_cap_is():
    rng = np.random.default_rng(5)
    rows = honest_city(rng)
    rows += quota_unit("低分所", {"独评甲": 10}, rng, offset=-8.0)  # honest: scores low, keeps to the quota
    rows += quota_unit("宽松所", {"独评乙": 10}, rng, lenient={"独评乙": 0.6})
    rows += quota_unit("小站", {"独评丙": 4}, rng, lenient={"独评丙": 0.5})  # 2 of 4 where the quota is 1
    flags = leniency_flags(rows).sort("subject")
    assert flags["subject"].to_list() == ["独评丙", "独评乙"]
    big, small = (
        flags.filter(pl.col("unit") == "宽松所").row(0, named=True),
        flags.filter(pl.col("unit") == "小站").row(0, named=True),
    )
    stats = json.loads(big["statistics"])
    assert (
        stats["basis"] == "sole"
        and stats["share"] == pytest.approx(0.6)
        and stats["allowed_share"] == pytest.approx(0.4)
    )
    assert (
        stats["p_cap"] < 0.001
        and stats["p_lane"] < 0.001
        and big["p_value"] == pytest.approx(max(stats["p_cap"], stats["p_lane"]))
    )
    assert big["caveat_zh"].startswith("评鉴人与单位无法区分") and "not by score levels" in big["caveat_en"]
    assert "上限" in big["evidence_zh"] and "cap" in big["evidence_en"]
    assert json.loads(small["statistics"])["p_lane"] is None  # 4 people: judged against the cap only


def test_scores_raised_with_the_grades_point_to_the_quota_evidence():
    rng = np.random.default_rng(7)
    rows = honest_city(rng)
    sections = {"抬分人": 8, "甲": 6, "乙": 6, "丙": 6, "丁": 6}
    rows += quota_unit("抬分局", sections, rng, 12, lenient={"抬分人": 0.8}, over_cap=True, raise_scores=8.0)
    flags = leniency_flags(rows)
    assert flags["subject"].to_list() == ["抬分人"]
    flag = flags.row(0, named=True)
    stats = json.loads(flag["statistics"])
    assert stats["basis"] == "scores_rose" and stats["over_r"] == 12 and stats["score_pct"] >= 0.6
    assert stats["p_over"] < stats["p_adj"]
    assert "宽松可能也体现在得分中" in flag["caveat_zh"] and "quota flag" in flag["caveat_en"]
    # A stronger section graded honestly within the quota: high scores, many 好, no claim.
    strong = honest_city(np.random.default_rng(7))
    strong += quota_unit("强科局", sections, np.random.default_rng(8), 12, stronger={"抬分人": 1.5})
    assert leniency_flags(strong).height == 0


def test_a_stronger_section_beside_a_lenient_one_is_not_named_by_the_quota_evidence():
    # The unit goes over its cap because of 抬分人 (scores raised with the grades); 强科 is honestly stronger
    # and also gets many 好, but holds less of the unit's 好 above the cap: only 抬分人 is flagged.
    rng = np.random.default_rng(7)
    rows = honest_city(rng)
    sections = {"抬分人": 8, "强科": 5, "甲": 6, "乙": 6, "丙": 6}
    rows += quota_unit(
        "抬分局", sections, rng, 12, lenient={"抬分人": 0.8}, over_cap=True, raise_scores=8.0, stronger={"强科": 1.5}
    )
    flags = leniency_flags(rows)
    assert flags["subject"].to_list() == ["抬分人"]
    stats = json.loads(flags["statistics"][0])
    assert stats["basis"] == "scores_rose" and 0.5 <= stats["excess_r"] / stats["unit_excess"] <= 1.0
    assert (
        "超出上限的'好'有" in flags["evidence_zh"][0] and "above the cap in those quarters" in flags["evidence_en"][0]
    )


def test_reviewers_of_fewer_than_three_people_are_not_judged():
    rng = np.random.default_rng(11)
    rows = honest_city(rng) + quota_unit("小科局", {"两人科": 2, "甲": 8, "乙": 8}, rng, lenient={"两人科": 1.0})
    assert "两人科" not in leniency_flags(rows)["subject"].to_list()


def test_unscored_reviewer_is_compared_by_quarter_with_a_caveat():
    rows = []
    for r in range(4):  # four sections of 6 people; the first head gives 好 to everyone, the rest to 2 of 6 in turn
        for t in range(8):
            for i in range(6):
                good = r == 0 or (i + t) % 6 < 2
                rows.append(dict(person_id=f"p{r}-{i}", unit="无分局", lane="综合管理·一般干部", reviewer=f"科长{r}",
                                 year=2023 + t // 4, quarter=t % 4 + 1, grade="好" if good else "较好"))  # fmt: skip
    rng = np.random.default_rng(2)
    rows += [dict(r, score=None) for r in honest_city(rng)]
    flags = leniency_flags(rows)
    assert flags["subject"].to_list() == ["科长0"]
    flag = flags.row(0, named=True)
    assert json.loads(flag["statistics"])["basis"] == "unscored"
    assert flag["caveat_zh"].startswith("未按得分调整") and "无得分" in flag["evidence_zh"]


def test_units_without_reviewer_names_are_judged_as_units():
    rows = [r for u in range(6) for r in unit_rows(f"单位{u}", 10, [4] * 8)]
    assert leniency_flags(rows).height == 0  # every unit keeps to its quota
    rows += unit_rows("宽松单位", 10, [7] * 8)
    flags = leniency_flags(rows)
    assert flags["subject"].to_list() == ["宽松单位"] and flags["subject_type"][0] == "unit"
    assert "未记录评鉴人" in flags["caveat_zh"][0]


def test_flag_keys_are_unique_and_survive_a_new_quarter():
    rng = np.random.default_rng(13)
    rows = honest_city(rng, 6)
    rows += quota_unit("甲局", {"王伟": 6, "甲": 6, "乙": 6}, rng, lenient={"王伟": 0.8})
    rows += quota_unit("乙局", {"王伟": 8}, rng, lenient={"王伟": 0.7})  # a namesake, sole reviewer there
    flags = leniency_flags(rows)
    assert sorted(flags["unit"]) == ["乙局", "甲局"] and flags["flag_key"].is_unique().all()
    longer = rows + [dict(r, year=2025, quarter=1) for r in rows if r["year"] == 2024 and r["quarter"] == 4]
    again = leniency_flags(longer)
    assert sorted(again["flag_key"]) == sorted(flags["flag_key"])  # the finding keeps its key
    assert set(again["period_to"]) == {"2025Q1"} and not set(again["flag_id"]) & set(flags["flag_id"])


def test_registry_exposes_both_kinds():
    from analytics.detectors import leniency, registry

    assert leniency.DETECTOR.kind == "leniency" and [d.kind for d in DETECTORS] == ["quota"]
    kinds = [d.kind for d in registry()]
    assert kinds.count("leniency") == 1 and kinds.count("quota") == 1


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
    planted = truth.filter(~pl.col("pattern").str.starts_with("honest_"))
    honest = set(data.quarterly["unit"].unique()) - set(planted["unit"])
    flags = {
        d.kind: d.detect(data, SETTINGS, seed=0)
        for d in (*DETECTORS, DETECTOR, compression.DETECTOR, silent_negatives.DETECTOR, outliers.DETECTOR)
    }
    for kind, frame in flags.items():
        rate = len(set(frame["unit"]) & honest) / len(honest)
        assert rate <= 0.05, f"{kind}: {rate:.1%} of honest units flagged"
    lenient = truth.filter(pl.col("pattern").str.starts_with("lenient_"))["subject"]
    assert lenient.is_in(flags["leniency"]["subject"].to_list()).mean() >= 0.9
    compressed = truth.filter(pl.col("pattern").str.starts_with("compression"))["unit"]
    assert compressed.is_in(flags["compression"]["unit"].to_list()).mean() >= 0.9
