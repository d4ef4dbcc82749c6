"""deploy/kubernetes/database-roles.sql, run as its comment says: the owner
role migrates, the app role serves every route, and the app role cannot
change the schema."""

from __future__ import annotations

import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator

import httpx
import psycopg
import pytest
from django.db import connection

from conftest import ROOT, START_GUARD_SECONDS, server_environment

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not shutil.which("psql"), reason="needs psql"),
]


def admin_url(database: str = "postgres") -> str:
    settings = connection.settings_dict
    host = settings["HOST"] or "localhost"
    port = settings["PORT"] or 5432
    return f"postgresql://{settings['USER'] or 'postgres'}@{host.replace('/', '%2F')}:{port}/{database}"


@pytest.fixture
def roles() -> Iterator[dict[str, str]]:
    """The file's two roles and database, under names of this test's own."""
    suffix = uuid.uuid4().hex[:8]
    names = {"owner": f"owner_{suffix}", "app": f"app_{suffix}", "database": f"roles_{suffix}"}
    script = (
        (ROOT / "deploy" / "kubernetes" / "database-roles.sql")
        .read_text()
        .replace("todo_owner", names["owner"])
        .replace("todo_app", names["app"])
        .replace("change-me-owner", "owner-password-1")
        .replace("change-me-app", "app-password-1")
        .replace("DATABASE todo", f"DATABASE {names['database']}")
        .replace("\\connect todo", f"\\connect {names['database']}")
    )
    with psycopg.connect(admin_url(), autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {names['database']}")
    try:
        subprocess.run(
            ["psql", "-v", "ON_ERROR_STOP=1", "-q", admin_url()],
            input=script,
            text=True,
            check=True,
            timeout=START_GUARD_SECONDS,
        )
        yield names
    finally:
        with psycopg.connect(admin_url(), autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {names['database']} WITH (FORCE)")
            admin.execute(f"DROP ROLE IF EXISTS {names['app']}")
            admin.execute(f"DROP ROLE IF EXISTS {names['owner']}")


def role_url(roles: dict[str, str], role: str) -> str:
    url = admin_url(roles["database"])
    return url.replace("postgresql://postgres@", f"postgresql://{roles[role]}:{role}-password-1@", 1)


def test_the_owner_migrates_and_the_app_role_serves_but_cannot_alter(
    live_server_process, roles: dict[str, str]
) -> None:
    migrate = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
        cwd=ROOT,
        env=server_environment(DATABASE_URL=role_url(roles, "owner")),
        capture_output=True,
        text=True,
        timeout=START_GUARD_SECONDS,
    )
    assert migrate.returncode == 0, migrate.stderr
    server = live_server_process(DATABASE_URL=role_url(roles, "app"))
    client = httpx.Client(base_url=server.url)

    signup = client.post(
        "/api/auth/signup", json={"email": "erin@example.com", "password": "violet-ladder-42", "name": "Erin"}
    )
    headers = {"Authorization": f"Bearer {signup.json()['token']}"}
    tasks = f"/api/{signup.json()['user']['id']}/tasks"
    created = client.post(tasks, json={"title": "Least privilege"}, headers=headers)
    toggled = client.patch(f"{tasks}/{created.json()['id']}/complete", headers=headers)
    listed = client.get(f"{tasks}?search=privilege", headers=headers)
    chatted = client.post(
        f"/api/{signup.json()['user']['id']}/chat", json={"message": "Show me all my tasks"}, headers=headers
    )
    deleted = client.delete(f"{tasks}/{created.json()['id']}", headers=headers)

    assert [r.status_code for r in (signup, created, toggled, listed, chatted, deleted)] == [
        201, 201, 200, 200, 200, 204,
    ]  # fmt: skip
    with psycopg.connect(role_url(roles, "app"), autocommit=True) as app:
        for statement in (
            "ALTER TABLE tasks ADD COLUMN x integer",
            "DROP TABLE messages",
            "CREATE TABLE stray (id integer)",
            "TRUNCATE users",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                app.execute(statement)
