"""How well the detectors find what was planted in the demo city (`demo_truth`), and how rarely they fire on honest units.

`evaluate(db_or_con, settings, seed)` runs every registered detector over the store and scores each flag kind
against the planted patterns of its family (by the pattern's name):

| pattern (demo_truth) | flag kind |
|---|---|
| rotation_* | rotation |
| lenient_* | leniency |
| compression, compression_* | compression |
| silent_negatives | silent_negatives |
| outcome_rule | outcome_rule |
| honest_* | none: honest look-alikes (stars, seasonal sections, staff turnover, small units, ...) |

Kinds with no planted family (quota, outlier) get the flag counts and the honest-unit rate only.

Findable: a plant only tests a detector if the data show it. Each plant is checked by an exact test on the
people and quarters the truth names (`people`, `period_from`, `period_to`), with nothing searched for:
rotation, the lower-tail Monte Carlo p of dispersion and of repeats under fixed margins (min of the two,
doubled; 一般/较差 among those not given 好 for a pattern named *bottom*); a lenient reviewer, the
Mantel-Haenszel test of its people's 好 against the unit's other people, by quarter and score fifth (by quarter
only where the plant raised the scores too); a lenient sole
reviewer, the binomial test of the unit's 好 against the 40% cap; compression, the binomial lower tail of grades
other than 较好 against the rate in the whole data. Findable = p < FINDABLE_P. Other families count as findable.

Matching rules
- A planted subject is *found* by a flag of its family's kind in the same unit whose window overlaps the
  plant's quarters; where the truth names a reviewer or a person, the flag must also name that subject. A
  reviewer also counts as found through a `section` flag on one of the sections it grades in that unit.
- A flag *hits its family* when it matches some planted subject of its kind's family; it *hits another pattern*
  when it does not but its unit has some planted pattern; otherwise it *falls on an honest unit*.
  precision = hits on the family / flags.
- Honest units: units of the quarterly data whose truth rows, if any, are all honest look-alikes.
  honest_flag_rate = honest units with at least one flag of the kind / honest units. The row kind
  'rotation+leniency+compression' counts an honest unit flagged by any of the three.
- Size bands follow the unit's number of distinct people over all quarters: <10, 10-29, 30+.

Rows: per kind, one '(all)' row per size band and one row per planted pattern per band; per look-alike
pattern one row per kind with the honest units of that look-alike flagged. `seconds` is the detector's run time.
"""

from __future__ import annotations

import time
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
from scipy.stats import binom, norm

from analytics import store
from analytics.dataset import AssessmentData, load_dataset
from analytics.detectors import registry
from analytics.detectors.base import FLAG_KINDS, empty_flags
from analytics.errors import UserError
from analytics.i18n import FLAG_KIND_LABELS
from analytics.settings import Settings
from analytics.vocab import GOOD, NEGATIVE_GRADES

FAMILIES = (
    ("rotation_", "rotation"),
    ("lenient_", "leniency"),
    ("compression", "compression"),
    ("silent_negatives", "silent_negatives"),
    ("outcome_rule", "outcome_rule"),
)
FAMILY_KINDS = {kind for _, kind in FAMILIES}
LOOKALIKE = "honest_"
SCREENED = ("rotation", "leniency", "compression")  # the kinds whose honest-unit rate is also reported together
SCREENED_KIND = "+".join(SCREENED)
FINDABLE_P = 0.01
FINDABLE_DRAWS = 2000
CAP = 0.40
SIZE_BANDS = ("<10", "10-29", "30+")
ALL = "all"
ALL_PATTERNS = "(all)"

