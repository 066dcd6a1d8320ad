"""Rotating good grade (轮流坐庄): hand-built units whose answer is obvious, and the calibration of the test."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from analytics.dataset import frames
from analytics.detectors import rotation
from analytics.detectors.base import FLAG_SCHEMA
from analytics.settings import Rotation, Settings
from analytics.stats import monte_carlo_p_lower

QUARTERS = [(2022 + t // 4, t % 4 + 1) for t in range(12)]


def unit_rows(unit: str, goods: list[set[int]], n: int = 10, section=None, reviewer=None, absent=None) -> list[dict]:
    """One row per person and quarter; goods[t] = the people (0..n-1) with 好 in quarter t."""
    absent = absent or {}
    rows = []
    for t, good in enumerate(goods):
        year, quarter = QUARTERS[t] if t < len(QUARTERS) else (2025 + t // 4, t % 4 + 1)
        for i in range(n):
            grade = "不确定等次" if i in absent.get(t, ()) else ("好" if i in good else "较好")
            rows.append(
                {
                    "person_id": f"{unit}-{i:02d}",
                    "name": f"{unit}{i}",
                    "unit": unit,
                    "section": section(i) if section else None,
                    "reviewer": reviewer(i) if reviewer else None,
                    "year": year,
                    "quarter": quarter,
                    "grade": grade,
                    "score": float(80 + i),
                }
            )
    return rows


def data_of(rows: list[dict]):
    return frames(quarterly=pl.DataFrame(rows).with_columns(pl.col("year", "quarter").cast(pl.Int32)))


def queue(n: int = 10, k: int = 4, quarters: int = 12) -> list[set[int]]:
    """A strict queue: k people a quarter, in turn."""
    return [{(k * t + j) % n for j in range(k)} for t in range(quarters)]


def random_goods(rng, n: int = 10, k: int = 4, quarters: int = 12) -> list[set[int]]:
    return [set(rng.choice(n, k, replace=False).tolist()) for _ in range(quarters)]


def row_of(table: pl.DataFrame, subject: str, subject_type: str = "unit") -> dict:
    hit = table.filter((pl.col("subject") == subject) & (pl.col("subject_type") == subject_type))
    assert hit.height == 1, f"{subject} not tested once"
    return hit.row(0, named=True)


@pytest.fixture(scope="module")
def mixed():
    """A queue, a stable-merit unit, 20 honest random units, a 3-person and a 2-quarter unit."""
    rng = np.random.default_rng(3)
    rows = unit_rows("轮流局", queue()) + unit_rows("稳定局", [{0, 1, 2, 3}] * 12)
    for u in range(20):
        rows += unit_rows(f"随机{u:02d}", random_goods(rng))
    rows += unit_rows("三人股", [{t % 3} for t in range(12)], n=3)
    rows += unit_rows("两季所", queue(quarters=2))
    data = data_of(rows)
    return data, rotation.rotation_table(data, Settings(), seed=1)


def test_strict_queue_is_flagged_with_a_readable_sentence(mixed):
    _, table = mixed
    r = row_of(table, "轮流局")
    assert r["status"] == "flag"
    assert (r["c_min"], r["c_max"]) == (4, 5)
    assert r["D"] < 0.1 and r["RR"] == 0.0
    assert r["p_value"] == pytest.approx(1 / 2001)
    assert r["q_value"] <= 0.05 and 0.5 < r["severity"] <= 1.0
    assert "10 人 12 个季度" in r["evidence_zh"] and "4-5 次" in r["evidence_zh"] and "< 0.001" in r["evidence_zh"]
    assert "10 people over 12 quarters" in r["evidence_en"]


def test_stable_merit_unit_is_not_flagged(mixed):
    _, table = mixed
    r = row_of(table, "稳定局")
    assert r["status"] == "no evidence of rotation"
    assert r["D"] > 5 and r["RR"] > 2 and r["p_value"] > 0.5
    assert r["severity"] == 0.0


def test_thin_units_are_insufficient_evidence_not_flags(mixed):
    _, table = mixed
    assert row_of(table, "三人股")["status"] == "insufficient evidence"
    assert "3 people" in row_of(table, "三人股")["reason"]
    assert row_of(table, "两季所")["status"] == "insufficient evidence"
    assert row_of(table, "两季所")["p_value"] is None
    # Left out of the multiple-testing correction, as their p-values could never reach the threshold.
    assert row_of(table, "两季所")["q_value"] is None


def test_smallest_attainable_p_gates_small_units():
    # 4 people, 4 quarters, one 好 a quarter: the most even outcome (each once) has chance 4!/4^4 = 9%.
    data = data_of(unit_rows("小所", [{0}, {1}, {2}, {3}], n=4))
    r = row_of(rotation.rotation_table(data, Settings(), seed=0), "小所")
    assert r["status"] == "insufficient evidence"
    assert r["p_min"] > 0.05 and "smallest attainable p" in r["reason"]


def test_detect_returns_flag_schema_rows_for_the_queue_only(mixed):
    data, _ = mixed
    flags = rotation.DETECTOR.detect(data, Settings(), seed=1)
    assert flags.schema == pl.Schema(FLAG_SCHEMA)
    assert "轮流局" in flags["subject"].to_list() and "稳定局" not in flags["subject"].to_list()
    flag = flags.filter(pl.col("subject") == "轮流局").row(0, named=True)
    assert flag["kind"] == "rotation" and flag["period_from"] == "2022Q1" and flag["period_to"] == "2024Q4"
    assert flag["n"] == 120 and flag["statistic"] == "D (dispersion)"


def test_honest_random_units_are_flagged_at_most_at_the_nominal_rate():
    rng = np.random.default_rng(20240601)
    rows = []
    for u in range(200):
        n = int(rng.integers(6, 16))
        rows += unit_rows(f"H{u:03d}", random_goods(rng, n=n, k=max(1, int(0.4 * n))), n=n)
    table = rotation.rotation_table(data_of(rows), Settings(), seed=5)
    tested = table.filter(pl.col("p_value").is_not_null())
    assert tested.height == 200
    assert (table["status"] == "flag").mean() <= 0.05
    # Calibration of the combined test itself (before BH): about 5% of honest units have p <= 0.05.
    assert 0.01 <= (tested["p_value"] <= 0.05).mean() <= 0.09
    assert 0.05 <= (tested["p_value"] <= 0.2).mean() <= 0.3


def test_no_consecutive_rule_discounts_the_repeat_ratio():
    rng = np.random.default_rng(8)
    goods, previous = [], set()
    for _ in range(12):  # random, but nobody twice running: honest under the declared rule
        pick = set(rng.choice(sorted(set(range(10)) - previous), 3, replace=False).tolist())
        goods.append(pick)
        previous = pick
    data = data_of(unit_rows("规则局", goods))
    plain = row_of(rotation.rotation_table(data, Settings(), seed=0), "规则局")
    assert plain["RR"] == 0.0 and plain["p_repeat"] < 0.01  # without the rule, zero repeats look like rotation
    declared = Settings().replace(rotation=Rotation(no_consecutive_good_units=("规则局",)))
    ruled = row_of(rotation.rotation_table(data, declared, seed=0), "规则局")
    assert ruled["no_consecutive_rule"] is True
    assert ruled["p_repeat"] is None and ruled["p_value"] == ruled["p_dispersion"]
    assert ruled["p_value"] > 0.05 and ruled["status"] == "no evidence of rotation"
    assert "不得连续两季度评好" in ruled["caveat_zh"] and "repeat ratio is not used" in ruled["caveat_en"]
    assert "连续两季度获'好'" not in ruled["evidence_zh"]


def test_no_consecutive_rule_still_catches_a_queue():
    declared = Settings().replace(rotation=Rotation(no_consecutive_good_units=("轮流局",)))
    r = row_of(rotation.rotation_table(data_of(unit_rows("轮流局", queue(n=12, k=4))), declared, seed=0), "轮流局")
    assert r["status"] == "flag" and r["p_repeat"] is None


def test_p_values_match_a_hand_computation():
    null_d = np.array([[1, 2, 3, 4], [5, 5, 5, 5]], dtype=np.int64)
    obs_d = np.array([2, 5], dtype=np.int64)
    out = rotation._p_values(obs_d, null_d, None, None)
    # (1 + #{null <= obs}) / (B + 1): row 1: (1 + 2) / 5; row 2: (1 + 4) / 5
    assert out["p_dispersion"].tolist() == [0.6, 1.0]
    assert out["p_dispersion"].tolist() == monte_carlo_p_lower(obs_d, null_d).tolist()
    # The smallest attainable p: the share of draws tied with the most extreme one, plus one.
    assert out["p_min"].tolist() == [0.4, 1.0]

    null_r = np.array([[4, 3, 2, 1]], dtype=np.int64)
    both = rotation._p_values(np.array([1]), null_d[:1], np.array([1]), null_r)
    # By hand: the observed (1, 1) and the four draws are five exchangeable pairs. Each gets
    # p = #{values <= it} / 5 per statistic, F = -2 (ln p1 + ln p2); p = #{F >= F_observed} / 5.
    d_values, r_values = [1, 1, 2, 3, 4], [1, 4, 3, 2, 1]
    p1 = [sum(x <= v for x in d_values) / 5 for v in d_values]  # 2/5, 2/5, 3/5, 4/5, 5/5
    p2 = [sum(x <= v for x in r_values) / 5 for v in r_values]  # 2/5, 5/5, 4/5, 3/5, 2/5
    f = [-2 * (np.log(a) + np.log(b)) for a, b in zip(p1, p2, strict=True)]
    assert both["p_value"][0] == pytest.approx(sum(x >= f[0] - 1e-12 for x in f) / 5)
    assert both["p_value"][0] == pytest.approx(1 / 5)  # the observed pair is the most extreme of the five
    assert both["p_repeat"][0] == pytest.approx(2 / 5)


def test_at_most_counts_ties_within_each_row():
    values = np.array([[3, 1, 3, 2], [0, 0, 0, 7]], dtype=np.int64)
    assert rotation._at_most(values).tolist() == [[4, 1, 4, 2], [3, 3, 3, 4]]


def test_null_draws_have_fixed_margins_and_unit_mean_dispersion():
    rng = np.random.default_rng(2)
    rows = unit_rows("甲", random_goods(rng, n=12, k=5), n=12, absent={3: {0, 1}, 7: {5}})
    rows += unit_rows("乙", random_goods(rng, n=7, k=2), n=7)
    cells = rotation.subject_cells(data_of(rows).quarterly, Settings())
    subjects = rotation._summary(cells, rotation._quarters(cells)).sort(rotation.KEY).with_row_index("row")
    idx = rotation._index_cells(cells, subjects)
    people = subjects["n_people"].to_numpy()
    order = np.argsort(-people)  # largest first, as the simulation expects
    d = rotation._dense(idx, order, people, np.array([12, 12]))
    m, var, expected = rotation._expectations(d)
    dev, repeats = rotation._simulate_free(d, rotation._generators(["a", "b"], 0), 4000, m)
    # E[D] = 1 under H0, and E[repeats] is what the formula says.
    assert (dev / var[:, None]).mean(axis=1) == pytest.approx([1.0, 1.0], abs=0.06)
    assert repeats.mean(axis=1) == pytest.approx(expected, rel=0.05)


def test_ungraded_quarters_are_present_but_not_eligible():
    data = data_of(unit_rows("请假局", queue(), absent={0: {9}, 5: {8, 9}}))
    r = row_of(rotation.rotation_table(data, Settings(), seed=0), "请假局")
    assert r["n_cells"] == 120 - 3
    assert r["n_people"] == 10


def test_sections_with_their_own_reviewer_are_tested_on_their_own():
    # Section A (6 people, reviewer 甲) runs a queue; section B (6 people, 乙) and C (4 people) share reviewer 丙.
    def section(i):
        return "A科" if i < 6 else ("B科" if i < 12 else "C科")

    def reviewer(i):
        return "甲" if i < 6 else "丙"

    goods = [{(2 * t) % 6, (2 * t + 1) % 6, 6 + t % 6, 12 + t % 4} for t in range(12)]
    data = data_of(unit_rows("分局", goods, n=16, section=section, reviewer=reviewer))
    table = rotation.rotation_table(data, Settings(), seed=0)
    sections = table.filter(pl.col("subject_type") == "section")["subject"].to_list()
    assert sections == ["A科"]  # B and C share a reviewer, so neither is judged apart from the other
    assert row_of(table, "A科", "section")["status"] == "flag"
    assert row_of(table, "A科", "section")["unit"] == "分局"
    assert "独立评鉴人" in row_of(table, "A科", "section")["caveat_zh"]


def test_scores_give_the_merit_auc():
    goods = [{6, 7, 8, 9}] * 12  # the four best scores always get 好
    r = row_of(rotation.rotation_table(data_of(unit_rows("绩效局", goods)), Settings(), seed=0), "绩效局")
    assert r["auc"] == pytest.approx(1.0)


def test_same_seed_same_table_and_input_unchanged(mixed):
    data, table = mixed
    before = data.quarterly.clone()
    again = rotation.rotation_table(data, Settings(), seed=1)
    assert again.equals(table)
    assert data.quarterly.equals(before)


def test_a_subjects_p_value_does_not_depend_on_the_other_units(mixed):
    data, table = mixed
    alone = data.quarterly.filter(pl.col("unit").is_in(["轮流局", "随机00"]))
    small = rotation.rotation_table(frames(quarterly=alone), Settings(), seed=1)
    assert row_of(small, "随机00")["p_value"] == row_of(table, "随机00")["p_value"]


def test_empty_input_gives_empty_table_and_no_flags():
    empty = frames()
    assert rotation.rotation_table(empty, Settings()).height == 0
    assert rotation.DETECTOR.detect(empty, Settings()).schema == pl.Schema(FLAG_SCHEMA)


def test_evidence_grid_shows_the_queue_and_the_histogram(mixed):
    data, _ = mixed
    ev = rotation.evidence(data, "轮流局")
    grid = ev["grid"]
    assert grid.columns == ["person_id", "name", "period", "grade", "eligible", "good", "order"]
    assert grid.height == 120
    first = grid.filter(pl.col("good")).group_by("order").agg(pl.col("period").min()).sort("order")["period"]
    assert first.to_list() == sorted(first.to_list())  # people ordered by their first 好: a staircase
    counts = ev["counts"]
    assert counts["observed"].sum() == 10 and counts["expected"].sum() == pytest.approx(10)
    assert counts.filter(pl.col("count") == 4)["observed"].item() == 2
    assert counts.filter(pl.col("count") == 5)["observed"].item() == 8
    # Exact H0 expectation: each C_i ~ Binomial(12, 0.4) here.
    assert counts.filter(pl.col("count") == 0)["expected"].item() == pytest.approx(10 * 0.6**12)
    assert ev["statistics"]["status"] == "flag" and ev["statistics"]["p_value"] == pytest.approx(1 / 2001)
