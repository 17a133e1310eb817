"""Tell operators what an invocation did: one SNS message per invocation that acted or refused.

Optional: only when ``PEERKEEPER_NOTIFY_TOPIC_ARN`` is set. Choices, and why:

- **One message per invocation**, listing every action (with its outcome), every refused request
  and every conflict, rather than one message per action. A sweep that repairs 300 routes should not
  make 300 ``Publish`` calls (SNS throttles, and each call costs the function time); one message
  also keeps what one event caused together, with the correlation id operators find in the logs.
  Only when the list does not fit in SNS's 256 KB limit is it split, into numbered parts.
- **Nothing is published when nothing happened** (no action, no refusal, no conflict): a replayed
  event or a self-triggered follow-up stays silent.
- **Dry-run publishes too**, with ``mode`` = ``dry-run``: a plan is what operators want to read
  before switching to ``enforce``. ``Publish`` changes no resource peerkeeper manages.
- **A failed publish does not fail the invocation.** The reconcile already happened; raising would
  make EventBridge retry, and the retry, finding nothing left to do, would publish nothing: the
  message would be lost all the same, plus a dead-letter entry for a converged event. Instead the
  whole summary is logged with the error, ``NotificationFailed`` is counted (an alarm can watch it),
  and the summary says ``notification: failed``. Throttling is retried by botocore first.

- **A refused request is told once**, not on every sweep for the 7 days it stays pending (96
  messages a day each at the default schedule). Its event tells it (a request made in this account
  and region: its ``CreateVpcPeeringConnection`` reaches this stack's accept rule); otherwise the
  first sweep after it appeared does. Stateless: a sweep scheduled at ``T`` tells the requests made
  in ``(T - interval, T]``, the interval being ``SweepSchedule``'s rate. Windows of consecutive
  sweeps tile, so each request falls in exactly one; ``T`` is the scheduled event's ``time``, which
  EventBridge's retries and Lambda's keep, so a retried sweep tells the same ones. A request whose
  age is unknown (no ``ExpirationTime``) is told every time: rather twice than never.

- **A conflict is told once too**: when it first appears, and again only after it was resolved
  and came back. Unlike a request, a conflict carries no time in any AWS answer (a route, a CIDR
  block of a connection, a prefix-list entry have no creation date), so a window cannot decide it
  statelessly: what was told is remembered in one DynamoDB item per account and region
  (``PEERKEEPER_CONFLICTS_TABLE``, the template's ``ConflictsToldTable``; a digest of each conflict's
  identity: resource, region and details, not its wording). One ``GetItem`` per invocation that has
  conflicts; an ``UpdateItem`` only when the set changed (``ADD`` the new ones after they were
  published, ``DELETE`` the resolved ones; atomic set operations, so an event's run and the sweep
  never lose each other's writes). Only the sweep, which sees its whole region, forgets resolved
  conflicts, and only when every concern was observed. Without the table (the CLI, a stack without
  a topic) every conflict is told each time, as before. If the item cannot be read, everything is
  told: rather twice than never.

Every message carries attributes (``mode``, ``function``, ``outcome``) for subscription filter
policies, e.g. only ``outcome`` = ``failed``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from peerkeeper.clients import Clients
from peerkeeper.observability import logger, metrics
from peerkeeper.settings import Settings

SNS_MAX_BYTES = 262_144  # message body plus attributes
_BODY_BUDGET = 250_000  # leaves room for attributes, subject and the part envelope
_SUBJECT_MAX = 100
LISTS = ("actions", "refused", "conflicts")
SENT, FAILED = "sent", "failed"


def worth_telling(summary: Mapping[str, Any]) -> bool:
    return any(summary.get(key) for key in LISTS)


def outcome_of(summary: Mapping[str, Any]) -> str:
    """One word for filter policies: failed > applied > planned > refused (nothing applied)."""
    outcomes = {str(action.get("outcome", "")) for action in summary.get("actions", ())}
    if summary.get("failed") or "failed" in outcomes:
        return "failed"
    if outcomes & {"done", "converged", "terminal", "skipped"}:
        return "applied"
    if "planned" in outcomes:
        return "planned"
    return "refused"


def _size(document: Mapping[str, Any]) -> int:
    return len(json.dumps(document, separators=(",", ":"), default=str).encode())


def split(
    envelope: Mapping[str, Any], items: Mapping[str, Sequence[Any]], budget: int = _BODY_BUDGET
) -> list[dict[str, Any]]:
    """The envelope with ``items`` spread over as few documents as fit in ``budget`` bytes each."""
    parts: list[dict[str, Any]] = []
    current: dict[str, Any] = {**envelope, **{key: [] for key in items}}
    base = _size(current) + 40  # the "part"/"parts" keys added below
    used = base
    for key, values in items.items():
        for value in values:
            cost = len(json.dumps(value, separators=(",", ":"), default=str).encode()) + 1  # and its comma
            if used + cost > budget and any(current[k] for k in items):
                parts.append(current)
                current, used = {**envelope, **{k: [] for k in items}}, base
            current[key].append(value if base + cost <= budget else _truncated(value))
            used += cost
    parts.append(current)
    for number, part in enumerate(parts, start=1):
        part.update(part=number, parts=len(parts))
    return parts


def _truncated(value: Any) -> dict[str, Any]:
    """An item that alone exceeds the budget (never seen: reasons are one line) keeps its identity."""
    keep = ("kind", "resource", "region", "outcome") if isinstance(value, Mapping) else ()
    return {**{key: value[key] for key in keep if key in value}, "truncated": True}


def messages(summary: Mapping[str, Any], *, function: str, account: str, region: str) -> list[dict[str, Any]]:
    envelope = {
        "source": "peerkeeper",
        "function": function,
        "account": account,
        "region": region,
        "mode": summary.get("mode", ""),
        "outcome": outcome_of(summary),
        "scope": summary.get("scope", {}),
    }
    for key in ("failed", "errors", "remaining"):
        if key in summary:
            envelope[key] = summary[key]
    return split(envelope, {key: list(summary.get(key) or ()) for key in LISTS})


def _subject(message: Mapping[str, Any]) -> str:
    counts = ", ".join(f"{len(message[key])} {key}" for key in LISTS if message[key])
    part = f" ({message['part']}/{message['parts']})" if message["parts"] > 1 else ""
    text = f"peerkeeper {message['function']} [{message['mode']}] {message['outcome']}: {counts}{part}"
    return text.encode("ascii", "replace").decode()[:_SUBJECT_MAX]


def _publish_args(topic_arn: str, message: Mapping[str, Any]) -> dict[str, Any]:
    body = json.dumps(message, separators=(",", ":"), default=str)
    args: dict[str, Any] = {
        "TopicArn": topic_arn,
        "Subject": _subject(message),
        "Message": body,
        "MessageAttributes": {
            key: {"DataType": "String", "StringValue": str(message[key]) or "-"}
            for key in ("mode", "function", "outcome")
        },
    }
    if topic_arn.endswith(".fifo"):
        args["MessageGroupId"] = str(message["function"]) or "peerkeeper"
        args["MessageDeduplicationId"] = hashlib.sha256(body.encode()).hexdigest()[:64]
    return args


def _instant(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def sweep_tells(
    finding: Mapping[str, Any], *, window_end: datetime, interval: timedelta, account: str, region: str
) -> bool:
    """Whether the sweep scheduled at ``window_end`` is the one to tell this refused request."""
    requested_at = _instant(finding.get("requested_at"))
    if requested_at is None:
        return True  # age unknown: telling again beats never telling
    requester_account = str(finding.get("requester", "")).split("/", 1)[0]
    if requester_account == account and finding.get("requester_region") == region:
        return False  # its own CreateVpcPeeringConnection event reached this stack, which told it
    return window_end - interval < requested_at <= window_end


def as_sweep_tells(summary: Mapping[str, Any], event: Any, settings: Settings, account: str) -> Mapping[str, Any]:
    """``summary`` with only the refusals this sweep is the one to tell (all when no schedule is set)."""
    if settings.sweep_interval is None or not summary.get("refused"):
        return summary
    scheduled = event.get("time") if isinstance(event, Mapping) else None
    window_end = _instant(scheduled) or datetime.now(UTC)
    interval = timedelta(seconds=settings.sweep_interval)
    refused = [
        finding
        for finding in summary["refused"]
        if sweep_tells(finding, window_end=window_end, interval=interval, account=account, region=settings.region)
    ]
    told = {key: value for key, value in summary.items() if key != "refused"}
    if refused:
        told["refused"] = refused
    return told


def conflict_key(finding: Mapping[str, Any]) -> str:
    """A conflict's identity, not its wording: the same conflict keeps its key while it lasts."""
    identity = {key: value for key, value in finding.items() if key != "reason"}
    return hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()[:24]


