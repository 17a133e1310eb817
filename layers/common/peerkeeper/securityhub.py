"""AWS Security Hub: every refusal, conflict and problem as an ASFF finding, archived once resolved.

Optional: only when ``SECURITY_HUB=true``. After each reconcile the handler calls :func:`publish`,
which does what the rest of peerkeeper does, on findings: observe (``GetFindings``: peerkeeper's own
active findings in this account and region), plan (pure: :func:`plan_sync`), apply
(``BatchImportFindings``, at most 100 findings a call). Choices, and why:

- **One finding per resource and kind, for as long as the issue lasts.** The finding id is
  ``peerkeeper/<account>/<region>/<concern>/<refused|conflict|problem>/<resource>`` (plus the
  destination CIDR for a route conflict, since one table can conflict on several): no reason text,
  no timestamp, so a sweep every 15 minutes updates the same finding instead of piling up copies.
  A refused request whose reason changes (another account, then overlapping CIDRs) stays one
  finding, with the new description.
- **Imported only when something changed**, or when the finding was last updated more than a day
  ago. Every import is an ingestion event (billed) and a "Security Hub Findings - Imported" event
  in EventBridge that ticketing and chat automations react to: re-importing unchanged findings every
  sweep would page people for nothing. The daily refresh keeps ``LastObservedAt`` honest and the
  finding far from Security Hub's 90-day retention. ``CreatedAt`` and ``FirstObservedAt`` are kept
  from the first import; ``UpdatedAt`` always moves forward (Security Hub ignores an update that
  does not).
- **Archived (``RecordState=ARCHIVED``) when a reconcile responsible for it no longer reports it.**
  The sweep sees the whole region: it archives any finding it no longer reports. An event handler
  sees only the resources its event names: it archives only findings about those resources, and
  only for the concerns it ran (a connection's refusal when the event names that connection; a
  route-table conflict when the event names the table, its connection or the resource itself; a
  DNS finding when the event names its load balancer). A concern that could not be observed
  archives nothing: absence of evidence is not resolution.
- **One stack, one region's findings.** A finding is imported by the stack of the region its
  resource is in (the contract deploys one stack per region): a cross-region event does not make a
  second copy that the other region's sweep would then fight over. Security Hub's cross-region
  aggregation shows them all in one place.
- **A failure never fails the reconcile.** The changes are made; raising would make EventBridge
  retry a converged event. The error is logged, ``SecurityHubImportFailed`` is counted (per
  finding not imported), and the summary says so. If the existing findings cannot be listed,
  nothing is imported (``CreatedAt`` would be lost) and nothing is archived: the next run catches up.
- **Dry-run imports too**: a refusal is a fact about the world, not an action.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import BotoCoreError, ClientError

from peerkeeper.clients import Clients
from peerkeeper.events import Scope
from peerkeeper.model import Finding
from peerkeeper.observability import logger, metrics
from peerkeeper.partitions import partition_of
from peerkeeper.reconcile import Report
from peerkeeper.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_securityhub import SecurityHubClient
    from mypy_boto3_securityhub.type_defs import AwsSecurityFindingFiltersTypeDef, AwsSecurityFindingUnionTypeDef

SCHEMA_VERSION = "2018-10-08"
PRODUCT_NAME = "peerkeeper"
GENERATOR_PREFIX = "peerkeeper/"
BATCH_SIZE = 100  # BatchImportFindings takes at most 100 findings per call
REFRESH_AFTER = timedelta(hours=24)
ACTIVE, ARCHIVED = "ACTIVE", "ARCHIVED"
REFUSED, CONFLICT, PROBLEM = "refused", "conflict", "problem"
FIELD = "peerkeeper/"  # prefix of peerkeeper's ProductFields keys
NETWORK_TYPE = "Software and Configuration Checks/AWS Security Best Practices/Network Reachability"
OBSERVE_FAILED = "observe failed"
_ID_MAX, _TITLE_MAX, _DESCRIPTION_MAX, _TEXT_MAX, _RESOURCES_MAX = 512, 256, 1024, 512, 32
# ASFF's required top-level attributes (Security Hub user guide, "Required top-level ASFF attributes").
REQUIRED_ATTRIBUTES = (
    "AwsAccountId",
    "CreatedAt",
    "Description",
    "GeneratorId",
    "Id",
    "ProductArn",
    "Resources",
    "SchemaVersion",
    "Severity",
    "Title",
    "Types",
    "UpdatedAt",
)
_RELATED_RE = re.compile(r"\b(?:pcx|vpc|rtb)-[0-9a-f]{8,17}\b")

# (concern, category) -> severity label; then (None, category) as the default of a category.
SEVERITY: Mapping[tuple[str | None, str], str] = {
    ("routes", CONFLICT): "HIGH",  # the peer's traffic goes elsewhere, or an untrusted connection is live
    (None, REFUSED): "MEDIUM",  # a network asked to connect outside the policy; nothing is open yet
    (None, CONFLICT): "MEDIUM",
    (None, PROBLEM): "LOW",  # peerkeeper cannot do its job for this resource: a missing dependency
}
TITLES: Mapping[str, str] = {
    REFUSED: "Peering request {resource} refused",
    CONFLICT: "{concern} conflict on {resource}",
    PROBLEM: "{concern} problem with {resource}",
}
REMEDIATION: Mapping[tuple[str | None, str], str] = {
    ("peering", REFUSED): (
        "Review the request. If the requester is trusted, list its account in ALLOWED_PEER_ACCOUNTS (and its VPC "
        "in ALLOWED_PEER_VPCS when that is set), keep its CIDRs inside ALLOWED_PEER_CIDRS and apart from yours; "
        "peerkeeper then accepts it. Otherwise reject or let it expire (REJECT_UNLISTED=true rejects such "
        "requests automatically)."
    ),
    ("routes", CONFLICT): (
        "A route for the peer's CIDR targets something else, or the connection is not trusted. peerkeeper never "
        "overwrites a live route: remove or change the conflicting route if this peering should carry the "
        "traffic, or delete the connection if it is not wanted."
    ),
    ("dns", CONFLICT): (
        "Another record holds this name. Delete it if peerkeeper should manage the name, or remove the pair "
        "from DNS_RECORDS."
    ),
    (None, CONFLICT): "Resolve the conflict named in the description; peerkeeper leaves conflicting resources alone.",
    (None, PROBLEM): (
        "peerkeeper cannot reconcile this resource: fix the missing dependency, quota or configuration named in "
        "the description. The finding is archived by the next reconcile that no longer reports it."
    ),
    (None, REFUSED): "Review the request against the acceptance policy (ALLOWED_PEER_ACCOUNTS, ALLOWED_PEER_VPCS).",
}
_RESOURCE_TYPES = {"pcx": "AwsEc2VpcPeeringConnection", "vpc": "AwsEc2Vpc", "rtb": "AwsEc2RouteTable"}
_ARN_KINDS = {"pcx": "vpc-peering-connection", "vpc": "vpc", "rtb": "route-table"}


def product_arn(partition: str, region: str, account: str) -> str:
    """The default product ARN every account has for its own findings (custom integration)."""
    return f"arn:{partition}:securityhub:{region}:{account}:product/{account}/default"


# -- what this reconcile reports (pure) -------------------------------------------------------------
@dataclass(frozen=True)
class Where:
    """Where findings go: the account, the function's region (and partition), the product."""

    account: str
    region: str
    partition: str = "aws"

    @property
    def product_arn(self) -> str:
        return product_arn(self.partition, self.region, self.account)

    @property
    def id_prefix(self) -> str:
        return f"{GENERATOR_PREFIX}{self.account}/{self.region}/"


