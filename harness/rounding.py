"""Number formatting that never flatters: every figure is rounded against the service.

A latency is rounded up and a success rate down, so "99.99 %" is never printed for a service
that achieved 99.989 %, nor "812.3 ms" for one that took 812.34 ms. Interval ends are rounded
outwards, so a printed interval is never narrower than the computed one. Values are read as
decimals at 12 significant digits first, so float noise (0.1 * 3 = 0.30000000000000004) cannot
push a figure up a digit.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Literal

__all__ = ["P_FLOOR", "Better", "estimate", "number", "p_value", "percent", "unit_number"]

Better = Literal["lower", "higher"]
MISSING = "n/a"


def _decimal(value: float) -> Decimal:
    return Decimal(f"{float(value):.12g}")


def _rounded(value: Decimal, decimals: int, better: Better) -> Decimal:
    # Round against the service: up when lower is better, down when higher is better.
    rounding = ROUND_CEILING if better == "lower" else ROUND_FLOOR
    return value.quantize(Decimal(1).scaleb(-decimals), rounding=rounding)


def number(value: float | None, decimals: int = 1, better: Better = "lower") -> str:
    if value is None:
        return MISSING
    return f"{_rounded(_decimal(value), decimals, better):f}"


def unit_number(value: float | None, unit: str, decimals: int = 1, better: Better = "lower") -> str:
    return MISSING if value is None else f"{number(value, decimals, better)} {unit}"


def percent(value: float | None, decimals: int = 3, better: Better = "higher") -> str:
    """A fraction (0.999) as a percentage ("99.900 %")."""
    if value is None:
        return MISSING
    return f"{_rounded(_decimal(value) * 100, decimals, better):f} %"


P_FLOOR = 1e-16  # below this a p-value is float noise: it reads "< 1e-16"


def p_value(p: float | None) -> str:
    """A p-value; below float resolution it reads "< 1e-16" rather than a misleading 0."""
    if p is None:
        return MISSING
    return f"< {P_FLOOR:g}" if p < P_FLOOR else f"{p:.3g}"


def estimate(
    value: float | None,
    low: float | None,
    high: float | None,
    decimals: int = 1,
    better: Better = "lower",
) -> str:
    """ "812.4 [790.1, 835.1]": the value rounded against the service, the interval outwards."""
    text = number(value, decimals, better)
    if value is not None and low is not None and high is not None:
        text += f" [{number(low, decimals, 'higher')}, {number(high, decimals, 'lower')}]"
    return text
