"""When, in plain English, for the LOCAL assistant: "every Monday at 8am",
"tomorrow morning", "next Friday", "on December 3", "on the 15th", "in 2
hours", "next week", "next month", "this weekend", "remind me at 8", "every 2
days after I finish it".

read_schedule finds such phrases in a task's words, takes them out of the
title and gives the due date, the recurrence (an RRULE) and the reminder,
reading relative dates in the user's time zone."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from dateutil.relativedelta import relativedelta
from dateutil.rrule import rrulestr

from todo_project.patterns import pattern

DEFAULT_TIME = time(9, 0)  # a day without a time of day: 09:00 there

_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_RRULE_DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_MONTHS = (
    "january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
    "november", "december",
)  # fmt: skip
_DAY = (
    r"(monday|tuesday|wednesday|thursday|friday|saturday|sunday|mon|tues|tue|wed|thurs|thur|thu|fri|sat|sun)"
)
_MONTH = (
    r"(january|february|march|april|may|june|july|august|september|october|november|december"
    r"|jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec)\.?"
)
_NUMBER_WORDS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "other": 2}
_NUMBER = r"(\d{1,3}|a|an|one|two|three|four|five|six)"
_CLOCK = r"(\d{1,2})(?::(\d{2}))?\s*(am|pm|a\.m\.|p\.m\.)?|(noon|midday|midnight)"

# Linear in the text's length, every one (todo_project/patterns.py): a day
# list's days are atomic, and no pattern starts with a run of spaces or commas
# (what is left of the text is tidied by _Words.rest).
_FLAGS = re.IGNORECASE
_REMIND_AT = pattern(rf"\b(?:and\s+)?remind me (?:at|by)\s+(?:{_CLOCK})\b", _FLAGS)
_REMIND_IN = pattern(rf"\b(?:and\s+)?remind me in\s+{_NUMBER}\s+(minute|min|hour|day)s?\b", _FLAGS)
_LISTED_DAY = rf"(?>{_DAY}s?)\b"
_EVERY_DAYS = pattern(
    rf"\b(?:(?:every|each)\s+(?P<every>{_LISTED_DAY}(?:\s*(?:,|and|&)\s*{_LISTED_DAY})*)"
    rf"|on\s+(?P<on>(?>{_DAY}s)\b(?:\s*(?:,|and|&)\s*(?>{_DAY}s)\b)*))",
    _FLAGS,
)
_DAY_NAME = pattern(_DAY, _FLAGS)
_WEEKDAYS = pattern(r"\b(?:every|each|on)\s+weekdays?\b", _FLAGS)
_EVERY_N = pattern(rf"\bevery\s+(?:{_NUMBER}\s+|other\s+)?(day|week|month|year)s?\b", _FLAGS)
_SHORTHAND = pattern(r"\b(daily|weekly|monthly|yearly|annually)\b", _FLAGS)
# A rule counted from the completion: "every 2 days after I finish it",
# "weekly from completion", Todoist's "every! 3 days".
_FROM_COMPLETION = pattern(
    r"\b(?:after|from|once|counting from)\s+(?:"
    r"(?:i|i've|i\s+have|we|you)\s+(?:finish|finished|complete|completed|do|did|done|check)(?:\s+it\s+off)?"
    r"|(?:it's|it\s+is|it\s+was|it\s+gets)\s+(?:done|finished|completed)"
    r"|(?:the\s+)?(?:completion|completing|finishing|last\s+time)"
    r")(?:\s+(?:it|this|that|them))?\b",
    _FLAGS,
)
_EVERY_BANG = pattern(r"\bevery!", _FLAGS)
_IN = pattern(rf"\bin\s+{_NUMBER}\s+(minute|min|hour|day|week|month)s?\b", _FLAGS)
# A part of the day after a day ("tomorrow morning", "Friday evening").
_PART = r"(?:\s+(morning|afternoon|evening|night))?"
_RELATIVE_DAY = pattern(rf"\b(today|tonight|tomorrow|tomorow|tmrw|tmr|day after tomorrow){_PART}\b", _FLAGS)
_TONIGHT = pattern(r"\btonight\b", _FLAGS)
_NAMED_DAY = pattern(rf"\b(on|next|this|by|before|until|till|coming|the coming)\s+{_DAY}\b{_PART}\b", _FLAGS)
# A day's name alone, at the end or before its time: "pay rent friday", "gym monday at 6".
_BARE_DAY = pattern(rf"\b{_DAY}\b{_PART}(?=$|\s+(?:at|by|@)\s|\s+\d|\s*[,;.!?])", _FLAGS)
# "next week" (its Monday), "next month" (its first day), "this weekend" (Saturday).
_PERIOD = pattern(
    r"\b(?:(?:by|for|until|till|on|over|during|in)\s+)?(?:the\s+)?"
    r"(next week|next month|(?:this\s+|next\s+)?weekend|end of (?:the|this) (?:week|month))\b",
    _FLAGS,
)
_DAY_OF_MONTH = pattern(r"\b(?:(?:on|by)\s+)?the\s+(\d{1,2})(?:st|nd|rd|th)\b", _FLAGS)
_PART_OF_DAY = pattern(r"\b(?:this|in the)\s+(morning|afternoon|evening)\b", _FLAGS)
_LEFT_PART = pattern(r"\b(morning|afternoon|evening)s?\s*$", _FLAGS)
_PART_CLOCKS = {"morning": time(9, 0), "afternoon": time(15, 0), "evening": time(18, 0), "night": time(20, 0)}
_MONTH_DAY = pattern(rf"\b(?:on\s+|by\s+)?{_MONTH}\s+(\d{{1,2}})(?:st|nd|rd|th)?\b", _FLAGS)
_DAY_MONTH = pattern(
    rf"\b(?:on\s+|by\s+)?(?:the\s+)?(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}", _FLAGS
)
# A clock, not an amount: "by 2" but not "by 2 days".
_AT = pattern(
    rf"\b(?:at|by|@)\s+(?:{_CLOCK})(?![\w:])(?!\s*(?:minute|min|hour|day|week|month|year)s?\b)", _FLAGS
)
_BARE_CLOCK = pattern(r"\b(\d{1,2})(?::(\d{2}))?\s*(am|pm)\b", _FLAGS)
# A space before punctuation: only from the first of a run of spaces.
_SPACE_BEFORE_PUNCTUATION = pattern(r"(?<!\s)\s++([,.;:!?])")
_SEPARATORS = pattern(r"[\s,;:-]+")
# Words left dangling at the end once a phrase went: "call mom on", "pay rent, and".
_CONNECTORS = frozenset({"and", "at", "on", "by", "due", "starting", "from", "every", "each"})
# ... and these too, but only where a phrase was cut out: "dentist for [tomorrow]".
_CUT_CONNECTORS = frozenset(
    {"for", "to", "until", "till", "before", "is", "be", "it", "due", "in", "the", "sometime", "someday"}
)


# "by a week", "an hour later", "2 days earlier": a move relative to a task's own date.
_SHIFT = pattern(
    rf"\b(?:by\s+|for\s+)?{_NUMBER}\s+(minute|min|hour|day|week|month)s?"
    r"(?:\s+(later|back|forward|earlier|sooner|ahead))?\b",
    _FLAGS,
)
# "10 minutes before", "a day ahead": a reminder before a task's due date.
_AHEAD = pattern(
    rf"\b{_NUMBER}\s+(minute|min|hour|day|week)s?\s+(?:before|beforehand|earlier|ahead|in advance)\b", _FLAGS
)


def read_shift(text: str) -> tuple[relativedelta, str] | None:
    """A move relative to a task's date in `text` ("by a week", "2 days
    earlier"), and the text without it."""
    words = _Words(text)
    shift = words.take(
        _SHIFT, lambda m: -_span(m) if (m[3] or "").lower() in ("earlier", "sooner") else _span(m)
    )
    return None if shift is None else (shift, words.text.strip())


