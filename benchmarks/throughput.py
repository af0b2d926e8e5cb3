"""Throughput, pacing, memory and start-up figures of the harness against the reference
target, each printed as ``name: value unit (goal ...: met|missed)``.

Run it as ``uv run python benchmarks/throughput.py [--quick]``. ``--quick`` divides every
run size by 10 so the whole script takes well under a minute (a smoke test uses it); the
goals stay the same, so some of them mean little at that size (see below). The script
measures, it does not gate: it exits 0 whatever the goals, and 1 only when a run itself
failed (the target did not start, ``harness run`` did not exit 0, or the store does not
hold every case as a pass).

How it measures
---------------
* The target is the reference chat endpoint, started in its own process with
  ``python -m harness target serve reference-chat --port P --policy safe ...`` on a free
  loopback port, polled until ``/health`` answers, stopped with SIGTERM. A fresh one
  serves each scenario, so its CPU (read with ``os.wait4``) belongs to that scenario.
* The harness runs in its own process too, as ``harness run ... --progress none``. The
  process is ``python -c`` with a few lines that wrap ``harness.session.run`` to write
  the run's ``RunOutcome.timings`` to a JSON file and then call ``harness.cli.main``:
  the same code path as the console script, plus a file write after the run. That gives
  in one run both the harness's own timings (``first_request``: just before the first
  request is sent; ``last_stored``: after the last batch of verdicts is committed; both
  ``time.monotonic()``, i.e. CLOCK_MONOTONIC, comparable across processes) and the
  process's rusage from ``os.wait4``: user + system CPU and peak RSS (``ru_maxrss``)
  of the whole process life: imports, suite loading, the run, the report.
  The store (``<out>/<run_id>/store.db``) is read afterwards to check every case was
  stored as a pass and to count requests (``sum(tries)``) and retries.
* Cases per second = cases / (last_stored - first_request).
* CPU per case = the harness process's whole CPU time / cases (start-up included, so it
  is an upper bound of the per-case cost; the line after it gives the target's CPU, since
  both share this machine's cores).
* Efficiency at 200 ms = (cases x 0.2 s / concurrency) / (last_stored - first_request).
  The harness cannot beat ceil(cases / concurrency) rounds of 200 ms; that ceiling is
  printed alongside (0.98 at 2,000 cases, 0.78 at --quick's 200).
* Rate-limited run: the target answers 429 above 1,200 requests/minute (burst 20), the
  target file says ``rpm: 1200``. Achieved rate = (requests - 1) / (last_stored -
  first_request): n requests spaced evenly span n - 1 intervals, and the span measured
  includes the last reply and the last write, so this slightly understates the rate.
  429s are counted from the store, since the reference target keeps no count: every try
  beyond the first (``tries - 1``) plus every attempt that ended as ``http_429``. That is
  an upper bound: a retry for another reason (timeout, reset, 5xx) would count too.
* Peak RSS at 100,000 cases is measured with the same suite format as the other runs
  (cases inline in the suite YAML); a second run, marked "info", reads the same cases
  from a JSONL question bank (``source:``) to show what the YAML loading costs.
* ``harness --help``: median wall time of 5 runs of the console script
  ``.venv/bin/harness`` (the one next to this interpreter).
* Launch to first request: a small HTTP server in this process answers the chat
  requests and notes the ``time.monotonic()`` at which the first one arrives;
  ``.venv/bin/harness run`` is started with a 20-case suite right after the clock is
  read. Median of 3. The same delay for the 10,000-case run (from ``Popen`` to the
  harness's own ``first_request``) is printed as info: it grows with the suite.

Suites, target and profile files are written to a temporary folder: suite id ``bench``,
English prompts, ``scorer: contains`` expecting "overview" (every helpful answer of the
reference target holds it), a profile requiring a pass rate of at least 0.5 with
``min_valid_n`` 10.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
HARNESS_SCRIPT = Path(sys.executable).parent / "harness"
EXPECTED = "overview"
RUN_TIMEOUT_S = 900

# The harness process: `harness run` exactly as the console script runs it, with
# harness.session.run wrapped to write RunOutcome.timings to argv[1].
CHILD = """\
import json, sys
import harness.session as session
_run = session.run
def run(*args, **kwargs):
    outcome = _run(*args, **kwargs)
    with open(sys.argv[1], "w") as f:
        json.dump({**outcome.timings, "run_id": outcome.run_id, "verdict": outcome.verdict}, f)
    return outcome
