from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.auth import IsPathUser
from idempotency.views import IdempotentWrites
from tasks import services
from tasks.models import Task
from tasks.serializers import (
    CompletionSerializer,
    NotificationQuerySerializer,
    NotificationSerializer,
    TaskInputSerializer,
    TaskListQuerySerializer,
    TaskSerializer,
    task_instance_body,
)
from todo_project.conditional import etag, if_match, none_match
from todo_project.schema import USER_ID_PARAMETER as USER_ID
from todo_project.schema import error_responses, total_count_header

TASK_ID = OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The task id.")
# The list's query parameters are declared by the serializer that checks
# them, so the schema carries their bounds and choices.
LIST_PARAMETERS = [
    USER_ID,
    TaskListQuerySerializer,
    total_count_header("The matches before limit and offset."),
]
TASK_ERRORS = error_responses(
    400, 401, 403, 404, 413, 415, s404="Task not found (not_found), also for another user's task."
)


@extend_schema_view(
    list=extend_schema(
        operation_id="tasks_list",
        parameters=LIST_PARAMETERS,
        responses={
            200: OpenApiResponse(
                TaskSerializer(many=True),
                description="A bare array. X-Total-Count: the matches before limit and offset.",
            ),
            **error_responses(400, 401, 403),
        },
    ),
    create=extend_schema(
        operation_id="tasks_create",
        parameters=[USER_ID],
        request=TaskInputSerializer,
        responses={201: TaskSerializer, **error_responses(400, 401, 403, 413, 415)},
    ),
    retrieve=extend_schema(
        operation_id="tasks_retrieve",
        parameters=[USER_ID, TASK_ID],
        responses={200: TaskSerializer, **error_responses(401, 403, 404)},
    ),
    update=extend_schema(
        operation_id="tasks_update",
        parameters=[USER_ID, TASK_ID],
        request=TaskInputSerializer(partial=True),
        description="Fields left out keep their values.",
        responses={200: TaskSerializer, **TASK_ERRORS},
    ),
    partial_update=extend_schema(
        operation_id="tasks_partial_update",
        parameters=[USER_ID, TASK_ID],
        request=TaskInputSerializer(partial=True),
        responses={200: TaskSerializer, **TASK_ERRORS},
    ),
    destroy=extend_schema(
        operation_id="tasks_destroy",
        parameters=[USER_ID, TASK_ID],
        responses={204: None, **error_responses(401, 403, 404)},
    ),
)
class TaskViewSet(IdempotentWrites, viewsets.ViewSet):
    """A user's tasks. IsPathUser refuses another user's path before any query;
    every lookup below goes through tasks.services, scoped to request.user."""

    permission_classes = [IsPathUser]
    lookup_field = "id"
    lookup_value_regex = "[0-9]+"

    def list(self, request: Request, user_id: str) -> Response:
        query = TaskListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        page = services.list_tasks_json(owner=request.user, query=services.ListQuery(**query.validated_data))
        return HttpResponse(
            page.body, content_type="application/json", headers={"X-Total-Count": str(page.total)}
        )

    def create(self, request: Request, user_id: str) -> Response:
        data = _valid(TaskInputSerializer(data=request.data))
        task = services.create_task(owner=request.user, **data)
        return _answer(task, code=status.HTTP_201_CREATED, headers={"Location": f"{request.path}/{task.pk}"})

    def retrieve(self, request: Request, user_id: str, id: str) -> Response:
        task = services.get_task(owner=request.user, task_id=int(id))
        if none_match(request.headers.get("If-None-Match"), task.version):
            return Response(status=status.HTTP_304_NOT_MODIFIED, headers={"ETag": etag(task.version)})
        return _answer(task)

    def update(self, request: Request, user_id: str, id: str) -> Response:
        # Frontends send partial PUTs: fields left out keep their values.
        return self._update(request, int(id))

    def partial_update(self, request: Request, user_id: str, id: str) -> Response:
        return self._update(request, int(id))

    def destroy(self, request: Request, user_id: str, id: str) -> Response:
        services.delete_task(owner=request.user, task_id=int(id), versions=_if_match(request))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        operation_id="tasks_complete",
        parameters=[USER_ID, TASK_ID],
        request=CompletionSerializer,
        description='No body toggles completion; {"completed": true|false} sets it.',
        responses={200: TaskSerializer, **TASK_ERRORS},
    )
    @action(detail=True, methods=["patch"])
    def complete(self, request: Request, user_id: str, id: str) -> Response:
        # No body is {} here (a toggle); a JSON null is not an object and is refused.
        data = _valid(CompletionSerializer(data=request.data))
        task = services.set_task_completion(
            owner=request.user, task_id=int(id), completed=data.get("completed"), versions=_if_match(request)
        )
        return _answer(task)

    def _update(self, request: Request, task_id: int) -> Response:
        data = _valid(TaskInputSerializer(data=request.data, partial=True))
        task = services.update_task(
            owner=request.user, task_id=task_id, changes=data, versions=_if_match(request)
        )
        return _answer(task)


def _answer(task: Task, *, code: int = status.HTTP_200_OK, headers: dict[str, str] | None = None) -> Response:
    """An answer with one task: its body, and its version as the ETag."""
    headers = {"ETag": etag(task.version), **(headers or {})}
    return Response(task_instance_body(task), status=code, headers=headers)


def _if_match(request: Request) -> frozenset[int] | None:
    return if_match(request.headers.get("If-Match"))


def _valid(serializer: serializers.Serializer) -> dict:
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


NOTIFICATION_ID = OpenApiParameter(
    "id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The notification id."
)


class NotificationViewSet(IdempotentWrites, viewsets.ViewSet):
    """A user's notifications: the reminders that fired (tasks/reminders.py)."""

    permission_classes = [IsPathUser]
    lookup_field = "id"
    lookup_value_regex = "[0-9]+"

    @extend_schema(
        operation_id="notifications_list",
        tags=["notifications"],
        parameters=[
            USER_ID,
            NotificationQuerySerializer,
            total_count_header("The matches before limit and offset."),
        ],
        description="Newest first.",
        responses={200: NotificationSerializer(many=True), **error_responses(400, 401, 403)},
    )
    def list(self, request: Request, user_id: str) -> Response:
        query = _valid(NotificationQuerySerializer(data=request.query_params))
        page = services.list_notifications(owner=request.user, **query)
        body = NotificationSerializer(page.items, many=True).data
        return Response(body, headers={"X-Total-Count": str(page.total)})

    @extend_schema(
        operation_id="notifications_read",
        tags=["notifications"],
        parameters=[USER_ID, NOTIFICATION_ID],
        request=None,
        description="Marks the notification read; read_at keeps the first reading's time.",
        responses={
            200: NotificationSerializer,
            **error_responses(
                401, 403, 404, s404="Notification not found (not_found), also for another user's."
            ),
        },
    )
    @action(detail=True, methods=["post"])
    def read(self, request: Request, user_id: str, id: str) -> Response:
        notification = services.mark_notification_read(owner=request.user, notification_id=int(id))
        return Response(NotificationSerializer(notification).data)
