"""Every regular expression of the app, on one list.

Python's engine backtracks: a pattern that can match the same text in more
than one way (a quantified group whose body overlaps what follows it, two
adjacent runs of the same characters, a run at the start of a pattern that
search() tries from every position of a long run) can take quadratic or
exponential time, and it holds the GIL meanwhile, so one chat message or one
request path could stop the whole process. The patterns here read chat
messages, titles, paths, tokens and log lines, so each is written to run in
linear time (atomic groups and possessive quantifiers where an alternation
could match twice; a run at the start only where the character before is
not of the run), and each is compiled through `pattern()`:
todo_project/tests/test_patterns.py feeds every pattern on PATTERNS long
runs of its own words and separators, and fails on one that is not linear.
A test also fails on any other use of the `re` module in the app's code."""

from __future__ import annotations

import re

PATTERNS: list[re.Pattern[str]] = []


def pattern(source: str, flags: int = 0) -> re.Pattern[str]:
    """re.compile(source, flags), on the list of patterns the tests attack."""
    compiled = re.compile(source, flags)
    PATTERNS.append(compiled)
    return compiled
