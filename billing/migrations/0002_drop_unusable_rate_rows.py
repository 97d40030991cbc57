"""Rate-card rows that the stricter rate-card rules refuse (a country that is not an ISO 3166-1
alpha-2 code, such as ZZ, or an item nothing is billed as) could never price an event; they
are removed so every stored card loads."""

from typing import Any

from django.db import migrations

from billing.engine.countries import KNOWN_COUNTRIES
from billing.engine.rates import DEFAULT_COUNTRY, RATE_ITEMS


def drop_unusable_rows(apps: Any, schema_editor: Any) -> None:
    rate_card_row = apps.get_model("billing", "RateCardRow")
    rate_card_row.objects.exclude(country__in=[*KNOWN_COUNTRIES, DEFAULT_COUNTRY]).delete()
    rate_card_row.objects.exclude(item__in=list(RATE_ITEMS)).delete()


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_initial")]

    operations = [migrations.RunPython(drop_unusable_rows, migrations.RunPython.noop)]
