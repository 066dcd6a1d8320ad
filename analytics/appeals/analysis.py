"""What the appeals say: counts by unit, reviewer and reason, time to decision, decisions, and whether the
reviewers the leniency detector flags draw more appeals than the others.

Appeals are attributed to a reviewer: the one the appeal names, else the one who graded the appealed
quarter (else the one who graded most of that person's year, for annual appeals). A reviewer's exposure
is the person-quarters they graded: a reviewer of 40 people draws more appeals than one of 4 for no
other reason. The test compares appeals per person-quarter reviewed between flagged and other reviewers:
the exact conditional test for two Poisson rates (given the total, the flagged reviewers' share is
binomial with their share of the exposure), and a permutation test that shuffles the flag among reviewers,
which stays honest when some reviewers draw many appeals for their own reasons (overdispersion).
Quiet on thin evidence: fewer than MIN_APPEALS attributed appeals or MIN_FLAGGED flagged reviewers
gives "insufficient evidence" and no claim.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from analytics.appeals.records import DECIDED
from analytics.vocab import GRADE_POINTS

MIN_APPEALS = 10
MIN_FLAGGED = 2
ALPHA = 0.05
DRAWS = 9999


def attributed(appeals: pl.DataFrame, quarterly: pl.DataFrame) -> pl.DataFrame:
    """Appeals with `attributed_reviewer` and `attribution` ('named', 'quarter', 'year' or null)."""
    graded = quarterly.filter(pl.col("reviewer").is_not_null()).select(
        "person_id", pl.col("year").cast(pl.Int32), pl.col("quarter").cast(pl.Int32), "reviewer"
    )
    of_quarter = graded.unique(["person_id", "year", "quarter"], keep="first").rename({"reviewer": "_rq"})
    of_year = (
        graded.group_by("person_id", "year", "reviewer")
        .len()
        .sort("len", "reviewer", descending=[True, False])
        .unique(["person_id", "year"], keep="first")
        .select("person_id", "year", pl.col("reviewer").alias("_ry"))
    )
    out = appeals.with_columns(pl.col("year").cast(pl.Int32), pl.col("quarter").cast(pl.Int32))
    out = out.join(of_quarter, on=["person_id", "year", "quarter"], how="left").join(
        of_year, on=["person_id", "year"], how="left"
    )
    named = pl.col("reviewer").is_not_null()
    by_quarter = pl.col("quarter").is_not_null() & pl.col("_rq").is_not_null()
    return out.with_columns(
        pl.coalesce("reviewer", pl.when(pl.col("quarter").is_not_null()).then("_rq").otherwise("_ry")).alias(
            "attributed_reviewer"
        ),
        pl.when(named)
        .then(pl.lit("named"))
        .when(by_quarter)
        .then(pl.lit("quarter"))
        .when(pl.col("quarter").is_null() & pl.col("_ry").is_not_null())
        .then(pl.lit("year"))
        .alias("attribution"),
    ).drop("_rq", "_ry")


def counts_by(appeals: pl.DataFrame, column: str) -> pl.DataFrame:
    """Per value of `column`: appeals, people appealing, decided, changed, share changed of decided."""
    decided = pl.col("decision").is_in(list(DECIDED))
    return (
        appeals.group_by(column)
        .agg(
            pl.len().cast(pl.Int64).alias("appeals"),
            pl.col("person_id").n_unique().cast(pl.Int64).alias("people"),
            decided.sum().cast(pl.Int64).alias("decided"),
            (pl.col("decision") == "changed").sum().cast(pl.Int64).alias("changed"),
        )
        .with_columns((pl.col("changed") / pl.col("decided")).fill_nan(None).alias("changed_share"))
        .sort("appeals", column, descending=[True, False], nulls_last=True)
    )


def time_to_decision(appeals: pl.DataFrame) -> pl.DataFrame:
    """Days from appeal to decision, per decision: n, median, quartiles, longest; pending ones count only."""
    days = (pl.col("decision_date") - pl.col("appeal_date")).dt.total_days()
    return (
        appeals.with_columns(days.alias("days"))
        .group_by("decision")
        .agg(
            pl.len().cast(pl.Int64).alias("appeals"),
            pl.col("days").is_not_null().sum().cast(pl.Int64).alias("dated"),
            pl.col("days").median().alias("median_days"),
            pl.col("days").quantile(0.25, "nearest").alias("p25_days"),
            pl.col("days").quantile(0.75, "nearest").alias("p75_days"),
            pl.col("days").max().alias("max_days"),
        )
        .sort("appeals", descending=True)
    )


def reviewer_table(appeals: pl.DataFrame, quarterly: pl.DataFrame, flagged: pl.DataFrame) -> pl.DataFrame:
    """Per reviewer (unit and name, so namesakes in two units stay two people): person-quarters graded,
    people, appeals attributed, appeals per 100 person-quarters, and whether the leniency detector flags them.

    `flagged`: unit, reviewer of the flagged reviewers (flagged_reviewers()).
    """
    graded = quarterly.filter(pl.col("reviewer").is_not_null() & pl.col("grade").is_in(list(GRADE_POINTS)))
    exposure = graded.group_by("unit", "reviewer").agg(
        pl.len().cast(pl.Int64).alias("person_quarters"),
        pl.col("person_id").n_unique().cast(pl.Int64).alias("people"),
    )
    drawn = (
        attributed(appeals, quarterly)
        .filter(pl.col("attributed_reviewer").is_not_null())
        .group_by("unit", pl.col("attributed_reviewer").alias("reviewer"))
        .agg(
            pl.len().cast(pl.Int64).alias("appeals"),
            (pl.col("reason_kind") == "reviewer").sum().cast(pl.Int64).alias("about_reviewer"),
            (pl.col("decision") == "changed").sum().cast(pl.Int64).alias("changed"),
        )
    )
    marks = flagged.select("unit", "reviewer").unique().with_columns(pl.lit(True).alias("flagged"))
    return (
        exposure.join(drawn, on=["unit", "reviewer"], how="left")
        .join(marks, on=["unit", "reviewer"], how="left")
        .with_columns(pl.col("appeals", "about_reviewer", "changed").fill_null(0), pl.col("flagged").fill_null(False))
        .with_columns((100 * pl.col("appeals") / pl.col("person_quarters")).alias("per_100"))
        .select(
            "unit",
            "reviewer",
            "flagged",
            "person_quarters",
            "people",
            "appeals",
            "per_100",
            "about_reviewer",
            "changed",
        )  # fmt: skip
        .sort(["flagged", "per_100", "unit", "reviewer"], descending=[True, True, False, False])
    )


@dataclass(frozen=True)
class FlagTest:
    """Do flagged reviewers draw more appeals per person-quarter reviewed? (one-sided)"""

    reviewers: int
    flagged: int
    appeals_flagged: int
    appeals_other: int
    exposure_flagged: int
    exposure_other: int
    rate_ratio: float | None
    ci_low: float | None
    ci_high: float | None
    p_exact: float | None
    p_permutation: float | None
    draws: int
    sufficient: bool

    @property
    def rate_flagged(self) -> float | None:
        return 100 * self.appeals_flagged / self.exposure_flagged if self.exposure_flagged else None

    @property
    def rate_other(self) -> float | None:
        return 100 * self.appeals_other / self.exposure_other if self.exposure_other else None

    @property
    def significant(self) -> bool:
        return self.sufficient and self.p_permutation is not None and self.p_permutation < ALPHA

    def sentence(self, lang: str = "zh") -> str:
        """The finding for people: rates, ratio, p and n; 'insufficient evidence' when thin."""
        n_zh = (
            f"{self.reviewers} 名评鉴人（{self.flagged} 名被标记）、{self.appeals_flagged + self.appeals_other} 件申诉"
        )
        n_en = (
            f"{self.reviewers} reviewers ({self.flagged} flagged), {self.appeals_flagged + self.appeals_other} appeals"
        )
        if not self.sufficient:
            return (
                f"证据不足：{n_zh}，不足以比较（至少需 {MIN_APPEALS} 件申诉、{MIN_FLAGGED} 名被标记评鉴人）。"
                if lang == "zh"
                else f"Insufficient evidence: {n_en}; at least {MIN_APPEALS} appeals and {MIN_FLAGGED} flagged "
                "reviewers are needed to compare."
            )
        rates = (self.rate_flagged or 0.0, self.rate_other or 0.0)
        p = _p_text(self.p_permutation)
        ratio = f"{self.rate_ratio:.1f}" if self.rate_ratio is not None and np.isfinite(self.rate_ratio) else "—"
        ci = (
            f"{self.ci_low:.1f}–{self.ci_high:.1f}"
            if self.ci_low is not None and self.ci_high is not None and np.isfinite(self.ci_high)
            else "—"
        )
        if lang == "zh":
            verdict = "被标记的评鉴人招致的申诉明显更多" if self.significant else "未见被标记评鉴人招致更多申诉"
            return (
                f"{verdict}：每百人次 {rates[0]:.2f} 件，其他评鉴人 {rates[1]:.2f} 件，倍数 {ratio}（95% 区间 {ci}），"
                f"置换检验 {p}，精确检验 {_p_text(self.p_exact)}；{n_zh}。"
            )
        verdict = (
            "Flagged reviewers draw clearly more appeals"
            if self.significant
            else "No clear excess of appeals on flagged reviewers"
        )
        return (
            f"{verdict}: {rates[0]:.2f} per 100 person-quarters reviewed against {rates[1]:.2f} for the others, "
            f"ratio {ratio} (95% interval {ci}), permutation {p}, exact {_p_text(self.p_exact)}; {n_en}."
        )


def _p_text(p: float | None) -> str:
    if p is None:
        return "p —"
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def flag_test(table: pl.DataFrame, draws: int = DRAWS, seed: int = 0) -> FlagTest:
    """Appeals per person-quarter, flagged reviewers against the others (reviewer_table's output)."""
    from scipy.stats import beta, binomtest

    a = table["appeals"].to_numpy().astype(float)
    e = table["person_quarters"].to_numpy().astype(float)
    f = table["flagged"].to_numpy().astype(bool)
    a1, a0, e1, e0 = int(a[f].sum()), int(a[~f].sum()), int(e[f].sum()), int(e[~f].sum())
    total = a1 + a0
    sufficient = total >= MIN_APPEALS and int(f.sum()) >= MIN_FLAGGED and int((~f).sum()) >= MIN_FLAGGED
    base = dict(reviewers=table.height, flagged=int(f.sum()), appeals_flagged=a1, appeals_other=a0,
                exposure_flagged=e1, exposure_other=e0, draws=draws, sufficient=sufficient)  # fmt: skip
    if not sufficient or e1 == 0 or e0 == 0:
        return FlagTest(rate_ratio=None, ci_low=None, ci_high=None, p_exact=None, p_permutation=None, **base)
    share = e1 / (e1 + e0)
    p_exact = float(binomtest(a1, total, share, alternative="greater").pvalue)
    # Exact interval for the ratio from the Clopper-Pearson interval of the flagged share of appeals.
    lo = beta.ppf(0.025, a1, a0 + 1) if a1 > 0 else 0.0
    hi = beta.ppf(0.975, a1 + 1, a0) if a0 > 0 else 1.0
    to_ratio = lambda s: (s / (1 - s)) * (e0 / e1) if s < 1 else float("inf")  # noqa: E731
    ratio = (a1 / e1) / (a0 / e0) if a0 > 0 else float("inf")
    observed = a1 / e1
    rng = np.random.default_rng(seed)
    k = int(f.sum())
    hits, done = 0, 0
    batch = max(1, min(draws, 2_000_000 // max(len(a), 1)))
    while done < draws:
        b = min(batch, draws - done)
        # Each draw: a random set of k reviewers plays "flagged" (the k smallest of a row of uniforms).
        picks = np.argpartition(rng.random((b, len(a))), k - 1, axis=1)[:, :k]
        rate = a[picks].sum(axis=1) / e[picks].sum(axis=1)
        hits += int((rate >= observed - 1e-12).sum())
        done += b
    return FlagTest(
        rate_ratio=float(ratio), ci_low=float(to_ratio(lo)), ci_high=float(to_ratio(hi)), p_exact=p_exact,
        p_permutation=(1 + hits) / (draws + 1), **base,
    )  # fmt: skip


def flagged_reviewers(data, settings) -> pl.DataFrame:
    """The reviewers the leniency detector flags on `data`: unit, reviewer, and the flag's p, q, severity, evidence."""
    from analytics.detectors.leniency import LeniencyDetector

    flags = LeniencyDetector().detect(data, settings)
    return flags.filter(pl.col("subject_type") == "reviewer").select(
        "unit", pl.col("subject").alias("reviewer"), "lane", "statistic", "statistic_value", "p_value", "q_value",
        "severity", "n", "evidence_zh", "evidence_en", "caveat_zh", "caveat_en",
    )  # fmt: skip
