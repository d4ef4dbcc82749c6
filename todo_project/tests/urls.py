"""The project's routes plus a few API views that raise each kind of error."""

from django.http import Http404
from django.urls import path
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from todo_project.urls import handler400, handler403, handler404, handler500, urlpatterns  # noqa: F401


class EchoSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=10)
    count = serializers.IntegerField()


class PublicView(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]


class EchoView(PublicView):
    def post(self, request: Request) -> Response:
        serializer = EchoSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(serializer.validated_data)


class MissingView(PublicView):
    def get(self, request: Request) -> Response:
        raise Http404("No such thing")


class BrokenView(PublicView):
    def get(self, request: Request) -> Response:
        raise RuntimeError("password=hunter2-secret in a failing view")


urlpatterns = [
    *urlpatterns,
    path("test/echo", EchoView.as_view()),
    path("test/missing", MissingView.as_view()),
    path("test/broken", BrokenView.as_view()),
]
