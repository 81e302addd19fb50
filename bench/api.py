"""HTTP API benchmark: balance queries and payment commands under load, against a bare server.

    python bench/api.py [--quick] [--seconds S] [--rounds R]

Needs ``wrk`` (``apt-get install wrk``): a C load generator, so the client costs the server
as little CPU as possible. In one run, in a temporary data directory:

set-up (not timed): the demo scenario (``capledger.demo``: Hồ Chí Minh City 2016–2020 and
    Hải Phòng 2021, ~1,300 commands) and a benchmark plan whose ``--projects`` projects are
    allocated capital enough for any number of payments; an inspector key (reads) and a finance
    officer's key scoped to the benchmark's province (writes). Then ``capledger serve`` starts
    as a user runs it (uvicorn, the embedded runner: read-your-writes), with the write rate
    limit raised through its documented setting (``CAPLEDGER_API_WRITE_RATE_PER_S``, and the
    read limit through ``CAPLEDGER_API_READ_RATE_PER_S``) so that the limiter is still on every
    request's path but never refuses one;
(1) balance query: ``GET /balances?by=project&jurisdiction=HP&fiscal_year=2021`` (Hải Phòng's
    38 projects, one page) with the inspector's key, from ``--balance-connections``
    keep-alive connections, each sending its next request when the last one is answered. The
    server answers it from its response cache while the read model does not move (the
    payments in between move it: the first query after a payment round renders anew);
(1') the same query sent with ``Cache-Control: no-cache``: the server renders every page anew
    (the SQL query and the JSON), which is what a query costs when the read model has moved
    since the page was last asked for (reported as ``balance_uncached_*``);
(2) payment command: ``POST /projects/{code}/payments`` (payment for completed work), each
    with its own ``Idempotency-Key``, round-robin over the projects, with the finance
    officer's key from ``--payment-connections`` connections. Each answer waits until the read
    model holds the payment; the run checks the ledger recorded every payment answered 201;
(3) the raw reference, in another process under the same uvicorn settings: a bare Starlette app
    with a GET returning a constant JSON body, and a POST saving one event with a plain
    ``eventsourcing`` Application and a trivial aggregate (the library's SQLite defaults, one
    commit per save, in the thread pool as the API's handlers run) on the same connections.

(1), (1'), the raw GET, (2) and the raw save run in ``--rounds`` alternating rounds of ``--seconds``
each, so a change in the machine's load hits both sides alike. Latency is measured by wrk from
the client (send to last byte) with microsecond resolution; the histograms of all rounds are
merged here and percentiles taken from the merged counts (nearest rank). By default the servers
run on CPU 0 and wrk on CPU 1 (``taskset``), so the client does not take the server's CPU. The
server's own CPU time per request (``/proc``, all its threads) is reported beside: on a machine
busy with other work it moves far less than the rates and latencies do.

Progress lines go to stdout; the last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter as Tally
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import structlog

from capledger.application.commands import Allocate, ApprovePlan, RegisterProject

PLAN = "KH-2025-API"
PROVINCE = "HN"
SOURCE = "central_budget"
PAYMENT = 1_000_000  # VND
DECISION: dict[str, Any] = {
    "decision_no": "01/QĐ-BENCH",
    "decision_date": date(2025, 1, 2),
    "decision_issuer": "UBND thành phố",
}
BALANCE_QUERY = "/balances?by=project&jurisdiction=HP&fiscal_year=2021"
#: Sent by the uncached balance load: the server renders the page anew (docs/api.md).
NO_CACHE = "Cache-Control: no-cache"
RAW_GET = "/raw/constant"
RAW_SAVE = "/raw/events"
#: Writes per second per key the server is started with: far above what one key can send
#: here, so every payment passes the limiter (which still runs) and records an event.
WRITE_RATE = 1_000_000
FULL = {"seconds": 10.0, "rounds": 5}
QUICK = {"seconds": 3.0, "rounds": 3}
WARM_UP_S = 1
SERVER_CPU, CLIENT_CPU = "0", "1"


def say(message: str) -> None:
    print(message, flush=True)


def project_code(index: int) -> str:
    return f"API-{index:03d}"


# -- set-up: the demo, a funded benchmark plan, keys ------------------------------------------


@dataclass(frozen=True)
class Ready:
    """What the load needs from the set-up."""

    reader_token: str
    writer_token: str
    position: int
    demo_commands: int


def set_up(data_dir: Path, projects: int) -> Ready:
    """Record the demo and the benchmark plan, bring the read model up to them, make keys."""
    from capledger.bootstrap import build_embedded_runner, build_ledger, build_read_model
    from capledger.cli.api import create_api_key
    from capledger.demo import run_demo
    from capledger.demo.scenario import build_scenario
    from capledger.settings import Settings, StoreSettings

    settings = Settings(store=StoreSettings(data_dir=data_dir))
    ledger = build_ledger(settings)
    read_model = build_read_model(settings)
    try:
        runner = build_embedded_runner(ledger, read_model)
        run_demo(ledger, runner)
        fund_projects(ledger, projects)
        position = int(ledger.recorder.max_notification_id() or 0)
        runner.catch_up(until=position)
    finally:
        read_model.close()
        ledger.close()
    reader = create_api_key("bench-inspector", "inspector", settings=settings)
    writer = create_api_key(
        "bench-finance", "finance_officer", provinces=[PROVINCE], settings=settings
    )
    return Ready(reader.token, writer.token, position, len(build_scenario().commands))


def fund_projects(ledger: Any, projects: int) -> None:
    """A plan and projects with capital for ~10 million payments each: never exhausted."""
    per_project = 10**13
    ledger.execute(ApprovePlan(
        code=PLAN, title="Kế hoạch vốn 2025 (benchmark API)", kind="annual",
        authority="provincial_council", jurisdiction=PROVINCE, start_year=2025, end_year=2025,
        envelopes={SOURCE: per_project * projects}, effective_on=date(2025, 1, 2), **DECISION,
    ), command_id="bench-api-plan")  # fmt: skip
    for index in range(projects):
        code = project_code(index)
        ledger.execute(RegisterProject(
            code=code, name=f"Dự án benchmark {index}", investor_code="BQLDA-BENCH",
            investor_name="Ban QLDA benchmark", program="bench", sector="transport",
            province=PROVINCE, total_investment=per_project * 2, effective_on=date(2025, 1, 2),
            **DECISION,
        ), command_id=f"bench-api-register-{code}")  # fmt: skip
        ledger.execute(Allocate(
            plan_code=PLAN, project_code=code, source=SOURCE, amount=per_project,
            effective_on=date(2025, 1, 3), **DECISION,
        ), command_id=f"bench-api-allocate-{code}")  # fmt: skip


def ledger_position(data_dir: Path) -> int:
    from capledger.bootstrap import build_ledger
    from capledger.settings import Settings, StoreSettings

    ledger = build_ledger(Settings(store=StoreSettings(data_dir=data_dir)))
    try:
        return int(ledger.recorder.max_notification_id() or 0)
    finally:
        ledger.close()


# -- servers ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def pinned(command: list[str], cpu: str | None) -> list[str]:
    return command if cpu is None else ["taskset", "-c", cpu, *command]


@dataclass
class Server:
    """A server process on a loopback port, its output in a log file."""

    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @classmethod
    def start(
        cls, name: str, command: list[str], env: dict[str, str], log: Path, port: int
    ) -> Server:
        with log.open("wb") as out:
            process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
        server = cls(name, port, process, log)
        server.wait_until_up()
        return server

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_until_up(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited:\n{self.tail()}")
            try:
                with urllib.request.urlopen(f"{self.base}/healthz", timeout=1) as answer:
                    if answer.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not answer within {timeout} s:\n{self.tail()}")

    def tail(self, lines: int = 20) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # uvicorn's graceful shutdown
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def capledger_command(port: int) -> list[str]:
    """``capledger serve`` from this interpreter's environment."""
    script = Path(sys.executable).with_name("capledger")
    program = [str(script)] if script.exists() else [sys.executable, "-m", "capledger.cli"]
    return [*program, "serve", "--host", "127.0.0.1", "--port", str(port)]


