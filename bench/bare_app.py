"""The ceiling bench/api.py compares with: a bare Django + DRF endpoint that parses a JSON
POST, inserts one row and answers its id, served by the same uvicorn on the same database.
No authentication, no validation beyond JSON, no lifecycle, no events.

    DATABASE_URL=... python -m uvicorn bare_app:application --app-dir bench
"""

from __future__ import annotations

import os

import dj_database_url
from django.conf import settings

settings.configure(
    DEBUG=os.environ.get("BENCH_DEBUG") == "1",
    SECRET_KEY="bench-only",
    ALLOWED_HOSTS=["*"],
    ROOT_URLCONF=__name__,
    INSTALLED_APPS=["django.contrib.contenttypes", "rest_framework"],
    MIDDLEWARE=[],
    DATABASES={"default": dj_database_url.parse(os.environ["DATABASE_URL"])},
    REST_FRAMEWORK={"UNAUTHENTICATED_USER": None, "DEFAULT_AUTHENTICATION_CLASSES": []},
)

import django  # noqa: E402

django.setup()

from django.core.asgi import get_asgi_application  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.urls import path  # noqa: E402
from rest_framework.request import Request  # noqa: E402
from rest_framework.response import Response  # noqa: E402
from rest_framework.views import APIView  # noqa: E402

with connection.cursor() as cursor:
    serial = "SERIAL" if connection.vendor == "postgresql" else "INTEGER PRIMARY KEY"
    cursor.execute(f"CREATE TABLE IF NOT EXISTS bench_bare (id {serial}, body TEXT)")


class Insert(APIView):
    def post(self, request: Request) -> Response:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO bench_bare (body) VALUES (%s) RETURNING id", [str(request.data)]
            )
            (row_id,) = cursor.fetchone()
        return Response({"id": row_id})


urlpatterns = [path("insert", Insert.as_view())]
application = get_asgi_application()
