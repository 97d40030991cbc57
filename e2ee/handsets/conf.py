"""Where the fleet's control channel listens and how callers prove they belong to this
installation (a key derived from SECRET_KEY, which every Parley process shares)."""

from __future__ import annotations

import hashlib
import hmac
import os

from django.conf import settings

DEFAULT_CONTROL_URL = "http://127.0.0.1:8470"


def control_url() -> str:
    return os.environ.get("PARLEY_FLEET_URL", DEFAULT_CONTROL_URL).rstrip("/")


def control_token() -> str:
    """Bound to this installation's secret, namespace and database: a fleet of another
    installation on the same port (a test run beside `make run`) refuses it."""
    db = settings.DATABASES["default"]
    scope = f"parley handset fleet control|{settings.NAMESPACE}|{db.get('NAME')}|{db.get('HOST')}"
    return hmac.new(settings.SECRET_KEY.encode(), scope.encode(), hashlib.sha256).hexdigest()
