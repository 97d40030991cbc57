"""Two factors (password + TOTP), device binding, throttling and lockout."""

import datetime as dt

import pyotp
import pytest
from django.conf import settings

from parley.accounts.actions.login import (
    BAD_CODE,
    ENROLMENT_SECONDS,
    do_begin_enrolment,
    do_check_password,
    do_revoke_device,
    do_verify_second_factor,
    get_enrolment_secret,
)
from parley.accounts.models import AuditEntry, StaffUser, TrustedDevice, TwoFactorEnrolment
from parley.core.crypto import decrypt_text, token_digest
from parley.core.errors import AccountLocked, AuthenticationFailed, InvalidParameter, RateLimited
from tests.conftest import PASSWORD, totp_now

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(factory, frozen_clock):
    return factory.staff(factory.business(), "administrator")


def test_password_alone_never_completes_a_login_on_a_new_device(admin) -> None:
    result = do_check_password(admin.email, PASSWORD, ip_address="10.0.0.1", device_token=None)
    assert result.user == admin
    assert result.device_trusted is False


def test_code_trusts_the_device_and_the_device_skips_the_code_next_time(admin) -> None:
    token = do_verify_second_factor(admin, totp_now(admin), ip_address="10.0.0.1")
    device = TrustedDevice.objects.get(user=admin)
    assert device.token_hash == token_digest(token)
    assert token not in device.token_hash  # only the digest is stored
    again = do_check_password(admin.email, PASSWORD, ip_address="10.0.0.1", device_token=token)
    assert again.device_trusted is True
    # Another browser (no cookie, or someone else's) must still give a code.
    other = do_check_password(admin.email, PASSWORD, ip_address="10.0.0.2", device_token="x" * 40)
    assert other.device_trusted is False


def test_revoked_or_expired_devices_ask_for_the_code_again(admin, frozen_clock) -> None:
    token = do_verify_second_factor(admin, totp_now(admin), ip_address=None)
    device = TrustedDevice.objects.get(user=admin)
    do_revoke_device(admin, device.pk, ip_address=None)
    assert not do_check_password(
        admin.email, PASSWORD, ip_address=None, device_token=token
    ).device_trusted
    frozen_clock.advance(seconds=30)
    token2 = do_verify_second_factor(admin, totp_now(admin), ip_address=None)
    frozen_clock.advance(days=settings.PARLEY["TRUSTED_DEVICE_DAYS"] + 1)
    assert not do_check_password(
        admin.email, PASSWORD, ip_address=None, device_token=token2
    ).device_trusted


def test_a_code_cannot_be_replayed(admin) -> None:
    code = totp_now(admin)
    do_verify_second_factor(admin, code, ip_address=None)
    with pytest.raises(AuthenticationFailed):
        do_verify_second_factor(admin, code, ip_address=None)


def test_codes_one_step_off_are_accepted_but_not_two(admin, frozen_clock) -> None:
    secret = decrypt_text(admin.totp_secret_encrypted)
    totp = pyotp.TOTP(secret)
    with pytest.raises(AuthenticationFailed):
        do_verify_second_factor(
            admin, totp.at(frozen_clock.now() + dt.timedelta(seconds=90)), ip_address=None
        )
    do_verify_second_factor(
        admin, totp.at(frozen_clock.now() + dt.timedelta(seconds=30)), ip_address=None
    )


def test_enrolment_is_confirmed_by_the_first_good_code(factory, frozen_clock) -> None:
    user = factory.staff(factory.business(), "agent", enrolled=False)
    begun = do_begin_enrolment(user)
    row = TwoFactorEnrolment.objects.get(user=user)
    assert begun.secret not in row.secret_encrypted  # encrypted at rest
    assert row.attempt_hash == token_digest(begun.attempt)  # the session holds the id
    assert get_enrolment_secret(user, begun.attempt) == begun.secret
    user.refresh_from_db()
    assert user.totp_secret_encrypted == ""  # nothing is the account's until confirmed
    do_verify_second_factor(
        user,
        pyotp.TOTP(begun.secret).at(frozen_clock.now()),
        ip_address=None,
        enrolment_attempt=begun.attempt,
    )
    user.refresh_from_db()
    assert user.two_factor_enrolled
    assert decrypt_text(user.totp_secret_encrypted) == begun.secret
    assert not TwoFactorEnrolment.objects.filter(user=user).exists()
    assert AuditEntry.objects.filter(action="two_factor.enrolled", target=user.email).exists()


