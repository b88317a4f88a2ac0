"""What every plot shares: one colour per service across all figures, and the PNG encoding."""

from __future__ import annotations

import io
from collections.abc import Iterable

from matplotlib.figure import Figure
from PIL import Image

from ..results import Results
from ..terms import ECHO

__all__ = ["DPI", "GOOD", "BAD", "NEUTRAL", "png_bytes", "service_colors"]

DPI = 100
GOOD, BAD, NEUTRAL = "#1b7f3b", "#b3261e", "#8a8a8a"
_ECHO_COLOR = "C7"  # grey: the bench's own ceiling, never a variant


def service_colors(results: Results, extra: Iterable[str] = ()) -> dict[str, str]:
    """The run's services in its own order, each a colour of matplotlib's cycle (echo grey)."""
    services = dict.fromkeys([*results.settings.services, *(s.service for s in results.steps), *extra])
    palette = [f"C{i}" for i in range(10) if f"C{i}" != _ECHO_COLOR]
    colors, used = {}, 0
    for service in services:
        if service == ECHO:
            colors[service] = _ECHO_COLOR
        else:
            colors[service] = palette[used % len(palette)]
            used += 1
    return colors


def png_bytes(figure: Figure) -> bytes:
    """The figure as a compact PNG: a 256-colour palette is indistinguishable for line plots and
    a third of the size, which keeps the self-contained report.html small."""
    raw = io.BytesIO()
    # A constrained layout already fits everything in; "tight" would draw the figure twice.
    tight = None if figure.get_layout_engine() is not None else "tight"
    figure.savefig(raw, format="png", dpi=DPI, bbox_inches=tight, metadata={"Software": None})
    raw.seek(0)
    with Image.open(raw) as image:
        palette = image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    out = io.BytesIO()
    palette.save(out, format="PNG", optimize=True)
    return out.getvalue()
