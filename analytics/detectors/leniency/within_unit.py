"""Reviewers against the other reviewers of their unit: a Mantel-Haenszel comparison at equal score.

A quota grade is a rank rule inside the unit: each quarter the unit's best-scored people get 好 up to its quota.
So the fair comparison for a reviewer is with the unit's other people of the same quarter and the same score
level, never with a straight line in score (grades are a step at the quota, a line under-predicts the top).
Strata: unit x quarter x score fifth (the score's percentile within the unit and quarter); rows without a score
form their own stratum of the unit-quarter. Per reviewer r, over its strata s:

    O - E = sum_s (a_s - n_s M_s / N_s)              a_s of r's n_s people given 好; M_s of all N_s in the stratum
    V     = sum_s n_s (N_s - n_s) M_s (N_s - M_s) / (N_s^2 (N_s - 1))      (the hypergeometric variance)
    W     = sum_s n_s (N_s - n_s) / N_s

RD = (O - E) / W is the Mantel-Haenszel risk difference (share of 好 above the others at equal score) and
sqrt(V) / W its standard error under H0 (V hypergeometric). Without scores nothing holds merit equal, and a
person's quarters are not independent draws (merit persists), so `clustered` takes the larger of V and the
variance of a comparison of people (`_person_variance`). Honest sections differ too (people, work), so the standard error adds
tau^2, the spread of RD between reviewers (`between_variance`, a robust Paule-Mandel estimate over the reviewers
compared on the same basis); z = RD / sqrt(SE^2 + tau^2), p = P(Z >= z).

`compare(rows, by_score=False)` gives the raw comparison (strata: unit x quarter only), the test that is left
when the scores were raised along with the grades.
"""

from __future__ import annotations

import numpy as np
import polars as pl
from scipy.special import ndtr

FIFTHS = 5
UNSCORED_STRATUM = -1


def _stratum(by_score: bool) -> pl.Expr:
    if not by_score:
        return pl.lit(0, dtype=pl.Int64)
    score = pl.col("score")
    pct = pl.col("pct")  # the score's percentile within the unit and quarter (score_percentile)
    fifth = (pct * FIFTHS).floor().cast(pl.Int64).clip(0, FIFTHS - 1)
    return pl.when(score.is_null()).then(pl.lit(UNSCORED_STRATUM, dtype=pl.Int64)).otherwise(fifth)


def score_percentile() -> pl.Expr:
    """The score's percentile within its unit and quarter, (rank - 0.5) / n (null where no score)."""
    score = pl.col("score")
    return ((score.rank("average") - 0.5) / score.count()).over("unit", "t")


def compare(rows: pl.DataFrame, by_score: bool = True, clustered: bool = False) -> pl.DataFrame:
    """Per (unit, reviewer) with a name: o_e, v, w, rd, se0 (see module docstring), plus the score percentile.

    `rows`: unit, t, person_id, reviewer (null: not a named reviewer, still one of the 'others'), is_good, score,
    and pct (score_percentile) when by_score.
    """
    # Only the columns each step reads, lazily: at province scale a filtered copy of every column was the peak.
    needed = ["unit", "t", "reviewer", "is_good", *(["person_id"] if clustered else [])]
    keyed = rows.lazy().select(*needed, s=_stratum(by_score)).collect()
    # Counts per stratum in the streaming engine (batches, not one hash table over millions of rows): integer
    # sums, so the engine's order does not matter; the float sums below run in a fixed order.
    cells = (
        keyed.lazy().group_by("unit", "t", "s").agg(N=pl.len(), M=pl.col("is_good").sum()).collect(engine="streaming")
    )
    mine = keyed.lazy().select("unit", "reviewer", "t", "s", "is_good").filter(pl.col("reviewer").is_not_null())
    f = pl.col
    joined = (
        mine.group_by("unit", "reviewer", "t", "s")
        .agg(n=pl.len(), a=f("is_good").sum())
        .join(cells.lazy(), on=["unit", "t", "s"])
        .with_columns(f("n", "a", "N", "M").cast(pl.Float64))
        .with_columns(
            o_e=f("a") - f("n") * f("M") / f("N"),
            v=pl.when(f("N") > 1)
            .then(f("n") * (f("N") - f("n")) * f("M") * (f("N") - f("M")) / (f("N") ** 2 * (f("N") - 1)))
            .otherwise(0.0),
            w=f("n") * (f("N") - f("n")) / f("N"),
        )
        .select("unit", "reviewer", "t", "s", "o_e", "v", "w")
        .collect(engine="streaming")
    )
    out = (
        joined.sort("unit", "reviewer", "t", "s")  # fixed order: float sums must not depend on group-by order
        .group_by("unit", "reviewer", maintain_order=True)
        .agg(o_e=f("o_e").sum(), v=f("v").sum(), w=f("w").sum())
    )
    if clustered:  # the larger of the hypergeometric variance and the one between people
        out = out.join(_person_variance(keyed, cells), on=["unit", "reviewer"], how="left").with_columns(
            v=pl.max_horizontal("v", (f("w") ** 2 * f("share_var")).fill_nan(None).fill_null(0.0))
        )
    out = out.with_columns(
        rd=pl.when(f("w") > 0).then(f("o_e") / f("w")),
        se0=pl.when(f("w") > 0).then(f("v").sqrt() / f("w")),
    )
    return out


