from django.urls import path

from accounts.views import MeView, SigninView, SignOutAllView, SignupView

urlpatterns = [
    path("auth/signup", SignupView.as_view(), name="auth-signup"),
    path("auth/signin", SigninView.as_view(), name="auth-signin"),
    path("auth/me", MeView.as_view(), name="auth-me"),
    path("auth/signout-all", SignOutAllView.as_view(), name="auth-signout-all"),
]