SCHEMA: dict[str, pl.DataType] = {
    "kind": pl.Utf8,
    "pattern": pl.Utf8,
    "size_band": pl.Utf8,
    "planted": pl.Int64,
    "findable": pl.Int64,
    "found": pl.Int64,
    "found_findable": pl.Int64,
    "recall": pl.Float64,
    "findable_recall": pl.Float64,
    "flags": pl.Int64,
    "flags_on_family": pl.Int64,
    "flags_on_other_pattern": pl.Int64,
    "flags_on_honest": pl.Int64,
    "precision": pl.Float64,
    "honest_units": pl.Int64,
    "honest_units_flagged": pl.Int64,
    "honest_flag_rate": pl.Float64,
    "seconds": pl.Float64,
}
TRUTH_COLUMNS = (
    "pattern",
    "subject_type",
    "subject",
    "unit",
    "detail",
    "section",
    "people",
    "period_from",
    "period_to",
)

PATTERN_LABELS: dict[str, tuple[str, str]] = {
    "rotation_strict": ("严格轮流", "strict queue"),
    "rotation_norepeat": ("不连续两季", "never twice running"),
    "rotation_partial": ("部分轮流", "partial rotation"),
    "rotation_section": ("科室内轮流", "rotation within one section"),
    "rotation_bottom": ("一般等次轮流", "bottom rotation (一般 in turn)"),
    "rotation_star": ("围绕稳定优秀者轮流", "rotation around a permanent star"),
    "lenient_reviewer": ("科室评鉴人宽松", "lenient section reviewer"),
    "lenient_scored": ("宽松且抬高得分", "lenient, scores raised too"),
    "lenient_sole": ("唯一评鉴人宽松", "lenient sole reviewer"),
    "compression": ("全期趋中", "compressed, whole period"),
    "compression_year": ("单年趋中", "compressed, one year"),
    "silent_negatives": ("不记负面", "silent negatives"),
    "outcome_rule": ("结果运用违规", "outcome rule break"),
    "honest_star": ("稳定优秀者", "stable stars"),
    "honest_seasonal": ("季节性岗位", "seasonal roles"),
    "honest_turnover": ("人员变动", "staff turnover"),
    "honest_sole_low": ("得分偏低的唯一评鉴人", "honest sole reviewer, low scores"),
    "honest_small": ("4-6人小单位", "small unit of 4-6"),
    ALL_PATTERNS: ("全部", "all"),
}


def family_of(pattern: pl.Expr) -> pl.Expr:
    """The flag kind a planted pattern is found by (null for honest look-alikes and unknown patterns)."""
    out = pl.lit(None, dtype=pl.Utf8)
    for prefix, kind in reversed(FAMILIES):
        out = pl.when(pattern.str.starts_with(prefix)).then(pl.lit(kind)).otherwise(out)
    return out


def _t(period: pl.Expr) -> pl.Expr:
    """'2024Q3' -> period index year * 4 + quarter - 1 (null stays null)."""
    return (
        period.str.slice(0, 4).cast(pl.Int64, strict=False) * 4
        + period.str.slice(5, 1).cast(pl.Int64, strict=False)
        - 1
    )


def _size_band(people: pl.Expr) -> pl.Expr:
    return pl.when(people < 10).then(pl.lit("<10")).when(people < 30).then(pl.lit("10-29")).otherwise(pl.lit("30+"))


