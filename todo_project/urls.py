"""Routes. Every /api/... route is also served under /api/v1/...; /health and
/ready are answered in front of Django (health/asgi.py)."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from todo_project.schema import DocsView, SchemaView

api_patterns = [
    path("", include("accounts.urls")),
    path("", include("tasks.urls")),
    path("", include("chat.urls")),
    path("", include("events.urls")),
    path("", include("push.urls")),
]

urlpatterns = [
    path("api/", include(api_patterns)),
    path("api/v1/", include(api_patterns)),
    path("openapi.json", SchemaView.as_view(), name="openapi"),
    path("docs", DocsView.as_view(), name="docs"),
]
if settings.ADMIN_ENABLED:
    urlpatterns += [
        path("admin", RedirectView.as_view(url="/admin/", permanent=True)),
        path("admin/", admin.site.urls),
    ]

handler400 = "todo_project.exceptions.bad_request"
handler403 = "todo_project.exceptions.permission_denied"
handler404 = "todo_project.exceptions.page_not_found"
handler500 = "todo_project.exceptions.server_error"
