from django.urls import path, re_path

from billing import api

urlpatterns = [
    path("parley/v1/billing/usage", api.UsageView.as_view()),
    path("parley/v1/billing/events", api.EventsView.as_view()),
    re_path(r"^parley/v1/billing/invoices/(?P<period>[^/]{1,10})$", api.InvoiceView.as_view()),
    path("parley/v1/billing/estimates", api.EstimateView.as_view()),
    path("parley/v1/billing/rate-card", api.RateCardView.as_view()),
    path("parley/v1/billing/agents", api.AgentsView.as_view()),
    re_path(r"^parley/v1/billing/agents/(?P<agent_id>[^/]{1,100})$", api.AgentView.as_view()),
]
