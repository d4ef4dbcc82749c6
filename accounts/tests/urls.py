"""The project's routes plus a per-user route guarded like every /api/{user_id}/... route."""

from django.urls import path
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.auth import IsPathUser
from todo_project.urls import handler400, handler403, handler404, handler500, urlpatterns  # noqa: F401

handled: list[str] = []


class OwnThingsView(APIView):
    permission_classes = [IsPathUser]

    def get(self, request: Request, user_id: str) -> Response:
        handled.append(user_id)
        return Response({"user_id": str(request.user.pk)})


urlpatterns = [*urlpatterns, path("api/<str:user_id>/things", OwnThingsView.as_view())]
