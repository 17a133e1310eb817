"""One cold start, in a fresh process started by :mod:`benchmarks.coldstart` (not imported by it).

Run by path, so nothing of the benchmarks package is on ``sys.path``: like Lambda, the path is the
function's folder, then the layer's content, then the interpreter's own (the venv's site-packages
play the layer's third-party packages). The result goes to the JSON file ``$BENCH_RESULT``; stdout
belongs to the handler's logs.

    init FUNCTION               import app
    floor-init                  import boto3; boto3.client("ec2")
    invoke FUNCTION EVENT       import app, then app.lambda_handler(event, context)
    record FUNCTION EVENT OUT   the same, untimed, writing every call's service, region, operation
                                and parameters to OUT (what the floor script replays)
    floor-invoke CALLS          import boto3, then make exactly those calls with bare clients
    attribute FUNCTION EVENT    invoke, timing each part on the way (see ``attribute``)
    floor-attribute CALLS       floor-invoke, timing the same parts
"""

import time

STARTED = time.perf_counter()

import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Context:
    function_name = "peerkeeper-bench"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:peerkeeper-bench"
    aws_request_id = "c6af9ac6-7b61-11e6-9a41-93e812345678"
    log_group_name = "/aws/lambda/peerkeeper-bench"
    log_stream_name = "2026/11/23/[$LATEST]bench"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def lambda_path(function: str) -> None:
    """Lambda's order: the function's folder, then the layer (``$BENCH_LAYER``: a copy of the built
    layer, as it is unzipped in /opt/python), then the runtime. Without a layer copy, the source tree
    and this interpreter's site-packages stand for it."""
    layer = os.environ.get("BENCH_LAYER")
    if layer:
        sys.path[:] = [os.path.join(ROOT, "functions", function), layer] + [
            p for p in sys.path[1:] if "site-packages" not in p
        ]
    else:
        sys.path[0:1] = [os.path.join(ROOT, "functions", function), os.path.join(ROOT, "layers", "common")]


def write(result: dict) -> None:
    with open(os.environ["BENCH_RESULT"], "w") as handle:
        json.dump(result, handle)


def load(path: str):
    with open(path) as handle:
        return json.load(handle)


def floor_init() -> None:
    sys.path.pop(0)
    import boto3

    boto3.client("ec2")
    write({"init": time.perf_counter() - STARTED})


def init(function: str) -> None:
    lambda_path(function)
    import app  # noqa: F401

    write({"init": time.perf_counter() - STARTED})


def recording_clients(calls: list) -> None:
    """Every client peerkeeper makes records its calls: service, region, operation, parameters."""
    from peerkeeper.clients import default_clients

    session = default_clients().session
    original = session.client

    def client(*args, **kwargs):
        made = original(*args, **kwargs)
        region, service = made.meta.region_name, made.meta.service_model.service_name

        def remember(params, model, **_):
            calls.append([service, region, model.name, json.loads(json.dumps(params, default=str))])

        made.meta.events.register("before-parameter-build", remember)
        return made

    session.client = client


def invoke(function: str, event_path: str, record_to: str = "") -> None:
    lambda_path(function)
    event = load(event_path)
    import app

    initialised = time.perf_counter()
    calls: list = []
    if record_to:
        recording_clients(calls)
    summary = app.lambda_handler(event, Context())
    finished = time.perf_counter()
    if record_to:
        with open(record_to, "w") as handle:
            json.dump({"calls": calls, "summary": summary}, handle)
    write({"init": initialised - STARTED, "invoke": finished - initialised, "total": finished - STARTED})


def floor_invoke(calls_path: str) -> None:
    sys.path.pop(0)
    calls = load(calls_path)["calls"]
    import boto3
    from botocore import xform_name

    clients: dict = {}
    initialised = None
    for service, region, operation, params in calls:
        key = (service, region)
        if key not in clients:
            clients[key] = boto3.client(service, region_name=region)
        if initialised is None:
            initialised = time.perf_counter()
        getattr(clients[key], xform_name(operation))(**params)
    finished = time.perf_counter()
    initialised = initialised or finished
    write({"init": initialised - STARTED, "invoke": finished - initialised, "total": finished - STARTED})


