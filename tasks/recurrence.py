"""Recurring tasks: RFC 5545 RRULEs, checked by python-dateutil and stepped
here, day by day, within SEARCH_YEARS.

A task's `recurrence` is stored as its canonical RRULE (`FREQ=WEEKLY;BYDAY=MO`)
and its `time_zone` says where its due date's time of day lives, so a task due
at 08:00 in Berlin stays at 08:00 there across daylight saving time. COUNT
counts the series' occurrences: each task knows its place in the series
(`occurrence`, 1 for the first).

Why not dateutil's own stepping: a rule that matches no date at all
(FREQ=DAILY;INTERVAL=7;BYDAY=TU from a Monday) makes it search every year up
to 9999, UNTIL or not: 0.7 s of CPU. Here the search ends after SEARCH_YEARS
of days (at most 3,653 cheap tests), a rule is refused when it is written if
its pattern has no occurrence in that span (check_recurs), and a series ends
where it has none. The day tests follow dateutil's reading of the parts we
accept, which tasks/tests/test_recurrence.py compares with dateutil itself."""

from __future__ import annotations

import calendar
import functools
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, available_timezones

from dateutil.relativedelta import relativedelta
from dateutil.rrule import rrulestr

from todo_project.patterns import pattern

MAX_LENGTH = 200
SHORTHANDS = {
    "daily": "FREQ=DAILY",
    "weekly": "FREQ=WEEKLY",
    "monthly": "FREQ=MONTHLY",
    "yearly": "FREQ=YEARLY",
}
# The parts we accept, in the order a canonical rule lists them.
PARTS = ("FREQ", "INTERVAL", "BYDAY", "BYMONTHDAY", "COUNT", "UNTIL")
FREQUENCIES = ("DAILY", "WEEKLY", "MONTHLY", "YEARLY")
MAX_INTERVAL = 1000
MAX_COUNT = 10000
# A series whose next date lies further out than this has ended, and a rule
# whose pattern has no date within it is refused (SPEC.md section 4).
SEARCH_YEARS = 10
SEARCH_DAYS = SEARCH_YEARS * 366
# Due dates and reminders lie between these (SPEC.md section 4), so every date
# the search reaches can be written.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2999, 12, 31, 23, 59, 59, tzinfo=UTC)
_WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")

_DAY = r"[+-]?(?:[1-9]|[1-4][0-9]|5[0-3])?(?:MO|TU|WE|TH|FR|SA|SU)"
_FORMATS = {
    "INTERVAL": pattern(r"[0-9]{1,4}"),
    "COUNT": pattern(r"[0-9]{1,5}"),
    "BYDAY": pattern(rf"{_DAY}(?:,{_DAY})*"),
    "BYMONTHDAY": pattern(r"-?[0-9]{1,2}(?:,-?[0-9]{1,2})*"),
    "UNTIL": pattern(r"[0-9]{8}(?:T[0-9]{6}Z?)?"),
}


class InvalidRule(ValueError):
    """The message says what is wrong, for a person."""


def normalize(text: str) -> str:
    """The canonical RRULE for `text` (an RRULE, with or without "RRULE:", or
    a shorthand such as "weekly"), or InvalidRule."""
    text = text.strip()
    if len(text) > MAX_LENGTH:
        raise InvalidRule(f"Use at most {MAX_LENGTH} characters.")
    text = SHORTHANDS.get(text.lower(), text)
    if text[:6].upper() == "RRULE:":
        text = text[6:]
    parts: dict[str, str] = {}
    for item in filter(None, text.upper().split(";")):
        name, sign, value = item.partition("=")
        if not sign or not value:
            raise InvalidRule(f'"{item}" is not NAME=VALUE, as in FREQ=WEEKLY;BYDAY=MO.')
        if name not in PARTS:
            raise InvalidRule(f"{name} is not supported; use {', '.join(PARTS)}.")
        if name in parts:
            raise InvalidRule(f"{name} is given twice.")
        if name in _FORMATS and not _FORMATS[name].fullmatch(value):
            raise InvalidRule(f"{name}={value} is not valid.")
        parts[name] = value
    if parts.get("FREQ") not in FREQUENCIES:
        raise InvalidRule(f"FREQ is required: one of {', '.join(FREQUENCIES)} (or daily, weekly, ...).")
    if not 1 <= int(parts.get("INTERVAL", 1)) <= MAX_INTERVAL:
        raise InvalidRule(f"INTERVAL must be 1 to {MAX_INTERVAL}.")
    if not 1 <= int(parts.get("COUNT", 1)) <= MAX_COUNT:
        raise InvalidRule(f"COUNT must be 1 to {MAX_COUNT}.")
    if "COUNT" in parts and "UNTIL" in parts:
        raise InvalidRule("Give COUNT or UNTIL, not both.")
    days = parts.get("BYMONTHDAY", "").split(",") if "BYMONTHDAY" in parts else []
    if any(not 1 <= abs(int(day)) <= 31 for day in days):
        raise InvalidRule("BYMONTHDAY days must be 1 to 31, or -1 to -31 from the month's end.")
    rule = ";".join(f"{name}={parts[name]}" for name in PARTS if name in parts)
    if "UNTIL" in parts:
        _until(parts["UNTIL"], EARLIEST)
    try:  # dateutil's own checks (BYDAY and the like)
        rrulestr(_without(_without(rule, "COUNT"), "UNTIL"), dtstart=datetime(2000, 1, 1, tzinfo=UTC))
    except (ValueError, TypeError, KeyError, OverflowError) as exc:
        raise InvalidRule(f"This rule is not valid: {exc}.") from None
    return rule


