"""The flags that concern one person, for the profile: their own, their unit's and their reviewers'.

A link to a profile can carry the flag it came from (`?flag=` with the flag_key, or the flag_id of one run):
that flag is listed first and marked, so an inspector who followed it sees the finding beside the record.
"""

from __future__ import annotations

import polars as pl

from analytics.dataset import AssessmentData
from analytics.i18n import kind_label, pick
from analytics.numbers import period_span

RELATIONS = {
    "own": ("本人", "This person"),
    "unit": ("所在单位", "Their unit"),
    "reviewer": ("其评鉴人", "Their reviewer"),
}
COLUMNS = ("arrived", "about", "kind", "subject", "period", "severity", "evidence", "flag_id", "flag_key")


def person_flags(
    flags: pl.DataFrame, data: AssessmentData, person_id: str, lang: str, arrived: str | None = None
) -> pl.DataFrame:
    """Flags about the person (subject_type person), their units (unit or section flags of a unit they were graded
    in) and their reviewers in those units; the one `arrived` names (flag_key or flag_id) first, marked '▶'.

    Columns: arrived, about (relation in words), kind (in words), subject, period (in words), severity, evidence
    (the reader's language), flag_id, flag_key.
    """
    if flags.height == 0:
        return pl.DataFrame(schema=dict.fromkeys(COLUMNS, pl.Utf8))
    mine = data.quarterly.filter(pl.col("person_id") == person_id)
    units = mine["unit"].drop_nulls().unique().to_list()
    reviewed = mine.filter(pl.col("reviewer").is_not_null()).select("unit", "reviewer").unique()
    by_reviewer = flags.join(
        reviewed.rename({"reviewer": "subject"}).with_columns(pl.lit("reviewer").alias("subject_type")),
        on=["unit", "subject", "subject_type"],
        how="semi",
    ).with_columns(relation=pl.lit("reviewer"))
    name = mine["name"].drop_nulls()
    own = flags.filter((pl.col("subject_type") == "person") & (pl.col("subject") == person_id)).with_columns(
        subject=pl.lit(name[0] if len(name) else person_id)  # the person by name, never by code
    )
    of_unit = flags.filter(pl.col("subject_type").is_in(["unit", "section"]) & pl.col("unit").is_in(units))
    found = pl.concat(
        [
            own.with_columns(relation=pl.lit("own")),
            of_unit.with_columns(relation=pl.lit("unit")),
            by_reviewer,
        ],
        how="diagonal_relaxed",
    ).unique("flag_id", keep="first", maintain_order=True)
    if found.height == 0:
        return pl.DataFrame(schema=dict.fromkeys(COLUMNS, pl.Utf8))
    here = (pl.col("flag_key") == arrived) | (pl.col("flag_id") == arrived) if arrived else pl.lit(False)
    order = {"own": 0, "reviewer": 1, "unit": 2}
    kinds = {k: kind_label(k, lang) for k in found["kind"].unique().to_list()}
    text = "evidence_en" if lang == "en" else "evidence_zh"
    return (
        found.with_columns(
            here.alias("_here"), pl.col("relation").replace_strict(order, return_dtype=pl.Int8).alias("_order")
        )
        .sort(["_here", "_order", "severity"], descending=[True, False, True], nulls_last=True)
        .select(
            pl.when("_here").then(pl.lit("▶")).otherwise(pl.lit("")).alias("arrived"),
            pl.col("relation").replace_strict({k: pick(v, lang) for k, v in RELATIONS.items()}).alias("about"),
            pl.col("kind").replace_strict(kinds, default=pl.col("kind")),
            "subject",
            pl.struct("period_from", "period_to")
            .map_elements(lambda r: period_span(r["period_from"], r["period_to"], lang), return_dtype=pl.Utf8)
            .alias("period"),
            "severity",
            pl.col(text).alias("evidence"),
            "flag_id",
            "flag_key",
        )
    )


def subject_words(flag: dict, people: pl.DataFrame) -> str:
    """The flag's subject as a reader knows it: a person by name (people: analytics.person.directory), else as written."""
    if flag.get("subject_type") != "person":
        return flag.get("subject") or ""
    found = people.filter(pl.col("person_id") == flag["subject"])["name"] if people.height else pl.Series([])
    return found[0] if len(found) and found[0] else flag["subject"]


def arrived(related: pl.DataFrame) -> dict | None:
    """The marked row of person_flags (the flag the link came from), or None."""
    marked = related.filter(pl.col("arrived") == "▶") if related.height else related
    return marked.row(0, named=True) if marked.height else None
