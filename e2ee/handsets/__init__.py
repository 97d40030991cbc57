"""The handset fleet: simulated customers' phones as one running asyncio service.

See README.md in this folder for the control channel."""
