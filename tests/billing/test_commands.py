"""The billing commands given bad input: one clear line, a non-zero exit, nothing loaded."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from billing.models import MessageFactRecord, RateCardRow
from tests.conftest import ROOT


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def exactly(message: str) -> str:
    return f"^{re.escape(message)}$"


GOOD_CARD = "country,item,currency,unit_price,effective_from\nIN,marketing,USD,0.0040,2026-01-01\n"


@pytest.mark.parametrize(
    ("day", "message"),
    [
        ("9999-12-31", "'9999-12-31' is beyond the last day Parley can report"),
        ("2026-13-01", "'2026-13-01' is not a day written YYYY-MM-DD"),
        ("2026-07", "'2026-07' is not a day written YYYY-MM-DD"),
        ("\uff12\uff10\uff12\uff16-07-01", "is not a day written YYYY-MM-DD"),
    ],
)
@pytest.mark.django_db
def test_billing_reports_rejects_days_it_cannot_report(day: str, message: str) -> None:
    with pytest.raises(CommandError, match=re.escape(message)):
        call_command("billing_reports", day)


@pytest.mark.django_db
def test_unknown_business_and_missing_files_are_named(factory: Any, tmp_path: Path) -> None:
    business = factory.business()
    with pytest.raises(CommandError, match=r"^No business with slug 'nope'\.$"):
        call_command("billing_reports", "2026-07-01", "--business", "nope")
    for command in ("load_billing_facts", "load_rate_card"):
        with pytest.raises(CommandError, match=r"^No business with slug 'nope'\.$"):
            call_command(command, "nope", str(tmp_path / "x"))
        with pytest.raises(CommandError, match=exactly(f"{tmp_path}/x: No such file or directory")):
            call_command(command, business.slug, str(tmp_path / "x"))
        with pytest.raises(CommandError, match=exactly(f"{tmp_path}: Is a directory")):
            call_command(command, business.slug, str(tmp_path))


@pytest.mark.django_db
def test_files_that_are_not_utf8_load_nothing(factory: Any, tmp_path: Path) -> None:
    business = factory.business()
    card = tmp_path / "card.csv"
    card.write_bytes(GOOD_CARD.encode("utf-16"))
    with pytest.raises(CommandError, match=exactly(f"{card} is not UTF-8 text.")):
        call_command("load_rate_card", business.slug, str(card))
    assert not RateCardRow.objects.filter(business=business).exists()
    facts = tmp_path / "facts.jsonl"
    facts.write_bytes(b'{"message_id": "caf\xe9"}\n')
    with pytest.raises(CommandError, match=exactly(f"Nothing loaded: {facts} is not UTF-8 text.")):
        call_command("load_billing_facts", business.slug, str(facts))
    assert not MessageFactRecord.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_non_utf8_rate_card_is_one_line_in_the_terminal(
    factory: Any, live_env: dict[str, str], tmp_path: Path
) -> None:
    business = factory.business()
    card = tmp_path / "card.csv"
    card.write_bytes(GOOD_CARD.encode("utf-16"))
    run = manage("load_rate_card", business.slug, str(card), env=live_env)
    assert (run.returncode, run.stderr) == (1, f"CommandError: {card} is not UTF-8 text.\n")
    run = manage("billing_reports", "9999-12-31", env=live_env)
    assert run.returncode == 2
    assert run.stderr.splitlines()[-1] == (
        "manage.py billing_reports: error: argument day: '9999-12-31' is beyond the last day "
        "Parley can report"
    )
    assert "Traceback" not in run.stderr