def read_ahead(text: str) -> tuple[relativedelta, str] | None:
    """How long before a task's due date to remind ("10 minutes before"), and
    the text without it."""
    words = _Words(text)
    lead = words.take(_AHEAD, _span)
    return None if lead is None else (lead, words.text.strip())


@dataclass
class Schedule:
    title: str
    due_date: datetime | None = None
    recurrence: str | None = None
    remind_at: datetime | None = None
    # "completion" when the rule counts from the task's completion.
    repeat_from: str | None = None
    # Whether the words named a time of day (else the due date's is DEFAULT_TIME).
    timed: bool = False

    def tool_arguments(self) -> dict[str, str]:
        """The add_task / update_task arguments for what was understood."""
        arguments = {}
        if self.due_date is not None:
            arguments["due_date"] = self.due_date.isoformat()
        if self.recurrence is not None:
            arguments["recurrence"] = self.recurrence
        if self.repeat_from is not None:
            arguments["repeat_from"] = self.repeat_from
        if self.remind_at is not None:
            arguments["remind_at"] = self.remind_at.isoformat()
        return arguments


def read_schedule(text: str, now: datetime, *, remind: bool = False) -> Schedule:
    """The schedule in `text` (a task's words), read at `now` (aware, in the
    user's zone). With `remind` ("remind me to ..."), the reminder is at the
    due time unless the words name another."""
    bang = _EVERY_BANG.search(text) is not None
    words = _Words(_EVERY_BANG.sub("every", text))
    reminder_clock = words.take(_REMIND_AT, _clock)
    reminder_delay = words.take(_REMIND_IN, _span)
    recurrence = (
        words.take(_WEEKDAYS, lambda m: "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR")
        or words.take(_EVERY_DAYS, _weekly_on)
        or words.take(_EVERY_N, _every_n)
        or words.take(
            _SHORTHAND, lambda m: f"FREQ={'YEARLY' if m[1].lower() == 'annually' else m[1].upper()}"
        )
    )
    repeat_from = None
    if recurrence is not None and (words.take(_FROM_COMPLETION, lambda m: True) or bang):
        repeat_from = "completion"
    delay = words.take(_IN, _span)
    part: list[str] = []  # "morning" of "tomorrow morning", once read

    def day_part(match: re.Match[str], read_day) -> date | None:
        found = read_day(match)
        if found is not None and match.lastindex and match[match.lastindex] in _PART_CLOCKS:
            part.append(match[match.lastindex].lower())
        return found

    day = (
        words.take(_RELATIVE_DAY, lambda m: day_part(m, lambda m: _relative_day(m, now)))
        or words.take(
            _NAMED_DAY, lambda m: day_part(m, lambda m: _named_day(now.date(), m[1].lower(), _weekday(m[2])))
        )
        or words.take(_MONTH_DAY, lambda m: _month_day(now.date(), _month(m[1]), int(m[2])))
        or words.take(_DAY_MONTH, lambda m: _month_day(now.date(), _month(m[2]), int(m[1])))
        or words.take(_DAY_OF_MONTH, lambda m: _day_of_month(now.date(), int(m[1])))
        or words.take(_PERIOD, lambda m: _period(now.date(), m[1].lower()))
        or words.take(
            _BARE_DAY, lambda m: day_part(m, lambda m: _named_day(now.date(), "on", _weekday(m[1])))
        )
    )
    clock = words.take(_AT, _clock) or words.take(_BARE_CLOCK, _clock)
    timed = clock is not None
    if clock is None:
        part_of_day = words.take(_PART_OF_DAY, lambda m: m[1].lower())
        if part_of_day is None and words.cut:  # "every Saturday [morning]": left alone at the end
            part_of_day = words.take(_LEFT_PART, lambda m: m[1].lower())
        if part_of_day or part:
            clock, timed = _PART_CLOCKS[part_of_day or part[0]], True
    if clock is None and _TONIGHT.search(text):
        clock, timed = time(20, 0), True

    due: datetime | None = None
    if delay is not None:
        due = now + delay
    elif day is not None or clock is not None or recurrence is not None:
        at = clock or reminder_clock or DEFAULT_TIME
        due = _first_due(now, day, at, recurrence)

    remind_at: datetime | None = None
    if reminder_delay is not None:
        remind_at = now + reminder_delay
    elif reminder_clock is not None:
        remind_at = datetime.combine((due or now).date(), reminder_clock, tzinfo=now.tzinfo)
        if due is None and remind_at <= now:
            remind_at += timedelta(days=1)
        if due is None:
            due = remind_at
    elif remind and due is not None:
        remind_at = due
    return Schedule(
        title=words.rest(),
        due_date=due,
        recurrence=recurrence,
        remind_at=remind_at,
        repeat_from=repeat_from,
        timed=timed or delay is not None or reminder_clock is not None,
    )


