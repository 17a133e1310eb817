"""Shared fixtures: a clean AWS (moto) per test, a fake Lambda context, events/ loading, a lab.

Every test starts with the caches of settings and clients cleared, so nothing leaks between tests
and moto intercepts every client (clients are created lazily, after ``mock_aws`` starts).
Helpers live in ``tests/support.py``.

Hypothesis profiles (``HYPOTHESIS_PROFILE``): ``quick`` (the default, ``make test``: 100 examples per
property) and ``full`` (``make fuzz``: 500).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest
from hypothesis import settings
from moto import mock_aws

from peerkeeper.cli.demo import emulator as demo_emulator
from peerkeeper.clients import default_clients
from tests.support import (
    BASE_ENV,
    CONTRACT_VARS,
    CallRecorder,
    FakeContext,
    Lab,
    build_vpc,
    clear_caches,
    ec2_client,
    reset_emulator,
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The slow end-to-end tests first: pytest-xdist hands tests out in this order, so the long ones
    start at once on every worker and the short ones fill in around them (no long tail at the end)."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


settings.register_profile("quick", max_examples=100)
settings.register_profile("full", max_examples=500)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "quick"))


@pytest.fixture(autouse=True)
def _environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in CONTRACT_VARS:
        monkeypatch.delenv(name, raising=False)
    for name, value in BASE_ENV.items():
        monkeypatch.setenv(name, value)
    clear_caches()
    yield
    clear_caches()


@pytest.fixture
def configure(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Set contract variables for this test (``configure(PEERKEEPER_MODE="dry-run")``)."""

    def _configure(**variables: str) -> None:
        for name, value in variables.items():
            monkeypatch.setenv(name, value)
        clear_caches()

    return _configure


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        clear_caches()
        yield
    clear_caches()


@pytest.fixture
def lambda_context() -> FakeContext:
    return FakeContext()


@pytest.fixture
def calls(aws: None) -> CallRecorder:
    """Records the calls of peerkeeper's default clients (the ones handlers use)."""
    recorder = CallRecorder()
    default_clients().session.events.register("before-call", recorder)
    return recorder


@pytest.fixture
def lab(aws: None) -> Lab:
    ec2 = ec2_client()
    web_vpc, web_tables, web_subnet = build_vpc(ec2, "10.0.0.0/16", "web-vpc")
    api_vpc, api_tables, api_subnet = build_vpc(ec2, "10.1.0.0/16", "api-vpc")
    return Lab(web_vpc, api_vpc, web_tables, api_tables, web_subnet, api_subnet)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """moto's server on a free loopback port, one per test module (for commands run as a user would)."""
    with demo_emulator.emulator() as endpoint:
        yield endpoint


@pytest.fixture
def endpoint(server: str) -> str:
    """The server, emptied: every test starts from a fresh AWS."""
    return reset_emulator(server)
