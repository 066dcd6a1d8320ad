"""The data behind the one-screen overview (一屏掌控) and the filters every page shares.

Pure functions over AssessmentData and flag frames: what the periods, lanes and units are,
narrowing data to the sidebar's choice, and the headline numbers, grade mix, 好-share
heatmap, lane extremes and strongest warnings a department head looks at first.
"""

from __future__ import annotations

import re
import threading
import weakref

import numpy as np
import polars as pl

from analytics.dataset import AssessmentData
from analytics.quota import good_quota, quarterly_quota
from analytics.settings import Settings
from analytics.vocab import GOOD, GRADE_POINTS, QUARTERLY_GRADES, period_index, period_label

_PERIOD = re.compile(r"^(\d{4})Q([1-4])$")


def period_expr() -> pl.Expr:
    """'2024Q1' from the year and quarter columns."""
    return pl.concat_str([pl.col("year").cast(pl.Utf8), pl.lit("Q"), pl.col("quarter").cast(pl.Utf8)]).alias("period")


def parse_period(label: str) -> tuple[int, int]:
    """(year, quarter) from '2024Q1'.

    >>> parse_period("2024Q3")
    (2024, 3)
    """
    match = _PERIOD.match(label or "")
    if not match:
        raise ValueError(f"not a period label: {label!r} (expected like 2024Q1)")
    return int(match.group(1)), int(match.group(2))


def periods(data: AssessmentData) -> list[str]:
    """Quarter labels present in the quarterly data, oldest first."""
    summary = _summary(data)
    if summary is not None:
        return list(summary.memo("periods", lambda: _periods(summary.cells)))
    return _periods(data.quarterly)


def _periods(frame: pl.DataFrame) -> list[str]:
    q = frame.select("year", "quarter").drop_nulls().unique().sort("year", "quarter")
    return [period_label(y, k) for y, k in q.iter_rows()]


def years(data: AssessmentData) -> list[int]:
    """Years present anywhere (quarterly, annual, outcomes), oldest first."""
    found = pl.concat([f.select(pl.col("year").cast(pl.Int64)) for f in (data.quarterly, data.annual, data.outcomes)])
    return found.drop_nulls().unique().sort("year")["year"].to_list()


def lanes(data: AssessmentData) -> list[str]:
    summary = _summary(data)
    if summary is not None:
        return list(
            summary.memo("lanes", lambda: summary.cells["lane"].cast(pl.Utf8).drop_nulls().unique().sort().to_list())
        )
    return data.quarterly["lane"].drop_nulls().unique().sort().to_list()


def units(data: AssessmentData) -> list[str]:
    summary = _summary(data)
    if summary is not None and not isinstance(data, _Narrowed):
        return list(summary.memo("units", lambda: _units(summary.cells["unit"].cast(pl.Utf8), data)))
    return _units(data.quarterly["unit"], data)


def _units(quarterly_units: pl.Series, data: AssessmentData) -> list[str]:
    # Each frame's distinct names first: far fewer strings to merge than all rows.
    names = [quarterly_units, data.annual["unit"], data.outcomes["unit"]]
    merged = pl.concat([n.cast(pl.Utf8).drop_nulls().unique() for n in names])
    return merged.unique().sort().to_list()


def restrict_frame(
    frame: pl.DataFrame, units: tuple[str, ...] | None = None, lanes: tuple[str, ...] | None = None
) -> pl.DataFrame:
    """Rows of the chosen units and lanes (None or empty = all); columns a frame lacks are not filtered on.

    A ranking's pooled rows match the lane they were pooled from too.
    """
    if units and "unit" in frame.columns:
        frame = frame.filter(pl.col("unit").is_in(list(units)))
    if lanes and "lane" in frame.columns:
        cond = pl.col("lane").is_in(list(lanes))
        if "lane_pooled_from" in frame.columns:
            cond = cond | pl.col("lane_pooled_from").is_in(list(lanes))
        frame = frame.filter(cond)
    return frame


