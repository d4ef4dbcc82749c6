from django.apps import AppConfig


class EventsConfig(AppConfig):
    """Live changes: the change feed, the event stream, task history."""

    name = "events"
    default_auto_field = "django.db.models.BigAutoField"
