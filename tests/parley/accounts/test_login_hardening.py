"""Login pages that tell nothing and never break: the same answer for real and unknown
accounts, one enrolment seed per login attempt, hostile input as form errors."""

from __future__ import annotations

import html as htmllib
import io
import re
from typing import Any, ClassVar

import pyotp
import pytest
from django.conf import settings
from django.contrib.auth.hashers import MD5PasswordHasher
from django.core.management import call_command
from django.test import Client

from parley.accounts.models import AuditEntry, LoginFailures, StaffUser
from parley.core.crypto import decrypt_text
from tests.conftest import PASSWORD, totp_now

pytestmark = pytest.mark.django_db


class CountingHasher(MD5PasswordHasher):
    """The test suite's MD5 hasher, counting every hash it computes."""

    calls: ClassVar[list[str]] = []

    def encode(self, password: str, salt: str) -> str:
        CountingHasher.calls.append("encode")
        return super().encode(password, salt)


def _errors(response: Any) -> str:
    """The text of the page's error blocks (form and field errors)."""
    page = response.content.decode()
    blocks = re.findall(r'<div class="errors"[^>]*>(.*?)</div>', page, re.S)
    blocks += re.findall(r'<ul class="errorlist[^"]*"[^>]*>(.*?)</ul>', page, re.S)
    text = " ".join(re.sub(r"<[^>]+>", " ", b) for b in blocks)
    return " ".join(htmllib.unescape(text).split())


def _raw_post(web: Client, path: str, body: bytes) -> Any:
    """A form POST with a body the test client would not encode (invalid UTF-8)."""
    return web.post(path, body, content_type="application/x-www-form-urlencoded")


def _secret(response: Any) -> str:
    match = re.search(r'data-testid="totp-secret">([A-Z2-7]+)<', response.content.decode())
    assert match is not None, response.content.decode()[:2000]
    return match.group(1)


class TestNoEnumeration:
    def test_known_and_unknown_addresses_answer_alike_before_and_after_the_lockout(
        self, factory, frozen_clock
    ) -> None:
        user = factory.staff(factory.business(), "administrator")
        known, unknown = Client(), Client()
        answers: list[tuple[int, str, int, str]] = []
        for _ in range(settings.PARLEY["LOGIN_MAX_FAILURES"] + 2):
            a = known.post("/login/", {"email": user.email, "password": "wrong-password"})
            b = unknown.post("/login/", {"email": "nobody@example.com", "password": "wrong"})
            answers.append((a.status_code, _errors(a), b.status_code, _errors(b)))
        for known_status, known_text, unknown_status, unknown_text in answers:
            assert known_status == unknown_status
            assert known_text == unknown_text and known_text
        # The lockout happened, for both.
        assert answers[0][0] == 200 and "incorrect" in answers[0][1]
        assert answers[-1][0] == 423 and "Too many failed attempts" in answers[-1][1]
        # Even the right password waits out the lockout; then it works.
        assert known.post("/login/", {"email": user.email, "password": PASSWORD}).status_code == 423
        frozen_clock.advance(seconds=settings.PARLEY["LOGIN_LOCKOUT_SECONDS"] + 1)
        assert known.post("/login/", {"email": user.email, "password": PASSWORD}).status_code == 302

    def test_the_address_is_counted_however_it_is_written(self, factory) -> None:
        user = factory.staff(factory.business(), "agent")
        web = Client()
        for i in range(settings.PARLEY["LOGIN_MAX_FAILURES"]):
            email = user.email.upper() if i % 2 else f"  {user.email}"
            web.post("/login/", {"email": email, "password": "wrong-password"})
        assert web.post("/login/", {"email": user.email, "password": PASSWORD}).status_code == 423
        # Counters never hold the address itself.
        assert user.email not in repr(list(LoginFailures.objects.values()))

    def test_the_hasher_runs_for_unknown_accounts_as_for_real_ones(
        self, factory, settings: Any
    ) -> None:
        user = factory.staff(factory.business(), "agent")
        settings.PASSWORD_HASHERS = [f"{__name__}.CountingHasher"]
        web = Client()
        CountingHasher.calls.clear()
        web.post("/login/", {"email": user.email, "password": "wrong-password"})
        known = len(CountingHasher.calls)
        CountingHasher.calls.clear()
        web.post("/login/", {"email": "nobody@example.com", "password": "wrong-password"})
        unknown = len(CountingHasher.calls)
        assert known >= 1
        assert unknown == known

    def test_failures_of_unknown_addresses_are_audited_without_a_business(self) -> None:
        Client().post("/login/", {"email": "Nobody@Example.com", "password": "x"})
        entry = AuditEntry.objects.get(action="login.failed")
        assert entry.business_ref is None
        assert entry.actor_label == "nobody@example.com"