@dataclass(frozen=True)
class Reported:
    """One finding this reconcile reports, before timestamps."""

    id: str
    concern: str
    category: str
    resource: str
    region: str
    reasons: tuple[str, ...]
    detail: Mapping[str, Any] = field(default_factory=dict, hash=False, compare=True)


def finding_id(where: Where, concern: str, category: str, finding: Finding) -> str:
    """Deterministic: the same resource and kind give the same id on every run."""
    parts = [concern, category, finding.resource or finding.region]
    destination = finding.detail.get("destination")
    if isinstance(destination, str) and destination:
        parts.append(destination)  # one table can conflict on several destinations
    text = where.id_prefix + "/".join(parts)
    if len(text) > _ID_MAX:
        digest = hashlib.sha256(text.encode()).hexdigest()[:32]
        text = text[: _ID_MAX - 33] + "-" + digest
    return text


def reported(report: Report, where: Where) -> dict[str, Reported]:
    """Every refusal, conflict and problem of ``report`` about a resource of this region, by id."""
    found: dict[str, Reported] = {}
    for plan in report.plans:
        for category, findings in ((REFUSED, plan.refused), (CONFLICT, plan.conflicts), (PROBLEM, plan.problems)):
            for finding in findings:
                if finding.region and finding.region != where.region:
                    continue  # the stack of that region reports it (module docstring)
                key = finding_id(where, plan.concern, category, finding)
                earlier = found.get(key)
                if earlier is not None:  # two reasons for one resource and kind: one finding says both
                    if finding.reason not in earlier.reasons:
                        found[key] = replace(earlier, reasons=(*earlier.reasons, finding.reason))
                    continue
                found[key] = Reported(
                    key,
                    plan.concern,
                    category,
                    finding.resource,
                    finding.region,
                    (finding.reason,),
                    dict(finding.detail),
                )
    return found


