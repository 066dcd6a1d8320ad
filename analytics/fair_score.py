"""Score-adjusted leniency (老好人) and fair scores (DETECTORS.md section 2, L3).

A grading body (the reviewer where the data names one, else the unit) is lenient when the grades it
gives run above what its people's scores would earn elsewhere in the same lane and quarter. We fit

    y_it = b * o_it + alpha_g + gamma_(lane, t) + e_it

by least squares, y the grade points (好 4 … 较差 1), o the score, alpha_g the body's effect and
gamma one effect per lane and quarter. Every row has exactly one body and one lane-quarter, so the
body block of X'X is diagonal: we solve the normal equations exactly through the Schur complement
of that block (a sparse body x lane-quarter count matrix and a small dense system), which also gives
exact standard errors. A small ridge on alpha (settings.leniency.ridge) fixes the one free constant
between alpha and gamma and pulls bodies with very few grades towards zero.

alpha is centred within the body's lane (so "lenient" means "against its lane"), z = alpha / SE, and
the display value is shrunk by empirical Bayes. A reviewer who grades one unit only cannot be told
apart from that unit (`nested=True`): the effect may be the unit's culture, not the person.
Where units share out 好 under a quota, a unit whose people score lower than the lane still gives
its 40% and so looks lenient against the lane; `alpha_within_unit` (the body against the other bodies
of its unit, with its exact SE and z) is blind to that and is the sharper test for one lenient
section head among honest ones.

The fair score is the score minus the body's shrunk leniency in score units (alpha / b), re-centred
within each lane and quarter so that a lane's mean fair score equals its mean score. It assumes the
scores come from the same hand as the grades (the usual case), so a reviewer who grades generously
also scores generously by about as much; where scores are known to be independent of the reviewer,
rank by score instead. `fair_grade_points` is the many-facet "fair average" on the grade scale: the
grade points minus the body's shrunk leniency.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import polars as pl
from threadpoolctl import threadpool_limits

from analytics.lanes import assign_lanes
from analytics.settings import Settings
from analytics.vocab import GRADE_POINTS

if TYPE_CHECKING:
    import scipy.sparse as sp

LEVELS = ("reviewer", "unit")
MIN_SLOPE_T = 2.0  # the slope must be clearly positive before scores can carry a grade effect

EFFECTS_SCHEMA: dict[str, pl.DataType] = {
    "level": pl.Utf8,  # reviewer or unit
    "subject": pl.Utf8,  # reviewer or unit as written in the data
    "unit": pl.Utf8,  # the unit it grades most (the unit itself at unit level)
    "lane": pl.Utf8,  # the lane it grades most
    "alpha": pl.Float64,  # grade points above the lane, score held equal (centred within lane)
    "se": pl.Float64,
    "z": pl.Float64,
    "p_value": pl.Float64,  # one-sided, P(Z >= z): evidence of leniency
    "shrunk": pl.Float64,  # empirical-Bayes alpha, for display and the fair score
    "alpha_score_units": pl.Float64,  # shrunk / b: leniency in score points
    # The body against the other bodies of its unit (e.g. a section head against the unit's other heads):
    # separable even when nested, and blind to what the whole unit shares (its quota, its people's level).
    "alpha_within_unit": pl.Float64,
    "se_within_unit": pl.Float64,
    "z_within_unit": pl.Float64,
    "bodies_in_unit": pl.UInt32,  # reviewers (or unit rows without one) grading in the same unit
    "n": pl.UInt32,  # graded person-quarters with a score
    "people": pl.UInt32,
    "units_graded": pl.UInt32,
    "nested": pl.Boolean,  # reviewer grades one unit only: reviewer and unit cannot be separated
    "caveat_zh": pl.Utf8,
    "caveat_en": pl.Utf8,
}
FAIR_SCHEMA: dict[str, pl.DataType] = {
    "person_id": pl.Utf8,
    "year": pl.Int32,
    "quarter": pl.Int32,
    "lane": pl.Utf8,
    "unit": pl.Utf8,
    "level": pl.Utf8,
    "subject": pl.Utf8,
    "score": pl.Float64,
    "adjustment": pl.Float64,  # score points removed (positive: lenient grading body)
    "fair_score": pl.Float64,
    "grade_points": pl.Float64,
    "fair_grade_points": pl.Float64,  # grade points minus the body's (re-centred) shrunk leniency
}

NESTED_ZH = "该评鉴人只评一个单位，评鉴人效应与单位效应无法区分：可能是单位整体宽松，而非评鉴人个人。"
NESTED_EN = "This reviewer grades one unit only, so the reviewer cannot be separated from the unit: the effect may be the unit's, not the person's."


@dataclass(frozen=True)
class LeniencyFit:
    """The fitted model: one row per grading body in `effects`, one per scored person-quarter in `fair`."""

    level: str  # the level asked for
    slope: float  # b: grade points per score point (NaN when the data has no scores)
    slope_se: float
    sigma: float  # residual standard deviation, grade points
    tau: float  # spread of true leniency between bodies (empirical Bayes), grade points
    n: int  # person-quarters in the fit
    effects: pl.DataFrame
    fair: pl.DataFrame
    note: str  # what the reader should know (no scores, fallback to unit, slope too weak ...)

    @property
    def has_fair_scores(self) -> bool:
        return self.fair["fair_score"].null_count() < self.fair.height


def _empty_fit(level: str, quarterly: pl.DataFrame, note: str, slope: float = float("nan")) -> LeniencyFit:
    fair = _scored_rows(quarterly).with_columns(
        pl.lit(None, dtype=pl.Utf8).alias("level"),
        pl.lit(None, dtype=pl.Utf8).alias("subject"),
        *(
            pl.lit(None, dtype=pl.Float64).alias(c)
            for c in ("adjustment", "fair_score", "grade_points", "fair_grade_points")
        ),
    )
    return LeniencyFit(
        level=level,
        slope=slope,
        slope_se=float("nan"),
        sigma=float("nan"),
        tau=float("nan"),
        n=0,
        effects=pl.DataFrame(schema=EFFECTS_SCHEMA),
        fair=fair.select(list(FAIR_SCHEMA)),
        note=note,
    )


def _scored_rows(quarterly: pl.DataFrame) -> pl.DataFrame:
    return quarterly.filter(pl.col("score").is_not_null()).select(
        pl.col("person_id").cast(pl.Utf8),
        pl.col("year").cast(pl.Int32),
        pl.col("quarter").cast(pl.Int32),
        pl.col("lane").cast(pl.Utf8),
        pl.col("unit").cast(pl.Utf8),
        pl.col("score").cast(pl.Float64),
    )


def _with_bodies(quarterly: pl.DataFrame, level: str) -> tuple[pl.DataFrame, str]:
    """Add `level` and `subject` (the grading body of each row) and say which was used."""
    has_reviewers = "reviewer" in quarterly.columns and quarterly["reviewer"].null_count() < quarterly.height
    if level == "reviewer" and has_reviewers:
        named = pl.col("reviewer").is_not_null() & (pl.col("reviewer").cast(pl.Utf8).str.strip_chars() != "")
        out = quarterly.with_columns(
            pl.when(named).then(pl.lit("reviewer")).otherwise(pl.lit("unit")).alias("level"),
            pl.when(named).then(pl.col("reviewer").cast(pl.Utf8)).otherwise(pl.col("unit")).alias("subject"),
        )
        missing = out.filter(pl.col("level") == "unit").height
        note = f"{missing} person-quarters without a reviewer are attributed to their unit." if missing else ""
        return out, note
    note = "The data names no reviewers: effects are estimated per unit." if level == "reviewer" else ""
    return quarterly.with_columns(pl.lit("unit").alias("level"), pl.col("unit").alias("subject")), note


def _prepare(quarterly: pl.DataFrame, settings: Settings) -> pl.DataFrame:
    if "lane" not in quarterly.columns or quarterly["lane"].null_count() > 0:
        quarterly = assign_lanes(quarterly, settings)
    return quarterly.with_columns(
        pl.col("grade").replace_strict(GRADE_POINTS, default=None, return_dtype=pl.Float64).alias("_y"),
        pl.col("score").cast(pl.Float64),
        (pl.col("level") + "\x1f" + pl.col("subject")).alias("_body"),
        pl.concat_str(
            [pl.col("lane"), pl.col("year").cast(pl.Utf8), pl.col("quarter").cast(pl.Utf8)], separator="\x1f"
        ).alias("_cell"),
    )


@dataclass(frozen=True)
class _Solution:
    alpha: np.ndarray  # per body (raw: before centring within lane)
    a_inv: np.ndarray  # 1 / (n_g + ridge): the diagonal body block of the normal equations, inverted
    scaled: sp.csr_matrix  # A^-1 B, body x (slope + lane-quarter)
    schur_inv: np.ndarray  # inverse of the Schur complement S = C - B' A^-1 B
    slope: float
    sigma2: float

    def centred_var(self, lane: np.ndarray, weight: np.ndarray) -> np.ndarray:
        """Var(alpha_g - sum_h w_h alpha_h over g's lane) / sigma^2, exactly, for every body g.

        The raw alpha carries a common shift that only the ridge pins down; its variance is not
        leniency, so the SE is taken for the contrast with the lane's weighted mean.
        With V = A^-1 + M S^-1 M' (M = A^-1 B): Var = V_gg - 2 (V w)_g + w'V w.
        """
        import scipy.sparse as sp

        n_lanes = int(lane.max()) + 1
        w = sp.csr_matrix((weight, (np.arange(len(lane)), lane)), shape=(len(lane), n_lanes))
        dense_m = self.scaled.toarray()
        m_s = dense_m @ self.schur_inv
        u = np.asarray((self.scaled.T @ w).todense())  # M' w per lane
        v_gg = self.a_inv + (m_s * dense_m).sum(axis=1)
        v_gw = weight * self.a_inv + (m_s @ u)[np.arange(len(lane)), lane]
        w_v_w = np.bincount(lane, weights=weight**2 * self.a_inv, minlength=n_lanes) + np.einsum(
            "kl,kj,jl->l", u, self.schur_inv, u
        )
        return np.maximum(v_gg - 2 * v_gw + w_v_w[lane], 0.0)


def _solve(body: np.ndarray, cell: np.ndarray, o: np.ndarray, y: np.ndarray, ridge: float) -> _Solution:
    """Least squares for y = alpha[body] + b o + gamma[cell], ridge on alpha, via the Schur complement."""
    # scipy is imported here, not at the top, so that every `python -m analytics` command starts fast.
    import scipy.linalg
    import scipy.sparse as sp

    n_rows, n_body, n_cell = len(y), int(body.max()) + 1, int(cell.max()) + 1
    oc = o - o.mean()  # centring o leaves b unchanged (gamma absorbs the mean) and helps conditioning
    a_inv = 1.0 / (np.bincount(body, minlength=n_body) + ridge)
    counts = sp.csr_matrix((np.ones(n_rows), (body, cell)), shape=(n_body, n_cell))
    cross = sp.hstack([sp.csr_matrix(np.bincount(body, weights=oc, minlength=n_body)[:, None]), counts]).tocsr()
    small = np.zeros((n_cell + 1, n_cell + 1))
    small[0, 0] = oc @ oc
    small[0, 1:] = small[1:, 0] = np.bincount(cell, weights=oc, minlength=n_cell)
    small[1:, 1:] = np.diag(np.bincount(cell, minlength=n_cell).astype(float))
    scaled = (sp.diags(a_inv) @ cross).tocsr()  # A^-1 B
    schur = small - (cross.T @ scaled).toarray()
    r_body = np.bincount(body, weights=y, minlength=n_body)
    r_small = np.concatenate([[oc @ y], np.bincount(cell, weights=y, minlength=n_cell)])
    try:
        schur_inv = scipy.linalg.inv(schur + 1e-10 * np.eye(n_cell + 1), check_finite=False)
    except scipy.linalg.LinAlgError:
        schur_inv = np.linalg.pinv(schur)
    beta = schur_inv @ (r_small - scaled.T @ r_body)
    alpha = a_inv * r_body - scaled @ beta
    resid = y - alpha[body] - beta[0] * oc - beta[1:][cell]
    dof = n_rows - n_body - n_cell - 1
    sigma2 = float(resid @ resid / dof) if dof > 0 else float("nan")
    return _Solution(alpha, a_inv, scaled, schur_inv, float(beta[0]), sigma2)


def _codes(frame: pl.DataFrame, column: str) -> pl.Series:
    return frame[column].rank("dense").cast(pl.Int64) - 1


def _body_table(fit_rows: pl.DataFrame, sol: _Solution) -> pl.DataFrame:
    """One row per body: who, where, how much evidence; alpha centred within its lane, with its exact SE."""
    modal = (
        fit_rows.group_by("_b", "unit", "lane")
        .len()
        .sort(["_b", "len", "unit", "lane"], descending=[False, True, False, False])
        .group_by("_b", maintain_order=True)
        .agg(pl.col("unit").first(), pl.col("lane").first())
    )
    bodies = (
        fit_rows.group_by("_b")
        .agg(
            pl.col("level").first(),
            pl.col("subject").first(),
            pl.len().cast(pl.UInt32).alias("n"),
            pl.col("person_id").n_unique().cast(pl.UInt32).alias("people"),
            pl.col("unit").n_unique().cast(pl.UInt32).alias("units_graded"),
        )
        .join(modal, on="_b")
        .sort("_b")
    )
    bodies = bodies.with_columns(pl.Series("_alpha", sol.alpha))
    alpha, se = _contrast(bodies, sol, "lane")
    within, within_se = _contrast(bodies, sol, "unit")
    several = pl.col("subject").count().over("unit") > 1
    return bodies.with_columns(
        alpha.alias("alpha"),
        se.alias("se"),
        pl.col("subject").count().over("unit").cast(pl.UInt32).alias("bodies_in_unit"),
        pl.when(several).then(within).alias("alpha_within_unit"),
        pl.when(several).then(within_se).alias("se_within_unit"),
    ).with_columns((pl.col("alpha_within_unit") / pl.col("se_within_unit")).fill_nan(None).alias("z_within_unit"))


def _contrast(bodies: pl.DataFrame, sol: _Solution, group: str) -> tuple[pl.Series, pl.Series]:
    """alpha minus the n-weighted mean alpha of the body's group (lane or unit), and its exact SE."""
    weights = bodies.select(
        (pl.col("n").cast(pl.Float64) / pl.col("n").cast(pl.Float64).sum().over(group)).alias("w"),
        (pl.col(group).rank("dense").cast(pl.Int64) - 1).alias("g"),
    )
    w, g = weights["w"].to_numpy(), weights["g"].to_numpy()
    alpha = sol.alpha - np.bincount(g, weights=w * sol.alpha)[g]
    return pl.Series(alpha), pl.Series(np.sqrt(sol.sigma2 * sol.centred_var(g, w)))


def _shrink(effects: pl.DataFrame, min_graded: int) -> tuple[pl.DataFrame, float]:
    """z, one-sided p, and empirical-Bayes shrinkage (tau^2 from the bodies with enough evidence)."""
    pool = effects.filter(pl.col("n") >= min_graded)
    if pool.height < 3:
        pool = effects
    tau2 = max(0.0, float((pool["alpha"] ** 2).mean()) - float((pool["se"] ** 2).mean())) if pool.height else 0.0
    shrink = pl.col("se") ** 2 / (tau2 + pl.col("se") ** 2)
    effects = effects.with_columns(
        (pl.col("alpha") / pl.col("se")).alias("z"), ((1 - shrink) * pl.col("alpha")).fill_nan(None).alias("shrunk")
    )
    from scipy.special import ndtr

    p = ndtr(-effects["z"].to_numpy())  # one-sided: P(Z >= z)
    return effects.with_columns(pl.Series("p_value", p, dtype=pl.Float64).fill_nan(None)), float(np.sqrt(tau2))


def _fair_scores(rows: pl.DataFrame, effects: pl.DataFrame, slope: float, usable: bool) -> pl.DataFrame:
    scored = (
        rows.filter(pl.col("score").is_not_null())
        .join(effects.select("level", "subject", "shrunk"), on=["level", "subject"], how="left")
        .with_columns(pl.col("_y").alias("grade_points"))
    )
    if not usable:
        return scored.with_columns(
            pl.lit(None, dtype=pl.Float64).alias("adjustment"),
            pl.lit(None, dtype=pl.Float64).alias("fair_score"),
            pl.lit(None, dtype=pl.Float64).alias("fair_grade_points"),
        ).select(list(FAIR_SCHEMA))
    points = pl.col("shrunk").fill_null(0.0)
    # Re-centre per lane and quarter: ranks within a lane are unchanged, values stay on their scale.
    centred = points - points.mean().over("lane", "year", "quarter")
    return (
        scored.with_columns((centred / slope).alias("adjustment"), centred.alias("_points_adjustment"))
        .with_columns(
            (pl.col("score") - pl.col("adjustment")).alias("fair_score"),
            (pl.col("grade_points") - pl.col("_points_adjustment")).alias("fair_grade_points"),
        )
        .select([pl.col(c).cast(t) for c, t in FAIR_SCHEMA.items()])
    )


def estimate_leniency(quarterly: pl.DataFrame, settings: Settings, level: str = "reviewer") -> LeniencyFit:
    """Fit the score-adjusted leniency model at `level` ('reviewer' falls back to 'unit' where no reviewer is named).

    >>> fit = estimate_leniency(data.quarterly, load_settings())  # doctest: +SKIP
    >>> fit.effects.sort("z", descending=True).head()              # most lenient bodies first  # doctest: +SKIP
    """
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}, got {level!r}")
    if quarterly.height == 0 or quarterly["score"].null_count() == quarterly.height:
        base = quarterly if "lane" in quarterly.columns else assign_lanes(quarterly, settings)
        return _empty_fit(level, base, "No scores in the data: leniency cannot be adjusted for scores.")
    with_bodies, note = _with_bodies(quarterly, level)
    rows = _prepare(with_bodies, settings)
    fit_rows = rows.filter(pl.col("_y").is_not_null() & pl.col("score").is_not_null() & pl.col("score").is_finite())
    if fit_rows.height < 3 or fit_rows["score"].n_unique() < 2:
        return _empty_fit(level, rows, "Too few graded person-quarters with scores to fit the model.")
    fit_rows = fit_rows.with_columns(_codes(fit_rows, "_body").alias("_b"), _codes(fit_rows, "_cell").alias("_c"))
    # The matrices are small; multi-threaded BLAS fighting Polars' own threads made this 20x slower (measured).
    with threadpool_limits(limits=1, user_api="blas"):
        sol = _solve(
            fit_rows["_b"].to_numpy(),
            fit_rows["_c"].to_numpy(),
            fit_rows["score"].to_numpy(),
            fit_rows["_y"].to_numpy(),
            settings.leniency.ridge,
        )
        bodies = _body_table(fit_rows, sol)
    slope_se = float(np.sqrt(sol.sigma2 * sol.schur_inv[0, 0]))
    effects, tau = _shrink(bodies, settings.leniency.min_graded)
    usable = bool(np.isfinite(slope_se) and sol.slope > MIN_SLOPE_T * slope_se)
    if not usable:
        note = (note + " " if note else "") + (
            f"Scores barely predict grades (b = {sol.slope:.3g} ± {slope_se:.2g}): no fair score in score units."
        )
    nested = (pl.col("level") == "reviewer") & (pl.col("units_graded") == 1)
    effects = effects.with_columns(
        nested.alias("nested"),
        (pl.col("shrunk") / sol.slope if usable else pl.lit(None, dtype=pl.Float64)).alias("alpha_score_units"),
        pl.when(nested).then(pl.lit(NESTED_ZH)).otherwise(None).alias("caveat_zh"),
        pl.when(nested).then(pl.lit(NESTED_EN)).otherwise(None).alias("caveat_en"),
    )
    effects = effects.select([pl.col(c).cast(t) for c, t in EFFECTS_SCHEMA.items()]).sort("lane", "subject")
    return LeniencyFit(
        level=level,
        slope=sol.slope,
        slope_se=slope_se,
        sigma=float(np.sqrt(sol.sigma2)),
        tau=tau,
        n=fit_rows.height,
        effects=effects,
        fair=_fair_scores(rows, effects, sol.slope, usable),
        note=note.strip(),
    )
