"""The accounts commands given bad input: one clear line and a non-zero exit."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("number_id", ["99999999999999999999999", "-5", "0", "abc", "\uff11\uff12"])
def test_review_number_rejects_what_is_not_an_id(number_id: str) -> None:
    with pytest.raises(CommandError, match="is not an id"):
        call_command("review_number", number_id, "--approve")


def test_review_number_of_an_unknown_number() -> None:
    with pytest.raises(CommandError, match=r"^Phone number 123 does not exist\.$"):
        call_command("review_number", "123", "--decline")


def test_twofactor_code_of_an_unknown_account() -> None:
    with pytest.raises(CommandError, match=r"^No such account\.$"):
        call_command("twofactor_code", "nobody@example.test")