class TestEnrolmentSeeds:
    def test_two_sessions_see_different_seeds_and_only_the_confirmed_one_works(
        self, factory, frozen_clock
    ) -> None:
        user = factory.staff(factory.business(), "agent", enrolled=False)
        first, second = Client(), Client()
        for web in (first, second):
            response = web.post("/login/", {"email": user.email, "password": PASSWORD})
            assert response["Location"].startswith("/login/enrol/")
        seed_1, seed_2 = _secret(first.get("/login/enrol/")), _secret(second.get("/login/enrol/"))
        assert seed_1 != seed_2
        # Reloading the page keeps the session's seed (the user may have scanned it).
        assert _secret(first.get("/login/enrol/")) == seed_1

        ok = first.post("/login/enrol/", {"code": pyotp.TOTP(seed_1).at(frozen_clock.now())})
        assert ok.status_code == 302 and ok["Location"] == "/"
        user.refresh_from_db()
        assert decrypt_text(user.totp_secret_encrypted) == seed_1

        # The other session's seed no longer opens anything.
        frozen_clock.advance(seconds=30)
        stale = pyotp.TOTP(seed_2).at(frozen_clock.now())
        assert second.post("/login/enrol/", {"code": stale})["Location"].startswith(
            "/login/verify/"
        )
        refused = second.post("/login/verify/", {"code": stale})
        assert refused.status_code == 200
        assert "That code is not valid" in _errors(refused)
        assert second.get("/").status_code == 302
        # The confirmed seed does.
        assert second.post("/login/verify/", {"code": totp_now(user)}).status_code == 302

    def test_a_new_login_attempt_gets_a_new_seed(self, factory) -> None:
        user = factory.staff(factory.business(), "agent", enrolled=False)
        web = Client()
        web.post("/login/", {"email": user.email, "password": PASSWORD})
        seed_1 = _secret(web.get("/login/enrol/"))
        web.post("/login/", {"email": user.email, "password": PASSWORD})
        assert _secret(web.get("/login/enrol/")) != seed_1

    def test_the_enrolment_page_is_never_cached(self, factory) -> None:
        user = factory.staff(factory.business(), "agent", enrolled=False)
        web = Client()
        web.post("/login/", {"email": user.email, "password": PASSWORD})
        for response in (web.get("/login/enrol/"), web.post("/login/enrol/", {"code": "1"})):
            assert "no-store" in response["Cache-Control"]
            assert 'data-testid="totp-secret"' in response.content.decode()
        assert "no-store" in Client().get("/login/")["Cache-Control"]

    def test_the_command_prints_the_code_of_the_open_setup_page(
        self, factory, frozen_clock
    ) -> None:
        user = factory.staff(factory.business(), "agent", enrolled=False)
        web = Client()
        web.post("/login/", {"email": user.email, "password": PASSWORD})
        seed = _secret(web.get("/login/enrol/"))
        out = io.StringIO()
        call_command("twofactor_code", user.email, stdout=out)
        assert out.getvalue().strip() == pyotp.TOTP(seed).at(frozen_clock.now())


OTHER_DIGITS = [
    "\u00b9\u00b2\u00b3\u2074\u2075\u2076",  # superscripts: isdigit(), not \d
    "\uff11\uff12\uff13\uff14\uff15\uff16",  # full-width
    "\u0661\u0662\u0663\u0664\u0665\u0666",  # Arabic-Indic
    "\u0967\u0968\u0969 \u096a\u096b\u096c",  # Devanagari, with the space people type
]


class TestHostileInput:
    @pytest.mark.parametrize("code", OTHER_DIGITS)
    def test_other_scripts_digits_are_a_form_error_on_both_code_pages(
        self, factory, code: str
    ) -> None:
        enrolled = factory.staff(factory.business(), "agent")
        pending = factory.staff(factory.business(), "agent", enrolled=False)
        for user, step in ((enrolled, "verify"), (pending, "enrol")):
            web = Client()
            web.post("/login/", {"email": user.email, "password": PASSWORD})
            response = web.post(f"/login/{step}/", {"code": code})
            assert response.status_code == 200
            assert "6-digit code" in _errors(response)
            assert not StaffUser.objects.get(pk=user.pk).last_login

    @pytest.mark.parametrize(
        "data",
        [
            {"email": "a\x00b@example.com", "password": "x"},
            {"email": "admin@example.com", "password": "pass\x00word"},
            b"email=%ED%A0%80@example.com&password=x",
            b"email=%FF%FE&password=%C0%AF",
            {"email": "x" * 5000 + "@example.com", "password": "y" * 5000},
            {"email": ["a@example.com", "b@example.com"], "password": ["x", "y"]},
            {"email": "\uff41@example.com", "password": "\u0661"},
            {"email": "admin@example.com", "password": "x", "next": "\r\nLocation: http://e/"},
            {"email": "admin@example.com", "password": "x", "next": "//evil.example/\x00"},
        ],
    )
    def test_login_form_input_never_breaks_the_page(self, data: dict[str, Any] | bytes) -> None:
        web = Client()
        response = (
            _raw_post(web, "/login/", data)
            if isinstance(data, bytes)
            else web.post("/login/", data)
        )
        assert response.status_code == 200
        assert _errors(response)

    @pytest.mark.parametrize(
        "query", ["next=%0d%0aSet-Cookie:x=1", "next=" + "a" * 5000, "next=%ud800", "next=%00"]
    )
    def test_hostile_next_after_login_goes_home(self, factory, query: str) -> None:
        user = factory.staff(factory.business(), "agent")
        web = Client()
        web.post(f"/login/?{query}", {"email": user.email, "password": PASSWORD})
        response = web.post(f"/login/verify/?{query}", {"code": totp_now(user)})
        assert response.status_code == 302
        assert response["Location"] == "/"

    @pytest.mark.parametrize(
        "body", [b"code=", b"code=111111111", b"code=12345%00", b"code=%ED%A0%80" * 6, b"x=1"]
    )
    def test_hostile_codes_are_form_errors(self, factory, body: bytes) -> None:
        user = factory.staff(factory.business(), "agent")
        web = Client()
        for step in ("enrol", "verify"):
            # Without a pending login, back to the password step.
            response = _raw_post(web, f"/login/{step}/", body)
            assert response.status_code == 302 and response["Location"] == "/login/"
        web.post("/login/", {"email": user.email, "password": PASSWORD})
        response = _raw_post(web, "/login/verify/", body)
        assert response.status_code == 200
        assert _errors(response)
