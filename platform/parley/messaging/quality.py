"""A number's quality rating from its customers' blocks (the pure rule, no Django).

The platform rates a number by how its recent customers answer it: blocks and reports in the
last 7 days against the customers it reached. Meta publishes no thresholds; Parley's are
settings (`PARLEY["QUALITY_BLOCKS"]`): a rating falls to a level once both its count of
customers who blocked and their share of the customers reached reach that level's. It rises
again by itself as the blocks age out of the window."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

WINDOW = dt.timedelta(days=7)
ORDER = ("GREEN", "YELLOW", "RED")  # best first


def rating_from_blocks(
    blocked: int, reached: int, thresholds: Mapping[str, tuple[int, float]]
) -> str:
    """The rating `blocked` customers out of `reached` (both in the window) earn:
    thresholds map YELLOW and RED to (minimum blocks, minimum share)."""
    share = blocked / max(reached, blocked, 1)
    for level in ("RED", "YELLOW"):
        least, fraction = thresholds[level]
        if blocked >= least and share >= fraction:
            return level
    return "GREEN"


def worse(a: str, b: str) -> bool:
    """Whether rating `a` is lower than rating `b`."""
    return ORDER.index(a) > ORDER.index(b)
