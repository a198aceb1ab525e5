"""Is a run's outcome right? Checked by code against the case, never by a model.

Answers are read the way a person would: numbers with thousands separators or a currency sign,
dates in the usual spellings, times as 24- or 12-hour clock readings.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from evals.cases import Case

_NUMBER = re.compile(r"(?<![\w.])[-−]?\d{1,3}(?:,\d{3})+(?:\.\d+)?|(?<![\w.])[-−]?\d+(?:\.\d+)?")
_CLOCK = re.compile(r"(?<!\d)(\d{1,2}):(\d{2})(?::\d{2})?\s*([ap]\.?m\.?)?", re.IGNORECASE)
TIME_TOLERANCE = timedelta(minutes=5)


def answer_failures(case: Case, answer: str, finished: datetime) -> list[str]:
    """What the answer gets wrong ([] when it is right); `finished` is when the run ended."""
    failures = []
    text = answer.casefold()
    if case.number is not None and not any(_close(n, case.number) for n in numbers_in(answer)):
        wanted = int(case.number) if case.number.is_integer() else case.number
        failures.append(f"the answer lacks {wanted}")
    missing = [word for word in case.contains if word.casefold() not in text]
    failures += [f"the answer lacks {word!r}" for word in missing]
    if case.contains_any and not any(word.casefold() in text for word in case.contains_any):
        failures.append(f"the answer has none of {case.contains_any}")
    if case.today and not any(form.casefold() in text for form in _today_forms(case, finished)):
        failures.append(f"the answer lacks today's {case.today} ({case.zone})")
    if case.time_in and not _reads_the_time(answer, finished.astimezone(ZoneInfo(case.time_in))):
        failures.append(f"the answer lacks the time in {case.time_in}")
    return failures


def file_failures(case: Case, files: dict[str, str]) -> list[str]:
    """What the workspace gets wrong; `files` is path → text after the run."""
    failures = []
    for path, wanted in case.files.items():
        if path not in files:
            failures.append(f"{path} was not written")
        elif _plain(files[path]) != _plain(wanted):
            failures.append(f"{path} holds {files[path][:80]!r}, not {wanted!r}")
    failures += [f"{path} exists" for path in case.absent if path in files]
    return failures


def numbers_in(text: str) -> list[float]:
    """Every number written in `text` ('7,006,652', '$87.50', '−737')."""
    found = []
    for match in _NUMBER.findall(text.replace("$", " ").replace("€", " ")):
        found.append(float(match.replace(",", "").replace("−", "-")))
    return found


def _close(value: float, wanted: float) -> bool:
    return abs(value - wanted) <= max(1e-6, abs(wanted) * 1e-6) or round(value, 2) == round(
        wanted, 2
    )


def _today_forms(case: Case, finished: datetime) -> set[str]:
    """How people write today's date, weekday, year or month (the day the run ended, and the
    day before in case it ended just after midnight)."""
    forms: set[str] = set()
    for moment in (finished, finished - timedelta(minutes=10)):
        day = moment.astimezone(ZoneInfo(case.zone))
        if case.today == "date":
            forms |= {
                day.strftime("%Y-%m-%d"),
                f"{day:%B} {day.day}, {day.year}",
                f"{day.day} {day:%B} {day.year}",
                f"{day:%B} {day.day} {day.year}",
                f"{day:%b} {day.day}, {day.year}",
                f"{day.day} {day:%b} {day.year}",
                f"{day.day:02d} {day:%b} {day.year}",
                f"{day.month}/{day.day}/{day.year}",
                f"{day.month:02d}/{day.day:02d}/{day.year}",
            }
        elif case.today == "weekday":
            forms.add(f"{day:%A}")
        elif case.today == "year":
            forms.add(str(day.year))
        elif case.today == "month":
            forms.add(f"{day:%B}")
    return forms


def _reads_the_time(answer: str, now: datetime) -> bool:
    """Whether a clock reading in `answer` is within TIME_TOLERANCE of `now` (same zone)."""
    for hours, minutes, meridiem in _CLOCK.findall(answer):
        hour, minute = int(hours), int(minutes)
        candidates = [hour]
        if meridiem:
            pm = meridiem.lower().startswith("p")
            candidates = [(hour % 12) + (12 if pm else 0)]
        for candidate in candidates:
            if candidate > 23 or minute > 59:
                continue
            reading = now.replace(hour=candidate, minute=minute, second=0, microsecond=0)
            days = (timedelta(days=d) for d in (-1, 0, 1))  # readings across midnight
            if min(abs(reading + day - now) for day in days) <= TIME_TOLERANCE:
                return True
    return False


def _plain(text: str) -> str:
    """File text compared as a person would: case, surrounding space, quotes and a final full
    stop do not matter."""
    return text.strip().strip("'\"`").strip().rstrip(".").casefold()
