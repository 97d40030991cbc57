"""Writers: apps and subscriptions (apps), deliveries and replays (deliveries)."""
