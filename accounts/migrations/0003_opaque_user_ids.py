"""User ids become opaque strings of up to 64 characters (Better Auth's ids are
not UUIDs). Existing ids keep their text form, so rows and tokens still match.

It runs after the migrations that made foreign keys to users, so that the
state here holds them and their columns change type with the key."""

import accounts.models
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0002_token_versions_and_email_keys'),
        ('admin', '0003_logentry_add_action_flag_choices'),
        ('chat', '0001_initial'),
        ('tasks', '0002_search_and_title_indexes'),
    ]

    operations = [
        migrations.AlterField(
            model_name='user',
            name='id',
            field=models.CharField(default=accounts.models.new_user_id, editable=False, max_length=64, primary_key=True, serialize=False),
        ),
    ]
