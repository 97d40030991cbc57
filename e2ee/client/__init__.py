"""The Signal client library: handsets and business numbers talking through the relay."""

from e2ee.client.attachments import AttachmentStore, InMemoryAttachmentStore
from e2ee.client.client import ClientError, Outgoing, Received, SignalClient
from e2ee.client.relay import DEFAULT_RELAY_URL, RelayError, RelayHttp
from e2ee.client.sms import CarrierSmsInbox, InMemorySmsInbox, Sms, SmsInbox
from e2ee.client.state import DeviceState, Health, HistoryItem, InMemoryDeviceState

__all__ = [
    "DEFAULT_RELAY_URL",
    "AttachmentStore",
    "CarrierSmsInbox",
    "ClientError",
    "DeviceState",
    "Health",
    "HistoryItem",
    "InMemoryAttachmentStore",
    "InMemoryDeviceState",
    "InMemorySmsInbox",
    "Outgoing",
    "Received",
    "RelayError",
    "RelayHttp",
    "SignalClient",
    "Sms",
    "SmsInbox",
]
