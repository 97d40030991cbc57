import asyncio
import os
import signal
import urllib.parse
from typing import Any

from django.core.management.base import CommandError, CommandParser

from e2ee.client.relay import DEFAULT_RELAY_URL
from e2ee.handsets.conf import control_url
from e2ee.handsets.fleet import Fleet, serve
from e2ee.management.base import relay_url
from parley.core.heap import start_from_settings
from parley.core.management.base import ParleyCommand


def bind(text: str) -> tuple[str, int]:
    """host:port"""
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise CommandError(f"{text!r} is not host:port")
    return host.strip("[]"), int(port)


class Command(ParleyCommand):
    help = (
        "Run the handset fleet: every simulated customer phone of this installation in one "
        "asyncio process, online ones connected to the relay, driven through its control API "
        "(the `handset` command uses it). Ctrl-C or SIGTERM stops it cleanly."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        default_bind = urllib.parse.urlsplit(control_url()).netloc
        parser.add_argument(
            "--relay", type=relay_url,
            default=os.environ.get("PARLEY_FLEET_RELAY_URL", DEFAULT_RELAY_URL),
            help=f"relay base URL (PARLEY_FLEET_RELAY_URL, default {DEFAULT_RELAY_URL})",
        )  # fmt: skip
        parser.add_argument(
            "--bind", default=default_bind,
            help=f"control API address (from PARLEY_FLEET_URL; default {default_bind})",
        )  # fmt: skip
        parser.add_argument("--workers", type=int, default=4, help="store/protocol threads")
        parser.add_argument(
            "--shared-address", action="store_true",
            help="all phones use one source address (default on a loopback relay: one each)",
        )  # fmt: skip
        parser.add_argument(
            "--no-fault-numbers", action="store_true",
            help="do not create the fault numbers (e2ee/handsets/README.md) at start",
        )  # fmt: skip

    def handle(self, *args: Any, **options: Any) -> None:
        host, port = bind(options["bind"])
        if not 1 <= options["workers"] <= 64:
            raise CommandError("--workers must be between 1 and 64")
        start_from_settings()  # a thousand handsets' sessions: parley.core.heap
        asyncio.run(self.run(host, port, options))

    async def run(self, host: str, port: int, options: dict[str, Any]) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        fleet = Fleet(
            options["relay"],
            workers=options["workers"],
            own_addresses=False if options["shared_address"] else None,
            fault_numbers=not options["no_fault_numbers"],
        )

        def ready() -> None:
            health = fleet.health()
            self.stdout.write(
                f"handset fleet: {health['handsets']} handsets ({health['online']} online), "
                f"relay {fleet.relay_url}, control API on http://{host}:{port}",
            )
            self.stdout.flush()

        try:
            await serve(fleet, host, port, stop, ready)
        except OSError as exc:
            raise CommandError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
        self.stdout.write("handset fleet stopped")
