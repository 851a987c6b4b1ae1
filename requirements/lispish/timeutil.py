"""Dates for BEFORE and AFTER: epoch seconds or "YYYY-MM-DD[ HH:MM]" strings.

The plugin parsed dates with ``strptime("%Y-%m-%d")`` and ``"%Y-%m-%d %H:%M"``,
which also accept one-digit months, days, hours and minutes; so do we.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, tzinfo
from functools import lru_cache

from .errors import EvalError

DATE_FORMATS = '"YYYY-MM-DD" or "YYYY-MM-DD HH:MM"'
_DATE = re.compile(
    r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})(?: ([0-9]{1,2}):([0-9]{1,2}))?\Z"
)
_MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()


def parse_date_literal(text: str) -> datetime | None:
    """Return the naive datetime a date string names, or None if malformed."""
    match = _DATE.match(text)
    if match is None:
        return None
    year, month, day, hour, minute = (int(g) if g else 0 for g in match.groups())
    try:
        return datetime(year, month, day, hour, minute)
    except ValueError:
        return None


def is_date_literal(text: str) -> bool:
    """Tell whether a string is a date BEFORE and AFTER accept."""
    return parse_date_literal(text) is not None


def date_error(value: object) -> EvalError:
    """Build the error for a value that is not a date."""
    return EvalError(
        f"expected a date as epoch seconds or {DATE_FORMATS}, got {value!r}"
    )


@lru_cache(maxsize=1024)
def _epoch_of(text: str, tz: tzinfo) -> int:
    naive = parse_date_literal(text)
    if naive is None:
        raise date_error(text)
    localize = getattr(tz, "localize", None)  # pytz zones need localize()
    aware = localize(naive) if localize else naive.replace(tzinfo=tz)
    return int(aware.timestamp())


def to_epoch(value: int | str, tz: tzinfo) -> int:
    """Convert a BEFORE/AFTER argument to epoch seconds in the time zone ``tz``.

    Raises EvalError without a place; the evaluator points it at the call.
    """
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise date_error(value)
    if isinstance(value, int):
        return value
    return _epoch_of(value, tz)


def format_date_literal(text: str) -> str | None:
    """Render a date string for players, e.g. "1 Dec 2026 12:00"."""
    moment = parse_date_literal(text)
    if moment is None:
        return None
    day = f"{moment.day} {_MONTHS[moment.month - 1]} {moment.year}"
    if " " in text:
        return f"{day} {moment.hour:02d}:{moment.minute:02d}"
    return day


def format_epoch(seconds: int) -> str:
    """Render epoch seconds for players, in UTC."""
    try:
        moment = datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return f"{seconds} seconds after 1 Jan 1970 UTC"
    month = _MONTHS[moment.month - 1]
    return f"{moment.day} {month} {moment.year} {moment:%H:%M} UTC"
