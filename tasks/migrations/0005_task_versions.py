from django.db import migrations, models

# The trigger that moves a task's version on every change is the change
# feed's (events 0002): one trigger records the change and numbers it.


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
    ]