def server_env(data_dir: Path, log_level: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("CAPLEDGER_")}
    env.update(
        CAPLEDGER_DATA_DIR=str(data_dir),
        CAPLEDGER_LOG_LEVEL=log_level,
        CAPLEDGER_LOG_FORMAT="json",
        CAPLEDGER_API_WRITE_RATE_PER_S=str(WRITE_RATE),
        CAPLEDGER_API_WRITE_BURST=str(WRITE_RATE),
        CAPLEDGER_API_READ_RATE_PER_S=str(WRITE_RATE),
        CAPLEDGER_API_READ_BURST=str(WRITE_RATE),
    )
    return env


@contextmanager
def servers(data_dir: Path, log_level: str, cpu: str | None) -> Iterator[tuple[Server, Server]]:
    started: list[Server] = []
    try:
        port = free_port()
        started.append(
            Server.start(
                "capledger serve",
                pinned(capledger_command(port), cpu),
                server_env(data_dir, log_level),
                data_dir / "capledger-serve.log",
                port,
            )
        )
        raw_port = free_port()
        raw_dir = data_dir / "raw"
        raw_dir.mkdir()
        raw = [sys.executable, __file__, "--serve-raw", str(raw_port), "--raw-dir", str(raw_dir)]
        started.append(
            Server.start(
                "raw reference", pinned(raw, cpu), dict(os.environ), raw_dir / "raw.log", raw_port
            )
        )
        yield started[0], started[1]
    finally:
        for server in reversed(started):
            server.stop()


