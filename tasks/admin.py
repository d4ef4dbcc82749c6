from django.contrib import admin

from tasks.models import Task


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    list_display = ("title", "owner", "completed", "priority", "due_date", "created_at")
    list_filter = ("completed", "priority", "due_date", "created_at")
    list_select_related = ("owner",)
    search_fields = ("title", "owner__email")
    raw_id_fields = ("owner",)
    readonly_fields = ("created_at", "updated_at")
    date_hierarchy = "created_at"
