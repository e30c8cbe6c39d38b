"""The spread over seeds that the experiments report and the figures draw: the median and
the band between two percentiles."""

from __future__ import annotations

import numpy as np

__all__ = ["BAND", "band"]

#: The percentiles of the band drawn and tabulated around the median.
BAND = (10.0, 90.0)


def band(values: np.ndarray, axis: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(median, 10th percentile, 90th percentile) of ``values`` along ``axis``."""
    v = np.asarray(values, dtype=np.float64)
    lo, mid, hi = np.percentile(v, [BAND[0], 50.0, BAND[1]], axis=axis)
    return np.asarray(mid), np.asarray(lo), np.asarray(hi)
