"""End-to-end Salesforce tests: the HTTPS fake, trusted through the configured CA bundle."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest

from hub.config import Config
from tests.fakes.salesforce import FakeSalesforce


@pytest.fixture
def fake() -> Iterator[FakeSalesforce]:
    with FakeSalesforce() as server:
        yield server


@pytest.fixture
def config(config: Config, fake: FakeSalesforce) -> Config:
    """The test config, trusting the fake's CA (as REQUESTS_CA_BUNDLE would)."""
    return replace(config, requests_ca_bundle=fake.ca_path)


@pytest.fixture
def configure(client, admin_headers, fake):
    """Save the integration settings through the admin API (as an admin would)."""

    def save(**overrides):
        resp = client.put(
            "/api/integrations/salesforce", headers=admin_headers, json=fake.settings(**overrides)
        )
        assert resp.status_code == 200, resp.json
        return resp.json

    return save
