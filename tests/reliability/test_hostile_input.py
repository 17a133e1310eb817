"""Hostile and malformed events: 100 per handler in ``make test``, 500 in ``make fuzz`` (the hypothesis
profile, tests/conftest.py), built by hypothesis from the real shapes in events/.

Each example starts from a sample event of any function (so handlers also get events meant for
others), with the sample ids replaced by the lab's, then applies 1 to 6 mutations anywhere in it:
a key removed, a value replaced by null / a number / a boolean / unicode text / a huge list / a
nested object, an id swapped for an id of another kind (a route table where a VPC is expected...),
a failed call (``errorCode``), lists wrapped as ``{"items": [...]}`` or emptied to ``{}`` / ``""``.

Runs against moto with a small lab that peerkeeper has already converged, plus a *bystander* pair of
VPCs, peered and unrouted, whose ids no event carries. So for the four event handlers, a mutating
call is one the event did not lead to, unless the event's scope is the whole region (events.py maps
a DeleteFlowLogs call to the whole region, whatever function receives it): those examples are
counted, and the others must make no mutating call at all.

The sweep reconciles its whole region whatever the event says, so its fuzz runs in a region that
holds only moto's default VPC, converged once first (a lab there would make each example a full
reconcile: 70 s for 500); every example must then make no mutating call either.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from peerkeeper.observability import metrics
from tests.reliability.conftest import ALL_EVENTS, FUNCTIONS, World, build_world
from tests.support import SAMPLE_IDS, build_vpc, clear_caches, ec2_client, handler, load_event, request_peering


def examples() -> int:
    """The example budget of the loaded hypothesis profile (tests/conftest.py)."""
    return settings().max_examples


Path = tuple[Any, ...]


def paths(value: Any, prefix: Path = ()) -> Iterator[Path]:
    """Every key / index path of a JSON value (the root included)."""
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value[:20]):
            yield from paths(item, (*prefix, index))


def at(value: Any, path: Path) -> Any:
    for key in path:
        value = value[key]
    return value


def junk(ids: list[str]) -> st.SearchStrategy[Any]:
    text = st.text(max_size=40)  # any unicode, surrogates excluded by JSON anyway
    return st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**63), max_value=2**63),
        st.floats(allow_nan=True, allow_infinity=True),
        text,
        st.sampled_from(ids),  # a real id, probably of the wrong kind for this place
        st.sampled_from(
            ["vpc-", "pcx-zz", "rtb-" + "0" * 40, "Z" * 40, "/hostedzone/", "arn:aws:x", "\u0000", "ü" * 300]
        ),
        st.lists(st.sampled_from(ids) | text, max_size=8),
        st.builds(lambda n, v: [v] * n, st.integers(1000, 20000), st.sampled_from(ids)),  # huge lists
        st.dictionaries(text, text | st.none(), max_size=3),
        st.just({}),
        st.just(""),
        st.builds(lambda v: {"items": [v]}, text | st.sampled_from(ids)),
        st.builds(lambda v: {"content": v, "tag": 1}, st.sampled_from(ids)),
    )


def mutate(data: st.DataObject, event: dict[str, Any], ids: list[str]) -> dict[str, Any]:
    for _ in range(data.draw(st.integers(1, 6), label="mutations")):
        path = data.draw(st.sampled_from(list(paths(event))), label="path")
        kind = data.draw(
            st.sampled_from(["delete", "delete", "replace", "replace", "replace", "error", "wrap"]), label="kind"
        )
        if not path:
            if kind == "replace":
                event = data.draw(junk(ids), label="root")
                if not isinstance(event, dict):
                    return event  # a non-object event, on purpose
            continue
        parent, key = at(event, path[:-1]), path[-1]
        if kind == "delete" and isinstance(parent, dict):
            del parent[key]
        elif kind == "error" and isinstance(event.get("detail"), dict):
            event["detail"]["errorCode"] = data.draw(
                st.sampled_from(["Client.UnauthorizedOperation", "AccessDenied", "Server.InternalError", ""])
                | st.text()
            )
            event["detail"]["responseElements"] = None
        elif kind == "wrap":
            parent[key] = {"items": [parent[key]]}
        else:
            parent[key] = data.draw(junk(ids), label="value")
    return event


@pytest.fixture
def fuzz_world(lab, configure, lambda_context):
    """The lab, converged by the sweep, then a bystander pair peered behind peerkeeper's back."""
    configure(DNS_RECORDS="api.elb.lab.private=api-elb", FLOW_LOG_GROUP="flow-logs-group")
    world = build_world(lab)
    handler("sweep")({"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}, lambda_context)
    ec2 = ec2_client()
    left, left_tables, _ = build_vpc(ec2, "10.40.0.0/16", "bystander-left")
    right, right_tables, _ = build_vpc(ec2, "10.41.0.0/16", "bystander-right")
    ec2.accept_vpc_peering_connection(VpcPeeringConnectionId=request_peering(ec2, left, right))
    world.bystander_tables = left_tables + right_tables  # type: ignore[attr-defined]
    clear_caches()  # a cold start: clients made after this see the test's call recorder
    return world


@pytest.fixture
def empty_region(aws, lambda_context):
    """For the sweep: a region with only moto's default VPC, converged once before the fuzz."""
    handler("sweep")({}, lambda_context)
    clear_caches()


def run_fuzz(function: str, world: World | None, calls, context, data: st.DataObject, stats: dict[str, Any]) -> None:
    name = data.draw(st.sampled_from(ALL_EVENTS), label="sample")
    if world is None:
        event, ids = load_event(name), sorted(SAMPLE_IDS.values())
    else:
        event, ids = world.event(name), sorted(set(world.ids().values()) | set(world.lab.tables))
    event = mutate(data, event, ids)
    json.dumps(event)  # stays a JSON document, as EventBridge delivers
    calls.clear()
    summary = handler(function)(event, context)
    metrics.clear_metrics()
    assert isinstance(summary, dict)
    assert "mode" in summary
    assert isinstance(summary["actions"], list)
    json.dumps(summary)
    stats["examples"] += 1
    stats["ignored"] += "ignored" in summary
    if function != "sweep" and summary.get("scope", {}).get("whole_region"):
        stats["whole_region"] += 1
        return
    assert calls.mutating == [], (name, event, summary)


@pytest.mark.parametrize("function", FUNCTIONS)
def test_hostile_events_never_raise_and_touch_nothing_they_do_not_lead_to(function, request, lambda_context):
    fuzz_world = request.getfixturevalue("empty_region" if function == "sweep" else "fuzz_world")
    calls = request.getfixturevalue("calls")
    stats: dict[str, Any] = {"examples": 0, "ignored": 0, "whole_region": 0}
    started = time.monotonic()

    budget = examples()

    @settings(
        max_examples=budget,
        deadline=None,
        derandomize=True,  # the same events on every run and machine
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
        database=None,
    )
    @given(data=st.data())
    def fuzz(data: st.DataObject) -> None:
        run_fuzz(function, fuzz_world, calls, lambda_context, data, stats)

    fuzz()

    assert stats["examples"] >= budget
    print(  # noqa: T201
        f"fuzz {function}: {stats['examples']} events, {stats['ignored']} ignored as unknown/failed/"
        f"malformed, {stats['whole_region']} whole-region, {time.monotonic() - started:.1f}s"
    )
