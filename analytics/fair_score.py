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

`estimate_within_units` fits the same kind of model with one effect per unit and quarter and one slope
per unit: each reviewer against the other reviewers of its unit (the leniency detector's main test).
Demeaning within unit and quarter absorbs those effects and leaves a block-diagonal reviewer system,
solved for all units at once by one sparse factorisation.

Cost: both fits are exact and grow linearly with the rows (a province, 2.3 M person-quarters, takes a
few seconds); the standard errors are formed a slice of bodies at a time, so memory grows with
bodies x lane-quarters, never with bodies x bodies or bodies x units.
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
MODEL_COLUMNS = ("person_id", "year", "quarter", "lane", "unit", "grade", "score", "reviewer")
_SLICE_CELLS = 1 << 22  # entries of M S^-1 formed at once (32 MB)
_MIN_INFORMATION = 1e-9  # x'x left after the effects: below it x does not vary and no slope can be fitted

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
    """Only the columns the model reads (the wide `extra` text would be copied by every join), lanes filled."""
    if "lane" not in quarterly.columns or quarterly["lane"].null_count() > 0:
        quarterly = assign_lanes(quarterly, settings)
    return quarterly.select([c for c in MODEL_COLUMNS if c in quarterly.columns])


def _with_points(rows: pl.DataFrame) -> pl.DataFrame:
    return rows.with_columns(
        pl.col("grade").replace_strict(GRADE_POINTS, default=None, return_dtype=pl.Float64).alias("_y"),
        pl.col("score").cast(pl.Float64),
    )


@dataclass(frozen=True)
class _Solution:
    alpha: np.ndarray  # per body (raw: before centring within lane)
    a_inv: np.ndarray  # 1 / (n_g + ridge): the diagonal body block of the normal equations, inverted
    scaled: sp.csr_matrix  # A^-1 B, body x (slope + lane-quarter)
    schur_inv: np.ndarray  # inverse of the Schur complement S = C - B' A^-1 B
    slope: float
    sigma2: float

    def centred_var(self, group: np.ndarray, weight: np.ndarray) -> np.ndarray:
        """Var(alpha_g - sum_h w_h alpha_h over g's group) / sigma^2, exactly, for every body g."""
        return self.centred_vars([(group, weight)])[0]

    def centred_vars(self, groupings: list[tuple[np.ndarray, np.ndarray]]) -> list[np.ndarray]:
        """`centred_var` for several groupings (group codes, weights summing to 1 per group) in one pass.

        The raw alpha carries a common shift that only the ridge pins down; its variance is not
        leniency, so the SE is taken for the contrast with the group's (lane's, unit's) weighted mean.
        With V = A^-1 + M S^-1 M' (M = A^-1 B, sparse) and U_G = M' w_G:
        V_gg = a_g + M_g S^-1 M_g', (V w_G)_g = a_g w_g + M_g S^-1 U_G, w_G' V w_G = sum_(h in G) w_h (V w_G)_h,
        and Var = V_gg - 2 (V w_G)_g + w_G' V w_G. Only rows of M S^-1 are formed, a slice at a time,
        so time and memory grow with bodies x lane-quarters, never with bodies^2 or bodies x units.
        """
        import scipy.sparse as sp

        m = self.scaled
        n_body = m.shape[0]
        u_rows = [
            (sp.csr_matrix((w, (np.arange(n_body), g)), shape=(n_body, int(g.max()) + 1)).T @ m).tocsr()
            for g, w in groupings
        ]  # U_G' per group
        own, cross = np.empty(n_body), np.empty((len(groupings), n_body))
        step = max(1, _SLICE_CELLS // max(1, m.shape[1]))
        for start in range(0, n_body, step):  # slices bound the memory of M S^-1 (a handful at province scale)
            rows = slice(start, min(n_body, start + step))
            m_s = m[rows] @ self.schur_inv
            own[rows] = _row_dot(m[rows], m_s)
            for k, (g, _) in enumerate(groupings):
                cross[k, rows] = _row_dot(u_rows[k][g[rows]], m_s)
        out = []
        for k, (g, w) in enumerate(groupings):
            v_w = w * self.a_inv + cross[k]
            w_v_w = np.bincount(g, weights=w * v_w)
            out.append(np.maximum(self.a_inv + own - 2 * v_w + w_v_w[g], 0.0))
        return out


def _row_dot(sparse: sp.csr_matrix, dense: np.ndarray) -> np.ndarray:
    """Row-wise dot products of a sparse and a dense matrix of the same shape."""
    rows = np.repeat(np.arange(sparse.shape[0]), np.diff(sparse.indptr))
    return np.bincount(rows, weights=sparse.data * dense[rows, sparse.indices], minlength=sparse.shape[0])


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


def _codes(frame: pl.DataFrame, keys: list[str]) -> tuple[np.ndarray, pl.DataFrame]:
    """Dense codes 0..k-1 of the distinct `keys` in sorted order, and those keys (code i in row i).

    A group-by with row indices: ranking concatenated key strings cost several times more at 2 M rows.
    """
    groups = frame.select(keys).with_row_index("_i").group_by(keys).agg("_i").sort(keys)
    codes = np.empty(frame.height, dtype=np.int64)
    members = groups["_i"]
    codes[members.explode(empty_as_null=False).to_numpy()] = np.repeat(
        np.arange(groups.height), members.list.len().to_numpy()
    )
    return codes, groups.drop("_i")


def _body_table(fit_rows: pl.DataFrame, keys: pl.DataFrame, sol: _Solution) -> pl.DataFrame:
    """One row per body: who, where, how much evidence; alpha centred within its lane, with its exact SE."""
    places = (
        fit_rows.group_by("_b", "unit", "lane")
        .len()
        .sort(["_b", "len", "unit", "lane"], descending=[False, True, False, False])
        .group_by("_b", maintain_order=True)
        .agg(
            pl.col("unit").first(),
            pl.col("lane").first(),
            pl.col("len").sum().cast(pl.UInt32).alias("n"),
            pl.col("unit").n_unique().cast(pl.UInt32).alias("units_graded"),
        )
    )
    people = fit_rows.group_by("_b").agg(pl.col("person_id").n_unique().cast(pl.UInt32).alias("people"))
    bodies = (
        keys.with_row_index("_b")
        .with_columns(pl.col("_b").cast(pl.Int64))
        .join(places, on="_b")
        .join(people, on="_b")
        .sort("_b")
        .select("_b", "level", "subject", "n", "people", "units_graded", "unit", "lane")
    )
    (alpha, se), (within, within_se) = _contrasts(bodies, sol, ["lane", "unit"])
    several = pl.col("subject").count().over("unit") > 1
    return bodies.with_columns(
        alpha.alias("alpha"),
        se.alias("se"),
        pl.col("subject").count().over("unit").cast(pl.UInt32).alias("bodies_in_unit"),
        pl.when(several).then(within).alias("alpha_within_unit"),
        pl.when(several).then(within_se).alias("se_within_unit"),
    ).with_columns((pl.col("alpha_within_unit") / pl.col("se_within_unit")).fill_nan(None).alias("z_within_unit"))


def _contrasts(bodies: pl.DataFrame, sol: _Solution, groups: list[str]) -> list[tuple[pl.Series, pl.Series]]:
    """Per group column (lane, unit): alpha minus the n-weighted mean alpha of the body's group, and its exact SE."""
    weights = bodies.select(
        *[
            (pl.col("n").cast(pl.Float64) / pl.col("n").cast(pl.Float64).sum().over(c)).alias(f"w{k}")
            for k, c in enumerate(groups)
        ],
        *[(pl.col(c).rank("dense").cast(pl.Int64) - 1).alias(f"g{k}") for k, c in enumerate(groups)],
    )
    groupings = [(weights[f"g{k}"].to_numpy(), weights[f"w{k}"].to_numpy()) for k in range(len(groups))]
    variances = sol.centred_vars(groupings)
    return [
        (pl.Series(sol.alpha - np.bincount(g, weights=w * sol.alpha)[g]), pl.Series(np.sqrt(sol.sigma2 * var)))
        for (g, w), var in zip(groupings, variances, strict=True)
    ]


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


def _fair_scores(rows: pl.DataFrame, cell: np.ndarray, shrunk: np.ndarray, slope: float, usable: bool) -> pl.DataFrame:
    """Per scored row: the body's shrunk leniency taken out of score and grade points.

    `cell`: row -> lane-quarter; `shrunk`: row -> its body's shrunk alpha (0 where the body was not estimated).
    """
    scored = rows.with_columns(pl.col("_y").alias("grade_points"))
    if not usable:
        return scored.with_columns(
            pl.lit(None, dtype=pl.Float64).alias("adjustment"),
            pl.lit(None, dtype=pl.Float64).alias("fair_score"),
            pl.lit(None, dtype=pl.Float64).alias("fair_grade_points"),
        ).select(list(FAIR_SCHEMA))
    # Re-centre per lane and quarter: ranks within a lane are unchanged, values stay on their scale.
    per_cell = np.bincount(cell).astype(float)
    centred = shrunk - (np.bincount(cell, weights=shrunk) / per_cell)[cell]
    return (
        scored.with_columns(pl.Series("_points_adjustment", centred))
        .with_columns((pl.col("_points_adjustment") / slope).alias("adjustment"))
        .with_columns(
            (pl.col("score") - pl.col("adjustment")).alias("fair_score"),
            (pl.col("grade_points") - pl.col("_points_adjustment")).alias("fair_grade_points"),
        )
        .select([pl.col(c).cast(t) for c, t in FAIR_SCHEMA.items()])
    )


def _compact(codes: np.ndarray, kept: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes of the `kept` rows renumbered 0..k-1 (order kept), and the old code of each new one."""
    present = np.bincount(codes[kept], minlength=int(codes.max()) + 1) > 0
    return (np.cumsum(present) - 1)[codes[kept]], np.flatnonzero(present)


def estimate_leniency(quarterly: pl.DataFrame, settings: Settings, level: str = "reviewer") -> LeniencyFit:
    """Fit the score-adjusted leniency model at `level` ('reviewer' falls back to 'unit' where no reviewer is named).

    >>> fit = estimate_leniency(data.quarterly, load_settings())  # doctest: +SKIP
    >>> fit.effects.sort("z", descending=True).head()              # most lenient bodies first  # doctest: +SKIP
    """
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}, got {level!r}")
    if quarterly.height == 0 or quarterly["score"].null_count() == quarterly.height:
        return _empty_fit(
            level, _prepare(quarterly, settings), "No scores in the data: leniency cannot be adjusted for scores."
        )
    with_bodies, note = _with_bodies(_prepare(quarterly, settings), level)
    rows = _with_points(with_bodies).filter(pl.col("score").is_not_null())  # the fair scores' rows
    fit = (rows["_y"].is_not_null() & rows["score"].is_finite()).to_numpy()
    fit_rows = rows.filter(pl.Series(fit))
    if fit_rows.height < 3 or fit_rows["score"].n_unique() < 2:
        return _empty_fit(level, rows, "Too few graded person-quarters with scores to fit the model.")
    # Codes over all scored rows (the fair scores need them), renumbered over the rows that enter the fit.
    body_all, keys = _codes(rows, ["level", "subject"])
    cell_all, _ = _codes(rows, ["lane", "year", "quarter"])
    body, fitted = _compact(body_all, fit)
    cell, _ = _compact(cell_all, fit)
    fit_rows = fit_rows.with_columns(pl.Series("_b", body))
    # The matrices are small; multi-threaded BLAS fighting Polars' own threads made this 20x slower (measured).
    with threadpool_limits(limits=1, user_api="blas"):
        sol = _solve(body, cell, fit_rows["score"].to_numpy(), fit_rows["_y"].to_numpy(), settings.leniency.ridge)
        bodies = _body_table(fit_rows, keys[fitted], sol)
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
    shrunk = np.zeros(len(keys))
    shrunk[fitted] = effects["shrunk"].fill_null(0.0).to_numpy()
    effects = effects.select([pl.col(c).cast(t) for c, t in EFFECTS_SCHEMA.items()]).sort("lane", "subject")
    return LeniencyFit(
        level=level,
        slope=sol.slope,
        slope_se=slope_se,
        sigma=float(np.sqrt(sol.sigma2)),
        tau=tau,
        n=fit_rows.height,
        effects=effects,
        fair=_fair_scores(rows, cell_all, shrunk[body_all], sol.slope, usable),
        note=note.strip(),
    )


# ---------------------------------------------------------------- within units


def estimate_within_units(rows: pl.DataFrame, ridge: float, slope_by: str | None = None) -> pl.DataFrame:
    """Each reviewer against the other reviewers of its unit, at equal scores: one row per (unit, reviewer).

    `rows`: unit, reviewer, year, quarter, x (the score, or its percentile), y (grade points); rows where x
    or y is missing are counted (`graded`) but not fitted (`n`).
    The model is y = alpha_(unit, reviewer) + gamma_(unit, quarter) + b_s x + e with the ridge on alpha, one
    slope b_s per group of `slope_by` (a column constant within each unit, e.g. the unit itself; one slope
    for all when None) and one residual variance for all. It is fitted exactly, in one pass over all units:
    demeaning within unit and quarter absorbs gamma, which leaves for alpha a block-diagonal system (a small
    block per unit, its reviewers) solved by one sparse factorisation; the slopes follow in closed form from
    per-unit sums.

    `alpha` is centred on the unit's mean (reviewers weighted by their rows); `se` is its exact standard
    error, the slope's uncertainty included; z = alpha / se, p = P(Z >= z). Where x does not vary within a
    group's unit-quarters, its slope, and so alpha, is null: nothing is held equal there.
    """
    from scipy.special import ndtr

    body_all, bodies = _codes(rows, ["unit", "reviewer"])
    fit = (rows["x"].cast(pl.Float64).is_finite() & rows["y"].cast(pl.Float64).is_finite()).fill_null(False).to_numpy()
    alpha, var, slope = (np.full(bodies.height, np.nan) for _ in range(3))
    sigma2 = float("nan")
    if fit.sum() >= 3:
        cell, _ = _compact(_codes(rows, ["unit", "year", "quarter"])[0], fit)
        body, fitted = _compact(body_all, fit)
        unit = bodies.select(pl.col("unit").rank("dense").cast(pl.Int64) - 1).to_series().to_numpy()[fitted]
        group = np.zeros(bodies.height, dtype=np.int64)
        if slope_by is not None:  # constant within a unit, so read at one row of each body
            one_row = np.empty(bodies.height, dtype=np.int64)
            one_row[body_all] = np.arange(rows.height)
            group = rows[slope_by].gather(one_row).rank("dense").cast(pl.Int64).to_numpy() - 1
        x, y = rows["x"].cast(pl.Float64).to_numpy()[fit], rows["y"].cast(pl.Float64).to_numpy()[fit]
        with threadpool_limits(limits=1, user_api="blas"):
            alpha[fitted], var[fitted], slope[fitted], sigma2 = _solve_within(
                body, cell, unit, group[fitted], x, y, ridge
            )
    with np.errstate(invalid="ignore"):
        se = np.sqrt(sigma2 * var)
        z = alpha / se
    return bodies.with_columns(
        pl.Series("graded", np.bincount(body_all, minlength=bodies.height).astype(np.uint32)),
        pl.Series("n", np.bincount(body_all[fit], minlength=bodies.height).astype(np.uint32)),
        pl.Series("alpha", alpha),
        pl.Series("se", se),
        pl.Series("z", z),
        pl.Series("p_value", ndtr(-z)),
        pl.Series("slope", slope),
    ).with_columns(pl.col("alpha", "se", "z", "p_value", "slope").fill_nan(None))


def _solve_within(
    body: np.ndarray, cell: np.ndarray, unit: np.ndarray, group: np.ndarray, x: np.ndarray, y: np.ndarray, ridge: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Centred alpha, Var(alpha) / sigma^2 and the slope per body, and sigma^2 (see estimate_within_units).

    body: row -> body (bodies sorted by unit); cell: row -> unit-quarter; unit, group: body -> unit, slope group.
    """
    import scipy.sparse as sp
    from scipy.sparse.linalg import splu

    n_body, n_cell, n_unit, n_group = len(unit), int(cell.max()) + 1, int(unit.max()) + 1, int(group.max()) + 1
    per_cell = np.bincount(cell, minlength=n_cell).astype(float)
    per_body = np.bincount(body, minlength=n_body).astype(float)

    def cell_mean(values: np.ndarray) -> np.ndarray:
        return (np.bincount(cell, weights=values, minlength=n_cell) / per_cell)[cell]

    def by_body(values: np.ndarray) -> np.ndarray:
        return np.bincount(body, weights=values, minlength=n_body)

    def by_unit(values: np.ndarray) -> np.ndarray:
        return np.bincount(unit, weights=values, minlength=n_unit)

    def by_group(values: np.ndarray) -> np.ndarray:  # values per unit
        return np.bincount(group_of_unit, weights=values, minlength=n_group)

    xt, yt = x - cell_mean(x), y - cell_mean(y)  # demeaned within unit and quarter: gamma is gone
    # H = D'(I - P)D + ridge I, the reviewers' block once the cells are eliminated: zero across units.
    counts = sp.csr_matrix((1.0 / np.sqrt(per_cell[cell]), (body, cell)), shape=(n_body, n_cell))
    hessian = (sp.diags(per_body + ridge) - counts @ counts.T).tocsc()
    weight = per_body / by_unit(per_body)[unit]  # the unit's mean is weighted by rows
    factor = splu(hessian)
    m, h_g, h_w = factor.solve(np.column_stack([by_body(xt), by_body(yt), weight])).T
    # Indicator columns that pick every block's k-th reviewer: H being block-diagonal, solving for them gives
    # the k-th column of all the blocks' inverses at once (their diagonals are what the SEs need). The columns
    # go a slice at a time, so a unit with very many reviewers cannot blow up the memory.
    local = np.arange(n_body) - np.searchsorted(unit, unit)
    h_diag = np.empty(n_body)
    width = max(1, _SLICE_CELLS // n_body)
    for first in range(0, int(local.max()) + 1, width):
        ks = np.arange(first, min(first + width, int(local.max()) + 1))
        columns = factor.solve((local[:, None] == ks[None, :]).astype(float))
        mine = np.flatnonzero((local >= first) & (local < first + len(ks)))
        h_diag[mine] = columns[mine, local[mine] - first]

    # Slopes: x'y and x'x with alpha and gamma profiled out, summed over each group's units.
    group_of_unit = np.zeros(n_unit, dtype=np.int64)
    group_of_unit[unit] = group
    unit_of_row = unit[body]
    xx = np.bincount(unit_of_row, weights=xt * xt, minlength=n_unit) - by_unit(by_body(xt) * m)
    xy = np.bincount(unit_of_row, weights=xt * yt, minlength=n_unit) - by_unit(by_body(xt) * h_g)
    information = by_group(xx)
    slopes = np.where(information > _MIN_INFORMATION, by_group(xy) / np.maximum(information, _MIN_INFORMATION), np.nan)
    b = slopes[group]
    alpha = h_g - b * m
    centred = alpha - by_unit(weight * alpha)[unit]
    var = (
        h_diag
        - 2 * h_w
        + by_unit(weight * h_w)[unit]
        + (m - by_unit(weight * m)[unit]) ** 2 / np.maximum(information, _MIN_INFORMATION)[group]
    )
    # One residual variance, over the groups with a slope: gamma_(unit, quarter) is the cell's mean of y - alpha - b x.
    fitted = alpha[body]
    resid = yt - b[body] * xt - (fitted - cell_mean(fitted))
    fit = np.isfinite(resid)
    dof = fit.sum() - np.isfinite(b).sum() - len(np.unique(cell[fit])) - np.isfinite(slopes).sum()
    sigma2 = float(resid[fit] @ resid[fit] / dof) if dof > 0 else float("nan")
    return centred, np.maximum(var, 0.0), b, sigma2
