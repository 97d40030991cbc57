"""Parley: a business messaging platform simulator (the Django project)."""

from parley.celery import app as celery_app

__all__ = ["celery_app"]
