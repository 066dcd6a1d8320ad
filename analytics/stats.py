"""Small statistical building blocks shared by the detectors (vectorised, numpy only)."""

from __future__ import annotations

import numpy as np


def bh_qvalues(p_values: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg q-values; NaN p-values stay NaN and do not count as tests.

    >>> bh_qvalues(np.array([0.01, 0.04, 0.03])).round(3).tolist()
    [0.03, 0.04, 0.04]
    """
    p = np.asarray(p_values, dtype=float)
    q = np.full_like(p, np.nan)
    ok = ~np.isnan(p)
    m = int(ok.sum())
    if m == 0:
        return q
    order = np.argsort(p[ok])
    ranked = p[ok][order] * m / np.arange(1, m + 1)
    ranked = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(ranked, 1.0)
    q[ok] = out
    return q


def monte_carlo_p_lower(observed: np.ndarray, null: np.ndarray) -> np.ndarray:
    """Lower-tail Monte Carlo p-value per row: (1 + #{null <= observed}) / (B + 1).

    observed: shape (m,); null: shape (m, B).
    """
    b = null.shape[1]
    return (1.0 + (null <= observed[:, None]).sum(axis=1)) / (b + 1.0)


def beta_binomial_moments(
    k: np.ndarray, n: np.ndarray, groups: np.ndarray | None = None, leave_one_out: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Beta-binomial (a, b) fitted by moments over each group's members, returned per row.

    k successes out of n per member (unequal n allowed). Mean mu = sum k / sum n; the intra-class
    correlation rho solves E[sum n_i (p_i - mu)^2] = mu (1 - mu) [(U - 1) + rho (N - sum n_i^2 / N - (U - 1))].
    With `leave_one_out`, each row's fit uses the other members of its group only (a unit tested against
    the rest of its lane, so that it cannot mask itself). Fits with fewer than two members or mu in {0, 1}
    give NaN (nothing to fit).

    >>> a, b = beta_binomial_moments(np.array([2, 3, 8, 1]), np.array([10, 10, 10, 10]))
    >>> round(float(a[0] / (a[0] + b[0])), 3)
    0.35
    """
    k = np.asarray(k, dtype=float)
    n = np.asarray(n, dtype=float)
    codes = (
        np.zeros(len(k), dtype=np.int64) if groups is None else np.unique(np.asarray(groups), return_inverse=True)[1]
    )
    size = int(codes.max()) + 1 if len(codes) else 0
    p = np.divide(k, n, out=np.zeros_like(k), where=n > 0)

    def group_sum(values: np.ndarray) -> np.ndarray:
        return np.bincount(codes, weights=values, minlength=size)[codes]

    units = group_sum(np.ones_like(k))
    total_n, total_k, sum_np2, sum_n2 = group_sum(n), group_sum(k), group_sum(n * p**2), group_sum(n**2)
    if leave_one_out:
        units, total_n, total_k = units - 1, total_n - n, total_k - k
        sum_np2, sum_n2 = sum_np2 - n * p**2, sum_n2 - n**2
    with np.errstate(divide="ignore", invalid="ignore"):
        mu = total_k / total_n
        s = sum_np2 - total_k**2 / total_n  # sum n_i (p_i - mu)^2
        denom = total_n - sum_n2 / total_n - (units - 1)
        rho = (s / (mu * (1 - mu)) - (units - 1)) / denom
    rho = np.clip(np.where(np.isfinite(rho), rho, 1e-6), 1e-6, 1 - 1e-6)
    ok = (units >= 2) & (total_n > 0) & (mu > 0) & (mu < 1)
    scale = 1.0 / rho - 1.0
    return np.where(ok, mu * scale, np.nan), np.where(ok, (1 - mu) * scale, np.nan)


def monte_carlo_p_upper(observed: np.ndarray, null: np.ndarray) -> np.ndarray:
    """Upper-tail Monte Carlo p-value per row: (1 + #{null >= observed}) / (B + 1)."""
    b = null.shape[1]
    return (1.0 + (null >= observed[:, None]).sum(axis=1)) / (b + 1.0)
