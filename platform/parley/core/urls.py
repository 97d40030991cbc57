from django.urls import path

from parley.core import api

urlpatterns = [
    path("parley/v1/clock", api.ClockStateView.as_view(), name="clock"),
    path("parley/v1/clock/advance", api.ClockAdvanceView.as_view(), name="clock-advance"),
    path("parley/v1/clock/set", api.ClockSetView.as_view(), name="clock-set"),
    path("parley/v1/clock/reset", api.ClockResetView.as_view(), name="clock-reset"),
]