session.run = run
from harness.cli import main
main(sys.argv[2:], prog_name="harness")
"""


#: The environment of every process the script starts; see ``set_env``.
ENV: dict[str, str] = dict(os.environ)


def set_env(tmp: Path, cached: bool) -> None:
    """Children get CI=1 (plain output) and, when ``cached``, a bytecode cache of their
    own (PYTHONPYCACHEPREFIX under ``tmp``, PYTHONDONTWRITEBYTECODE removed): an installed
    harness runs from compiled bytecode, and without it every start compiles the
    sources of httpx, SQLAlchemy, alembic, FastAPI... again (about 0.5 s of CPU)."""
    ENV.clear()
    ENV.update(os.environ, CI="1")
    if cached:
        ENV.pop("PYTHONDONTWRITEBYTECODE", None)
        ENV["PYTHONPYCACHEPREFIX"] = str(tmp / "pycache")


class RunFailed(Exception):
    """A run itself went wrong (not a missed goal)."""


# -- files ------------------------------------------------------------------------------


def write_suite(folder: Path, n: int, name: str, bank: bool = False) -> Path:
    """``n`` English cases that the reference target answers with "overview"."""
    head = "id: bench\nversion: '1'\ntitle: Bench\nscorer: contains\ndefaults: {lang: en}\n"
    path = folder / f"{name}.yaml"
    if bank:
        with open(folder / f"{name}.jsonl", "w", encoding="utf-8") as f:
            for i in range(n):
                f.write(json.dumps({"id": f"c{i:06d}", "prompt": f"Tell me about topic number {i}.",
                                    "expected": EXPECTED, "category": f"cat{i % 3}"}) + "\n")
        path.write_text(head + f"source: {{path: {name}.jsonl}}\n", encoding="utf-8")
        return path
    with open(path, "w", encoding="utf-8") as f:
        f.write(head + "cases:\n")
        for i in range(n):
            f.write(f"  - {{id: c{i:06d}, prompt: 'Tell me about topic number {i}.', expected: {EXPECTED}, "
                    f"category: cat{i % 3}}}\n")
    return path


def write_target(folder: Path, name: str, url: str, concurrency: int, rpm: float | None = None) -> Path:
    lines = [f"name: {name}", "connector: openai-chat", f"base_url: {url}/v1", "model: reference",
             f"concurrency: {concurrency}", "timeout_s: 30"]
    if rpm:
        lines.append(f"rpm: {rpm:g}")
    path = folder / f"target-{name}.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_profile(folder: Path) -> Path:
    path = folder / "profile.yaml"
    path.write_text("""\
$id: bench
title: Benchmark profile
x-profile: {version: "1", inconclusive: {max_error_rate: 0.02, min_valid_n: 10}}
type: object
properties:
  suites:
    required: [bench]
    properties:
      bench:
        properties:
          pass_rate:
            properties:
              value:
                minimum: 0.5
                x-criterion: {id: passes, clause: bench, message: Too few passes.}
