from django.urls import path

from e2ee import api

urlpatterns = [
    path("parley/v1/security/e2ee-health", api.E2eeHealthView.as_view(), name="e2ee-health"),
]
