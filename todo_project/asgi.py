"""The ASGI application: uvicorn todo_project.asgi:application.

Layers, outermost first: probes (/health, /ready: first, as they are asked
most often and read nothing of the request but its path), lifespan (database
pools, the MCP app's task group, the reminders' worker, the event streams' hub), request size
limits, /mcp (chat/asgi.py), the event stream (events/asgi.py), the streamed chat (chat/asgi.py),
the hot task routes on the event loop (tasks/asgi.py), then Django."""

import os

from django.core.asgi import get_asgi_application

from todo_project.env import exit_on_configuration_error

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "todo_project.settings")

with exit_on_configuration_error():
    django_application = get_asgi_application()

from chat.asgi import McpMiddleware, StreamedChatMiddleware
from events import hub
from events.asgi import EventsMiddleware
from health.asgi import ProbesMiddleware
from tasks import worker
from tasks.asgi import TaskRoutesMiddleware
from todo_project.middleware import LifespanMiddleware, RequestLimitsMiddleware

mcp = McpMiddleware(EventsMiddleware(StreamedChatMiddleware(TaskRoutesMiddleware(django_application))))
# Entered at start-up, left at shutdown: the MCP app's task group, the reminders' worker,
# the event streams' hub (which ends them all at SIGTERM).
lifespan_contexts = [mcp.running, worker.running, hub.running]
application = ProbesMiddleware(LifespanMiddleware(RequestLimitsMiddleware(mcp), contexts=lifespan_contexts))
