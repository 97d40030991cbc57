from django.urls import path

from frontend.views import auth, dashboard

urlpatterns = [
    path("login/", auth.login_view, name="login"),
    path("login/enrol/", auth.enrol_view, name="login-enrol"),
    path("login/verify/", auth.verify_view, name="login-verify"),
    path("logout/", auth.logout_view, name="logout"),
    path("", dashboard.dashboard, name="dashboard"),
]