def _read_truth(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    truth = con.execute("SELECT * FROM demo_truth").pl() if "demo_truth" in tables else pl.DataFrame()
    if truth.height == 0:
        raise UserError(
            "this store has no demo_truth: evaluate scores detectors on a demo city (python -m analytics demo)"
        )
    return _conform_truth(truth)


def _conform_truth(truth: pl.DataFrame) -> pl.DataFrame:
    """Truth rows with every column (a store built before a column existed gets nulls)."""
    missing = [pl.lit(None, dtype=pl.Utf8).alias(c) for c in TRUTH_COLUMNS if c not in truth.columns]
    return truth.with_columns(missing).select(TRUTH_COLUMNS)


def _graded(data: AssessmentData) -> pl.DataFrame:
    q = data.quarterly
    return q.select(
        "person_id", "unit", "grade", pl.col("section").cast(pl.Utf8), pl.col("reviewer").cast(pl.Utf8),
        pl.col("score").cast(pl.Float64) if "score" in q.columns else pl.lit(None, dtype=pl.Float64).alias("score"),
        t=pl.col("year").cast(pl.Int64) * 4 + pl.col("quarter").cast(pl.Int64) - 1,
    ).filter(pl.col("grade").is_in([GOOD, "较好", *NEGATIVE_GRADES]) & pl.col("unit").is_not_null())  # fmt: skip


def _units(quarterly: pl.DataFrame, truth: pl.DataFrame) -> pl.DataFrame:
    """Every unit with its size band and whether it is honest."""
    planted = truth.filter(~pl.col("pattern").str.starts_with(LOOKALIKE)).select("unit").unique()
    return (
        quarterly.filter(pl.col("unit").is_not_null())
        .group_by("unit")
        .agg(pl.col("person_id").n_unique().alias("people"))
        .with_columns(_size_band(pl.col("people")).alias("size_band"))
        .join(planted.with_columns(pl.lit(False).alias("honest")), on="unit", how="left")
        .with_columns(pl.col("honest").fill_null(True))
    )


# ---------------------------------------------------------------- findability


def _plant_cells(graded: pl.DataFrame, plants: pl.DataFrame) -> pl.DataFrame:
    """The graded person-quarters of each plant's unit and quarters, with `mine` = the person is the plant's."""
    people = plants.select("truth_id", person_id=pl.col("people").str.split(",")).explode(
        "person_id", empty_as_null=True
    )
    cells = plants.select("truth_id", "unit", "t_from", "t_to").join(graded, on="unit")
    cells = cells.filter(pl.col("t").is_between(pl.col("t_from"), pl.col("t_to")))
    return cells.join(people.with_columns(mine=pl.lit(True)), on=["truth_id", "person_id"], how="left").with_columns(
        pl.col("mine").fill_null(False)
    )


def _mh_reviewer(cells: pl.DataFrame, by_score: bool) -> pl.DataFrame:
    """Mantel-Haenszel: the plant's people's 好 against the unit's other people, by quarter (and score fifth)."""
    pct = ((pl.col("score").rank("average") - 0.5) / pl.col("score").count()).over("truth_id", "t")
    fifth = pl.when(pl.col("score").is_null()).then(-1).otherwise((pct * 5).floor().clip(0, 4))
    strata = (
        cells.with_columns(s=fifth if by_score else pl.lit(0))
        .group_by("truth_id", "t", "s")
        .agg(
            n1=pl.col("mine").sum(),
            n=pl.len(),
            a=(pl.col("mine") & (pl.col("grade") == GOOD)).sum(),
            m=(pl.col("grade") == GOOD).sum(),
        )
        .with_columns(pl.col("n1", "n", "a", "m").cast(pl.Float64))
        .filter((pl.col("n1") > 0) & (pl.col("n") > pl.col("n1")))
        .with_columns(
            e=pl.col("n1") * pl.col("m") / pl.col("n"),
            v=pl.col("n1")
            * (pl.col("n") - pl.col("n1"))
            * pl.col("m")
            * (pl.col("n") - pl.col("m"))
            / (pl.col("n") ** 2 * (pl.col("n") - 1)),
        )
        .group_by("truth_id")
        .agg(o_e=(pl.col("a") - pl.col("e")).sum(), v=pl.col("v").sum())
    )
    z = (strata["o_e"] / strata["v"].sqrt()).fill_nan(0.0).to_numpy()
    return strata.select("truth_id", pl.Series("p", norm.sf(z)))


def _binomial_over_cap(cells: pl.DataFrame) -> pl.DataFrame:
    agg = cells.filter("mine").group_by("truth_id").agg(k=(pl.col("grade") == GOOD).sum(), n=pl.len())
    return agg.select("truth_id", pl.Series("p", binom.sf(agg["k"].to_numpy() - 1, agg["n"].to_numpy(), CAP)))


def _binomial_compressed(cells: pl.DataFrame, graded: pl.DataFrame) -> pl.DataFrame:
    rate = float((graded["grade"] != "较好").mean() or 0.0)
    agg = cells.filter("mine").group_by("truth_id").agg(m=(pl.col("grade") != "较好").sum(), n=pl.len())
    return agg.select("truth_id", pl.Series("p", binom.cdf(agg["m"].to_numpy(), agg["n"].to_numpy(), rate)))


def _rotation_p(cells: pl.DataFrame, bottom: bool, rng: np.random.Generator) -> float:
    """Lower-tail Monte Carlo p (min of dispersion and repeats, doubled) on one plant's people x quarters."""
    mine = cells.filter("mine")
    if bottom:  # the 一般/较差 handed round among those not given 好
        mine = mine.filter(pl.col("grade") != GOOD)
        hit = pl.col("grade").is_in(list(NEGATIVE_GRADES))
    else:
        hit = pl.col("grade") == GOOD
    if mine.height == 0:
        return 1.0
    people = mine["person_id"].unique().sort()
    quarters = mine["t"].unique().sort()
    idx = mine.with_columns(
        i=pl.col("person_id").replace_strict(people, pl.Series(range(len(people))), return_dtype=pl.Int64),
        j=pl.col("t").replace_strict(quarters, pl.Series(range(len(quarters))), return_dtype=pl.Int64),
        x=hit,
    )
    n, T = len(people), len(quarters)
    present = np.zeros((n, T), dtype=bool)
    x = np.zeros((n, T), dtype=bool)
    present[idx["i"].to_numpy(), idx["j"].to_numpy()] = True
    x[idx["i"].to_numpy(), idx["j"].to_numpy()] = idx["x"].to_numpy()
    k = x.sum(axis=0)
    if T < 4 or n < 3 or k.sum() == 0:
        return 1.0
    keys = rng.random((FINDABLE_DRAWS, n, T))
    keys[:, ~present] = np.inf
    ranks = keys.argsort(axis=1).argsort(axis=1)
    sims = ranks < k[None, None, :]
    share = k / np.maximum(present.sum(axis=0), 1)
    expected = (present * share).sum(axis=1)

    def dispersion(m: np.ndarray) -> np.ndarray:
        return ((m.sum(axis=-1) - expected) ** 2).sum(axis=-1)

    def repeats(m: np.ndarray) -> np.ndarray:
        return (m[..., 1:] & m[..., :-1]).sum(axis=(-1, -2))

    p_d = (1 + (dispersion(sims) <= dispersion(x)).sum()) / (FINDABLE_DRAWS + 1)
    p_r = (1 + (repeats(sims) <= repeats(x)).sum()) / (FINDABLE_DRAWS + 1)
    return min(1.0, 2 * min(p_d, p_r))


def findability(graded: pl.DataFrame, truth: pl.DataFrame, seed: int = 0) -> pl.DataFrame:
    """truth_id -> findable_p, the exact test of each plant on its own people and quarters (module docstring)."""
    t_all = (graded["t"].min(), graded["t"].max())
    plants = truth.with_columns(
        t_from=pl.coalesce(_t(pl.col("period_from")), pl.lit(t_all[0], dtype=pl.Int64)),
        t_to=pl.coalesce(_t(pl.col("period_to")), pl.lit(t_all[1], dtype=pl.Int64)),
        people=pl.col("people").fill_null(pl.col("subject")),
    )
    cells = _plant_cells(graded, plants)
    kind = plants.select("truth_id", "pattern", "kind")
    parts = []
    # Honest scores: the lenience must show at equal score. Raised scores: only the unit's 好 can show it.
    at_score = kind.filter(pl.col("pattern") == "lenient_reviewer")["truth_id"]
    parts.append(_mh_reviewer(cells.filter(pl.col("truth_id").is_in(at_score.implode())), by_score=True))
    raised = (pl.col("kind") == "leniency") & ~pl.col("pattern").is_in(["lenient_reviewer", "lenient_sole"])
    parts.append(_mh_reviewer(cells.filter(pl.col("truth_id").is_in(kind.filter(raised)["truth_id"].implode())), False))
    sole = kind.filter(pl.col("pattern") == "lenient_sole")["truth_id"]
    parts.append(_binomial_over_cap(cells.filter(pl.col("truth_id").is_in(sole.implode()))))
    squeezed = kind.filter(pl.col("kind") == "compression")["truth_id"]
    parts.append(_binomial_compressed(cells.filter(pl.col("truth_id").is_in(squeezed.implode())), graded))
    rng = np.random.default_rng(seed)
    rotations = kind.filter(pl.col("kind") == "rotation")
    by_plant = cells.filter(pl.col("truth_id").is_in(rotations["truth_id"].implode())).partition_by(
        "truth_id", as_dict=True
    )
    # One small simulation per rotation plant (tens of plants, each vectorised over its draws).
    rot = [
        (tid, _rotation_p(by_plant.get((tid,), cells.clear()), "bottom" in pattern, rng))
        for tid, pattern in rotations.select("truth_id", "pattern").iter_rows()
    ]
    parts.append(pl.DataFrame(rot, schema={"truth_id": pl.UInt32, "p": pl.Float64}, orient="row"))
    found = pl.concat([p.with_columns(pl.col("truth_id").cast(pl.UInt32), pl.col("p").cast(pl.Float64)) for p in parts])
    return truth.select("truth_id").join(found, on="truth_id", how="left").rename({"p": "findable_p"})


# ---------------------------------------------------------------- matching


def _targets(graded: pl.DataFrame, truth: pl.DataFrame) -> pl.DataFrame:
    """What a flag must name to find each planted subject (null match = any flag of the kind in the unit)."""
    named = truth.with_columns(
        pl.when(pl.col("subject_type").is_in(["reviewer", "person"])).then(pl.col("subject")).alias("match")
    )
    sections = (
        graded.filter(pl.col("reviewer").is_not_null() & pl.col("section").is_not_null())
        .select("unit", pl.col("reviewer").alias("subject"), pl.col("section").alias("match"))
        .unique()
    )
    via_section = truth.filter(pl.col("subject_type") == "reviewer").join(sections, on=["unit", "subject"])
    cols = ["truth_id", "kind", "pattern", "unit", "match", "t_from", "t_to"]
    return pl.concat([named.select(cols), via_section.select(cols)], how="vertical")


def _matches(flags: pl.DataFrame, targets: pl.DataFrame) -> pl.DataFrame:
    """(flag_row, truth_id, pattern) for every flag that finds a planted subject (same unit, overlapping window)."""
    joined = flags.select(
        "flag_row", "kind", "unit", pl.col("subject").alias("flag_subject"),
        f_from=_t(pl.col("period_from")), f_to=_t(pl.col("period_to")),
    ).join(targets, on=["kind", "unit"])  # fmt: skip
    overlap = (
        pl.col("f_from").is_null()
        | pl.col("t_from").is_null()
        | ((pl.col("f_from") <= pl.col("t_to")) & (pl.col("f_to") >= pl.col("t_from")))
    )
    named = pl.col("match").is_null() | (pl.col("match") == pl.col("flag_subject"))
    return joined.filter(named & overlap).select("flag_row", "truth_id", "pattern")


def _run(data: AssessmentData, settings: Settings, seed: int) -> tuple[pl.DataFrame, dict[str, float]]:
    """All flags, and each kind's run time."""
    frames, seconds = [], {}
    for detector in registry():
        start = time.perf_counter()
        flags = detector.detect(data, settings, seed)
        seconds[detector.kind] = seconds.get(detector.kind, 0.0) + time.perf_counter() - start
        frames.append(flags)
    flags = pl.concat(frames, how="vertical") if frames else empty_flags()
    return flags.with_row_index("flag_row"), seconds


def evaluate(db_or_con: str | Path | duckdb.DuckDBPyConnection, settings: Settings, seed: int = 0) -> pl.DataFrame:
    """Recall, precision and honest-unit flag rate per detector kind and planted pattern, overall and by unit size."""
    if isinstance(db_or_con, duckdb.DuckDBPyConnection):
        data, truth = load_dataset(db_or_con, settings), _read_truth(db_or_con)
    else:
        con = store.connect(db_or_con, read_only=True)
        try:
            data, truth = load_dataset(con, settings), _read_truth(con)
        finally:
            con.close()
    flags, seconds = _run(data, settings, seed)
    return score(flags, data, truth, seconds, seed)


def _rate(num: int, den: int) -> float | None:
    return num / den if den else None


def score(
    flags: pl.DataFrame,
    data: AssessmentData,
    truth: pl.DataFrame,
    seconds: dict[str, float] | None = None,
    seed: int = 0,
) -> pl.DataFrame:
    """The evaluation table for given flags (with a `flag_row` column) against given truth rows."""
    seconds = seconds or {}
    graded = _graded(data)
    truth = _conform_truth(truth).with_row_index("truth_id").with_columns(kind=family_of(pl.col("pattern")))
    units = _units(data.quarterly, truth)
    plants = truth.filter(pl.col("kind").is_not_null()).with_columns(
        t_from=_t(pl.col("period_from")), t_to=_t(pl.col("period_to"))
    )
    found_p = findability(graded, plants, seed) if plants.height else pl.DataFrame(schema={"truth_id": pl.UInt32})
    matches = _matches(flags, _targets(graded, plants))
    band_of = units.select("unit", "size_band", "honest")
    hit = matches.select("flag_row").unique().with_columns(pl.lit(True).alias("on_family"))
    flags = (
        flags.join(band_of, on="unit", how="left")
        .join(hit, on="flag_row", how="left")
        .with_columns(pl.col("on_family").fill_null(False))
        .with_columns(
            on_other=~pl.col("on_family") & (pl.col("honest").is_not_null() & ~pl.col("honest")),
            on_honest=~pl.col("on_family") & pl.col("honest").fill_null(False),
        )
    )
    found = (
        plants.select("truth_id", "kind", "pattern", "unit")
        .join(band_of, on="unit", how="left")
        .join(found_p, on="truth_id", how="left")
        .join(matches.select("truth_id").unique().with_columns(pl.lit(True).alias("found")), on="truth_id", how="left")
        .with_columns(
            pl.col("found").fill_null(False),
            findable=pl.col("findable_p").is_null() | (pl.col("findable_p") < FINDABLE_P),
        )
    )
    registered = {d.kind for d in registry()}
    kinds = [k for k in FLAG_KINDS if k in registered]
    rows = []
    for kind in kinds:  # a handful of kinds x bands: small loops over a few groups, the work is in the frames
        patterns = sorted(found.filter(pl.col("kind") == kind)["pattern"].unique().to_list())
        for band in (ALL, *SIZE_BANDS):
            rows += _kind_rows(kind, band, patterns, flags, units, found, matches, seconds)
    rows += _screened_rows(flags.filter(pl.col("kind").is_in(list(SCREENED))), units)
    rows += _lookalike_rows(flags, truth, kinds)
    if not rows:
        return pl.DataFrame(schema=SCHEMA)
    return pl.DataFrame(rows, schema=SCHEMA)


def _in_band(frame: pl.DataFrame, band: str) -> pl.DataFrame:
    return frame if band == ALL else frame.filter(pl.col("size_band") == band)


def _kind_rows(kind, band, patterns, flags, units, found, matches, seconds) -> list[dict]:
    kind_flags = _in_band(flags.filter(pl.col("kind") == kind), band)
    honest = _in_band(units.filter("honest"), band)
    flagged_honest = kind_flags.filter("on_honest").select("unit").n_unique()
    base = {
        "kind": kind, "size_band": band, "flags": kind_flags.height,
        "flags_on_other_pattern": int(kind_flags["on_other"].sum()), "flags_on_honest": int(kind_flags["on_honest"].sum()),
        "honest_units": honest.height, "honest_units_flagged": flagged_honest,
        "honest_flag_rate": _rate(flagged_honest, honest.height),
        "seconds": seconds.get(kind) if band == ALL else None,
    }  # fmt: skip
    out = []
    for pattern in (ALL_PATTERNS, *patterns):
        chosen = patterns if pattern == ALL_PATTERNS else [pattern]
        planted = _in_band(found.filter(pl.col("pattern").is_in(chosen)), band)
        findable = planted.filter("findable")
        on_family = kind_flags.join(
            matches.filter(pl.col("pattern").is_in(chosen)).select("flag_row").unique(), on="flag_row", how="semi"
        ).height
        has = kind in FAMILY_KINDS
        out.append({
            **base, "pattern": pattern,
            "planted": planted.height if has else None, "findable": findable.height if has else None,
            "found": int(planted["found"].sum()) if has else None,
            "found_findable": int(findable["found"].sum()) if has else None,
            "recall": _rate(int(planted["found"].sum()), planted.height) if has else None,
            "findable_recall": _rate(int(findable["found"].sum()), findable.height) if has else None,
            "flags_on_family": on_family if has else None,
            "precision": _rate(on_family, kind_flags.height) if pattern == ALL_PATTERNS and has else None,
        })  # fmt: skip
    return out


def _screened_rows(flags: pl.DataFrame, units: pl.DataFrame) -> list[dict]:
    """Honest units flagged by any of rotation, leniency, compression (the combined target)."""
    out = []
    for band in (ALL, *SIZE_BANDS):
        honest = _in_band(units.filter("honest"), band)
        hit = _in_band(flags, band).filter("on_honest").select("unit").n_unique()
        out.append({
            "kind": SCREENED_KIND, "pattern": ALL_PATTERNS, "size_band": band, "flags": _in_band(flags, band).height,
            "flags_on_honest": int(_in_band(flags, band)["on_honest"].sum()),
            "honest_units": honest.height, "honest_units_flagged": hit, "honest_flag_rate": _rate(hit, honest.height),
        })  # fmt: skip
    return out


def _lookalike_rows(flags: pl.DataFrame, truth: pl.DataFrame, kinds: list[str]) -> list[dict]:
    """Per honest look-alike pattern and kind: its units flagged (only units with no real plant count)."""
    honest = flags.filter("on_honest")
    looks = truth.filter(pl.col("pattern").str.starts_with(LOOKALIKE)).select("pattern", "unit").unique()
    out = []
    for pattern in sorted(looks["pattern"].unique().to_list()):
        mine = looks.filter(pl.col("pattern") == pattern)["unit"]
        for kind in [*kinds, SCREENED_KIND]:
            chosen = list(SCREENED) if kind == SCREENED_KIND else [kind]
            hit = honest.filter(pl.col("kind").is_in(chosen) & pl.col("unit").is_in(mine.implode()))
            n_hit = hit["unit"].n_unique()
            out.append({
                "kind": kind, "pattern": pattern, "size_band": ALL, "flags_on_honest": hit.height,
                "honest_units": mine.n_unique(), "honest_units_flagged": n_hit,
                "honest_flag_rate": _rate(n_hit, mine.n_unique()),
            })  # fmt: skip
    return out


# ---------------------------------------------------------------- the readable table


def _label(code: str, table: dict[str, tuple[str, str]]) -> str:
    zh, en = table.get(code, (code, code))
    return f"{zh} {en}"


def _kind_label(kind: str) -> str:
    if kind == SCREENED_KIND:
        return "三项合计 rotation+leniency+compression"
    return _label(kind, FLAG_KIND_LABELS)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.0f}%"


