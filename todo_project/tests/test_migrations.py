import uuid
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from rest_framework.test import APIClient

from accounts.auth import issue_token
from accounts.models import User


@pytest.mark.django_db
def test_the_models_and_migrations_agree() -> None:
    output = StringIO()

    call_command("makemigrations", "--check", "--dry-run", stdout=output)

    assert "No changes detected" in output.getvalue()


@pytest.mark.django_db(transaction=True)
def test_uuid_user_ids_become_opaque_strings_keeping_every_row_and_token() -> None:
    """A database at the schema before opaque ids (accounts 0002), with a user,
    tasks and a conversation, migrates; the rows and the user's token work after."""
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    later = ("accounts", "tasks", "events", "idempotency", "push")
    before = [node for node in latest if node[0] not in later]
    before += [("accounts", "0002_token_versions_and_email_keys"), ("tasks", "0002_search_and_title_indexes")]
    # The change feed and idempotency keys came later: unapplied with the accounts migrations they need.
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    user = old.get_model("accounts", "User").objects.create(
        email="dora@example.com", email_key="DORA@EXAMPLE.COM".casefold(), name="Dora", password="md5$s$h"
    )
    assert isinstance(user.pk, uuid.UUID)  # the schema before: a uuid key
    old.get_model("tasks", "Task").objects.create(owner=user, title="Kept across the migration", tags=[])
    conversation = old.get_model("chat", "Conversation").objects.create(owner=user, title="Kept too")
    old.get_model("chat", "Message").objects.create(
        owner=user, conversation=conversation, role="user", content="Hello", tool_calls=[]
    )
    token = issue_token(User(pk=str(user.pk), email=user.email, token_version=user.token_version)).token

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(latest)

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    user_id = str(user.pk)
    assert User.objects.get(pk=user_id).email == "dora@example.com"
    assert client.get("/api/auth/me").json()["id"] == user_id
    tasks = client.get(f"/api/{user_id}/tasks")
    assert [task["title"] for task in tasks.json()] == ["Kept across the migration"]
    assert tasks.json()[0]["user_id"] == user_id
    messages = client.get(f"/api/{user_id}/conversations/{conversation.pk}").json()["messages"]
    assert [message["content"] for message in messages] == ["Hello"]
    assert client.post(f"/api/{user_id}/tasks", {"title": "New"}, format="json").status_code == 201


@pytest.mark.django_db(transaction=True)
def test_users_made_by_external_tokens_are_marked_external_and_keep_their_tokens() -> None:
    """Before accounts 0004 the users first seen in a Better Auth token were
    the only ones without a usable password ("!..."); after it they are
    external, and the others are not."""
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    before = [node for node in latest if node[0] not in ("accounts", "events", "idempotency", "push")]
    before += [("accounts", "0003_opaque_user_ids")]  # the change feed is unapplied with 0004
    executor.migrate(before)
    old_users = executor.loader.project_state(before).apps.get_model("accounts", "User").objects
    old_users.create(id="k3Jd8sLq0PzXw2VbN7mRt5YcA1eG9hU", email="bea@example.com", name="Bea", password="!x")
    old_users.create(id=str(uuid.uuid4()), email="dora@example.com", name="Dora", password="md5$s$h")

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(latest)

    assert dict(User.objects.values_list("email", "external")) == {
        "bea@example.com": True,
        "dora@example.com": False,
    }
