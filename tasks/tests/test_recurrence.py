"""RRULEs: what is accepted, how it is stored, and how a series steps."""

import random
import time
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from dateutil.relativedelta import relativedelta
from dateutil.rrule import rrulestr

from tasks.recurrence import (
    FREQUENCIES,
    MAX_COUNT,
    SEARCH_YEARS,
    InvalidRule,
    check_recurs,
    next_due,
    normalize,
    valid_time_zone,
)


@pytest.mark.parametrize(
    ("text", "stored"),
    [
        ("daily", "FREQ=DAILY"),
        ("Weekly", "FREQ=WEEKLY"),
        ("monthly", "FREQ=MONTHLY"),
        ("yearly", "FREQ=YEARLY"),
        ("RRULE:FREQ=WEEKLY;BYDAY=MO", "FREQ=WEEKLY;BYDAY=MO"),
        ("freq=weekly;byday=mo,fr;interval=2", "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,FR"),
        ("FREQ=MONTHLY;BYMONTHDAY=-1", "FREQ=MONTHLY;BYMONTHDAY=-1"),
        ("FREQ=MONTHLY;BYDAY=-1FR", "FREQ=MONTHLY;BYDAY=-1FR"),
        ("FREQ=DAILY;COUNT=3", "FREQ=DAILY;COUNT=3"),
        ("FREQ=DAILY;UNTIL=20261231T000000Z", "FREQ=DAILY;UNTIL=20261231T000000Z"),
        (" FREQ=YEARLY; ", "FREQ=YEARLY"),
    ],
)
def test_rules_and_shorthands_are_stored_as_canonical_rrules(text: str, stored: str) -> None:
    assert normalize(text) == stored


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "FREQ is required"),
        ("hourly", "is not NAME=VALUE"),
        ("FREQ=HOURLY", "FREQ is required"),
        ("FREQ=SECONDLY", "FREQ is required"),
        ("INTERVAL=2", "FREQ is required"),
        ("FREQ=DAILY;INTERVAL=0", "INTERVAL must be 1"),
        ("FREQ=DAILY;INTERVAL=-1", "INTERVAL=-1 is not valid"),
        ("FREQ=DAILY;COUNT=0", "COUNT must be 1"),
        ("FREQ=DAILY;COUNT=2;UNTIL=20261231", "not both"),
        ("FREQ=WEEKLY;BYDAY=XX", "BYDAY=XX is not valid"),
        ("FREQ=MONTHLY;BYMONTHDAY=32", "BYMONTHDAY days must be"),
        ("FREQ=MONTHLY;BYMONTHDAY=0", "BYMONTHDAY days must be"),
        ("FREQ=DAILY;BYHOUR=9", "BYHOUR is not supported"),
        ("FREQ=DAILY;FREQ=WEEKLY", "given twice"),
        ("FREQ=DAILY;UNTIL=20261399", "is not a date"),
        ("FREQ", "is not NAME=VALUE"),
        ("every day", "is not NAME=VALUE"),
        ("FREQ=DAILY;" + "INTERVAL=1;" * 30, "at most 200"),
    ],
)
def test_bad_rules_are_refused_with_a_reason(text: str, problem: str) -> None:
    with pytest.raises(InvalidRule, match=problem):
        normalize(text)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


@pytest.mark.parametrize(
    ("rule", "due", "following"),
    [
        ("FREQ=DAILY", utc(2026, 12, 31, 9, 30), utc(2027, 1, 1, 9, 30)),
        ("FREQ=DAILY;INTERVAL=3", utc(2026, 2, 27, 7), utc(2026, 3, 2, 7)),
        ("FREQ=WEEKLY", utc(2026, 11, 26, 8), utc(2026, 12, 3, 8)),
        ("FREQ=WEEKLY;INTERVAL=2", utc(2026, 12, 28, 8), utc(2027, 1, 11, 8)),
        # On a Thursday, "every Monday and Friday" is next Friday, then Monday.
        ("FREQ=WEEKLY;BYDAY=MO,FR", utc(2026, 11, 26, 8), utc(2026, 11, 27, 8)),
        ("FREQ=WEEKLY;BYDAY=MO,FR", utc(2026, 11, 27, 8), utc(2026, 11, 30, 8)),
        # Month ends: the 31st skips the months without one (RFC 5545).
        ("FREQ=MONTHLY", utc(2027, 1, 31, 12), utc(2027, 3, 31, 12)),
        # The last day of each month, February of a leap year included.
        ("FREQ=MONTHLY;BYMONTHDAY=-1", utc(2027, 1, 31, 12), utc(2027, 2, 28, 12)),
        ("FREQ=MONTHLY;BYMONTHDAY=-1", utc(2028, 1, 31, 12), utc(2028, 2, 29, 12)),
        ("FREQ=MONTHLY;BYMONTHDAY=15", utc(2026, 12, 15, 6), utc(2027, 1, 15, 6)),
        ("FREQ=MONTHLY;BYDAY=-1FR", utc(2026, 11, 27, 6), utc(2026, 12, 25, 6)),
        # A leap day recurs on the next leap day.
        ("FREQ=YEARLY", utc(2028, 2, 29, 10), utc(2032, 2, 29, 10)),
        ("FREQ=YEARLY", utc(2026, 12, 24, 18), utc(2027, 12, 24, 18)),
    ],
)
def test_the_next_occurrence_in_utc(rule: str, due: datetime, following: datetime) -> None:
    assert next_due(rule, due) == following


