"""Money units of the demo and an exact, deterministic way to share a published total.

Amounts are integer VND throughout. Published figures are in billion VND (tỷ đồng); what the
demo generates from them (per-project totals, payments) always sums exactly to the published
total, with no rounding left over.
"""

from __future__ import annotations

from collections.abc import Sequence

MILLION = 10**6
BILLION = 10**9


def billions(amount: int) -> int:
    """``amount`` billion VND, in VND."""
    return amount * BILLION


def millions(amount: int) -> int:
    """``amount`` million VND, in VND."""
    return amount * MILLION


def split_exact(total: int, weights: Sequence[int]) -> list[int]:
    """Share ``total`` in proportion to ``weights``; the shares sum exactly to ``total``.

    Each share is first rounded down; the few units left over go to the largest weights (ties to
    the earlier one). When the weights are pairwise distinct and ``total >= sum(weights)`` the
    shares are pairwise distinct too: two weights at least 1 apart get shares at least 1 apart
    before the left-over units, and those go to a run of the largest weights, keeping the order.
    """
    if not weights or any(weight <= 0 for weight in weights):
        raise ValueError("weights must be positive and at least one")
    if total < 0:
        raise ValueError("the total to share must not be negative")
    weight_sum = sum(weights)
    shares = [total * weight // weight_sum for weight in weights]
    left_over = total - sum(shares)
    by_weight = sorted(range(len(weights)), key=lambda index: (-weights[index], index))
    for index in by_weight[:left_over]:
        shares[index] += 1
    return shares


def spread_weights(count: int, salt: int) -> list[int]:
    """``count`` pairwise distinct weights in 200..1196 that look irregular, the same every run.

    ``i * 7919 mod 997`` visits distinct residues for ``i < 997`` because 997 is prime and does
    not divide 7919.
    """
    if count > 997:
        raise ValueError("at most 997 distinct weights")
    return [200 + (index * 7919 + salt) % 997 for index in range(count)]
