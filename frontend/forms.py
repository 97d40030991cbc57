from __future__ import annotations

from typing import Any, cast

from django import forms
from django.core.exceptions import ValidationError

from parley.accounts.roles import Capability, Role


class LoginForm(forms.Form):
    email = forms.EmailField(max_length=254, widget=forms.EmailInput(attrs={"autofocus": True}))
    password = forms.CharField(max_length=256, strip=False, widget=forms.PasswordInput)


class CodeForm(forms.Form):
    code = forms.RegexField(
        # ASCII digits only: \d would let other scripts' digits through.
        regex=r"^\s*[0-9]{3}\s?[0-9]{3}\s*$",
        max_length=8,
        error_messages={"invalid": "Enter the 6-digit code from your authenticator app."},
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
    )


class IdListField(forms.Field):
    """A list of integer ids posted as repeated fields (checkboxes named alike)."""

    widget = forms.MultipleHiddenInput
    default_error_messages = {"invalid": "The selection is not valid. Reload the page."}
    max_items = 2000

    def to_python(self, value: Any) -> list[int]:
        if not value:
            return []
        values = [value] if isinstance(value, str) else list(value)
        if len(values) > self.max_items:
            raise ValidationError(f"Select at most {self.max_items} accounts at a time.")
        try:
            return sorted({int(v) for v in values})
        except (TypeError, ValueError) as exc:
            raise ValidationError(self.error_messages["invalid"], code="invalid") from exc


