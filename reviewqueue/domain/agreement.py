"""Inter-reviewer agreement on the same items: percent agreement and Cohen's kappa. Pure
Python (about twenty lines; no library: scikit-learn or statsmodels would be a large
dependency for one formula). reporting/agreement.py reads the votes and calls these.

Cohen's kappa for two raters over the same items:
    kappa = (p_o - p_e) / (1 - p_e)
with p_o the share of items where both said the same, and p_e the agreement expected by
chance: the sum over categories of the product of each rater's share of that category.
"""

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

# Fewer paired items than this and the numbers say nothing: shown as null with a reason.
MIN_ITEMS = 5


@dataclass(frozen=True)
class Agreement:
    items: int  # items both raters judged
    percent: float | None  # share of those where they agreed, 0..1
    kappa: float | None
    reason: str = ""  # why a number is None


def cohen_kappa(pairs: Sequence[tuple[str, str]]) -> float | None:
    """Kappa of two raters' labels on the same items; None when it is undefined (no items,
    or chance agreement is certain: both always gave the one same label)."""
    n = len(pairs)
    if n == 0:
        return None
    observed = sum(1 for a, b in pairs if a == b) / n
    first, second = Counter(a for a, _ in pairs), Counter(b for _, b in pairs)
    expected = sum(first[c] * second[c] for c in first.keys() | second.keys()) / (n * n)
    if expected >= 1:
        return None
    return (observed - expected) / (1 - expected)


def agreement_of(pairs: Sequence[tuple[str, str]], *, min_items: int = MIN_ITEMS) -> Agreement:
    """Percent agreement and kappa of paired labels, or None with a reason."""
    n = len(pairs)
    if n < min_items:
        return Agreement(n, None, None, f"too few items judged by both ({n}, need {min_items})")
    percent = sum(1 for a, b in pairs if a == b) / n
    kappa = cohen_kappa(pairs)
    reason = "" if kappa is not None else "every vote had the same outcome (kappa undefined)"
    return Agreement(n, percent, kappa, reason)