def test_each_enrolment_attempt_has_its_own_seed_and_only_the_confirmed_one_lasts(
    factory, frozen_clock
) -> None:
    user = factory.staff(factory.business(), "agent", enrolled=False)
    first, second = do_begin_enrolment(user), do_begin_enrolment(user)
    assert first.secret != second.secret
    # A code of one attempt's seed does not confirm another attempt.
    with pytest.raises(AuthenticationFailed):
        do_verify_second_factor(
            user,
            pyotp.TOTP(first.secret).at(frozen_clock.now()),
            ip_address=None,
            enrolment_attempt=second.attempt,
        )
    frozen_clock.advance(seconds=30)
    do_verify_second_factor(
        user,
        pyotp.TOTP(second.secret).at(frozen_clock.now()),
        ip_address=None,
        enrolment_attempt=second.attempt,
    )
    # Once enrolled, the seed another session saw is worth nothing, with or without its id.
    frozen_clock.advance(seconds=30)
    stale = pyotp.TOTP(first.secret).at(frozen_clock.now())
    for attempt in (first.attempt, None):
        with pytest.raises(AuthenticationFailed):
            do_verify_second_factor(user, stale, ip_address=None, enrolment_attempt=attempt)
    assert get_enrolment_secret(user, first.attempt) is None
    with pytest.raises(InvalidParameter):
        do_begin_enrolment(user)


def test_an_enrolment_attempt_expires(factory, frozen_clock) -> None:
    user = factory.staff(factory.business(), "agent", enrolled=False)
    begun = do_begin_enrolment(user)
    frozen_clock.advance(seconds=ENROLMENT_SECONDS + 1)
    assert get_enrolment_secret(user, begun.attempt) is None
    with pytest.raises(AuthenticationFailed):
        do_verify_second_factor(
            user,
            pyotp.TOTP(begun.secret).at(frozen_clock.now()),
            ip_address=None,
            enrolment_attempt=begun.attempt,
        )
    assert not StaffUser.objects.get(pk=user.pk).two_factor_enrolled


@pytest.mark.parametrize(
    "code",
    ["\u00b9\u00b2\u00b3\u2074\u2075\u2076", "\uff11\uff12\uff13\uff14\uff15\uff16",
     "\u0661\u0662\u0663\u0664\u0665\u0666", "\u0967\u0968\u0969\u096a\u096b\u096c"],
)  # fmt: skip
def test_digits_of_other_scripts_are_a_wrong_code_not_a_crash(admin, code) -> None:
    assert code.isdigit()
    with pytest.raises(AuthenticationFailed) as excinfo:
        do_verify_second_factor(admin, code, ip_address=None)
    assert excinfo.value.message == BAD_CODE


def test_repeated_failures_lock_the_account_and_are_audited(admin, frozen_clock) -> None:
    limit = settings.PARLEY["LOGIN_MAX_FAILURES"]
    for _ in range(limit):
        with pytest.raises(AuthenticationFailed):
            do_check_password(admin.email, "wrong", ip_address="10.9.9.9", device_token=None)
    # Now even the right password is refused until the lockout ends.
    with pytest.raises(AccountLocked):
        do_check_password(admin.email, PASSWORD, ip_address="10.9.9.9", device_token=None)
    assert AuditEntry.objects.filter(action="login.failed", target=admin.email).count() == limit
    lock = AuditEntry.objects.get(action="login.locked_out", target=admin.email)
    assert lock.ip_address == "10.9.9.9"
    frozen_clock.advance(seconds=settings.PARLEY["LOGIN_LOCKOUT_SECONDS"] + 1)
    assert (
        do_check_password(admin.email, PASSWORD, ip_address=None, device_token=None).user == admin
    )


def test_wrong_codes_count_towards_the_lockout(admin) -> None:
    for _ in range(settings.PARLEY["LOGIN_MAX_FAILURES"]):
        with pytest.raises(AuthenticationFailed):
            do_verify_second_factor(admin, "000000", ip_address=None)
    with pytest.raises(AccountLocked):
        do_verify_second_factor(admin, totp_now(admin), ip_address=None)


