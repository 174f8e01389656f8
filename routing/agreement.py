"""How often the AI judge agrees with people, per slice, with Wilson intervals (no Django).

Feed it the audit items only: they are drawn uniformly at random, so their agreement rate is an
unbiased estimate for the whole pool (and for each slice). Items routed by gain are chosen
*because* the AI is likely wrong there, so including them would make the AI look worse than it is.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

from .encoding import check_labels

Slices = str | Iterable[str] | None


class SliceAgreement(NamedTuple):
    """Share of items where the AI label equals the human label, its Wilson interval, and the count."""

    agree_rate: float
    lo: float
    hi: float
    n: int


def wilson_interval(agreements: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a share of ``agreements`` out of ``n`` (scipy's binomtest)."""
    from scipy.stats import binomtest

    if n <= 0:
        raise ValueError("A Wilson interval needs at least one item; this slice has none.")
    if not 0 <= agreements <= n:
        raise ValueError(f"The number of agreements must be between 0 and {n}; got {agreements}.")
    interval = binomtest(agreements, n).proportion_ci(confidence_level=confidence, method="wilson")
    return float(interval.low), float(interval.high)


def agreement_by_slice(
    slices: Sequence[Slices],
    ai_labels: Sequence[object],
    human_labels: Sequence[object],
    confidence: float = 0.95,
) -> dict[str, SliceAgreement]:
    """AI–human agreement for each slice: ``{slice: (agree_rate, lo, hi, n)}``, sorted by slice name.

    ``slices[i]`` is the slice of item i: a name (e.g. "domain=coding"), several names (an item can be
    in "domain=coding" and "safety=high" at once), or None for none. Labels are "a", "b" or "tie".
    """
    if isinstance(slices, (str, bytes)) or not isinstance(slices, Sequence):
        raise ValueError(f"The slices must be a list with one entry per item; got {type(slices).__name__}.")
    n = len(slices)
    ai = check_labels(ai_labels, n, "AI labels")
    human = check_labels(human_labels, n, "human labels")
    if not 0 < confidence < 1:
        raise ValueError(f"The confidence level must be between 0 and 1; got {confidence!r}.")
    counts: dict[str, list[int]] = {}
    for i, (names, a, h) in enumerate(zip(slices, ai, human)):
        if names is None:
            continue
        group = [names] if isinstance(names, str) else list(names)
        for name in dict.fromkeys(group):  # an item counts once per slice
            if not isinstance(name, str):
                raise ValueError(f"The slice names of item {i} must be strings; got {name!r}.")
            tally = counts.setdefault(name, [0, 0])
            tally[0] += a == h
            tally[1] += 1
    result: dict[str, SliceAgreement] = {}
    for name in sorted(counts):
        agree, total = counts[name]
        lo, hi = wilson_interval(agree, total, confidence)
        result[name] = SliceAgreement(agree / total, lo, hi, total)
    return result
