"""What every detector shares: the flag schema and the one interface.

A detector is an object with `kind`, `name_zh`, `name_en` and
`detect(data, settings, seed) -> flags frame` with exactly FLAG_SCHEMA's columns.
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
    "flag_id": pl.Utf8,  # stable hash of kind, subject_type, subject, unit, period
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
    missing = [
        pl.lit(None, dtype=t).alias(c) for c, t in FLAG_SCHEMA.items() if c not in frame.columns and c != "flag_id"
    ]
    frame = frame.with_columns(missing)
    key = pl.concat_str(
        [
            pl.col(c).cast(pl.Utf8).fill_null("")
            for c in ("kind", "subject_type", "subject", "unit", "period_from", "period_to")
        ],
        separator="|",
    )
    frame = frame.with_columns(
        key.map_elements(lambda s: hashlib.sha1(s.encode()).hexdigest()[:12], return_dtype=pl.Utf8).alias("flag_id")
    )
    return frame.select([pl.col(c).cast(t) for c, t in FLAG_SCHEMA.items()])