class ConflictMemory:
    """Which conflicts were told already (notify once); see the module's docstring."""

    def __init__(self, settings: Settings, clients: Clients, account: str, *, whole_region: bool) -> None:
        self.settings, self.clients, self.account, self.whole_region = settings, clients, account, whole_region
        self.new: dict[str, set[str]] = {}  # region -> keys to remember once told
        self.gone: dict[str, set[str]] = {}  # region -> keys resolved since

    @property
    def enabled(self) -> bool:
        return bool(self.settings.conflicts_table and self.settings.notify_topic_arn)

    def _item_key(self, region: str) -> dict[str, Any]:
        return {"scope": {"S": f"{self.account}/{region}"}}

    def _told(self, region: str) -> set[str]:
        table = self.clients.dynamodb(self.settings.region)
        item = table.get_item(TableName=self.settings.conflicts_table, Key=self._item_key(region), ConsistentRead=True)
        return set(item.get("Item", {}).get("told", {}).get("SS", []))

    def to_tell(self, summary: Mapping[str, Any]) -> Mapping[str, Any]:
        """``summary`` with only the conflicts not told before (all of them when memory is off or unreadable)."""
        if not self.enabled:
            return summary
        by_region: dict[str, dict[str, Mapping[str, Any]]] = {}
        for finding in summary.get("conflicts") or ():
            by_region.setdefault(str(finding.get("region", "")), {})[conflict_key(finding)] = finding
        if self.whole_region:
            by_region.setdefault(self.settings.region, {})
        fresh: list[Mapping[str, Any]] = []
        for region, current in sorted(by_region.items()):
            try:
                before = self._told(region)
            except (ClientError, BotoCoreError) as error:
                logger.warning("conflict memory unreadable", extra={"error": str(error)})
                metrics.add_metric(name="NotificationMemoryFailed", unit="Count", value=1)
                return summary
            self.new[region] = set(current) - before
            fresh += [finding for key, finding in current.items() if key in self.new[region]]
            if self.whole_region and region == self.settings.region and _saw_everything(summary):
                self.gone[region] = before - set(current)
        told = {key: value for key, value in summary.items() if key != "conflicts"}
        if fresh:
            told["conflicts"] = fresh
        return told

    def remember(self) -> None:
        """After the message went out: the new conflicts are told, the resolved ones forgotten."""
        changes = [
            (region, expression, keys)
            for region in sorted(set(self.new) | set(self.gone))
            for expression, keys in (
                ("ADD told :keys", self.new.get(region)),
                ("DELETE told :keys", self.gone.get(region)),
            )
            if keys
        ]
        for region, expression, keys in changes:
            try:
                self.clients.dynamodb(self.settings.region).update_item(
                    TableName=self.settings.conflicts_table,
                    Key=self._item_key(region),
                    UpdateExpression=expression,
                    ExpressionAttributeValues={":keys": {"SS": sorted(keys)}},
                )
            except (ClientError, BotoCoreError) as error:
                logger.warning("conflict memory not written", extra={"error": str(error)})
                metrics.add_metric(name="NotificationMemoryFailed", unit="Count", value=1)


def _saw_everything(summary: Mapping[str, Any]) -> bool:
    """A run that could not observe a concern (or ran out of time) does not know what was resolved."""
    problems = summary.get("problems") or ()
    blind = any("observe failed" in str(p.get("reason", "")) for p in problems)
    return not (blind or summary.get("deadline") or summary.get("errors"))


def topic_region(topic_arn: str) -> str:
    return topic_arn.split(":")[3]


def notify(
    settings: Settings, clients: Clients, summary: Mapping[str, Any], *, function: str, account: str
) -> str | None:
    """Publish ``summary`` to the topic; ``None`` when there is no topic or nothing to tell."""
    topic = settings.notify_topic_arn
    if not topic or not worth_telling(summary):
        return None
    sns = clients.sns(topic_region(topic))
    try:
        for message in messages(summary, function=function, account=account, region=settings.region):
            sns.publish(**_publish_args(topic, message))
    except (ClientError, BotoCoreError) as error:
        logger.error("notification failed", extra={"topic": topic, "error": str(error), "summary": dict(summary)})
        metrics.add_metric(name="NotificationFailed", unit="Count", value=1)
        return FAILED
    metrics.add_metric(name="NotificationSent", unit="Count", value=1)
    return SENT