def restrict(
    data: AssessmentData, units: tuple[str, ...] | None = None, lanes: tuple[str, ...] | None = None
) -> AssessmentData:
    """Data narrowed to the sidebar's units and lanes; outcomes follow the people kept.

    The narrowed frames are made on first use: the overview's numbers come from the per-dataset
    summary narrowed the same way, so a filter change does not copy the full frames.
    """
    if not units and not lanes:
        return data
    return _Narrowed(data, tuple(units or ()), tuple(lanes or ()))


def prepare(data: AssessmentData) -> AssessmentData:
    """Build the dataset's overview summary now (about a second at 2.3 M rows) and return the data.

    Callers that cache a dataset (the app's loader) call this once, so the overview's first showing and
    every filter change work on the small summary; without it the first overview call builds it.
    """
    if _summary(data) is not None:  # and the sidebar's lists, asked for on every run
        periods(data), lanes(data), units(data)
    return data


def _restrict_now(data: AssessmentData, units: tuple[str, ...], lanes: tuple[str, ...]) -> AssessmentData:
    quarterly = restrict_frame(data.quarterly, units, lanes)
    annual = restrict_frame(data.annual, units, lanes)
    outcomes = restrict_frame(data.outcomes, units)
    if lanes:
        kept = pl.concat([quarterly.select("person_id"), annual.select("person_id")]).unique()
        outcomes = outcomes.join(kept, on="person_id", how="semi")
    return AssessmentData(quarterly=quarterly, annual=annual, outcomes=outcomes)


class _Narrowed(AssessmentData):
    """AssessmentData narrowed to units and lanes, its frames made on first use (see `restrict`)."""

    def __init__(self, parent: AssessmentData, units: tuple[str, ...], lanes: tuple[str, ...]):
        # Frozen dataclass: set the private state the way its own __init__ would.
        object.__setattr__(self, "_parent", parent)
        object.__setattr__(self, "_units", units)
        object.__setattr__(self, "_lanes", lanes)
        object.__setattr__(self, "_made", None)
        object.__setattr__(self, "_lock", threading.Lock())

    def _frames(self) -> AssessmentData:
        with self._lock:
            if self._made is None:
                object.__setattr__(self, "_made", _restrict_now(self._parent, self._units, self._lanes))
            return self._made

    quarterly = property(lambda self: self._frames().quarterly)  # type: ignore[assignment]
    annual = property(lambda self: self._frames().annual)  # type: ignore[assignment]
    outcomes = property(lambda self: self._frames().outcomes)  # type: ignore[assignment]

    def __reduce__(self):  # pickles (and copies) as the plain frames
        made = self._frames()
        return (AssessmentData, (made.quarterly, made.annual, made.outcomes))


# The columns of a quarterly frame the overview's numbers need (slim copy, categorical keys).
_SLIM = ("person_id", "unit", "unit_type", "lane", "year", "quarter", "grade")
_KEYS = ("person_id", "unit", "lane", "grade")