def _person_variance(keyed: pl.DataFrame, cells: pl.DataFrame) -> pl.DataFrame:
    """Per reviewer: V as a comparison of people, W^2 s_u^2 (1 / k_r + 1 / k_o).

    s_u^2 is the variance between the unit's people of their mean residual (好 - M_s / N_s over their rows), k_r
    and k_o the people of the reviewer and of the rest of the unit: a section of four strong people is a sample of
    four people, not of forty-eight independent quarters.
    """
    f = pl.col
    people = (
        keyed.join(cells, on=["unit", "t", "s"])
        .with_columns(r=f("is_good").cast(pl.Float64) - f("M") / f("N"))
        .sort("unit", "person_id", "t", "s")
        .group_by("unit", "person_id", maintain_order=True)
        .agg(e=f("r").mean(), reviewer=f("reviewer").drop_nulls().mode().first())
        .with_columns(s2=f("e").var().over("unit"), k_u=pl.len().over("unit"))
    )
    return (
        people.filter(f("reviewer").is_not_null())
        .group_by("unit", "reviewer")
        .agg(k_r=pl.len(), s2=f("s2").first(), k_u=f("k_u").first())
        .with_columns(share_var=f("s2") * (1 / f("k_r") + 1 / (f("k_u") - f("k_r"))))
        .select("unit", "reviewer", "share_var")
    )


MEDIAN_CHI2_1 = 0.45494  # median of a chi-square with one degree of freedom


def between_variance(effect: np.ndarray, se: np.ndarray) -> float:
    """tau^2 with median(((effect - median effect)^2 / (se^2 + tau^2)) = the chi-square(1) median.

    A robust Paule-Mandel: the few lenient reviewers cannot inflate it, reviewers of every size weigh in with
    their own SE, and it is 0 when the effects vary no more than their SEs say. Solved on a grid (vectorised).
    """
    if len(effect) < 3:
        return 0.0
    r2 = (effect - np.median(effect)) ** 2
    s2 = se**2
    if np.median(r2 / s2) <= MEDIAN_CHI2_1:
        return 0.0
    grid = np.concatenate([[0.0], np.geomspace(1e-6, max(float(r2.max()), 1e-6), 400)])

    def settled(i: int) -> bool:
        return bool(np.median(r2 / (s2 + grid[i])) <= MEDIAN_CHI2_1)

    # The median ratio falls as tau^2 grows, so the first grid point where it settles is found by bisection
    # (nine medians, not a grid x reviewers matrix: at province scale that was 130 MB for one number).
    if not settled(len(grid) - 1):
        return 0.0
    lo, hi = 0, len(grid) - 1  # settled(hi) holds, settled(0) does not (checked above)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if settled(mid) else (mid, hi)
    return float(grid[hi])


def with_between_variance(effects: pl.DataFrame, eligible: pl.Expr, tau2: float | None = None) -> pl.DataFrame:
    """Add tau2, se (SE with tau^2), z and p (one-sided) to `compare`'s output; tau^2 from the `eligible` rows
    (or as given)."""
    pool = effects.filter(eligible & pl.col("rd").is_not_null() & (pl.col("v") > 0))
    if tau2 is None:
        tau2 = between_variance(pool["rd"].to_numpy(), pool["se0"].to_numpy())
    se = (pl.col("se0") ** 2 + tau2).sqrt()
    out = effects.with_columns(tau2=pl.lit(tau2), se=se).with_columns(
        z=pl.when((pl.col("v") > 0) & (pl.col("se") > 0)).then(pl.col("rd") / pl.col("se"))
    )
    z = out["z"].fill_null(np.nan).to_numpy()
    return out.with_columns(pl.Series("p", ndtr(-z)).fill_nan(None))
