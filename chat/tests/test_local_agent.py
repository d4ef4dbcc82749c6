"""The LOCAL agent: plain English to the tool calls a good model would make."""

import pytest

from accounts.models import User
from chat import local_agent
from tasks.models import Task
from tasks.services import create_task

pytestmark = pytest.mark.django_db


def calls(records: list[dict]) -> list[tuple[str, dict]]:
    return [(record["tool"], record["arguments"]) for record in records]


@pytest.mark.parametrize(
    ("message", "title", "priority"),
    [
        ("Add a task to buy groceries", "Buy groceries", "medium"),
        ("I need to remember to pay bills", "Pay bills", "medium"),
        ("remind me to call the dentist.", "Call the dentist", "medium"),
        ("Create a task called 'Water the plants'", "Water the plants", "medium"),
        ("New task: read a book", "Read a book", "medium"),
        ("add an urgent task: renew passport", "Renew passport", "high"),
        ("Add a high priority task to file taxes", "File taxes", "high"),
        ("I have to fix the bike", "Fix the bike", "medium"),
        ("Add a task to review the completed report", "Review the completed report", "medium"),
        ("remind me to check what's pending", "Check what's pending", "medium"),
    ],
)
def test_additions(alice: User, message: str, title: str, priority: str) -> None:
    reply, records = local_agent.respond(alice, message)

    task = Task.objects.get(owner=alice)
    assert (task.title, task.priority) == (title, priority)
    assert calls(records)[0][0] == "add_task"
    assert f'"{title}"' in reply
    assert f"#{task.pk}" in reply


@pytest.fixture
def tasks(alice: User) -> dict[str, Task]:
    return {
        "groceries": create_task(owner=alice, title="Buy groceries"),
        "meeting": create_task(owner=alice, title="Team meeting", priority="high"),
        "report": create_task(owner=alice, title="Write report", completed=True),
    }


@pytest.mark.parametrize(
    ("message", "status", "shown", "hidden"),
    [
        ("Show me all my tasks", "all", ["Buy groceries", "Team meeting", "Write report"], []),
        ("list my tasks", "all", ["Buy groceries", "Team meeting", "Write report"], []),
        ("What's pending?", "pending", ["Buy groceries", "Team meeting"], ["Write report"]),
        ("what's left", "pending", ["Buy groceries", "Team meeting"], ["Write report"]),
        ("What do I still need to do?", "pending", ["Buy groceries"], ["Write report"]),
        ("What have I completed?", "completed", ["Write report"], ["Buy groceries"]),
        ("show finished tasks", "completed", ["Write report"], ["Team meeting"]),
    ],
)
def test_lists(alice: User, tasks, message: str, status: str, shown: list[str], hidden: list[str]) -> None:
    reply, records = local_agent.respond(alice, message)

    assert calls(records) == [("list_tasks", {"status": status})]
    for title in shown:
        assert title in reply
    for title in hidden:
        assert title not in reply


@pytest.mark.parametrize(
    "template",
    ["Mark task {id} as complete", "mark task #{id} done", "finish task {id}", "Complete task {id}",
     "task {id} is done", "I finished task {id}"],
)  # fmt: skip
def test_completion_by_id(alice: User, tasks, template: str) -> None:
    task = tasks["groceries"]

    reply, records = local_agent.respond(alice, template.format(id=task.pk))

    assert calls(records) == [("complete_task", {"task_id": task.pk})]
    task.refresh_from_db()
    assert task.completed
    assert "Buy groceries" in reply


@pytest.mark.parametrize("message", ["Mark the groceries task as done", "finish the groceries task"])
def test_completion_by_words_lists_first(alice: User, tasks, message: str) -> None:
    reply, records = local_agent.respond(alice, message)

    assert [tool for tool, _ in calls(records)] == ["list_tasks", "complete_task"]
    assert calls(records)[1][1] == {"task_id": tasks["groceries"].pk}
    assert "Buy groceries" in reply


@pytest.mark.parametrize(
    "message", ["Delete the meeting task", "remove the meeting task", "cancel the team meeting"]
)
def test_deletion_by_words_lists_first_then_deletes_by_id(alice: User, tasks, message: str) -> None:
    reply, records = local_agent.respond(alice, message)

    assert [tool for tool, _ in calls(records)] == ["list_tasks", "delete_task"]
    assert not Task.objects.filter(pk=tasks["meeting"].pk).exists()
    assert "Team meeting" in reply


