"""The permanent guard: schemathesis runs every operation of Parley's own OpenAPI schema
(`/api/schema/`) against the WSGI application in-process, authenticated, with every
schemathesis check on (no 5xx, status codes, content type, headers and body conform to the
schema, unsupported methods answer 405, auth is enforced, …) plus one of Parley's: every 4xx
body is Meta's error envelope.

Bounded for the suite (`FUZZ_EXAMPLES` per operation); a deeper run:
`PARLEY_FUZZ_EXAMPLES=1000 pytest tests/parley/api/test_fuzz.py`. Set PARLEY_FUZZ_SEED to
explore other examples than the suite's fixed ones."""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Iterator
from typing import Any, cast

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.utils.crypto import get_random_string
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from parley.accounts.actions.numbers import do_add_number
from parley.accounts.actions.tokens import do_create_api_token
from parley.relay.actions.devices import do_register_device
from tests.conftest import verified_session
from tests.parley.relay.conftest import IDENTITY

FUZZ_EXAMPLES = int(os.environ.get("PARLEY_FUZZ_EXAMPLES", "12"))
FUZZ_SEED = int(os.environ.get("PARLEY_FUZZ_SEED", "0"))

# Whether a well-formed request succeeds can depend on state or reference data no schema can
# state (a wrong verification code, an unknown country, a number not yet verified, a key that
# does not verify): these operations may answer 400 to schema-valid data, as the Graph API
# does. Every other operation must accept whatever its schema accepts.
STATE_DEPENDENT = [
    ("POST", "/{version}/{number_id}/register/"),
    ("POST", "/{version}/{number_id}/verify_code/"),
    # Templates: components are checked beyond their schema (variables, examples, limits);
    # edits, deletes and reviews depend on the template's status and existence.
    ("POST", "/{version}/{waba_id}/message_templates/"),
    ("DELETE", "/{version}/{waba_id}/message_templates/"),
    ("POST", "/{version}/{node_id}/"),
    # Media: the file's bytes decide (its type, its size, a sticker's animation).
    ("POST", "/{version}/{number_id}/media/"),
    # The profile picture's handle must name an image the business uploaded.
    ("POST", "/{version}/{number_id}/whatsapp_business_profile/"),
    ("POST", "/parley/v1/simulator/templates/{template_id}/review"),
    # Webhooks: subscribing runs the verification handshake against the app's callback (a
    # receiver no schema describes); a bulk replay's `since` must come before its `until`.
    ("POST", "/{version}/{waba_id}/subscribed_apps/"),
    ("POST", "/parley/v1/webhooks/deliveries/replay"),
    ("POST", "/parley/v1/billing/estimates"),
    ("POST", "/parley/v1/billing/agents"),
    ("PATCH", "/parley/v1/billing/agents/{agent_id}"),
    ("PUT", "/parley/v1/billing/rate-card"),
    ("POST", "/relay/v1/accounts"),
    ("PUT", "/relay/v1/keys"),
    ("PUT", "/relay/v1/messages/{number}"),
    ("GET", "/relay/v1/identity/{number}"),
    ("GET", "/relay/v1/keys/{number}/{device}"),
    ("POST", "/relay/v1/verification/session"),
    ("PUT", "/relay/v1/verification/session/{session_id}/code"),
]


# Simulated customers act through the handset fleet, which does not run here: these answer
# 503 (Meta's envelope, code 2) once the request is valid — checked in `_fuzz` — and 400 to
# state they depend on (`to` must be a number of the business).
FLEET_BOUND = [
    ("POST", "/parley/v1/simulator/customers"),
    ("PATCH", "/parley/v1/simulator/customers/{phone_number}"),
    ("POST", "/parley/v1/simulator/customers/{phone_number}/messages"),
    ("POST", "/parley/v1/simulator/customers/{phone_number}/read"),
    ("GET", "/parley/v1/simulator/customers/{phone_number}/inbox"),
]


def _config() -> schemathesis.Config:
    return schemathesis.Config.from_dict(
        {
            # NUL is refused in every string (PostgreSQL text cannot hold it): its own tests
            # (test_hostile_input.py) cover it, so schema-valid examples leave it out.
            # Credentials are the test's own (a token, a device, a staff session), never
            # generated parameters.
            "generation": {"allow-x00": False, "with-security-parameters": False},
            "operations": [
                {
                    # Only media ids (17 digits) take a DELETE; the business's and its
                    # numbers' ids (the known ones) answer 405, as documented. First: the
                    # first entry that applies to an operation decides.
                    "include-method": "DELETE",
                    "include-path": "/{version}/{node_id}/",
                    "checks": {
                        "positive_data_acceptance": {
                            "expected-statuses": [
                                "2xx",
                                "400",
                                "401",
                                "403",
                                "404",
                                "405",
                                "409",
                                "429",
                            ]
                        }
                    },
                }
            ]
            + [
                {
                    "include-method": method,
                    "include-path": path,
                    "checks": {
                        "positive_data_acceptance": {
                            "expected-statuses": ["2xx", "400", "401", "403", "404", "409", "429"]
                        }
                    },
                }
                for method, path in STATE_DEPENDENT + FLEET_BOUND
            ],
        }
    )


