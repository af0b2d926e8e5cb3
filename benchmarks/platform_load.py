"""The certification platform under load: the API's throughput and latency while runs
execute, and the throughput of runs as Celery worker processes are added.

Run it as ``uv run python benchmarks/platform_load.py [--db sqlite|postgres] [--seconds N]``
(default: PostgreSQL when it answers at --pg-url, 20 s of load; about 2 minutes in all).
It prints figures, it does not gate: it exits 0 when both parts ran, 1 when a part
failed (a process did not start, a run did not finish).

Every process runs on its own (``python -m harness ...``, started in a session of its
own and stopped with SIGTERM to its process group, SIGKILL after a grace period, on
any exit: the end, an error, Ctrl-C or SIGTERM), so the load generator, the server,
the workers and the reference target do not share a GIL; they do share this
machine's cores, and the figures say how much CPU each one took.

Part 1, API under load
----------------------
* A reference chat target (``harness target serve reference-chat --policy safe
  --latency-ms L``, L = --latency-ms, default 100) and the server (``harness serve
  --data-dir D [--db URL] --port P`` with HARNESS_ALLOW=127.0.0.1 and
  HARNESS_RATE_PER_MINUTE=10^9, so the per-token rate limit never answers 429). By
  default the server runs the queue in its own threads (``--queue embedded``, its 2
  default worker threads: the API shares its process and GIL with the workers, the
  simplest deployment); ``--queue celery`` gives it a Redis broker and starts one
  ``harness worker`` process instead.
* 5 applicant organisations, each with a user, a target and --clients / 5 API tokens.
  Each organisation first gets 2 finished runs (starter.refusal + starter.over-refusal,
  profile starter: 96 attempts each), then one long run (the same suites, as many
  epochs as keep a worker busy for the whole window at the target's latency and
  concurrency 8). The load starts once the long runs are under way.
* --clients (50) asyncio tasks in this process, each with its own httpx.AsyncClient
  (its own connection) and its own token, send requests back to back (a closed loop,
  no think time) for --seconds: 60 % ``GET /api/v1/runs/{id}`` of one of its
  organisation's runs (finished, running or queued), 15 % ``GET /api/v1/runs``, 20 %
  ``GET /api/v1/runs/{id}/report`` (JSON, a finished run), 5 % the same with
  ``?format=html``. Latency is measured in the client, from sending to the whole body
  read. A request is an error when it raised or its status is not 2xx.
* Printed per kind and in all: requests, requests/s (requests / the time from the
  first request sent to the last answer), p50/p95/p99 latency in ms, errors (with the
  first error of each kind). Then the CPU taken during the window by the server, the
  target, this load generator, the Celery worker (--queue celery) and PostgreSQL (all
  its processes, whoever's client they serve), the machine's CPU use, with --queue
  celery the server's CPU per request (it does nothing but the API then), and how many
  attempts the workers stored during the window: the runs did execute.

Part 2, worker scaling (needs Redis; PostgreSQL or SQLite as --db)
-------------------------------------------------------------------
* A fresh server with ``--broker redis://127.0.0.1:6379/14`` (the Redis database is
  flushed at the start and at the end) and a reference target with 200 ms latency.
* For each worker count k in --worker-counts (1, 2, 4): k separate ``harness worker
  --concurrency 1`` processes (each a Celery parent and its one pool process: k
  processes doing shards, as k machines would), all started and ready (their log says
  "ready.") before anything is queued. Then --runs (8) runs of starter.refusal +
  starter.over-refusal, profile starter, target concurrency 8, are queued at once and
  waited for; the workers are stopped before the next k.
* Attempts/s = stored attempts / (last run finished - first attempt sent), both read
  from the store: the end is the latest ``jobs.updated_at`` (the finisher moves the
  job to finished last), the start the earliest ``results.created_at - latency_ms``
  (a result's created_at is when its batch was stored: this estimates when its request
  was sent). Ideal = 8 in flight x k / 0.2 s. Also printed: the mean run wall time
  (its worker's claim, the ``run.started`` audit entry, to finished; the requests
  alone take 96 / 8 x 0.2 s = 2.4 s) and how many runs each worker process did.

PostgreSQL: every part uses a schema of its own, made at the start and dropped at the
end. SQLite: the store is the data folder's platform.db (the same file for the server
and the workers). Temporary files go to a folder removed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import random
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
REDIS_URL = "redis://127.0.0.1:6379/14"
SUITES = ["starter.refusal", "starter.over-refusal"]
CASES = 96  # attempts of one epoch of SUITES
ORGS = 5
KINDS = {"status": 0.60, "list": 0.15, "report json": 0.20, "report html": 0.05}

ENV: dict[str, str] = {}


class Failed(Exception):
    """A part could not be measured."""


# -- processes ------------------------------------------------------------------------------


class Processes:
    """Every process this script starts, each in a session of its own; stop_all()
    stops them all (SIGTERM to the group, SIGKILL after ``grace``)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, name: str, args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        log = self.folder / f"{name}.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen([sys.executable, "-m", "harness", *args], cwd=ROOT, stdout=out,
                                    stderr=subprocess.STDOUT, env={**ENV, **(env or {})}, start_new_session=True)
        proc.log = log  # type: ignore[attr-defined]
        self.procs.append(proc)
        return proc

    def stop(self, *procs: subprocess.Popen[bytes], grace: float = 30) -> None:
        for proc in procs:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for proc in procs:
            if proc.returncode is None:
                # wait for the leader to exit without reaping it: while it is a zombie its
                # pid, the group's id, cannot be reused, so the SIGKILL below reaches only
                # what is left of this group (a Celery pool child may outlive its parent)
                while time.monotonic() < deadline:
                    if os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                        break
                    time.sleep(0.05)
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            if proc in self.procs:
                self.procs.remove(proc)

    def stop_all(self) -> None:
        self.stop(*list(self.procs), grace=15)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def log_tail(proc: subprocess.Popen[bytes], n: int = 800) -> str:
    return proc.log.read_text(errors="replace")[-n:]  # type: ignore[attr-defined]


