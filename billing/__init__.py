"""Billing: the pure rating engine (``billing.engine``) plus the Django app around it."""