class _Words:
    """The text, with the phrases that were understood cut out."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.cut = False

    def take(self, pattern: re.Pattern[str], read):
        match = pattern.search(self.text)
        if match is None:
            return None
        value = read(match)
        if value is None:
            return None
        self.text = f"{self.text[: match.start()]} {self.text[match.end() :]}"
        self.cut = True
        return value

    def rest(self) -> str:
        text = _SPACE_BEFORE_PUNCTUATION.sub(r"\1", " ".join(self.text.split()))
        # Separators and connectors at the end, word by word from the last:
        # ["call", " ", "mom", " ", "on"] loses "on" and its space.
        pieces = _SEPARATORS.split(text)
        separators = _SEPARATORS.findall(text)
        dangling = _CONNECTORS | _CUT_CONNECTORS if self.cut else _CONNECTORS
        while len(pieces) > 1 and (pieces[-1].lower() in dangling or not pieces[-1]):
            pieces.pop()
            separators.pop()
        kept = "".join(piece + separator for piece, separator in zip(pieces, [*separators, ""], strict=True))
        return kept.strip(" ,;:-")


def _clock(match: re.Match[str]) -> time | None:
    hour_text, minute_text, meridiem, word = (*match.groups(), None)[:4]
    if word:
        return time(0, 0) if word.lower() == "midnight" else time(12, 0)
    hour, minute = int(hour_text), int(minute_text or 0)
    if meridiem:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if meridiem.lower().startswith("p") else 0)
    if hour > 23 or minute > 59:
        return None
    return time(hour, minute)


def _number(text: str) -> int:
    return _NUMBER_WORDS.get(text.lower()) or int(text)


def _span(match: re.Match[str]) -> relativedelta:
    """ "2 hours", "a week", "3 months": the match's number (group 1) of its unit (group 2)."""
    unit = {"min": "minute"}.get(match[2].lower(), match[2].lower())
    return relativedelta(**{f"{unit}s": _number(match[1])})


