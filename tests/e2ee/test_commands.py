"""`manage.py handset`, `business_endpoint` and `e2ee_health` given bad input: one line on
stderr, a non-zero exit status, no traceback and no half-created device."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from e2ee.actions import do_create_device
from e2ee.models import LocalDevice
from tests.conftest import ROOT
from tests.e2ee.conftest import Tenant, new_handset_number


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`manage.py …` in a terminal of its own, as a user types it."""
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


@pytest.mark.django_db(transaction=True)
def test_sending_a_missing_file_prints_one_line_and_exits_non_zero(
    tenant: Tenant, live_env: dict[str, str], tmp_path: Path
) -> None:
    do_create_device(tenant.number.e164, business_number=True)
    missing = tmp_path / "invoice.pdf"
    run = manage(
        "business_endpoint", "send", tenant.number.e164, "+919876543210", "dispatched",
        "--file", str(missing), env=live_env,
    )  # fmt: skip
    assert run.returncode == 1
    assert run.stderr.strip() == f"CommandError: {missing}: No such file or directory"
    assert "Traceback" not in run.stderr
    assert run.stdout == ""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--relay", "not-a-url", "list"], "argument --relay: 'not-a-url' is not an http(s) URL"),
        (["inbox", "+919876543210", "--watch", "nan"],
         "argument --watch: 'nan' is not a number of seconds"),
        (["inbox", "+919876543210", "--watch", "-5"],
         "argument --watch: '-5' is not a number of seconds"),
        (["send", "+919876500999", "+14155552671", "hi"], "No local device for +919876500999"),
        (["send", "12", "+14155552671", "hi"], "'12' is not a phone number."),
        (["restore", "+919876543210", "/nonexistent/backup.bin", "--recovery-key", "1"],
         "/nonexistent/backup.bin: No such file or directory"),
    ],
)  # fmt: skip
@pytest.mark.django_db
def test_handset_bad_input_is_a_command_error(args: list[str], message: str) -> None:
    # Argument errors come from argparse, prefixed "Error: "; the others are the whole line.
    with pytest.raises(CommandError, match=rf"^(Error: )?{re.escape(message)}"):
        call_command("handset", *args)


@pytest.mark.django_db
def test_unwritable_output_paths_are_named(tmp_path: Path) -> None:
    number = new_handset_number()
    do_create_device(number)
    nowhere = tmp_path / "no-such-folder"
    out = nowhere / "b.bin"
    with pytest.raises(CommandError, match=rf"^{re.escape(f'{out}: No such file or directory')}$"):
        call_command("handset", "backup", number, "--out", str(out))
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"junk")
    with pytest.raises(CommandError, match=r"^not a Parley backup$"):
        call_command("handset", "restore", number, str(junk), "--recovery-key", "0" * 64)


@pytest.mark.django_db(transaction=True)
def test_a_failed_registration_leaves_no_local_device(tenant: Tenant) -> None:
    number = new_handset_number()
    with pytest.raises(CommandError, match=r"^relay unreachable"):
        call_command("handset", "--relay", "http://127.0.0.1:1", "create", number)
    assert not LocalDevice.objects.filter(e164=number).exists()
    with pytest.raises(CommandError, match=r"^relay unreachable"):
        call_command(
            "business_endpoint", "--relay", "http://127.0.0.1:1", "register", tenant.number.e164,
            "--token", tenant.token,
        )  # fmt: skip
    assert not LocalDevice.objects.filter(e164=tenant.number.e164).exists()
    # An existing device is never touched by a refused `create`.
    do_create_device(number)
    with pytest.raises(CommandError, match="already exists"):
        call_command("handset", "--relay", "http://127.0.0.1:1", "create", number)
    assert LocalDevice.objects.filter(e164=number).exists()


@pytest.mark.parametrize("business", ["99999999999999999999999", "-1", "0", "\uff11\uff12"])
@pytest.mark.django_db
def test_e2ee_health_rejects_ids_that_are_not_ids(business: str, capsys: Any) -> None:
    with pytest.raises(CommandError, match="is not an id"):
        call_command("e2ee_health", "--business", business)
    call_command("e2ee_health", "--business", "12345")
    assert '"devices": 0' in capsys.readouterr().out
