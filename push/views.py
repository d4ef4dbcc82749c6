from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, status, viewsets
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.auth import IsPathUser
from idempotency.views import IdempotentWrites
from push import config, services
from push.serializers import PublicKeySerializer, PushSubscriptionInputSerializer, PushSubscriptionSerializer
from todo_project.schema import USER_ID_PARAMETER as USER_ID
from todo_project.schema import error_responses

SUBSCRIPTION_ID = OpenApiParameter(
    "id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The push subscription id."
)


class PublicKeyView(APIView):
    """The VAPID key a browser subscribes with. No token: a frontend asks for
    it before it subscribes (an Authorization header is ignored)."""

    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="push_public_key",
        tags=["push"],
        responses={
            200: PublicKeySerializer,
            **error_responses(404, s404="Web Push is not configured on this server (not_found)."),
        },
    )
    def get(self, request: Request) -> Response:
        key = config.public_key()
        if key is None:
            raise exceptions.NotFound("Web Push is not configured on this server.")
        return Response({"public_key": key})


class PushSubscriptionViewSet(IdempotentWrites, viewsets.ViewSet):
    """A user's push subscriptions. IsPathUser refuses another user's path
    before any query; every lookup is scoped to request.user."""

    permission_classes = [IsPathUser]
    lookup_field = "id"
    lookup_value_regex = "[0-9]+"

    @extend_schema(
        operation_id="push_subscriptions_list",
        tags=["push"],
        parameters=[USER_ID],
        responses={200: PushSubscriptionSerializer(many=True), **error_responses(401, 403)},
    )
    def list(self, request: Request, user_id: str) -> Response:
        return Response(
            PushSubscriptionSerializer(services.subscriptions(owner=request.user), many=True).data
        )

    @extend_schema(
        operation_id="push_subscriptions_create",
        tags=["push"],
        parameters=[USER_ID],
        request=PushSubscriptionInputSerializer,
        description="The browser's PushSubscription.toJSON(). The same endpoint again updates it (200).",
        responses={
            201: PushSubscriptionSerializer,
            200: PushSubscriptionSerializer,
            **error_responses(400, 401, 403, 413, 415),
        },
    )
    def create(self, request: Request, user_id: str) -> Response:
        serializer = PushSubscriptionInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        subscription, created = services.subscribe(owner=request.user, **serializer.validated_data)
        body = PushSubscriptionSerializer(subscription).data
        if not created:
            return Response(body)
        return Response(
            body, status=status.HTTP_201_CREATED, headers={"Location": f"{request.path}/{subscription.pk}"}
        )

    @extend_schema(
        operation_id="push_subscriptions_delete",
        tags=["push"],
        parameters=[USER_ID, SUBSCRIPTION_ID],
        responses={
            204: None,
            **error_responses(
                401, 403, 404, s404="Push subscription not found (not_found), also for another user's."
            ),
        },
    )
    def destroy(self, request: Request, user_id: str, id: str) -> Response:
        services.unsubscribe(owner=request.user, subscription_id=int(id))
        return Response(status=status.HTTP_204_NO_CONTENT)