def test_a_zone_with_daylight_saving_keeps_the_local_time_of_day() -> None:
    # Berlin leaves winter time on 28 March 2027: 08:00 is 07:00 UTC before, 06:00 after.
    monday_before = utc(2027, 3, 22, 7)
    assert next_due("FREQ=WEEKLY;BYDAY=MO", monday_before, time_zone="Europe/Berlin") == utc(2027, 3, 29, 6)
    # In UTC the same rule keeps 07:00 UTC, which is 09:00 in Berlin by then.
    assert next_due("FREQ=WEEKLY;BYDAY=MO", monday_before) == utc(2027, 3, 29, 7)
    # And back in autumn (31 October 2027): 08:00 is 07:00 UTC again.
    assert next_due("FREQ=DAILY", utc(2027, 10, 30, 6), time_zone="Europe/Berlin") == utc(2027, 10, 31, 7)
    # New York: 09:00 every day across its own change (14 March 2027).
    assert next_due("FREQ=DAILY", utc(2027, 3, 13, 14), time_zone="America/New_York") == utc(2027, 3, 14, 13)


def test_count_ends_the_series_after_that_many_occurrences() -> None:
    rule = "FREQ=DAILY;COUNT=3"
    assert next_due(rule, utc(2026, 1, 1), occurrence=1) == utc(2026, 1, 2)
    assert next_due(rule, utc(2026, 1, 2), occurrence=2) == utc(2026, 1, 3)
    assert next_due(rule, utc(2026, 1, 3), occurrence=3) is None


def test_until_ends_the_series_after_that_date() -> None:
    # A date UNTIL includes that whole day, in the task's zone.
    assert next_due("FREQ=DAILY;UNTIL=20260103", utc(2026, 1, 2, 23)) == utc(2026, 1, 3, 23)
    assert next_due("FREQ=DAILY;UNTIL=20260103", utc(2026, 1, 3, 23)) is None
    assert next_due("FREQ=DAILY;UNTIL=20260103T120000Z", utc(2026, 1, 3, 9)) is None
    assert next_due("FREQ=DAILY;UNTIL=20260103T120000Z", utc(2026, 1, 2, 9)) == utc(2026, 1, 3, 9)
    # In Berlin the 3rd ends at 23:00 UTC, so 22:30 UTC on the 3rd is still inside it.
    assert next_due("FREQ=DAILY;UNTIL=20260103", utc(2026, 1, 2, 22, 30), time_zone="Europe/Berlin") == utc(
        2026, 1, 3, 22, 30
    )


def test_a_rule_that_matches_no_date_ends_at_once_instead_of_searching_forever() -> None:
    # The first Monday of a year is never a 31st; the search stops after 10 years.
    assert next_due("FREQ=YEARLY;BYMONTHDAY=31;BYDAY=+1MO", utc(2026, 2, 1)) is None


# The rules that made dateutil search up to the year 9999: each costs a
# completion, or a write, 0.4 to 0.7 s of CPU there.
NEVER = [
    ("FREQ=DAILY;INTERVAL=7;BYDAY=TU", utc(2026, 11, 30, 8)),  # from a Monday, every 7 days: Mondays
    ("FREQ=DAILY;INTERVAL=14;BYDAY=TU", utc(2026, 11, 30, 8)),
    ("FREQ=DAILY;INTERVAL=7;BYMONTHDAY=2;BYDAY=TU", utc(2026, 11, 30, 8)),
    ("FREQ=MONTHLY;INTERVAL=12;BYMONTHDAY=31", utc(2026, 4, 30, 8)),  # every April: no 31st
    ("FREQ=YEARLY;BYMONTHDAY=31;BYDAY=+1MO", utc(2026, 2, 1)),
]


@pytest.mark.parametrize(("rule", "due"), NEVER)
def test_a_rule_without_a_date_in_ten_years_is_refused_and_ends_its_series_in_bounded_time(
    rule: str, due: datetime
) -> None:
    started = time.thread_time()
    with pytest.raises(InvalidRule, match="no date in the 10 years"):
        check_recurs(rule, due)
    assert next_due(rule, due) is None
    # Two searches of 10 years of days; SPEC.md allows 50 ms of CPU for one.
    assert time.thread_time() - started < 0.1


