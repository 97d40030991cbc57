from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView

from parley.api import views

V = r"^(?P<version>v\d+\.\d+)"
ID = r"(?P<{}>\d{{1,20}})"

urlpatterns = [
    path(
        "api/schema/",
        SpectacularAPIView.as_view(authentication_classes=[], permission_classes=[]),
        name="api-schema",
    ),
    re_path(
        V + "/" + ID.format("waba_id") + r"/phone_numbers/?$", views.PhoneNumbersView.as_view()
    ),
    re_path(
        V + "/" + ID.format("number_id") + r"/request_code/?$", views.RequestCodeView.as_view()
    ),
    re_path(V + "/" + ID.format("number_id") + r"/verify_code/?$", views.VerifyCodeView.as_view()),
    re_path(V + "/" + ID.format("number_id") + r"/register/?$", views.RegisterView.as_view()),
    re_path(V + "/" + ID.format("number_id") + r"/deregister/?$", views.DeregisterView.as_view()),
    re_path(V + "/" + r"(?P<node_id>[^/]{1,40})/?$", views.NodeView.as_view()),
]
