"""Websocket routes (named ws_urls so it never collides with the top-level `routing` app)."""

from django.urls import path

from frontend.consumers import StaffEventsConsumer
from parley.relay.consumers import RelayDeviceConsumer

websocket_urlpatterns = [
    path("ws/events/", StaffEventsConsumer.as_asgi()),
    path("ws/relay/", RelayDeviceConsumer.as_asgi()),
]