class _Summary:
    """Per-dataset aggregates behind the overview, computed once and narrowed cheaply by units and lanes.

    cells: unit x lane x quarter row counts with one column per grade and the period label (the grade
    mix, heatmap, periods and lanes add these up); people: distinct person x unit x lane (who is in a
    narrowing); quarter(y, q): that quarter's rows with only the columns the headline needs, string keys
    categorical (made on first use). A narrowed summary filters its parent's pieces, never the full rows.
    """

    def __init__(self, slim: pl.DataFrame | None, cells: pl.DataFrame, people: pl.DataFrame, parent=None, keep=None):
        self.slim, self.cells, self.people = slim, cells, people
        self.parent, self.keep = parent, keep
        self.memos: dict = {}
        self.lock = threading.Lock()

    def memo(self, key, make):
        with self.lock:
            if key in self.memos:
                return self.memos[key]
        made = make()
        with self.lock:
            return self.memos.setdefault(key, made)

    @classmethod
    def of(cls, quarterly: pl.DataFrame) -> _Summary:
        slim = quarterly.select([pl.col(c).cast(pl.Categorical) if c in _KEYS else pl.col(c) for c in _SLIM])
        people = slim.select("person_id", "unit", "lane").unique()
        return cls(slim=slim, cells=_cells(slim), people=people)

    def narrowed(self, units: tuple[str, ...], lanes: tuple[str, ...]) -> _Summary:
        return _Summary(
            slim=None,
            cells=restrict_frame(self.cells, units, lanes),
            people=restrict_frame(self.people, units, lanes),
            parent=self,
            keep=(units, lanes),
        )

    def quarter(self, year: int, quarter: int) -> pl.DataFrame:
        if self.parent is not None:
            return self.memo(
                ("q", year, quarter), lambda: restrict_frame(self.parent.quarter(year, quarter), *self.keep)
            )
        return self.memo(
            ("q", year, quarter), lambda: self.slim.filter((pl.col("year") == year) & (pl.col("quarter") == quarter))
        )


def _cells(slim: pl.DataFrame) -> pl.DataFrame:
    counts = [(pl.col("grade") == g).sum().cast(pl.Int64).alias(g) for g in QUARTERLY_GRADES]
    cells = slim.group_by("unit", "lane", "year", "quarter").agg(*counts, rows=pl.len().cast(pl.Int64))
    return cells.with_columns(period_expr()).sort("year", "quarter")


def _units_over_quota(now: pl.DataFrame, settings: Settings) -> int:
    """How many units gave more 好 than their quota: analytics.quota.quarterly_quota's rule, counting only."""
    graded = now.filter(pl.col("grade").is_in(list(GRADE_POINTS)))
    counts = graded.group_by("unit", "year", "quarter").agg(
        n=pl.col("person_id").n_unique().cast(pl.Int64),
        good=pl.col("person_id").filter(pl.col("grade") == GOOD).n_unique().cast(pl.Int64),
    )
    return counts.filter(pl.col("good") > good_quota(pl.col("n"), settings)).height


