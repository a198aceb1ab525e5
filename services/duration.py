"""Durations in specs: seconds, or text like `90s`, `30m`, `24h`, `7d`."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BeforeValidator

_DURATION = re.compile(r"(\d+)\s*([smhd]?)")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3_600, "d": 86_400}
MAX_DURATION_SECONDS = 366 * 86_400  # longer than a year is a typo; it would also overflow dates


def parse_duration(value: object) -> int:
    """Seconds from an int (seconds) or text like `90s`, `30m`, `24h`, `7d`."""
    seconds: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        seconds = value
    elif isinstance(value, str) and (match := _DURATION.fullmatch(value.strip())):
        seconds = int(match[1]) * _UNIT_SECONDS[match[2]]
    if seconds is None:
        raise ValueError(f"{value!r} is not a duration; write seconds or e.g. 90s, 30m, 24h, 7d")
    if not 0 < seconds <= MAX_DURATION_SECONDS:
        raise ValueError(f"{value!r} must be more than 0 seconds and at most 366 days")
    return seconds


Duration = Annotated[int, BeforeValidator(parse_duration)]
