"""A burst of new customers writing to one business: the two costs per new customer that
used to grow with the installation's size, timed with their actions on the configured
database (DATABASE_URL; default: a fresh SQLite file). Prints figures; asserts nothing
about time.

- **Bundle fetch**: a customer's first message fetches the business's pre-key bundle, which
  claims the business device's oldest one-time pre-key (`do_claim_bundles`). The relay
  holds the keys that every other device uploaded, before the business replenished its
  own; sizes are those other keys.
- **Routing while agents are full**: each batch of customer messages routes the business's
  waiting sessions (`do_route_waiting`) while its one agent is at capacity; sizes are the
  waiting backlog.

Data is written straight into the tables; statistics are left as they are after the
writes (as on a PostgreSQL without autovacuum, and as between two of its runs). The
baseline in the same run is each action at size 0: it should cost the same at every size.

    .venv/bin/python bench/first_contacts.py                  # sizes 0, 20,000, 100,000
    .venv/bin/python bench/first_contacts.py 0 5000 --calls 20
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import time
from collections.abc import Callable

from bootstrap import p50_p99_ms, setup_django

setup_django()

from django.contrib.auth.hashers import make_password  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from parley.accounts.models import Business, PhoneNumber, StaffUser  # noqa: E402
from parley.core import clock  # noqa: E402
from parley.messaging.models import Conversation  # noqa: E402
from parley.relay.actions.keys import do_claim_bundles  # noqa: E402
from parley.relay.models import Device, OneTimePreKey, RelayAccount, SignedPreKey  # noqa: E402
from routing.actions.sessions import do_route_waiting  # noqa: E402
from routing.actions.setup import do_save_queue  # noqa: E402
from routing.models import Agent, Queue, Session  # noqa: E402

KEYS_PER_DEVICE = 100
CHUNK = 5000


def _device(account: RelayAccount, tag: str) -> Device:
    now = clock.now()
    return Device.objects.create(
        account=account, device_id=1, registration_id=1, identity_key=b"\x05" + b"\x01" * 32,
        identity_registered_at=now, created_at=now,
        credential_digest=hashlib.sha256(tag.encode()).hexdigest(),
    )  # fmt: skip


def _account(e164: str, kind: str = RelayAccount.Kind.HANDSET) -> RelayAccount:
    return RelayAccount.objects.create(kind=kind, e164=e164, created_at=clock.now())


def _other_keys(first: int, count: int) -> None:
    """`count` one-time keys of new customer devices (KEYS_PER_DEVICE each)."""
    now = clock.now()
    for start in range(first, first + count, KEYS_PER_DEVICE):
        device = _device(_account(f"+9199{start // KEYS_PER_DEVICE:08d}"), f"other{start}")
        OneTimePreKey.objects.bulk_create(
            OneTimePreKey(device=device, key_id=k, public_key=b"\x05" * 33, uploaded_at=now)
            for k in range(KEYS_PER_DEVICE)
        )


def _business_keys(device: Device, first: int, count: int) -> None:
    """The business replenishes: new keys, after everything uploaded so far."""
    now = clock.now()
    OneTimePreKey.objects.bulk_create(
        OneTimePreKey(device=device, key_id=first + k, public_key=b"\x05" * 33, uploaded_at=now)
        for k in range(count)
    )


def _timed(fn: Callable[[], object], calls: int) -> list[float]:
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return times


def _business() -> tuple[PhoneNumber, StaffUser]:
    now = clock.now()
    business = Business.objects.create(name="Burst", slug="burst", country="IN", created_at=now)
    number = PhoneNumber.objects.create(
        business=business, e164="+919820000001", country="IN", display_name="Burst",
        status=PhoneNumber.Status.CONNECTED, created_at=now,
    )  # fmt: skip
    supervisor = StaffUser.objects.create(
        email="s@burst.bench", password=make_password(None), business=business,
        full_name="Sup", role="supervisor", created_at=now,
    )  # fmt: skip
    agent_user = StaffUser.objects.create(
        email="a@burst.bench", password=make_password(None), business=business,
        full_name="Agent", role="agent", created_at=now,
    )  # fmt: skip
    # One agent, available and at capacity.
    Agent.objects.create(
        user=agent_user, business=business, capacity=10, load=10,
        status=Agent.Status.AVAILABLE, touched_at=timezone.now(), profile_at=timezone.now(),
        last_seen_at=now, last_active_at=now,
    )  # fmt: skip
    do_save_queue(supervisor, name="General", is_default=True)
    return number, supervisor


def _backlog(number: PhoneNumber, first: int, count: int) -> None:
    """`count` more customers waiting (a conversation and a waiting session each)."""
    now = clock.now()
    queue = Queue.objects.get(business=number.business, is_default=True)
    for start in range(first, first + count, CHUNK):
        size = min(CHUNK, first + count - start)
        conversations = Conversation.objects.bulk_create(
            Conversation(business=number.business, number=number, customer=f"+9197{start + i:08d}",
                         created_at=now, last_message_at=now, last_inbound_at=now)
            for i in range(size)
        )  # fmt: skip
        Session.objects.bulk_create(
            Session(business=number.business, conversation=c, queue=queue, opened_at=now,
                    waiting_since=now, last_inbound_at=now, unread=1)
            for c in conversations
        )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("sizes", type=int, nargs="*", default=[0, 20_000, 100_000])
    parser.add_argument("--calls", type=int, default=30)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    number, _ = _business()
    business_account = _account(number.e164, RelayAccount.Kind.BUSINESS)
    business_device = _device(business_account, "business")
    SignedPreKey.objects.create(
        device=business_device, key_id=1, public_key=b"\x05" * 33, signature=b"\x00" * 64,
        uploaded_at=clock.now(),
    )  # fmt: skip
    requester = _device(_account("+919800000000"), "requester")
    print(f"{connection.vendor}: {args.calls} calls per size")
    keys = waiting = 0
    base: tuple[float, float] | None = None
    for size in sorted(args.sizes):
        _other_keys(keys, size - keys)
        keys = size
        _business_keys(business_device, 10_000 * (1 + size // 1000), args.calls)
        claims = _timed(lambda: do_claim_bundles(requester, business_account, 1), args.calls)
        _backlog(number, waiting, size // 10 - waiting)
        waiting = size // 10
        routes = _timed(lambda: do_route_waiting(number.business_id), args.calls)
        assert Session.objects.filter(state=Session.State.WAITING).count() == waiting
        medians = statistics.median(claims), statistics.median(routes)
        base = base or medians
        print(
            f"  {size:>7,} other keys: a bundle fetch {p50_p99_ms(claims, 7)} "
            f"({medians[0] / base[0]:.1f} times the first);  "
            f"{waiting:>6,} waiting: routing {p50_p99_ms(routes, 7)} "
            f"({medians[1] / base[1]:.1f} times)",
            flush=True,
        )


if __name__ == "__main__":
    main()
