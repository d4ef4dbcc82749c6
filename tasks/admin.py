from django.contrib import admin

from tasks.models import Notification, Task


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
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
            {"fields": ("due_date", "recurrence", "time_zone", "remind_at", "occurrence", "next_task")},
        ),
        ("History", {"fields": ("created_at", "updated_at")}),
    )


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("message", "owner", "kind", "task", "remind_at", "created_at", "read_at")
    list_filter = ("kind", "created_at", "read_at")
    list_select_related = ("owner", "task")
    search_fields = ("message", "owner__email")
    raw_id_fields = ("owner", "task")
    readonly_fields = ("created_at",)
    date_hierarchy = "created_at"
