from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from push.models import PushSubscription


@admin.register(PushSubscription)
class PushSubscriptionAdmin(admin.ModelAdmin):
    """Shown by their push service's host only: the endpoint's path is the
    browser's address at that service and the keys decrypt its messages, so
    neither is shown. Browsers make subscriptions; an admin can delete one."""

    list_display = ("id", "owner", "host", "expiration_time", "created_at")
    list_select_related = ("owner",)
    search_fields = ("owner__email",)
    fields = ("owner", "host", "expiration_time", "created_at", "updated_at")
    readonly_fields = fields
    ordering = ("-created_at",)

    @admin.display(description="push service")
    def host(self, subscription: PushSubscription) -> str:
        return subscription.host

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: PushSubscription | None = None) -> bool:
        return False