""", encoding="utf-8")
    return path


# -- processes --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def reap(proc: subprocess.Popen[Any]) -> tuple[int, Any]:
    """Wait for ``proc`` and return (exit code, its resource usage)."""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, usage


def cpu_s(usage: Any) -> float:
    return usage.ru_utime + usage.ru_stime


def rss_mb(usage: Any) -> float:
    return usage.ru_maxrss * 1024 / 1e6  # Linux: KiB; reported in MB of 10^6 bytes


@dataclass
class Target:
    proc: subprocess.Popen[bytes]
    url: str
    log: Path
    usage: Any = None

    @classmethod
    def start(cls, folder: Path, latency_ms: float = 0, rpm_limit: float | None = None) -> Target:
        port = free_port()
        cmd = [sys.executable, "-m", "harness", "target", "serve", "reference-chat", "--port", str(port),
               "--policy", "safe", "--latency-ms", f"{latency_ms:g}"]
        if rpm_limit:
            cmd += ["--rpm-limit", f"{rpm_limit:g}"]
        log = folder / f"target-{port}.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=ENV)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(url + "/health", timeout=1) as r:
                    if r.status == 200:
                        return cls(proc, url, log)
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                if proc.poll() is None:
                    proc.kill()
                proc.wait()
                raise RunFailed(f"the reference target did not start: {log.read_text()[-500:]}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.proc.returncode is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        timer = threading.Timer(15, self.proc.kill)
        timer.start()
        try:
            _, self.usage = reap(self.proc)
        finally:
            timer.cancel()


@dataclass
class Run:
    cases: int
    seconds: float  # first_request -> last_stored
    cpu_s: float
    rss_mb: float
    requests: int
    retries: int
    http_429: int
    launch_to_first_request: float
    timings: dict[str, Any] = field(default_factory=dict)


def harness_run(folder: Path, target: Path, suite: Path, profile: Path, cases: int, label: str) -> Run:
    out = folder / "runs"
    timings_file = folder / f"timings-{label}.json"
    log = folder / f"harness-{label}.log"
    cmd = [sys.executable, "-c", CHILD, str(timings_file), "run", "--target", str(target), "--suite", str(suite),
           "--profile", str(profile), "--out", str(out), "--run-id", label, "--progress", "none"]
    with open(log, "wb") as f:
        launched = time.monotonic()
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=f, stderr=subprocess.STDOUT, env=ENV)
        timer = threading.Timer(RUN_TIMEOUT_S, proc.kill)  # a hung run fails instead of blocking
        timer.start()
        try:
            code, usage = reap(proc)
        finally:
            timer.cancel()
    if code != 0 or not timings_file.exists():
        raise RunFailed(f"harness run {label} exited {code}: {log.read_text()[-800:]}")
    timings = json.loads(timings_file.read_text())
    with sqlite3.connect(out / label / "store.db") as db:
        n, passes, requests, retries, e429 = db.execute(
            "SELECT count(*), sum(status = 'pass'), sum(tries), sum(tries - 1), sum(error_kind = 'http_429') "
            "FROM results WHERE run_id = ?", (label,)).fetchone()
    if n != cases or passes != cases:
        raise RunFailed(f"harness run {label}: {n} results stored, {passes} passes; expected {cases} passes")
    return Run(cases=cases, seconds=timings["last_stored"] - timings["first_request"], cpu_s=cpu_s(usage),
               rss_mb=rss_mb(usage), requests=requests, retries=retries, http_429=retries + (e429 or 0),
               launch_to_first_request=timings["first_request"] - launched, timings=timings)


# -- the figures --------------------------------------------------------------------------


class Figures:
    def __init__(self) -> None:
        self.met = 0
        self.goals = 0
        self.failed: list[str] = []

    def goal(self, name: str, value: float, unit: str, op: str, limit: float, fmt: str = ".0f",
             note: str = "") -> None:
        ok = value >= limit if op == ">=" else value < limit
        self.goals += 1
        self.met += ok
        unit_s = f" {unit}" if unit else ""
        print(f"{name}: {value:{fmt}}{unit_s} (goal {op} {limit:g}{unit_s}: {'met' if ok else 'MISSED'}){note}",
              flush=True)

    def info(self, name: str, value: float, unit: str, fmt: str = ".0f") -> None:
        print(f"{name}: {value:{fmt}} {unit} (info)", flush=True)

    def fail(self, name: str, exc: Exception) -> None:
        self.failed.append(name)
        print(f"{name}: FAILED: {exc}", flush=True)


def throughput(tmp: Path, profile: Path, fig: Figures, cases: int) -> None:
    suite = write_suite(tmp, cases, "zero")
    target = Target.start(tmp)
    try:
        run = harness_run(tmp, write_target(tmp, "zero", target.url, 64), suite, profile, cases, "zero")
    finally:
        target.stop()
    fig.goal(f"throughput, zero latency, {cases:,} cases, concurrency 64", cases / run.seconds, "cases/s",
             ">=", 1000)
    fig.info("harness CPU per case (whole process: start-up, suite, run, report)", run.cpu_s / cases * 1e6, "us")
    fig.info("harness CPU, whole process", run.cpu_s, "s", ".2f")
    if target.usage is not None:
        fig.info("target CPU per case (whole process)", cpu_s(target.usage) / cases * 1e6, "us")
    fig.info(f"launch to first request, {cases:,}-case suite", run.launch_to_first_request, "s", ".2f")
    fig.goal(f"peak RSS, {cases:,} cases", run.rss_mb, "MB", "<", 150)


def latency(tmp: Path, profile: Path, fig: Figures, cases: int, concurrency: int = 64, delay: float = 0.2) -> None:
    suite = write_suite(tmp, cases, "slow")
    target = Target.start(tmp, latency_ms=delay * 1000)
    try:
        run = harness_run(tmp, write_target(tmp, "slow", target.url, concurrency), suite, profile, cases, "slow")
    finally:
        target.stop()
    ideal = cases * delay / concurrency
    ceiling = ideal / (math.ceil(cases / concurrency) * delay)
    fig.goal(f"efficiency, 200 ms latency, {cases:,} cases, concurrency {concurrency}", ideal / run.seconds, "",
             ">=", 0.95, ".3f", note=f" [ceiling {ceiling:.3f}; {run.seconds:.2f} s for an ideal {ideal:.2f} s]")


def rate_limited(tmp: Path, profile: Path, fig: Figures, cases: int, rpm: float = 1200) -> None:
    suite = write_suite(tmp, cases, "paced")
    target = Target.start(tmp, rpm_limit=rpm)
    try:
        run = harness_run(tmp, write_target(tmp, "paced", target.url, 64, rpm=rpm), suite, profile, cases, "paced")
    finally:
        target.stop()
    allowed = rpm / 60
    achieved = (run.requests - 1) / run.seconds
    fig.goal(f"share of the allowed rate, rpm {rpm:g}, {cases:,} cases", achieved / allowed, "", ">=", 0.97, ".3f",
             note=f" [{achieved:.2f} requests/s of {allowed:g} allowed, {run.requests} requests in {run.seconds:.2f} s]")
    fig.goal("429 responses (from the store: retries + final 429s)", 100 * run.http_429 / run.requests, "%", "<", 1,
             ".2f", note=f" [{run.http_429} of {run.requests} requests]")


def memory(tmp: Path, profile: Path, fig: Figures, cases: int) -> None:
    target = Target.start(tmp)
    try:
        url_target = write_target(tmp, "big", target.url, 64)
        run = harness_run(tmp, url_target, write_suite(tmp, cases, "big"), profile, cases, "big")
        fig.goal(f"peak RSS, {cases:,} cases (inline YAML suite)", run.rss_mb, "MB", "<", 300)
        fig.info(f"throughput, {cases:,} cases (inline YAML suite)", cases / run.seconds, "cases/s")
        fig.info(f"launch to first request, {cases:,}-case inline YAML suite", run.launch_to_first_request, "s",
                 ".2f")
        bank = harness_run(tmp, url_target, write_suite(tmp, cases, "bank", bank=True), profile, cases, "bank")
        fig.info(f"peak RSS, {cases:,} cases (JSONL question bank)", bank.rss_mb, "MB")
        fig.info(f"throughput, {cases:,} cases (JSONL question bank)", cases / bank.seconds, "cases/s")
        fig.info(f"launch to first request, {cases:,}-case JSONL bank", bank.launch_to_first_request, "s", ".2f")
    finally:
        target.stop()


class _FirstRequest(BaseHTTPRequestHandler):
    """A chat endpoint that notes when the first request arrives."""

    protocol_version = "HTTP/1.1"
    body = json.dumps({"id": "x", "object": "chat.completion", "created": 0, "model": "m", "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "Here is an overview."}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}).encode()

    def do_POST(self) -> None:
        arrived = time.monotonic()
        if self.server.first is None:  # type: ignore[attr-defined]
            self.server.first = arrived  # type: ignore[attr-defined]
        self.rfile.read(int(self.headers.get("content-length") or 0))
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: Any) -> None:
        pass


def help_time(runs: int = 5) -> float:
    """Median wall time of ``harness --help`` (the console script)."""
    if not HARNESS_SCRIPT.exists():
        raise RunFailed(f"no console script at {HARNESS_SCRIPT}")
    walls = []
    for _ in range(runs):
        t = time.perf_counter()
        done = subprocess.run([str(HARNESS_SCRIPT), "--help"], capture_output=True, env=ENV, check=False)
        walls.append(time.perf_counter() - t)
        if done.returncode != 0:
            raise RunFailed(f"harness --help exited {done.returncode}: {done.stderr.decode()[-500:]}")
    return statistics.median(walls)


def first_request_delay(tmp: Path, profile: Path, runs: int = 3) -> float:
    """Median time from starting ``harness run`` (20 cases) to its first request
    arriving at a loopback server in this process."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FirstRequest)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    suite = write_suite(tmp, 20, "tiny")
    target = write_target(tmp, "tiny", f"http://127.0.0.1:{server.server_address[1]}", 8)
    delays = []
    try:
        for _ in range(runs):
            server.first = None  # type: ignore[attr-defined]
            run_id = f"tiny-{time.monotonic_ns()}"
            cmd = [str(HARNESS_SCRIPT), "run", "--target", str(target), "--suite", str(suite), "--profile",
                   str(profile), "--out", str(tmp / "runs"), "--run-id", run_id, "--progress", "none"]
            launched = time.monotonic()
            done = subprocess.run(cmd, capture_output=True, cwd=ROOT, env=ENV, check=False)
            if done.returncode != 0 or server.first is None:  # type: ignore[attr-defined]
                raise RunFailed(f"harness run {run_id} exited {done.returncode}: {done.stderr.decode()[-500:]}")
            delays.append(server.first - launched)  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()
    return statistics.median(delays)


