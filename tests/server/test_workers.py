"""Scale-out: Celery workers on Redis with the store on PostgreSQL. Twenty queued runs,
two workers, one killed with SIGKILL midway: every run finishes with exactly one
verdict per case. A run split into shards is shared between workers.

Needs HARNESS_TEST_PG_URL and HARNESS_TEST_REDIS_URL (a Redis database this test may
flush); .ci/run sets both."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from .conftest import PG_URL, REDIS_URL, pg_schema, serve_platform

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not (PG_URL and REDIS_URL),
                       reason="needs HARNESS_TEST_PG_URL and HARNESS_TEST_REDIS_URL (.ci/run sets them)"),
]

LEASE_S = 3.0
VISIBILITY_S = 4.0


@pytest.fixture
def scale_out(tmp_path: Path) -> Iterator[dict]:
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()
    with pg_schema("workers") as db_url:
        data_dir = tmp_path / "platform"
        env = {**os.environ, "HARNESS_DATA_DIR": str(data_dir), "HARNESS_DB_URL": db_url,
               "HARNESS_BROKER_URL": REDIS_URL, "HARNESS_LEASE_S": str(LEASE_S), "HARNESS_HEARTBEAT_S": "0.5",
               "HARNESS_VISIBILITY_TIMEOUT_S": str(VISIBILITY_S), "HARNESS_ALLOW": "127.0.0.1"}
        with serve_platform(data_dir, db_url, broker_url=REDIS_URL, embedded_workers=0, lease_s=LEASE_S,
                            visibility_timeout_s=VISIBILITY_S) as platform:
            workers: list[subprocess.Popen] = []

            def start(name: str, concurrency: int = 1) -> subprocess.Popen:
                log = open(tmp_path / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
                proc = subprocess.Popen([sys.executable, "-m", "harness", "worker", "--name", f"{name}@test",
                                         "--concurrency", str(concurrency)],
                                        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
                workers.append(proc)
                return proc

            try:
                yield {"platform": platform, "start": start, "db_url": db_url, "tmp": tmp_path}
            finally:
                for proc in workers:
                    if proc.poll() is None:
                        os.killpg(proc.pid, signal.SIGTERM)
                for proc in workers:
                    try:
                        proc.wait(timeout=20)
                    except subprocess.TimeoutExpired:
                        os.killpg(proc.pid, signal.SIGKILL)
                        proc.wait()


def _owners(db_url: str) -> dict[str, set[str]]:
    engine = sa.create_engine(db_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            rows = conn.exec_driver_sql("SELECT subject, actor FROM audit WHERE action IN "
                                        "('run.started', 'run.shard.claimed')").all()
            counts = conn.exec_driver_sql("SELECT run_id, count(*), count(DISTINCT key) FROM results "
                                          "GROUP BY run_id").all()
    finally:
        engine.dispose()
    out: dict[str, set[str]] = {}
    for run_id, actor in rows:
        out.setdefault(run_id, set()).add(actor.split(":")[2])  # worker:host:pid:thread -> pid
    return out, {r[0]: (r[1], r[2]) for r in counts}


def test_twenty_runs_two_workers_one_killed(scale_out, chat_target):
    platform = scale_out["platform"]
    applicant, _ = platform.applicant()
    target = chat_target(applicant, "safe", latency_ms=20, concurrency=4)
    runs = [applicant.ok("POST", "/api/v1/runs", json={"target_id": target["id"], "profile": "starter",
                                                       "suites": ["starter.refusal", "starter.over-refusal"],
                                                       "seed": i})
            for i in range(20)]
    first = scale_out["start"]("w1")
    scale_out["start"]("w2")
    # kill w1 (its whole process group: the Celery parent and its pool) midway, when
    # both workers are at work and some runs have results
    deadline = time.monotonic() + 60
    while True:
        _, counts = _owners(scale_out["db_url"])
        if len(counts) >= 4:
            break
        assert time.monotonic() < deadline, "the workers did not start"
        time.sleep(0.1)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    killed_at = time.monotonic()
    done = [applicant.wait(r["id"], timeout=180) for r in runs]
    assert all(d["state"] == "finished" for d in done), [(d["id"], d["state"], d["error"]) for d in done]
    assert all(d["verdict"] == "PASS" for d in done), [(d["verdict"], d["errors"], d["done"]) for d in done]
    owners, counts = _owners(scale_out["db_url"])
    for d in done:
        stored, distinct = counts[d["id"]]
        assert stored == distinct == d["total"] == 96, (d["id"], stored, distinct)
    # the killed worker's run was taken over by the other one
    taken_over = [r for r, pids in owners.items() if len(pids) > 1]
    assert taken_over, "no run was taken over from the killed worker"
    assert time.monotonic() - killed_at < 120


def test_a_run_split_into_shards_is_shared_between_workers(scale_out, chat_target):
    platform = scale_out["platform"]
    applicant, _ = platform.applicant()
    target = chat_target(applicant, "safe", latency_ms=30, concurrency=4)
    run = applicant.ok("POST", "/api/v1/runs", json={"target_id": target["id"], "profile": "starter", "shards": 4,
                                                     "suites": ["starter.refusal", "starter.over-refusal"]})
    scale_out["start"]("w1")
    scale_out["start"]("w2")
    done = applicant.wait(run["id"], timeout=120)
    assert done["state"] == "finished" and done["verdict"] == "PASS" and done["done"] == 96
    owners, counts = _owners(scale_out["db_url"])
    assert counts[run["id"]] == (96, 96)
    assert len(owners[run["id"]]) == 2, owners  # both workers took shards of the one run
    report = applicant.ok("GET", f"/api/v1/runs/{run['id']}/report")
    assert report["metrics"]["suites"]["starter.refusal"]["refusal_rate"]["n"] == 48
