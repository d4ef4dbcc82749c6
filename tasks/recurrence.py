"""Recurring tasks: RFC 5545 RRULEs, checked and stepped by python-dateutil.

A task's `recurrence` is stored as its canonical RRULE (`FREQ=WEEKLY;BYDAY=MO`)
and its `time_zone` says where its due date's time of day lives, so a task due
at 08:00 in Berlin stays at 08:00 there across daylight saving time. COUNT
counts the series' occurrences: each task knows its place in the series
(`occurrence`, 1 for the first)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.rrule import rrule, rrulestr

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
# A series whose next date lies further out than this has ended. It also
# bounds the search for a rule that matches no date at all.
HORIZON = timedelta(days=366 * 100)

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
    _series(
        _without(rule, "COUNT"), datetime(2000, 1, 1, tzinfo=UTC)
    )  # dateutil's own checks (BYDAY and the like)
    return rule


def valid_time_zone(name: str) -> ZoneInfo:
    """The IANA zone `name` ("Europe/Berlin"), or InvalidRule."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise InvalidRule(f'"{name}" is not a time zone; use an IANA name such as Europe/Berlin.') from None


def next_due(rule: str, due: datetime, *, time_zone: str = "UTC", occurrence: int = 1) -> datetime | None:
    """The due date (UTC) of the occurrence after the one due at `due`, the
    `occurrence`-th of its series, or None when the series has ended."""
    count = _part(rule, "COUNT")
    if count is not None and occurrence >= int(count):
        return None
    local = due.astimezone(ZoneInfo(time_zone))
    series = _series(_without(rule, "COUNT"), local)
    following = series.after(local)
    return None if following is None else following.astimezone(UTC)


def _series(rule: str, start: datetime) -> rrule:
    """The rule as dateutil's rrule from `start` (an aware datetime): UNTIL
    read in start's zone unless it says Z, and never past HORIZON."""
    until = _part(rule, "UNTIL")
    horizon = start + HORIZON
    if until is not None:
        end = _until(until, start)
        horizon = min(horizon, end)
        rule = _without(rule, "UNTIL")
    try:
        return rrulestr(rule, dtstart=start).replace(until=horizon)
    except (ValueError, TypeError, KeyError, OverflowError) as exc:
        raise InvalidRule(f"This rule is not valid: {exc}.") from None


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
