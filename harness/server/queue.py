"""The queue between the API and the workers.

Embedded (no broker): the server's own threads poll the database for runnable shards
(:func:`harness.server.jobs.run_worker_loop`); nothing else to start. Scale-out: a
Celery app over Redis, one task per shard. Tasks are acknowledged late and rejected
back to the queue when their worker process dies, and the Redis visibility timeout
hands the task of a worker killed outright (SIGKILL) to another one; the shard's lease
in the database decides who does the work, so a task delivered twice does it once.
"""

from __future__ import annotations

import logging
from typing import Any

from .config import ServerConfig

log = logging.getLogger("harness.server.queue")

QUEUE = "harness"
TASK = "harness.execute_shard"

_service: Any = None


def make_celery(config: ServerConfig) -> Any:
    """The Celery app for ``config.broker_url``, with the shard task registered."""
    from celery import Celery

    app = Celery("harness", broker=config.broker_url, set_as_current=False)
    visibility = config.visibility_timeout_s
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_default_queue=QUEUE,
        task_ignore_result=True,
        worker_prefetch_multiplier=1,  # a worker takes one shard at a time: others stay free to take the rest
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=True,
        broker_transport_options={
            "visibility_timeout": visibility,
            # look for abandoned tasks often enough for the visibility timeout chosen
            "unacked_restore_interval": max(1, min(10, int(visibility / 4))),
            "unacked_restore_throttle": 1,
        },
    )

    from celery.signals import worker_process_init

    @worker_process_init.connect(weak=False)
    def _warm(**_: Any) -> None:  # the first shard should not pay for opening the store and loading plugins
        _service_for(config)

    @app.task(name=TASK, bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=None)
    def execute_shard_task(self: Any, run_id: str, idx: int) -> str:
        from .jobs import execute_shard

        svc = _service_for(config)
        outcome = execute_shard(svc, run_id, idx)
        if outcome == "busy":  # another worker holds a live lease: look again when it would have run out
            raise self.retry(countdown=svc.config.lease_s)
        return outcome

    return app


def _service_for(config: ServerConfig) -> Any:
    """One Service per worker process, made after the fork (a database pool must not
    cross a fork)."""
    global _service
    if _service is None:
        from .service import Service

        _service = Service(config)
    return _service


class Queue:
    """What the API uses to hand work over: Celery when a broker is configured, else
    nothing to do (the embedded workers poll the database)."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.celery = make_celery(config) if config.broker_url else None

    def enqueue(self, run_id: str, shards: int) -> None:
        if self.celery is None:
            return
        for idx in range(shards):
            self.celery.send_task(TASK, args=[run_id, idx], queue=QUEUE)

    def close(self) -> None:
        if self.celery is not None:
            self.celery.close()


def start_worker(config: ServerConfig, *, concurrency: int, name: str | None = None,
                 loglevel: str = "INFO") -> None:
    """``harness worker``: a Celery worker on the shard queue, until stopped."""
    app = make_celery(config)
    argv = ["worker", "--queues", QUEUE, "--concurrency", str(concurrency), "--loglevel", loglevel,
            "--without-gossip", "--without-mingle"]
    if name:
        argv += ["--hostname", name]
    app.worker_main(argv)
