"""The README's encryption walk-through, run as written (in bash, one `manage.py` process a
line) against a real server, worker and database seeded by `manage.py seed_demo`. Only the
server's address (`--relay`) and the scratch folder (`/tmp/`) are put in."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from tests.conftest import ROOT

pytestmark = pytest.mark.django_db(transaction=True)


def walkthrough(python: str, relay: str, scratch: Path) -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## End-to-end encryption", 1)[1].split("\n## ", 1)[0]
    found = re.search(r"```sh\n(.*?)```", section, re.S)
    assert found, "the encryption section has no sh block"
    script = found.group(1).replace("/tmp/", f"{scratch}/")
    assert 'M=".venv/bin/python manage.py"\n' in script
    script = script.replace('M=".venv/bin/python manage.py"', f'M="{python} {ROOT}/manage.py"')
    script = re.sub(r"\$M (handset|business_endpoint) ", rf"$M \1 --relay {relay} ", script)
    return "set -euo pipefail\n" + script


def test_the_encryption_walkthrough_runs_as_written(
    asgi_server: str, celery_worker: None, live_env: dict[str, str], tmp_path: Path
) -> None:
    var = tmp_path / "var"
    env = {**live_env, "PARLEY_VAR_DIR": str(var), "PARLEY_SECRET_KEY": settings.SECRET_KEY}
    seed = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "seed_demo"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert seed.returncode == 0, seed.stderr
    run = subprocess.run(
        ["bash", "-c", walkthrough(sys.executable, asgi_server, tmp_path)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert run.returncode == 0, f"{run.stdout}\n{run.stderr}"
    assert "Traceback" not in run.stderr
    out = run.stdout
    assert "  +919876543210: hello" in out
    assert "read receipt for" in out
    sent = next(tmp_path.glob("invoice.*"))
    assert re.search(rf"\+14155552671: \[file {sent.name}, \d+ bytes\] dispatched", out)
    assert (tmp_path / "dl" / sent.name).read_bytes() == sent.read_bytes()
    assert re.search(r"^(\d{5} ){11}\d{5}$", out, re.M)  # the safety number
    assert re.search(r"recovery key \(write it down\): (\d{4} ){15}\d{4}$", out, re.M)
    assert "Registration Lock on for +919876543210" in out
    assert "+919876543210's security code changed" in out
    assert '"healthy": true' in out
