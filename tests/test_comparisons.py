"""Each flag kind's chart shows its test's comparison: the chart's numbers are the ones the detector computed.

Leniency and quota on tiny hand-built units (tests/test_leniency.py builders); compression, silent negatives,
outliers and outcome rules on the demo city, where each kind is planted.
"""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest
from test_leniency import SETTINGS, honest_city, leniency_flags, quota_flags, quota_unit, unit_rows

from analytics import comparisons, report
from analytics.dataset import frames


def _figure(ev: report.Evidence, key: str):
    found = dict(ev.figures)
    assert key in found, f"no {key} figure among {list(found)}"
    return found[key]


def _bars(fig) -> dict[str, list]:
    return {t.name: list(t.y) for t in fig.data if t.type == "bar"}


def test_reviewer_strata_hand_case():
    # One quarter, no scores: 甲 gives 好 to 3 of 4, the unit's others 1 of 6: one stratum, the plain comparison.
    rows = [
        dict(person_id=f"p{i}", unit="u", lane="综合管理·一般干部", reviewer="甲" if i < 4 else "乙", year=2024,
             quarter=1, grade="好" if i in (0, 1, 2, 4) else "较好")
        for i in range(10)
    ]  # fmt: skip
    strata = comparisons.reviewer_strata(frames(quarterly=pl.DataFrame(rows)), SETTINGS, "u", "甲", "unscored")
    row = strata.row(0, named=True)
    assert strata.height == 1
    assert (row["n"], row["good"], row["others_n"], row["others_good"]) == (4, 3, 6, 1)
    assert row["rate"] == pytest.approx(0.75) and row["others_rate"] == pytest.approx(1 / 6)
    assert row["o_e"] / row["w"] == pytest.approx(0.75 - 1 / 6)  # one stratum: RD is the difference of shares


def _flag_of(flags: pl.DataFrame, subject: str) -> dict:
    return flags.filter(pl.col("subject") == subject).row(0, named=True)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_lenient_reviewer_chart_is_the_equal_score_comparison(lang):
    rng = np.random.default_rng(3)
    data = frames(quarterly=pl.DataFrame(honest_city(rng) + quota_unit("宽松局", {"老好人": 6, "甲": 6, "乙": 6}, rng,
                                                                        lenient={"老好人": 0.8})))  # fmt: skip
    flag = _flag_of(leniency_flags(data.quarterly.to_dicts()), "老好人")
    stats = json.loads(flag["statistics"])
    assert stats["basis"] == "within"
    ev = report.flag_evidence(data, SETTINGS, flag, lang)
    fig = _figure(ev, "strata")
    title = fig.layout.title.text
    assert ("本单位其他人员" in title and "同得分段" in title) if lang == "zh" else "unit's other people" in title
    assert "funnel" not in dict(ev.figures)  # no units against units: the test compares inside the unit
    strata = comparisons.reviewer_strata(data, SETTINGS, "宽松局", "老好人", "within")
    # The strata are the test's: their Mantel-Haenszel difference is the flag's.
    assert strata["o_e"].sum() / strata["w"].sum() == pytest.approx(stats["rd"])
    summary = comparisons.strata_summary(strata, by_score=True)
    assert summary["o_e"].sum() / summary["w"].sum() == pytest.approx(stats["rd"])
    bars = list(_bars(fig).values())
    assert bars[0] == pytest.approx(summary["rate"].to_list()) and bars[1] == pytest.approx(
        summary["others_rate"].to_list()
    )
    assert len(fig.data[0].x) == summary.height <= 6  # score fifths (and the unscored), not one bar per unit
    assert (summary["rate"] >= summary["others_rate"]).all()  # more 好 at every score level
    assert ev.tables["strata"][1]["graded"].sum() == stats["people"] * 8  # every person-quarter the reviewer graded


