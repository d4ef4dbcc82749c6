from django.urls import path

from accounts.views import MeView, SigninView, SignupView

urlpatterns = [
    path("auth/signup", SignupView.as_view(), name="auth-signup"),
    path("auth/signin", SigninView.as_view(), name="auth-signin"),
    path("auth/me", MeView.as_view(), name="auth-me"),
]
