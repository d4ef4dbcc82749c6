"""Every regular expression of the app runs in linear time: each pattern on
todo_project.patterns.PATTERNS meets long runs of its own words, separators
and digits, growing from a few characters to 8,000, and no search may cost
more than SEARCH_BUDGET_SECONDS of CPU. A backtracking pattern blows up long
before: an exponential one within a few dozen characters, a quadratic one at a
few thousand (a linear one takes well under a millisecond there). CPU time of
this thread, not the clock: a busy machine does not slow it."""

from __future__ import annotations

import gc
import importlib
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from todo_project.patterns import PATTERNS

ROOT = Path(__file__).resolve().parents[2]
APPS = ("accounts", "chat", "health", "tasks", "todo_project")
SIZES = [*range(4, 41, 2), 64, 128, 512, 2048, 8000]
SEARCH_BUDGET_SECONDS = 0.02
SHORT = 40
TAILS = ("", "x", "!")
# The re module's functions that compile a pattern of their own.
_RE_CALL = re.compile(r"\bre\.(?:compile|search|match|fullmatch|sub|subn|findall|finditer|split)\(")


def app_sources() -> Iterator[Path]:
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            if "tests" not in path.parts and "migrations" not in path.parts:
                yield path


def _module(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


@pytest.fixture(scope="module")
def every_pattern() -> list[re.Pattern[str]]:
    """PATTERNS once every module that makes one has been imported."""
    for path in app_sources():
        if "pattern(" in path.read_text():
            importlib.import_module(_module(path))
    return list(PATTERNS)


def test_the_app_compiles_every_pattern_through_the_list() -> None:
    elsewhere = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in app_sources()
        if path.name != "patterns.py"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if _RE_CALL.search(line) or line.startswith("from re import")
    ]
    assert elsewhere == []


def test_the_list_holds_the_patterns_of_every_app(every_pattern: list[re.Pattern[str]]) -> None:
    # The LOCAL agent's commands and dates, log redaction, token ids, RRULE parts, the fast routes.
    assert len(every_pattern) > 50
    sources = " ".join(p.pattern for p in every_pattern)
    for piece in ("remind me", "every", "password", "A-Za-z0-9", "MO|TU", "tasks"):
        assert piece in sources


def _atoms(compiled: re.Pattern[str]) -> tuple[list[str], list[str]]:
    """The words of a pattern's source, and the single characters runs are made of."""
    source = re.sub(r"\\.", " ", compiled.pattern)  # \s, \b, \d are not words
    words = sorted({word.lower() for word in re.findall(r"[A-Za-z]{2,}", source)})
    literals = set(re.findall(r"\\([^A-Za-z0-9])", compiled.pattern))  # \. \- \#
    punctuation = sorted(literals | set(re.findall(r"[,;:&@#'.!?/=\"-]", source)))
    return words, [*punctuation, " ", "1", "x"]


def attacks(compiled: re.Pattern[str], size: int) -> Iterator[str]:
    """Inputs of about `size` characters that make a backtracking pattern try
    many ways: runs of one word or character, alone or with a separator, after
    each of the pattern's words, ending in what the pattern may not expect.
    Runs of words after each word only while short: there are many, and a
    pattern they undo is exponential, which shows within a few dozen."""
    words, characters = _atoms(compiled)
    units = [unit for atom in [*words, *characters] for unit in dict.fromkeys((atom, f"{atom} ", f"{atom},"))]
    for unit in units:
        for tail in TAILS:
            yield unit * max(1, size // len(unit)) + tail
    for lead in words:
        runs = [" ", ",", "1", *(units if size <= SHORT else ())]
        for run in runs:
            for tail in TAILS:
                yield f"{lead} {run * max(1, size // len(run))}{tail}"


def cpu_seconds_of_search(compiled: re.Pattern[str], text: str) -> float:
    """The search's own work, without a pass of the cyclic garbage collector
    (which would cost what the whole heap of this process costs)."""
    gc.disable()
    try:
        started = time.thread_time()
        compiled.search(text)
        return time.thread_time() - started
    finally:
        gc.enable()


def first_blow_up(compiled: re.Pattern[str], sizes: list[int] = SIZES) -> str | None:
    """The first attack, from the smallest up, on which one search costs
    SEARCH_BUDGET_SECONDS of CPU or more (and where it stops: a pattern that
    blew up at 30 characters would run for days at 60), or None."""
    for size in sizes:
        for text in attacks(compiled, size):
            seconds = cpu_seconds_of_search(compiled, text)
            if seconds >= SEARCH_BUDGET_SECONDS:
                # Measured again before it counts: a backtracking search is
                # slow every time, a stalled thread once (one CI run read 81 ms
                # for a search that takes 3).
                seconds = min(seconds, *(cpu_seconds_of_search(compiled, text) for _ in range(2)))
            if seconds >= SEARCH_BUDGET_SECONDS:
                return f"{seconds * 1000:.0f} ms of CPU on {len(text)} characters: {text[:60]!r}..."
    return None


def test_every_pattern_stays_linear_on_runs_of_its_own_words(every_pattern: list[re.Pattern[str]]) -> None:
    blown = {compiled.pattern: found for compiled in every_pattern if (found := first_blow_up(compiled))}
    assert blown == {}


@pytest.mark.parametrize(
    "source",
    [
        r"(?:[\s,;:-]+(?:and|at|,))+\s*$",  # exponential: a comma is a separator and a word
        r"(\b\w*(?:password|token)\w*=)\S+",  # quadratic: a word made of the key, repeated
    ],
)
def test_the_attacks_find_a_backtracking_pattern(source: str) -> None:
    """The test above sees the kinds of pattern it exists for. (A quadratic
    one costs about the budget at 8,000 characters, less on a fast moment:
    four times as many characters cost it sixteen times as much.)"""
    assert first_blow_up(re.compile(source, re.IGNORECASE), [*SIZES, 32_000]) is not None
