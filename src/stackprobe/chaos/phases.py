"""The recovery phases a chaos experiment times, and how their figures are summarised: shared by
the experiments that measure them and the report that draws them."""

from __future__ import annotations

import math

PHASES = ("running", "healthy", "http_200", "first_write")


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (no interpolation: every figure shown was measured)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]
