from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView
from rest_framework.negotiation import DefaultContentNegotiation

from parley.api import views

# ASCII digits only: `\d` matches other scripts' digits too. The version is checked against
# the supported range by the views (an unsupported one answers 400, code 2500).
V = r"^(?P<version>v[0-9]{1,3}\.[0-9]{1,3})"
ID = r"(?P<{}>[0-9]{{1,18}})"

urlpatterns = [
    path(
        "api/schema/",
        # YAML or JSON, as Accept asks (the API itself always answers JSON).
        SpectacularAPIView.as_view(
            authentication_classes=[],
            permission_classes=[],
            content_negotiation_class=DefaultContentNegotiation,
        ),
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