def test_deletion_by_id(alice: User, tasks) -> None:
    reply, records = local_agent.respond(alice, f"delete task {tasks['report'].pk}")

    assert calls(records) == [("delete_task", {"task_id": tasks["report"].pk})]
    assert not Task.objects.filter(pk=tasks["report"].pk).exists()
    assert "Write report" in reply


def test_an_ambiguous_name_asks_which_task(alice: User, tasks) -> None:
    create_task(owner=alice, title="Meeting notes")

    reply, records = local_agent.respond(alice, "Delete the meeting task")

    assert [tool for tool, _ in calls(records)] == ["list_tasks"]
    assert Task.objects.filter(owner=alice).count() == 4
    assert "Team meeting" in reply
    assert "Meeting notes" in reply


def test_an_unknown_name_changes_nothing(alice: User, tasks) -> None:
    reply, _ = local_agent.respond(alice, "Delete the dentist task")

    assert Task.objects.filter(owner=alice).count() == 3
    assert "dentist" in reply


def test_words_that_name_no_task_get_the_closest_offered(alice: User, tasks) -> None:
    create_task(owner=alice, title="Pay the rent")

    reply, records = local_agent.respond(alice, "delete the rent for the summer cottage")

    assert [tool for tool, _ in calls(records)] == ["list_tasks"]
    assert Task.objects.filter(owner=alice).count() == 4
    rent = Task.objects.get(owner=alice, title="Pay the rent")
    assert reply.startswith('I couldn\'t find a task matching "rent for the summer cottage".')
    assert f'The closest is #{rent.pk} "Pay the rent".' in reply


@pytest.mark.parametrize(
    ("template", "changes"),
    [
        ("Change task {id} to 'Call mom tonight'", {"title": "Call mom tonight"}),
        ("rename task {id} to Call mom tonight", {"title": "Call mom tonight"}),
        ("update task {id} title to \u201cCall mom tonight\u201d", {"title": "Call mom tonight"}),
        ("set task {id} priority to high", {"priority": "high"}),
        ("change the priority of task {id} to low", {"priority": "low"}),
    ],
)
def test_updates(alice: User, tasks, template: str, changes: dict) -> None:
    task = tasks["groceries"]

    reply, records = local_agent.respond(alice, template.format(id=task.pk))

    assert calls(records) == [("update_task", {"task_id": task.pk, **changes})]
    task.refresh_from_db()
    for field, value in changes.items():
        assert getattr(task, field) == value
    assert f"#{task.pk}" in reply


def test_another_users_task_id_is_not_found(alice: User, bob: User) -> None:
    bobs = create_task(owner=bob, title="Bob's task")

    reply, _ = local_agent.respond(alice, f"Delete task {bobs.pk}")

    assert Task.objects.filter(pk=bobs.pk).exists()
    assert "couldn't find" in reply


@pytest.mark.parametrize("message", ["hello", "help", "blorp fizz"])
def test_greetings_and_nonsense_get_help(alice: User, message: str) -> None:
    reply, records = local_agent.respond(alice, message)

    assert records == []
    assert "Show my tasks" in reply


@pytest.mark.parametrize("verb", ["delete", "complete", "mark"])
def test_a_name_too_long_to_search_is_an_answer_not_an_error(
    alice_api, alice: User, tasks, verb: str
) -> None:
    message = f"{verb} {'x' * 201}" + (" as done" if verb == "mark" else "")

    response = alice_api.post(f"/api/{alice.pk}/chat", {"message": message}, format="json")

    assert response.status_code == 200
    assert "couldn't find a task" in response.json()["response"]
    assert Task.objects.filter(owner=alice).count() == 3
    assert [m.role for m in alice.messages.order_by("created_at", "id")] == ["user", "assistant"]


@pytest.mark.parametrize(
    "message", ["mark task {id} as not done", "reopen the groceries task", "untick task {id}"]
)
def test_reopening_a_task_is_declined_plainly(alice: User, tasks, message: str) -> None:
    task = tasks["groceries"]
    task.completed = True
    task.save()

    reply, records = local_agent.respond(alice, message.format(id=task.pk))

    assert records == []
    assert reply.startswith("Sorry, I can't mark a task as not done")
    task.refresh_from_db()
    assert task.completed