@functools.cache
def _time_zone_names() -> frozenset[str]:
    return frozenset(available_timezones())


def valid_time_zone(name: str) -> ZoneInfo:
    """The IANA zone `name` ("Europe/Berlin"), or InvalidRule. Only names of
    the zone database: ZoneInfo would also try "America" (a directory) or a
    path, and fail in ways of its own."""
    if name not in _time_zone_names():
        raise InvalidRule(f'"{name[:64]}" is not a time zone; use an IANA name such as Europe/Berlin.')
    return ZoneInfo(name)


def next_due(rule: str, due: datetime, *, time_zone: str = "UTC", occurrence: int = 1) -> datetime | None:
    """The due date (UTC) of the occurrence after the one due at `due`, the
    `occurrence`-th of its series, or None when the series has ended: COUNT
    or UNTIL, no occurrence within SEARCH_YEARS, or none before LATEST."""
    found = next_occurrence(rule, due, time_zone=time_zone, occurrence=occurrence)
    return None if found is None else found[0]


def next_occurrence(
    rule: str,
    due: datetime,
    *,
    time_zone: str = "UTC",
    occurrence: int = 1,
    not_before: datetime | None = None,
    from_completion: bool = False,
) -> tuple[datetime, int] | None:
    """The due date (UTC) and place in the series of the occurrence that
    follows the `occurrence`-th, due at `due`, when it is completed at
    `not_before`; or None when the series has ended (COUNT, UNTIL, no
    occurrence within SEARCH_YEARS, none before LATEST).

    By the due date (the default): the rule's first date after `due` that is
    after `not_before` too; the dates passed over count as occurrences of
    the series (for COUNT). From the completion (Todoist's "every!"): the
    rule counted from the day of `not_before`, in `time_zone`, as if the
    series started then. Either way at due's time of day in `time_zone`."""
    count = _part(rule, "COUNT")
    if count is not None and occurrence >= int(count):
        return None
    zone = ZoneInfo(time_zone)
    if from_completion and not_before is not None:
        start = datetime.combine(not_before.astimezone(zone).date(), due.astimezone(zone).timetz())
        found = _first_after(rule, start, zone)
    else:
        found = _first_after(rule, due, zone, not_before=not_before, counting=count is not None)
    if found is None:
        return None
    following, passed = found
    place = occurrence + passed + 1
    if count is not None and place > int(count):
        return None
    until = _part(rule, "UNTIL")
    if until is not None and following > _until(until, following):
        return None
    return following.astimezone(UTC), place


def check_recurs(rule: str, due: datetime, *, time_zone: str = "UTC") -> None:
    """InvalidRule unless the rule's pattern has an occurrence after `due`
    within SEARCH_YEARS (COUNT and UNTIL, which end a series, aside)."""
    if _first_after(rule, due, ZoneInfo(time_zone)) is None:
        raise InvalidRule(
            f"This rule has no date in the {SEARCH_YEARS} years after the due date; check INTERVAL,"
            " BYDAY and BYMONTHDAY."
        )


