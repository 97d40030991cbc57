"""The launcher's command line: `make test PYTEST_ARGS=…` hands pytest its options."""

from __future__ import annotations

import pytest

from parley.launcher import parse, pytest_options


def test_what_follows_test_goes_to_pytest_as_written() -> None:
    assert parse(["test"]) == ("test", 0, [])
    assert parse(["test", "-k", "audit", "--durations=0", "tests/x.py"]) == (
        "test", 0, ["-k", "audit", "--durations=0", "tests/x.py"],
    )  # fmt: skip


def test_run_takes_a_port_and_refuses_anything_else(capsys: pytest.CaptureFixture[str]) -> None:
    assert parse(["run", "--port", "8123"]) == ("run", 8123, [])
    with pytest.raises(SystemExit):
        parse(["run", "-k", "audit"])
    assert "unrecognized arguments: -k audit" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse(["serve"])


def test_the_suite_runs_in_two_workers_unless_told_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PARLEY_TEST_WORKERS", raising=False)
    assert pytest_options([]) == ["-n", "2"]
    # pytest takes the last -n it is given: the caller's wins.
    assert pytest_options(["-n", "0", "-k", "audit"]) == ["-n", "2", "-n", "0", "-k", "audit"]
    monkeypatch.setenv("PARLEY_TEST_WORKERS", "4")
    assert pytest_options([]) == ["-n", "4"]