class StaffFilterForm(forms.Form):
    """The staff directory's search and filters (GET)."""

    q = forms.CharField(required=False, max_length=100, label="Search")
    role = forms.ChoiceField(required=False, label="Role")
    status = forms.ChoiceField(
        required=False,
        label="Status",
        choices=[("", "Active and inactive"), ("active", "Active"), ("inactive", "Inactive")],
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        role_field = cast(forms.ChoiceField, self.fields["role"])
        role_field.choices = [("", "All roles"), *((r.value, r.label) for r in Role)]
        self.fields["q"].widget.attrs.update(
            {"placeholder": "Name or email", "type": "search", "data-testid": "staff-search"}
        )

    def values(self) -> dict[str, str]:
        """The filters that validated (an invalid filter is ignored, never an error)."""
        if self.is_valid():
            data = self.cleaned_data
        else:
            data = {k: v for k, v in self.cleaned_data.items() if k not in self.errors}
        return {name: str(data.get(name) or "") for name in ("q", "role", "status")}


def bulk_operations(assignable: list[Role]) -> list[tuple[str, str]]:
    return [
        *((f"role:{r.value}", f"Change role to {r.label}") for r in assignable),
        ("deactivate", "Deactivate"),
        ("reactivate", "Reactivate"),
    ]


class StaffBulkForm(forms.Form):
    """One operation on the selected accounts, or on every account matching the filters."""

    operation = forms.ChoiceField(label="Action")
    ids = IdListField(required=False)
    all_matching = forms.BooleanField(required=False)

    def __init__(self, *args: Any, assignable: list[Role], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = cast(forms.ChoiceField, self.fields["operation"])
        field.choices = [("", "Choose an action…"), *bulk_operations(assignable)]


class StaffCreateForm(forms.Form):
    email = forms.EmailField(max_length=254, widget=forms.EmailInput(attrs={"autofocus": True}))
    full_name = forms.CharField(max_length=150, label="Full name")
    role = forms.ChoiceField()
    password = forms.CharField(
        max_length=256,
        strip=False,
        label="Initial password",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="At least 8 characters, not a common password. They set up two-factor "
        "authentication at their first login.",
    )

    def __init__(self, *args: Any, assignable: list[Role], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = cast(forms.ChoiceField, self.fields["role"])
        field.choices = [(r.value, r.label) for r in assignable]
        if assignable and Role.AGENT in assignable:
            field.initial = Role.AGENT.value


class TokenCreateForm(forms.Form):
    name = forms.CharField(
        max_length=100,
        label="Token name",
        widget=forms.TextInput(attrs={"placeholder": "e.g. CRM integration"}),
    )
    scopes = forms.MultipleChoiceField(
        label="Permissions",
        widget=forms.CheckboxSelectMultiple(attrs={"data-testid": "token-scope"}),
        error_messages={"required": "Choose at least one permission for the token."},
        help_text="A token can hold only permissions your role has.",
    )

    def __init__(self, *args: Any, offered: list[Capability], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = cast(forms.MultipleChoiceField, self.fields["scopes"])
        field.choices = [(c.value, c.label) for c in offered]
        field.initial = [c.value for c in offered]


class NumberAddForm(forms.Form):
    phone_number = forms.CharField(
        max_length=32,
        label="Phone number",
        widget=forms.TextInput(attrs={"placeholder": "+91 98765 43210", "inputmode": "tel"}),
    )
    display_name = forms.CharField(max_length=100, label="Display name")


class RequestCodeForm(forms.Form):
    code_method = forms.ChoiceField(
        label="Deliver the code by",
        choices=[("SMS", "SMS"), ("VOICE", "Voice call")],
        initial="SMS",
    )


class VerifyCodeForm(forms.Form):
    code = forms.RegexField(
        regex=r"^\s*[0-9]{6}\s*$",
        max_length=8,
        label="Registration code",
        error_messages={"invalid": "Enter the 6-digit code the number received."},
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code"}),
    )


class RegisterForm(forms.Form):
    pin = forms.RegexField(
        regex=r"^[0-9]{6}$",
        max_length=6,
        label="Two-step verification PIN",
        error_messages={"invalid": "The PIN is 6 digits."},
        widget=forms.PasswordInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )


class AuditFilterForm(forms.Form):
    action = forms.CharField(
        required=False,
        max_length=64,
        label="Action starts with",
        widget=forms.TextInput(attrs={"placeholder": "e.g. staff. or login.", "list": "actions"}),
    )


def _clock_field(parse: Any) -> Any:
    from parley.core.errors import ParleyError

    def clean(value: str) -> Any:
        try:
            return parse(value)
        except ParleyError as exc:
            raise ValidationError(exc.message) from None

    return clean


class ClockAdvanceForm(forms.Form):
    duration = forms.CharField(
        max_length=40,
        help_text="90s, 45m, 25h, 31d or 1d2h",
        widget=forms.TextInput(attrs={"placeholder": "25h", "autocomplete": "off"}),
    )

    def clean_duration(self) -> Any:
        from parley.core.clock_actions import parse_duration

        return _clock_field(parse_duration)(self.cleaned_data["duration"])


class ClockSetForm(forms.Form):
    time = forms.CharField(
        max_length=40,
        label="Jump to",
        help_text="An ISO 8601 time with a zone, e.g. 2026-12-01T09:00Z. Only forward.",
        widget=forms.TextInput(attrs={"placeholder": "2026-12-01T09:00Z", "autocomplete": "off"}),
    )

    def clean_time(self) -> Any:
        from parley.core.clock_actions import parse_instant

        return _clock_field(parse_instant)(self.cleaned_data["time"])


class BusinessProfileForm(forms.Form):
    """A number's business profile; the action checks the values again (the API's rules)."""

    about = forms.CharField(max_length=139, required=False)
    address = forms.CharField(max_length=256, required=False)
    description = forms.CharField(
        max_length=512, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    email = forms.EmailField(max_length=128, required=False)
    vertical = forms.ChoiceField(required=False)
    websites = forms.CharField(
        required=False,
        max_length=600,
        help_text="Up to 2 http(s) URLs, one a line.",
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    remove_picture = forms.BooleanField(required=False, label="Remove the profile picture")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from parley.accounts.models import BusinessProfile

        super().__init__(*args, **kwargs)
        field = cast(forms.ChoiceField, self.fields["vertical"])
        field.choices = [("", "— not set —"), *BusinessProfile.Vertical.choices]

    def clean_websites(self) -> list[str]:
        text = str(self.cleaned_data.get("websites") or "")
        return [line.strip() for line in text.splitlines() if line.strip()]

    def changes(self) -> dict[str, Any]:
        """What the action takes: every field, and the picture's removal when asked."""
        data = dict(self.cleaned_data)
        remove = data.pop("remove_picture", False)
        if remove:
            data["profile_picture_handle"] = ""
        return data