# -- the raw reference server (run in its own process with --serve-raw) -----------------------


def serve_raw(port: int, directory: Path, projects: int) -> None:
    """A bare Starlette app under uvicorn with the settings ``capledger serve`` uses."""
    import uvicorn
    from eventsourcing.application import Application
    from raw_counter import Counter  # bench/ is first on sys.path
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "CREATE_TABLE": "y",
           "SQLITE_DBNAME": str(directory / "raw.sqlite3")}  # fmt: skip
    app: Application[Any] = Application(env)
    counters = [Counter(f"counter-{index}") for index in range(projects)]
    app.save(*counters)
    lock = threading.Lock()  # the aggregates are mutated in place, as the ledger's are

    def save(index: int, by: int) -> int:
        with lock:
            counter = counters[index % len(counters)]
            counter.increment(by)
            recordings = app.save(counter)
        return int(recordings[-1].notification.id)

    async def constant(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def record(request: Request) -> JSONResponse:
        body = await request.json()
        position = await run_in_threadpool(save, int(body["counter"]), int(body["by"]))
        return JSONResponse({"position": position}, status_code=201)

    routes = [
        Route("/healthz", constant),
        Route(RAW_GET, constant),
        Route(RAW_SAVE, record, methods=["POST"]),
    ]
    from capledger.api.server import uvicorn_config
    from capledger.api.settings import ApiSettings

    # The connection limits and protocol of `capledger serve`, at their defaults.
    config = uvicorn_config(Starlette(routes=routes), ApiSettings(), host="127.0.0.1", port=port)
    uvicorn.Server(config).run()


# -- wrk ----------------------------------------------------------------------------------------

#: Counts answers by status in each wrk thread, and at the end prints the latency histogram
#: (microseconds: value and count of every distinct latency) and wrk's own summary.
LUA_REPORT = """
local threads = {}
function setup(thread) table.insert(threads, thread) end
answered = {}  -- global: thread:get reads globals
function response(status, headers, body)
  answered[status] = (answered[status] or 0) + 1
end
function done(summary, latency, requests)
  local statuses = {}
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("answered")) do
      statuses[tostring(status)] = (statuses[tostring(status)] or 0) + count
    end
  end
  local parts = {}
  for status, count in pairs(statuses) do
    table.insert(parts, string.format('"%s":%d', status, count))
  end
  io.write(string.format(
    'BENCH_SUMMARY {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,'
    .. '"status":%d,"timeout":%d,"wrk_p50_us":%d,"wrk_p99_us":%d,"statuses":{%s}}\\n',
    summary.requests, summary.duration, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.status, summary.errors.timeout,
    latency:percentile(50), latency:percentile(99), table.concat(parts, ",")))
  io.write("BENCH_HISTOGRAM")
  for i = 1, #latency do
    local value, count = latency(i)
    io.write(string.format(" %d:%d", value, count))
  end
  io.write("\\n")
end
"""

#: Each request its own command id (a prefix unique to the wrk run, then a counter: one wrk
#: thread) and the next project, round-robin.
LUA_PAYMENT = """
local prefix, projects, counter = "", 1, 0
function init(args)
  prefix, projects = args[1], tonumber(args[2])
end
function request()
  counter = counter + 1
  local body = string.format(
    '{"plan_code":"%s","source":"%s","amount":"%d","treasury_ref":"KB-%d",'
    .. '"effective_on":"2025-06-30"}', PLAN, SOURCE, PAYMENT, counter)
  wrk.headers["Idempotency-Key"] = prefix .. "-" .. counter
  return wrk.format("POST", string.format("/projects/API-%03d/payments", counter % projects),
                    nil, body)
end
"""

#: The raw save: one event per request, round-robin over the counters.
LUA_RAW_SAVE = """
local projects, counter = 1, 0
function init(args) projects = tonumber(args[2]) end
function request()
  counter = counter + 1
  return wrk.format("POST", nil, nil,
                    string.format('{"counter":%d,"by":%d}', counter % projects, PAYMENT))
end
"""


def lua_constants() -> str:
    return f'PLAN, SOURCE, PAYMENT = "{PLAN}", "{SOURCE}", {PAYMENT}\n'


@dataclass
class Round:
    """What wrk saw in one round of one load, and the CPU the server spent meanwhile."""

    requests: int
    seconds: float
    p99_ms: float
    server_cpu_s: float | None


@dataclass
class Load:
    """One kind of request, its client settings, and what all its rounds measured."""

    name: str
    url: str
    connections: int
    script: Path
    headers: list[str]
    server_pid: int
    args: list[str] = field(default_factory=list)
    histogram: Tally[int] = field(default_factory=Tally)
    statuses: Tally[str] = field(default_factory=Tally)
    warm_up_statuses: Tally[str] = field(default_factory=Tally)
    rounds: list[Round] = field(default_factory=list)
    errors: int = 0

    def run(self, seconds: float, cpu: str | None, tag: str, *, count: bool = True) -> None:
        command = ["wrk", "-t1", f"-c{self.connections}", f"-d{max(1, round(seconds))}s",
                   "--timeout", "10s", "-s", str(self.script)]  # fmt: skip
        for header in self.headers:
            command += ["-H", header]
        command += [self.url, "--", tag, *self.args]
        cpu_before = process_cpu_s(self.server_pid)
        done = subprocess.run(pinned(command, cpu), capture_output=True, text=True, check=False)
        cpu_after = process_cpu_s(self.server_pid)
        if done.returncode != 0:
            raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
        summary, histogram = parse_wrk(done.stdout)
        if not count:
            self.warm_up_statuses.update(summary["statuses"])
            return
        self.histogram.update(histogram)
        self.statuses.update(summary["statuses"])
        self.errors += sum(int(summary[key]) for key in ("connect", "read", "write", "timeout"))
        spent = None if cpu_before is None or cpu_after is None else cpu_after - cpu_before
        self.rounds.append(Round(int(summary["requests"]), int(summary["duration_us"]) / 1e6,
                                 percentile(histogram, 99) / 1000, spent))  # fmt: skip

    @property
    def requests(self) -> int:
        return sum(done.requests for done in self.rounds)

    @property
    def rps(self) -> float:
        seconds = sum(done.seconds for done in self.rounds)
        return self.requests / seconds if seconds else 0.0

    @property
    def server_cpu_ms(self) -> float | None:
        """The server's CPU time (all its threads) per request answered."""
        spent = [done.server_cpu_s for done in self.rounds]
        if not self.requests or any(value is None for value in spent):
            return None
        return sum(value or 0.0 for value in spent) * 1000 / self.requests

    def percentile_ms(self, p: float) -> float:
        return percentile(self.histogram, p) / 1000

    def line(self) -> str:
        return (f"{self.name}: {self.requests} requests, {self.rps:,.0f}/s, "
                f"p50 {self.percentile_ms(50):.2f} ms, p99 {self.percentile_ms(99):.2f} ms, "
                f"server CPU {self.server_cpu_ms or 0:.2f} ms/request, "
                f"statuses {dict(self.statuses)}")  # fmt: skip


def process_cpu_s(pid: int) -> float | None:
    """User and system CPU seconds of a process so far (Linux ``/proc``), or None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def parse_wrk(output: str) -> tuple[dict[str, Any], Tally[int]]:
    summary: dict[str, Any] | None = None
    histogram: Tally[int] = Tally()
    for line in output.splitlines():
        if line.startswith("BENCH_SUMMARY "):
            summary = json.loads(line.removeprefix("BENCH_SUMMARY "))
        elif line.startswith("BENCH_HISTOGRAM"):
            for pair in line.split()[1:]:
                value, count = pair.split(":")
                histogram[int(value)] += int(count)
    if summary is None:
        raise RuntimeError(f"wrk printed no summary:\n{output}")
    return summary, histogram


def percentile(histogram: Tally[int], p: float) -> float:
    """Nearest rank: the least latency that at least p % of the requests did not exceed."""
    total = sum(histogram.values())
    if not total:
        return math.nan
    rank = max(1, math.ceil(p / 100 * total))
    seen = 0
    for value in sorted(histogram):
        seen += histogram[value]
        if seen >= rank:
            return float(value)
    return float(max(histogram))


def write_scripts(directory: Path) -> dict[str, Path]:
    scripts = {
        "get": LUA_REPORT,
        "payment": lua_constants() + LUA_PAYMENT + LUA_REPORT,
        "raw_save": lua_constants() + LUA_RAW_SAVE + LUA_REPORT,
    }
    paths = {}
    for name, text in scripts.items():
        paths[name] = directory / f"{name}.lua"
        paths[name].write_text(text, encoding="utf-8")
    return paths


# -- the run ------------------------------------------------------------------------------------


def loads(
    capledger: Server, raw: Server, ready: Ready, scripts: dict[str, Path], args: argparse.Namespace
) -> list[Load]:
    json_body = "Content-Type: application/json"
    projects = str(args.projects)
    ours, theirs = capledger.process.pid, raw.process.pid
    return [
        Load("balance", capledger.base + BALANCE_QUERY, args.balance_connections,
             scripts["get"], [f"X-API-Key: {ready.reader_token}"], ours),
        Load("balance_uncached", capledger.base + BALANCE_QUERY, args.balance_connections,
             scripts["get"], [f"X-API-Key: {ready.reader_token}", NO_CACHE], ours),
        Load("raw_get", raw.base + RAW_GET, args.balance_connections, scripts["get"], [],
             theirs),
        Load("payment", capledger.base + f"/projects/{project_code(0)}/payments",
             args.payment_connections, scripts["payment"],
             [f"X-API-Key: {ready.writer_token}", json_body], ours, [projects]),
        Load("raw_save", raw.base + RAW_SAVE, args.payment_connections, scripts["raw_save"],
             [json_body], theirs, [projects]),
    ]  # fmt: skip


def check_balance_answer(capledger: Server, ready: Ready) -> int:
    """The query answers 200 with Hải Phòng's projects (a wrong filter would be cheap), and
    the cached answer is the uncached one, byte for byte, with the same validator."""
    answers = []
    for extra in ({}, {}, {"Cache-Control": "no-cache"}):
        request = urllib.request.Request(
            capledger.base + BALANCE_QUERY, headers={"X-API-Key": ready.reader_token, **extra}
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            answers.append((answer.headers.get("ETag"), answer.read()))
    if len(set(answers)) != 1 or answers[0][0] is None:
        raise RuntimeError("the cached and uncached balance pages differ (or lack an ETag)")
    page = json.loads(answers[0][1])
    items = len(page["items"])
    if items < 10:
        raise RuntimeError(f"the balance query found only {items} items: {page}")
    return items


def run_rounds(all_loads: list[Load], args: argparse.Namespace, cpu: str | None) -> None:
    for load in all_loads:
        load.run(WARM_UP_S, cpu, "warm-up", count=False)
    for round_ in range(args.rounds):
        for load in all_loads:
            load.run(args.seconds, cpu, f"r{round_}")
        say(f"  round {round_ + 1}/{args.rounds}: "
            + "; ".join(f"{load.name} {load.rounds[-1].requests / load.rounds[-1].seconds:,.0f}/s"
                        f" p99 {load.rounds[-1].p99_ms:.1f} ms" for load in all_loads)
            + f" (load average {os.getloadavg()[0]:.2f})")  # fmt: skip


def figures(load: Load, prefix: str) -> dict[str, Any]:
    cpu_ms = load.server_cpu_ms
    return {
        f"{prefix}_p50_ms": round(load.percentile_ms(50), 2),
        f"{prefix}_p99_ms": round(load.percentile_ms(99), 2),
        f"{prefix}_rps": round(load.rps, 1),
        f"{prefix}_requests": load.requests,
        f"{prefix}_server_cpu_ms": None if cpu_ms is None else round(cpu_ms, 3),
        f"{prefix}_rounds_rps": [round(done.requests / done.seconds, 1) for done in load.rounds],
    }


def recorded_payments(
    payment: Load, before: int, after: int, args: argparse.Namespace
) -> dict[str, Any]:
    """Every payment answered 201 recorded its two events (the payment and its receipt). A
    request in flight when wrk stops is recorded but not counted, hence the upper bound."""
    created = payment.statuses["201"] + payment.warm_up_statuses["201"]
    commands = (after - before) / 2
    in_flight = payment.connections * (args.rounds + 1)
    if not created <= commands <= created + in_flight:
        say(f"WARNING: {created} payments answered 201 but {commands} commands recorded")
    return {"payment_created": created, "payment_commands_recorded": commands}


def server_stack() -> dict[str, str]:
    """What uvicorn's ``auto`` settings pick in this environment (both servers use them)."""
    return {
        "server_loop": "uvloop" if find_spec("uvloop") else "asyncio",
        "server_http": "httptools" if find_spec("httptools") else "h11",
    }


def summarise(
    measured: dict[str, Load], recorded: dict[str, Any], args: argparse.Namespace, **extra: Any
) -> dict[str, Any]:
    balance, raw_get = measured["balance"], measured["raw_get"]
    uncached = measured["balance_uncached"]
    payment, raw_save = measured["payment"], measured["raw_save"]
    return {
        **figures(balance, "balance"),
        **figures(uncached, "balance_uncached"),
        **figures(payment, "payment"),
        **figures(raw_get, "raw_get"),
        **figures(raw_save, "raw_save"),
        "balance_rps_ratio": round(balance.rps / raw_get.rps, 3),
        "balance_uncached_rps_ratio": round(uncached.rps / raw_get.rps, 3),
        "payment_rps_ratio": round(payment.rps / raw_save.rps, 3),
        **recorded,
        "balance_statuses": dict(balance.statuses),
        "balance_uncached_statuses": dict(uncached.statuses),
        "payment_statuses": dict(payment.statuses),
        "socket_errors": sum(load.errors for load in measured.values()),
        "balance_connections": args.balance_connections,
        "payment_connections": args.payment_connections,
        "seconds_per_round": args.seconds,
        "rounds": args.rounds,
        "projects": args.projects,
        "wrk_threads": 1,
        "log_level": args.log_level,
        **server_stack(),
        **extra,
        "load_average_1m": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
    }


def benchmark(args: argparse.Namespace) -> dict[str, Any]:
    pin = not args.no_pin and shutil.which("taskset") is not None and (os.cpu_count() or 1) > 1
    server_cpu, client_cpu = (SERVER_CPU, CLIENT_CPU) if pin else (None, None)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="capledger-bench-api-") as directory:
        data_dir = Path(directory)
        say(f"set-up: the demo scenario and {args.projects} funded projects in {data_dir}")
        ready = set_up(data_dir, args.projects)
        scripts = write_scripts(data_dir)
        with servers(data_dir, args.log_level, server_cpu) as (capledger, raw):
            items = check_balance_answer(capledger, ready)
            say(f"servers up: capledger {capledger.base}, raw {raw.base}; {args.rounds} rounds "
                f"of {args.seconds:g} s per load, pinned: {pin}")  # fmt: skip
            all_loads = loads(capledger, raw, ready, scripts, args)
            run_rounds(all_loads, args, client_cpu)
        after = ledger_position(data_dir)
    measured = {load.name: load for load in all_loads}
    for load in all_loads:
        say(load.line())
    recorded = recorded_payments(measured["payment"], ready.position, after, args)
    return summarise(
        measured, recorded, args, balance_query=BALANCE_QUERY, balance_items=items,
        demo_commands=ready.demo_commands, pinned=pin,
        seconds=round(time.perf_counter() - started, 1),
    )  # fmt: skip


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short run (about a minute)")
    parser.add_argument("--seconds", type=float, help="seconds of each load in each round")
    parser.add_argument("--rounds", type=int, help="alternating rounds")
    parser.add_argument("--balance-connections", type=int, default=4)
    parser.add_argument("--payment-connections", type=int, default=4)
    parser.add_argument("--projects", type=int, default=100)
    parser.add_argument("--log-level", default="INFO", help="the server's (access lines: INFO)")
    parser.add_argument("--no-pin", action="store_true", help="do not pin servers and client")
    parser.add_argument("--serve-raw", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--raw-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    defaults = QUICK if args.quick else FULL
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.serve_raw is not None:
        serve_raw(args.serve_raw, args.raw_dir, args.projects)
        return 0
    if shutil.which("wrk") is None:
        print("bench/api.py needs wrk, the HTTP load generator: apt-get install wrk",
              file=sys.stderr)  # fmt: skip
        return 2
    # The set-up's debug lines (thousands of commands) are not the benchmark's output.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    say(f"API benchmark: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    summary = benchmark(args)
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
