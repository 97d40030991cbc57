"""Billing in the console: a month's usage and invoice, and a campaign cost estimate."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from billing.actions import do_replace_rate_card
from billing.cards import get_rate_card, rate_card_csv
from billing.engine import ROUNDING_RULE, WaCategory, is_known_country, is_period
from billing.selectors import get_estimate, get_invoice, get_usage
from frontend.access import console_view, staff
from parley.accounts.roles import Capability
from parley.core import clock
from parley.core.errors import ParleyError


class PeriodForm(forms.Form):
    # ASCII digits: `\d` would also take other scripts' digits.
    period = forms.RegexField(regex=r"^[0-9]{4}-(0[1-9]|1[0-2])\Z", required=False, max_length=7)

    def clean_period(self) -> str:
        period: str = self.cleaned_data["period"]
        if period and not is_period(period):  # the year 0000 does not exist
            raise forms.ValidationError("Give a month as YYYY-MM.")
        return period


class RateCardForm(forms.Form):
    csv = forms.CharField(
        label="Rate card (CSV)",
        max_length=2_000_000,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "false"}),
        help_text="country,item,currency,unit_price,effective_from — replaces the whole card.",
    )


class EstimateForm(forms.Form):
    volume = forms.IntegerField(
        min_value=1, max_value=10**9, initial=10_000, label="Messages per country and category"
    )
    countries = forms.CharField(
        max_length=400, initial="US, IN", help_text="ISO country codes, comma-separated"
    )
    categories = forms.MultipleChoiceField(
        choices=[(c.value, c.value) for c in WaCategory],
        initial=[WaCategory.MARKETING.value],
        widget=forms.CheckboxSelectMultiple,
    )

    def clean_countries(self) -> list[str]:
        codes = [c.strip().upper() for c in self.cleaned_data["countries"].split(",") if c.strip()]
        if not codes or any(len(c) != 2 or not (c.isascii() and c.isalpha()) for c in codes):
            raise forms.ValidationError("Give two-letter country codes, such as US, IN, BR.")
        unknown = [c for c in codes if not is_known_country(c)]
        if unknown:
            raise forms.ValidationError(
                f"Unknown country code: {', '.join(unknown)}. Give ISO 3166-1 alpha-2 codes, "
                "such as US, IN, BR."
            )
        return codes


def _page(request: HttpRequest, rate_form: RateCardForm | None = None) -> HttpResponse:
    user = staff(request)
    business = user.business
    period_form = PeriodForm(request.GET)
    period = (period_form.cleaned_data.get("period") if period_form.is_valid() else "") or (
        clock.now().strftime("%Y-%m")
    )
    estimate_form = EstimateForm(request.GET if "volume" in request.GET else None)
    estimate = None
    if estimate_form.is_bound and estimate_form.is_valid():
        try:
            estimate = get_estimate(
                business.pk,
                volume=estimate_form.cleaned_data["volume"],
                countries=estimate_form.cleaned_data["countries"],
                categories=estimate_form.cleaned_data["categories"],
                on=clock.now().date(),
            )
        except ParleyError as exc:
            estimate_form.add_error(None, exc.message)
    invoice = get_invoice(business.pk, period)
    context: dict[str, Any] = {
        "period": period,
        "period_form": period_form,
        "usage": get_usage(business.pk, period),
        "invoice": invoice,
        # (currency, amount due, exact sum of the lines): the REST invoice's totals.
        "invoice_totals": [(c, invoice.totals[c], invoice.exact_totals[c]) for c in invoice.totals],
        "rounding_rule": ROUNDING_RULE,
        "estimate_form": estimate_form,
        "estimate": estimate,
        "rate_rows": len(get_rate_card(business.pk).rows),
    }
    if user.can(Capability.MANAGE_BILLING):
        context["rate_form"] = rate_form or RateCardForm(
            initial={"csv": rate_card_csv(get_rate_card(business.pk))}
        )
    return render(request, "frontend/billing.html", context, status=400 if rate_form else 200)


@console_view(Capability.VIEW_BILLING)
@require_GET
def billing(request: HttpRequest) -> HttpResponse:
    return _page(request)


@console_view(Capability.VIEW_BILLING)
@require_GET
def rate_card_download(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(
        rate_card_csv(get_rate_card(staff(request).business.pk)), content_type="text/csv"
    )
    response["Content-Disposition"] = 'attachment; filename="rate-card.csv"'
    return response


@console_view(Capability.MANAGE_BILLING)
@require_POST
def rate_card_replace(request: HttpRequest) -> HttpResponse:
    user = staff(request)
    form = RateCardForm(request.POST)
    if form.is_valid():
        try:
            rows = do_replace_rate_card(user, user.business, form.cleaned_data["csv"])
        except ParleyError as exc:
            form.add_error("csv", exc.message)
        else:
            messages.success(request, f"Rate card replaced: {rows} rows.")
            return redirect("/billing/")
    return _page(request, rate_form=form)
