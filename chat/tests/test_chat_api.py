"""POST /chat and the conversation routes, with the LOCAL agent (the quick start's)."""

import pytest

from accounts.models import User
from chat.models import Conversation, Message
from tasks.models import Task

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def local_provider(settings) -> None:
    settings.LLM_PROVIDER = "LOCAL"


def chat(client, user: User, message, **extra):
    return client.post(f"/api/{user.pk}/chat", {"message": message, **extra}, format="json")


def test_a_user_manages_tasks_by_chatting(alice_api, alice: User) -> None:
    added = chat(alice_api, alice, "Add a task to buy groceries")
    conversation_id = added.json()["conversation_id"]
    listed = chat(alice_api, alice, "What's pending?", conversation_id=conversation_id)
    done = chat(alice_api, alice, "Mark the groceries task as done", conversation_id=conversation_id)

    assert added.status_code == listed.status_code == done.status_code == 200
    task = Task.objects.get(owner=alice)
    assert task.completed
    assert added.json()["tool_calls"] == [
        {
            "tool": "add_task",
            "arguments": {"title": "Buy groceries"},
            "result": {"task_id": task.pk, "status": "created", "title": "Buy groceries"},
        }
    ]
    assert "Buy groceries" in listed.json()["response"]
    assert listed.json()["conversation_id"] == conversation_id
    assert Message.objects.filter(conversation_id=conversation_id).count() == 6


def test_the_chat_answer_has_the_documented_shape(alice_api, alice: User) -> None:
    body = chat(alice_api, alice, "hello").json()

    assert set(body) == {"conversation_id", "response", "tool_calls", "message"}
    message = Message.objects.get(role="assistant")
    assert body["message"] == {
        "id": message.pk,
        "conversation_id": body["conversation_id"],
        "role": "assistant",
        "content": body["response"],
        "created_at": message.created_at.isoformat().replace("+00:00", "Z"),
    }


def test_conversations_are_listed_newest_first_with_their_message_count(alice_api, alice: User) -> None:
    first = chat(alice_api, alice, "Add a task to buy groceries").json()["conversation_id"]
    second = chat(alice_api, alice, "Show me all my tasks").json()["conversation_id"]
    chat(alice_api, alice, "hello", conversation_id=first)

    response = alice_api.get(f"/api/{alice.pk}/conversations")

    assert response.status_code == 200
    body = response.json()
    assert [c["id"] for c in body] == [first, second]
    assert body[0]["title"] == "Add a task to buy groceries"
    assert body[0]["message_count"] == 4
    assert set(body[0]) == {"id", "title", "created_at", "updated_at", "message_count"}


def test_a_conversation_shows_its_messages_in_order(alice_api, alice: User) -> None:
    conversation_id = chat(alice_api, alice, "Add a task to buy groceries").json()["conversation_id"]

    response = alice_api.get(f"/api/{alice.pk}/conversations/{conversation_id}")

    assert response.status_code == 200
    body = response.json()
    assert body["id"] == conversation_id
    assert [(m["role"], m["content"][:12]) for m in body["messages"]] == [
        ("user", "Add a task t"),
        ("assistant", 'Added "Buy g'),
    ]
    assert body["messages"][0]["tool_calls"] == []
    assert body["messages"][1]["tool_calls"][0]["tool"] == "add_task"
    assert set(body["messages"][0]) == {"id", "role", "content", "tool_calls", "created_at"}


def test_deleting_a_conversation_deletes_its_messages(alice_api, alice: User) -> None:
    conversation_id = chat(alice_api, alice, "hello").json()["conversation_id"]

    response = alice_api.delete(f"/api/{alice.pk}/conversations/{conversation_id}")

    assert response.status_code == 204
    assert not Conversation.objects.exists()
    assert not Message.objects.exists()
    assert alice_api.get(f"/api/{alice.pk}/conversations/{conversation_id}").status_code == 404


