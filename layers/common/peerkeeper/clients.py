"""boto3 clients, made on first use and cached per (service, region).

Never at import time: moto must be able to intercept, and a handler must not pay for a client it
does not use. The retry mode is botocore's (standard by default, adaptive selectable): no
hand-written sleep loops anywhere in peerkeeper.

The Lambda functions' clients (:func:`default_clients`) load trimmed service models from
``botocore_data/`` (botocore's ``data_path``): the same models with only the operations the
functions call. Creating an EC2 client otherwise parses 830 operations to call 9, the largest single
part of a cold start after the imports (``tools/trim_botocore_data.py``, docs/benchmarks.md). The
command line keeps botocore's full models: ``why`` and the rest may call anything.
"""

from __future__ import annotations

import contextlib
import os
import threading
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import botocore.session
from botocore.config import Config
from botocore.exceptions import BotoCoreError

from peerkeeper.partitions import partition_of
from peerkeeper.settings import get_settings

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_elb import ElasticLoadBalancingClient
    from mypy_boto3_elbv2 import ElasticLoadBalancingv2Client
    from mypy_boto3_organizations import OrganizationsClient
    from mypy_boto3_route53 import Route53Client
    from mypy_boto3_securityhub import SecurityHubClient
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sts import STSClient


TRIMMED_DATA = Path(__file__).resolve().parent / "botocore_data"


class Clients:
    """A client factory bound to one session (default credentials, a profile, or assumed-role keys)."""

    def __init__(
        self,
        session: boto3.Session | None = None,
        *,
        retry_mode: str = "standard",
        max_attempts: int = 5,
        endpoint_url: str | None = None,
        data_path: Path | None = None,
    ) -> None:
        self._session = session
        self._endpoint_url = endpoint_url
        self._data_path = data_path
        self._retry_mode, self._max_attempts = retry_mode, max_attempts
        self._config = Config(retries={"mode": retry_mode, "total_max_attempts": max_attempts})  # type: ignore[arg-type]
        self._cache: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    def derive(self, session: boto3.Session) -> Clients:
        """The same configuration (retries, endpoint) over another session: an assumed role's."""
        return Clients(
            session,
            retry_mode=self._retry_mode,
            max_attempts=self._max_attempts,
            endpoint_url=self._endpoint_url,
            data_path=self._data_path,
        )

    @property
    def session(self) -> boto3.Session:
        if self._session is None:
            core = botocore.session.Session()
            if self._data_path is not None:
                # Searched before botocore's own data (and after nothing): set before boto3 reads it.
                user = core.get_config_variable("data_path")
                core.set_config_variable("data_path", os.pathsep.join(p for p in (str(self._data_path), user) if p))
            self._session = boto3.Session(botocore_session=core)
        return self._session

    def _client(self, service: str, region: str) -> Any:
        key = (service, region)
        with self._lock:
            if key not in self._cache:
                self._cache[key] = self.session.client(
                    service,  # type: ignore[call-overload]
                    region_name=region,
                    config=self._config,
                    endpoint_url=self._endpoint_url,
                )
            return self._cache[key]

    def _warm(self, service: str, region: str) -> None:
        # Ahead of need: a client that cannot be made now fails again, loudly, where it is needed.
        with contextlib.suppress(BotoCoreError):
            self._client(service, region)

    def ec2(self, region: str) -> EC2Client:
        return self._client("ec2", region)  # type: ignore[no-any-return]

    def elbv2(self, region: str) -> ElasticLoadBalancingv2Client:
        return self._client("elbv2", region)  # type: ignore[no-any-return]

    def elb(self, region: str) -> ElasticLoadBalancingClient:
        return self._client("elb", region)  # type: ignore[no-any-return]

    def route53(self, region: str | None = None) -> Route53Client:
        """Route 53 for the partition of ``region`` (default: the session's region).

        Route 53 is global, served from one region per partition (us-east-1 in ``aws``,
        cn-northwest-1 in ``aws-cn``, us-gov-west-1 in ``aws-us-gov``): botocore's partition data says
        which. PriorRequestNotComplete (concurrent changes to one zone) needs no extra config: botocore's
        standard and adaptive modes already retry it with backoff (tests/unit/test_dns_retry.py).
        """
        where = region or self.session.region_name or "us-east-1"
        return self._client("route53", partition_of(where).global_region)  # type: ignore[no-any-return]

    def sns(self, region: str) -> SNSClient:
        return self._client("sns", region)  # type: ignore[no-any-return]

    def securityhub(self, region: str) -> SecurityHubClient:
        # Made only when SECURITY_HUB=true: handlers without it never pay for this client.
        return self._client("securityhub", region)  # type: ignore[no-any-return]

    def dynamodb(self, region: str) -> Any:
        # Made only when a notification topic and its CONFLICTS_TABLE are set (what was told).
        return self._client("dynamodb", region)

    def sts(self, region: str) -> STSClient:
        return self._client("sts", region)  # type: ignore[no-any-return]

    def cloudformation(self, region: str) -> Any:
        # The CLI reads each account's deployed stack (its policy) with it; the functions never do.
        return self._client("cloudformation", region)

    def organizations(self, region: str) -> OrganizationsClient:
        # A global service: botocore resolves the partition's one endpoint from any of its regions.
        return self._client("organizations", region)  # type: ignore[no-any-return]

    def ssm(self, region: str) -> Any:
        # Only the IntentFunction reads a parameter (its network file): no stubs needed elsewhere.
        return self._client("ssm", region)

    def account_id(self, region: str) -> str:
        """The caller's account (STS). Whoever asks reads EC2 in ``region`` next: its client, the
        largest to create, is made while STS answers (a round trip of 50-300 ms on AWS)."""
        sts = self.sts(region)
        warm = threading.Thread(target=self._warm, args=("ec2", region), name="peerkeeper-warm", daemon=True)
        warm.start()
        try:
            return sts.get_caller_identity()["Account"]
        finally:
            warm.join()


@lru_cache(maxsize=1)
def default_clients() -> Clients:
    """The Lambda process's clients: default credentials, retry mode from the settings."""
    settings = get_settings()
    trimmed = TRIMMED_DATA if TRIMMED_DATA.is_dir() else None  # absent from a pip install: full models
    return Clients(retry_mode=settings.retry_mode, max_attempts=settings.max_attempts, data_path=trimmed)
