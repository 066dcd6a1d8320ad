"""Outcome records (结果运用) that follow each person's annual result, mostly as the rules say.

Every 称职-or-better year earns the annual bonus (优秀 1,300 yuan more); 优秀 brings a 嘉奖, often an
award (评先评优), and three in a row a 记三等功; promotions and rank promotions go mostly to strong
records and never, in honest units, to a year with 一般; training is spread at random; weak years
bring mentoring, warnings (谈话提醒, 诫勉), withdrawn award eligibility, reassignment, and for 不称职
demotion. Decisions are dated in the first half of the following year (an award in March 2025
answers to 2024), a few promotions later in the year; `year` (the assessment year) is left empty
on some first-half records so that inference has work to do. Silent units record no negatives.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from analytics.demo.annual import BASIC, COMPETENT, EXCELLENT, INCOMPETENT
from analytics.demo.city import City
from analytics.schema import OUTCOMES

BONUS_EXCELLENT_EXTRA = 1300.0
YEAR_MISSING_SHARE = 0.12

# kind -> (spellings used in exports, detail template with {Y} = assessment year, months, day range)
_KINDS: dict[str, tuple[tuple[str, ...], str, tuple[int, int]]] = {
    "bonus": (("年度考核奖金", "考核奖金", "绩效奖金"), "{Y}年度考核奖金", (1, 2)),
    "commendation": (("嘉奖",), "{Y}年度考核优秀，给予嘉奖", (3, 3)),
    "merit": (("记三等功",), "连续三年年度考核优秀，记三等功", (4, 4)),
    "award": (("评先评优", "表彰"), "{Y}年度优秀公务员", (3, 4)),
    "promotion": (("提拔任用", "提拔"), "提拔任用（{Y}年度考核结果运用）", (3, 12)),
    "rank_promotion": (("职级晋升", "晋升职级"), "晋升上一职级（{Y}年度考核结果运用）", (2, 11)),
    "training": (("培训", "教育培训"), "参加业务能力提升培训", (3, 6)),
    "mentoring": (("导师帮带",), "{Y}年平时考核有一般等次，安排导师帮带", (1, 3)),
    "reminder": (("谈话提醒", "提醒谈话"), "{Y}年平时考核有一般等次，谈话提醒", (1, 3)),
    "admonishment": (("诫勉", "诫勉谈话"), "{Y}年度考核结果较差，诫勉谈话", (1, 4)),
    "award_withdrawn": (("取消评优资格",), "{Y}年平时考核有一般等次，取消当年评先评优资格", (1, 2)),
    "reassignment": (("调整岗位", "岗位调整"), "{Y}年度考核基本称职，调整岗位", (2, 5)),
    "demotion": (("降职降级",), "{Y}年度考核不称职，降低职级", (2, 4)),
}


def _who(record: pl.DataFrame, draw: np.ndarray, silent: np.ndarray) -> dict[str, np.ndarray]:
    """Which person-years get each kind of outcome (boolean masks over the record)."""
    code = record["code"].to_numpy()
    good, avg, poor = (record[c].to_numpy() for c in ("n_good", "n_average", "n_poor"))
    clean = avg + poor == 0
    strong = (good >= 2) & clean & (code <= COMPETENT)
    excellent = code == EXCELLENT
    prev1 = record["prev1_excellent"].to_numpy()
    prev2 = record["prev2_excellent"].to_numpy()
    d = draw
    weak_ok = ~silent
    return {
        "bonus": code <= COMPETENT,
        "commendation": excellent,
        "merit": excellent & prev1 & prev2,
        "award": excellent & (d[:, 0] < 0.3),
        "promotion": clean & (code <= COMPETENT) & (d[:, 1] < np.where(excellent, 0.06, np.where(strong, 0.03, 0.004))),
        "rank_promotion": clean
        & (code <= COMPETENT)
        & (d[:, 2] < np.where(excellent, 0.10, np.where(strong, 0.06, 0.02))),
        "training": d[:, 3] < 0.08,
        "mentoring": weak_ok & (avg >= 1) & (d[:, 4] < 0.4),
        "reminder": weak_ok & (avg >= 1) & (d[:, 5] < 0.45),
        "admonishment": weak_ok & ((poor >= 1) | (code == BASIC)) & (d[:, 6] < 0.6),
        "award_withdrawn": weak_ok & (avg >= 1) & (d[:, 7] < 0.15),
        "reassignment": weak_ok & ((code == BASIC) | (code == INCOMPETENT) | (avg >= 2)) & (d[:, 8] < 0.5),
        "demotion": weak_ok & (code == INCOMPETENT) & (d[:, 9] < 0.7),
    }


def outcome_frame(
    city: City, record: pl.DataFrame, breaks: pl.DataFrame, silent_units: np.ndarray, rng: np.random.Generator
) -> pl.DataFrame:
    """All outcome records by person index (see with_people): date, year, outcome, outcome_raw, detail, amount."""
    if record.height == 0:
        return pl.DataFrame(
            schema={
                "person_idx": pl.Int64,
                "date": pl.Date,
                "year": pl.Int32,
                "outcome": pl.Categorical,
                "outcome_raw": pl.Categorical,
                "detail": pl.Categorical,
                "amount": pl.Float64,
            }
        )
    record = record.sort("person_idx", "y").with_columns(
        prev1_excellent=(pl.col("code").shift(1).over("person_idx") == EXCELLENT).fill_null(False)
        & (pl.col("y").shift(1).over("person_idx") == pl.col("y") - 1).fill_null(False),
        prev2_excellent=(pl.col("code").shift(2).over("person_idx") == EXCELLENT).fill_null(False)
        & (pl.col("y").shift(2).over("person_idx") == pl.col("y") - 2).fill_null(False),
    )
    silent = np.isin(record["unit_idx"].to_numpy(), silent_units)
    masks = _who(record, rng.random((record.height, 10)), silent)
    unit_base = 2000 + 100 * rng.integers(0, 10, city.units.height)
    parts = []
    for kind, mask in masks.items():  # a dozen kinds, each vectorised over all person-years
        rows = record.filter(pl.Series(mask)).select("person_idx", "y", "unit_idx", "code")
        parts.append(_records(rows, kind, unit_base, city.start_year, rng))
    rewards = breaks.filter(pl.col("kind") == "reward_after_average")
    if rewards.height:
        kinds = np.where(np.arange(rewards.height) % 2 == 0, "promotion", "award")
        for kind in ("promotion", "award"):
            rows = rewards.filter(pl.Series(kinds == kind)).select(
                "person_idx", "y", "unit_idx", pl.lit(COMPETENT, pl.Int8).alias("code")
            )
            parts.append(_records(rows, kind, unit_base, city.start_year, rng, year_known=True))
    out = pl.concat([p for p in parts if p.height], how="vertical").sort("date", "person_idx", "outcome")
    # Repeated texts as categoricals keep millions of records small; people's names are joined when written.
    return out.with_columns(pl.col("outcome", "outcome_raw", "detail").cast(pl.Categorical))


def with_people(city: City, core: pl.DataFrame) -> pl.DataFrame:
    """Outcome records in the `outcomes` table's columns: the person's id, name and unit joined in."""
    people = city.people.select("person_idx", "person_id", "name", "unit")
    return (
        core.join(people, on="person_idx", how="left", maintain_order="left")
        .with_columns(pl.col("outcome", "outcome_raw", "detail").cast(pl.Utf8))
        .select(OUTCOMES.column_names[:9])
    )


def _fill_year(template: str) -> pl.Expr:
    """The detail text with {Y} replaced by the assessment year."""
    if "{Y}" not in template:
        return pl.lit(template)
    before, after = template.split("{Y}", 1)
    return pl.concat_str([pl.lit(before), pl.col("assessed").cast(pl.Utf8), pl.lit(after)])


def _records(
    rows: pl.DataFrame, kind: str, unit_base: np.ndarray, start_year: int, rng, year_known: bool = False
) -> pl.DataFrame:
    """Outcome rows of one kind for the given person-years: date, year (some left empty), names, amount."""
    n = rows.height
    spellings, detail, (m_lo, m_hi) = _KINDS[kind]
    assessed = rows["y"].to_numpy().astype(np.int32) + start_year
    month = rng.integers(m_lo, m_hi + 1, n)
    day = rng.integers(1, 29, n)
    year_missing = (~np.bool_(year_known)) & (month <= 6) & (rng.random(n) < YEAR_MISSING_SHARE)
    amount = None
    if kind == "bonus":
        base = unit_base[rows["unit_idx"].to_numpy()]
        amount = base + np.where(rows["code"].to_numpy() == EXCELLENT, BONUS_EXCELLENT_EXTRA, 0.0)
    raw = np.array(spellings)[rng.integers(0, len(spellings), n)]
    frame = pl.DataFrame(
        {
            "person_idx": rows["person_idx"],
            "assessed": assessed,
            "month": month.astype(np.int32),
            "day": day.astype(np.int32),
            "year_missing": year_missing,
            "outcome_raw": raw,
            "amount": amount if amount is not None else np.full(n, np.nan),
        }
    )
    return frame.select(
        "person_idx",
        pl.date(pl.col("assessed") + 1, "month", "day").alias("date"),
        pl.when(pl.col("year_missing")).then(None).otherwise(pl.col("assessed")).cast(pl.Int32).alias("year"),
        pl.lit(kind).alias("outcome"),
        "outcome_raw",
        _fill_year(detail).alias("detail"),
        pl.col("amount").fill_nan(None),
    )
