from typing import Any

from django.contrib import admin
from django.db import transaction
from django.db.models import Model, QuerySet
from django.http import HttpRequest

from events.models import ChangeSource
from tasks import services
from tasks.models import Notification, Task


class RecordedAsAdmin(admin.ModelAdmin):
    """Changes made here are on their user's change feed as made by the
    admin, and take the owner's lock first, as the services' writes do."""

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        with transaction.atomic(), services.changes_by(ChangeSource.ADMIN):
            services.begin_change(obj.owner_id)
            super().save_model(request, obj, form, change)

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        with transaction.atomic(), services.changes_by(ChangeSource.ADMIN):
            services.begin_change(obj.owner_id)
            super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Model]) -> None:
        with transaction.atomic(), services.changes_by(ChangeSource.ADMIN):
            for owner_id in sorted(set(queryset.values_list("owner_id", flat=True))):
                services.begin_change(owner_id)
            list(queryset.select_for_update())  # every row locked before the first change
            super().delete_queryset(request, queryset)


@admin.register(Task)
class TaskAdmin(RecordedAsAdmin):
    list_display = (
        "title",
        "owner",
        "completed",
        "priority",
        "due_date",
        "recurrence",
        "remind_at",
        "created_at",
    )
    list_filter = ("completed", "priority", "due_date", "remind_at", "created_at")
    list_select_related = ("owner",)
    search_fields = ("title", "owner__email")
    raw_id_fields = ("owner", "next_task")
    readonly_fields = ("occurrence", "created_at", "updated_at")
    date_hierarchy = "created_at"
    fieldsets = (
        (None, {"fields": ("owner", "title", "description", "completed", "priority", "tags")}),
        (
            "Schedule",
            {
                "fields": (
                    "due_date",
                    "recurrence",
                    "time_zone",
                    "repeat_from",
                    "remind_at",
                    "occurrence",
                    "next_task",
                )
            },
        ),
        ("History", {"fields": ("created_at", "updated_at")}),
    )


@admin.register(Notification)
class NotificationAdmin(RecordedAsAdmin):
    list_display = ("message", "owner", "kind", "task", "remind_at", "created_at", "read_at")
    list_filter = ("kind", "created_at", "read_at")
    list_select_related = ("owner", "task")
    search_fields = ("message", "owner__email")
    raw_id_fields = ("owner", "task")
    readonly_fields = ("created_at",)
    date_hierarchy = "created_at"
