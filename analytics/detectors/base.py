"""What every detector shares: the flag schema and the one interface.

A detector is an object with `kind`, `name_zh`, `name_en` and
`detect(data, settings, seed) -> flags frame` with exactly FLAG_SCHEMA's columns.

Two identities (the one place they are defined):
- `flag_id` names one result of one run: kind, subject, unit and window. Links (`/flags?flag=…`) use it.
- `flag_key` names the *finding*: kind, subject_type, subject, unit and the detector's `finding` label
  (e.g. 'top' or 'bottom' for a rotation, '2024Q3' for a quota breach). It leaves out the window
  bounds, so a finding keeps its key when new quarters extend or shift its window. The flag workflow
  (status, assignee, notes) and the stored `flags` table are keyed by it; it is unique within a run.
It must not modify its input, must be deterministic for a given seed, must return an
empty frame (right schema) on empty input, and must stay quiet on thin evidence.
"""

from __future__ import annotations

import hashlib
from typing import Protocol

import polars as pl

from analytics.dataset import AssessmentData
from analytics.settings import Settings

FLAG_KINDS = ("rotation", "leniency", "quota", "compression", "silent_negatives", "outlier", "outcome_rule")
SUBJECT_TYPES = ("unit", "section", "reviewer", "person")

FLAG_SCHEMA: dict[str, pl.DataType] = {
    "flag_id": pl.Utf8,  # hash of kind, subject_type, subject, unit, period_from, period_to (one run's result)
    "flag_key": pl.Utf8,  # hash of kind, subject_type, subject, unit, finding (the finding, across runs)
    "finding": pl.Utf8,  # the detector's label for what was found, without window bounds; '' when one per subject
    "kind": pl.Utf8,  # one of FLAG_KINDS
    "subject_type": pl.Utf8,  # one of SUBJECT_TYPES
    "subject": pl.Utf8,  # as written in the data: unit, section, reviewer name, person_id
    "unit": pl.Utf8,
    "lane": pl.Utf8,
    "period_from": pl.Utf8,  # '2024Q1'
    "period_to": pl.Utf8,
    "statistic": pl.Utf8,  # name of the headline statistic, e.g. 'D (dispersion)'
    "statistic_value": pl.Float64,
    "statistics": pl.Utf8,  # JSON object of every statistic computed
    "p_value": pl.Float64,  # null where no test applies (rule breaks)
    "q_value": pl.Float64,  # Benjamini-Hochberg across the subjects tested
    "severity": pl.Float64,  # [0, 1]
    "n": pl.Int64,  # evidence size (person-quarters, people, records)
    "evidence_zh": pl.Utf8,
    "evidence_en": pl.Utf8,
    "caveat_zh": pl.Utf8,  # e.g. the nesting warning; null when none
    "caveat_en": pl.Utf8,
}


class Detector(Protocol):
    kind: str
    name_zh: str
    name_en: str

    def detect(self, data: AssessmentData, settings: Settings, seed: int = 0) -> pl.DataFrame: ...


def empty_flags() -> pl.DataFrame:
    return pl.DataFrame(schema=FLAG_SCHEMA)


def finish_flags(frame: pl.DataFrame) -> pl.DataFrame:
    """Conform a detector's output to FLAG_SCHEMA: add flag_id, fill missing columns, order, cast."""
    if frame.height == 0:
        return empty_flags()
    derived = ("flag_id", "flag_key")
    missing = [
        pl.lit(None, dtype=t).alias(c) for c, t in FLAG_SCHEMA.items() if c not in frame.columns and c not in derived
    ]
    frame = frame.with_columns(missing).with_columns(pl.col("finding").cast(pl.Utf8).fill_null(""))
    frame = frame.with_columns(
        _hash(("kind", "subject_type", "subject", "unit", "period_from", "period_to")).alias("flag_id"),
        _hash(FLAG_KEY_FIELDS).alias("flag_key"),
    )
    return frame.select([pl.col(c).cast(t) for c, t in FLAG_SCHEMA.items()])


FLAG_KEY_FIELDS = ("kind", "subject_type", "subject", "unit", "finding")


def _hash(columns: tuple[str, ...]) -> pl.Expr:
    joined = pl.concat_str([pl.col(c).cast(pl.Utf8).fill_null("") for c in columns], separator="|")
    return joined.map_elements(lambda s: hashlib.sha1(s.encode()).hexdigest()[:12], return_dtype=pl.Utf8)
