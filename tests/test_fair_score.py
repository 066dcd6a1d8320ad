"""Score-adjusted leniency and fair scores (analytics.fair_score) on small frames with known answers."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from analytics import fair_score
from analytics.dataset import frames
from analytics.fair_score import EFFECTS_SCHEMA, _solve, estimate_leniency, estimate_within_units
from analytics.settings import Settings

SCORES = [95.0, 92.0, 89.0, 86.0, 83.0, 80.0]  # every section gets the same six scores each quarter


def sections(lenient: str = "R1", reviewers=("R1", "R2", "R3", "R4"), quarters: int = 8, units=None) -> pl.DataFrame:
    """Four sections of six people with identical scores; honest reviewers give 好 from 90, the lenient one from 84."""
    units = units or {r: f"单位{r}" for r in reviewers}
    rows = []
    for r in reviewers:
        for i, base in enumerate(SCORES):
            for t in range(quarters):
                score = base + (t % 3) - 1  # a little movement so quarters differ
                cut = 84 if r == lenient else 90
                rows.append(
                    {
                        "person_id": f"{r}-{i}",
                        "name": f"{r}{i}",
                        "unit": units[r],
                        "unit_type": "综合管理",
                        "position_level": "一般干部",
                        "section": f"{r}科",
                        "reviewer": r,
                        "year": 2024 + t // 4,
                        "quarter": t % 4 + 1,
                        "score": score,
                        "grade": "好" if score >= cut else "较好",
                    }
                )
    return pl.DataFrame(rows, schema_overrides={"year": pl.Int32, "quarter": pl.Int32})


def test_lenient_reviewer_is_found_and_their_people_lose_score_points():
    fit = estimate_leniency(frames(sections()).quarterly, Settings())
    effects = fit.effects.sort("alpha", descending=True)
    assert effects["subject"][0] == "R1"
    assert effects["z"][0] > 3 and effects["shrunk"][0] > 0
    assert fit.slope > 0 and fit.tau > 0
    fair = fit.fair.with_columns(lenient=pl.col("subject") == "R1")
    drop = fair.group_by("lenient").agg((pl.col("score") - pl.col("fair_score")).mean().alias("drop"))
    by = dict(zip(drop["lenient"], drop["drop"], strict=True))
    assert by[True] > 1.0 and by[False] < 0  # R1's people lose points, the others gain a little
    # Re-centred per lane and quarter: the lane's mean is unchanged.
    assert fair["fair_score"].mean() == pytest.approx(fair["score"].mean())


def test_effects_match_a_dense_least_squares_solution(monkeypatch):
    rng = np.random.default_rng(3)
    n, g, k, ridge = 300, 7, 5, 1.0
    body, cell, o = rng.integers(0, g, n), rng.integers(0, k, n), rng.normal(80, 5, n)
    y = 0.1 * o + rng.normal(0, 1, g)[body] + rng.normal(0, 1, k)[cell] + rng.normal(0, 0.5, n)
    sol = _solve(body, cell, o, y, ridge)
    x = np.zeros((n, g + 1 + k))
    x[np.arange(n), body] = 1
    x[:, g] = o - o.mean()
    x[np.arange(n), g + 1 + cell] = 1
    penalty = np.diag([ridge] * g + [0.0] * (k + 1))
    v = np.linalg.inv(x.T @ x + penalty)
    theta = v @ x.T @ y
    assert np.allclose(sol.alpha, theta[:g]) and sol.slope == pytest.approx(theta[g])
    lane, weight = np.array([0, 0, 0, 1, 1, 1, 1]), np.array([0.2, 0.3, 0.5, 0.25, 0.25, 0.25, 0.25])
    unit, unit_weight = np.array([0, 1, 1, 2, 2, 3, 3]), np.array([1.0, 0.4, 0.6, 0.5, 0.5, 0.1, 0.9])

    def expected(group, w):
        contrast = np.eye(g) - np.where(group[:, None] == group[None, :], w[None, :], 0)
        return np.einsum("ij,jk,ik->i", contrast, v[:g, :g], contrast)

    assert np.allclose(sol.centred_var(lane, weight), expected(lane, weight))
    # Several groupings in one pass, M S^-1 formed a few rows at a time, give the same exact variances.
    monkeypatch.setattr(fair_score, "_SLICE_CELLS", 2 * (k + 1))
    by_lane, by_unit = sol.centred_vars([(lane, weight), (unit, unit_weight)])
    assert np.allclose(by_lane, expected(lane, weight)) and np.allclose(by_unit, expected(unit, unit_weight))
    assert by_unit[0] == pytest.approx(0, abs=1e-12)  # alone in its unit: the contrast is zero


def test_reviewer_grading_one_unit_is_flagged_nested():
    units = {"R1": "甲局", "R2": "甲局", "R3": "乙局", "R4": "乙局"}
    q = sections(units=units)
    # R4 also grades two people of 甲局 in the last quarter: it grades two units, so it is not nested.
    q = q.with_columns(
        pl.when((pl.col("reviewer") == "R4") & (pl.col("person_id").is_in(["R4-0", "R4-1"])))
        .then(pl.lit("甲局"))
        .otherwise(pl.col("unit"))
        .alias("unit")
    )
    effects = estimate_leniency(frames(q).quarterly, Settings()).effects
    nested = dict(zip(effects["subject"], effects["nested"], strict=True))
    assert nested == {"R1": True, "R2": True, "R3": True, "R4": False}
    assert effects.filter(pl.col("nested"))["caveat_zh"].str.contains("无法区分").all()
    assert effects.filter(~pl.col("nested"))["caveat_en"].is_null().all()


def test_no_scores_gives_empty_effects_and_no_fair_score():
    q = sections().with_columns(pl.lit(None, dtype=pl.Float64).alias("score"))
    fit = estimate_leniency(frames(q).quarterly, Settings())
    assert fit.effects.height == 0 and fit.effects.schema == pl.Schema(EFFECTS_SCHEMA)
    assert not fit.has_fair_scores and "No scores" in fit.note


def test_without_reviewers_the_unit_is_the_grading_body():
    q = sections().drop("reviewer")
    fit = estimate_leniency(frames(q).quarterly, Settings(), level="reviewer")
    assert set(fit.effects["level"]) == {"unit"} and "no reviewers" in fit.note
    assert fit.effects.sort("alpha", descending=True)["subject"][0] == "单位R1"
    assert not fit.effects["nested"].any()


def test_rows_without_a_reviewer_fall_back_to_their_unit():
    q = sections().with_columns(
        pl.when(pl.col("reviewer") == "R2").then(None).otherwise(pl.col("reviewer")).alias("reviewer")
    )
    fit = estimate_leniency(frames(q).quarterly, Settings())
    levels = dict(zip(fit.effects["subject"], fit.effects["level"], strict=True))
    assert levels == {"R1": "reviewer", "单位R2": "unit", "R3": "reviewer", "R4": "reviewer"}
    assert "attributed to their unit" in fit.note


def test_unit_level_estimates_units():
    fit = estimate_leniency(frames(sections()).quarterly, Settings(), level="unit")
    assert set(fit.effects["level"]) == {"unit"} and fit.effects.height == 4
    with pytest.raises(ValueError, match="level"):
        estimate_leniency(frames(sections()).quarterly, Settings(), level="section")


def test_input_frame_is_left_unchanged():
    q = frames(sections()).quarterly
    before = q.clone()
    estimate_leniency(q, Settings())
    assert q.equals(before)


def test_within_unit_contrast_compares_a_reviewer_with_the_units_other_reviewers():
    units = {"R1": "甲局", "R2": "甲局", "R3": "乙局", "R4": "丙局"}
    effects = estimate_leniency(frames(sections(units=units)).quarterly, Settings()).effects
    row = {r["subject"]: r for r in effects.iter_rows(named=True)}
    assert row["R1"]["alpha_within_unit"] > 0 > row["R2"]["alpha_within_unit"]
    assert row["R1"]["z_within_unit"] > 3 and row["R1"]["bodies_in_unit"] == 2
    assert row["R3"]["alpha_within_unit"] is None and row["R3"]["bodies_in_unit"] == 1  # alone in its unit


def test_fair_grade_points_take_the_leniency_out_of_the_grades():
    fair = estimate_leniency(frames(sections()).quarterly, Settings()).fair
    means = fair.group_by(pl.col("subject") == "R1").agg(
        pl.col("grade_points").mean(), pl.col("fair_grade_points").mean()
    )
    lenient = means.filter(pl.col("subject")).row(0, named=True)
    honest = means.filter(~pl.col("subject")).row(0, named=True)
    assert lenient["grade_points"] - honest["grade_points"] > 0.3  # same scores, more 好
    assert lenient["fair_grade_points"] - honest["fair_grade_points"] < lenient["grade_points"] - honest["grade_points"]


def within_rows(rng: np.random.Generator, n: int = 600) -> pl.DataFrame:
    """Five units of up to three reviewers over three quarters; grades follow x more steeply in later units."""
    unit, reviewer, quarter = rng.integers(0, 5, n), rng.integers(0, 3, n), rng.integers(1, 4, n)
    x = rng.random(n)
    y = rng.integers(1, 5, n) + x * unit + 0.3 * (reviewer == 0)
    return pl.DataFrame(
        {
            "unit": [f"单位{u}" for u in unit],
            "reviewer": [f"评{u}{r}" for u, r in zip(unit, reviewer, strict=True)],
            "year": 2024,
            "quarter": quarter,
            "x": x,
            "y": y.astype(float),
        }
    )


@pytest.mark.parametrize("slope_by", [None, "unit"])
def test_within_units_match_a_dense_least_squares_solution(slope_by, monkeypatch):
    rows = within_rows(np.random.default_rng(4))
    monkeypatch.setattr(fair_score, "_SLICE_CELLS", 1)  # the blocks' inverses one column at a time
    effects = estimate_within_units(rows, ridge=1.0, slope_by=slope_by)
    # The same model written out: one column per (unit, reviewer), per (unit, quarter), per slope.
    body = rows.select(pl.struct("unit", "reviewer").rank("dense") - 1).to_series().to_numpy()
    cell = rows.select(pl.struct("unit", "quarter").rank("dense") - 1).to_series().to_numpy()
    group = np.zeros(rows.height, int) if slope_by is None else rows["unit"].rank("dense").to_numpy() - 1
    n, g, c, s = rows.height, body.max() + 1, cell.max() + 1, group.max() + 1
    x = np.zeros((n, g + c + s))
    x[np.arange(n), body] = 1
    x[np.arange(n), g + cell] = 1
    x[np.arange(n), g + c + group] = rows["x"].to_numpy()
    v = np.linalg.inv(x.T @ x + np.diag([1.0] * g + [0.0] * (c + s)))
    theta = v @ x.T @ rows["y"].to_numpy()
    resid = rows["y"].to_numpy() - x @ theta
    sigma2 = resid @ resid / (n - g - c - s)
    units = effects["unit"].to_numpy()
    same = units[:, None] == units[None, :]
    weight = np.where(same, effects["n"].to_numpy()[None, :], 0)
    contrast = np.eye(g) - weight / weight.sum(axis=1, keepdims=True)
    assert np.allclose(effects["alpha"].to_numpy(), contrast @ theta[:g])
    se = np.sqrt(sigma2 * np.einsum("ij,jk,ik->i", contrast, v[:g, :g], contrast))
    assert np.allclose(effects["se"].to_numpy(), se)
    assert np.allclose(np.unique(effects["slope"].to_numpy()), np.sort(theta[g + c :]))
    assert (effects.filter(pl.col("reviewer").str.ends_with("0"))["z"] > 0).all()  # the generous reviewers


def test_within_units_count_rows_without_a_score_but_do_not_fit_them():
    rows = within_rows(np.random.default_rng(5))
    fitted = estimate_within_units(rows, ridge=1.0, slope_by="unit")
    blanked = rows.with_columns(pl.when(pl.int_range(pl.len()) % 10 == 0).then(None).otherwise("x").alias("x"))
    padded = pl.concat([rows, rows.head(60).with_columns(pl.lit(None, dtype=pl.Float64).alias("x"))])
    out = estimate_within_units(padded, ridge=1.0, slope_by="unit")
    assert out.select("unit", "reviewer", "n", "alpha", "se").equals(
        fitted.select("unit", "reviewer", "n", "alpha", "se")
    )
    assert (out["graded"] - out["n"]).sum() == 60
    partly = estimate_within_units(blanked, ridge=1.0, slope_by="unit")
    assert (partly["n"] < partly["graded"]).any() and partly["alpha"].null_count() == 0


def test_a_unit_whose_grades_ignore_scores_shows_no_reviewer_effect_with_its_own_slope():
    # 甲局 grades by score; in 乙局 everyone gets 较好 whatever the score, and its reviewer 乙1 has the weaker people.
    rng = np.random.default_rng(6)
    rows = []
    for unit, flat in (("甲局", False), ("乙局", True)):
        for t in range(8):
            for r in range(2):
                for _ in range(6):
                    x = rng.uniform(0, 0.5) + 0.5 * (r == 0) if flat else rng.random()
                    rows.append(
                        dict(
                            unit=unit,
                            reviewer=f"{unit[0]}{r}",
                            year=2024 + t // 4,
                            quarter=t % 4 + 1,
                            x=x,
                            y=3.0 if flat else 1.0 + 3 * x,
                        )
                    )
    rows = pl.DataFrame(rows)
    common = estimate_within_units(rows, ridge=1.0).filter(pl.col("reviewer") == "乙1").row(0, named=True)
    own = estimate_within_units(rows, ridge=1.0, slope_by="unit").filter(pl.col("reviewer") == "乙1").row(0, named=True)
    assert common["z"] > 3  # one slope for all: 乙1's weaker people "should" have got lower grades
    assert abs(own["alpha"]) < 1e-9 and own["slope"] == pytest.approx(0, abs=1e-9)


def test_the_fit_is_made_once_per_dataset_and_again_for_new_data(monkeypatch):
    fits = []
    real = fair_score._fit
    monkeypatch.setattr(fair_score, "_fit", lambda *a: fits.append(a[2]) or real(*a))
    data, settings = frames(sections()), Settings()
    first = estimate_leniency(data.quarterly, settings)
    again = estimate_leniency(data.quarterly, settings)
    fair, _ = fair_score.row_fair_scores(data.quarterly, settings)  # what the rankings read: the same fit
    assert fits == ["reviewer"]
    assert again.effects.equals(first.effects) and again.fair.equals(first.fair)
    estimate_leniency(data.quarterly, settings, level="unit")
    estimate_leniency(data.quarterly, Settings(leniency=type(settings.leniency)(ridge=5.0)))
    assert fits == ["reviewer", "unit", "reviewer"]  # another level, other settings: fitted afresh
    newer = frames(sections())  # a new data version is a new frame: fitted afresh
    assert estimate_leniency(newer.quarterly, settings).effects.equals(first.effects)
    assert len(fits) == 4
    # The rows' fair scores in the rows' order are the fit's, to the last bit; unscored rows have none.
    q = data.quarterly.with_row_index("_row")
    expected = q.join(first.fair, on=["person_id", "year", "quarter"], how="left").sort("_row")["fair_score"]
    assert fair.equals(expected, check_names=False)


def test_rows_without_a_score_or_a_unit_keep_their_place():
    q = sections().with_columns(
        pl.when(pl.col("person_id") == "R2-0").then(None).otherwise(pl.col("score")).alias("score"),
        pl.when(pl.col("person_id") == "R3-1").then(None).otherwise(pl.col("unit")).alias("unit"),
    )
    quarterly = frames(q).quarterly
    fit = estimate_leniency(quarterly, Settings())
    assert fit.fair.height == quarterly["score"].is_not_null().sum()
    fair, _ = fair_score.row_fair_scores(quarterly, Settings())
    unscored = quarterly.with_columns(fair=fair).filter(pl.col("score").is_null())
    assert unscored.height == 8 and unscored["fair"].null_count() == 8
    assert fit.effects.filter(pl.col("subject") == "R3")["unit"].to_list() == ["单位R3"]  # its most graded unit


def test_codes_sort_as_the_keys_do_with_nulls_first():
    frame = pl.DataFrame(
        {"unit": ["乙", None, "甲", "乙", "甲", None], "year": [2025, 2024, 2025, None, 2025, 2024]},
        schema_overrides={"year": pl.Int32},
    )
    codes, keys = fair_score._codes(frame, ["unit", "year"])
    expected = frame.unique().sort(["unit", "year"])  # a sort puts nulls first
    assert keys.equals(expected)
    assert frame.equals(keys[codes])  # code i is key row i
