from django.urls import include, path
from rest_framework.routers import SimpleRouter

from tasks.views import NotificationViewSet, TaskViewSet

router = SimpleRouter(trailing_slash=False)
router.register("tasks", TaskViewSet, basename="task")
router.register("notifications", NotificationViewSet, basename="notification")

urlpatterns = [path("<str:user_id>/", include(router.urls))]
