from typing import Any

from parley.accounts.actions.demo import DEMO_PASSWORD, do_seed_demo
from parley.core.management.base import ParleyCommand


class Command(ParleyCommand):
    help = "Create the demo business, its staff accounts, number and API tokens (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        seed = do_seed_demo()
        state = "created" if seed.created else "already present"
        self.stdout.write(f"Demo business '{seed.business.name}' {state}.")
        self.stdout.write(f"  Business (WABA) id: {seed.business.pk}")
        self.stdout.write(f"  Phone number id:    {seed.number.pk} ({seed.number.e164})")
        self.stdout.write(f"  Staff logins (password: {DEMO_PASSWORD}):")
        for role, user in seed.accounts.items():
            self.stdout.write(f"    {role.label:<20} {user.email}")
        if seed.api_token:
            self.stdout.write(f"  API token: {seed.api_token}")
        if seed.developer_token:
            self.stdout.write(
                f"  Developer's API token (messages, templates, media, customers): "
                f"{seed.developer_token}"
            )
