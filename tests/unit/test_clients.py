"""Clients: the region's EC2 client is made while STS answers who we are (not a timed test)."""

from __future__ import annotations

from typing import Any

import pytest

from peerkeeper.clients import Clients

REGION = "us-east-1"


@pytest.mark.usefixtures("aws")
def test_asking_the_account_also_makes_the_regions_ec2_client_and_it_is_the_one_used():
    clients = Clients()
    made: list[str] = []

    def created(**kwargs: Any) -> None:
        made.append(kwargs["event_name"].rsplit(".", 1)[-1])

    clients.session.events.register("creating-client-class", created)

    assert clients.account_id(REGION) == "123456789012"
    assert sorted(made) == ["ec2", "sts"]

    clients.ec2(REGION).describe_vpcs()

    assert sorted(made) == ["ec2", "sts"]  # no second EC2 client
