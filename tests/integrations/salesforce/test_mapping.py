"""The admin-configurable field map: defaults, overrides, directions, conversions."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from integrations.salesforce import mapping
from integrations.salesforce.mapping import FieldMapping, MappingError, Skip


def test_defaults_pull_crm_fields_and_push_the_score_fields():
    """Out of the box: segment, plan, MRR, owner, renewal date in; the seven scores out."""
    built = {m.hub: m for m in mapping.build(None)}
    assert built["mrr"] == FieldMapping("mrr", "MRR__c", "pull")
    assert built["owner_email"].salesforce == "Owner.Email"
    pushed = {m.salesforce for m in mapping.pushed(built.values())}
    assert pushed == set(mapping.HEALTH_FIELDS.values())


def test_admin_entries_replace_defaults_per_hub_field():
    """An entry for a hub field replaces its default; ``off`` drops it."""
    built = {
        m.hub: m
        for m in mapping.build(
            [
                {"hub": "mrr", "salesforce": "ARR__c", "direction": "both"},
                {"hub": "plan", "salesforce": "Plan__c", "direction": "off"},
                {"hub": "health_reasons", "salesforce": "Health_Reasons__c", "direction": "off"},
            ]
        )
    }
    assert built["mrr"] == FieldMapping("mrr", "ARR__c", "both")
    assert "plan" not in built and "health_reasons" not in built
    assert built["mrr"] in mapping.pushed(built.values())


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"hub": "health_score", "salesforce": "Health_Score__c", "direction": "pull"}, "score"),
        ({"hub": "colour", "salesforce": "Colour__c", "direction": "pull"}, "unknown hub field"),
        ({"hub": "owner_email", "salesforce": "Owner.Email", "direction": "both"}, "relation"),
        ({"hub": "plan", "salesforce": "Plan c; DROP", "direction": "pull"}, "API name"),
        ({"hub": "plan", "salesforce": "Plan__c", "direction": "sideways"}, "direction"),
    ],
)
def test_unusable_entries_are_refused(entry, message):
    """Scores are never pulled; unknown fields, bad names and directions are refused."""
    with pytest.raises(MappingError, match=message):
        mapping.build([entry])


def test_pulled_drops_fields_the_org_lacks():
    """A mapped field missing from the org's describe is left out; relations need the lookup."""
    active = mapping.pulled(mapping.build(None), {"Name", "Website", "OwnerId", "MRR__c"})
    assert {m.salesforce for m in active} == {"Name", "Website", "OwnerId", "Owner.Email", "MRR__c"}
    assert len(mapping.pulled(mapping.build(None), None)) == 8  # unknown: ask for all


def test_conversions():
    """Pulled values are normalised into the hub's vocabulary or skipped with a reason."""
    convert = mapping.PULL_CONVERTERS
    assert convert["domain"]("https://www.Acme-Mining.io/about") == "acme-mining.io"
    assert convert["segment"]("Mining Farm") == "mining_farm"
    with pytest.raises(Skip):
        convert["segment"]("Enterprise")
    assert convert["mrr"]("1250.50") == 1250.5
    assert convert["renewal_date"]("2027-01-31") == date(2027, 1, 31)
    assert convert["owner_email"](" Rep@Acme.COM ") == "rep@acme.com"
    record = {"Owner": {"attributes": {"type": "User"}, "Email": "a@b.c"}, "Name": "X"}
    assert FieldMapping("owner_email", "Owner.Email", "pull").read(record) == "a@b.c"
    assert FieldMapping("owner_email", "Owner.Email", "pull").read({"Owner": None}) is None


def test_push_values_are_salesforce_json():
    """Datetimes go out as Salesforce datetimes, dates as ISO dates."""
    stamp = datetime(2026, 11, 24, 8, 30, 5, tzinfo=UTC)
    assert mapping.push_value("last_scored", stamp) == "2026-11-24T08:30:05.000Z"
    assert mapping.push_value("renewal_date", date(2027, 1, 1)) == "2027-01-01"
    assert mapping.push_value("mrr", 10.5) == 10.5