def blind_concerns(report: Report) -> frozenset[str]:
    """Concerns that could not be observed this time: their silence proves nothing."""
    return frozenset(
        plan.concern
        for plan in report.plans
        for problem in plan.problems
        if problem.resource == plan.concern and problem.reason.startswith(OBSERVE_FAILED)
    )


# -- ASFF documents (pure) --------------------------------------------------------------------------
def _lookup(table: Mapping[tuple[str | None, str], str], concern: str, category: str) -> str:
    return table.get((concern, category)) or table[(None, category)]


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _arn(where: Where, resource_id: str, region: str, owner: str) -> str:
    prefix = resource_id.split("-", 1)[0]
    return f"arn:{where.partition}:ec2:{region}:{owner}:{_ARN_KINDS[prefix]}/{resource_id}"


def _requester_account(detail: Mapping[str, Any]) -> str:
    requester = detail.get("requester")
    account = requester.split("/", 1)[0] if isinstance(requester, str) else ""
    return account if account.isdigit() and len(account) == 12 else ""


def resources(item: Reported, where: Where) -> list[dict[str, Any]]:
    """The resource the finding is about (by ARN when it is an EC2 resource), then every id it names."""
    prefix = item.resource.split("-", 1)[0]
    region = item.region or where.region
    primary: dict[str, Any] = {"Type": "Other", "Id": item.resource or region, "Partition": where.partition}
    if prefix in _RESOURCE_TYPES and _RELATED_RE.fullmatch(item.resource):
        # A peering connection belongs to the account that requested it.
        owner = (_requester_account(item.detail) if prefix == "pcx" else "") or where.account
        primary = {**primary, "Type": _RESOURCE_TYPES[prefix], "Id": _arn(where, item.resource, region, owner)}
    primary["Region"] = region
    related: list[dict[str, Any]] = []
    text = " ".join([*item.reasons, *(str(value) for value in item.detail.values())])
    for resource_id in dict.fromkeys(_RELATED_RE.findall(text)):
        if resource_id != item.resource and len(related) < _RESOURCES_MAX - 1:
            kind = _RESOURCE_TYPES[resource_id.split("-", 1)[0]]
            related.append({"Type": kind, "Id": resource_id, "Partition": where.partition})
    return [primary, *related]


def _description(item: Reported) -> str:
    extra = ", ".join(f"{key}: {value}" for key, value in sorted(item.detail.items()) if value not in ("", None, []))
    text = "; ".join(item.reasons) + (f" ({extra})" if extra else "")
    return _clip(text, _DESCRIPTION_MAX)


def content(item: Reported, where: Where) -> dict[str, Any]:
    """The parts of the finding that describe the issue (no timestamps, no record state)."""
    severity = _lookup(SEVERITY, item.concern, item.category)
    remediation = _lookup(REMEDIATION, item.concern, item.category)
    title = TITLES[item.category].format(concern=item.concern.replace("_", " ").capitalize(), resource=item.resource)
    fields = {
        f"{FIELD}Concern": item.concern,
        f"{FIELD}Category": item.category,
        f"{FIELD}Resource": item.resource,
        f"{FIELD}Region": item.region,
        f"{FIELD}Wanted": str(item.detail.get("wanted", "")),
        f"{FIELD}LoadBalancer": str(item.detail.get("load_balancer", "")),
    }
    return {
        "GeneratorId": f"{GENERATOR_PREFIX}{item.concern}/{item.category}",
        "Types": [NETWORK_TYPE],
        "Severity": {"Label": severity, "Original": severity},
        "Title": _clip(title, _TITLE_MAX),
        "Description": _description(item),
        "Remediation": {"Recommendation": {"Text": _clip(remediation, _TEXT_MAX)}},
        "Resources": resources(item, where),
        "ProductFields": {key: value for key, value in fields.items() if value},
    }


