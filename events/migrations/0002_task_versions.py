from django.db import migrations

# The change feed's task body gains the task's version (tasks 0005), where
# tasks.services.TASK_JSON_SQL writes it.
_UTC = """'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'"""


def _task_body(version: str) -> str:
    return f"""
CREATE OR REPLACE FUNCTION change_task_body(t tasks) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT json_build_object(
        'id', t.id,
        'user_id', t.owner_id,
        'title', t.title,
        'description', t.description,
        'completed', t.completed,
        'priority', t.priority,
        'tags', t.tags,
        'due_date', to_char(t.due_date AT TIME ZONE 'UTC', {_UTC}),
        'recurrence', t.recurrence,
        'remind_at', to_char(t.remind_at AT TIME ZONE 'UTC', {_UTC}),
        'next_task_id', t.next_task_id,{version}
        'created_at', to_char(t.created_at AT TIME ZONE 'UTC', {_UTC}),
        'updated_at', to_char(t.updated_at AT TIME ZONE 'UTC', {_UTC})
    )::text
$$;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0001_change_feed"),
        ("tasks", "0005_task_versions"),
    ]

    operations = [
        migrations.RunSQL(_task_body("\n        'version', t.version,"), _task_body("")),
    ]