def wait_http(proc: subprocess.Popen[bytes], url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise Failed(f"{proc.args[3:5]} did not start: {log_tail(proc)}")
        time.sleep(0.1)


def start_target(procs: Processes, latency_ms: float) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = procs.start(f"target-{port}", ["target", "serve", "reference-chat", "--port", str(port), "--policy",
                                          "safe", "--latency-ms", f"{latency_ms:g}"])
    url = f"http://127.0.0.1:{port}"
    wait_http(proc, url + "/health")
    return proc, url


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    base: str
    data_dir: Path
    db_url: str  # for this script's own reads of the store
    admin: httpx.Client

    def ok(self, method: str, path: str, client: httpx.Client | None = None, **kwargs: Any) -> Any:
        r = (client or self.admin).request(method, path, **kwargs)
        if r.status_code >= 300:
            raise Failed(f"{method} {path}: {r.status_code} {r.text[:300]}")
        return r.json()


def start_server(procs: Processes, folder: Path, db_url: str | None, broker: str | None) -> Server:
    port = free_port()
    data_dir = folder / "data"
    args = ["serve", "--data-dir", str(data_dir), "--port", str(port)]
    if db_url:
        args += ["--db", db_url]
    if broker:
        args += ["--broker", broker, "--workers", "0"]
    proc = procs.start(f"server-{port}", args, env={"HARNESS_ALLOW": "127.0.0.1",
                                                    "HARNESS_RATE_PER_MINUTE": str(10**9)})
    base = f"http://127.0.0.1:{port}"
    wait_http(proc, base + "/healthz")
    token = (data_dir / "admin-token").read_text().strip()
    admin = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60, trust_env=False)
    return Server(proc, base, data_dir, db_url or f"sqlite:///{data_dir / 'platform.db'}", admin)


def start_worker(procs: Processes, name: str, db_url: str | None, data_dir: Path) -> subprocess.Popen[bytes]:
    args = ["worker", "--broker", REDIS_URL, "--data-dir", str(data_dir), "--concurrency", "1", "--name",
            f"{name}@bench"]
    if db_url:
        args += ["--db", db_url]
    return procs.start(name, args, env={"HARNESS_ALLOW": "127.0.0.1"})


