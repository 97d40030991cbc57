"""Forms of the console's compliance workspace: the archive's search criteria (also what a
legal hold or an export selects), a hold's name and reason, an export's format, a hold's
release and a retention policy. The archive's own parser (`Criteria.parse`) has the last
word on criteria; its complaint lands on the field it names."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from django import forms

from archive.models import ExportJob, RetentionMode
from archive.retention import CUSTOM, MAX_YEARS, PRESETS
from archive.selectors import CRITERIA, Criteria, CriteriaError
from parley.accounts.models import PhoneNumber, StaffUser

# Ids are bounded so a huge number is a form error, never a database overflow.
MAX_ID = 10**18 - 1
FIRST_YEAR, LAST_YEAR = 1970, 2999
_PHONE_NOISE = re.compile(r"[\s().-]")

MODE_LABELS = {
    RetentionMode.COMPLIANCE.value: "Compliance — cannot be shortened or lifted by anyone",
    RetentionMode.GOVERNANCE.value: "Governance — privileged staff may lift it",
}


def _date_input() -> forms.DateInput:
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class CriteriaForm(forms.Form):
    """What to select in the archive. Field names are the archive's criteria keys, so a
    search's query string carries over to a hold or an export as it is."""

    customer = forms.CharField(
        max_length=40,
        required=False,
        label="Customer",
        widget=forms.TextInput(attrs={"placeholder": "+91 98765 43210", "inputmode": "tel"}),
    )
    agent = forms.TypedChoiceField(coerce=int, empty_value=None, required=False, label="Agent")
    number = forms.TypedChoiceField(coerce=int, empty_value=None, required=False, label="Number")
    conversation = forms.IntegerField(
        min_value=1, max_value=MAX_ID, required=False, label="Conversation id"
    )
    message_id = forms.CharField(
        max_length=200, required=False, label="Message id", help_text="A wamid or a record id."
    )
    start = forms.DateField(required=False, label="From", widget=_date_input())
    end = forms.DateField(required=False, label="To", widget=_date_input())
    q = forms.CharField(max_length=200, required=False, label="Keyword")

    def __init__(
        self, *args: Any, staff: list[StaffUser], numbers: list[PhoneNumber], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        agent, number = self.fields["agent"], self.fields["number"]
        assert isinstance(agent, forms.ChoiceField) and isinstance(number, forms.ChoiceField)
        agent.choices = [("", "Anyone"), *((u.pk, u.full_name or u.email) for u in staff)]
        number.choices = [
            ("", "Any number"),
            *((n.pk, f"{n.e164} {n.display_name}".strip()) for n in numbers),
        ]

    def clean_customer(self) -> str:
        value = _PHONE_NOISE.sub("", str(self.cleaned_data.get("customer") or ""))
        if value.isdigit():
            value = "+" + value
        if value and not re.fullmatch(r"\+[0-9]{4,20}", value):
            raise forms.ValidationError("Give the customer's number, e.g. +919876543210.")
        return value

    def _clean_date(self, key: str) -> dt.date | None:
        value = self.cleaned_data.get(key)
        if value is not None and not FIRST_YEAR <= value.year <= LAST_YEAR:
            raise forms.ValidationError(f"Give a date between {FIRST_YEAR} and {LAST_YEAR}.")
        return value

    def clean_start(self) -> dt.date | None:
        return self._clean_date("start")

    def clean_end(self) -> dt.date | None:
        return self._clean_date("end")

    def criteria(self) -> Criteria | None:
        """The archive's criteria, or None with the errors on the form."""
        if not self.is_valid():
            return None
        data: dict[str, Any] = {}
        for key in CRITERIA:
            value = self.cleaned_data.get(key)
            if value in (None, ""):
                continue
            data[key] = value.isoformat() if isinstance(value, dt.date) else value
        try:
            return Criteria.parse(data)
        except CriteriaError as exc:
            named = str(exc).split(" ", 1)[0]
            if named == "start":  # "start must be before end."
                named = "end"
            self.add_error(named if named in self.fields else None, str(exc))
            return None

    def carried(self) -> list[tuple[str, str]]:
        """The criteria as submitted (for hidden fields of the hold and export forms)."""
        return [(k, str(self.data.get(k, ""))) for k in CRITERIA if self.data.get(k)]


class HoldForm(CriteriaForm):
    name = forms.CharField(max_length=120, label="Hold name")
    reason = forms.CharField(
        max_length=500,
        required=False,
        label="Reason",
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="The matter, request or order that requires it.",
    )


class ExportForm(CriteriaForm):
    format = forms.ChoiceField(
        choices=[
            (ExportJob.Format.WACZ.value, "WACZ (replayable package)"),
            (ExportJob.Format.WARC.value, "WARC"),
        ],
        label="Format",
    )


class ReleaseForm(forms.Form):
    reason = forms.CharField(max_length=500, label="Reason for releasing")


class PolicyForm(forms.Form):
    number = forms.TypedChoiceField(
        coerce=int, empty_value=None, required=False, label="Applies to"
    )
    preset = forms.ChoiceField(label="Period")
    years = forms.IntegerField(
        min_value=0, max_value=MAX_YEARS, required=False, label="Years (custom)"
    )
    days = forms.IntegerField(
        min_value=0, max_value=366 * MAX_YEARS, required=False, label="Days (custom)"
    )
    mode = forms.ChoiceField(choices=list(MODE_LABELS.items()), label="Mode")

    def __init__(self, *args: Any, numbers: list[PhoneNumber], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        number, preset = self.fields["number"], self.fields["preset"]
        assert isinstance(number, forms.ChoiceField) and isinstance(preset, forms.ChoiceField)
        number.choices = [
            ("", "The business (default for every number)"),
            *((n.pk, f"{n.e164} {n.display_name}".strip()) for n in numbers),
        ]
        preset.choices = [
            *((p.key, f"{p.label} ({p.basis})") for p in PRESETS.values()),
            (CUSTOM, "Custom: years and days below"),
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("preset") == CUSTOM and not data.get("years") and not data.get("days"):
            self.add_error("years", "A custom period needs years or days.")
        return data
