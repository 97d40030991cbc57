"""Tenants (businesses), staff users, roles, two-factor login, API tokens, business numbers
and the tamper-evident audit log."""
