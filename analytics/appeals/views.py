"""What the Appeals page shows, computed in one place (the page only renders)."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from analytics.appeals import analysis
from analytics.appeals.records import DECIDED
from analytics.appeals.store import load_appeals_at, within
from analytics.dataset import AssessmentData, Scope
from analytics.settings import Settings


@dataclass(frozen=True)
class AppealsView:
    appeals: pl.DataFrame  # within the page's units, with the reviewer each concerns
    reviewers: pl.DataFrame
    units: pl.DataFrame
    reasons: pl.DataFrame
    decisions: pl.DataFrame
    timing: pl.DataFrame
    test: analysis.FlagTest
    headline: dict  # appeals, people, decided, changed share, median days


def appeals_view(data: AssessmentData, full: AssessmentData, settings: Settings, db: str, scope: Scope) -> AppealsView:
    """Appeals within `data`'s units; reviewers flagged by the leniency detector on everything in scope."""
    stored = within(load_appeals_at(db, scope), data)
    flagged = analysis.flagged_reviewers(full, settings) if stored.height else pl.DataFrame(
        schema={"unit": pl.Utf8, "reviewer": pl.Utf8}
    )  # fmt: skip
    reviewers = analysis.reviewer_table(stored, data.quarterly, flagged)
    decided = stored.filter(pl.col("decision").is_in(list(DECIDED)))
    days = (decided["decision_date"] - decided["appeal_date"]).dt.total_days().drop_nulls()
    headline = {
        "appeals": stored.height,
        "people": stored["person_id"].n_unique(),
        "decided": decided.height,
        "changed_share": (decided["decision"] == "changed").mean() if decided.height else None,
        "median_days": float(days.median()) if days.len() else None,
        "pending": int((stored["decision"] == "pending").sum()),
    }
    records = analysis.attributed(stored, data.quarterly).select(
        "appeal_date", "person_id", "name", "unit", "section", "year", "quarter", "appeal_subject", "appealed_grade",
        "appeal_reason", "reason_kind", "attributed_reviewer", "attribution", "decision", "decision_date",
        "revised_grade",
    )  # fmt: skip
    return AppealsView(
        appeals=records,
        reviewers=reviewers,
        units=analysis.counts_by(stored, "unit"),
        reasons=analysis.counts_by(stored, "reason_kind"),
        decisions=analysis.counts_by(stored, "decision"),
        timing=analysis.time_to_decision(stored),
        test=analysis.flag_test(reviewers),
        headline=headline,
    )


def rate_bars(reviewers: pl.DataFrame, lang: str) -> pl.DataFrame:
    """Appeals per 100 person-quarters, flagged reviewers against the others (for a two-bar chart)."""
    groups = reviewers.group_by("flagged").agg(
        (100 * pl.col("appeals").sum() / pl.col("person_quarters").sum()).alias("per_100"),
        pl.len().alias("reviewers"),
    )
    names = {True: ("被标记为宽松的评鉴人", "Reviewers flagged lenient"), False: ("其他评鉴人", "Other reviewers")}
    return groups.sort("flagged", descending=True).with_columns(
        pl.col("flagged").replace_strict({k: v[0 if lang == "zh" else 1] for k, v in names.items()}).alias("group")
    )
