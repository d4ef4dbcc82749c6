from django.urls import path, re_path

from events.views import ChangesView, TaskHistoryView, TicketView

urlpatterns = [
    path("<str:user_id>/changes", ChangesView.as_view(), name="changes"),
    path("<str:user_id>/events/ticket", TicketView.as_view(), name="events-ticket"),
    re_path(
        r"^(?P<user_id>[^/]+)/tasks/(?P<id>[0-9]+)/history$", TaskHistoryView.as_view(), name="task-history"
    ),
]