def test_a_long_first_message_makes_a_short_title(alice_api, alice: User) -> None:
    chat(alice_api, alice, "Add a task to " + "really " * 40 + "buy milk")

    assert len(Conversation.objects.get().title) == 80


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "message"),
        ({"message": ""}, "message"),
        ({"message": "   "}, "message"),
        ({"message": "x" * 2001}, "message"),
        ({"message": 42}, "message"),
        ({"message": ["hi"]}, "message"),
        ({"message": "nul\x00byte"}, "message"),
        ({"message": "hi", "conversation_id": "abc"}, "conversation_id"),
        ({"message": "hi", "conversation_id": 0}, "conversation_id"),
    ],
)
def test_bad_chat_input_is_400_naming_the_field(alice_api, alice: User, body: dict, field: str) -> None:
    response = alice_api.post(f"/api/{alice.pk}/chat", body, format="json")

    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert not Conversation.objects.exists()


def test_an_unknown_conversation_is_404(alice_api, alice: User) -> None:
    response = chat(alice_api, alice, "hello", conversation_id=987654321)

    assert response.status_code == 404
    assert response.json() == {"detail": "Conversation not found", "code": "not_found"}
    assert not Message.objects.exists()


def test_bob_cannot_read_continue_or_delete_alices_conversation(
    alice_api, bob_api, alice: User, bob: User
) -> None:
    conversation_id = chat(alice_api, alice, "Add a task to buy groceries").json()["conversation_id"]

    continued = chat(bob_api, bob, "Show me all my tasks", conversation_id=conversation_id)
    read = bob_api.get(f"/api/{bob.pk}/conversations/{conversation_id}")
    deleted = bob_api.delete(f"/api/{bob.pk}/conversations/{conversation_id}")
    listed = bob_api.get(f"/api/{bob.pk}/conversations")

    assert (continued.status_code, read.status_code, deleted.status_code) == (404, 404, 404)
    assert listed.json() == []
    assert Message.objects.filter(conversation_id=conversation_id).count() == 2
    assert Message.objects.filter(owner=bob).count() == 0


def test_bob_gets_403_on_alices_chat_paths(bob_api, alice_api, alice: User) -> None:
    conversation_id = chat(alice_api, alice, "hello").json()["conversation_id"]

    assert chat(bob_api, alice, "Show me all my tasks").status_code == 403
    assert bob_api.get(f"/api/{alice.pk}/conversations").status_code == 403
    assert bob_api.get(f"/api/{alice.pk}/conversations/{conversation_id}").status_code == 403
    assert bob_api.delete(f"/api/{alice.pk}/conversations/{conversation_id}").status_code == 403
    assert Conversation.objects.count() == 1


def test_the_chat_tools_act_for_the_token_user_only(bob_api, alice: User, bob: User) -> None:
    from tasks.services import create_task

    alices = create_task(owner=alice, title="Alice's groceries")

    reply = chat(bob_api, bob, f"Delete task {alices.pk}").json()
    listing = chat(bob_api, bob, "Show me all my tasks").json()

    assert Task.objects.filter(pk=alices.pk).exists()
    assert "couldn't find" in reply["response"]
    assert "Alice" not in listing["response"]


def test_chat_needs_a_token(api, alice: User) -> None:
    response = chat(api, alice, "hello")

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_chat_is_throttled_per_user(alice_api, bob_api, alice: User, bob: User, settings) -> None:
    settings.CHAT_RATE_LIMIT = "2/day"

    statuses = [chat(alice_api, alice, "hello").status_code for _ in range(3)]
    bobs = chat(bob_api, bob, "hello")

    assert statuses == [200, 200, 429]
    assert bobs.status_code == 200


def test_the_chat_routes_answer_under_api_v1(alice_api, alice: User) -> None:
    response = alice_api.post(f"/api/v1/{alice.pk}/chat", {"message": "hello"}, format="json")

    assert response.status_code == 200
    assert alice_api.get(f"/api/v1/{alice.pk}/conversations").status_code == 200


def test_the_admin_shows_conversations_with_their_messages(client, alice_api, alice: User) -> None:
    conversation_id = chat(alice_api, alice, "Add a task to buy groceries").json()["conversation_id"]
    client.force_login(User.objects.create_superuser("root@example.com", "Root", "an-admin-password-1"))

    listing = client.get("/admin/chat/conversation/")
    detail = client.get(f"/admin/chat/conversation/{conversation_id}/change/")

    assert listing.status_code == detail.status_code == 200
    assert b"Add a task to buy groceries" in listing.content
    assert b"Added &quot;Buy groceries&quot;" in detail.content


