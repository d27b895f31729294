"""Shared fixtures: real services, addressed by environment variables.

Tests that need RabbitMQ or Redis are marked (``-m "not rabbitmq"`` deselects them);
they are never skipped silently: if the service does not answer, they fail.
"""

from __future__ import annotations

import os
from typing import Iterator

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


POSTGRES_URL = os.environ.get("ALCYON_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a schema of its own, dropped after the test."""
    import uuid

    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in POSTGRES_URL else "?"
    yield f"{POSTGRES_URL}{sep}options=-csearch_path%3D{schema}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


MQTT_URL = os.environ.get("ALCYON_TEST_MQTT_URL", "mqtt://127.0.0.1:1883")


@pytest.fixture
def mqtt_url() -> str:
    return MQTT_URL