def fingerprint(document: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(document, sort_keys=True, default=str).encode()).hexdigest()[:32]


def timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(text: Any) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def asff(
    where: Where,
    key: str,
    body: Mapping[str, Any],
    *,
    created: str,
    first_seen: str,
    updated: str,
    state: str,
) -> dict[str, Any]:
    """A whole ASFF finding: every required attribute, Severity and Types also as the provider's own."""
    return {
        "SchemaVersion": SCHEMA_VERSION,
        "Id": key,
        "ProductArn": where.product_arn,
        "ProductName": PRODUCT_NAME,
        "CompanyName": PRODUCT_NAME,
        "AwsAccountId": where.account,
        "CreatedAt": created,
        "FirstObservedAt": first_seen,
        "UpdatedAt": updated,
        "LastObservedAt": updated,
        "RecordState": state,
        **body,
        # Providers update Severity and Types through FindingProviderFields: the top-level ones
        # belong to the customer once they touch them with BatchUpdateFindings.
        "FindingProviderFields": {"Severity": dict(body["Severity"]), "Types": list(body["Types"])},
    }


# -- what Security Hub holds ------------------------------------------------------------------------
@dataclass(frozen=True)
class Existing:
    """One of peerkeeper's active findings, as GetFindings returned it."""

    id: str
    created: str
    first_seen: str
    updated: datetime | None
    fingerprint: str
    fields: Mapping[str, str]
    document: Mapping[str, Any] = field(hash=False, compare=False)

    @property
    def concern(self) -> str:
        return self.fields.get(f"{FIELD}Concern", "")

    @property
    def resource(self) -> str:
        return self.fields.get(f"{FIELD}Resource", "")

    @classmethod
    def parse(cls, document: Mapping[str, Any]) -> Existing:
        fields = {str(k): str(v) for k, v in (document.get("ProductFields") or {}).items()}
        created = str(document.get("CreatedAt") or "")
        return cls(
            id=str(document.get("Id", "")),
            created=created,
            first_seen=str(document.get("FirstObservedAt") or created),
            updated=parse_time(document.get("UpdatedAt")),
            fingerprint=fields.get(f"{FIELD}Fingerprint", ""),
            fields=fields,
            document=document,
        )


def is_ours(document: Mapping[str, Any], where: Where) -> bool:
    """Filtered here as well as in the request: moto ignores GetFindings filters, and an aggregation
    region or a delegated administrator sees other regions' and accounts' findings."""
    return (
        document.get("ProductArn") == where.product_arn
        and document.get("AwsAccountId") == where.account
        and str(document.get("Id", "")).startswith(where.id_prefix)
        and document.get("RecordState", ACTIVE) == ACTIVE
    )


def active_findings(hub: SecurityHubClient, where: Where) -> dict[str, Existing]:
    """peerkeeper's active findings in this account and region (paginated GetFindings)."""
    filters: AwsSecurityFindingFiltersTypeDef = {
        "ProductArn": [{"Value": where.product_arn, "Comparison": "EQUALS"}],
        "AwsAccountId": [{"Value": where.account, "Comparison": "EQUALS"}],
        "GeneratorId": [{"Value": GENERATOR_PREFIX, "Comparison": "PREFIX"}],
        "Id": [{"Value": where.id_prefix, "Comparison": "PREFIX"}],
        "RecordState": [{"Value": ACTIVE, "Comparison": "EQUALS"}],
    }
    found: dict[str, Existing] = {}
    for page in hub.get_paginator("get_findings").paginate(Filters=filters, PaginationConfig={"PageSize": 100}):
        for document in page.get("Findings", []):
            if is_ours(document, where):
                existing = Existing.parse(document)
                found[existing.id] = existing
    return found


# -- which existing findings this reconcile may archive (pure) --------------------------------------
def _names(values: Iterable[str]) -> frozenset[str]:
    return frozenset(value.lower() for value in values)