def test_scores_rose_chart_reads_the_quarters_over_the_cap():
    rng = np.random.default_rng(7)
    sections = {"抬分人": 8, "甲": 6, "乙": 6, "丙": 6, "丁": 6}
    rows = honest_city(rng) + quota_unit(
        "抬分局", sections, rng, 12, lenient={"抬分人": 0.8}, over_cap=True, raise_scores=8.0
    )
    data = frames(quarterly=pl.DataFrame(rows))
    flag = _flag_of(leniency_flags(rows), "抬分人")
    stats = json.loads(flag["statistics"])
    assert stats["basis"] == "scores_rose"
    strata = comparisons.reviewer_strata(data, SETTINGS, "抬分局", "抬分人", "scores_rose")
    assert strata["t"].n_unique() == stats["over_r"] and set(strata["stratum"]) == {0}
    assert strata["o_e"].sum() / strata["w"].sum() == pytest.approx(stats["rd_over"])
    fig = _figure(report.flag_evidence(data, SETTINGS, flag, "zh"), "strata")
    assert "超出名额" in fig.layout.title.text and len(fig.data[0].x) == stats["over_r"]


def test_unscored_reviewer_chart_is_by_quarter():
    rows = []
    for r in range(4):
        for t in range(8):
            for i in range(6):
                good = r == 0 or (i + t) % 6 < 2
                rows.append(dict(person_id=f"p{r}-{i}", unit="无分局", lane="综合管理·一般干部", reviewer=f"科长{r}",
                                 year=2023 + t // 4, quarter=t % 4 + 1, grade="好" if good else "较好"))  # fmt: skip
    rows += [dict(r, score=None) for r in honest_city(np.random.default_rng(2))]
    data = frames(quarterly=pl.DataFrame(rows))
    flag = _flag_of(leniency_flags(rows), "科长0")
    stats = json.loads(flag["statistics"])
    strata = comparisons.reviewer_strata(data, SETTINGS, "无分局", "科长0", "unscored")
    assert strata.height == 8 and strata["rate"].to_list() == [1.0] * 8
    assert strata["others_rate"].to_list() == pytest.approx([6 / 18] * 8)
    assert strata["o_e"].sum() / strata["w"].sum() == pytest.approx(stats["rd_raw"])
    fig = _figure(report.flag_evidence(data, SETTINGS, flag, "en"), "strata")
    assert "quarter by quarter" in fig.layout.title.text and list(fig.data[0].x)[0] == "2023 Q1" and fig.layout.xaxis.ticktext[0] == "Q1<br>2023"


def test_sole_reviewer_chart_is_the_unit_against_its_quota_and_lane():
    rng = np.random.default_rng(5)
    rows = honest_city(rng) + quota_unit("宽松所", {"独评乙": 10}, rng, lenient={"独评乙": 0.6})
    data = frames(quarterly=pl.DataFrame(rows))
    flag = _flag_of(leniency_flags(rows), "独评乙")
    stats = json.loads(flag["statistics"])
    assert stats["basis"] == "sole"
    ev = report.flag_evidence(data, SETTINGS, flag, "zh")
    quarters = _figure(ev, "quarters")
    assert "名额上限" in quarters.layout.title.text
    shares, allowed = quarters.data[0].y, quarters.data[1].y
    table = ev.tables["quarters"][1]
    assert list(shares) == pytest.approx([0.6] * 8) and list(allowed) == pytest.approx([0.4] * 8)
    assert table["given_good"].sum() / table["graded"].sum() == pytest.approx(stats["share"])
    assert table["quota"].sum() / table["graded"].sum() == pytest.approx(stats["allowed_share"])
    funnel = ev.tables["funnel"][1]
    mine = funnel.filter(pl.col("unit") == "宽松所").row(0, named=True)
    # The lane comparison of the test: the unit's share against the lane's reference, limits with the spread.
    assert mine["share"] == pytest.approx(stats["share"]) and mine["lane_mean"] == pytest.approx(stats["lane_mean"])
    assert mine["share"] > mine["hi998"]
    assert set(funnel["unit"]) == {"宽松所", *(f"单位{u}" for u in range(8))}


def test_quota_chart_uses_the_beta_binomial_of_its_test():
    rows = []
    for u in range(6):
        rows += unit_rows(f"单位{u}", 10, [4] * 8)
    rows += unit_rows("宽松局", 10, [6] * 8)
    data = frames(quarterly=pl.DataFrame(rows))
    flag = quota_flags(rows).row(0, named=True)
    stats = json.loads(flag["statistics"])
    ev = report.flag_evidence(data, SETTINGS, flag, "en")
    assert list(_figure(ev, "quarters").data[0].y) == pytest.approx([0.6] * 8)
    funnel = ev.tables["funnel"][1]
    mine = funnel.filter(pl.col("unit") == "宽松局").row(0, named=True)
    assert mine["lane_mean"] == pytest.approx(stats["lane_mean"]) and mine["share"] == pytest.approx(0.6)
    # Limits are quantiles of the fitted beta-binomial: with the lane at exactly 40% they sit near it.
    assert mine["lo95"] <= 0.4 <= mine["hi95"] < 0.6
    assert flag["p_value"] == pytest.approx(stats["p_lane"]) and stats["p_lane"] < 0.025


@pytest.fixture(scope="module")
def demo(demo_db):
    from analytics import store
    from analytics.dataset import load_dataset
    from analytics.detectors import run_detectors
    from analytics.settings import load_settings

    settings = load_settings("settings.toml")
    con = store.connect(demo_db, read_only=True)
    try:
        data = load_dataset(con, settings)
    finally:
        con.close()
    return data, settings, run_detectors(data, settings, seed=0)


def _first(flags: pl.DataFrame, kind: str) -> dict:
    found = flags.filter(pl.col("kind") == kind)
    if found.height == 0:
        pytest.skip(f"the demo city raises no {kind} flag")
    return found.row(0, named=True)


def test_compression_chart_is_the_lane_test_of_the_window(demo):
    data, settings, flags = demo
    flag = _first(flags, "compression")
    stats = json.loads(flag["statistics"])
    ev = report.flag_evidence(data, settings, flag, "zh")
    funnel = ev.tables["funnel"][1]
    mine = funnel.filter(pl.col("unit") == flag["unit"]).row(0, named=True)
    assert mine["share"] == pytest.approx(1 - stats["modal_share"])
    assert mine["lane_mean"] == pytest.approx(stats["lane_outside"])
    assert mine["share"] < mine["lo95"]  # compressed: below the lower limit of its lane
    assert "非最多等次" in _figure(ev, "funnel").layout.title.text


def test_silent_negatives_chart_is_the_beta_binomial_of_its_test(demo):
    from scipy.stats import betabinom

    data, settings, flags = demo
    flag = _first(flags, "silent_negatives")
    stats = json.loads(flag["statistics"])
    funnel = report.flag_evidence(data, settings, flag, "zh").tables["funnel"][1]
    mine = funnel.filter(pl.col("unit") == flag["unit"]).row(0, named=True)
    assert mine["share"] == 0 and mine["lane_mean"] == pytest.approx(stats["lane_rate"])
    scale = 1 / stats["rho"] - 1
    p0 = betabinom.pmf(0, mine["n"], stats["lane_rate"] * scale, (1 - stats["lane_rate"]) * scale)
    assert p0 == pytest.approx(flag["p_value"], rel=1e-6)


def test_outlier_chart_is_the_forests_score_and_its_explanation(demo):
    data, settings, flags = demo
    flag = _first(flags, "outlier")
    stats = json.loads(flag["statistics"])
    ev = report.flag_evidence(data, settings, flag, "en")
    anomaly, features = _figure(ev, "anomaly"), _figure(ev, "features")
    assert max(anomaly.data[0].y) == pytest.approx(stats["anomaly"])
    assert anomaly.layout.shapes[0].y0 == pytest.approx(stats["threshold"])
    top = len(stats["top_features"])
    assert list(features.data[0].x)[:top] == pytest.approx(stats["top_z"], abs=0.01)


def test_outcome_rule_chart_is_the_persons_year_against_the_gate(demo):
    data, settings, flags = demo
    flag = _first(flags.filter(pl.col("subject_type") == "person"), "outcome_rule")
    ev = report.flag_evidence(data, settings, flag, "zh")
    fig = _figure(ev, "gate")
    year = flag["period_from"][:4]
    assert f"{year} 年" in fig.layout.title.text and "门槛" in fig.layout.title.text
    assert all(x.startswith(f"{year}年第") for x in fig.data[-1].x)
