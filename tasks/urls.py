from django.urls import include, path
from rest_framework.routers import SimpleRouter

from tasks.views import TaskViewSet

router = SimpleRouter(trailing_slash=False)
router.register("tasks", TaskViewSet, basename="task")

urlpatterns = [path("<str:user_id>/", include(router.urls))]