@pytest.mark.parametrize(
    ("rule", "due", "recurs"),
    [
        ("FREQ=YEARLY;INTERVAL=10", utc(2026, 1, 15, 9), True),  # 2036-01-15: 10 years to the day
        ("FREQ=YEARLY;INTERVAL=11", utc(2026, 1, 15, 9), False),
        ("FREQ=MONTHLY;INTERVAL=120", utc(2026, 1, 15, 9), True),
        ("FREQ=MONTHLY;INTERVAL=121", utc(2026, 1, 15, 9), False),
        ("FREQ=DAILY;INTERVAL=1000", utc(2026, 1, 15, 9), True),
        ("FREQ=YEARLY", utc(2996, 1, 15, 9), True),  # 2997
        ("FREQ=YEARLY", utc(2999, 1, 15, 9), False),  # 3000 is past the last date
    ],
)
def test_the_ten_year_bound_is_inclusive(rule: str, due: datetime, recurs: bool) -> None:
    assert (next_due(rule, due) is not None) is recurs
    if not recurs:
        with pytest.raises(InvalidRule):
            check_recurs(rule, due)


def test_the_largest_count_steps_to_its_end() -> None:
    rule = f"FREQ=DAILY;COUNT={MAX_COUNT}"
    assert next_due(rule, utc(2026, 1, 1), occurrence=MAX_COUNT - 1) == utc(2026, 1, 2)
    assert next_due(rule, utc(2026, 1, 1), occurrence=MAX_COUNT) is None


def test_dates_out_of_range_end_a_series_instead_of_overflowing() -> None:
    for due in (datetime(9999, 12, 31, tzinfo=UTC), datetime(1, 1, 1, tzinfo=UTC)):
        assert next_due("FREQ=DAILY", due, time_zone="America/New_York") is None


def _random_rule(rng: random.Random) -> str:
    frequency = rng.choice(FREQUENCIES)
    parts = [f"FREQ={frequency}"]
    if rng.random() < 0.5:
        parts.append(f"INTERVAL={rng.choice([1, 2, 3, 5, 7, 12, 14, 48])}")
    if rng.random() < 0.5:
        ordinals = [-5, -1, 1, 2, 5] + ([-53, 20, 53] if frequency == "YEARLY" else [])
        days = []
        for day in rng.sample(["MO", "TU", "WE", "TH", "FR", "SA", "SU"], rng.randint(1, 3)):
            ordinal = rng.choice(ordinals) if rng.random() < 0.4 else ""
            days.append(f"{ordinal:+d}{day}" if ordinal else day)
        parts.append("BYDAY=" + ",".join(days))
    if rng.random() < 0.4:
        parts.append(
            "BYMONTHDAY=" + ",".join(str(d) for d in rng.sample([1, 13, 15, 28, 29, 30, 31, -1, -2], 2))
        )
    return ";".join(parts)


def test_the_series_steps_as_dateutil_reads_the_rule() -> None:
    """Our day tests against dateutil's stepping, on 400 random rules, dates
    and zones. Where ours finds none within 10 years, dateutil is asked from
    the same day 400 years on (the Gregorian calendar repeats exactly), close
    to the year 9999 where its own search stops."""
    rng = random.Random(20261201)
    zones = ["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe"]
    for _ in range(400):
        rule = normalize(_random_rule(rng))
        zone = ZoneInfo(rng.choice(zones))
        due = datetime(
            rng.randint(1990, 2100), rng.randint(1, 12), rng.randint(1, 28), rng.randint(0, 23), 30
        )
        due = due.replace(tzinfo=zone).astimezone(UTC)

        ours = next_due(rule, due, time_zone=str(zone))

        local = due.astimezone(zone)
        if ours is not None:
            theirs = rrulestr(rule, dtstart=local).after(local)
            assert theirs == ours, (rule, local)
        else:
            shift = (9985 - local.year) // 400 * 400
            late = local.replace(year=local.year + shift)
            theirs = rrulestr(rule, dtstart=late).after(late)
            assert theirs is None or theirs > late + relativedelta(years=SEARCH_YEARS), (rule, local)


def test_time_zones_are_iana_names() -> None:
    assert str(valid_time_zone("Europe/Berlin")) == "Europe/Berlin"
    for name in (
        "Mars/Olympus",
        "../../etc/passwd",
        "",
        "+02:00",
        "America",
        "Etc",
        "x" * 300,
        "/etc/localtime",
    ):
        with pytest.raises(InvalidRule, match="not a time zone"):
            valid_time_zone(name)
