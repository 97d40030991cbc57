"""Forms of the console's Customers page (simulated customers a developer drives)."""

from __future__ import annotations

from typing import Any

from django import forms

from e2ee.handsets.customers import LANGUAGE_PATTERN, MAX_READ_DELAY_SECONDS


class CustomerCreateForm(forms.Form):
    phone_number = forms.CharField(
        max_length=32,
        label="Customer's number",
        widget=forms.TextInput(attrs={"placeholder": "+91 98765 43210", "inputmode": "tel"}),
    )
    language = forms.RegexField(
        regex=LANGUAGE_PATTERN, max_length=15, initial="en_US", label="Language",
        error_messages={"invalid": "Give a language code such as en_US."},
    )  # fmt: skip
    online = forms.BooleanField(required=False, initial=True, label="Online")
    read_delay_seconds = forms.FloatField(
        required=False, min_value=0, max_value=MAX_READ_DELAY_SECONDS,
        label="Read delay (seconds)",
        help_text="Empty: the customer reads only when you press Read.",
    )  # fmt: skip


class _ToForm(forms.Form):
    """A message from the customer to one of the business's numbers."""

    to = forms.ChoiceField(label="To")

    def __init__(self, *args: Any, numbers: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        to = self.fields["to"]
        assert isinstance(to, forms.ChoiceField)
        to.choices = [(n, n) for n in numbers]


class TextForm(_ToForm):
    body = forms.CharField(max_length=4096, label="Text", widget=forms.Textarea(attrs={"rows": 2}))
    reply_to = forms.CharField(
        max_length=128, required=False, label="Replying to (wamid)",
        help_text="Optional: the business message this text answers.",
    )  # fmt: skip
    ad_url = forms.URLField(
        max_length=2048, required=False, assume_scheme="https", label="Came from an ad (its URL)",
        help_text="Optional: the text starts the chat from a click-to-WhatsApp ad (a free "
        "entry point: an answer within 24 h opens 72 free hours).",
    )  # fmt: skip
    ad_headline = forms.CharField(max_length=1024, required=False, label="The ad's headline")


class ButtonForm(_ToForm):
    reply_id = forms.CharField(max_length=256, label="Button id")
    title = forms.CharField(max_length=1024, label="Button title")


class LocationForm(_ToForm):
    latitude = forms.FloatField(min_value=-90, max_value=90, label="Latitude")
    longitude = forms.FloatField(min_value=-180, max_value=180, label="Longitude")
    name = forms.CharField(max_length=1024, required=False, label="Place name")
