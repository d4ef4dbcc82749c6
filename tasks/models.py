from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.core.validators import MinLengthValidator, ProhibitNullCharactersValidator
from django.db import models
from django.db.models import F
from django.db.models.functions import Lower, Upper

if TYPE_CHECKING:
    from accounts.models import User

TITLE_MAX_LENGTH = 200
DESCRIPTION_MAX_LENGTH = 1000
TAG_MAX_LENGTH = 50
MAX_TAGS = 20

no_nul = ProhibitNullCharactersValidator()


class Priority(models.TextChoices):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class TaskQuerySet(models.QuerySet["Task"]):
    def for_user(self, user: User) -> TaskQuerySet:
        """The one place task rows are scoped to their owner."""
        return self.filter(owner=user)


class Task(models.Model):
    # No index of its own: tasks_owner_created_idx starts with owner.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tasks", db_index=False
    )
    title = models.CharField(max_length=TITLE_MAX_LENGTH, validators=[no_nul])
    # null, not "": the API distinguishes "no description" and returns null.
    description = models.TextField(  # noqa: DJ001
        max_length=DESCRIPTION_MAX_LENGTH, null=True, blank=True, validators=[no_nul]
    )
    completed = models.BooleanField(default=False)
    priority = models.CharField(max_length=6, choices=Priority.choices, default=Priority.MEDIUM)
    tags = ArrayField(
        models.CharField(max_length=TAG_MAX_LENGTH, validators=[no_nul, MinLengthValidator(1)]),
        size=MAX_TAGS,
        default=list,
        blank=True,
    )
    due_date = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TaskQuerySet.as_manager()

    class Meta:
        db_table = "tasks"
        ordering = ["-created_at", "-id"]
        indexes = [
            # The list: one owner's tasks, newest first.
            models.Index(fields=["owner", "-created_at", "-id"], name="tasks_owner_created_idx"),
            # sort=title and -title: the list's ordering, read from the index.
            models.Index(F("owner"), Lower("title"), F("id"), name="tasks_owner_title_idx"),
            # The tag filter: tags @> ARRAY['work'].
            GinIndex(fields=["tags"], name="tasks_tags_gin_idx"),
            # search: Django's icontains is UPPER(column::text) LIKE UPPER('%word%'),
            # which trigram indexes on UPPER(column) serve (upper() takes text,
            # so PostgreSQL stores the same cast in the index).
            GinIndex(OpClass(Upper("title"), name="gin_trgm_ops"), name="tasks_title_trgm_idx"),
            GinIndex(OpClass(Upper("description"), name="gin_trgm_ops"), name="tasks_description_trgm_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(priority__in=Priority.values), name="tasks_priority_valid"
            ),
            models.CheckConstraint(condition=~models.Q(title=""), name="tasks_title_not_empty"),
        ]

    def __str__(self) -> str:
        return self.title
