"""The ASGI application: uvicorn todo_project.asgi:application.

Layers, outermost first: lifespan (database pool), probes (/health, /ready),
request body limit, then Django."""

import os

from django.core.asgi import get_asgi_application

from todo_project.env import exit_on_configuration_error

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "todo_project.settings")

with exit_on_configuration_error():
    django_application = get_asgi_application()

from health.asgi import ProbesMiddleware
from todo_project.middleware import BodySizeLimitMiddleware, LifespanMiddleware

application = LifespanMiddleware(ProbesMiddleware(BodySizeLimitMiddleware(django_application)))
