from django.db import migrations

# A task's version (tasks 0005) moves with every change of its row, whoever
# writes it: the services, the admin, the ORM's SET NULL when a next
# occurrence is deleted. One BEFORE UPDATE trigger moves it and records the
# change (with the version in the body, where tasks.services.TASK_JSON_SQL
# writes it): one trigger call per update, and none of the queue an AFTER
# trigger keeps. A value a writer sets is ignored, so a stale copy cannot
# move the version back. Inserts and deletes stay with the AFTER trigger.
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


INSTALL = (
    _task_body("\n        'version', t.version,")
    + """
CREATE FUNCTION tasks_record_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.version := OLD.version;
    IF NEW IS NOT DISTINCT FROM OLD THEN
        RETURN NEW;
    END IF;
    NEW.version := OLD.version + 1;
    IF NEW.owner_id = OLD.owner_id THEN
        PERFORM record_change(NEW.owner_id, 'task.updated', NEW.id, NULL, change_task_body(NEW));
    ELSE
        -- Given to another user (the admin): gone for one, new for the other.
        PERFORM record_change(OLD.owner_id, 'task.deleted', OLD.id, NULL, json_build_object('id', OLD.id)::text);
        PERFORM record_change(NEW.owner_id, 'task.created', NEW.id, NULL, change_task_body(NEW));
    END IF;
    RETURN NEW;
END
$$;

CREATE OR REPLACE FUNCTION tasks_record_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM record_change(OLD.owner_id, 'task.deleted', OLD.id, NULL, json_build_object('id', OLD.id)::text);
    ELSE
        PERFORM record_change(NEW.owner_id, 'task.created', NEW.id, NULL, change_task_body(NEW));
    END IF;
    RETURN NULL;
END
$$;

DROP TRIGGER tasks_record_change ON tasks;
CREATE TRIGGER tasks_record_change AFTER INSERT OR DELETE ON tasks
    FOR EACH ROW EXECUTE FUNCTION tasks_record_change();
CREATE TRIGGER tasks_record_update BEFORE UPDATE ON tasks
    FOR EACH ROW EXECUTE FUNCTION tasks_record_update();
"""
)

# Back to events 0001's triggers.
UNINSTALL = (
    _task_body("")
    + """
DROP TRIGGER tasks_record_update ON tasks;
DROP FUNCTION tasks_record_update();
DROP TRIGGER tasks_record_change ON tasks;

CREATE OR REPLACE FUNCTION tasks_record_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.owner_id = OLD.owner_id THEN
        IF NEW IS DISTINCT FROM OLD THEN
            PERFORM record_change(NEW.owner_id, 'task.updated', NEW.id, NULL, change_task_body(NEW));
        END IF;
        RETURN NULL;
    END IF;
    IF TG_OP <> 'INSERT' THEN
        PERFORM record_change(OLD.owner_id, 'task.deleted', OLD.id, NULL, json_build_object('id', OLD.id)::text);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        PERFORM record_change(NEW.owner_id, 'task.created', NEW.id, NULL, change_task_body(NEW));
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER tasks_record_change AFTER INSERT OR UPDATE OR DELETE ON tasks
    FOR EACH ROW EXECUTE FUNCTION tasks_record_change();
"""
)


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0001_change_feed"),
        ("tasks", "0005_task_versions"),
    ]

    operations = [
        migrations.RunSQL(INSTALL, UNINSTALL),
    ]
