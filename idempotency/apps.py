from django.apps import AppConfig


class IdempotencyConfig(AppConfig):
    """Safe retries: the first answer to a write with an Idempotency-Key, kept and replayed."""

    name = "idempotency"
    default_auto_field = "django.db.models.BigAutoField"
