"""Races (two invocations at once) and at-least-once delivery (every event three times)."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

from peerkeeper.observability import metrics
from tests.reliability.conftest import ALL_EVENTS, flow_logs, function_of, record_sets
from tests.support import ec2_client, handler, peering_status, routes_of


def snapshot(world) -> dict[str, Any]:
    """Everything peerkeeper could change, in comparable form."""
    ec2, lab = ec2_client(), world.lab
    tables = lab.tables + world.db_tables
    return {
        "routes": {table: routes_of(ec2, table) for table in tables},
        "peerings": {pcx: peering_status(ec2, pcx) for pcx in (world.pcx, world.db_pcx)},
        "records": sorted(record_sets(world.zone_id)),
        "flow_logs": sorted(fl["FlowLogId"] for fl in flow_logs()),
    }


def test_two_simultaneous_invocations_converge_to_one_route_per_table_and_destination(world, calls, lambda_context):
    """Both invocations observe, then both wait at a barrier before their first CreateRoute, so both
    apply the same plan at the same moment: one creates each route, the other hears RouteAlreadyExists."""
    ec2 = ec2_client()
    ec2.accept_vpc_peering_connection(VpcPeeringConnectionId=world.pcx)
    event = world.event("repair_routes__AcceptVpcPeeringConnection")
    repair = handler("repair_routes")
    barrier, seen = threading.Barrier(2, timeout=30), threading.local()

    def meet_before_first_write(model: Any, **_: Any) -> None:
        if model.name == "CreateRoute" and not getattr(seen, "met", False):
            seen.met = True
            barrier.wait()

    from peerkeeper.clients import default_clients

    default_clients().session.events.register("before-call", meet_before_first_write)
    results: list[dict[str, Any]] = []
    errors: list[BaseException] = []

    def invoke() -> None:
        try:
            results.append(repair(event, lambda_context))
        except BaseException as error:  # any error at all must fail the test, with its traceback kept
            errors.append(error)

    threads = [threading.Thread(target=invoke) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert errors == []
    assert len(results) == 2
    outcomes = Counter(
        (a["resource"], a["outcome"]) for r in results for a in r["actions"] if a["kind"] == "create-route"
    )
    for table in world.lab.tables:  # each table: created once, found already there once
        assert outcomes[(table, "done")] + outcomes[(table, "converged")] == 2, table
        assert outcomes[(table, "done")] >= 1, table
    assert sum(outcomes[(t, "converged")] for t in world.lab.tables) >= 1  # the race really happened
    for table in world.lab.web_tables:
        routes = ec2.describe_route_tables(RouteTableIds=[table])["RouteTables"][0]["Routes"]
        assert [r.get("DestinationCidrBlock") for r in routes].count("10.1.0.0/16") == 1
    metrics.clear_metrics()


def test_every_event_delivered_three_times_gives_one_end_state_and_no_extra_mutating_call(world, calls, lambda_context):
    extra: dict[str, list[str]] = {}
    for name in ALL_EVENTS:
        event, function = world.event(name), function_of(name)
        handler(function)(event, lambda_context)
        after_first = snapshot(world)
        calls.clear()
        for _ in range(2):
            handler(function)(event, lambda_context)
        if calls.mutating:
            extra[name] = calls.mutating
        assert snapshot(world) == after_first, name

    assert extra == {}
    print(f"replays: {len(ALL_EVENTS)} events x 3 deliveries, 0 extra mutating calls")  # noqa: T201
