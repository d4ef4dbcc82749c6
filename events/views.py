from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.auth import IsPathUser, verify_token
from events import feed
from events.tickets import issue_ticket
from idempotency.views import IdempotentWrites
from tasks import services
from todo_project.schema import USER_ID_PARAMETER as USER_ID
from todo_project.schema import error_responses, total_count_header


class ChangesQuerySerializer(serializers.Serializer):
    since = serializers.CharField(
        required=False, max_length=32, help_text="A cursor from an earlier answer; none: start from now."
    )
    limit = serializers.IntegerField(min_value=1, max_value=feed.MAX_LIMIT, default=feed.DEFAULT_LIMIT)


class HistoryQuerySerializer(serializers.Serializer):
    limit = serializers.IntegerField(min_value=1, max_value=feed.MAX_LIMIT, default=100)
    offset = serializers.IntegerField(min_value=0, max_value=1_000_000, default=0)


class ChangeSerializer(serializers.Serializer):
    """For the schema: a change as the feed and the stream write it."""

    cursor = serializers.CharField(help_text="Opaque: store it, send it back, never parse it.")
    type = serializers.ChoiceField(
        choices=[
            "task.created",
            "task.updated",
            "task.deleted",
            "notification.created",
            "notification.updated",
        ]
    )
    at = serializers.DateTimeField()
    source = serializers.ChoiceField(choices=["api", "assistant", "mcp", "worker", "admin"])
    task = serializers.DictField(required=False, help_text="The task after the change; {id} when deleted.")
    notification = serializers.DictField(required=False, help_text="The notification after the change.")


class ChangesPageSerializer(serializers.Serializer):
    changes = ChangeSerializer(many=True)
    cursor = serializers.CharField(help_text="Resume from here.")
    has_more = serializers.BooleanField()


class TicketSerializer(serializers.Serializer):
    ticket = serializers.CharField()
    expires_at = serializers.DateTimeField()


class HistoryEntrySerializer(serializers.Serializer):
    cursor = serializers.CharField()
    type = serializers.CharField()
    at = serializers.DateTimeField()
    source = serializers.CharField()
    changed = serializers.DictField(help_text='{"<field>": {"from": ..., "to": ...}}')


def _json(body: str, *, status: int = 200, headers: dict[str, str] | None = None) -> HttpResponse:
    return HttpResponse(body, content_type="application/json", status=status, headers=headers)


class ChangesView(APIView):
    permission_classes = [IsPathUser]

    @extend_schema(
        operation_id="changes_list",
        tags=["events"],
        parameters=[USER_ID, ChangesQuerySerializer],
        description=(
            "Incremental sync: the user's changes after `since`, oldest first. Without `since`: no"
            " changes and the cursor of now (take it after a full list). Follow `cursor` while"
            " `has_more`. 410 cursor_expired: list everything again."
        ),
        responses={
            200: ChangesPageSerializer,
            410: OpenApiResponse(description="The cursor is older than the changes kept (cursor_expired)."),
            **error_responses(400, 401, 403),
        },
    )
    def get(self, request: Request, user_id: str) -> HttpResponse:
        query = ChangesQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        # Read as sent: an empty cursor is malformed, not "from now" (DRF reads an empty value as none).
        since = request.query_params.get("since")
        after = None if since is None else feed.parse_cursor(since)
        limit = query.validated_data["limit"]
        page = feed.read_page(feed.run(feed.read_statement(request.user.pk, after, limit)), after, limit)
        return _json(page.json())


class TicketView(IdempotentWrites, APIView):
    permission_classes = [IsPathUser]

    @extend_schema(
        operation_id="events_ticket",
        tags=["events"],
        parameters=[USER_ID],
        request=None,
        description=(
            "A single-use ticket, valid 60 s on any replica, for `GET .../events?ticket=...`"
            " (EventSource cannot send an Authorization header)."
        ),
        responses={201: TicketSerializer, **error_responses(401, 403)},
    )
    def post(self, request: Request, user_id: str) -> Response:
        ticket = issue_ticket(verify_token(request.auth))
        return Response(
            {"ticket": ticket.ticket, "expires_at": ticket.expires_at}, status=status.HTTP_201_CREATED
        )


TASK_ID = OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The task id.")


class TaskHistoryView(APIView):
    permission_classes = [IsPathUser]

    @extend_schema(
        operation_id="tasks_history",
        tags=["tasks"],
        parameters=[USER_ID, TASK_ID, HistoryQuerySerializer, total_count_header("The task's changes.")],
        description="The task's changes, newest first (task.created: every field from null).",
        responses={
            200: HistoryEntrySerializer(many=True),
            **error_responses(400, 401, 403, 404, s404="Task not found (not_found), also once deleted."),
        },
    )
    def get(self, request: Request, user_id: str, id: str) -> HttpResponse:
        query = HistoryQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        task = services.get_task(owner=request.user, task_id=int(id))
        entries, total = feed.run(feed.history_statement(request.user.pk, task.pk, **query.validated_data))
        return _json("[" + ",".join(entries) + "]", headers={"X-Total-Count": str(total)})
