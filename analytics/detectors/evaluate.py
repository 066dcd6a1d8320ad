"""How well the detectors find what was planted in the demo city (`demo_truth`), and how rarely they fire on honest units.

`evaluate(db_or_con, settings, seed)` runs every registered detector over the store and scores each flag kind
against the planted patterns of its family:

| pattern (demo_truth) | flag kind |
|---|---|
| rotation_strict, rotation_norepeat, rotation_partial, rotation_section, rotation_bottom, rotation_star | rotation |
| lenient_reviewer | leniency |
| compression | compression |
| silent_negatives | silent_negatives |
| outcome_rule | outcome_rule |

Kinds with no planted family (quota, outlier) get the flag counts and the honest-unit rate only.

Matching rules
- A planted subject is *found* by a flag of its family's kind in the same unit; where the truth names a
  reviewer or a person, the flag must also name that subject. A reviewer also counts as found through a
  `section` flag on one of the sections that reviewer grades in that unit (a detector that cannot separate a
  one-section reviewer from the section flags the section and says so).
- A flag *hits its family* when it matches some planted subject of its kind's family by the rule above; it
  *hits another pattern* when it does not, but its unit has some planted pattern (any truth row); otherwise it
  *falls on an honest unit*. A flag without a unit counts only in `flags`. precision = hits on the family / flags.
- Honest units are units of the quarterly data with no demo_truth row. honest_flag_rate = honest units with
  at least one flag of the kind / honest units.
- Size bands follow the unit's number of distinct people over all quarters: <10, 10-29, 30+. Truth subjects
  and flags take their unit's band.

Rows: per kind, one row with pattern '(all)' per size band ('all', '<10', '10-29', '30+'), and one row per
planted pattern per band (recall, and in flags_on_family the flags finding that pattern; precision is given
on the '(all)' rows only). The flag and honest-unit columns of a pattern row repeat its kind's. `seconds` is
the detector's run time.
"""

from __future__ import annotations

import time
from pathlib import Path

import duckdb
import polars as pl

from analytics import store
from analytics.dataset import AssessmentData, load_dataset
from analytics.detectors import registry
from analytics.detectors.base import FLAG_KINDS, empty_flags
from analytics.errors import UserError
from analytics.settings import Settings

KIND_OF_PATTERN = {
    "rotation_strict": "rotation",
    "rotation_norepeat": "rotation",
    "rotation_partial": "rotation",
    "rotation_section": "rotation",
    "rotation_bottom": "rotation",
    "rotation_star": "rotation",
    "lenient_reviewer": "leniency",
    "compression": "compression",
    "silent_negatives": "silent_negatives",
    "outcome_rule": "outcome_rule",
}
SIZE_BANDS = ("<10", "10-29", "30+")
ALL = "all"
ALL_PATTERNS = "(all)"