def _per_quarter(cells: pl.DataFrame, columns: tuple[str, ...]) -> pl.DataFrame:
    """The cells' `columns` added up per quarter (year, quarter, then the sums), oldest first.

    The cells come in quarter order (_cells sorts them, narrowing keeps the order): added up in sorted
    stretches of one integer, not hashed.
    """
    at = (pl.col("year") * 4 + pl.col("quarter") - 1).alias("_at")
    found = cells.select(at, *columns).filter(pl.col("_at").is_not_null())
    if found["_at"].is_sorted():
        found = found.with_columns(pl.col("_at").set_sorted())
    sums = found.group_by("_at").agg(pl.col(c).sum() for c in columns).sort("_at")
    year, quarter = (pl.col("_at") // 4).cast(pl.Int32), (pl.col("_at") % 4 + 1).cast(pl.Int32)
    return sums.select(year.alias("year"), quarter.alias("quarter"), *columns)


def _quarter_cells(summary: _Summary, year: int, quarter: int) -> pl.DataFrame:
    return summary.cells.filter((pl.col("year") == year) & (pl.col("quarter") == quarter))


def _cells_good_share(cells: pl.DataFrame) -> float | None:
    """good_share from grade counts: 好 among the four real grades."""
    graded = int(cells.select(pl.sum_horizontal(pl.col(list(GRADE_POINTS)).sum())).item())
    return float(cells[GOOD].sum()) / graded if graded else None


def _cells_over_quota(cells: pl.DataFrame, settings: Settings) -> int:
    """_units_over_quota from one quarter's cells, where each person has one row in the quarter."""
    counts = cells.group_by("unit").agg(
        n=pl.sum_horizontal(pl.col(list(GRADE_POINTS))).sum().cast(pl.Int64), good=pl.col(GOOD).sum().cast(pl.Int64)
    )
    return counts.filter((pl.col("n") > 0) & (pl.col("good") > good_quota(pl.col("n"), settings))).height


_SUMMARIES: dict[int, _Summary] = {}
_SUMMARY_LOCK = threading.Lock()


def _summary(data: AssessmentData) -> _Summary | None:
    """The dataset's summary (kept while its quarterly frame lives), None where the fast path does not apply."""
    if isinstance(data, _Narrowed):
        with data._lock:
            cached = data.__dict__.get("_summary")
        if cached is None:
            parent = _summary(data._parent)
            if parent is None:
                return None
            cached = parent.narrowed(data._units, data._lanes)
            object.__setattr__(data, "_summary", cached)
        return cached
    quarterly = data.quarterly
    if any(c not in quarterly.columns for c in _SLIM) or "lane_pooled_from" in quarterly.columns:
        return None
    key = id(quarterly)
    with _SUMMARY_LOCK:
        found = _SUMMARIES.get(key)
    if found is not None:
        return found
    made = _Summary.of(quarterly)
    with _SUMMARY_LOCK:
        if key not in _SUMMARIES:
            _SUMMARIES[key] = made
            # Forget it with the frame, so that a later frame at the same address starts afresh.
            weakref.finalize(quarterly, _SUMMARIES.pop, key, None)
        return _SUMMARIES[key]


def _quarter(data: AssessmentData, year: int, quarter: int) -> pl.DataFrame:
    return data.quarterly.filter((pl.col("year") == year) & (pl.col("quarter") == quarter))


def _previous(year: int, quarter: int) -> tuple[int, int]:
    return (year, quarter - 1) if quarter > 1 else (year - 1, 4)


def good_share(frame: pl.DataFrame) -> float | None:
    """Share of 好 among the people graded (不确定等次 does not count, as in analytics.quota), None when nobody."""
    graded = frame.filter(pl.col("grade").is_in(list(GRADE_POINTS)))
    if graded.height == 0:
        return None
    return float((graded["grade"] == GOOD).sum()) / graded.height


def headline(data: AssessmentData, settings: Settings, year: int, quarter: int) -> dict:
    """The numbers across the top of the overview for one quarter.

    people/units present, share of 好 among the graded against the cap (and last quarter's share),
    and how many units gave more 好 than their quota (analytics.quota).
    """
    summary = _summary(data)
    if summary is not None:  # the same numbers from the quarter's slim rows and the cells' grade counts
        now = summary.quarter(year, quarter)
        people = now["person_id"].n_unique()
        cells = _quarter_cells(summary, year, quarter)
        return {
            "period": period_label(year, quarter),
            "people": people,
            "units": now["unit"].n_unique(),
            "good_share": _cells_good_share(cells),
            "previous_good_share": _cells_good_share(_quarter_cells(summary, *_previous(year, quarter))),
            "cap": settings.quota.good_cap,
            # Each person once in the quarter: a unit's people graded (and given 好) are its cells' counts.
            "units_over_quota": _cells_over_quota(cells, settings)
            if people == now.height
            else _units_over_quota(now, settings),
            "people_total": summary.memo("people_total", lambda: summary.people["person_id"].n_unique()),
        }
    now, before = _quarter(data, year, quarter), _quarter(data, *_previous(year, quarter))
    quotas = quarterly_quota(AssessmentData(now, data.annual.head(0), data.outcomes.head(0)), settings)
    return {
        "period": period_label(year, quarter),
        "people": now["person_id"].n_unique(),
        "units": now["unit"].n_unique(),
        "good_share": good_share(now),
        "previous_good_share": good_share(before),
        "cap": settings.quota.good_cap,
        "units_over_quota": quotas.filter(pl.col("over")).height,
        "people_total": data.quarterly["person_id"].n_unique(),
    }


def grade_mix(data: AssessmentData, last: int | None = None) -> pl.DataFrame:
    """Count and share of each grade per quarter (every grade listed, zeros included), oldest first."""
    summary = _summary(data)
    if summary is not None:  # the cells' grade counts added up per quarter
        q = _per_quarter(summary.cells, QUARTERLY_GRADES)
    else:
        q = data.quarterly.filter(pl.col("year").is_not_null() & pl.col("quarter").is_not_null())
    if q.height == 0:
        return pl.DataFrame(schema={"period": pl.Utf8, "grade": pl.Utf8, "count": pl.Int64, "share": pl.Float64})
    if summary is not None:
        counts = (
            q.select(period_expr(), *QUARTERLY_GRADES)
            .unpivot(index="period", variable_name="grade", value_name="count")
            .with_columns(pl.col("count").cast(pl.Int64))
        )
    else:
        counts = q.with_columns(period_expr()).group_by("period", "grade").agg(count=pl.len().cast(pl.Int64))
    all_periods = counts.select("period").unique()
    grid = all_periods.join(pl.DataFrame({"grade": list(QUARTERLY_GRADES)}), how="cross")
    out = (
        grid.join(counts, on=["period", "grade"], how="left")
        .with_columns(pl.col("count").fill_null(0))
        .with_columns(share=pl.col("count") / pl.col("count").sum().over("period"))
        .with_columns(order=pl.col("grade").replace_strict(list(QUARTERLY_GRADES), list(range(5)), default=9))
        .sort("period", "order")
        .drop("order")
    )
    if last:
        keep = sorted(out["period"].unique().to_list())[-last:]
        out = out.filter(pl.col("period").is_in(keep))
    return out


def good_share_by_unit(data: AssessmentData, last: int = 8, top: int | None = None) -> pl.DataFrame:
    """Unit x quarter share of 好 (the heatmap), last `last` quarters; units ordered by their latest share.

    `top` keeps the units with the highest latest share (for a compact screen).
    """
    summary = _summary(data)
    schema = {"unit": pl.Utf8, "period": pl.Utf8, "n": pl.Int64, "good": pl.Int64, "share": pl.Float64}
    if summary is not None:
        return _good_share_cells(summary, last, top, schema)
    q = data.quarterly.filter(pl.col("year").is_not_null() & pl.col("quarter").is_not_null())
    if q.height == 0:
        return pl.DataFrame(schema=schema)
    q = q.with_columns(period_expr())
    keep = sorted(q["period"].unique().to_list())[-last:]
    counted = [pl.len().cast(pl.Int64).alias("n"), (pl.col("grade") == GOOD).sum().cast(pl.Int64).alias("good")]
    cells = (
        q.filter(pl.col("period").is_in(keep))
        .group_by("unit", "period")
        .agg(*counted)
        .with_columns(pl.col("unit").cast(pl.Utf8), share=pl.col("good") / pl.col("n"))
    )
    latest = cells.sort("period").group_by("unit").agg(latest=pl.col("share").last(), mean=pl.col("share").mean())
    order = latest.sort(["latest", "mean", "unit"], descending=[True, True, False])
    if top:
        order = order.head(top)
    ranked = order.with_row_index("order").select("unit", "order")
    return cells.join(ranked, on="unit", how="inner").sort("order", "period").drop("order").select(list(schema))


def _good_share_cells(summary: _Summary, last: int, top: int | None, schema: dict) -> pl.DataFrame:
    """good_share_by_unit from the summary's cells, added up per unit and quarter by integer position (a
    grouping into some 75,000 unit-quarters costs more than the rest of the overview); the units' names and
    the period labels are written out for the units shown."""
    shown = list(summary.memo("periods", lambda: _periods(summary.cells)))[-last:]
    if not shown:
        return pl.DataFrame(schema=schema)
    wanted = [period_index(*parse_period(p)) for p in shown]
    first, span = min(wanted), max(wanted) - min(wanted) + 1
    quarter = pl.col("year") * 4 + pl.col("quarter") - 1
    cells = summary.cells.select("unit", (quarter - first).alias("q"), "rows", GOOD).filter(
        (pl.col("q") + first).is_in(wanted)
    )
    # Each unit as 0..units-1 (a unit without a name is one of them, as a group of its own): by a table over
    # the category codes, or for a few cells (a narrowed view) by sorting them.
    code = cells["unit"].to_physical()
    missing = code.max() + 1 if code.len() else 0
    code = code.fill_null(missing).to_numpy()
    if code.size * 8 < missing:
        present, unit = np.unique(code, return_inverse=True)
    else:
        lookup = np.zeros(int(missing) + 1, dtype=np.int64)
        present = np.flatnonzero(np.bincount(code, minlength=lookup.size))
        lookup[present] = np.arange(present.size)
        unit = lookup[code]
    unit_cell = unit * span + cells["q"].to_numpy()
    n = np.bincount(unit_cell, weights=cells["rows"].to_numpy(), minlength=present.size * span)
    good = np.bincount(unit_cell, weights=cells[GOOD].to_numpy(), minlength=present.size * span)
    at = np.flatnonzero(n)  # the unit-quarters with people, by unit then quarter
    long = pl.DataFrame(
        {
            "_unit": pl.Series(at // span, dtype=pl.UInt32),
            "q": pl.Series(at % span, dtype=pl.Int32),
            "n": n[at].astype(np.int64),
            "good": good[at].astype(np.int64),
        }
    ).with_columns(share=pl.col("good") / pl.col("n"))
    # A name per unit: the cells' own value at one of its rows (null for the unit without a name).
    row_of = np.empty(present.size, dtype=np.int64)
    row_of[unit] = np.arange(code.size)
    names = cells["unit"].gather(row_of).cast(pl.Utf8)
    # Units by their latest share, then their mean share (over their quarters in order), then name.
    order = long.group_by("_unit", maintain_order=True).agg(latest=pl.col("share").last(), mean=pl.col("share").mean())
    order = order.with_columns(unit=names.gather(order["_unit"])).sort(
        ["latest", "mean", "unit"], descending=[True, True, False]
    )
    if top:
        order = order.head(top)
    ranked = order.with_row_index("_order").filter(pl.col("unit").is_not_null()).select("_unit", "unit", "_order")
    return (
        long.join(ranked, on="_unit", how="inner")
        .sort("_order", "q")
        .with_columns(year=(pl.col("q") + first) // 4, quarter=(pl.col("q") + first) % 4 + 1)
        .with_columns(period_expr())
        .select(list(schema))
    )


def flags_by_kind(flags: pl.DataFrame) -> pl.DataFrame:
    """Open flags per kind with their strongest severity, most flags first."""
    if flags.height == 0:
        return pl.DataFrame(schema={"kind": pl.Utf8, "count": pl.Int64, "severity": pl.Float64})
    return (
        flags.group_by("kind")
        .agg(count=pl.len().cast(pl.Int64), severity=pl.col("severity").max())
        .sort(["count", "kind"], descending=[True, False])
    )


def strongest(flags: pl.DataFrame, k: int = 5) -> pl.DataFrame:
    """The k strongest flags: severity first, then the smallest q-value."""
    return flags.sort(["severity", "q_value"], descending=[True, False], nulls_last=True).head(k)


EXTREME_COLUMNS = ("lane", "position", "rank", "tied", "name", "unit", "value")
SHOWN_TIED = 3  # names listed for a shared place; the rest are counted


def lane_extremes(ranked: pl.DataFrame, k: int = 2, rank_col: str = "rank", joiner: str = "、") -> pl.DataFrame:
    """Top k and bottom k of each lane from a ranking (analytics.rankings.rank_people).

    One row per place: people sharing a place are one row (`tied` = how many share it in the whole
    lane, `name` lists up to three of those shown, '…' when more), never two of them picked at random.
    A place is top when fewer than k people shown stand before it, bottom when fewer than k stand after.
    Columns lane, position ('▲' top, '▼' bottom), rank, tied, name, unit, value, person_id (when the place is one
    person's, else null); unranked people are
    left out; in a small lane a place is shown once.
    """
    wanted = [c for c in EXTREME_COLUMNS if c not in ("position", "tied")]
    if ranked.height == 0 or any(c not in ranked.columns for c in wanted):
        return pl.DataFrame(schema={c: pl.Utf8 for c in (*EXTREME_COLUMNS, "person_id")})
    place = pl.col(rank_col)
    if "tied" not in ranked.columns:
        ranked = ranked.filter(place.is_not_null())
        ranked = ranked.with_columns(pl.len().over("lane", rank_col).cast(pl.UInt32).alias("tied"))
    # Only places with fewer than k shown before (a rank up to the lane's k-th smallest) or after (from its
    # k-th largest) can be listed: those rows are picked first, a few per lane, so the grouping below runs on
    # them and not on the whole lane ranking. Worked out on the lane (as an integer code) and rank alone.
    # A lane as an integer: its stretch in a ranking sorted by lane (as rank_people's is), else its category code.
    lane = pl.col("lane").rle_id() if ranked["lane"].is_sorted() else pl.col("lane").cast(pl.Categorical).to_physical()
    places = ranked.select(lane.alias("_lane"), place.alias("_place"))
    ranked_only = pl.col("_place").drop_nulls()
    top, bottom = ranked_only.bottom_k(k).max().over("_lane"), ranked_only.top_k(k).min().over("_lane")
    keep = places.select(pl.col("_place").is_not_null() & ((pl.col("_place") <= top) | (pl.col("_place") >= bottom)))
    ranked = ranked.filter(keep.to_series())
    tie = "person_id" if "person_id" in ranked.columns else "name"
    places = (
        ranked.sort("lane", rank_col, tie)
        .group_by("lane", rank_col, maintain_order=True)
        .agg(
            pl.col("tied").first(),
            pl.col("name").head(SHOWN_TIED).str.join(joiner),
            (pl.len() > SHOWN_TIED).alias("_more"),
            pl.col("unit").unique(maintain_order=True).head(SHOWN_TIED).str.join(joiner),
            pl.col("value").first(),
            pl.len().alias("_shown"),
            # One person in the place: their id, so the name can link to the profile (a shared place lists names).
            (pl.when(pl.len() == 1).then(pl.col(tie).first()) if tie == "person_id" else pl.lit(None))
            .cast(pl.Utf8)
            .alias("person_id"),
        )
        .with_columns(pl.when(pl.col("_more")).then(pl.col("name") + "…").otherwise(pl.col("name")).alias("name"))
    )
    before = pl.col("_shown").cum_sum().over("lane") - pl.col("_shown")
    after = pl.col("_shown").sum().over("lane") - before - pl.col("_shown")
    marked = places.with_columns(
        position=pl.when(before < k).then(pl.lit("▲")).when(after < k).then(pl.lit("▼")).otherwise(None)
    )
    return marked.filter(pl.col("position").is_not_null()).select(*EXTREME_COLUMNS, "person_id")


def change_arrows(frame: pl.DataFrame, column: str = "rank_change", out: str = "change") -> pl.DataFrame:
    """A text column showing a rank change as ▲3 (up), ▼2 (down), ＝ (same) or blank (new)."""
    if column not in frame.columns:
        return frame
    value = pl.col(column)
    text = (
        pl.when(value > 0)
        .then(pl.lit("▲") + value.cast(pl.Utf8))
        .when(value < 0)
        .then(pl.lit("▼") + (-value).cast(pl.Utf8))
        .when(value == 0)
        .then(pl.lit("＝"))
        .otherwise(pl.lit(""))
    )
    return frame.with_columns(text.alias(out))


def quota_use(data: AssessmentData, settings: Settings, year: int, quarter: int) -> pl.DataFrame:
    """Each unit's use of its 好 quota in one quarter, units over their quota first."""
    now = AssessmentData(_quarter(data, year, quarter), data.annual.head(0), data.outcomes.head(0))
    return quarterly_quota(now, settings).sort(["over", "share", "unit"], descending=[True, True, False])


def select_flags(
    flags: pl.DataFrame,
    kinds: tuple[str, ...] | None = None,
    min_severity: float = 0.0,
    order: str = "severity",
    year: int | None = None,
) -> pl.DataFrame:
    """Flags of the chosen kinds at or above a severity (and touching `year`), strongest first or smallest q first."""
    out = flags
    if year is not None:
        first = pl.col("period_from").str.slice(0, 4).cast(pl.Int32, strict=False)
        last = pl.coalesce(pl.col("period_to"), pl.col("period_from")).str.slice(0, 4).cast(pl.Int32, strict=False)
        out = out.filter((first <= year) & (last >= year))
    if kinds:
        out = out.filter(pl.col("kind").is_in(list(kinds)))
    if min_severity > 0:
        out = out.filter(pl.col("severity") >= min_severity)
    if order == "q_value":
        return out.sort(["q_value", "severity"], descending=[False, True], nulls_last=True)
    return out.sort(["severity", "q_value"], descending=[True, False], nulls_last=True)


def arrived_first(frame: pl.DataFrame, flag_id: str) -> pl.DataFrame:
    """The flag a link pointed at first, the rest in their order (its marker in `arrived`: '▶')."""
    here = pl.col("flag_id") == flag_id
    return (
        pl.concat([frame.filter(here), frame.filter(~here)])
        .with_columns(pl.when(pl.col("flag_id") == flag_id).then(pl.lit("▶")).otherwise(pl.lit("")).alias("arrived"))
        .select("arrived", pl.exclude("arrived"))
    )


def flag_list(flags: pl.DataFrame, lang: str, people: pl.DataFrame | None = None) -> pl.DataFrame:
    """The columns an inspector scans, with the evidence sentence in the reader's language.

    With `people` (person_id, name: analytics.person.directory), a flag about one person carries
    `person_id` and `person_name`, so the page can link the name to the profile. With review columns
    (analytics.flag_review.with_status) present, the status and assignee are listed too.
    """
    from analytics.flag_review import labelled
    from analytics.i18n import kind_label
    from analytics.numbers import period_words

    text = "evidence_en" if lang == "en" else "evidence_zh"
    labels = {k: kind_label(k, lang) for k in flags["kind"].unique().to_list()}
    if people is not None:
        named = people.select("person_id", pl.col("name").alias("person_name"))
        flags = (
            flags.with_columns(pl.when(pl.col("subject_type") == "person").then(pl.col("subject")).alias("person_id"))
            .join(named, on="person_id", how="left")
            .with_columns(pl.coalesce("person_name", "subject").alias("subject"))  # a person by name, not by code
        )
    review = ["status", "assignee"] if "status" in flags.columns else []
    if review:
        flags = labelled(flags, lang)
    person = ["person_id", "person_name"] if people is not None else []
    return flags.select(
        pl.col("kind").replace_strict(labels, default=pl.col("kind")).alias("kind_label"),
        "subject",
        *person,
        "unit",
        "lane",
        *[
            pl.col(c).map_elements(lambda x: period_words(x, lang), return_dtype=pl.Utf8)
            for c in ("period_from", "period_to")
        ],
        "severity",
        "q_value",
        "n",
        *review,
        pl.col(text).alias("evidence"),
        "flag_id",
        *(["flag_key"] if "flag_key" in flags.columns else []),  # links to a profile carry the finding
    )
