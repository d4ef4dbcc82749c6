"""chat.matching: which task the LOCAL assistant's words mean."""

from __future__ import annotations

import pytest

from chat.matching import find, search_term, words_of


def tasks(*titles: str, completed: tuple[str, ...] = ()) -> list[dict]:
    return [
        {"id": number, "title": title, "completed": title in completed}
        for number, title in enumerate(titles, start=1)
    ]


MINE = tasks(
    "Pay the rent", "Dentist appointment", "Pay the electricity bill", "Water the plants", "Buy milk"
)


@pytest.mark.parametrize(
    ("words", "title"),
    [
        ("paying the rent", "Pay the rent"),  # a stem
        ("paid the rent", "Pay the rent"),  # an irregular past
        ("the bills for electricity", "Pay the electricity bill"),
        ("dentsit appointmnet", "Dentist appointment"),  # near spellings
        ("electricty", "Pay the electricity bill"),
        ("watering plants", "Water the plants"),
        ("the Dentist", "Dentist appointment"),
    ],
)
def test_words_find_the_task_they_mean(words: str, title: str) -> None:
    found = find(words_of(words), MINE)

    assert [task["title"] for task in found.tasks] == [title]


def test_two_tasks_that_match_alike_are_both_found() -> None:
    found = find(words_of("pay"), MINE)

    assert [task["title"] for task in found.tasks] == ["Pay the rent", "Pay the electricity bill"]


def test_a_title_that_is_exactly_the_words_wins_over_longer_ones() -> None:
    found = find(words_of("buy milk"), tasks("Buy milk and eggs", "Buy milk"))

    assert [task["title"] for task in found.tasks] == ["Buy milk"]


def test_completing_prefers_the_open_task_of_two_alike() -> None:
    mine = tasks("Call mom", "Call mom", completed=("Call mom",))
    mine[1]["completed"] = False

    assert [task["id"] for task in find(words_of("call mom"), mine, prefer_pending=True).tasks] == [2]
    assert len(find(words_of("call mom"), mine).tasks) == 2


def test_words_that_match_nothing_offer_the_closest_title_if_any_is_close() -> None:
    near = find(words_of("rent for the summer cottage"), MINE)
    far = find(words_of("gym membership"), MINE)

    assert (near.tasks, [task["title"] for task in near.closest]) == ([], ["Pay the rent"])
    assert (far.tasks, far.closest) == ([], [])


def test_fewer_than_half_of_the_words_is_no_match() -> None:
    assert find(words_of("rent for the summer cottage"), MINE).tasks == []


@pytest.mark.parametrize(
    ("word", "term"), [("bills", "bill"), ("groceries", "grocer"), ("meetings", "meet"), ("rent", "rent")]
)
def test_a_search_uses_what_every_form_of_the_word_shares(word: str, term: str) -> None:
    assert search_term(word) == term


def test_only_the_first_words_count() -> None:
    long_words = words_of("water " * 500 + "plants")

    assert find(long_words, MINE).tasks[0]["title"] == "Water the plants"
