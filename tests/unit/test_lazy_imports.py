"""Each handler imports only what it runs (the cold start, docs/benchmarks.md section 12).

Imports are per process, so each case runs in a fresh interpreter with Lambda's environment.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

from peerkeeper import dns, flow_logs, observability, peering, routes, service
from tests.support import ROOT

FUNCTIONS = ("accept_peering", "repair_routes", "sync_dns", "enable_flow_logs", "sweep")
CONCERN_MODULES = ("peerkeeper.peering", "peerkeeper.routes", "peerkeeper.dns", "peerkeeper.flow_logs")
OPTIONAL = (*CONCERN_MODULES, "peerkeeper.notify", "peerkeeper.securityhub")

# Import every handler (each under its own name), then say what is loaded and what tracer they got.
IMPORT_HANDLERS = """
import importlib.util, json, sys
loaded = {}
for name in FUNCTIONS:
    spec = importlib.util.spec_from_file_location(f"app_{name}", f"{ROOT}/functions/{name}/app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
from peerkeeper import observability
patched = sys.modules.get("aws_xray_sdk.core.patcher")
print(json.dumps({
    "modules": sorted(sys.modules),
    "tracer": type(observability.tracer).__name__,
    "patched": sorted(patched._PATCHED_MODULES) if patched else [],
}))
"""


def fresh(code: str, **env: str) -> Any:
    lambda_env = {
        "PATH": os.environ.get("PATH", ""),
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "LAMBDA_TASK_ROOT": str(ROOT / "functions" / "sweep"),
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        **env,
    }
    prelude = f"import sys; sys.path[:0] = [{str(ROOT / 'layers' / 'common')!r}]; FUNCTIONS = {FUNCTIONS!r}; "
    prelude += f"ROOT = {str(ROOT)!r}\n"
    done = subprocess.run(
        [sys.executable, "-I", "-c", prelude + code], env=lambda_env, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.splitlines()[-1])


def test_with_tracing_disabled_no_handler_imports_x_ray_or_a_concern():
    found = fresh(IMPORT_HANDLERS, POWERTOOLS_TRACE_DISABLED="true")

    assert found["tracer"] == "Untraced"
    assert not [name for name in found["modules"] if name.split(".")[0] in ("aws_xray_sdk", "wrapt")]
    assert not set(OPTIONAL) & set(found["modules"])  # each is imported by the run that needs it
    assert "peerkeeper.handler" in found["modules"]


def test_with_tracing_on_the_handlers_get_powertools_tracer():
    """As deployed (Tracing: Active, LAMBDA_TASK_ROOT set): the Tracer, x-ray imported at init."""
    found = fresh(IMPORT_HANDLERS)

    assert found["tracer"] == "Tracer"
    assert "aws_xray_sdk.core" in found["modules"]
    assert not set(OPTIONAL) & set(found["modules"])
    # Every AWS call is traced (botocore); http.client is not patched twice over, sqlite3 not imported.
    assert found["patched"] == ["botocore"]
    assert "sqlite3" not in found["modules"]


@pytest.mark.parametrize("disabled", ["1", "true", "TRUE"])
def test_tracing_is_off_where_powertools_turns_it_off(disabled: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("LAMBDA_TASK_ROOT", str(ROOT))
    monkeypatch.delenv("AWS_SAM_LOCAL", raising=False)
    monkeypatch.delenv("POWERTOOLS_TRACE_DISABLED", raising=False)
    assert observability.tracing_enabled()
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", disabled)
    assert not observability.tracing_enabled()
    monkeypatch.delenv("POWERTOOLS_TRACE_DISABLED")
    monkeypatch.setenv("AWS_SAM_LOCAL", "true")  # sam local invoke: no X-Ray daemon listens
    assert not observability.tracing_enabled()
    monkeypatch.delenv("AWS_SAM_LOCAL")
    monkeypatch.delenv("LAMBDA_TASK_ROOT")  # outside Lambda: the CLI, the tests
    assert not observability.tracing_enabled()


def test_untraced_decorators_return_the_function_itself():
    untraced = observability.Untraced()

    def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
        return event

    assert untraced.capture_lambda_handler(capture_response=False)(handler) is handler
    assert untraced.capture_lambda_handler(handler) is handler
    assert untraced.capture_method(handler) is handler
    assert untraced.capture_method(capture_response=False)(handler) is handler


def test_a_run_imports_only_the_concerns_it_reconciles():
    found = fresh(
        "import json, sys\nfrom peerkeeper import service\nservice.concern('dns')\n"
        "print(json.dumps(sorted(n for n in sys.modules if n.startswith('peerkeeper.'))))"
    )

    assert "peerkeeper.dns" in found
    assert not {"peerkeeper.peering", "peerkeeper.routes", "peerkeeper.flow_logs"} & set(found)


def test_the_concerns_are_named_as_their_modules_name_them():
    assert {name: service.concern(name).name for name in service.CONCERN_LOADERS} == {
        peering.CONCERN: peering.CONCERN,
        routes.CONCERN: routes.CONCERN,
        flow_logs.CONCERN: flow_logs.CONCERN,
        dns.CONCERN: dns.CONCERN,
    }
    assert service.concern(dns.CONCERN).executors is dns.EXECUTORS
    assert service.ACCEPT_PEERING == peering.ACCEPT
