"""Shared fixtures: real services, addressed by environment variables.

Tests that need RabbitMQ or Redis are marked (``-m "not rabbitmq"`` deselects them);
they are never skipped silently: if the service does not answer, they fail.
"""

from __future__ import annotations

import os

import pytest

BROKER_URL = os.environ.get("ALCYON_TEST_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672/")
REDIS_URL = os.environ.get("ALCYON_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
def broker_url() -> str:
    return BROKER_URL


@pytest.fixture
def redis_url() -> str:
    return REDIS_URL


@pytest.fixture(params=["embedded", pytest.param("rabbitmq", marks=pytest.mark.rabbitmq)])
def mode_url(request: pytest.FixtureRequest) -> str:
    """The broker URL of each mode: '' (embedded) and the real RabbitMQ. Routing suites run on both."""
    return "" if request.param == "embedded" else BROKER_URL
