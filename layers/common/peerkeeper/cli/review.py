"""A reviewed plan (``plan --out FILE``, or the one shown before ``apply`` asks) and applying only it.

``apply --plan FILE`` plans again against the world as it is now and keeps, of each fresh plan, only
the actions the reviewed plan holds: a reviewed action the world no longer needs is *stale* (skipped
and reported), and an action the world needs now that nobody reviewed (a route table created since)
is not taken. So it never does more than was reviewed, nor anything the current policy would not do.

An action is the same action when its account, region, concern, kind and API arguments are the
same (the flow logs' ``ClientToken`` aside: it is new for every run). A batch (``CreateFlowLogs``
names up to 1,000 VPCs) is matched VPC by VPC: of a reviewed batch, the VPCs still without a flow log
are done, the others are stale, and a VPC the review did not name is left.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from peerkeeper.cli.common import ACCOUNT_ID, SKIPPED, UsageError
from peerkeeper.model import Action, Plan

# Arguments that differ between two runs of the same action.
_VOLATILE = frozenset({"ClientToken"})
_BATCH = "ResourceIds"

STALE = "no longer wanted: the current state does not need it"
NOT_CHECKED = "not checked: its account or region could not be read"

Key = tuple[str, str, str, str, str, str]  # account, region, concern, kind, arguments, batch member


def _keys(account_id: str, concern: str, kind: str, region: str, params: Mapping[str, Any]) -> list[Key]:
    arguments = {name: value for name, value in params.items() if name not in _VOLATILE and name != _BATCH}
    text = json.dumps(arguments, sort_keys=True, default=str)
    members = params.get(_BATCH)
    if isinstance(members, list):
        return [(account_id, region, concern, kind, text, str(member)) for member in members]
    return [(account_id, region, concern, kind, text, "")]


@dataclass(frozen=True)
class Reviewed:
    """One reviewed action, as the plan document gave it (for the report of a stale one)."""

    account_id: str
    concern: str
    action: Mapping[str, Any]


def _actions(doc: Mapping[str, Any]) -> Iterable[tuple[str, str, Mapping[str, Any]]]:
    """(account, concern, action) of a single account's plan document or of a fleet's."""
    entries = doc.get("entries", [doc])
    for entry in entries:
        for concern, group in entry["concerns"].items():
            for action in group["actions"]:
                yield str(entry["account"]), str(concern), action


@dataclass
class Selection:
    """The reviewed actions, and which of them the fresh plans still want (filled while applying)."""

    reviewed: dict[Key, Reviewed]
    accounts: list[str]
    regions: list[str]
    many: bool  # a fleet's plan (--account / --org)
    matched: set[Key] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def of(cls, doc: Mapping[str, Any]) -> Selection:
        reviewed: dict[Key, Reviewed] = {}
        for account_id, concern, action in _actions(doc):
            for key in _keys(account_id, concern, action["kind"], action["region"], action.get("params") or {}):
                reviewed[key] = Reviewed(account_id, concern, action)
        accounts = list(doc.get("accounts") or [doc["account"]])
        return cls(reviewed, accounts, list(doc["regions"]), "entries" in doc)

    def select(self, account_id: str, plan: Plan) -> Plan:
        """``plan`` with only its reviewed actions (a batch narrowed to its reviewed members)."""
        kept: list[Action] = []
        for action in plan.actions:
            keys = _keys(account_id, plan.concern, action.kind, action.region, action.params)
            wanted = [key for key in keys if key in self.reviewed]
            with self._lock:
                self.matched.update(wanted)
            if len(wanted) == len(keys):
                kept.append(action)
            elif wanted:
                members = [key[-1] for key in wanted]
                kept.append(replace(action, resource=",".join(members), params={**action.params, _BATCH: members}))
        return replace(plan, actions=tuple(kept))

    def left(self) -> list[tuple[Reviewed, list[str]]]:
        """Reviewed actions (with the batch members) that no fresh plan wanted, in the review's order."""
        by_action: dict[int, tuple[Reviewed, list[str]]] = {}
        for key, item in self.reviewed.items():
            if key not in self.matched:
                by_action.setdefault(id(item.action), (item, []))[1].append(key[-1])
        return list(by_action.values())

    def check_covered(self, accounts: Iterable[str], regions: Iterable[str]) -> None:
        """Every reviewed action must be in an (account, region) of this run: none is dropped silently."""
        run_accounts, run_regions = set(accounts), set(regions)
        outside = sorted(
            {(item.account_id, key[1]) for key, item in self.reviewed.items()}
            - {(a, r) for a in run_accounts for r in run_regions}
        )
        if outside:
            where = ", ".join(f"{account}/{region}" for account, region in outside)
            raise UsageError(f"the plan has actions in {where}, outside this run: pass the --region/--account of plan")


def load(path: str) -> Selection:
    """A plan document written by ``plan --out`` (or ``plan --json``), read and checked."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise UsageError(f"cannot read {path}: {error.strerror or error}") from error
    except ValueError as error:
        raise UsageError(f"{path} is not a plan: not JSON ({error})") from error
    try:
        if doc.get("command") != "plan":
            raise UsageError(f"{path} is not a plan: write one with peerkeeper plan --out {path}")
        selection = Selection.of(doc)
    except (AttributeError, KeyError, TypeError) as error:
        raise UsageError(f"{path} is not a plan document: {error!r} is missing or malformed") from error
    for account_id in selection.accounts:
        if not ACCOUNT_ID.fullmatch(account_id):
            raise UsageError(f"{path} names an invalid account ID {account_id!r}")
    return selection


def _entry(doc: dict[str, Any], account_id: str, region: str) -> dict[str, Any] | None:
    if "entries" not in doc:
        return doc if doc["account"] == account_id else None
    return next((e for e in doc["entries"] if e["account"] == account_id and e["region"] == region), None)


def _planned_again(entry: Mapping[str, Any] | None, region: str) -> bool:
    """The (account, region) was read and planned (an unreachable account's entry has no concerns)."""
    if entry is None or not entry["concerns"]:
        return False
    return not any(str(error).startswith(f"{region}: ") for error in entry["errors"])


def report_left(doc: dict[str, Any], selection: Selection) -> int:
    """Add each reviewed action not taken to ``doc`` (an apply document) as skipped; how many were stale.

    Stale when its (account, region) was planned again and did not want it; otherwise the region
    could not be read (the run reports that error) and the action was not checked.
    """
    stale = 0
    for item, members in selection.left():
        action = dict(item.action)
        if members != [""]:
            action["params"] = {**action.get("params", {}), _BATCH: members}
            action["resource"] = ",".join(members)
        entry = _entry(doc, item.account_id, action["region"])
        checked = _planned_again(entry, action["region"])
        action.update(outcome=SKIPPED, stale=checked, note=STALE if checked else NOT_CHECKED)
        stale += checked
        if entry is None:
            continue  # the account could not be entered: reported among the unreachable
        group = entry["concerns"].setdefault(
            item.concern, {"actions": [], "refused": [], "conflicts": [], "problems": []}
        )
        group["actions"].append(action)
        entry["counts"]["actions"] += 1
    if "entries" in doc:
        doc["counts"]["actions"] = sum(e["counts"]["actions"] for e in doc["entries"])
    return stale
