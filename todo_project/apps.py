from django.contrib.admin.apps import AdminConfig


class TodoAdminConfig(AdminConfig):
    """django.contrib.admin, on the site with sign-in limits (todo_project/admin.py)."""

    default_site = "todo_project.admin.AdminSite"
