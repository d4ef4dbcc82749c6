from django.urls import include, path
from rest_framework.routers import SimpleRouter

from chat.views import ChatView, ConversationViewSet

router = SimpleRouter(trailing_slash=False)
router.register("conversations", ConversationViewSet, basename="conversation")

urlpatterns = [
    path("<str:user_id>/chat", ChatView.as_view(), name="chat"),
    path("<str:user_id>/", include(router.urls)),
]
