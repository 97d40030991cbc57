from typing import Any

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Deliver webhooks: claim due deliveries, POST them signed, record the results."

    def handle(self, *args: Any, **options: Any) -> None:
        from parley.webhooks.worker import serve

        serve()
