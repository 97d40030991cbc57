"""ASGI entry point: HTTP through Django (plain Cloud API sends through the send lane in front
of it, parley.api.send_lane), websockets through Channels."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "parley.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402  (needs Django set up first)
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from parley.api.send_lane import SendLane  # noqa: E402
from parley.core.heap import lifespan  # noqa: E402
from parley.ws_urls import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "lifespan": lifespan,  # the server's start tends its heap (parley.core.heap)
        "http": SendLane(django_asgi_app),
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
    }
)
