"""Which of the user's tasks the LOCAL assistant's words mean: "the dentist
appointment", "paying the rent", "the electricty bill".

Words are compared by their Snowball stems ("paying" and "pay", "bills" and
"bill"), with a few irregular past forms read as their verb ("paid" is
"pay"), and a word of four letters or more also matches one spelt nearly
alike (rapidfuzz's ratio of 80 or more: "dentsit", "electricty"). A task
matches as far as it holds the words: all of them is a match, at least half
of them a match when no task holds more. Only the first MAX_WORDS words
count, so a message's cost is bounded whatever its length."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import snowballstemmer
from rapidfuzz import fuzz, process

from todo_project.patterns import pattern

MAX_WORDS = 8
NEAR_SPELLING = 80  # rapidfuzz's ratio, 0 to 100
CLOSEST = 65  # WRatio of a title worth offering when nothing matches

WORD = pattern(r"[^\W_]+(?:'[^\W_]+)?")
# Words that name no task: "the", "task", "my", "one" ...
STOPWORDS = frozenset(
    ("a", "an", "the", "my", "our", "your", "his", "her", "their", "its", "this", "that", "these", "those",
     "some", "any", "all", "of", "for", "to", "from", "on", "in", "at", "by", "with", "and", "or", "task",
     "tasks", "todo", "todos", "to-do", "item", "items", "one", "ones", "thing", "things", "entry", "list",
     "please", "me", "i", "it", "is", "are", "be", "was", "about", "them", "they")
)  # fmt: skip
# Past forms people use of a task's verb ("I paid the rent"), read as the verb.
IRREGULAR = {
    "paid": "pay", "bought": "buy", "went": "go", "did": "do", "done": "do", "made": "make", "sent": "send",
    "wrote": "write", "written": "write", "took": "take", "taken": "take", "got": "get", "met": "meet",
    "ran": "run", "fed": "feed", "brought": "bring", "sold": "sell", "told": "tell", "gave": "give",
    "given": "give", "found": "find", "left": "leave", "spoke": "speak", "drove": "drive", "ate": "eat",
    "hung": "hang", "swept": "sweep", "kept": "keep", "read": "read", "built": "build", "caught": "catch",
    "taught": "teach", "thought": "think", "rode": "ride", "shook": "shake", "threw": "throw",
}  # fmt: skip

_stemmer = snowballstemmer.stemmer("english")


@functools.lru_cache(maxsize=4096)
def stem(word: str) -> str:
    word = word.lower().replace("\u2019", "'")
    if word.endswith("'s"):
        word = word[:-2]
    return _stemmer.stemWord(IRREGULAR.get(word, word))


def words_of(text: str) -> list[str]:
    """The words of `text` that can name a task, lower-cased, in order."""
    found = (word.lower() for word in WORD.findall(text))
    return [word for word in found if word not in STOPWORDS]


def search_term(word: str) -> str:
    """The part of a word every form of it shares, for a substring search:
    "bills" -> "bill", "groceries" -> "grocer" (stem "groceri": grocery too)."""
    stemmed = stem(word)
    shared = 0
    while shared < min(len(stemmed), len(word)) and stemmed[shared] == word[shared]:
        shared += 1
    term = word[:shared]
    return term[:-1] if stemmed.endswith("i") and len(term) > 3 and term.endswith("i") else term or word


@dataclass(frozen=True)
class Found:
    """The tasks the words mean best (one: that task; more: ask which), or
    none, with the closest titles to offer."""

    tasks: list[dict[str, Any]]
    closest: list[dict[str, Any]]


def _word_matches(word: str, word_stem: str, title_words: Iterable[str]) -> bool:
    for title_word in title_words:
        if word == title_word or word_stem == stem(title_word):
            return True
        if len(word) >= 4 and len(title_word) >= 4 and fuzz.ratio(word, title_word) >= NEAR_SPELLING:
            return True
    return False


def find(words: list[str], tasks: list[dict[str, Any]], *, prefer_pending: bool = False) -> Found:
    """The tasks (list_tasks' rows) whose titles hold `words` (words_of's)."""
    words = words[:MAX_WORDS]
    if not words or not tasks:
        return Found([], [])
    stems = [stem(word) for word in words]
    scored = []
    for task in tasks:
        title_words = [word.lower() for word in WORD.findall(task["title"])][: MAX_WORDS * 4]
        held = sum(
            _word_matches(word, word_stem, title_words) for word, word_stem in zip(words, stems, strict=True)
        )
        scored.append((held, task, {stem(word) for word in title_words if word.lower() not in STOPWORDS}))
    best = max(held for held, _, _ in scored)
    if best == 0 or best * 2 < len(words):
        return Found([], _closest(" ".join(words), tasks))
    tasks_found = [(task, title_stems) for held, task, title_stems in scored if held == best]
    if len(tasks_found) > 1:
        # The one whose title is exactly the words ("milk" over "milk and eggs").
        exact = [task for task, title_stems in tasks_found if title_stems == set(stems)]
        if len(exact) == 1:
            return Found(exact, [])
    found = [task for task, _ in tasks_found]
    if prefer_pending and len(found) > 1:
        found = [task for task in found if not task["completed"]] or found
    return Found(found, [])


def same_words(words: list[str], title: str) -> bool:
    """Whether `words` are the title's own words (by stem), no more, no less."""
    return {stem(word) for word in words} == {stem(word) for word in words_of(title)}


def _closest(text: str, tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    titles = {index: task["title"] for index, task in enumerate(tasks)}
    matches = process.extract(text, titles, scorer=fuzz.WRatio, limit=1, score_cutoff=CLOSEST)
    return [tasks[index] for _, _, index in matches]
