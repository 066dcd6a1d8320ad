"""Which queues are tested: every unit and every section (内设机构) of at least `min_people` people.

A *scope* is a unit, or one of its sections whether or not the section has its own reviewer (a section
that holds the whole unit adds nothing and is left out). Cells are integer-coded from the start: one row
per scope, person slot (0-based within the scope) and quarter, with the grade as a small code. Time runs
from Q1 of the data's first year, so calendar years are blocks of four quarters (the windows need that).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import polars as pl

from analytics.vocab import AVERAGE, FAIRLY_GOOD, GOOD, POOR

GRADE_CODE = {GOOD: 0, FAIRLY_GOOD: 1, AVERAGE: 2, POOR: 3}  # anything else (不确定等次, blank) is 4: not graded
UNGRADED_CODE = 4
VARIANTS = ("top", "nostar", "bottom")  # 好 as given; 好 without persistent holders; 一般/较差 among the rest
FINDING_OF_VARIANT = {"top": "top", "nostar": "top", "bottom": "bottom"}


@dataclass
class Scopes:
    """Every scope with its cells, sorted by scope; cells of scope s are [offsets[s], offsets[s + 1])."""

    unit: list[str]  # per scope
    section: list[str | None]  # None for the unit itself
    lane: list[str | None]
    n_slots: np.ndarray  # people ever in the scope
    slot: np.ndarray  # per cell
    time: np.ndarray  # per cell: quarters since Q1 of first_year (int16)
    code: np.ndarray  # per cell: GRADE_CODE
    offsets: np.ndarray
    first_year: int
    n_years: int

    @property
    def count(self) -> int:
        return len(self.unit)

    def keys(self, seed: int, variant: str) -> np.ndarray:
        """One 64-bit stream key per scope for a variant, from names only: a scope's null draws do not
        depend on what else is in the data."""
        text = [f"{seed}\x1f{u}\x1f{s or ''}\x1f{variant}" for u, s in zip(self.unit, self.section, strict=True)]
        return np.array([int.from_bytes(hashlib.sha1(t.encode()).digest()[:8], "little") for t in text], np.uint64)


def _base(quarterly: pl.DataFrame) -> pl.LazyFrame:
    cols = ["person_id", "unit", "section", "lane", "year", "quarter", "grade"]
    q = quarterly.lazy().select([pl.col(c) if c in quarterly.columns else pl.lit(None).alias(c) for c in cols])
    return q.filter(
        pl.col("unit").is_not_null()
        & pl.col("person_id").is_not_null()
        & pl.col("year").is_not_null()
        & pl.col("quarter").is_not_null()
    ).select(
        pl.col("person_id").cast(pl.Utf8),
        pl.col("unit").cast(pl.Utf8),
        pl.col("section").cast(pl.Utf8),
        pl.col("lane").cast(pl.Utf8),
        (pl.col("year").cast(pl.Int32) * 4 + pl.col("quarter").cast(pl.Int32) - 1).alias("period"),
        pl.col("grade").replace_strict(GRADE_CODE, default=UNGRADED_CODE, return_dtype=pl.Int8).alias("code"),
    )


def _place(names: pl.Series, column: str) -> pl.Expr:
    """Each row's place among the sorted distinct `names` of `column` (null stays null)."""
    return pl.when(pl.col(column).is_not_null()).then(pl.lit(names).search_sorted(pl.col(column)).cast(pl.Int32))


