"""The embedded emulator for the benchmarks: moto's server in its own process.

A separate process, not ``ThreadedMotoServer`` in this one: the tool being measured runs in a child
process, and the emulator must not share a GIL with the benchmark's own bookkeeping.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3

ACCOUNT = "123456789012"  # moto's default account
REGION = "us-east-1"

# What every child process gets: fake credentials, the region, no user configuration files.
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_REGION": REGION,
    "AWS_DEFAULT_REGION": REGION,
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_EC2_METADATA_DISABLED": "true",
}


@dataclass(frozen=True)
class Emulator:
    url: str

    def env(self) -> dict[str, str]:
        return {**AWS_ENV, "AWS_ENDPOINT_URL": self.url}

    def client(self, service: str, region: str = REGION) -> Any:
        return boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=region).client(
            service, endpoint_url=self.url
        )  # type: ignore[call-overload]

    def reset(self) -> None:
        request = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST", data=b"")
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """A clean environment for a child process: PATH and HOME only, then ``extra``."""
    base = {key: os.environ[key] for key in ("PATH", "HOME", "LANG", "TMPDIR") if key in os.environ}
    return {**base, **(extra or {})}


@contextmanager
def running() -> Iterator[Emulator]:
    port = _free_port()
    server = shutil_which_moto()
    process = subprocess.Popen(
        [*server, "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=child_env(AWS_ENV),
    )
    emulator = Emulator(f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                emulator.reset()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("moto server did not start") from None
                time.sleep(0.1)
        yield emulator
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def shutil_which_moto() -> list[str]:
    """moto's server, from the same environment as this interpreter."""
    candidate = os.path.join(os.path.dirname(sys.executable), "moto_server")
    if os.path.exists(candidate):
        return [candidate]
    return [sys.executable, "-m", "moto.server"]
