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


def monte_carlo_p_upper(observed: np.ndarray, null: np.ndarray) -> np.ndarray:
    """Upper-tail Monte Carlo p-value per row: (1 + #{null >= observed}) / (B + 1)."""
    b = null.shape[1]
    return (1.0 + (null >= observed[:, None]).sum(axis=1)) / (b + 1.0)
