from django.urls import include, path
from rest_framework.routers import SimpleRouter

from push.views import PublicKeyView, PushSubscriptionViewSet

router = SimpleRouter(trailing_slash=False)
router.register("push-subscriptions", PushSubscriptionViewSet, basename="push-subscription")

urlpatterns = [
    path("push/public-key", PublicKeyView.as_view(), name="push-public-key"),
    path("<str:user_id>/", include(router.urls)),
]
