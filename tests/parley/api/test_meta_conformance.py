"""Conformance to Meta's own description of the Cloud API: schemathesis generates requests
from Meta's OpenAPI file (`business-messaging-api_v23.0.yaml`, MIT, from
github.com/facebook/openapi), restricted to the operations Parley implements, and sends them
to a running Parley (uvicorn). No answer may be a 5xx, and every answer Meta's file describes
must validate against Meta's response schema.

Meta's file is not part of this repository: point PARLEY_META_OPENAPI at a copy (the test is
skipped without one). Examples per operation: PARLEY_CONFORMANCE_EXAMPLES (default 25)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, cast

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from parley.accounts.actions.tokens import do_create_api_token
from parley.accounts.models import PhoneNumber

SPEC = os.environ.get("PARLEY_META_OPENAPI", "")
EXAMPLES = int(os.environ.get("PARLEY_CONFORMANCE_EXAMPLES", "25"))

# Meta's operations that Parley serves (method, Meta's path).
IMPLEMENTED = [
    ("POST", "/{Version}/{Phone-Number-ID}/messages"),
    ("GET", "/{Version}/{Phone-Number-ID}"),
    ("POST", "/{Version}/{Phone-Number-ID}/request_code"),
    ("POST", "/{Version}/{Phone-Number-ID}/verify_code"),
    ("POST", "/{Version}/{Phone-Number-ID}/register"),
    ("POST", "/{Version}/{Phone-Number-ID}/deregister"),
    ("GET", "/{Version}/{WABA-ID}/phone_numbers"),
    ("GET", "/{Version}/{WABA-ID}/message_templates"),
    ("POST", "/{Version}/{WABA-ID}/message_templates"),
    ("DELETE", "/{Version}/{WABA-ID}/message_templates"),
    ("POST", "/{Version}/{Phone-Number-ID}/media"),
    ("GET", "/{Version}/{Media-ID}"),
    ("DELETE", "/{Version}/{Media-ID}"),
    ("GET", "/{Version}/{Phone-Number-ID}/whatsapp_business_profile"),
    ("POST", "/{Version}/{Phone-Number-ID}/whatsapp_business_profile"),
]

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not SPEC or not Path(SPEC).is_file(),
        reason="PARLEY_META_OPENAPI does not name Meta's business-messaging-api_v23.0.yaml",
    ),
]


def _fuzz(operation: Any, base_url: str, headers: dict[str, str], known: dict[str, str],
          counter: list[int]) -> None:  # fmt: skip
    names = {p.name for p in operation.path_parameters}
    fixed = {k: v for k, v in known.items() if k in names}

    @seed(0)
    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck),
              phases=[Phase.explicit, Phase.generate])  # fmt: skip
    @given(case=operation.as_strategy(GenerationMode.POSITIVE, path_parameters=fixed))
    def run(case: Any) -> None:
        counter[0] += 1
        response = case.call(base_url=base_url, headers=headers, timeout=30)
        case.validate_response(
            response, checks=[not_a_server_error, response_schema_conformance], headers=headers
        )

    run()


def test_parley_answers_as_metas_description_says(
    asgi_server: str, celery_worker: None, number: PhoneNumber, factory: Any, capsys: Any
) -> None:
    from parley.media.actions import do_upload_media

    business = number.business
    admin = factory.staff(business, "administrator")
    developer = factory.staff(business, "developer")
    scopes = {"administrator": do_create_api_token(admin, name="meta").secret,
              "developer": do_create_api_token(developer, name="meta").secret}  # fmt: skip
    media = do_upload_media(number, b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, mime_type="image/png",
                            file_name="pixel.png")  # fmt: skip
    known = {
        "Version": "v23.0",
        "Phone-Number-ID": str(number.pk),
        "WABA-ID": str(business.pk),
        "Media-ID": str(media.graph_id),
    }
    schema = schemathesis.openapi.from_path(SPEC)
    wanted = set(IMPLEMENTED)
    operations = [
        op
        for op in (cast(Any, r).ok() for r in schema.get_all_operations())
        if (op.method.upper(), op.path) in wanted
    ]
    assert {(op.method.upper(), op.path) for op in operations} == wanted
    started = time.monotonic()
    failures: list[str] = []
    examples = 0
    for operation in operations:
        # Numbers, registration and profile changes need an administrator's scopes; the rest
        # a developer's (who may read the business profile).
        role = "administrator" if "/register" in operation.path or "code" in operation.path \
            or operation.path.endswith("phone_numbers") or (operation.method.upper() == "GET" \
            and operation.path == "/{Version}/{Phone-Number-ID}") or (operation.method.upper() \
            == "POST" and operation.path.endswith("whatsapp_business_profile")) \
            else "developer"  # fmt: skip
        headers = {"Authorization": f"Bearer {scopes[role]}"}
        counter = [0]
        try:
            _fuzz(operation, asgi_server, headers, known, counter)
        except (Exception, BaseExceptionGroup) as exc:
            failures.append(f"{operation.method.upper()} {operation.path}:\n{exc}")
        examples += counter[0]
    with capsys.disabled():
        print(
            f"\nMeta's spec (schemathesis {schemathesis.__version__}): {len(operations)} "
            f"operations, {examples} examples, {len(failures)} failing operations, "
            f"{time.monotonic() - started:.1f} s"
        )
    assert not failures, "\n\n".join(failures)