def _routes_covered(found: Existing, scope: Scope) -> bool:
    """Mirrors what ``routes.observe`` looks at for an event's scope."""
    if scope.peering_ids:
        # Only the named connections are evaluated (on every table of their VPCs), whatever else is named.
        return found.resource in scope.peering_ids or found.fields.get(f"{FIELD}Wanted", "") in scope.peering_ids
    # Named tables (or the VPCs named) are evaluated for every connection of their VPCs.
    return found.resource in scope.route_table_ids | scope.vpc_ids


def _dns_covered(found: Existing, scope: Scope, settings: Settings) -> bool:
    """Mirrors ``dns.observe``: a load balancer event re-reads the pairs naming that load balancer in
    the event's region; a zone event's pairs are only known once zones are read, so it archives nothing."""
    if scope.zone_ids:
        return False
    named = _names(scope.load_balancers)
    return any(
        pair.record == found.resource
        and pair.load_balancer.lower() in named
        and pair.load_balancer_region(settings.region) == scope.region
        for pair in settings.dns_records
    )


# For an event handler: is this finding about what the event's scope re-observed, per concern?
# Concerns without a rule here (flow logs) leave archiving to the sweep.
COVERAGE: Mapping[str, Callable[[Existing, Scope, Settings], bool]] = {
    "peering": lambda found, scope, _settings: found.resource in scope.peering_ids,
    "routes": lambda found, scope, _settings: _routes_covered(found, scope),
    "dns": _dns_covered,
}


def responsible(
    found: Existing, scope: Scope, concerns: Collection[str], blind: Collection[str], settings: Settings
) -> bool:
    """Did this reconcile look at what ``found`` is about, so that its silence means resolved?"""
    if "inventory" in blind:
        return False
    if scope.whole_region:
        return found.concern not in blind and (found.concern in concerns or found.concern == "inventory")
    if found.concern not in concerns or found.concern in blind:
        return False
    rule = COVERAGE.get(found.concern)
    return rule is not None and rule(found, scope, settings)


# -- the sync plan (pure) ---------------------------------------------------------------------------
@dataclass(frozen=True)
class SyncPlan:
    imports: tuple[dict[str, Any], ...] = ()  # new or changed or refreshed findings
    archives: tuple[dict[str, Any], ...] = ()
    unchanged: int = 0

    @property
    def documents(self) -> list[dict[str, Any]]:
        return [*self.imports, *self.archives]


def _after(now: datetime, previous: datetime | None) -> str:
    """``now``, or just after ``previous`` if the clock says otherwise: UpdatedAt must move forward."""
    if previous is not None and now <= previous:
        now = previous + timedelta(milliseconds=1)
    return timestamp(now)


def _archived(found: Existing, where: Where, now: datetime) -> dict[str, Any]:
    """The finding as it was, its record state archived (BatchImportFindings wants it whole)."""
    old = found.document
    provider = old.get("FindingProviderFields") or {}
    severity = provider.get("Severity") or old.get("Severity") or {"Label": "LOW"}
    body = {
        "GeneratorId": old.get("GeneratorId") or f"{GENERATOR_PREFIX}{found.concern or 'unknown'}",
        "Types": list(provider.get("Types") or old.get("Types") or [NETWORK_TYPE]),
        "Severity": {key: severity[key] for key in ("Label", "Original") if severity.get(key)},
        "Title": old.get("Title") or found.id,
        "Description": old.get("Description") or found.id,
        "Resources": [
            {key: resource[key] for key in ("Type", "Id", "Partition", "Region") if resource.get(key)}
            for resource in old.get("Resources") or [{"Type": "Other", "Id": found.resource or found.id}]
        ],
        # Security Hub adds its own aws/... keys: sending them back is not the provider's business.
        "ProductFields": {k: v for k, v in found.fields.items() if not k.startswith("aws/")},
    }
    if old.get("Remediation"):
        body["Remediation"] = old["Remediation"]
    created = found.created or timestamp(now)
    return asff(
        where,
        found.id,
        body,
        created=created,
        first_seen=found.first_seen or created,
        updated=_after(now, found.updated),
        state=ARCHIVED,
    )


