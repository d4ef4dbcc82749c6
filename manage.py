#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "todo_project.settings")
    from django.conf import settings
    from django.core.management import execute_from_command_line

    from todo_project.env import exit_on_configuration_error

    with exit_on_configuration_error():
        settings.INSTALLED_APPS  # noqa: B018 - load settings now, to report a bad environment in one line
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
