from typing import Any

from parley.core.management.base import ParleyCommand
from routing.actions.demo import do_seed_routing_demo


class Command(ParleyCommand):
    help = "Set up the demo business's contact centre: queues, SLA, agents (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        made = do_seed_routing_demo()
        if made:
            self.stdout.write("Contact centre: " + "; ".join(made) + ".")
