"""Pure formatting for table cells: ages, sparklines, progress bars, limits, ids.

Everything returns Rich ``Text`` (never markup strings), so a task name or an error
message containing ``[`` can never be read as markup. Colours come from a ``Palette``
taken from the app's Textual theme, and ``NO_COLOR`` turns the whole app monochrome.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from rich.style import Style
from rich.text import Text
from textual.app import App

from jobbers.api.schemas import QueueStats

BLOCKS = "▁▂▃▄▅▆▇█"
NEAR_LATE = 0.75
_PERIOD = {"second": "s", "minute": "m", "hour": "h", "day": "d"}


@dataclass(frozen=True)
class Palette:
    """The theme colours the tables use, as Rich styles."""

    error: Style
    warning: Style
    success: Style
    accent: Style
    muted: Style

    @classmethod
    def from_variables(cls, variables: Mapping[str, str]) -> Palette:
        """Build from ``App.get_css_variables()``, so a theme change recolours the tables."""

        def colour(name: str, fallback: str) -> Style:
            return Style(color=variables.get(name, fallback))

        return cls(
            error=colour("error", "red") + Style(bold=True),
            warning=colour("warning", "yellow"),
            success=colour("success", "green"),
            accent=colour("accent", "cyan"),
            muted=Style(dim=True),
        )

    @classmethod
    def of(cls, app: App[object]) -> Palette:
        """The palette of the app's current theme (cached per theme name)."""
        cached = _PALETTES.get(app.theme)
        if cached is None:
            cached = _PALETTES[app.theme] = cls.from_variables(app.get_css_variables())
        return cached


_PALETTES: dict[str, Palette] = {}


def duration(seconds: float | None) -> str:
    """A compact duration: ``0.4s``, ``12s``, ``3m05s``, ``1m``, ``2h03m``, ``3d04h``."""
    if seconds is None:
        return "—"
    s = max(0.0, seconds)
    if s < 9.95:
        return f"{s:.1f}s"
    whole = round(s)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return _units(whole // 60, "m", whole % 60, "s")
    if whole < 86400:
        return _units(whole // 3600, "h", whole % 3600 // 60, "m")
    return _units(whole // 86400, "d", whole % 86400 // 3600, "h")


def _units(big: int, unit: str, small: int, small_unit: str) -> str:
    return f"{big}{unit}{small:02d}{small_unit}" if small else f"{big}{unit}"


def since(now: dt.datetime, then: dt.datetime | None) -> float | None:
    """Seconds from ``then`` to ``now``, or None when ``then`` is unknown."""
    return None if then is None else (now - then).total_seconds()


def short_id(task_id: object, width: int) -> str:
    """The id, or its random tail when the column is narrow (ULIDs share their time prefix)."""
    text = str(task_id)
    return text if len(text) <= width else "…" + text[-(width - 1) :]


def middle(value: object, width: int) -> str:
    """The head and the tail with ``…`` between: a worker id keeps its host and its pid.

    The tail gets two thirds: it is what tells apart the workers of one host.
    """
    text = str(value)
    if len(text) <= width:
        return text
    head = (width - 1) // 3
    return text[:head] + "…" + text[len(text) - (width - 1 - head) :]


def clip(value: object, width: int) -> str:
    """One line of at most ``width`` characters, ending in an ellipsis when cut."""
    text = " ".join(str(value).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def sparkline(values: Sequence[int], width: int, style: Style | None = None) -> Text:
    """Values as block characters, oldest left; more points than columns are bucketed by max."""
    if width <= 0:
        return Text()
    points = list(values)
    if len(points) > width:
        size = len(points) / width
        points = [
            max(points[int(i * size) : max(int((i + 1) * size), int(i * size) + 1)])
            for i in range(width)
        ]
    top = max(points, default=0)
    chars = []
    for v in points:
        if top <= 0 or v <= 0:
            chars.append(BLOCKS[0])
        else:
            chars.append(BLOCKS[max(1, round(v / top * (len(BLOCKS) - 1)))])
    return Text("".join(chars).rjust(width), style=style or Style(), no_wrap=True)


def progress_bar(fraction: float | None, message: str | None, width: int) -> Text:
    """``███████░░░ 70%`` (blank when the task reports no progress)."""
    if fraction is None:
        return Text(clip(message, width) if message else "", no_wrap=True)
    fraction = min(max(fraction, 0.0), 1.0)
    bar_width = max(3, width - 5)
    filled = round(fraction * bar_width)
    text = Text(no_wrap=True)
    text.append("█" * filled)
    text.append("░" * (bar_width - filled), style=Style(dim=True))
    text.append(f"{fraction * 100:4.0f}%")
    return text


def heartbeat(age: float | None, limit: float | None, palette: Palette, width: int = 13) -> Text:
    """``age/limit`` against ``max_heartbeat_interval``: warning near it, ``age LATE`` past it.

    When ``age/limit`` does not fit ``width``, the age alone is shown (the colour still
    says how near the limit it is).
    """
    if age is None:
        return Text("—", style=palette.muted)
    if not limit:
        return Text(duration(age), style=palette.muted)
    if age >= limit:
        return Text(clip(f"{duration(age)} LATE", width), style=palette.error, no_wrap=True)
    label = f"{duration(age)}/{duration(limit)}"
    if len(label) > width:
        label = duration(age)
    if age >= NEAR_LATE * limit:
        return Text(label, style=palette.warning, no_wrap=True)
    return Text(label, no_wrap=True)


def rate(
    numerator: int | None, denominator: int | None, period: str | None, max_concurrent: int | None
) -> str:
    """A queue's limits in a few characters: ``≤5 100/h`` (``—`` when unlimited)."""
    parts = []
    if max_concurrent is not None:
        parts.append(f"≤{max_concurrent}")
    if numerator is not None and period:
        unit = _PERIOD.get(str(period), str(period))
        per = f"{denominator}{unit}" if denominator and denominator > 1 else unit
        parts.append(f"{numerator}/{per}")
    return " ".join(parts) or "—"


def queue_limits(queue: QueueStats) -> str:
    """``rate`` for a stats row."""
    return rate(
        queue.rate_numerator, queue.rate_denominator, queue.rate_period, queue.max_concurrent
    )


def count(value: int, palette: Palette, alert: bool = False) -> Text:
    """A right-aligned number; zero is dimmed, an alerting non-zero is coloured."""
    if value == 0:
        return Text("0", style=palette.muted, justify="right")
    return Text(f"{value:,}", style=palette.error if alert else Style(), justify="right")