def startup(tmp: Path, profile: Path, fig: Figures) -> None:
    fig.goal("harness --help wall time (median of 5)", help_time(), "s", "<", 0.3, ".3f")
    fig.goal("launch of `harness run` to its first request, 20-case suite (median of 3)",
             first_request_delay(tmp, profile), "s", "<", 1, ".3f")
    if os.environ.get("PYTHONDONTWRITEBYTECODE"):  # how this environment runs it as is
        set_env(tmp, cached=False)
        try:
            fig.info("harness --help wall time, no bytecode cache (PYTHONDONTWRITEBYTECODE is set here)",
                     help_time(), "s", ".3f")
            fig.info("launch of `harness run` to its first request, no bytecode cache",
                     first_request_delay(tmp, profile), "s", ".3f")
        finally:
            set_env(tmp, cached=True)


def warm_up(tmp: Path, profile: Path) -> None:
    """Fill the bytecode cache: one start of each kind of process, not measured."""
    help_time(1)
    first_request_delay(tmp, profile, 1)
    Target.start(tmp).stop()
    subprocess.run([sys.executable, "-c", "import harness.session, harness.cli, harness.store._db"], env=ENV,
                   cwd=ROOT, check=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="every run 10x smaller (a smoke test)")
    args = parser.parse_args()
    scale = 10 if args.quick else 1
    fig = Figures()
    print(f"# benchmarks/throughput.py{' --quick' if args.quick else ''}: Python {platform.python_version()}, "
          f"{os.cpu_count()} CPUs shared by the harness and the target", flush=True)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="harness-bench-") as name:
        tmp = Path(name)
        profile = write_profile(tmp)
        set_env(tmp, cached=True)
        steps = [
            ("warm-up", lambda: warm_up(tmp, profile)),
            ("throughput", lambda: throughput(tmp, profile, fig, 10_000 // scale)),
            ("latency", lambda: latency(tmp, profile, fig, 2_000 // scale)),
            ("rate limit", lambda: rate_limited(tmp, profile, fig, 600 // scale)),
            ("memory", lambda: memory(tmp, profile, fig, 100_000 // scale)),
            ("start-up", lambda: startup(tmp, profile, fig)),
        ]
        for step, fn in steps:
            try:
                fn()
            except (RunFailed, OSError, sqlite3.Error, KeyError, json.JSONDecodeError) as exc:
                fig.fail(step, exc)
    print(f"# took {time.monotonic() - started:.0f} s", flush=True)
    print(f"benchmarks: {fig.met} of {fig.goals} goals met" + (f"; runs failed: {', '.join(fig.failed)}"
                                                                if fig.failed else ""), flush=True)
    return 1 if fig.failed else 0


if __name__ == "__main__":
    sys.exit(main())