def wait_ready(workers: list[subprocess.Popen[bytes]], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    for w in workers:
        while "ready." not in w.log.read_text(errors="replace"):  # type: ignore[attr-defined]
            if w.poll() is not None or time.monotonic() > deadline:
                raise Failed(f"worker {w.args[-1]} did not get ready: {log_tail(w)}")
            time.sleep(0.1)


def cpu_of(pid: int) -> float:
    """User + system CPU seconds of a live process and its waited-for children."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    return sum(int(x) for x in fields[11:15]) / ticks  # utime stime cutime cstime


def cpu_of_group(pgid: int) -> float:
    """CPU seconds of every live process of a process group (a Celery worker and its pool)."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.getpgid(int(entry.name)) == pgid:
                    total += cpu_of(int(entry.name))
            except OSError:
                continue
    return total


def cpu_of_postgres() -> float:
    """CPU seconds of the live processes named postgres (every client's, not only ours)."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if (entry / "comm").read_text().strip() == "postgres":
                    total += cpu_of(int(entry.name))
    return total


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of all CPUs since boot, from /proc/stat."""
    values = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


# -- databases ------------------------------------------------------------------------------------


def pg_reachable(url: str) -> bool:
    engine = sa.create_engine(url, connect_args={"connect_timeout": 2})
    try:
        with engine.connect():
            return True
    except Exception:  # noqa: BLE001 - any failure means "not here"
        return False
    finally:
        engine.dispose()


@contextlib.contextmanager
def pg_schema(url: str, prefix: str) -> Iterator[str]:
    """A URL of ``url``'s database whose tables land in a new schema, dropped afterwards."""
    schema = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(url)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    try:
        yield sa.make_url(url).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
            hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


def flush_redis() -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.flushdb()
    finally:
        client.close()


def redis_reachable() -> bool:
    try:
        flush_redis()
        return True
    except Exception:  # noqa: BLE001
        return False


def epoch_of(iso: str) -> float:
    return datetime.strptime(iso, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC).timestamp()


# -- platform set-up --------------------------------------------------------------------------------


@dataclass
class Tenant:
    org_id: str
    user_id: str
    tokens: list[str]
    target_id: str
    finished: list[str] = field(default_factory=list)
    busy: list[str] = field(default_factory=list)


def make_tenants(server: Server, target_url: str, tokens_each: int, concurrency: int) -> list[Tenant]:
    out = []
    for i in range(ORGS):
        org = server.ok("POST", "/api/v1/orgs", json={"name": f"bench-org-{i}"})
        user = server.ok("POST", f"/api/v1/orgs/{org['id']}/users", json={"name": f"user{i}", "role": "applicant"})
        tokens = [server.ok("POST", f"/api/v1/users/{user['id']}/tokens", json={"label": f"bench{n}"})["token"]
                  for n in range(tokens_each)]
        with httpx.Client(base_url=server.base, headers={"Authorization": f"Bearer {tokens[0]}"}, timeout=60,
                          trust_env=False) as c:
            target = server.ok("POST", "/api/v1/targets", client=c, json={
                "name": "reference-safe", "connector": "openai-chat",
                "settings": {"base_url": f"{target_url}/v1", "model": "reference", "concurrency": concurrency,
                             "timeout_s": 30}})
        out.append(Tenant(org["id"], user["id"], tokens, target["id"]))
    return out


def ask_run(server: Server, tenant: Tenant, seed: int, **extra: Any) -> str:
    with httpx.Client(base_url=server.base, headers={"Authorization": f"Bearer {tenant.tokens[0]}"}, timeout=60,
                      trust_env=False) as c:
        run = server.ok("POST", "/api/v1/runs", client=c, json={"target_id": tenant.target_id, "profile": "starter",
                                                                "suites": SUITES, "seed": seed, **extra})
    return run["id"]


def wait_runs(server: Server, run_ids: list[str], timeout: float) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    pending = set(run_ids)
    done: dict[str, dict[str, Any]] = {}
    while pending:
        for run_id in sorted(pending):
            run = server.ok("GET", f"/api/v1/runs/{run_id}")
            if run["state"] in ("finished", "cancelled", "failed"):
                done[run_id] = run
                pending.discard(run_id)
        if pending:
            if time.monotonic() > deadline:
                raise Failed(f"{len(pending)} of {len(run_ids)} runs did not end in {timeout:.0f} s")
            time.sleep(0.1)
    bad = [(r["id"], r["state"], r["error"]) for r in done.values() if r["state"] != "finished"]
    if bad:
        raise Failed(f"runs that did not finish: {bad[:3]}")
    return [done[r] for r in run_ids]


# -- part 1: the API under load ------------------------------------------------------------------------


@dataclass
class Kind:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str | None = None
    bytes: int = 0

    def add(self, seconds: float, error: str | None, size: int) -> None:
        self.latencies.append(seconds)
        self.bytes += size
        if error:
            self.errors += 1
            self.first_error = self.first_error or error


async def client_loop(base: str, token: str, tenant: Tenant, deadline: float, stats: dict[str, Kind],
                      rng: random.Random) -> None:
    runs = tenant.finished + tenant.busy
    names, weights = list(KINDS), list(KINDS.values())
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=120,
                                 trust_env=False) as http:
        while time.monotonic() < deadline:
            kind = rng.choices(names, weights)[0]
            params: dict[str, str] = {}
            if kind == "status":
                path = f"/api/v1/runs/{rng.choice(runs)}"
            elif kind == "list":
                path = "/api/v1/runs"
            else:
                path = f"/api/v1/runs/{rng.choice(tenant.finished)}/report"
                if kind == "report html":
                    params["format"] = "html"
            started = time.perf_counter()
            error, size = None, 0
            try:
                r = await http.get(path, params=params)
                size = len(r.content)
                if not 200 <= r.status_code < 300:
                    error = f"HTTP {r.status_code} {path}: {r.text[:200]}"
            except Exception as exc:  # noqa: BLE001 - every failure counts as an error
                error = f"{type(exc).__name__} {path}: {exc}"
            stats[kind].add(time.perf_counter() - started, error, size)


