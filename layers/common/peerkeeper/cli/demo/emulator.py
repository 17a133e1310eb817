"""The embedded AWS (moto's server on loopback) and the real handlers, invoked as Lambda would."""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import socket
import uuid
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from peerkeeper.cli.demo.lab import ACCOUNT, LOG_GROUP, RECORD, REGION, ROLE_NAME, DemoError

if TYPE_CHECKING:
    pass


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def emulator() -> Iterator[str]:
    """moto's server on a free loopback port, quiet; yields its endpoint URL."""
    from moto.server import ThreadedMotoServer  # noqa: PLC0415  (development dependency)

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    # port 0: the kernel picks a free port when the server binds (no window for another process to take it)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def demo_environ(endpoint: str) -> dict[str, str]:
    """The environment the handlers run with: the emulator, fake keys, the lab's configuration."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "demo",
        "AWS_SECRET_ACCESS_KEY": "demo",
        "AWS_SESSION_TOKEN": "demo",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "PEERKEEPER_MODE": "enforce",
        "ALLOWED_PEER_ACCOUNTS": ACCOUNT,
        "ALLOWED_PEER_VPCS": "",
        "REJECT_UNLISTED": "false",
        # The seed lab's one record, api-elb beside web-vpc (the chapter beyond the seed that adds a
        # region changes it: set_parameters).
        "DNS_RECORDS": f"{RECORD}=api-elb",
        "DNS_TTL": "300",
        "FLOW_LOG_GROUP": LOG_GROUP,
        "FLOW_LOG_ROLE_ARN": f"arn:aws:iam::{ACCOUNT}:role/{ROLE_NAME}",
        "FLOW_LOG_TRAFFIC_TYPE": "ALL",
        "POWERTOOLS_SERVICE_NAME": "peerkeeper",
        "POWERTOOLS_METRICS_NAMESPACE": "Peerkeeper",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "CRITICAL",
    }


def configure_process(endpoint: str) -> None:
    """Point this process at the emulator (handlers read ``os.environ``, as in Lambda)."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        os.environ.pop(name, None)
    os.environ["AWS_CONFIG_FILE"] = os.devnull  # a user's profiles must not leak in
    os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    for name in [n for n in os.environ if n.startswith("AWS_ENDPOINT_URL_")]:
        os.environ.pop(name)
    os.environ.update(demo_environ(endpoint))
    from peerkeeper.clients import default_clients  # noqa: PLC0415
    from peerkeeper.observability import logger  # noqa: PLC0415
    from peerkeeper.settings import get_settings  # noqa: PLC0415

    get_settings.cache_clear()
    default_clients.cache_clear()
    logger.setLevel(logging.CRITICAL)  # the timeline tells the story; the JSON logs would drown it
    warnings.filterwarnings("ignore", message="No application metrics to publish")


def set_parameters(values: dict[str, str]) -> None:
    """A parameter update of every deployed stack: the handlers read the new values from now on."""
    from peerkeeper.settings import get_settings  # noqa: PLC0415

    os.environ.update(values)
    get_settings.cache_clear()


@dataclass
class LambdaContext:
    """What Lambda passes as ``context`` (the fields Powertools and peerkeeper read)."""

    function_name: str
    memory_limit_in_mb: int = 256
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = ""
    log_stream_name: str = "demo"
    timeout_ms: int = 60_000
    region: str = REGION

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{ACCOUNT}:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return self.timeout_ms


Handler = Callable[[dict[str, Any], Any], dict[str, Any]]

BUNDLE = Path(__file__).resolve().parents[2] / "_bundle"  # copies of template.yaml and functions/ in a wheel

DEMO_EXTRA = "pip install '.[demo]' from a checkout of peerkeeper (it is not published on PyPI)"


def project_root(start: Path | None = None) -> Path:
    """Where ``template.yaml`` and ``functions/`` are (the demo runs the real files).

    The checkout this module lives in (a development install), else the copies a built package
    ships under ``peerkeeper/_bundle`` (pyproject.toml), else a checkout in the working directory.
    """
    here = (start or Path(__file__).resolve()).parents
    for candidate in [*here, BUNDLE, Path.cwd()]:
        if (candidate / "template.yaml").is_file() and (candidate / "functions").is_dir():
            return candidate
    raise DemoError("template.yaml and functions/ not found: reinstall peerkeeper or run the demo from a checkout")


def missing_requirements() -> list[str]:
    """The demo's own imports (the emulator, the template reader, the handlers' tracer) that are absent."""
    wanted = ("moto", "yaml", "werkzeug", "aws_xray_sdk")
    return [name for name in wanted if importlib.util.find_spec(name) is None]


class Functions:
    """The real ``functions/<name>/app.py`` handlers, loaded by path (no ``sys.path`` edits)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._handlers: dict[str, Handler] = {}

    def __getitem__(self, name: str) -> Handler:
        if name not in self._handlers:
            path = self.root / "functions" / name / "app.py"
            spec = importlib.util.spec_from_file_location(f"peerkeeper_demo_functions.{name}.app", path)
            if spec is None or spec.loader is None:
                raise DemoError(f"{path} not found")
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            self._handlers[name] = module.lambda_handler
        return self._handlers[name]


@contextlib.contextmanager
def stack_in(region: str) -> Iterator[None]:
    """Run the handlers as the stack deployed in ``region`` (the same template and parameters)."""
    from peerkeeper.clients import default_clients  # noqa: PLC0415
    from peerkeeper.settings import get_settings  # noqa: PLC0415

    if region == REGION:
        yield
        return
    saved = {name: os.environ[name] for name in ("AWS_REGION", "AWS_DEFAULT_REGION")}
    os.environ.update({"AWS_REGION": region, "AWS_DEFAULT_REGION": region})
    get_settings.cache_clear()
    default_clients.cache_clear()
    try:
        yield
    finally:
        os.environ.update(saved)
        get_settings.cache_clear()
        default_clients.cache_clear()
