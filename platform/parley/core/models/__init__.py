"""The core's own tables: the installation's simulation clock and the event stream."""

from parley.core.models.clock import SimulationClock
from parley.core.models.stream import StreamConsumer, StreamEntry, StreamPending

__all__ = ["SimulationClock", "StreamConsumer", "StreamEntry", "StreamPending"]