def cells_of_scopes(quarterly: pl.DataFrame, min_people: int, unit: str | None = None) -> Scopes | None:
    """Integer-coded cells of every scope (or of one unit's scopes); None when there is nothing to test."""
    q = _base(quarterly)
    if unit is not None:
        q = q.filter(pl.col("unit") == unit)
    # Names to integer codes once, their places among the sorted names (so codes sort as the names do); everything
    # after is numpy and group-bys on integers. The rows' names are only read, never copied: joining the rows to
    # the names copied every row's columns twice over and was most of the detector's memory at province scale.
    names = {
        c: q.select(pl.col(c).drop_nulls().unique().sort()).collect(engine="streaming").to_series()
        for c in ("unit", "person_id", "section", "lane")
    }
    coded = q.select(
        *(
            _place(names[c], c).alias(a)
            for c, a in (("unit", "u"), ("person_id", "p"), ("section", "sc"), ("lane", "lc"))
        ),
        "period",
        "code",
    ).collect()
    if coded.height == 0:
        return None
    first_year = int(coded["period"].min()) // 4
    n_years = int(coded["period"].max()) // 4 - first_year + 1
    quarters = 4 * n_years
    units, people = names["unit"].to_frame(), names["person_id"].to_frame()
    u = coded["u"].to_numpy().astype(np.int64)
    p = coded["p"].to_numpy().astype(np.int64)
    time = coded["period"].to_numpy().astype(np.int64) - 4 * first_year
    code = coded["code"].to_numpy()
    # One cell per unit, person and quarter: a duplicated row counts once, 好 over the rest.
    cell = (u * people.height + p) * quarters + time
    order = np.lexsort((code, cell))
    keep = order[np.concatenate([[True], cell[order][1:] != cell[order][:-1]])]
    coded, u, p, time, code = coded[keep], u[keep], p[keep], time[keep], code[keep]
    sections = (
        coded.filter(pl.col("sc").is_not_null())
        .group_by("u", "sc")
        .agg(pl.col("p").n_unique().alias("people"))
        .join(coded.group_by("u").agg(pl.col("p").n_unique().alias("unit_people")), on="u")
        .filter((pl.col("people") >= min_people) & (pl.col("people") < pl.col("unit_people")))
        .sort("u", "sc")
        .with_row_index("s")
    )
    in_section = coded.select("u", "sc").join(
        sections.select("u", "sc", "s"), on=["u", "sc"], how="left", maintain_order="left"
    )["s"]
    own = in_section.is_not_null().to_numpy()
    n_units = units.height
    scope = np.concatenate([u, n_units + in_section.fill_null(0).to_numpy().astype(np.int64)[own]])
    person = np.concatenate([p, p[own]])
    time = np.concatenate([time, time[own]]).astype(np.int16)
    code = np.concatenate([code, code[own]])
    del u, p, in_section
    order = np.argsort((scope * people.height + person) * quarters + time, kind="stable")
    scope, person, time, code = scope[order], person[order].astype(np.int32), time[order], code[order]
    n_scopes = n_units + sections.height
    offsets = np.searchsorted(scope, np.arange(n_scopes + 1))
    new_person = np.ones(len(scope), dtype=bool)
    new_person[1:] = (person[1:] != person[:-1]) | (scope[1:] != scope[:-1])
    run = np.cumsum(new_person) - 1
    slot = run - run[offsets[:-1]][scope]
    n_slots = np.diff(np.concatenate([run[offsets[:-1]], [run[-1] + 1]]))
    lane_codes = (
        coded.group_by("u", "lc")
        .len()
        .sort(["u", "len", "lc"], descending=[False, True, False], nulls_last=True)
        .group_by("u", maintain_order=True)
        .agg(pl.col("lc").first())
        .sort("u")["lc"]
    )
    lanes = names["lane"].gather(lane_codes).to_list()
    unit_names = units["unit"].to_list()
    sec_unit = sections["u"].to_numpy()
    return Scopes(
        unit=unit_names + [unit_names[i] for i in sec_unit],
        section=[None] * n_units + names["section"].gather(sections["sc"]).to_list(),
        lane=lanes + [lanes[i] for i in sec_unit],
        n_slots=n_slots.astype(np.int64),
        slot=slot.astype(np.int32),
        time=time,
        code=code,
        offsets=offsets,
        first_year=first_year,
        n_years=n_years,
    )


@dataclass
class Queues:
    """Dense person x quarter arrays for a batch of tests (one test = one scope under one variant).

    eligible[i, j, t]: slot j could be given the grade in quarter t; chosen[i, j, t]: it was.
    """

    scope: np.ndarray
    variant: np.ndarray  # index into VARIANTS
    n_slots: np.ndarray
    eligible: np.ndarray
    chosen: np.ndarray
    stars: np.ndarray  # people set aside as persistent 好 holders (nostar only)

    def take(self, rows: np.ndarray) -> Queues:
        return Queues(
            self.scope[rows], self.variant[rows], self.n_slots[rows], self.eligible[rows], self.chosen[rows],
            self.stars[rows],
        )  # fmt: skip


def queues(scopes: Scopes, rows: np.ndarray, min_people: int, min_quarters: int) -> Queues:
    """The three variants of the scopes at `rows` (sorted by size, largest first)."""
    starts, ends = scopes.offsets[rows], scopes.offsets[rows + 1]
    lengths = ends - starts
    which = np.repeat(np.arange(len(rows)), lengths)
    pick = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths) + np.repeat(starts, lengths)
    shape = (len(rows), int(scopes.n_slots[rows].max()), 4 * scopes.n_years)
    code = np.full(shape, UNGRADED_CODE, dtype=np.int8)
    code[which, scopes.slot[pick], scopes.time[pick]] = scopes.code[pick]
    graded = code < UNGRADED_CODE
    good = code == 0
    # Persistent 好 holders: 好 in every quarter they were graded, over at least 2 x min_quarters quarters.
    # The retest draws the others' 好 at random among them; strictly, H0 given the stars also rules out
    # a star among the others, which chance makes at most ~p^8 per person, so the retest stays honest.
    n_graded = graded.sum(axis=2)
    star = (n_graded >= 2 * min_quarters) & (good.sum(axis=2) == n_graded)
    has_star = star.any(axis=1) & (((n_graded > 0) & ~star).sum(axis=1) >= min_people)
    not_star = ~star[:, :, None]
    variants = [
        (np.arange(len(rows)), graded, good, np.zeros(len(rows), np.int64)),
        (np.flatnonzero(has_star), graded & not_star, good & not_star, star.sum(axis=1)),
        (np.arange(len(rows)), graded & ~good, (code == 2) | (code == 3), np.zeros(len(rows), np.int64)),
    ]
    parts = []
    for v, (keep, elig, chosen, stars) in enumerate(variants):
        if len(keep):
            parts.append((keep, np.full(len(keep), v), elig[keep], chosen[keep], stars[keep]))
    keep = np.concatenate([p[0] for p in parts])
    out = Queues(
        scope=rows[keep],
        variant=np.concatenate([p[1] for p in parts]),
        n_slots=scopes.n_slots[rows[keep]],
        eligible=np.concatenate([p[2] for p in parts]),
        chosen=np.concatenate([p[3] for p in parts]),
        stars=np.concatenate([p[4] for p in parts]),
    )
    return out.take(np.argsort(-out.n_slots, kind="stable"))  # the sampler wants the largest first