def _first_after(
    rule: str, due: datetime, zone: ZoneInfo, *, not_before: datetime | None = None, counting: bool = False
) -> tuple[datetime, int] | None:
    """The rule's first occurrence after `due` (and after `not_before`), at
    due's time of day in `zone`, within SEARCH_YEARS of where the search
    begins and before LATEST, with the number of the rule's dates passed
    over between `due` and it (counted only when `counting`, one test per
    day, and only within SEARCH_YEARS: a task more than that overdue starts
    its count afresh); or None."""
    if not EARLIEST <= due <= LATEST:
        return None
    local = due.astimezone(zone)
    start = local.date()
    matches = _day_test(dict(item.split("=", 1) for item in rule.split(";")), start)
    day = start + timedelta(days=1)
    passed = 0
    if not_before is not None and not_before > due:
        first = not_before.astimezone(zone).date()
        days = (first - day).days
        if counting and days <= SEARCH_DAYS:
            passed = sum(1 for offset in range(days) if matches(day + timedelta(days=offset)))
        day = max(day, first)
    end = min(day + relativedelta(years=SEARCH_YEARS), LATEST.date())
    while day <= end:
        if matches(day):
            found = datetime.combine(day, local.timetz())
            if not_before is None or found > not_before:
                return (found, passed) if found <= LATEST else None
            passed += 1
        day += timedelta(days=1)
    return None


def _day_test(parts: dict[str, str], start: date) -> Callable[[date], bool]:
    """Whether a day holds an occurrence of a series that starts on `start`,
    as dateutil reads the parts we accept: periods of INTERVAL days, weeks
    (from Monday), months or years counted from the start's; BYDAY and
    BYMONTHDAY both limit the days (BYDAY's ordinals count within the month,
    or the year, and only for MONTHLY and YEARLY); without either, the
    start's weekday, day of the month, or day of the year."""
    frequency, interval = parts["FREQ"], int(parts.get("INTERVAL", "1"))
    weekdays: set[int] = set()
    ordinals: set[tuple[int, int]] = set()
    for item in filter(None, parts.get("BYDAY", "").split(",")):
        weekday, ordinal = _WEEKDAYS.index(item[-2:]), item[:-2]
        if ordinal and frequency in ("MONTHLY", "YEARLY"):
            ordinals.add((weekday, int(ordinal)))
        else:
            weekdays.add(weekday)
    monthdays = {int(day) for day in filter(None, parts.get("BYMONTHDAY", "").split(","))}
    same_day_of_year = False
    if not weekdays and not ordinals and not monthdays:
        if frequency == "YEARLY":
            same_day_of_year = True
        elif frequency == "MONTHLY":
            monthdays = {start.day}
        elif frequency == "WEEKLY":
            weekdays = {start.weekday()}
    start_week = start - timedelta(days=start.weekday())

    def in_period(day: date) -> bool:
        if frequency == "DAILY":
            return (day - start).days % interval == 0
        if frequency == "WEEKLY":
            return ((day - timedelta(days=day.weekday()) - start_week).days // 7) % interval == 0
        if frequency == "MONTHLY":
            return ((day.year - start.year) * 12 + day.month - start.month) % interval == 0
        return (day.year - start.year) % interval == 0

    def matches(day: date) -> bool:
        if not in_period(day):
            return False
        if same_day_of_year:
            return (day.month, day.day) == (start.month, start.day)
        if weekdays and day.weekday() not in weekdays:
            return False
        if ordinals and not _is_ordinal_weekday(day, ordinals, within_year=frequency == "YEARLY"):
            return False
        if monthdays:
            last = calendar.monthrange(day.year, day.month)[1]
            return day.day in monthdays or day.day - last - 1 in monthdays
        return True

    return matches


def _is_ordinal_weekday(day: date, ordinals: set[tuple[int, int]], *, within_year: bool) -> bool:
    """Whether `day` is the n-th (from the end when n < 0) of its weekday in
    its month, or in its year, for one (weekday, n) of `ordinals`."""
    if within_year:
        index, length = day.timetuple().tm_yday - 1, 366 if calendar.isleap(day.year) else 365
    else:
        index, length = day.day - 1, calendar.monthrange(day.year, day.month)[1]
    weekday = day.weekday()
    return (weekday, index // 7 + 1) in ordinals or (weekday, -((length - 1 - index) // 7 + 1)) in ordinals


def _until(value: str, start: datetime) -> datetime:
    try:
        if "T" not in value:  # a date: through the end of that day
            day = datetime.strptime(value, "%Y%m%d")
            return day.replace(hour=23, minute=59, second=59, tzinfo=start.tzinfo)
        if value.endswith("Z"):
            return datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        return datetime.strptime(value, "%Y%m%dT%H%M%S").replace(tzinfo=start.tzinfo)
    except ValueError:
        raise InvalidRule(f"UNTIL={value} is not a date.") from None


def _part(rule: str, name: str) -> str | None:
    for item in rule.split(";"):
        key, _, value = item.partition("=")
        if key == name:
            return value
    return None


def _without(rule: str, name: str) -> str:
    return ";".join(item for item in rule.split(";") if item.partition("=")[0] != name)
