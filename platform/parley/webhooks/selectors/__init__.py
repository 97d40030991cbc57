"""Readers: apps and secrets (apps), the delivery log (deliveries)."""
