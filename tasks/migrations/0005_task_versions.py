from django.db import migrations, models

# A task's version moves with every change of the row, whoever makes it: the
# services, the admin, the ORM's SET NULL when a next occurrence is deleted.
# The value a writer sets is ignored, so a stale copy cannot move it back.
INSTALL = """
CREATE FUNCTION tasks_next_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.version := OLD.version;
    IF NEW IS DISTINCT FROM OLD THEN
        NEW.version := OLD.version + 1;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER tasks_version BEFORE UPDATE ON tasks
    FOR EACH ROW EXECUTE FUNCTION tasks_next_version();
"""
UNINSTALL = """
DROP TRIGGER tasks_version ON tasks;
DROP FUNCTION tasks_next_version();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("tasks", "0004_pending_reminders_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="task",
            name="version",
            field=models.PositiveIntegerField(db_default=1, default=1, editable=False),
        ),
        migrations.RunSQL(INSTALL, UNINSTALL),
    ]
