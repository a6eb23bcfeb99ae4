"""A slow, independent reference for G2RPO, written from recipe §3 with scipy (loops, no shared code)."""

from __future__ import annotations

import numpy as np
from scipy.stats import norm, rankdata

TOL = 1e-9


def snap_ties(values: np.ndarray) -> np.ndarray:
    """Replace each run of sorted neighbours within 1e-9·max(1, |v|) by the run's smallest value."""
    order = np.argsort(values, kind="stable")
    snapped = values.astype(np.float64).copy()
    anchor = None
    previous = None
    for idx in order:
        v = float(values[idx])
        if previous is None or v - previous > TOL * max(1.0, abs(v)):
            anchor = v
        snapped[idx] = anchor
        previous = v
    return snapped


def core_map(values: np.ndarray) -> np.ndarray:
    """Hazen quantiles by rank, tied values get the mean of the quantiles of the ranks they span."""
    n = len(values)
    if n <= 1:
        return np.zeros(n)
    x = snap_ties(np.asarray(values, dtype=np.float64))
    lo = rankdata(x, method="min")
    hi = rankdata(x, method="max")
    out = np.empty(n)
    for i in range(n):
        ranks = np.arange(lo[i], hi[i] + 1)
        out[i] = norm.ppf((ranks - 0.5) / n).mean()
    return out


def per_key(values: np.ndarray, keys) -> np.ndarray:
    out = np.zeros(len(values))
    keys = np.asarray(keys)
    for key in np.unique(keys):
        idx = np.nonzero(keys == key)[0]
        out[idx] = core_map(values[idx])
    return out


def g2rpo_reference(rewards, group_ids, task_ids, stages: str = "group+task") -> np.ndarray:
    x = np.asarray(rewards, dtype=np.float64)
    if stages in ("group+task", "group"):
        x = per_key(x, group_ids)
    if stages in ("group+task", "task"):
        x = per_key(x, task_ids)
    return x
