"""WSGI entry point, for serving the REST API from a WSGI server when scaled out."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "parley.settings")
application = get_wsgi_application()
