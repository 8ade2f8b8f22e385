"""Webhook tests run with every receiver's secret configured from the environment fields."""

from __future__ import annotations

import pytest

from tests.webhooks.helpers import SECRETS


@pytest.fixture
def config(config):
    return config.with_overrides(SECRETS)
