"""/docs and /openapi.json work with no network: every asset comes from the app."""

import asyncio
import re
from datetime import datetime

import httpx
import pytest
from drf_spectacular.validation import validate_schema

from tasks.reminders import fire_reminder
from tasks.services import create_task

AT = datetime.fromisoformat("2030-01-07T08:00:00+00:00")


def test_docs_is_swagger_ui_with_assets_served_by_the_app(api) -> None:
    response = api.get("/docs")

    assert response.status_code == 200
    html = response.content.decode()
    assert "SwaggerUIBundle" in html
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets
    for asset in assets:
        assert asset.startswith("/static/"), asset
        assert api.get(asset).status_code == 200, asset
    assert not re.search(r"https?://(?!localhost)", html.replace("http://www.w3.org", ""))


def test_openapi_json_is_a_valid_openapi_3_schema(api) -> None:
    response = api.get("/openapi.json")

    assert response.status_code == 200
    schema = response.json()
    validate_schema(schema)
    assert schema["openapi"].startswith("3.")
    assert {"/health", "/ready"} <= set(schema["paths"])
    assert set(schema["components"]["schemas"]["Error"]["required"]) == {"detail", "code"}
    assert schema["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


@pytest.mark.django_db
def test_the_admin_login_page_has_its_css(api) -> None:
    response = api.get("/admin/login/")

    assert response.status_code == 200
    stylesheets = re.findall(r'href="(/static/admin/css/[^"]+)"', response.content.decode())
    assert stylesheets
    for stylesheet in stylesheets:
        css = api.get(stylesheet)
        assert css.status_code == 200
        assert css["Content-Type"].startswith("text/css")


def test_admin_without_the_slash_redirects_to_the_admin(api) -> None:
    response = api.get("/admin")

    assert response.status_code == 301
    assert response["Location"] == "/admin/"


def test_the_auth_routes_are_documented_with_bodies_and_the_bearer_scheme(api) -> None:
    schema = api.get("/openapi.json").json()
    paths = schema["paths"]

    signup = paths["/api/auth/signup"]["post"]
    assert "requestBody" in signup
    assert set(signup["responses"]) >= {"201", "400", "409", "429"}
    assert signup.get("security", []) in ([], [{}])
    assert "401" in paths["/api/auth/signin"]["post"]["responses"]
    me = paths["/api/auth/me"]["get"]
    assert me["security"] == [{"bearerAuth": []}]
    assert (
        me["responses"]["401"]["content"]["application/json"]["schema"]["$ref"]
        == "#/components/schemas/Error"
    )
    assert not [path for path in paths if path.startswith("/api/v1/")]


def test_the_task_routes_document_every_parameter_and_body(api) -> None:
    paths = api.get("/openapi.json").json()["paths"]

    listing = paths["/api/{user_id}/tasks"]["get"]
    assert {p["name"] for p in listing["parameters"]} == {
        "user_id", "status", "priority", "tag", "search", "sort", "limit", "offset",
    }  # fmt: skip
    assert "requestBody" in paths["/api/{user_id}/tasks"]["post"]
    assert set(paths["/api/{user_id}/tasks/{id}"]) == {"get", "put", "patch", "delete"}
    assert "requestBody" in paths["/api/{user_id}/tasks/{id}/complete"]["patch"]
    assert listing["security"] == [{"bearerAuth": []}]


def test_the_documented_task_is_the_task_body(alice_api, alice) -> None:
    schema = alice_api.get("/openapi.json").json()
    created = alice_api.post(f"/api/{alice.pk}/tasks", {"title": "Documented"}, format="json").json()

    assert set(schema["components"]["schemas"]["Task"]["properties"]) == set(created)


def test_the_schedule_fields_and_notifications_are_documented(alice_api, alice) -> None:
    schema = alice_api.get("/openapi.json").json()
    schemas, paths = schema["components"]["schemas"], schema["paths"]
    fire_reminder_of = create_task(owner=alice, title="Documented", remind_at=AT)
    fire_reminder(fire_reminder_of.pk, AT)
    notification = alice_api.get(f"/api/{alice.pk}/notifications").json()[0]

    task_properties = schemas["Task"]["properties"]
    assert {"recurrence", "remind_at", "time_zone", "repeat_from", "next_task_id"} <= set(task_properties)
    assert task_properties["time_zone"]["nullable"] is True
    task_input = schemas["TaskInputRequest"]["properties"]
    assert {"due_date", "recurrence", "remind_at", "time_zone", "repeat_from"} <= set(task_input)
    assert "writeOnly" not in task_input["time_zone"]
    assert "time_zone" in schemas["ChatRequestRequest"]["properties"]
    listing = paths["/api/{user_id}/notifications"]["get"]
    assert {p["name"] for p in listing["parameters"]} == {"user_id", "unread", "limit", "offset"}
    assert {"200", "400", "401", "403"} <= set(listing["responses"])
    read = paths["/api/{user_id}/notifications/{id}/read"]["post"]
    assert {"200", "401", "403", "404"} <= set(read["responses"])
    assert set(schemas["Notification"]["properties"]) == set(notification)


def test_the_chat_routes_are_documented(api) -> None:
    paths = api.get("/openapi.json").json()["paths"]

    chat = paths["/api/{user_id}/chat"]["post"]
    assert "requestBody" in chat
    assert {"200", "400", "401", "403", "404", "429"} <= set(chat["responses"])
    assert set(paths["/api/{user_id}/conversations"]) == {"get"}
    assert set(paths["/api/{user_id}/conversations/{id}"]) == {"get", "delete"}


def test_the_push_routes_are_documented(api) -> None:
    schema = api.get("/openapi.json").json()
    paths, schemas = schema["paths"], schema["components"]["schemas"]

    key = paths["/api/push/public-key"]["get"]
    assert {"200", "404"} <= set(key["responses"])
    assert key.get("security") in (None, [], [{}]) or {} in key["security"]
    subscriptions = paths["/api/{user_id}/push-subscriptions"]
    assert {"200", "401", "403"} <= set(subscriptions["get"]["responses"])
    assert {"200", "201", "400"} <= set(subscriptions["post"]["responses"])
    assert {"204", "404"} <= set(paths["/api/{user_id}/push-subscriptions/{id}"]["delete"]["responses"])
    assert set(schemas["PushSubscription"]["properties"]) == {"id", "endpoint", "created_at"}
    request = schemas["PushSubscriptionInputRequest"]["properties"]
    assert {"endpoint", "expirationTime", "keys"} <= set(request)


def test_retries_and_versions_are_documented(api) -> None:
    schema = api.get("/openapi.json").json()
    paths = schema["paths"]

    def headers(operation: dict) -> set[str]:
        return {p["name"] for p in operation["parameters"] if p["in"] == "header"}

    writes = [
        (path, method, operation)
        for path, operations in paths.items()
        if path.startswith("/api/{user_id}/")
        for method, operation in operations.items()
        if method in ("post", "put", "patch", "delete")
    ]
    assert len(writes) >= 8
    for path, method, operation in writes:
        assert "Idempotency-Key" in headers(operation), (path, method)
        assert {"409", "422"} <= set(operation["responses"]), (path, method)
    task = paths["/api/{user_id}/tasks/{id}"]
    complete = paths["/api/{user_id}/tasks/{id}/complete"]["patch"]
    for operation in (task["put"], task["patch"], task["delete"], complete):
        assert "If-Match" in headers(operation)
        assert operation["responses"]["412"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/PreconditionFailed"
        }
    assert "If-None-Match" in headers(task["get"])
    assert "304" in task["get"]["responses"]
    assert "ETag" in task["get"]["responses"]["200"]["headers"]
    assert "ETag" in paths["/api/{user_id}/tasks"]["post"]["responses"]["201"]["headers"]
    assert "version" in schema["components"]["schemas"]["Task"]["properties"]
    signin = paths["/api/auth/signin"]["post"]
    assert "Idempotency-Key" not in {p["name"] for p in signin.get("parameters", [])}


@pytest.mark.parametrize("path", ["/openapi.json", "/docs"])
def test_fifty_parallel_requests_on_a_fresh_server_get_one_answer(live_server_process, path: str) -> None:
    server = live_server_process()

    async def fetch_all() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=server.url) as client:
            return await asyncio.gather(*(client.get(path) for _ in range(50)))

    responses = asyncio.run(fetch_all())

    assert [r.status_code for r in responses] == [200] * 50
    assert len({r.content for r in responses}) == 1
    assert "Traceback" not in server.stderr


@pytest.mark.parametrize("path", ["/docs", "/openapi.json"])
@pytest.mark.parametrize("method", ["options", "post", "put", "patch", "delete"])
def test_the_documents_answer_other_methods_with_a_json_405(api, path: str, method: str) -> None:
    response = getattr(api, method)(path)

    assert response.status_code == 405
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == "method_not_allowed"


def test_the_documents_are_not_operations_of_the_schema(api) -> None:
    paths = api.get("/openapi.json").json()["paths"]

    assert "/docs" not in paths
    assert "/openapi.json" not in paths
