"""RRULEs: what is accepted, how it is stored, and how a series steps."""

from datetime import UTC, datetime

import pytest

from tasks.recurrence import InvalidRule, next_due, normalize, valid_time_zone


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
    # No 31 February; the search stops at the horizon (100 years), quickly.
    assert next_due("FREQ=YEARLY;BYMONTHDAY=31;BYDAY=+1MO", utc(2026, 2, 1)) is None


def test_time_zones_are_iana_names() -> None:
    assert str(valid_time_zone("Europe/Berlin")) == "Europe/Berlin"
    for name in ("Mars/Olympus", "../../etc/passwd", "", "+02:00"):
        with pytest.raises(InvalidRule, match="not a time zone"):
            valid_time_zone(name)