def plan_sync(
    wanted: Mapping[str, Reported],
    existing: Mapping[str, Existing],
    where: Where,
    now: datetime,
    may_archive: Callable[[Existing], bool],
) -> SyncPlan:
    imports: list[dict[str, Any]] = []
    unchanged = 0
    for key, item in sorted(wanted.items()):
        body = content(item, where)
        body["ProductFields"][f"{FIELD}Fingerprint"] = fingerprint(body)
        found = existing.get(key)
        if found is None:
            stamp = timestamp(now)
            imports.append(asff(where, key, body, created=stamp, first_seen=stamp, updated=stamp, state=ACTIVE))
            continue
        fresh = found.updated is not None and now - found.updated < REFRESH_AFTER
        if found.fingerprint == body["ProductFields"][f"{FIELD}Fingerprint"] and fresh:
            unchanged += 1
            continue
        imports.append(
            asff(
                where,
                key,
                body,
                created=found.created or timestamp(now),
                first_seen=found.first_seen or found.created or timestamp(now),
                updated=_after(now, found.updated),
                state=ACTIVE,
            )
        )
    archives = [
        _archived(found, where, now)
        for key, found in sorted(existing.items())
        if key not in wanted and may_archive(found)
    ]
    return SyncPlan(tuple(imports), tuple(archives), unchanged)


# -- apply ------------------------------------------------------------------------------------------
def _batches(documents: Sequence[dict[str, Any]], size: int) -> Iterator[Sequence[dict[str, Any]]]:
    for start in range(0, len(documents), size):
        yield documents[start : start + size]


def import_findings(
    hub: SecurityHubClient, documents: Sequence[dict[str, Any]], batch_size: int = BATCH_SIZE
) -> list[dict[str, str]]:
    """Import in batches of 100; every finding that did not make it, with why (a failed call fails its batch)."""
    failures: list[dict[str, str]] = []
    for batch in _batches(documents, batch_size):
        try:
            response = hub.batch_import_findings(Findings=cast("list[AwsSecurityFindingUnionTypeDef]", list(batch)))
        except (ClientError, BotoCoreError) as error:
            failures += [{"Id": str(doc["Id"]), "ErrorCode": _code(error), "ErrorMessage": str(error)} for doc in batch]
            continue
        failures += [
            {key: str(item.get(key, "")) for key in ("Id", "ErrorCode", "ErrorMessage")}
            for item in response.get("FailedFindings") or ()
        ]
    return failures


def _code(error: Exception) -> str:
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code", "")) or type(error).__name__
    return type(error).__name__


def publish(
    settings: Settings,
    clients: Clients,
    report: Report,
    scope: Scope,
    concerns: Collection[str],
    *,
    account: str,
    now: datetime | None = None,
) -> dict[str, Any] | None:
    """Bring peerkeeper's findings in line with ``report``; ``None`` when ``SECURITY_HUB`` is off."""
    if not settings.security_hub:
        return None
    region = settings.region
    where = Where(account, region, partition_of(region).name)
    hub = clients.securityhub(region)
    moment = now or datetime.now(UTC)
    wanted = reported(report, where)
    blind = blind_concerns(report)
    try:
        existing = active_findings(hub, where)
    except (ClientError, BotoCoreError) as error:
        # Without the existing findings, CreatedAt would be lost and nothing could be archived.
        logger.error("security hub lookup failed", extra={"error": str(error), "findings": sorted(wanted)})
        metrics.add_metric(name="SecurityHubImportFailed", unit="Count", value=max(len(wanted), 1))
        return {"imported": 0, "archived": 0, "failed": max(len(wanted), 1), "error": f"GetFindings: {error}"}
    plan = plan_sync(
        wanted, existing, where, moment, lambda found: responsible(found, scope, concerns, blind, settings)
    )
    failures = import_findings(hub, plan.documents)
    failed_ids = {failure["Id"] for failure in failures}
    imported = sum(1 for doc in plan.imports if doc["Id"] not in failed_ids)
    archived = sum(1 for doc in plan.archives if doc["Id"] not in failed_ids)
    result: dict[str, Any] = {"imported": imported, "archived": archived, "unchanged": plan.unchanged}
    for name, value in (("FindingImported", imported), ("FindingArchived", archived)):
        if value:
            metrics.add_metric(name=name, unit="Count", value=value)
    if failures:
        logger.error("security hub import failed", extra={"failures": failures})
        metrics.add_metric(name="SecurityHubImportFailed", unit="Count", value=len(failures))
        result["failed"] = len(failures)
        result["error"] = "; ".join(f"{f['Id']}: {f['ErrorCode']}" for f in failures[:5])
    logger.info("security hub findings synced", extra={"security_hub": result})
    return result
