"""The Business REST API in the WhatsApp Cloud API's shapes."""