def _weekday(text: str) -> int:
    return next(index for index, day in enumerate(_DAYS) if day.startswith(text.lower()[:3]))


def _weekly_on(match: re.Match[str]) -> str:
    days = sorted({_weekday(found) for found in _DAY_NAME.findall(match["every"] or match["on"])})
    return "FREQ=WEEKLY;BYDAY=" + ",".join(_RRULE_DAYS[day] for day in days)


def _every_n(match: re.Match[str]) -> str:
    words = match[0].lower().split()
    interval = 2 if "other" in words else _number(match[1]) if match[1] else 1
    frequency = {"day": "DAILY", "week": "WEEKLY", "month": "MONTHLY", "year": "YEARLY"}[match[2].lower()]
    return f"FREQ={frequency}" if interval == 1 else f"FREQ={frequency};INTERVAL={interval}"


def _month(text: str) -> int:
    return next(index for index, month in enumerate(_MONTHS, 1) if month.startswith(text.lower()[:3]))


def _relative_day(match: re.Match[str], now: datetime) -> date:
    word = match[1].lower()
    offset = {"today": 0, "tonight": 0, "day after tomorrow": 2}.get(word, 1)  # tomorrow, tmrw ...
    return now.date() + timedelta(days=offset)


def _period(today: date, words: str) -> date:
    """ "next week": its Monday; "next month": its first day; "this weekend":
    the coming Saturday (today on a Saturday); "end of the week": Friday."""
    words = " ".join(words.split())
    if words == "next week":
        return today + timedelta(days=7 - today.weekday())
    if words == "next month":
        return (today + relativedelta(months=1)).replace(day=1)
    if words.startswith("end of") and words.endswith("month"):
        return (today + relativedelta(months=1)).replace(day=1) - timedelta(days=1)
    if words.startswith("end of"):
        return today + timedelta(days=(4 - today.weekday()) % 7)
    saturday = today + timedelta(days=(5 - today.weekday()) % 7)
    return saturday + timedelta(days=7) if words.startswith("next") else saturday


def _day_of_month(today: date, day: int) -> date | None:
    """ "on the 15th": this month's, or next month's once it has passed."""
    for months in (0, 1, 2):
        month = today.replace(day=1) + relativedelta(months=months)
        try:
            found = month.replace(day=day)
        except ValueError:
            continue
        if found >= today:
            return found
    return None


def _named_day(today: date, word: str, weekday: int) -> date:
    """ "on Friday": the coming Friday (a week away on a Friday); "next
    Friday": the Friday of next week."""
    if word == "next":
        next_monday = today + timedelta(days=7 - today.weekday())
        return next_monday + timedelta(days=weekday)
    return today + timedelta(days=(weekday - today.weekday() - 1) % 7 + 1)


def _month_day(today: date, month: int, day: int) -> date | None:
    """That day this year, or next year's once it has passed."""
    for year in (today.year, today.year + 1):
        try:
            found = date(year, month, day)
        except ValueError:
            return None
        if found >= today:
            return found
    return None


def _first_due(now: datetime, day: date | None, at: time, recurrence: str | None) -> datetime:
    if day is not None:
        return datetime.combine(day, at, tzinfo=now.tzinfo)
    start = datetime.combine(now.date(), at, tzinfo=now.tzinfo)
    if recurrence is not None and "BYDAY" in recurrence:
        # The rule's first day from today on ("every Monday": the coming Monday).
        first = rrulestr(recurrence, dtstart=start).after(now, inc=True)
        if first is not None:
            return first
    return start if start > now else start + relativedelta(days=1)
