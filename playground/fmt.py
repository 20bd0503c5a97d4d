"""Numbers (and models) as the pages print them: the same digits in every language, never a truncated or odd one.

``nan`` and ``inf`` are written as such (not ``None`` or ``Infinity``), and a value that rounds
to zero is written without a minus sign (``-0.0000`` would suggest a negative loss).
"""

from __future__ import annotations

import math

from playground.i18n import plain


def number(value, spec: str = ".4f") -> str:
    """``format(value, spec)`` with nan/inf spelled out and no negative zero."""
    if value is None:
        return "—"
    value = float(value)
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    text = format(value, spec)
    if text.startswith("-") and _is_zero(text):
        text = ("+" if "+" in spec else "") + text[1:]  # as a positive zero prints under this spec
    return text


def _is_zero(text: str) -> bool:
    mantissa = text.lstrip("+-").split("e")[0].rstrip("%")
    return all(ch in "0." for ch in mantissa)


def percent(fraction, decimals: int = 2) -> str:
    """0.9753 → ``97.53%``."""
    return number(fraction, f".{decimals}%")


def count(n: int) -> str:
    """12345 → ``12,345``."""
    return f"{int(n):,}"


def duration(seconds: float | None) -> str:
    """``42 s``, ``3 min 05 s``, ``2 h 10 min`` — the units in the user's language; ``…`` when unknown."""
    if seconds is None or not math.isfinite(seconds):
        return "…"
    if 0 < seconds < 0.95:  # a tiny run's estimate: "about 0.3 s", never "about 0 s"
        return plain("units.seconds", seconds=max(0.1, round(seconds, 1)))
    seconds = int(round(max(0.0, seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return plain("units.hours_minutes", hours=hours, minutes=minutes)
    if minutes:
        return plain("units.minutes_seconds", minutes=minutes, seconds=secs)
    return plain("units.seconds", seconds=secs)


def model(spec) -> str:
    """A model as the pages name it: ``spec.label()`` (names and sizes, the same in every language),
    except that a network without hidden layers is softmax regression in the reader's words."""
    if spec.kind == "mlp" and not spec.hidden_sizes:
        return plain("model.softmax_regression", sizes=f"{spec.in_features}-{spec.num_classes}")
    return spec.label()
