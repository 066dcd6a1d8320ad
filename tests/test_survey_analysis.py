"""Survey analysis on tiny surveys whose answers can be checked by hand."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from scipy import stats

from analytics.survey import analysis as sa
from analytics.survey import survey_tables


def survey(columns: dict[str, list[str | None]]) -> sa.SurveyData:
    height = len(next(iter(columns.values())))
    raw = pl.DataFrame(columns, schema={c: pl.Utf8 for c in columns}).with_columns(
        pl.int_range(2, height + 2).alias("source_row")
    )
    t = survey_tables(raw)
    return sa.survey_frames(t["survey_items"], t["survey_respondents"], t["survey_answers"])


def two_units(a: list[str], b: list[str], unit_a: str = "财政局", unit_b: str = "辉埠镇", **extra) -> sa.SurveyData:
    return survey({"单位": [unit_a] * len(a) + [unit_b] * len(b), "1.评价客观公正": a + b, **extra})


def test_distribution_lists_every_scale_point_in_order():
    data = survey({"q": ["同意", "同意", "非常同意", "不同意", "同意", "一般"]})
    dist = sa.item_distribution(data, k=5)
    assert dist["answer"].to_list() == ["非常不同意", "不同意", "一般", "同意", "非常同意"]
    assert dist["n"].to_list() == [0, 1, 1, 3, 1]
    assert dist["side"].to_list() == [-1, -1, 0, 1, 1]
    assert dist["share"][3] == pytest.approx(0.5)


def test_distribution_of_a_small_survey_is_suppressed():
    dist = sa.item_distribution(survey({"q": ["同意", "不同意", "同意", "一般"]}), k=5)
    assert dist["suppressed"].all() and dist["n"].null_count() == dist.height


def test_multiple_choice_shares_are_per_respondent():
    data = survey({"问题（多选）": ["A、B", "A", "B；C", "A", "C"]})
    dist = sa.item_distribution(data, k=5)
    assert dict(zip(dist["answer"], dist["share"], strict=True)) == pytest.approx({"A": 0.6, "B": 0.4, "C": 0.4})


def test_crosstab_chi_square_matches_scipy_and_hand_value():
    data = two_units(["同意"] * 10, ["不同意"] * 10)
    ct = sa.crosstab(data, "q02", "unit", k=5)
    # [[10, 0], [0, 10]]: chi2 = 20 by hand, Cramér's V = 1.
    assert ct.chi2 == pytest.approx(20.0)
    assert ct.dof == 1 and ct.cramers_v == pytest.approx(1.0)
    assert ct.p_value == pytest.approx(stats.chi2.sf(20.0, 1))
    ref = stats.chi2_contingency(np.array([[7, 3], [2, 8]]), correction=False)
    mixed = sa.crosstab(two_units(["同意"] * 7 + ["不同意"] * 3, ["同意"] * 2 + ["不同意"] * 8), "q02", "unit", k=5)
    assert mixed.chi2 == pytest.approx(ref[0]) and mixed.p_value == pytest.approx(ref[1])
    assert mixed.cramers_v == pytest.approx(math.sqrt(ref[0] / 20))


def test_crosstab_blanks_a_group_of_four_and_leaves_it_out_of_the_test():
    data = survey({"单位": ["财政局"] * 6 + ["辉埠镇"] * 6 + ["小所"] * 4,
                   "q": ["同意"] * 6 + ["不同意"] * 6 + ["同意"] * 4})  # fmt: skip
    ct = sa.crosstab(data, "q02", "unit", k=5)
    small = ct.table.filter(pl.col("group") == "小所")
    assert small["suppressed"].all() and small["n"].null_count() == small.height
    assert small["group_n"].null_count() == small.height
    assert ct.groups_suppressed == ["小所"] and ct.n == 12
    assert ct.chi2 == pytest.approx(12.0)


def test_crosstab_by_a_json_attribute():
    data = survey({"性别": ["男"] * 5 + ["女"] * 5, "q": ["同意"] * 5 + ["一般"] * 5})
    ct = sa.crosstab(data, "q02", "性别", k=5)
    assert set(ct.table["group"]) == {"男", "女"} and ct.cramers_v == pytest.approx(1.0)
    assert sa.attribute_names(data) == ["性别"]


def test_means_with_t_interval():
    data = survey({"性别": ["男"] * 5, "打分": ["1", "2", "3", "4", "5"]})
    means = sa.item_means_by_group(data, attribute="性别", k=5)
    row = means.row(0, named=True)
    half = stats.t.ppf(0.975, 4) * math.sqrt(2.5) / math.sqrt(5)
    assert row["mean"] == pytest.approx(3.0)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((3 - half, 3 + half))
    assert sa.item_means_by_group(data, attribute="性别", k=6)["mean"].to_list() == [None]


def test_cronbach_alpha_hand_value_and_reverse_keying():
    data = survey({"A1.题一": ["1", "2", "3", "4", "5"], "A2.题二": ["2", "3", "4", "5", "5"]})
    alpha = sa.cronbach_alpha(data, k=5)
    # var 2.5 and 1.7, total var 8.2: alpha = 2 * (1 - 4.2 / 8.2) = 40/41.
    assert alpha["item_group"].to_list() == ["A"]
    assert alpha["alpha"][0] == pytest.approx(40 / 41)
    assert sa.cronbach_alpha(data, reverse=("q02",), k=5)["alpha"][0] < 0
    assert sa.alpha_of(np.array([[1, 1], [2, 2], [4, 4.0]])) == pytest.approx(1.0)


def test_search_text_hides_the_unit_of_small_units():
    data = survey(
        {"单位": ["财政局"] * 5 + ["小所"], "意见建议": ["加强反馈", None, "细化指标", None, None, "加强反馈！"]}
    )
    found = sa.search_text(data, "反馈", k=5)
    assert found["answer"].to_list() == ["加强反馈", "加强反馈！"]
    assert found["unit"].to_list() == ["财政局", None]


def test_unit_join_compares_flagged_with_other_units():
    units = {"甲": (5, 0), "乙": (5, 1), "丙": (5, 4), "丁": (5, 5), "戊": (3, 3)}  # unit: (respondents, disagreeing)
    names = [u for u, (n, _) in units.items() for _ in range(n)]
    answers = [a for n, bad in units.values() for a in ["不同意"] * bad + ["同意"] * (n - bad)]
    data = survey({"单位": names, "1.评价客观公正": answers, "2.工作负担重": ["同意"] * len(names)})
    flags = pl.DataFrame({"kind": ["rotation", "rotation", "leniency"], "unit": ["丙", "丁", "甲"],
                          "severity": [0.6, 0.9, 0.5]})  # fmt: skip
    join = sa.unit_join(data, flags, k=5)
    assert join.trust_item_ids == ["q02"]
    per = join.per_unit.sort("unit")
    shown = dict(zip(per["unit"], per["distrust_share"], strict=True))
    assert shown.pop("戊") is None
    assert shown == pytest.approx({"丁": 1.0, "丙": 0.8, "乙": 0.2, "甲": 0.0})
    assert per.filter(pl.col("unit") == "戊")["suppressed"].item()
    cmp = join.comparison
    assert (cmp.flagged_units, cmp.other_units) == (2, 2)
    assert cmp.flagged_mean == pytest.approx(0.9) and cmp.other_mean == pytest.approx(0.1)
    assert cmp.difference == pytest.approx(0.8)
    assert join.pearson.n == 4 and join.pearson.r > 0.9
    assert join.pearson.ci_low < join.pearson.r < join.pearson.ci_high


def test_correlation_interval_is_fisher_z():
    rng = np.random.default_rng(1)
    x = rng.normal(size=50)
    y = x + rng.normal(size=50)
    c = sa.correlation(x, y)
    z, se = math.atanh(c.r), 1 / math.sqrt(47)
    assert c.ci_low == pytest.approx(math.tanh(z - 1.959964 * se), abs=1e-5)
    assert c.r == pytest.approx(np.corrcoef(x, y)[0, 1])
    assert sa.correlation(np.array([1.0, 2, 3]), np.array([1.0, 2, 4])).r is None  # too few units
