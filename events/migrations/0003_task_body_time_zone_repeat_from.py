from django.db import migrations

# A task's body shows its time zone and what its rule counts from (tasks
# 0006): the change feed's copy of it (change_task_body) follows, as
# tasks.services.TASK_JSON_SQL writes it.
_UTC = """'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'"""


def _task_body(shown: str) -> str:
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
        'remind_at', to_char(t.remind_at AT TIME ZONE 'UTC', {_UTC}),{shown}
        'next_task_id', t.next_task_id,
        'version', t.version,
        'created_at', to_char(t.created_at AT TIME ZONE 'UTC', {_UTC}),
        'updated_at', to_char(t.updated_at AT TIME ZONE 'UTC', {_UTC})
    )::text
$$;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0002_task_versions"),
        ("tasks", "0006_time_zone_shown_repeat_from"),
    ]

    operations = [
        migrations.RunSQL(
            _task_body("\n        'time_zone', t.time_zone,\n        'repeat_from', t.repeat_from,"),
            _task_body(""),
        ),
    ]
