"""Fixtures for the Salesforce unit tests (HTTP faked with ``responses``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import responses

from hub.config import Config
from integrations.salesforce.client import SalesforceClient
from integrations.salesforce.settings import SalesforceSettings, resolve
from tests.integrations.salesforce import sfdocs


def values(**overrides: Any) -> dict[str, Any]:
    base = {
        "auth_flow": "client_credentials",
        "login_url": sfdocs.LOGIN,
        "client_id": "3MVG9client",
        "client_secret": "s3cret",
        "api_version": sfdocs.VERSION,
        "backoff_base_s": 0.5,
        "backoff_max_s": 4.0,
        "bulk_poll_s": 0.01,
    }
    base.update(overrides)
    return base


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def make_client(sleeps: list[float]) -> Callable[..., SalesforceClient]:
    """A client on ``values(**overrides)`` whose backoff sleeps are recorded, not slept."""
    made: list[SalesforceClient] = []

    def make(*, ca_bundle: str = "", **overrides: Any) -> SalesforceClient:
        settings: SalesforceSettings = resolve(
            values(**overrides), Config(requests_ca_bundle=ca_bundle)
        )
        client = SalesforceClient(settings, sleep=sleeps.append)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def sf_http():
    """``responses`` with the token endpoint answering the documented body."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.post(sfdocs.TOKEN_URL, json=sfdocs.token())
        yield mock