SCHEMA: dict[str, pl.DataType] = {
    "kind": pl.Utf8,
    "pattern": pl.Utf8,
    "size_band": pl.Utf8,
    "planted": pl.Int64,
    "found": pl.Int64,
    "recall": pl.Float64,
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


def _size_band(people: pl.Expr) -> pl.Expr:
    return pl.when(people < 10).then(pl.lit("<10")).when(people < 30).then(pl.lit("10-29")).otherwise(pl.lit("30+"))


def _read_truth(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    truth = con.execute("SELECT * FROM demo_truth").pl() if "demo_truth" in tables else pl.DataFrame()
    if truth.height == 0:
        raise UserError(
            "this store has no demo_truth: evaluate scores detectors on a demo city (python -m analytics demo)"
        )
    return truth.filter(pl.col("pattern").is_in(list(KIND_OF_PATTERN)))


def _units(data: AssessmentData, truth: pl.DataFrame) -> pl.DataFrame:
    """Every unit with its size band and whether it is honest."""
    planted = truth.select("unit").unique().with_columns(pl.lit(False).alias("honest"))
    return (
        data.quarterly.group_by("unit")
        .agg(pl.col("person_id").n_unique().alias("people"))
        .filter(pl.col("unit").is_not_null())
        .with_columns(_size_band(pl.col("people")).alias("size_band"))
        .join(planted, on="unit", how="left")
        .with_columns(pl.col("honest").fill_null(True))
    )


def _targets(data: AssessmentData, truth: pl.DataFrame) -> pl.DataFrame:
    """What a flag must name to find each planted subject (null match = any flag of the kind in the unit)."""
    truth = truth.with_row_index("truth_id").with_columns(
        pl.col("pattern").replace_strict(KIND_OF_PATTERN).alias("kind")
    )
    named = truth.with_columns(
        pl.when(pl.col("subject_type").is_in(["reviewer", "person"])).then(pl.col("subject")).alias("match")
    )
    sections = (
        data.quarterly.filter(pl.col("reviewer").is_not_null() & pl.col("section").is_not_null())
        .select("unit", pl.col("reviewer").alias("subject"), pl.col("section").alias("match"))
        .unique()
    )
    via_section = truth.filter(pl.col("subject_type") == "reviewer").join(sections, on=["unit", "subject"])
    cols = ["truth_id", "kind", "pattern", "subject_type", "subject", "unit", "match"]
    return pl.concat([named.select(cols), via_section.select(cols)], how="vertical")


def _matches(flags: pl.DataFrame, targets: pl.DataFrame) -> pl.DataFrame:
    """(flag_row, truth_id, pattern) for every flag that finds a planted subject."""
    joined = flags.select("flag_row", "kind", "unit", pl.col("subject").alias("flag_subject")).join(
        targets.select("truth_id", "kind", "unit", "pattern", "match"), on=["kind", "unit"]
    )
    return joined.filter(pl.col("match").is_null() | (pl.col("match") == pl.col("flag_subject"))).select(
        "flag_row", "truth_id", "pattern"
    )


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
    return score(flags, data, truth, seconds)


def score(flags: pl.DataFrame, data: AssessmentData, truth: pl.DataFrame, seconds: dict[str, float] | None = None):
    """The evaluation table for given flags (with a `flag_row` column) against given truth rows."""
    seconds = seconds or {}
    units = _units(data, truth)
    targets = _targets(data, truth)
    matches = _matches(flags, targets)
    band_of = units.select("unit", "size_band", "honest")
    flags = (
        flags.join(band_of, on="unit", how="left")
        .join(
            matches.select("flag_row").unique().with_columns(pl.lit(True).alias("on_family")), on="flag_row", how="left"
        )
        .with_columns(
            pl.col("on_family").fill_null(False),
            (pl.col("honest").is_not_null() & ~pl.col("honest")).alias("in_planted_unit"),
        )
        .with_columns(
            (~pl.col("on_family") & pl.col("in_planted_unit")).alias("on_other"),
            (~pl.col("on_family") & pl.col("honest").fill_null(False)).alias("on_honest"),
        )
    )
    truth_ids = targets.select("truth_id", "kind", "pattern", "unit").unique().join(band_of, on="unit", how="left")
    found = truth_ids.join(
        matches.select("truth_id").unique().with_columns(pl.lit(True).alias("found")), on="truth_id", how="left"
    ).with_columns(pl.col("found").fill_null(False))
    kinds = [k for k in FLAG_KINDS if k in {d.kind for d in registry()}]
    rows = []
    for kind in kinds:  # a handful of kinds x bands: small loops over a few groups, the work is in the frames
        patterns = [p for p, k in KIND_OF_PATTERN.items() if k == kind]
        for band in (ALL, *SIZE_BANDS):
            in_band = (lambda f: f) if band == ALL else (lambda f, b=band: f.filter(pl.col("size_band") == b))
            kind_flags = in_band(flags.filter(pl.col("kind") == kind))
            honest = in_band(units.filter("honest"))
            flagged_honest = kind_flags.filter(pl.col("on_honest")).select("unit").n_unique()
            base = {
                "kind": kind, "size_band": band, "flags": kind_flags.height,
                "flags_on_other_pattern": int(kind_flags["on_other"].sum()),
                "flags_on_honest": int(kind_flags["on_honest"].sum()),
                "honest_units": honest.height, "honest_units_flagged": flagged_honest,
                "honest_flag_rate": flagged_honest / honest.height if honest.height else None,
                "seconds": seconds.get(kind) if band == ALL else None,
            }  # fmt: skip
            for pattern in (ALL_PATTERNS, *patterns) if patterns else (ALL_PATTERNS,):
                chosen = patterns if pattern == ALL_PATTERNS else [pattern]
                planted = in_band(found.filter(pl.col("pattern").is_in(chosen)))
                hits = matches.filter(pl.col("pattern").is_in(chosen)).select("flag_row").unique()
                on_family = kind_flags.join(hits, on="flag_row", how="semi").height
                rows.append({
                    **base, "pattern": pattern, "planted": planted.height if patterns else None,
                    "found": int(planted["found"].sum()) if patterns else None,
                    "recall": planted["found"].mean() if patterns and planted.height else None,
                    "flags_on_family": on_family if patterns else None,
                    "precision": on_family / kind_flags.height
                    if pattern == ALL_PATTERNS and patterns and kind_flags.height
                    else None,
                })  # fmt: skip
    if not rows:
        return pl.DataFrame(schema=SCHEMA)
    return pl.DataFrame(rows).select(list(SCHEMA)).cast(SCHEMA)


def format_table(table: pl.DataFrame) -> str:
    """The evaluation as plain text (markdown-style columns), rates as percentages."""
    headers = ["kind", "pattern", "size", "recall", "found/planted", "precision", "flags (family/other/honest)",
               "honest flag rate", "honest flagged/units", "seconds"]  # fmt: skip

    def pct(value: float | None) -> str:
        return "-" if value is None else f"{100 * value:.0f}%"

    lines = []
    for r in table.iter_rows(named=True):  # formatting a finished report of a few dozen rows
        lines.append([
            r["kind"], r["pattern"], r["size_band"], pct(r["recall"]),
            "-" if r["planted"] is None else f"{r['found']}/{r['planted']}",
            pct(r["precision"]),
            f"{r['flags']} ({'-' if r['flags_on_family'] is None else r['flags_on_family']}/"
            f"{r['flags_on_other_pattern']}/{r['flags_on_honest']})",
            pct(r["honest_flag_rate"]), f"{r['honest_units_flagged']}/{r['honest_units']}",
            "" if r["seconds"] is None else f"{r['seconds']:.2f}",
        ])  # fmt: skip
    widths = [max(len(h), *(len(str(line[i])) for line in lines)) if lines else len(h) for i, h in enumerate(headers)]
    out = ["| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |",
           "|" + "|".join("-" * (w + 2) for w in widths) + "|"]  # fmt: skip
    out += ["| " + " | ".join(str(c).ljust(w) for c, w in zip(line, widths, strict=True)) + " |" for line in lines]
    return "\n".join(out)