async def load(base: str, tenants: list[Tenant], clients: int, seconds: float) -> tuple[dict[str, Kind], float]:
    stats = {k: Kind() for k in KINDS}
    rng = random.Random(7)
    started = time.monotonic()
    deadline = started + seconds
    tasks = [asyncio.create_task(client_loop(base, tenants[i % ORGS].tokens[i // ORGS], tenants[i % ORGS], deadline,
                                             stats, random.Random(rng.random())))
             for i in range(clients)]
    await asyncio.gather(*tasks)
    return stats, time.monotonic() - started


def pct(values: list[float], q: int) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def print_table(stats: dict[str, Kind], elapsed: float) -> None:
    print(f"{'request':<14}{'count':>8}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}"
          f"{'errors':>8}{'KB/resp':>9}")
    every = Kind()
    for name, k in [*stats.items(), ("all", every)]:
        if name != "all":
            every.latencies += k.latencies
            every.errors += k.errors
            every.bytes += k.bytes
        n = len(k.latencies)
        ms = [x * 1000 for x in k.latencies]
        print(f"{name:<14}{n:>8}{n / elapsed:>9.1f}{pct(ms, 50):>9.1f}{pct(ms, 95):>9.1f}{pct(ms, 99):>9.1f}"
              f"{max(ms, default=float('nan')):>9.1f}{k.errors:>8}{k.bytes / max(n, 1) / 1000:>9.1f}")
    for name, k in stats.items():
        if k.first_error:
            print(f"  first error of {name}: {k.first_error}")


def done_of(server: Server, run_ids: list[str]) -> int:
    return sum(server.ok("GET", f"/api/v1/runs/{r}")["done"] for r in run_ids)


def api_under_load(procs: Processes, folder: Path, db_url: str | None, args: argparse.Namespace) -> None:
    celery = args.queue == "celery"
    if celery:
        flush_redis()
    target, target_url = start_target(procs, args.latency_ms)
    server = start_server(procs, folder, db_url, REDIS_URL if celery else None)
    worker = start_worker(procs, "api-worker", db_url, server.data_dir) if celery else None
    if worker:
        wait_ready([worker])
    tenants = make_tenants(server, target_url, max(1, args.clients // ORGS), 8)
    # two finished runs per organisation, for the reports (sent at concurrency 96: quick)
    for seed in (1, 2):
        for t in tenants:
            t.finished.append(ask_run(server, t, seed, concurrency=96))
    wait_runs(server, [r for t in tenants for r in t.finished], timeout=300)
    # one long run per organisation: a worker is busy with one for more than the window
    rate = 8 / (args.latency_ms / 1000) if args.latency_ms else 400
    epochs = min(100, max(1, round((args.seconds + 20) * rate / CASES)))
    for t in tenants:
        t.busy.append(ask_run(server, t, 3, epochs=epochs))
    busy = [r for t in tenants for r in t.busy]
    deadline = time.monotonic() + 60
    while sum(server.ok("GET", f"/api/v1/runs/{r}")["state"] == "running" for r in busy) < (1 if celery else 2):
        if time.monotonic() > deadline:
            raise Failed("the long runs did not start")
        time.sleep(0.2)
    # warm-up, not measured: one request of each kind (the first HTML render imports its templates)
    with httpx.Client(base_url=server.base, headers={"Authorization": f"Bearer {tenants[0].tokens[0]}"},
                      timeout=60, trust_env=False) as c:
        for path, params in [(f"/api/v1/runs/{busy[0]}", {}), ("/api/v1/runs", {}),
                             (f"/api/v1/runs/{tenants[0].finished[0]}/report", {}),
                             (f"/api/v1/runs/{tenants[0].finished[0]}/report", {"format": "html"})]:
            c.get(path, params=params).raise_for_status()

    print(f"\n## 1. API under load: {args.clients} clients ({args.clients // ORGS} tokens in each of {ORGS} "
          f"organisations), back to back for {args.seconds:g} s", flush=True)
    print(f"# mix: {', '.join(f'{int(w * 100)} % {k}' for k, w in KINDS.items())}; "
          f"store {'PostgreSQL' if db_url else 'SQLite'}; queue "
          f"{'Celery (1 harness worker process, Redis)' if celery else 'embedded (2 worker threads in the server)'}")
    print(f"# while {ORGS} runs of {epochs} epochs x {CASES} attempts are queued or running against the reference "
          f"target at {args.latency_ms:g} ms, concurrency 8; {2 * ORGS} finished runs serve the reports", flush=True)
    done_before = done_of(server, busy)
    cpu_before = {"server": cpu_of(server.proc.pid), "target": cpu_of(target.pid),
                  "worker": cpu_of_group(worker.pid) if worker else 0.0, "PostgreSQL": cpu_of_postgres()}
    self_before = resource.getrusage(resource.RUSAGE_SELF)
    busy_before = machine_busy()
    stats, elapsed = asyncio.run(load(server.base, tenants, args.clients, args.seconds))
    busy_after = machine_busy()
    self_after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = {"server": cpu_of(server.proc.pid) - cpu_before["server"],
           "target": cpu_of(target.pid) - cpu_before["target"],
           "worker": (cpu_of_group(worker.pid) - cpu_before["worker"]) if worker else 0.0,
           "PostgreSQL": cpu_of_postgres() - cpu_before["PostgreSQL"]}
    cpu["load generator"] = (self_after.ru_utime + self_after.ru_stime) - (self_before.ru_utime + self_before.ru_stime)
    done_after = done_of(server, busy)
    states = [server.ok("GET", f"/api/v1/runs/{r}")["state"] for r in busy]
    print_table(stats, elapsed)
    print(f"# measured over {elapsed:.2f} s (first request sent to last answer read)")
    shown = [k for k in cpu if (k != "worker" or worker) and (k != "PostgreSQL" or db_url)]
    print("# CPU during the window, in cores: " + ", ".join(f"{k} {cpu[k] / elapsed:.2f}" for k in shown) +
          f"; whole machine {(busy_after[0] - busy_before[0]) / (busy_after[1] - busy_before[1]) * 100:.0f} % "
          f"busy of {os.cpu_count()} cores" + (" (PostgreSQL: all its processes, whoever's)" if db_url else ""))
    if worker:  # the server does nothing but the API
        requests = sum(len(k.latencies) for k in stats.values())
        print(f"# server CPU per request: {cpu['server'] / requests * 1000:.2f} ms")
    print(f"# the workers stored {done_after - done_before} attempts in the window "
          f"({(done_after - done_before) / elapsed:.1f}/s; ideal without the load "
          f"{(1 if celery else 2) * rate:.0f}/s); long runs now: "
          + ", ".join(f"{states.count(s)} {s}" for s in sorted(set(states))), flush=True)
    for r in busy:  # the workers stop at their next heartbeat
        with contextlib.suppress(Failed):
            server.ok("POST", f"/api/v1/runs/{r}/cancel")
    server.admin.close()
    procs.stop(*[p for p in (worker, server.proc, target) if p is not None])


# -- part 2: worker scaling ------------------------------------------------------------------------------


def scaling_round(procs: Processes, server: Server, tenant: Tenant, db_url: str | None, k: int, runs: int,
                  seed0: int) -> dict[str, Any]:
    workers = [start_worker(procs, f"w{k}-{i}", db_url, server.data_dir) for i in range(k)]
    try:
        wait_ready(workers)
        cpu_ready = sum(cpu_of_group(w.pid) for w in workers)
        busy_before = machine_busy()
        posted = time.monotonic()
        with ThreadPoolExecutor(runs) as pool:
            run_ids = list(pool.map(lambda s: ask_run(server, tenant, s), range(seed0, seed0 + runs)))
        posted = time.monotonic() - posted
        done = wait_runs(server, run_ids, timeout=600)
        busy_after = machine_busy()
        worker_cpu = sum(cpu_of_group(w.pid) for w in workers) - cpu_ready
    finally:
        procs.stop(*workers)
    engine = sa.create_engine(server.db_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            ids = sa.bindparam("ids", expanding=True)
            results = conn.execute(sa.text("SELECT created_at, latency_ms FROM results WHERE run_id IN :ids")
                                   .bindparams(ids), {"ids": run_ids}).all()
            ends = dict(conn.execute(sa.text("SELECT run_id, updated_at FROM jobs WHERE run_id IN :ids")
                                     .bindparams(ids), {"ids": run_ids}).all())
            started = conn.execute(sa.text("SELECT subject, at, actor FROM audit WHERE action = 'run.started' "
                                           "AND subject IN :ids").bindparams(ids), {"ids": run_ids}).all()
    finally:
        engine.dispose()
    first = min(epoch_of(c) - lat / 1000 for c, lat in results)
    last = max(ends.values())
    starts = {s: epoch_of(at) for s, at, _ in started}
    per_worker: dict[str, int] = {}
    for _, _, actor in started:
        pid = actor.split(":")[2]
        per_worker[pid] = per_worker.get(pid, 0) + 1
    return {"attempts": len(results), "seconds": last - first, "verdicts": sorted({d["verdict"] for d in done}),
            "errors": sum(d["errors"] for d in done), "posted": posted,
            "run_wall": statistics.mean(ends[r] - starts[r] for r in run_ids),
            "per_worker": sorted(per_worker.values(), reverse=True), "worker_cpu": worker_cpu,
            "busy": (busy_after[0] - busy_before[0]) / (busy_after[1] - busy_before[1])}


def worker_scaling(procs: Processes, folder: Path, db_url: str | None, args: argparse.Namespace) -> None:
    flush_redis()
    latency = 0.2
    target, target_url = start_target(procs, latency * 1000)
    server = start_server(procs, folder, db_url, REDIS_URL)
    tenant = make_tenants(server, target_url, 1, args.target_concurrency)[0]
    counts = [int(x) for x in args.worker_counts.split(",")]
    print(f"\n## 2. worker scaling: {args.runs} runs of {' + '.join(SUITES)} ({CASES} attempts each), profile "
          f"starter, reference target at {latency * 1000:g} ms, target concurrency {args.target_concurrency}",
          flush=True)
    print(f"# each worker: a separate `harness worker --concurrency 1` process (Celery on Redis), store "
          f"{'PostgreSQL' if db_url else 'SQLite'}; all ready before the runs are queued")
    print(f"{'workers':>7}{'attempts':>10}{'seconds':>9}{'attempts/s':>12}{'speed-up':>10}{'ideal/s':>9}"
          f"{'of ideal':>10}{'run wall s':>12}{'CPU ms/att':>12}{'machine':>9}  runs per worker", flush=True)
    base = None
    try:
        for n, k in enumerate(counts):
            r = scaling_round(procs, server, tenant, db_url, k, args.runs, 100 * (n + 1))
            rate = r["attempts"] / r["seconds"]
            base = base or rate
            ideal = args.target_concurrency * k / latency
            print(f"{k:>7}{r['attempts']:>10}{r['seconds']:>9.2f}{rate:>12.1f}{rate / base:>10.2f}{ideal:>9.0f}"
                  f"{rate / ideal:>10.2f}{r['run_wall']:>12.2f}{r['worker_cpu'] / r['attempts'] * 1000:>12.2f}"
                  f"{r['busy'] * 100:>8.0f}%  {','.join(map(str, r['per_worker']))}"
                  f"   [verdicts {'/'.join(r['verdicts'])}, {r['errors']} errors, queued in {r['posted']:.2f} s]",
                  flush=True)
        print(f"# run wall: a run's mean time from its worker's claim to finished; its requests alone take "
              f"{CASES} / {args.target_concurrency} x {latency:g} s = "
              f"{CASES / args.target_concurrency * latency:.1f} s. "
              f"CPU ms/att: the worker processes' CPU (Celery parent and pool) from ready to the last run, per "
              f"attempt; machine: share of all {os.cpu_count()} cores busy meanwhile (every process, this "
              f"script's and any other's)")
    finally:
        server.admin.close()
        procs.stop(server.proc, target)
        flush_redis()


# -- main ---------------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], help="the store (default: postgres if reachable)")
    parser.add_argument("--pg-url", default=PG_URL, help=f"PostgreSQL to use a new schema of [{PG_URL}]")
    parser.add_argument("--seconds", type=float, default=20, help="duration of the API load [20]")
    parser.add_argument("--clients", type=int, default=50, help="concurrent API clients, one token each [50]")
    parser.add_argument("--latency-ms", type=float, default=100, help="target latency during the API load [100]")
    parser.add_argument("--queue", choices=["embedded", "celery"], default="embedded",
                        help="who runs the queue during the API load [embedded: the server's threads]")
    parser.add_argument("--worker-counts", default="1,2,4", help="worker processes to measure [1,2,4]")
    parser.add_argument("--runs", type=int, default=8, help="runs queued for each worker count [8]")
    parser.add_argument("--target-concurrency", type=int, default=8, help="requests in flight per run [8]")
    parser.add_argument("--only", choices=["api", "workers"], help="run one part only")
    args = parser.parse_args()

    pg_ok = pg_reachable(args.pg_url)
    db = args.db or ("postgres" if pg_ok else "sqlite")
    if db == "postgres" and not pg_ok:
        print(f"PostgreSQL does not answer at {args.pg_url}", file=sys.stderr)
        return 1
    redis_ok = redis_reachable()
    if args.queue == "celery" and not redis_ok:
        print(f"--queue celery needs Redis at {REDIS_URL}", file=sys.stderr)
        return 1

    def on_sigterm(*_: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_sigterm)
    print(f"# benchmarks/platform_load.py: Python {platform.python_version()}, {platform.system()} "
          f"{platform.machine()}, "
          f"{os.cpu_count()} CPUs (load average {os.getloadavg()[0]:.2f} at the start), shared by the load "
          f"generator, the server, the workers, the target, PostgreSQL and Redis", flush=True)
    print(f"# settings: --db {db}, --seconds {args.seconds:g}, --clients {args.clients}, --latency-ms "
          f"{args.latency_ms:g}, --queue {args.queue}, --worker-counts {args.worker_counts}, --runs {args.runs}, "
          f"--target-concurrency {args.target_concurrency}; HARNESS_RATE_PER_MINUTE=1e9; Redis {REDIS_URL}",
          flush=True)
    started = time.monotonic()
    failed = []
    with tempfile.TemporaryDirectory(prefix="harness-platform-") as name:
        tmp = Path(name)
        ENV.clear()
        ENV.update(os.environ, CI="1", PYTHONPYCACHEPREFIX=str(tmp / "pycache"))
        ENV.pop("PYTHONDONTWRITEBYTECODE", None)  # see throughput.py: each start would compile everything again
        procs = Processes(tmp)
        parts = [("api", "API under load", api_under_load), ("workers", "worker scaling", worker_scaling)]
        try:
            for key, title, fn in parts:
                if args.only and args.only != key:
                    continue
                if key == "workers" and not redis_ok:
                    print(f"\n## {title}: skipped, no Redis at {REDIS_URL}")
                    continue
                folder = tmp / key
                folder.mkdir()
                try:
                    with (pg_schema(args.pg_url, f"bench_{key}") if db == "postgres"
                          else contextlib.nullcontext(None)) as db_url:
                        try:
                            fn(procs, folder, db_url, args)
                        finally:
                            procs.stop_all()  # before the schema goes
                except (Failed, httpx.HTTPError, OSError, sa.exc.SQLAlchemyError) as exc:
                    failed.append(title)
                    print(f"{title}: FAILED: {exc}", flush=True)
        except KeyboardInterrupt:
            print("\ninterrupted: stopping every process", file=sys.stderr, flush=True)
            procs.stop_all()
            failed.append("interrupted")
        finally:
            procs.stop_all()
            if redis_ok:
                with contextlib.suppress(Exception):
                    flush_redis()
    print(f"\n# took {time.monotonic() - started:.0f} s" + (f"; failed: {', '.join(failed)}" if failed else ""),
          flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
