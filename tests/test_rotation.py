"""Rotating good grade (轮流坐庄): hand-built units whose answer is obvious, where rotation hides, and honest look-alikes."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest

from analytics.dataset import frames
from analytics.detectors import rotation
from analytics.detectors.base import FLAG_SCHEMA
from analytics.settings import Rotation, Settings

QUARTERS = [(2022 + t // 4, t % 4 + 1) for t in range(12)]


def unit_rows(unit: str, goods: list[set[int]], n: int = 10, section=None, absent=None, bad=None) -> list[dict]:
    """One row per person and quarter; goods[t] = the people (0..n-1) with 好 in quarter t, bad[t] with 一般."""
    absent, bad = absent or {}, bad or {}
    rows = []
    for t, good in enumerate(goods):
        year, quarter = QUARTERS[t]
        for i in range(n):
            grade = "好" if i in good else ("一般" if i in bad.get(t, ()) else "较好")
            rows.append(
                {
                    "person_id": f"{unit}-{i:02d}", "name": f"{unit}{i}", "unit": unit,
                    "section": section(i) if section else None, "year": year, "quarter": quarter,
                    "grade": "不确定等次" if i in absent.get(t, ()) else grade, "score": float(80 + i),
                }
            )  # fmt: skip
    return rows


def data_of(rows: list[dict]):
    return frames(quarterly=pl.DataFrame(rows).with_columns(pl.col("year", "quarter").cast(pl.Int32)))


def queue(n: int = 10, k: int = 4, quarters: int = 12, people=None) -> list[set[int]]:
    """A strict queue: k people a quarter, in turn (among `people`, default 0..n-1)."""
    people = list(range(n)) if people is None else people
    return [{people[(k * t + j) % len(people)] for j in range(k)} for t in range(quarters)]


def random_goods(rng, n: int = 10, k: int = 4, quarters: int = 12) -> list[set[int]]:
    return [set(rng.choice(n, k, replace=False).tolist()) for _ in range(quarters)]


def merit(n: int, k: int, rng, quarters: int = 12) -> list[set[int]]:
    """Persistent ability plus noise: the k best each quarter."""
    ability = rng.normal(size=n)
    return [set(np.argsort(-(ability + 0.6 * rng.normal(size=n)))[:k].tolist()) for _ in range(quarters)]


def honest(rng, count: int, prefix: str = "H") -> list[dict]:
    rows = []
    for u in range(count):
        n = int(rng.integers(6, 16))
        rows += unit_rows(f"{prefix}{u:03d}", random_goods(rng, n=n, k=max(1, int(0.4 * n))), n=n)
    return rows


def row_of(table: pl.DataFrame, subject: str, variant: str = "top", window: str = "all") -> dict:
    hit = table.filter((pl.col("subject") == subject) & (pl.col("variant") == variant) & (pl.col("window") == window))
    assert hit.height == 1, f"{subject} {variant} {window} not tested once"
    return hit.row(0, named=True)


def flag_of(flags: pl.DataFrame, unit: str, finding: str = "top") -> dict:
    hit = flags.filter((pl.col("unit") == unit) & (pl.col("finding") == finding))
    assert hit.height == 1, f"{unit} {finding}: {hit.height} flags"
    return hit.row(0, named=True)


@pytest.fixture(scope="module")
def mixed():
    """A queue, a stable-merit unit, 20 honest random units, a 3-person and a 2-quarter unit."""
    rng = np.random.default_rng(3)
    rows = unit_rows("轮流局", queue()) + unit_rows("稳定局", [{0, 1, 2, 3}] * 12)
    rows += honest(rng, 20, "随机")
    rows += unit_rows("三人股", [{t % 3} for t in range(12)], n=3)
    rows += unit_rows("两季所", queue()[:2])
    data = data_of(rows)
    return data, rotation.rotation_table(data, Settings(), seed=1), rotation.DETECTOR.detect(data, Settings(), seed=1)


def test_strict_queue_is_one_flag_with_every_window_as_a_part(mixed):
    _, table, flags = mixed
    r = row_of(table, "轮流局")
    assert r["status"] == "flag" and (r["c_min"], r["c_max"]) == (4, 5)
    assert r["D"] < 0.1 and r["RR"] == 0.0 and r["T"] == 0.0
    # Nobody repeats and all ten are eligible throughout: exact, P = (C(6, 4) / C(10, 4))^11, no draws.
    assert r["p_value"] == pytest.approx((15 / 210) ** 11) and r["draws"] == 0
    assert "10 人 12 个季度" in r["evidence_zh"] and "4-5 次" in r["evidence_zh"] and "< 0.001" in r["evidence_zh"]
    flag = flag_of(flags, "轮流局")
    assert flags.schema == pl.Schema(FLAG_SCHEMA) and flags.filter(pl.col("unit") == "轮流局").height == 1
    assert (flag["subject_type"], flag["subject"], flag["kind"]) == ("unit", "轮流局", "rotation")
    assert (flag["period_from"], flag["period_to"], flag["n"]) == ("2022Q1", "2024Q4", 120)
    stats = json.loads(flag["statistics"])
    windows = [p["window"] for p in stats["parts"]]
    assert (
        stats["n_parts"] == 6
        and windows[0] == "all"
        and sorted(windows) == sorted(["all", "2022-2023", "2023-2024", "2022", "2023", "2024"])
    )
    assert [p["q_value"] for p in stats["parts"]] == sorted(p["q_value"] for p in stats["parts"])  # strongest first
    assert "同一队列共 6 项检验显著" in flag["evidence_zh"] and "significant in 6 tests" in flag["evidence_en"]
    assert flag["caveat_zh"] and flag["caveat_en"] and flag["q_value"] <= 0.05
    assert flags["flag_key"].n_unique() == flags.height


def test_stable_merit_unit_is_not_flagged_even_without_its_stars(mixed):
    _, table, flags = mixed
    r = row_of(table, "稳定局")
    assert r["status"] == "no evidence of rotation" and r["D"] > 5 and r["RR"] > 2 and r["severity"] == 0.0
    assert "稳定局" not in flags["unit"].to_list()


def test_thin_units_are_insufficient_evidence_and_left_out_of_the_correction(mixed):
    _, table, _ = mixed
    three = row_of(table, "三人股")
    assert three["status"] == "insufficient evidence" and "3 people" in three["reason"]
    two = row_of(table, "两季所")
    assert two["status"] == "insufficient evidence" and two["p_value"] is None and two["q_value"] is None


def test_smallest_attainable_p_gates_small_units():
    # 4 people, 4 quarters, one 好 a quarter: the most even outcome (each once) has chance 4!/4^4 = 9%.
    r = row_of(rotation.rotation_table(data_of(unit_rows("小所", [{0}, {1}, {2}, {3}], n=4)), Settings()), "小所")
    assert r["status"] == "insufficient evidence" and r["p_min"] > 0.05 and "smallest attainable p" in r["reason"]


def test_honest_random_units_are_rarely_flagged_and_p_values_are_calibrated():
    rows = honest(np.random.default_rng(20240601), 200)
    table = rotation.rotation_table(data_of(rows), Settings(), seed=5)
    whole = table.filter((pl.col("variant") == "top") & (pl.col("window") == "all") & pl.col("p_value").is_not_null())
    assert whole.height == 200
    assert table.filter(pl.col("status") == "flag")["unit"].n_unique() <= 2
    # Sequential p-values are valid: about 5% of honest units at or below 0.05, 20% at or below 0.2.
    assert 0.01 <= (whole["p_value"] <= 0.05).mean() <= 0.09
    assert 0.12 <= (whole["p_value"] <= 0.2).mean() <= 0.3
    # Most honest tests stop after the first round of draws.
    assert (table["draws"].drop_nulls() <= 128).mean() > 0.6


def test_never_twice_running_survives_the_correction_among_many_units():
    rng = np.random.default_rng(8)
    goods, previous = [], set()
    for _ in range(12):  # random, but nobody twice running
        pick = set(rng.choice(sorted(set(range(10)) - previous), 4, replace=False).tolist())
        goods.append(pick)
        previous = pick
    data = data_of(unit_rows("不连局", goods) + honest(rng, 60))
    flags = rotation.DETECTOR.detect(data, Settings(), seed=0)
    flag = flag_of(flags, "不连局")
    assert json.loads(flag["statistics"])["RR"] == 0.0 and flag["q_value"] <= 0.05
    # Declared as a local rule, the same grades are judged on dispersion alone, against the rule's own null.
    declared = Settings().replace(rotation=Rotation(no_consecutive_good_units=("不连局",)))
    ruled = row_of(rotation.rotation_table(data, declared, seed=0), "不连局")
    assert ruled["no_consecutive_rule"] is True and ruled["p_repeat"] is None and ruled["RR"] is None
    assert ruled["p_value"] > 0.05 and ruled["status"] == "no evidence of rotation"
    assert "不得连续两季度评好" in ruled["caveat_zh"] and "repeat ratio is not used" in ruled["caveat_en"]


def test_declared_rule_still_catches_a_queue():
    declared = Settings().replace(rotation=Rotation(no_consecutive_good_units=("轮流局",)))
    r = row_of(rotation.rotation_table(data_of(unit_rows("轮流局", queue(n=12, k=4))), declared), "轮流局")
    assert r["status"] == "flag" and r["p_repeat"] is None


def test_rotation_inside_one_section_is_found_without_its_own_reviewer():
    # 20 people: section A (0-7) hands 好 round three at a time; the rest (B科) by merit.
    rng = np.random.default_rng(11)
    rest = merit(12, 5, rng)
    goods = [{(3 * t + j) % 8 for j in range(3)} | {8 + i for i in rest[t]} for t in range(12)]
    rows = unit_rows("分局", goods, n=20, section=lambda i: "A科" if i < 8 else "B科")
    flags = rotation.DETECTOR.detect(data_of(rows + honest(rng, 20)), Settings(), seed=0)
    flag = flag_of(flags, "分局")
    part = json.loads(flag["statistics"])["parts"][0]
    assert (part["subject_type"], part["subject"]) == ("section", "A科")
    assert "A科" in flag["evidence_zh"] and "Tested within the section" in flag["caveat_en"]


def test_rotation_in_part_of_the_period_is_found_in_its_window():
    rng = np.random.default_rng(12)
    goods = merit(10, 4, rng)[:4] + queue()[4:]  # merit in 2022, a queue in 2023-2024
    flags = rotation.DETECTOR.detect(data_of(unit_rows("后段局", goods) + honest(rng, 30)), Settings(), seed=0)
    flag = flag_of(flags, "后段局")
    assert (flag["period_from"], flag["period_to"]) == ("2023Q1", "2024Q4")
    assert "只在部分时段显著" in flag["caveat_zh"]


def test_bottom_rotation_is_its_own_finding():
    # 好 by merit; among the other 24, five get 一般 each quarter in turn.
    rng = np.random.default_rng(13)
    top = merit(40, 16, rng)
    bad, last = {}, dict.fromkeys(range(40), -1)
    for t in range(12):  # the five not given 好 who have waited longest since their last 一般
        others = sorted((i for i in range(40) if i not in top[t]), key=lambda i: (last[i], i))
        bad[t] = set(others[:5])
        last.update(dict.fromkeys(bad[t], t))
    flags = rotation.DETECTOR.detect(data_of(unit_rows("末位局", top, n=40, bad=bad) + honest(rng, 30)), Settings())
    flag = flag_of(flags, "末位局", "bottom")
    assert json.loads(flag["statistics"])["variant"] == "bottom" and "一般/较差" in flag["evidence_en"]
    assert flags.filter((pl.col("unit") == "末位局") & (pl.col("finding") == "top")).height == 0


def test_rotation_around_a_permanent_star_is_found_once_the_star_is_set_aside():
    rng = np.random.default_rng(14)
    goods = [{0} | g for g in queue(n=9, k=3, people=list(range(1, 10)))]  # person 0 always, the rest in turn
    data = data_of(unit_rows("众星局", goods) + honest(rng, 30))
    table = rotation.rotation_table(data, Settings(), seed=0)
    assert row_of(table, "众星局")["status"] != "flag"  # the star hides the queue from the plain test
    r = row_of(table, "众星局", "nostar")
    assert r["status"] == "flag" and r["stars"] == 1 and r["n_people"] == 9
    assert "除每季度都获'好'的 1 人外" in r["evidence_zh"]


def test_ungraded_quarters_are_present_but_not_eligible():
    r = row_of(rotation.rotation_table(data_of(unit_rows("请假局", queue(), absent={0: {9}, 5: {8, 9}})), Settings()),
               "请假局")  # fmt: skip
    assert r["n_cells"] == 120 - 3 and r["n_people"] == 10


def test_same_seed_same_table_input_unchanged_and_independent_of_other_units(mixed):
    data, table, _ = mixed
    before = data.quarterly.clone()
    assert rotation.rotation_table(data, Settings(), seed=1).equals(table)
    assert data.quarterly.equals(before)
    alone = frames(quarterly=data.quarterly.filter(pl.col("unit").is_in(["轮流局", "随机000"])))
    small = rotation.rotation_table(alone, Settings(), seed=1)
    for window in ("all", "2023"):
        assert row_of(small, "随机000", window=window)["p_value"] == row_of(table, "随机000", window=window)["p_value"]


def test_empty_input_gives_empty_table_and_no_flags():
    assert rotation.rotation_table(frames(), Settings()).height == 0
    assert rotation.DETECTOR.detect(frames(), Settings()).schema == pl.Schema(FLAG_SCHEMA)


def test_evidence_grid_shows_the_queue_and_the_histogram(mixed):
    data, _, _ = mixed
    ev = rotation.evidence(data, "轮流局")
    grid = ev["grid"]
    assert grid.columns == ["person_id", "name", "period", "grade", "eligible", "good", "order"] and grid.height == 120
    first = grid.filter(pl.col("good")).group_by("order").agg(pl.col("period").min()).sort("order")["period"]
    assert first.to_list() == sorted(first.to_list())  # people ordered by their first 好: a staircase
    counts = ev["counts"]
    assert counts["observed"].sum() == 10 and counts["expected"].sum() == pytest.approx(10)
    assert counts.filter(pl.col("count") == 4)["observed"].item() == 2
    assert counts.filter(pl.col("count") == 0)["expected"].item() == pytest.approx(10 * 0.6**12)  # Binomial(12, 0.4)
    assert ev["statistics"]["status"] == "flag" and ev["statistics"]["p_value"] == pytest.approx((15 / 210) ** 11)