def test_a_message_that_is_not_unicode_is_400(alice_api, alice: User) -> None:
    response = alice_api.post(
        f"/api/{alice.pk}/chat", '{"message": "hi \\ud83d"}', content_type="application/json"
    )

    assert response.status_code == 400
    assert "message" in response.json()["errors"]


def test_conversations_come_a_page_at_a_time_with_the_total(alice_api, alice: User) -> None:
    ids = [chat(alice_api, alice, f"hello {n}").json()["conversation_id"] for n in range(5)]

    first = alice_api.get(f"/api/{alice.pk}/conversations?limit=2")
    last = alice_api.get(f"/api/{alice.pk}/conversations?limit=2&offset=4")
    default = alice_api.get(f"/api/{alice.pk}/conversations")

    assert [c["id"] for c in first.json()] == ids[::-1][:2]
    assert [c["id"] for c in last.json()] == [ids[0]]
    assert first["X-Total-Count"] == last["X-Total-Count"] == default["X-Total-Count"] == "5"
    assert len(default.json()) == 5


def test_a_conversation_shows_its_newest_messages_a_page_at_a_time(alice_api, alice: User) -> None:
    conversation_id = chat(alice_api, alice, "message 0").json()["conversation_id"]
    for n in range(1, 4):
        chat(alice_api, alice, f"message {n}", conversation_id=conversation_id)
    url = f"/api/{alice.pk}/conversations/{conversation_id}"

    newest = alice_api.get(f"{url}?limit=2")
    before = alice_api.get(f"{url}?limit=2&offset=2")

    assert newest["X-Total-Count"] == before["X-Total-Count"] == "8"
    assert newest.json()["messages"][0]["content"] == "message 3"
    assert [m["role"] for m in newest.json()["messages"]] == ["user", "assistant"]
    assert before.json()["messages"][0]["content"] == "message 2"
    assert len(alice_api.get(url).json()["messages"]) == 8


@pytest.mark.parametrize("query", ["limit=0", "limit=101", "offset=-1", "limit=x", "offset=10001"])
def test_bad_paging_of_conversations_is_400(alice_api, alice: User, query: str) -> None:
    conversation_id = chat(alice_api, alice, "hello").json()["conversation_id"]

    for url in (f"/api/{alice.pk}/conversations", f"/api/{alice.pk}/conversations/{conversation_id}"):
        response = alice_api.get(f"{url}?{query}")

        assert response.status_code == 400
        assert response.json()["code"] == "validation_error"


def test_a_long_list_result_is_stored_with_its_first_items_and_its_count(alice_api, alice: User) -> None:
    Task.objects.bulk_create(Task(owner=alice, title=f"Task {n}") for n in range(30))

    answer = chat(alice_api, alice, "Show me all my tasks").json()

    stored = Message.objects.get(role="assistant").tool_calls[0]
    assert len(stored["result"]) == 20
    assert stored["result_count"] == 30
    assert answer["tool_calls"] == [stored]
    assert "30 tasks" in answer["response"]


def test_the_chat_reads_dates_in_the_requests_time_zone(alice_api, alice: User) -> None:
    response = chat(
        alice_api, alice, "Remind me to water the plants every Monday at 8am", time_zone="Europe/Berlin"
    )

    assert response.status_code == 200
    [call] = response.json()["tool_calls"]
    assert call["tool"] == "add_task"
    assert call["arguments"]["title"] == "Water the plants"
    assert call["arguments"]["recurrence"] == "FREQ=WEEKLY;BYDAY=MO"
    assert call["arguments"]["due_date"].endswith("T08:00:00+01:00") or call["arguments"][
        "due_date"
    ].endswith("T08:00:00+02:00")
    task = Task.objects.get(owner=alice)
    assert (task.recurrence, task.time_zone, task.remind_at) == (
        "FREQ=WEEKLY;BYDAY=MO",
        "Europe/Berlin",
        task.due_date,
    )


@pytest.mark.parametrize("time_zone", ["Mars/Olympus", "", 5, "x" * 65])
def test_a_time_zone_that_is_not_an_iana_name_is_400(alice_api, alice: User, time_zone) -> None:
    response = chat(alice_api, alice, "Add a task to buy milk tomorrow", time_zone=time_zone)

    assert response.status_code == 400
    assert "time_zone" in response.json()["errors"]
    assert not Task.objects.exists()
