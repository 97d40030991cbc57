"""The console consumer's fan-out: one channel-layer message per group for a whole batch,
its events in stream order, each with the previous entry of its business."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from channels.layers import get_channel_layer

from parley.core import clock
from parley.core.events import StaffChanged
from parley.core.publish import publish_many
from parley.core.realtime import staff_group
from parley.core.stream.runner import run_consumers

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_batch_reaches_each_group_as_one_message_in_stream_order(factory: Any) -> None:
    business = factory.business()
    layer = get_channel_layer()

    def change(n: int) -> StaffChanged:
        return StaffChanged(business_id=business.pk, occurred_at=clock.now(), user_ids=(n,),
                            change=f"c{n}")  # fmt: skip

    async def scenario() -> list[dict[str, Any]]:
        channel = await layer.new_channel()
        await layer.group_add(staff_group(business.pk, "administrator"), channel)
        # One commit: a live worker of this session, woken by it, reads the three together
        # too, so whichever runs the consumer, they make one batch.
        ids = await asyncio.to_thread(publish_many, [change(n) for n in range(3)])
        assert await asyncio.to_thread(run_consumers, 30, ["console"])
        received = [await asyncio.wait_for(layer.receive(channel), 10)]
        with pytest.raises(TimeoutError):
            received.append(await asyncio.wait_for(layer.receive(channel), 1))
        await layer.group_discard(staff_group(business.pk, "administrator"), channel)
        (message,) = received
        assert message["type"] == "staff.events"
        mine = [e for e in message["events"] if e["event"]["stream_id"] in ids]
        assert [e["event"]["stream_id"] for e in mine] == ids
        assert [e["event"]["data"]["change"] for e in mine] == ["c0", "c1", "c2"]
        assert [e["prev"] for e in mine][1:] == ids[:-1]
        return mine

    asyncio.run(scenario())
