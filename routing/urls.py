"""The routing API, under the one API base (`/parley/v1/routing/…`)."""

from django.urls import path, re_path

from routing import api

ID = r"(?P<{}>[0-9]{{1,18}})"
ROUTING = r"^parley/v1/routing/"

urlpatterns = [
    path("parley/v1/routing/queues", api.QueuesView.as_view()),
    re_path(ROUTING + r"queues/" + ID.format("queue_id") + r"$", api.QueueView.as_view()),
    path("parley/v1/routing/agents", api.AgentsView.as_view()),
    re_path(ROUTING + r"agents/" + ID.format("agent_id") + r"$", api.AgentView.as_view()),
    path("parley/v1/routing/sessions", api.SessionsView.as_view()),
    re_path(
        ROUTING + r"sessions/" + ID.format("session_id") + r"/transfer$",
        api.SessionTransferView.as_view(),
    ),
    re_path(
        ROUTING + r"sessions/" + ID.format("session_id") + r"/resolve$",
        api.SessionResolveView.as_view(),
    ),
    path("parley/v1/routing/stats", api.StatsView.as_view()),
    path("parley/v1/routing/service-levels", api.ServiceLevelsView.as_view()),
]
