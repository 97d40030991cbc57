"""The demo business `make run` seeds: one verified number, one account per role, two API
tokens. Running it again changes nothing.

One token is the administrator's, with every scope an administrator may give: the README's
examples read and register numbers with it. The other is the developer's, who sends messages,
manages templates and media and drives the simulated customers."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import transaction

from parley.accounts.actions.audit import do_record_audit
from parley.accounts.actions.numbers import announce_status
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
    developer_token: str = ""


def _token_file(name: str = "demo-api-token") -> Path:
    return Path(settings.VAR_DIR) / name


def _demo_token(user: StaffUser, role: Role, path: Path, name: str) -> str:
    """The demo token kept in `path`, made again when it is gone, revoked or lacks a scope
    the role may give (made before the scope existed)."""
    secret = path.read_text().strip() if path.exists() else None
    wanted = {c.value for c in token_scopes_of(role)}
    current = (
        ApiToken.objects.filter(
            business=user.business, token_hash=token_digest(secret), revoked_at=None
        ).first()
        if secret
        else None
    )
    if current is None or not wanted <= set(current.scopes):
        if current is not None:
            do_revoke_api_token(user, current.pk)
        secret = do_create_api_token(user, name=name).secret
        path.write_text(secret)
        path.chmod(0o600)
    assert secret is not None
    return secret


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
        if number_created:
            announce_status(number)  # registered: the workers give it its Signal endpoint
        secret = _demo_token(accounts[Role.ADMINISTRATOR], Role.ADMINISTRATOR, _token_file(),
                             "Demo integration")  # fmt: skip
        developer = _demo_token(accounts[Role.DEVELOPER], Role.DEVELOPER,
                                _token_file("demo-developer-token"), "Demo app")  # fmt: skip
    return DemoSeed(business, number, accounts, secret, created, developer)
