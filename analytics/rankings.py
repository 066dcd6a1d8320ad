"""Lane rankings (分类排名): people against people of the same lane, units against units of the same type.

People are ranked for a quarter, a year or a rolling window of quarters, on one yardstick per lane:
- `score`: the mean score. In a lane where only some people have scores, those with scores are ranked
  by score and the others are listed apart, unranked (`basis` 'unscored'): the yardstick never switches
  silently. A lane where nobody has a score is ranked on grade points (好 4 … 较差 1, `basis` 'grade');
- `grade`: the mean grade points;
- `index`: a composite of sub-scores kept in `extra`, weighted as settings.ranking.indexes says
  (e.g. 工作实绩 0.6 + 工作作风 0.4);
- `fair`: the mean fair score, i.e. the score with the grading body's leniency taken out (analytics.fair_score).

Ranks, percentiles and lanes are computed over the whole lane (every unit in `data`), and only then
narrowed to the units a viewer may see (`visible`): a head of one unit sees for each of their people
the rank an administrator sees; people outside stay invisible, present only in the counts
(`n_in_lane`, `n_ranked`). Ties share the best rank (competition ranking 1, 2, 2, 4) and `tied` says
how many share it; the percentile uses the average position, 100 = best and 0 = worst of those ranked. Small lanes are pooled (analytics.lanes.pool_small_lanes) and
say so in `lane_pooled_from`; nobody is dropped: people with nothing to rank on (e.g. 不确定等次 all
period) are listed with an empty rank. `rank_change` compares with the previous period of the same
length (positive = moved up), in the same lane.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import polars as pl

from analytics import frame_memo
from analytics.errors import UserError
from analytics.lanes import UNASSIGNED, pool_small_lanes
from analytics.settings import IndexWeights, Settings
from analytics.vocab import GOOD, GRADE_POINTS, period_index, period_label

PEOPLE_BY = ("score", "grade", "index", "fair")
UNSCORED = "unscored"  # basis of people (or units) without a score in a lane ranked by score
UNITS_BY = ("good_share", "score", "fair")
_PERIOD = re.compile(r"^\s*(\d{4})\s*(?:[-_ /]?\s*[Qq]\s*([1-4])|年?\s*第?\s*([1-4一二三四])\s*季度?)\s*$")
_CN_DIGITS = {"一": 1, "二": 2, "三": 3, "四": 4}


def parse_period(text: str) -> tuple[int, int]:
    """'2025Q4' (also '2025-Q4', '2025年第四季度') -> (2025, 4); UserError otherwise.

    >>> parse_period("2025Q4")
    (2025, 4)
    """
    m = _PERIOD.match(str(text))
    if not m:
        raise UserError(f"not a quarter: {text!r}; write it like 2025Q4 (year, Q, quarter 1-4)")
    quarter = m.group(2) or m.group(3)
    return int(m.group(1)), int(_CN_DIGITS.get(quarter, quarter))


@dataclass(frozen=True)
class Window:
    """Consecutive quarters [first, last] as period_index values, and how to name them."""

    first: int
    last: int
    label: str

    @property
    def length(self) -> int:
        return self.last - self.first + 1

    def previous(self) -> Window:
        """The period of the same length just before."""
        first, last = self.first - self.length, self.first - 1
        return Window(first, last, _label(first, last))

    def rows(self, quarterly: pl.DataFrame) -> pl.DataFrame:
        if self.first == self.last:  # one quarter: compared as it is, no index worked out for every row
            return quarterly.filter((pl.col("year") == self.first // 4) & (pl.col("quarter") == self.first % 4 + 1))
        idx = pl.col("year") * 4 + pl.col("quarter") - 1
        return quarterly.filter(idx.is_between(self.first, self.last))


def _label(first: int, last: int) -> str:
    a, b = period_label(first // 4, first % 4 + 1), period_label(last // 4, last % 4 + 1)
    if first % 4 == 0 and last == first + 3:
        return str(first // 4)
    return a if first == last else f"{a}–{b}"


def select_window(
    quarterly: pl.DataFrame, period: str | None = None, year: int | None = None, window: int | None = None
) -> Window:
    """The quarters asked for: one quarter, a calendar year, or `window` quarters ending at `period` (default latest)."""
    if year is not None and (period is not None or window is not None):
        raise UserError("give either a year or a period/window, not both")
    if window is not None and window < 1:
        raise UserError(f"--window must be at least 1 quarter, got {window}")
    present = (pl.col("year") * 4 + pl.col("quarter") - 1).alias("i")  # worked out once for both ends
    lo, hi = quarterly.lazy().select(present.min(), present.max().alias("hi")).collect().row(0)
    if lo is None:
        raise UserError("no quarterly results in the store: import some, or build the demo city")
    if year is not None:
        win = Window(period_index(year, 1), period_index(year, 4), str(year))
    else:
        last = period_index(*parse_period(period)) if period else hi
        first = last - (window or 1) + 1
        win = Window(first, last, _label(first, last))
    if win.last < lo or win.first > hi:
        raise UserError(f"no quarterly results for {win.label}; the data cover {_label(lo, lo)} to {_label(hi, hi)}")
    return win


# ---------------------------------------------------------------- per-row yardsticks


def _sub_score(name: str) -> pl.Expr:
    key = name.replace("\\", "\\\\").replace("'", "\\'")
    return pl.col("extra").str.json_path_match(f"$['{key}']").cast(pl.Float64, strict=False)


def choose_index(quarterly: pl.DataFrame, settings: Settings, name: str | None = None) -> IndexWeights:
    """The composite index to use: the one named, else the first whose sub-scores all appear in the data."""
    indexes = settings.ranking.indexes
    if name is not None:
        chosen = [i for i in indexes if i.name == name]
        if not chosen:
            raise UserError(
                f"no index named {name!r} in settings; known: {', '.join(i.name for i in indexes) or 'none'}"
            )
        indexes = tuple(chosen)
    has_extra = "extra" in quarterly.columns and quarterly["extra"].null_count() < quarterly.height
    for index in indexes:
        if has_extra and index.weights:
            present = quarterly.select(pl.all_horizontal(_sub_score(k).is_not_null() for k in index.weights).any())
            if present.item():
                return index
    wanted = "; ".join(f"{i.name}: {' + '.join(f'{k} x {w:g}' for k, w in i.weights.items())}" for i in indexes)
    raise UserError(f"no sub-scores for a composite index in the data (looked for {wanted or 'none configured'})")


def _index_value(index: IndexWeights) -> pl.Expr:
    return pl.sum_horizontal(_sub_score(k) * w for k, w in index.weights.items()).alias("_index")


def _grade_points() -> pl.Expr:
    """好 4 … 较差 1, else empty: compared with each grade (cheaper than looking each row's grade up)."""
    grade, ((first, points), *rest) = pl.col("grade"), GRADE_POINTS.items()
    chain = pl.when(grade == first).then(pl.lit(float(points)))
    for name, points in rest:
        chain = chain.when(grade == name).then(pl.lit(float(points)))
    return chain.otherwise(pl.lit(None, pl.Float64))


def _yardsticks(
    quarterly: pl.DataFrame,
    by: str,
    settings: Settings,
    index: IndexWeights | None,
    fair_optional: bool = False,
    keep: tuple[str, ...] | None = None,
) -> pl.DataFrame:
    """Per person-quarter: grade points, score, and the index or fair score where asked (or where possible).

    `keep`: only these columns of `quarterly` come out (the fair scores' model still reads all of it).
    """
    out = quarterly if keep is None else quarterly.select(keep)
    out = out.with_columns(_grade_points().alias("_points"), pl.col("score").cast(pl.Float64).alias("_score"))
    if by == "index":
        complete = pl.all_horizontal(_sub_score(k).is_not_null() for k in index.weights)
        out = out.with_columns(pl.when(complete).then(_index_value(index)).alias("_index"))
    if by == "fair" or (fair_optional and quarterly["score"].null_count() < quarterly.height):
        from analytics.fair_score import row_fair_scores  # its model's imports only where fair scores are asked

        # In the rows' own order: attached as a column, not joined on the person and quarter.
        fair, note = row_fair_scores(quarterly, settings, level="reviewer")
        if by == "fair" and fair.null_count() == fair.len():
            raise UserError(f"fair scores need scores that predict grades. {note}")
        out = out.with_columns(fair.alias("_fair"))
    return out


# ---------------------------------------------------------------- people

_VALUE_OF = {"grade": "_points", "index": "_index", "fair": "_fair"}


def _people_in(rows: pl.DataFrame, by: str, settings: Settings) -> pl.DataFrame:
    """One row per person over the window: latest attributes, the mean of each yardstick, pooled lane."""
    idx = pl.col("year") * 4 + pl.col("quarter") - 1
    means = [pl.col("_points").mean().alias("grade_points"), pl.col("_score").mean().alias("mean_score")]
    if by in ("index", "fair"):
        means.append(pl.col(_VALUE_OF[by]).mean().alias("_chosen"))
    if _one_row_each(rows):  # a quarter: nothing to aggregate
        return _pooled(_people_as_rows(rows, by), settings)
    people = (
        rows.sort(idx)
        .group_by("person_id")
        .agg(
            *(pl.col(c).last() for c in ("name", "unit", "unit_type", "section", "lane")),
            *means,
            pl.col("_score").is_not_null().any().alias("_has_score"),
            (pl.col("grade") == GOOD).sum().alias("goods"),
            pl.col("_points").is_not_null().sum().alias("quarters_graded"),
        )
        .with_columns(pl.col("lane").fill_null(UNASSIGNED))
    )
    return _pooled(people, settings)


def _pooled(people: pl.DataFrame, settings: Settings) -> pl.DataFrame:
    """The people with their small lanes pooled (analytics.lanes.pool_small_lanes), and `_lane`: the lane as an
    integer, its place among the lane names in order, for the windows and the sort that rank them.

    One row per person, so a lane's size is its count of rows: counted once on the integers, and the
    string-keyed pooling runs only where some lane is too small.
    """
    names = people["lane"].unique().sort()
    code = people["lane"].cast(pl.Enum(names)).to_physical()
    if code.value_counts()["count"].min() >= settings.lanes.min_size:
        return people.with_columns(pl.lit(None, pl.Utf8).alias("lane_pooled_from"), code.alias("_lane"))
    people = pool_small_lanes(people, settings)
    names = people["lane"].unique().sort()
    return people.with_columns(pl.col("lane").cast(pl.Enum(names)).to_physical().alias("_lane"))


def _one_row_each(rows: pl.DataFrame) -> bool:
    ids = rows["person_id"]
    if ids.null_count() == 0 and ids.is_sorted():  # rows in person order: no id twice in a row, none twice at all
        return rows.height < 2 or not (ids.slice(1) == ids.slice(0, rows.height - 1)).any()
    return ids.n_unique() == rows.height


def _people_as_rows(rows: pl.DataFrame, by: str) -> pl.DataFrame:
    """What _people_in's aggregation gives when every person has one row, without grouping."""
    chosen = [pl.col(_VALUE_OF[by]).alias("_chosen")] if by in ("index", "fair") else []
    return rows.select(
        "person_id", "name", "unit", "unit_type", "section", "lane",
        pl.col("_points").alias("grade_points"), pl.col("_score").alias("mean_score"), *chosen,
        pl.col("_score").is_not_null().alias("_has_score"),
        (pl.col("grade") == GOOD).cast(pl.UInt32).alias("goods"),
        pl.col("_points").is_not_null().cast(pl.UInt32).alias("quarters_graded"),
    ).with_columns(pl.col("lane").fill_null(UNASSIGNED))  # fmt: skip


def _value(people: pl.DataFrame, by: str, index: IndexWeights | None) -> pl.DataFrame:
    if by == "score":
        # Scores rank where they exist; a lane with none at all is ranked on grade points instead.
        lanes = people["_lane"].to_numpy()
        scored = np.bincount(lanes, weights=people["_has_score"].to_numpy(), minlength=lanes.max() + 1) > 0
        none_scored = pl.lit(pl.Series(~scored).gather(people["_lane"]))
        return people.with_columns(
            pl.when(none_scored).then(pl.col("grade_points")).otherwise(pl.col("mean_score")).alias("value"),
            pl.when(none_scored)
            .then(pl.lit("grade"))
            .when(pl.col("_has_score"))
            .then(pl.lit("score"))
            .otherwise(pl.lit(UNSCORED))
            .alias("basis"),
        )
    if by == "grade":
        return people.with_columns(pl.col("grade_points").alias("value"), pl.lit("grade").alias("basis"))
    basis = f"index:{index.name}" if by == "index" else "fair"
    return people.with_columns(pl.col("_chosen").alias("value"), pl.lit(basis).alias("basis"))


def competition_rank(value: pl.Expr, over: str | list[str]) -> pl.Expr:
    """1 = best (highest value); ties share the best rank and the next rank skips (1, 2, 2, 4)."""
    return value.rank("min", descending=True).over(over).cast(pl.UInt32)


@dataclass(frozen=True)
class _Ranking:
    """One window's lane ranking: `people` (one row each, in no particular order), `order` (their positions
    in the ranking's order: lane name, rank, person) and `places` (rank, tied, percentile and the lane's
    counts, row i for people[order[i]]). Kept apart so that a window ranked as the previous period
    gives its ranks without the whole frame being reordered."""

    people: pl.DataFrame
    order: pl.Series
    places: pl.DataFrame

    def ranks(self) -> pl.Series:
        """The rank of each row of `people`, in their order."""
        at = np.empty(self.order.len(), dtype=np.uint32)
        at[self.order.to_numpy()] = np.arange(self.order.len(), dtype=np.uint32)
        return self.places["rank"].gather(pl.Series(at))


def _places(people: pl.DataFrame) -> tuple[pl.Series, pl.DataFrame]:
    """The ranking's order of `people` and, in that order, each one's place in the lane.

    One ordering instead of a window per number: stable sorts by person, then value (best first, empty
    last), then lane. In that order a place is a run of equal values within a lane, so its rank, size and
    average position are where the run starts and ends: the numbers competition_rank and
    `rank("average")` give over the lane.
    """
    by_person = people["person_id"].arg_sort(nulls_last=True)
    by_value = by_person.gather(
        people.select(pl.col("value").gather(by_person))
        .select(pl.arg_sort_by("value", descending=True, nulls_last=True, maintain_order=True))
        .to_series()
    )
    # Few lanes, small integers: numpy's stable sort of them is far quicker than a general one.
    order = by_value.gather(np.argsort(people["_lane"].gather(by_value).to_numpy(), kind="stable"))
    # In that order each lane is one stretch, its ranked people first: where it starts and how many it holds.
    lanes = people["_lane"].to_numpy()
    size = np.bincount(lanes)
    ranked_size = np.bincount(lanes, weights=people["value"].is_not_null().to_numpy(), minlength=size.size)
    lane_first = pl.Series(np.concatenate([[0], np.cumsum(size)[:-1]]), dtype=pl.UInt32)
    lane = pl.col("_lane")
    pos, ranked = pl.int_range(pl.len(), dtype=pl.UInt32), pl.col("value").is_not_null()
    run_starts = lane.ne_missing(lane.shift(1)) | pl.col("value").ne_missing(pl.col("value").shift(1))
    first, run_first, run_last = pl.col("_first"), pl.col("_run_first"), pl.col("_run_last")
    places = (
        people.select(pl.col("_lane", "value").gather(order))
        .with_columns(
            pl.lit(lane_first).gather(lane).alias("_first"),
            pl.lit(pl.Series(size, dtype=pl.UInt32)).gather(lane).alias("n_in_lane"),
            pl.lit(pl.Series(ranked_size, dtype=pl.UInt32)).gather(lane).alias("n_ranked"),
            pl.when(run_starts).then(pos).forward_fill().alias("_run_first"),
            pl.when(run_starts.shift(-1, fill_value=True)).then(pos).backward_fill().alias("_run_last"),
        )
        .with_columns(
            pl.when(ranked).then(run_first - first + 1).alias("rank"),
            pl.when(ranked).then(run_last - run_first + 1).alias("tied"),
        )
    )
    n = pl.col("n_ranked")
    average = (pl.col("rank") + (run_last - first + 1)) / 2
    percentile = pl.when(n > 1).then(100.0 * (n - average) / (n - 1)).when(ranked).then(100.0)
    return order, places.select("rank", "tied", percentile.alias("percentile"), "n_in_lane", "n_ranked")


def _window_ranks(
    quarterly: pl.DataFrame, win: Window, by: str, settings: Settings, index: IndexWeights | None
) -> _Ranking | None:
    """The lane ranking of one window (None: nobody in it), computed once per dataset (it is asked for again
    as the previous period of the next window, and by every viewer of the same store version)."""
    key = ("rank_window", win.first, win.last, by, repr(index), repr(settings))
    return frame_memo.memo(quarterly, key, lambda: _rank_window(quarterly, win, by, settings, index))


_ROW_COLUMNS = ("person_id", "name", "unit", "unit_type", "section", "lane", "year", "quarter", "grade", "score")


def _rank_window(
    quarterly: pl.DataFrame, win: Window, by: str, settings: Settings, index: IndexWeights | None
) -> _Ranking | None:
    # Fair scores come from a model over all the data; the other yardsticks need only the window's rows.
    if by == "fair":
        fair = ("fair_yardsticks", repr(settings))
        rows = win.rows(frame_memo.memo(quarterly, fair, lambda: _yardsticks(quarterly, by, settings, index)))
    else:  # only the columns ranked on or shown: the window's copy is the rows it needs
        rows = win.rows(quarterly.select(*_ROW_COLUMNS, *(["extra"] if by == "index" else [])))
    if rows.height == 0:
        return None
    if by != "fair":
        rows = _yardsticks(rows, by, settings, index)
    people = _value(_people_in(rows, by, settings), by, index)
    order, places = _places(people)
    return _Ranking(people.drop("_lane"), order, places)


PEOPLE_COLUMNS = (
    "lane", "rank", "tied", "person_id", "name", "unit", "section", "value", "percentile", "rank_change", "n_in_lane",
    "n_ranked", "lane_pooled_from", "basis", "period", "unit_type", "grade_points", "mean_score", "goods",
    "quarters_graded",
)  # fmt: skip


def rank_people(
    data,
    settings: Settings,
    period: str | None = None,
    year: int | None = None,
    window: int | None = None,
    lane: str | None = None,
    by: str = "score",
    index: str | None = None,
    visible: frozenset[str] | None = None,
) -> pl.DataFrame:
    """Rank people within their lane for a quarter (default: the latest), a year, or `window` quarters.

    `data` should hold the whole lane (all units); `visible` (units, None = all) narrows the rows
    returned after ranking, so ranks do not depend on who is looking.

    >>> rank_people(data, settings, period="2025Q4", by="fair").head()  # doctest: +SKIP
    """
    if by not in PEOPLE_BY:
        raise UserError(f"rank people by one of {', '.join(PEOPLE_BY)}, not {by!r}")
    quarterly = data.quarterly
    win = select_window(quarterly, period, year, window)
    chosen = choose_index(win.rows(quarterly), settings, index) if by == "index" else None
    # Every viewer of a store version (and every filter) reads the same whole-lane ranking: computed once.
    key = ("people", win.first, win.last, by, repr(chosen), repr(settings))
    out = frame_memo.memo(quarterly, key, lambda: _people_ranking(quarterly, win, by, settings, chosen))
    if lane is not None:
        out = _only_lane(out, lane)
    return only_visible(out, visible)


def _people_ranking(
    quarterly: pl.DataFrame, win: Window, by: str, settings: Settings, chosen: IndexWeights | None
) -> pl.DataFrame:
    """The window's whole-lane ranking with the change since the previous window, in PEOPLE_COLUMNS order."""
    current = _window_ranks(quarterly, win, by, settings, chosen)
    if current is None:
        raise UserError(f"no quarterly results for {win.label}")
    if by == "index" and current.people["value"].null_count() == current.people.height:
        raise UserError(f"nobody in {win.label} has every sub-score of the index {chosen.name}")
    # One row per person in each window: joined on the person, a change counted in the same lane only. Joined
    # in the rows' own order (the two windows' people mostly come in the same order), then put in the ranking's.
    before = _before(_window_ranks(quarterly, win.previous(), by, settings, chosen))
    before = current.people.select("person_id").join(before, on="person_id", how="left", maintain_order="left")
    shown = [c for c in PEOPLE_COLUMNS if c in current.people]
    out = (
        current.people.select(*shown)
        .hstack(before.drop("person_id").get_columns())
        .select(pl.all().gather(current.order))
        .hstack(current.places.get_columns())
        .with_columns(
            # A change means something only on the same yardstick (a lane that gained scores starts afresh).
            pl.when((pl.col("basis") == pl.col("_basis_before")) & (pl.col("lane") == pl.col("_lane_before")))
            .then(pl.col("_before").cast(pl.Int64) - pl.col("rank").cast(pl.Int64))
            .alias("rank_change"),
            pl.lit(win.label).alias("period"),
        )
    )
    return out.select(PEOPLE_COLUMNS)  # in the ranking's order: lane name, rank, person


def _before(ranking: _Ranking | None) -> pl.DataFrame:
    """Each person's lane, rank and basis in a previous window, to compare with."""
    if ranking is None:
        schema = {"person_id": pl.Utf8, "_lane_before": pl.Utf8, "_before": pl.UInt32, "_basis_before": pl.Utf8}
        return pl.DataFrame(schema=schema)
    return ranking.people.select(
        "person_id", pl.col("lane").alias("_lane_before"), ranking.ranks().alias("_before"),
        pl.col("basis").alias("_basis_before"),
    )  # fmt: skip


def only_visible(frame: pl.DataFrame, visible: frozenset[str] | None) -> pl.DataFrame:
    """Rows of the units a viewer may see (None = every unit); ranks and counts stay as computed."""
    return frame if visible is None else frame.filter(pl.col("unit").is_in(sorted(visible)))


def split_apart(ranked: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(people ranked, people listed apart because the lane is ranked by score and they have none)."""
    apart = pl.col("basis") == UNSCORED
    return ranked.filter(~apart), ranked.filter(apart)


def rank_text(rank: str = "rank", tied: str = "tied", lang: str = "zh") -> pl.Expr:
    """The place as people say it: '3', or '并列第 1（40 人）' / 'tied 1st (40)' when several share it."""
    r, t = pl.col(rank).cast(pl.Utf8), pl.col(tied).cast(pl.Utf8)
    shared = (
        pl.concat_str([pl.lit("并列第 "), r, pl.lit("（"), t, pl.lit(" 人）")])
        if lang == "zh"
        else pl.concat_str([pl.lit("tied "), r, pl.lit(" ("), t, pl.lit(")")])
    )
    return pl.when(pl.col(tied) > 1).then(shared).otherwise(r).alias("place")


def lane_notes(ranked: pl.DataFrame) -> pl.DataFrame:
    """Per lane shown: people in the whole lane, how many are ranked, and how many listed apart (no score)."""
    if ranked.height == 0:
        return pl.DataFrame(schema={"lane": pl.Utf8, "n_in_lane": pl.UInt32, "n_ranked": pl.UInt32, "apart": pl.UInt32})
    return (
        ranked.group_by("lane")
        .agg(
            pl.col("n_in_lane").first(),
            pl.col("n_ranked").first(),
            (pl.col("basis") == UNSCORED).sum().cast(pl.UInt32).alias("apart_shown"),
            pl.col("basis").first().alias("basis"),
        )
        .with_columns((pl.col("n_in_lane") - pl.col("n_ranked")).cast(pl.UInt32).alias("apart"))
        .sort("lane")
    )


def _only_lane(frame: pl.DataFrame, lane: str) -> pl.DataFrame:
    """Rows of one lane; a lane pooled into another shows its own people with their ranks in the pool."""
    cond = pl.col("lane") == lane
    if "lane_pooled_from" in frame.columns:
        cond = cond | (pl.col("lane_pooled_from") == lane)
    out = frame.filter(cond)
    if out.height == 0:
        known = sorted(set(frame["lane"].drop_nulls().to_list()))
        raise UserError(f"no lane {lane!r} in this period; lanes: {', '.join(known)}")
    return out


# ---------------------------------------------------------------- units


def _unit_table(yard: pl.DataFrame, win: Window) -> pl.DataFrame:
    rows = win.rows(yard)
    fair = (
        [pl.col("_fair").mean().alias("fair_mean")]
        if "_fair" in rows.columns
        else [pl.lit(None, pl.Float64).alias("fair_mean")]
    )
    return (
        rows.with_columns(pl.col("unit_type").fill_null(UNASSIGNED).alias("lane"))
        .group_by("lane", "unit")
        .agg(
            pl.col("person_id").filter(pl.col("_points").is_not_null()).n_unique().cast(pl.UInt32).alias("n"),
            pl.col("_points").count().cast(pl.UInt32).alias("graded"),
            ((pl.col("grade") == GOOD).sum() / pl.col("_points").count()).alias("good_share"),
            pl.col("_score").mean().alias("mean_score"),
            pl.col("_points").mean().alias("grade_points"),
            *fair,
            pl.col("_score").is_not_null().any().alias("_any_scored"),
        )
    )


def _unit_value(units: pl.DataFrame, by: str) -> pl.DataFrame:
    if by == "score":
        none_scored = ~pl.col("_any_scored").any().over("lane")
        return units.with_columns(
            pl.when(none_scored).then(pl.col("grade_points")).otherwise(pl.col("mean_score")).alias("value"),
            pl.when(none_scored)
            .then(pl.lit("grade"))
            .when(pl.col("_any_scored"))
            .then(pl.lit("score"))
            .otherwise(pl.lit(UNSCORED))
            .alias("basis"),
        )
    column = {"good_share": "good_share", "fair": "fair_mean"}[by]
    return units.with_columns(pl.col(column).alias("value"), pl.lit(by).alias("basis"))


UNIT_COLUMNS = (
    "lane", "rank", "unit", "value", "n", "good_share", "mean_score", "fair_mean", "trend", "n_in_lane",
    "units_in_lane", "basis",
    "period", "graded",
)  # fmt: skip


_UNIT_ROW_COLUMNS = ("person_id", "unit", "unit_type", "year", "quarter", "grade", "score")


def rank_units(
    data,
    settings: Settings,
    period: str | None = None,
    year: int | None = None,
    lane: str | None = None,
    by: str = "good_share",
    window: int | None = None,
    visible: frozenset[str] | None = None,
) -> pl.DataFrame:
    """Rank units within unit-type lanes by share of 好, mean score or fair mean; `trend` = change since the previous period."""
    if by not in UNITS_BY:
        raise UserError(f"rank units by one of {', '.join(UNITS_BY)}, not {by!r}")
    quarterly = data.quarterly
    win = select_window(quarterly, period, year, window)
    # Only the columns a unit's numbers are made of: each window's rows are copied from these.
    yard = _yardsticks(quarterly, by, settings, None, fair_optional=True, keep=_UNIT_ROW_COLUMNS)
    current = _unit_value(_unit_table(yard, win), by)
    before = _unit_value(_unit_table(yard, win.previous()), by).select("lane", "unit", pl.col("value").alias("_before"))
    n = pl.col("value").count().over("lane")
    out = current.join(before, on=["lane", "unit"], how="left").with_columns(
        competition_rank(pl.col("value"), "lane").alias("rank"),
        n.cast(pl.UInt32).alias("n_in_lane"),
        pl.len().over("lane").cast(pl.UInt32).alias("units_in_lane"),
        (pl.col("value") - pl.col("_before")).alias("trend"),
        pl.lit(win.label).alias("period"),
    )
    if lane is not None:
        out = out.filter(pl.col("lane") == lane)
        if out.height == 0:
            raise UserError(
                f"no unit lane {lane!r}; unit lanes are unit types: {', '.join(sorted(current['lane'].unique()))}"
            )
    return only_visible(out, visible).select(UNIT_COLUMNS).sort(["lane", "rank", "unit"], nulls_last=True)
