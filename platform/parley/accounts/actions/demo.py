"""The demo business `make run` seeds: one verified number, one account per role, one API
token. Running it again changes nothing.

The token is the administrator's, with every scope an administrator may give: the README's
examples read and register numbers with it."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import transaction

from parley.accounts.actions.audit import do_record_audit
from parley.accounts.actions.tokens import do_create_api_token, do_revoke_api_token
from parley.accounts.models import ApiToken, Business, PhoneNumber, StaffUser
from parley.accounts.roles import Role, token_scopes_of
from parley.core import clock
from parley.core.crypto import token_digest

DEMO_SLUG = "demo"
DEMO_PASSWORD = "parley-demo-pass"
DEMO_NUMBER = "+14155552671"
DEMO_PIN = "246810"
DEMO_ACCOUNTS: dict[Role, tuple[str, str]] = {
    Role.ADMINISTRATOR: ("admin@demo.parley.test", "Ada Admin"),
    Role.SUPERVISOR: ("supervisor@demo.parley.test", "Sam Supervisor"),
    Role.AGENT: ("agent@demo.parley.test", "Asha Agent"),
    Role.COMPLIANCE_OFFICER: ("compliance@demo.parley.test", "Cora Compliance"),
    Role.DEVELOPER: ("developer@demo.parley.test", "Dev Developer"),
}


@dataclasses.dataclass(frozen=True)
class DemoSeed:
    business: Business
    number: PhoneNumber
    accounts: dict[Role, StaffUser]
    api_token: str  # kept in var/ so every `make run` can print it
    created: bool


def _token_file() -> Path:
    return Path(settings.VAR_DIR) / "demo-api-token"


def do_seed_demo() -> DemoSeed:
    now = clock.now()
    with transaction.atomic():
        business, created = Business.objects.get_or_create(
            slug=DEMO_SLUG,
            defaults={"name": "Demo Retail", "country": "US", "created_at": now},
        )
        accounts: dict[Role, StaffUser] = {}
        for role, (email, name) in DEMO_ACCOUNTS.items():
            user = StaffUser.objects.filter(email=email).first()
            if user is None:
                user = StaffUser.objects.create_user(
                    email,
                    DEMO_PASSWORD,
                    business=business,
                    full_name=name,
                    role=role.value,
                    created_at=now,
                )
            accounts[role] = user
        number, number_created = PhoneNumber.objects.get_or_create(
            e164=DEMO_NUMBER,
            defaults={
                "business": business,
                "country": "US",
                "display_name": "Demo Retail",
                "code_verification_status": PhoneNumber.CodeStatus.VERIFIED,
                "status": PhoneNumber.Status.CONNECTED,
                "official_verification": PhoneNumber.Official.VERIFIED,
                "pin_hash": make_password(DEMO_PIN),
                "created_at": now,
                "registered_at": now,
            },
        )
        if created or number_created:
            do_record_audit("demo.seeded", business_id=business.pk, target=business.name)
        path = _token_file()
        secret = path.read_text().strip() if path.exists() else None
        admin = accounts[Role.ADMINISTRATOR]
        wanted = {c.value for c in token_scopes_of(Role.ADMINISTRATOR)}
        current = (
            ApiToken.objects.filter(
                business=business, token_hash=token_digest(secret), revoked_at=None
            ).first()
            if secret
            else None
        )
        if current is None or not wanted <= set(current.scopes):
            if current is not None:  # made before tokens had scopes: replace it
                do_revoke_api_token(admin, current.pk)
            issued = do_create_api_token(admin, name="Demo integration")
            secret = issued.secret
            path.write_text(secret)
            path.chmod(0o600)
    assert secret is not None
    return DemoSeed(business, number, accounts, secret, created)