def _grid(headers: list[str], lines: list[list[str]]) -> list[str]:
    widths = [max([_width(h), *(_width(line[i]) for line in lines)]) for i, h in enumerate(headers)]
    out = ["| " + " | ".join(_pad(h, w) for h, w in zip(headers, widths, strict=True)) + " |",
           "|" + "|".join("-" * (w + 2) for w in widths) + "|"]  # fmt: skip
    out += ["| " + " | ".join(_pad(c, w) for c, w in zip(line, widths, strict=True)) + " |" for line in lines]
    return out


def _width(text: str) -> int:
    """Display width: CJK characters take two columns in a terminal."""
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


def format_table(table: pl.DataFrame, seed: int | None = None) -> str:
    """The evaluation as three plain-text tables (all unit sizes): recall per pattern, precision and honest rate
    per kind, and the honest look-alikes flagged. Labels in Chinese and English; rates as percentages."""
    whole = table.filter(pl.col("size_band") == ALL)
    heading = "检测评估 Detector evaluation" + ("" if seed is None else f" (seed {seed})")
    recall_rows = whole.filter((pl.col("pattern") != ALL_PATTERNS) & pl.col("planted").is_not_null())
    recall = _grid(
        ["类别 Kind", "埋设模式 Planted pattern", "埋设 Planted", "可检出 Findable", "检出 Found",
         "召回率 Recall", "可检出召回率 Findable recall"],
        [[_kind_label(r["kind"]), _label(r["pattern"], PATTERN_LABELS), str(r["planted"]), str(r["findable"]),
          str(r["found"]), _pct(r["recall"]), _pct(r["findable_recall"])] for r in recall_rows.iter_rows(named=True)],
    )  # fmt: skip
    kinds = whole.filter(pl.col("pattern") == ALL_PATTERNS)
    precision = _grid(
        ["类别 Kind", "预警 Flags", "命中 On family", "其他模式 On other", "诚实单位 On honest", "精确率 Precision",
         "诚实单位被预警 Honest flagged", "比例 Rate", "秒 Seconds"],
        [[_kind_label(r["kind"]), str(r["flags"]), "-" if r["flags_on_family"] is None else str(r["flags_on_family"]),
          "-" if r["flags_on_other_pattern"] is None else str(r["flags_on_other_pattern"]),
          str(r["flags_on_honest"]), _pct(r["precision"]), f"{r['honest_units_flagged']}/{r['honest_units']}",
          _pct(r["honest_flag_rate"]), "" if r["seconds"] is None else f"{r['seconds']:.2f}"]
         for r in kinds.iter_rows(named=True)],
    )  # fmt: skip
    looks = whole.filter(
        pl.col("pattern").str.starts_with(LOOKALIKE) & pl.col("kind").is_in([*SCREENED, SCREENED_KIND])
    )
    lookalikes = _grid(
        ["诚实相似单位 Honest look-alike", "类别 Kind", "被预警 Flagged", "比例 Rate"],
        [[_label(r["pattern"], PATTERN_LABELS), _kind_label(r["kind"]),
          f"{r['honest_units_flagged']}/{r['honest_units']}", _pct(r["honest_flag_rate"])]
         for r in looks.iter_rows(named=True)],
    )  # fmt: skip
    return "\n".join(
        [heading, "", "召回 Recall per planted pattern", *recall, "",
         "精确率与诚实单位预警率 Precision and honest-unit flag rate per kind", *precision, "",
         "诚实相似单位 Honest look-alikes (flagged by rotation, leniency, compression)", *lookalikes]
    )  # fmt: skip
