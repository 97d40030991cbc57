"""`manage.py send_message`: a wamid on success, one line and a non-zero exit on bad input."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from parley.accounts.models import PhoneNumber
from parley.messaging.models import Message
from tests.e2ee.test_commands import manage

CUSTOMER = "+919876500004"


@pytest.mark.django_db
def test_a_text_is_accepted_and_its_wamid_printed(number: PhoneNumber) -> None:
    out = io.StringIO()
    call_command("send_message", number.business.slug, number.e164, CUSTOMER, "hello", stdout=out)
    message = Message.objects.get()
    assert out.getvalue().strip() == message.wamid
    assert (message.status, message.content["body"], message.conversation.customer) == (
        "accepted", "hello", CUSTOMER,
    )  # fmt: skip


@pytest.mark.django_db
def test_a_file_is_encrypted_and_stored_as_a_media_reference(
    number: PhoneNumber, tmp_path: Path
) -> None:
    path = tmp_path / "invoice.txt"
    path.write_bytes(b"Invoice 1001\n")
    call_command("send_message", number.business.slug, number.e164, CUSTOMER, "your invoice",
                 "--file", str(path), stdout=io.StringIO())  # fmt: skip
    content = Message.objects.get().content
    assert (content["type"], content["file_name"], content["mime_type"]) == (
        "media", "invoice.txt", "text/plain",
    )  # fmt: skip
    assert content["file_length"] == 13 and content["caption"] == "your invoice"
    assert content["pointer"]["media_key"]  # the key stays in the tenant's message


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["nobody", "{number}", CUSTOMER, "hi"], "No business with slug 'nobody'."),
        (["{slug}", "+14155550000", CUSTOMER, "hi"], "+14155550000 is not a number of"),
        (["{slug}", "{number}", "12", "hi"], "'12' is not a phone number."),
        (["{slug}", "{number}", CUSTOMER], "nothing to send: give a text or --file"),
        (["{slug}", "{number}", CUSTOMER, "x" * 5000], "body is longer than 4096 characters."),
    ],
)
def test_bad_input_is_refused_and_nothing_is_sent(
    number: PhoneNumber, args: list[str], problem: str
) -> None:
    filled = [a.format(slug=number.business.slug, number=number.e164) for a in args]
    with pytest.raises(CommandError, match=problem.replace("+", r"\+").replace(".", r"\.")):
        call_command("send_message", *filled, stdout=io.StringIO())
    assert not Message.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_from_the_shell_bad_input_is_one_line_and_a_non_zero_exit(
    number: PhoneNumber, live_env: dict[str, str], tmp_path: Path
) -> None:
    missing = tmp_path / "nope.pdf"
    run = manage("send_message", number.business.slug, number.e164, CUSTOMER, "--file",
                 str(missing), env=live_env)  # fmt: skip
    assert run.returncode == 1 and run.stdout == ""
    assert run.stderr.strip() == f"CommandError: {missing}: No such file or directory"
