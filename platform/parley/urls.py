from django.urls import include, path

from parley.core import views as core_views

urlpatterns = [
    path("healthz", core_views.healthz, name="healthz"),
    path("", include("parley.api.urls")),
    path("", include("parley.relay.urls")),
    path("", include("billing.urls")),
    path("", include("routing.urls")),
    path("", include("archive.urls")),
    path("", include("e2ee.urls")),
    path("", include("parley.core.urls")),
    path("", include("frontend.urls")),
]

handler404 = "parley.core.views.not_found"
handler500 = "parley.core.views.server_error"