def test_failures_outside_the_window_do_not_add_up(admin, frozen_clock) -> None:
    for _ in range(settings.PARLEY["LOGIN_MAX_FAILURES"] - 1):
        with pytest.raises(AuthenticationFailed):
            do_check_password(admin.email, "wrong", ip_address=None, device_token=None)
    frozen_clock.advance(seconds=settings.PARLEY["LOGIN_FAILURE_WINDOW_SECONDS"] + 1)
    with pytest.raises(AuthenticationFailed):
        do_check_password(admin.email, "wrong", ip_address=None, device_token=None)
    assert (
        do_check_password(admin.email, PASSWORD, ip_address=None, device_token=None).user == admin
    )


def test_unknown_and_inactive_accounts_fail_like_a_wrong_password(admin) -> None:
    with pytest.raises(AuthenticationFailed) as unknown:
        do_check_password("nobody@example.com", PASSWORD, ip_address=None, device_token=None)
    admin.is_active = False
    admin.save()
    with pytest.raises(AuthenticationFailed) as inactive:
        do_check_password(admin.email, PASSWORD, ip_address=None, device_token=None)
    assert unknown.value.message == inactive.value.message


def test_login_attempts_are_throttled_per_address(admin) -> None:
    limit = settings.PARLEY["LOGIN_RATE_PER_MINUTE"]
    for i in range(limit):
        with pytest.raises(AuthenticationFailed):
            do_check_password(
                f"nobody{i}@example.com", "x", ip_address="10.1.1.1", device_token=None
            )
    with pytest.raises(RateLimited) as excinfo:
        do_check_password(admin.email, PASSWORD, ip_address="10.1.1.1", device_token=None)
    assert excinfo.value.retry_after >= 1
    # Another address is not affected.
    assert do_check_password(admin.email, PASSWORD, ip_address="10.1.1.2", device_token=None).user


class TestLoginPages:
    def test_password_then_code_then_dashboard(self, client, admin) -> None:
        response = client.post("/login/", {"email": admin.email, "password": PASSWORD})
        assert response.status_code == 302
        assert response["Location"].startswith("/login/verify/")
        # Half-way through, the console stays shut.
        assert client.get("/").status_code == 302
        response = client.post("/login/verify/", {"code": totp_now(admin)})
        assert response.status_code == 302
        assert settings.PARLEY["TRUSTED_DEVICE_COOKIE"] in response.cookies
        page = client.get("/")
        assert page.status_code == 200
        assert admin.full_name in page.content.decode()

    def test_wrong_password_shows_a_form_error(self, client, admin) -> None:
        response = client.post("/login/", {"email": admin.email, "password": "nope"})
        assert response.status_code == 200
        assert "incorrect" in response.content.decode()

    def test_wrong_code_shows_a_form_error(self, client, admin) -> None:
        client.post("/login/", {"email": admin.email, "password": PASSWORD})
        response = client.post("/login/verify/", {"code": "12345x"})
        assert response.status_code == 200
        assert "6-digit" in response.content.decode()
        assert client.get("/").status_code == 302

    def test_not_enrolled_users_are_sent_to_enrolment(self, client, factory) -> None:
        user = factory.staff(factory.business(), "agent", enrolled=False)
        response = client.post("/login/", {"email": user.email, "password": PASSWORD})
        assert response["Location"].startswith("/login/enrol/")
        page = client.get(response["Location"]).content.decode()
        assert "<svg" in page
        assert 'data-testid="totp-secret"' in page

    def test_open_redirects_are_refused(self, client, admin) -> None:
        client.post(
            "/login/?next=https://evil.example/", {"email": admin.email, "password": PASSWORD}
        )
        response = client.post(
            "/login/verify/", {"code": totp_now(admin), "next": "https://evil.example/"}
        )
        assert response["Location"] == "/"


def test_spent_counters_and_stale_enrolments_are_purged(factory, frozen_clock) -> None:
    from parley.accounts.actions.login import do_purge_login_failures
    from parley.accounts.models import LoginFailures

    for i in range(3):
        with pytest.raises(AuthenticationFailed):
            do_check_password(f"gone{i}@example.com", "x", ip_address=None, device_token=None)
    do_begin_enrolment(factory.staff(factory.business(), "agent", enrolled=False))
    assert do_purge_login_failures() == 0  # still counting
    assert LoginFailures.objects.count() == 3
    horizon = max(
        settings.PARLEY["LOGIN_FAILURE_WINDOW_SECONDS"], settings.PARLEY["LOGIN_LOCKOUT_SECONDS"]
    )
    frozen_clock.advance(seconds=horizon + 1)
    assert do_purge_login_failures() == 3
    assert not LoginFailures.objects.exists()
    assert not TwoFactorEnrolment.objects.exists()