class Stopwatch:
    """Sums the time spent inside wrapped functions (not re-entrant: outermost call only)."""

    def __init__(self) -> None:
        self.total = 0.0
        self.depth = 0

    def wrap(self, owner, name: str) -> None:
        original = getattr(owner, name)
        watch = self

        def timed(*args, **kwargs):
            if watch.depth:
                return original(*args, **kwargs)
            watch.depth += 1
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                watch.total += time.perf_counter() - started
                watch.depth -= 1

        setattr(owner, name, timed)


def _watch_botocore():
    """Stopwatches on client creation and on every API call (outside x-ray's wrapper, if any)."""
    import botocore.client
    import botocore.session

    clients, calls = Stopwatch(), Stopwatch()
    clients.wrap(botocore.session.Session, "create_client")
    calls.wrap(botocore.client.BaseClient, "_make_api_call")
    return clients, calls


def attribute(function: str, event_path: str) -> None:
    """init + first invocation, cut in parts: each import on the way, then within the invocation
    the clients' creation, the AWS calls (with x-ray's wrapper when tracing is on) and the rest
    (peerkeeper's own work and Powertools' decorators: logging, metrics, the handler's segment)."""
    lambda_path(function)
    event = load(event_path)
    marks = {"interpreter": time.perf_counter() - STARTED}
    last = time.perf_counter()

    def mark(name: str) -> None:
        nonlocal last
        now = time.perf_counter()
        marks[name] = now - last
        last = now

    import boto3  # noqa: F401

    mark("import boto3")
    from peerkeeper import observability

    mark("Powertools Logger + Metrics")
    observability.__getattr__("tracer")
    mark("x-ray: import, Tracer(), patch")
    import app

    mark("peerkeeper and the function")
    clients, calls = _watch_botocore()
    app.lambda_handler(event, Context())
    invoke = time.perf_counter() - last
    marks["clients created"] = clients.total
    marks["AWS calls"] = calls.total
    marks["handler's own work"] = invoke - clients.total - calls.total
    marks["total"] = time.perf_counter() - STARTED
    write(marks)


def floor_attribute(calls_path: str) -> None:
    sys.path.pop(0)
    recorded = load(calls_path)["calls"]
    marks = {"interpreter": time.perf_counter() - STARTED}
    started = time.perf_counter()
    import boto3
    from botocore import xform_name

    marks["import boto3"] = time.perf_counter() - started
    clients_watch, calls_watch = _watch_botocore()
    started = time.perf_counter()
    clients: dict = {}
    for service, region, operation, params in recorded:
        key = (service, region)
        if key not in clients:
            clients[key] = boto3.client(service, region_name=region)
        getattr(clients[key], xform_name(operation))(**params)
    invoke = time.perf_counter() - started
    marks["clients created"] = clients_watch.total
    marks["AWS calls"] = calls_watch.total
    marks["handler's own work"] = invoke - clients_watch.total - calls_watch.total
    marks["total"] = time.perf_counter() - STARTED
    write(marks)


def snippet(code: str) -> None:
    """``snippet CODE``: the time of ``exec(CODE)`` in a fresh process (the import costs table)."""
    sys.path.pop(0)
    exec(code, {})
    write({"init": time.perf_counter() - STARTED})


def profile(function: str, event_path: str, stats_out: str) -> None:
    """``profile FUNCTION EVENT STATS``: cProfile of init + first invocation, written for pstats."""
    import cProfile

    profiler = cProfile.Profile()
    profiler.enable()
    lambda_path(function)
    event = load(event_path)
    import app

    app.lambda_handler(event, Context())
    profiler.disable()
    profiler.dump_stats(stats_out)
    write({"total": time.perf_counter() - STARTED})


MODES = {
    "floor-init": floor_init,
    "init": init,
    "invoke": invoke,
    "record": invoke,
    "floor-invoke": floor_invoke,
    "snippet": snippet,
    "profile": profile,
    "attribute": attribute,
    "floor-attribute": floor_attribute,
}

if __name__ == "__main__":
    MODES[sys.argv[1]](*sys.argv[2:])