# Endpoints only a verified staff session may call (API tokens are refused there by design).
STAFF_ONLY = {("PUT", "/parley/v1/billing/rate-card"), ("GET", "/parley/v1/security/e2ee-health")}
ENVELOPE_KEYS = {"message", "type", "code", "fbtrace_id"}


def meta_error_envelope(ctx: Any, response: Any, case: Any) -> None:
    """Every client error answers `{"error": {"message", "type", "code", …, "fbtrace_id"}}`."""
    if not 400 <= response.status_code < 500:
        return
    body = response.json()
    assert isinstance(body, dict) and set(body) == {"error"}, f"not Meta's envelope: {body!r}"
    error = body["error"]
    assert set(error) >= ENVELOPE_KEYS, f"envelope lacks {ENVELOPE_KEYS - set(error)}: {body!r}"
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["code"], int)


@pytest.fixture
def in_process_app() -> Iterator[Any]:
    """Django's WSGI handler, called in this thread inside the test's transaction: the
    per-request connection recycling is off, as Django's own test client does."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield get_wsgi_application()
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


@pytest.fixture
def tenant(factory: Any) -> dict[str, Any]:
    """A business with a number, a Business API token, a verified administrator session and a
    registered relay device of the business number."""
    business = factory.business()
    admin = factory.staff(business, "administrator")
    token = do_create_api_token(admin, name="fuzz").secret
    number = do_add_number(admin, phone_number="+14155550142", display_name="Acme Fuzz")
    registration = do_register_device(
        e164=number.e164,
        kind="business",
        device_id=1,
        registration_id=1234,
        identity_key=IDENTITY.public_key.serialize(),
        business=business,
    )
    csrf = get_random_string(32)
    return {
        "token": {"Authorization": f"Bearer {token}"},
        "device": {
            "Authorization": "Basic "
            + base64.b64encode(str(registration.credential).encode()).decode()
        },
        "staff": {
            "Cookie": f"sessionid={verified_session(admin)}; csrftoken={csrf}",
            "X-CSRFToken": csrf,
        },
        # Real ids, so operations reach past "not found" as well as being fuzzed.
        "known": {
            "version": "v23.0",
            "waba_id": str(business.pk),
            "node_id": str(number.pk),
            "number_id": str(number.pk),
            "number": number.e164,
            "device": "1",
            "period": "2026-03",
        },
    }


def _headers(tenant: dict[str, Any], method: str, path: str) -> dict[str, str]:
    if (method, path) in STAFF_ONLY:
        return dict(tenant["staff"])
    if path.startswith("/relay/"):
        return dict(tenant["device"])
    return dict(tenant["token"])


def _strategy(operation: Any, known: dict[str, str]) -> Any:
    names = {p.name for p in operation.path_parameters}
    fixed = {k: v for k, v in known.items() if k in names}
    strategies = [
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    ]
    if fixed:
        strategies.append(operation.as_strategy(GenerationMode.POSITIVE, path_parameters=fixed))
        strategies.append(operation.as_strategy(GenerationMode.NEGATIVE, path_parameters=fixed))
    return st.one_of(*strategies)


def _fuzz(operation: Any, headers: dict[str, str], known: dict[str, str], counter: list[int]):
    method = operation.method.upper()

    @seed(FUZZ_SEED)
    @settings(
        max_examples=FUZZ_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=FUZZ_SEED == 0,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate],
    )
    @given(case=_strategy(operation, known))
    def run(case: Any) -> None:
        counter[0] += 1
        response = case.call(headers=headers)
        if response.status_code == 503 and (method, operation.path) in FLEET_BOUND:
            assert response.json()["error"]["code"] == 2, response.text  # no fleet: expected
            return
        case.validate_response(response, headers=headers, additional_checks=[meta_error_envelope])

    run()


@pytest.mark.django_db
@pytest.mark.timeout(240)
def test_every_operation_of_the_schema(in_process_app, tenant, capsys) -> None:
    started = time.monotonic()
    schema = schemathesis.openapi.from_wsgi("/api/schema/", in_process_app, config=_config())
    operations = [cast(Any, result).ok() for result in schema.get_all_operations()]
    failures: list[str] = []
    examples = 0

    for operation in operations:
        method, path = operation.method.upper(), operation.path
        counter = [0]
        try:
            _fuzz(operation, _headers(tenant, method, path), tenant["known"], counter)
        except (Exception, BaseExceptionGroup) as exc:
            failures.append(f"{method} {path}:\n{exc}")
        examples += counter[0]

    elapsed = time.monotonic() - started
    with capsys.disabled():
        print(
            f"\nschemathesis {schemathesis.__version__}: {len(operations)} operations, "
            f"{examples} examples, {len(failures)} failing operations, {elapsed:.1f} s"
        )
    assert len(operations) >= 30, [f"{o.method.upper()} {o.path}" for o in operations]
    assert not failures, "\n\n".join(failures)
